/**
 * The container API for Node programs and the CLI: husk-core in-process through the addon, with
 * the same state root as husk-runtime, so both see the same containers.
 *
 * `spawn`/`run` clone the container from inside the addon (CLONE_VM|CLONE_VFORK: no daemon, no
 * CLI per container). `create` and `exec` hand off to the native husk-runtime, because their
 * process must outlive the call (a created container waits for `start`; exec joins a pid
 * namespace, which would need a setns in Node's own threads).
 */
import { spawn as spawnChild } from 'node:child_process';
import { existsSync } from 'node:fs';
import { Socket } from 'node:net';
import { Duplex } from 'node:stream';
import { ReadStream, WriteStream } from 'node:tty';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HuskError } from '../errors.js';
import { loadAddon } from './addon.js';
import type { ContainerState, StdioSlot } from './native.js';
import type { Resources } from '../spec/runtime-spec.js';

export type { ContainerState, StdioSlot } from './native.js';

export const DEFAULT_STATE_ROOT = '/run/husk';

/** One line of `events`: runc's schema (stats data as `events --stats` prints it). */
export interface RuntimeEvent {
  type: 'stats' | 'oom' | string;
  id: string;
  data?: Record<string, unknown>;
}

export interface ExitStatus {
  exitCode: number;
  signal: number | null;
}

/** A running container started by `spawn`: its pid, its stdio as streams, and its exit. */
export interface ContainerProcess {
  id: string;
  pid: number;
  stdin: Socket | null;
  stdout: Socket | null;
  stderr: Socket | null;
  /** The pty master, for a container whose config.json asks for a terminal. */
  pty: Duplex | null;
  /** Resolves when the process exits; the container is deleted then (cgroup, state). */
  wait(): Promise<ExitStatus>;
}

export interface RunResult extends ExitStatus {
  stdout: string;
  stderr: string;
}

export interface ProcessResult {
  exitCode: number;
  stdout: string;
  stderr: string;
}

/** The husk-runtime binary: $HUSK_RUNTIME, else the package's own build. */
export function runtimeBinary(): string {
  if (process.env.HUSK_RUNTIME) return process.env.HUSK_RUNTIME;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const candidate = join(dir, 'target', 'release', 'husk-runtime');
    if (existsSync(candidate)) return candidate;
    const up = dirname(dir);
    if (up === dir) return 'husk-runtime';
    dir = up;
  }
}

function socketFor(fd: number | null | undefined, mode: 'r' | 'w' | 'rw'): Socket | null {
  if (fd === null || fd === undefined) return null;
  return new Socket({ fd, readable: mode !== 'w', writable: mode !== 'r' });
}

/** The pty master as one Duplex: a tty.ReadStream on it and a tty.WriteStream on a dup of it. */
function ptyStream(fds: [number, number] | null): Duplex | null {
  if (!fds) return null;
  const input = new ReadStream(fds[0]);
  const output = new WriteStream(fds[1]);
  const duplex = new Duplex({
    read() {
      input.resume();
    },
    write(chunk, _enc, cb) {
      output.write(chunk, cb);
    },
    final(cb) {
      cb();
    },
    destroy(err, cb) {
      input.destroy();
      output.destroy();
      cb(err);
    },
  });
  input.on('data', (d: Buffer) => {
    if (!duplex.push(d)) input.pause();
  });
  // EIO is how a pty master says the last slave fd closed: the end of the stream.
  input.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EIO' ? duplex.push(null) : duplex.destroy(e)));
  input.on('end', () => duplex.push(null));
  return duplex;
}

function collect(stream: Duplex): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const done = () => resolve(Buffer.concat(chunks).toString());
    stream.on('data', (c: Buffer) => chunks.push(c));
    stream.on('error', (e: NodeJS.ErrnoException) => (e.code === 'EIO' ? done() : reject(e)));
    stream.on('end', done);
    stream.on('close', done);
  });
}

export class Runtime {
  readonly root: string;
  readonly binary: string;

  constructor(options: { root?: string; binary?: string } = {}) {
    this.root = options.root ?? DEFAULT_STATE_ROOT;
    this.binary = options.binary ?? runtimeBinary();
  }

  /** Creates and starts a container in one step, in-process. stdio defaults to pipes. */
  async spawn(id: string, bundle: string, options: { stdio?: StdioSlot[] } = {}): Promise<ContainerProcess> {
    const addon = loadAddon();
    const stdio = options.stdio ?? ['pipe', 'pipe', 'pipe'];
    const s = await addon.spawn({ root: this.root, id, bundle, stdio });
    let exit: Promise<ExitStatus> | undefined;
    return {
      id,
      pid: s.pid,
      stdin: socketFor(s.stdio[0], 'w'),
      stdout: socketFor(s.stdio[1], 'r'),
      stderr: socketFor(s.stdio[2], 'r'),
      pty: ptyStream(s.pty === null ? null : [s.pty, s.ptyWrite ?? s.pty]),
      wait: () => (exit ??= addon.wait(this.root, id, s.pid).then(({ exitCode, signal }) => ({ exitCode, signal }))),
    };
  }

  /** Runs a container to completion and returns its exit code and output. */
  async run(id: string, bundle: string, options: { input?: string | Buffer } = {}): Promise<RunResult> {
    const addon = loadAddon();
    if (options.input === undefined) {
      // Start, output, exit and delete all on one native thread: one call, no JS in between.
      const r = await addon.run({ root: this.root, id, bundle });
      return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
    }
    const s = await addon.spawn({ root: this.root, id, bundle, stdio: ['pipe', 'pipe', 'pipe'] });
    if (s.stdio[0] !== null && s.stdio[0] !== undefined) socketFor(s.stdio[0], 'w')?.end(options.input);
    // A terminal config has no pipes: its output (stdout and stderr alike) is the pty's.
    if (s.pty !== null) {
      const pty = ptyStream([s.pty, s.ptyWrite ?? s.pty])!;
      const [stdout, { exitCode, signal }] = await Promise.all([collect(pty), addon.wait(this.root, id, s.pid)]);
      pty.destroy();
      return { exitCode, signal, stdout, stderr: '' };
    }
    // The output is read by the addon's wait thread: no JS streams per container.
    const r = await addon.waitCapture(this.root, id, s.pid, s.stdio[1] ?? -1, s.stdio[2] ?? -1);
    return { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  }

  /** `husk-runtime create`: the container waits for `start`; it outlives this process. */
  async create(id: string, bundle: string, options: { pidFile?: string; consoleSocket?: string } = {}): Promise<ContainerState> {
    // The init inherits husk-runtime's stdio and outlives it: errors come from its JSON log.
    const logDir = mkdtempSync(join(tmpdir(), 'husk-create-'));
    const log = join(logDir, 'log.json');
    try {
      const args = ['--log', log, '--log-format', 'json', 'create', '--bundle', bundle];
      if (options.pidFile) args.push('--pid-file', options.pidFile);
      if (options.consoleSocket) args.push('--console-socket', options.consoleSocket);
      const code = await new Promise<number>((resolve, reject) => {
        const child = spawnChild(this.binary, ['--root', this.root, ...args, id], { stdio: 'ignore' });
        child.on('error', (e) => reject(new HuskError('ERUNTIME', `cannot run ${this.binary}: ${e.message}`)));
        child.on('exit', (c, sig) => resolve(c ?? 128 + (sig ? 9 : 0)));
      });
      if (code !== 0) {
        const lines = readFileSync(log, 'utf8').trim().split('\n').filter(Boolean);
        const last = lines.map((l) => JSON.parse(l) as { level: string; msg: string }).filter((l) => l.level === 'error').pop();
        throw runtimeError('create', id, last?.msg ?? `husk-runtime exited with ${code}`);
      }
    } finally {
      rmSync(logDir, { recursive: true, force: true });
    }
    return this.state(id);
  }

  /** `exec` through husk-runtime: joins every namespace and the cgroup of the container. */
  async exec(id: string, args: string[], options: { env?: string[]; cwd?: string; user?: string; input?: string } = {}): Promise<ProcessResult> {
    const flags: string[] = [];
    for (const e of options.env ?? []) flags.push('--env', e);
    if (options.cwd) flags.push('--cwd', options.cwd);
    if (options.user) flags.push('--user', options.user);
    return this.invoke(['exec', ...flags, id, ...args], options.input ?? 'ignore');
  }

  start(id: string): Promise<{ warnings: string[] }> {
    return loadAddon().start(this.root, id);
  }

  state(id: string): Promise<ContainerState> {
    return loadAddon().state(this.root, id);
  }

  list(): Promise<ContainerState[]> {
    return loadAddon().list(this.root);
  }

  async kill(id: string, signal: string | number = 'SIGTERM', options: { all?: boolean } = {}): Promise<void> {
    await loadAddon().kill(this.root, id, String(signal), options.all ?? false);
  }

  delete(id: string, options: { force?: boolean } = {}): Promise<{ warnings: string[] }> {
    return loadAddon().delete(this.root, id, options.force ?? false);
  }

  async pause(id: string): Promise<void> {
    await loadAddon().pause(this.root, id);
  }

  async resume(id: string): Promise<void> {
    await loadAddon().resume(this.root, id);
  }

  ps(id: string): Promise<number[]> {
    return loadAddon().ps(this.root, id);
  }

  stats(id: string): Promise<Record<string, unknown>> {
    return loadAddon().stats(this.root, id);
  }

  /** Changes a running container's limits (runc `update --resources`): runtime-spec
   *  linux.resources fields, e.g. `{ memory: { limit: 64 << 20 }, pids: { limit: 32 } }`. */
  update(id: string, resources: Resources): Promise<{ warnings: string[] }> {
    return loadAddon().update(this.root, id, resources as Record<string, unknown>);
  }

  /**
   * The container's events as runc's `events` streams them: `{type: "stats", id, data}` every
   * `intervalMs` and `{type: "oom", id}` when the kernel OOM-kills in it; ends when the container
   * stops. A long-lived stream, so it runs in husk-runtime rather than on a pool thread; leaving
   * the loop early stops it.
   */
  async *events(id: string, options: { intervalMs?: number } = {}): AsyncGenerator<RuntimeEvent> {
    const interval = `${Math.max(1, Math.round(options.intervalMs ?? 5000))}ms`;
    const child = spawnChild(this.binary, ['--root', this.root, 'events', '--interval', interval, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    let stderr = '';
    child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
    const exited = new Promise<number>((resolve) => child.on('close', (code) => resolve(code ?? 1)));
    let buffered = '';
    try {
      for await (const chunk of child.stdout) {
        buffered += (chunk as Buffer).toString();
        let nl: number;
        while ((nl = buffered.indexOf('\n')) >= 0) {
          const line = buffered.slice(0, nl).trim();
          buffered = buffered.slice(nl + 1);
          if (line) yield JSON.parse(line) as RuntimeEvent;
        }
      }
      const code = await exited;
      if (code !== 0) throw runtimeError('events', id, stderr.trim() || `husk-runtime exited with ${code}`);
    } finally {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
    }
  }

  private invoke(args: string[], input: string | 'ignore'): Promise<ProcessResult> {
    return new Promise((resolve, reject) => {
      const child = spawnChild(this.binary, ['--root', this.root, ...args], { stdio: [input === 'ignore' ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
      let stdout = '';
      let stderr = '';
      child.stdout?.on('data', (c: Buffer) => (stdout += c.toString()));
      child.stderr?.on('data', (c: Buffer) => (stderr += c.toString()));
      child.on('error', (e) => reject(new HuskError('ERUNTIME', `cannot run ${this.binary}: ${e.message}`)));
      child.on('close', (code, signal) => resolve({ exitCode: code ?? 128 + (signal ? 9 : 0), stdout, stderr }));
      if (input !== 'ignore') child.stdin?.end(input);
    });
  }
}

function runtimeError(op: string, id: string, msg: string): HuskError {
  const code = /does not exist/.test(msg) ? 'ENOTFOUND_CONTAINER' : /already exists/.test(msg) ? 'EEXIST_CONTAINER' : 'ERUNTIME';
  return new HuskError(code, `${op} ${id}: ${msg}`);
}
