// Spawning the runtime under test the way a shim does: `<runtime> --root R [global flags] cmd ...`.
// Its stdout/stderr go to files, not pipes: a detached container inherits them, and a pipe it
// holds open would keep us waiting for EOF until the container exits.
import { spawn } from 'node:child_process';
import { closeSync, mkdirSync, openSync, readFileSync } from 'node:fs';
import { constants } from 'node:os';
import { dirname, join } from 'node:path';
import { runtimeUnderTest } from './paths.js';

export interface RuntimeOptions {
  /** The state root (--root). */
  root: string;
  /** Flags that go before the subcommand, e.g. ['--log', file, '--log-format', 'json']. */
  globalArgs?: string[];
  /** Written to the runtime's stdin, then closed; stdin is /dev/null otherwise. */
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
  /** Where the stdout/stderr files go; default: io/ beside the root. */
  ioDir?: string;
}

export interface RuntimeResult {
  command: string;
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

let sequence = 0;

export async function runtime(args: string[], opts: RuntimeOptions): Promise<RuntimeResult> {
  const ioDir = opts.ioDir ?? join(dirname(opts.root), 'io');
  mkdirSync(ioDir, { recursive: true });
  const base = join(ioDir, `${++sequence}-${args[0] ?? 'none'}`);
  const outFd = openSync(`${base}.out`, 'w');
  const errFd = openSync(`${base}.err`, 'w');
  const argv = ['--root', opts.root, ...(opts.globalArgs ?? []), ...args];
  const command = [runtimeUnderTest(), ...argv].join(' ');
  let child;
  try {
    child = spawn(runtimeUnderTest(), argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', outFd, errFd], env: opts.env ?? process.env });
  } finally {
    // The child has its own copies once spawn returns.
    closeSync(outFd);
    closeSync(errFd);
  }
  // A runtime that exits before reading its stdin must not crash the test run with EPIPE.
  child.stdin?.on('error', () => {});
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  const { code, signal, spawnError } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null; spawnError?: Error }>(
    (resolve) => {
      child.once('error', (error) => resolve({ code: null, signal: null, spawnError: error }));
      child.once('exit', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
    },
  );
  clearTimeout(timer);
  const stderr = readFileSync(`${base}.err`, 'utf8') + (spawnError ? `spawn failed: ${spawnError.message}\n` : '');
  return {
    command,
    code: code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 127),
    signal,
    stdout: readFileSync(`${base}.out`, 'utf8'),
    stderr,
    timedOut,
  };
}

/** A result's story, for assertion messages. */
export function describeResult(result: RuntimeResult): string {
  return `$ ${result.command}\nexit ${result.code}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}
