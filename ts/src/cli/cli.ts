/** The husk command line: builds the yargs parser from the command modules and turns errors into exit codes. */
import yargs from 'yargs';
import { ErrorCode, ExitCode, HuskError, exitCodeFor } from '../errors.js';
import { cliVersion, printError, withGlobalOptions } from './base.js';
import { benchCommand } from './commands/bench.js';
import { imagesCommand } from './commands/images.js';
import { infoCommand } from './commands/info.js';
import { loginCommand } from './commands/login.js';
import { logoutCommand } from './commands/logout.js';
import { imageCommand } from './commands/image.js';
import { pullCommand } from './commands/pull.js';
import { pushCommand } from './commands/push.js';
import { rmiCommand } from './commands/rmi.js';
import { specCommand } from './commands/spec.js';
import { tagCommand } from './commands/tag.js';
import { versionCommand } from './commands/version.js';

/** Parses `args` (without node and script), runs the command, and returns the process exit code. */
export async function runCli(args: readonly string[]): Promise<number> {
  // Bare `husk` shows the help and succeeds, as docker and runc do.
  const argv = args.length === 0 ? ['--help'] : [...args];
  let debug = argv.includes('--debug');
  const parser = withGlobalOptions(yargs(argv))
    .scriptName('husk')
    .usage('Usage: husk <command> [options]\n\nA container runtime with a Rust core and a TypeScript front.')
    // One module per command, in the order `husk --help` lists them.
    .command(pullCommand)
    .command(pushCommand)
    .command(imagesCommand)
    .command(rmiCommand)
    .command(tagCommand)
    .command(imageCommand)
    .command(loginCommand)
    .command(logoutCommand)
    .command(specCommand)
    .command(infoCommand)
    .command(benchCommand)
    .command(versionCommand)
    .demandCommand(1, 'missing command')
    .strict()
    .strictCommands()
    .help()
    .alias('h', 'help')
    .version(`husk version ${cliVersion()}`)
    .alias('v', 'version')
    .epilogue("Run 'husk <command> --help' for a command's options.")
    .wrap(Math.min(100, process.stdout.columns || 100))
    .exitProcess(false)
    // Parse failures arrive as a message or a YError; anything else was thrown by a command handler.
    .fail((message: string | undefined, error: Error | undefined) => {
      if (error !== undefined && error.name !== 'YError') throw error;
      throw new HuskError(ErrorCode.Usage, message || error?.message || 'invalid command line');
    })
    .middleware((parsed) => {
      debug = parsed.debug;
    });
  try {
    await parser.parseAsync();
    return ExitCode.Ok;
  } catch (error) {
    reportError(error, debug);
    return exitCodeFor(error);
  }
}

function reportError(error: unknown, debug: boolean): void {
  const message = error instanceof Error ? error.message : String(error);
  printError(`husk: ${message}`);
  if (error instanceof HuskError && error.code === ErrorCode.Usage) {
    printError("Run 'husk --help' for usage.");
  } else if (debug && error instanceof Error && error.stack) {
    printError(error.stack);
  }
}
