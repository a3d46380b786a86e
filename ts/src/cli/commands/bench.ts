/** `husk bench [lifecycle|node|pull] [--n N]`: runs the checkout's benchmarks (bench/) and streams their tables. */
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { CommandModule } from 'yargs';
import { HuskError } from '../../errors.js';
import { printText, type GlobalOptions } from '../base.js';

/** Each benchmark is a script in bench/; each reads the iteration count from $N. */
const BENCHMARKS = {
  lifecycle: { script: 'lifecycle.sh', about: 'husk-runtime side by side with runc and crun, every lifecycle step' },
  node: { script: 'node-spawn.sh', about: 'containers from one Node process: the addon vs spawning husk-runtime and runc' },
  pull: { script: 'pull.sh', about: 'husk pull + unpack of the 200 MiB fixture layer vs ctr and skopeo + umoci' },
} as const;

type BenchmarkName = keyof typeof BENCHMARKS;

interface BenchOptions extends GlobalOptions {
  name?: BenchmarkName;
  n?: number;
}

/** The bench/ directory of the checkout this CLI runs from (src or dist); installed packages have none. */
export function benchDir(from = dirname(fileURLToPath(import.meta.url))): string {
  for (let dir = from; ; dir = dirname(dir)) {
    if (existsSync(join(dir, 'bench', BENCHMARKS.lifecycle.script)) && existsSync(join(dir, 'package.json'))) return join(dir, 'bench');
    if (dirname(dir) === dir) throw new HuskError('ENOENT', 'no bench/ directory: `husk bench` runs from a source checkout of husk');
  }
}

/** Runs one benchmark script with the terminal as its stdio; resolves to its exit code. */
function runBenchmark(name: BenchmarkName, n: number | undefined): Promise<number> {
  const script = join(benchDir(), BENCHMARKS[name].script);
  const env = n === undefined ? process.env : { ...process.env, N: String(n) };
  return new Promise((resolve, reject) => {
    const child = spawn('bash', [script], { stdio: 'inherit', env });
    child.on('error', (e) => reject(new HuskError('EBENCH', `cannot run ${script}: ${e.message}`, { cause: e })));
    child.on('exit', (code, signal) => resolve(code ?? 128 + (signal === null ? 0 : 1)));
  });
}

export const benchCommand: CommandModule<GlobalOptions, BenchOptions> = {
  command: 'bench [name]',
  describe: 'Run the benchmarks in bench/ (all of them, or the one named) and print their tables',
  builder: (argv) =>
    argv
      .positional('name', {
        type: 'string',
        choices: Object.keys(BENCHMARKS) as BenchmarkName[],
        describe: Object.entries(BENCHMARKS)
          .map(([k, v]) => `${k}: ${v.about}`)
          .join('; '),
      })
      .option('n', {
        type: 'number',
        requiresArg: true,
        describe: 'Iterations per runtime (default: the script\'s own, 30 for lifecycle, 200 for node)',
      })
      .check((args) => {
        if (args.n !== undefined && !(Number.isInteger(args.n) && args.n > 0)) throw new Error('--n must be a positive integer');
        return true;
      }),
  handler: async (args) => {
    const names = args.name ? [args.name] : (Object.keys(BENCHMARKS) as BenchmarkName[]);
    for (const name of names) {
      if (names.length > 1) printText(`== ${name}: ${BENCHMARKS[name].about}`);
      const code = await runBenchmark(name, args.n);
      if (code !== 0) throw new HuskError('EBENCH', `benchmark ${name} failed (${BENCHMARKS[name].script} exited with ${code})`);
    }
  },
};
