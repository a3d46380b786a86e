/** `husk spec`: writes a default config.json into a bundle directory, like `runc spec`. */
import { open, unlink } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import type { CommandModule } from 'yargs';
import { ErrorCode, HuskError, errorCodeOf } from '../../errors.js';
import { defaultSpec, serializeSpec } from '../../spec/generate.js';
import { printText, type GlobalOptions } from '../base.js';

export const SPEC_FILE_NAME = 'config.json';

interface SpecOptions extends GlobalOptions {
  bundle: string;
  rootless: boolean;
}

export const specCommand: CommandModule<GlobalOptions, SpecOptions> = {
  command: 'spec',
  describe: 'Write a default OCI runtime config.json (as runc spec does)',
  builder: (argv) =>
    argv
      .option('bundle', {
        alias: 'b',
        type: 'string',
        default: '.',
        defaultDescription: 'the current directory',
        requiresArg: true,
        describe: 'Bundle directory to write config.json into',
      })
      .option('rootless', {
        type: 'boolean',
        default: false,
        describe: 'Generate a spec for a container run by an unprivileged user',
      }),
  handler: async (args) => {
    const path = await writeDefaultSpec(args.bundle, { rootless: args.rootless });
    if (args.debug) printText(`wrote ${path}`);
  },
};

/** Creates `<bundle>/config.json`; refuses to replace an existing file, as runc does. */
export async function writeDefaultSpec(bundle: string, options: { rootless?: boolean } = {}): Promise<string> {
  const path = join(resolve(bundle), SPEC_FILE_NAME);
  let file;
  try {
    // O_EXCL: the existence check and the creation are one step, so a racing writer is never clobbered.
    file = await open(path, 'wx', 0o666);
  } catch (error) {
    const code = errorCodeOf(error);
    if (code === 'EEXIST') {
      throw new HuskError(ErrorCode.Exists, `${path} already exists; remove it first`, { cause: error });
    }
    if (code === 'ENOENT' || code === 'ENOTDIR') {
      throw new HuskError(ErrorCode.NoSuchPath, `bundle directory ${resolve(bundle)} does not exist`, { cause: error });
    }
    throw new HuskError(code ?? 'EIO', `cannot create ${path}: ${(error as Error).message}`, { cause: error });
  }
  try {
    await file.writeFile(serializeSpec(defaultSpec(options)));
    await file.close();
  } catch (error) {
    // Leave no half-written config.json behind: a later `husk spec` would refuse to replace it.
    await file.close().catch(() => undefined);
    await unlink(path).catch(() => undefined);
    throw error;
  }
  return path;
}
