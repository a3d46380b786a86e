// A containerd of the test's own: root, state, sockets, config, log and temporary mounts all under
// one temp dir, so it never meets the machine's containerd (/run/containerd, /var/lib/containerd).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, existsSync, mkdirSync, openSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { mountsUnder, processAlive, unmountAll, waitGone } from '../helpers/leaks.js';

/** The containerd namespace every test container lives in (its cgroup is /husk-test/<id>). */
export const NAMESPACE = 'husk-test';

/** Plugins a runtime test does not need; the snapshotters listed cannot work on this VM anyway. */
const UNNEEDED_SNAPSHOTTERS = ['io.containerd.snapshotter.v1.btrfs', 'io.containerd.snapshotter.v1.zfs', 'io.containerd.snapshotter.v1.devmapper', 'io.containerd.snapshotter.v1.aufs'];
export const CRI_PLUGIN = 'io.containerd.grpc.v1.cri';
const SHIM_SOCKET_DIR = '/run/containerd/s';

export interface CommandResult {
  command: string;
  /** Exit status; 128+N when killed by signal N. */
  code: number;
  stdout: string;
  stderr: string;
  timedOut: boolean;
}

export interface CommandOptions {
  /** Written to stdin, then closed; stdin is /dev/null otherwise. */
  input?: string;
  timeoutMs?: number;
  env?: NodeJS.ProcessEnv;
}

/** A result's story, for assertion messages. */
export function describeCommand(result: CommandResult): string {
  return `$ ${result.command}\nexit ${result.code}${result.timedOut ? ' (timed out)' : ''}\n--- stdout\n${result.stdout}--- stderr\n${result.stderr}`;
}

export async function runCommand(file: string, args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
  const child = spawn(file, args, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: opts.env ?? process.env });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (chunk: Buffer) => (stdout += chunk.toString()));
  child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
  if (opts.input !== undefined) child.stdin?.end(opts.input);
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', (error) => {
      stderr += `spawn failed: ${error.message}\n`;
      resolve({ code: 127, signal: null });
    });
    // 'close', not 'exit': all output has been read by then.
    child.once('close', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
  });
  clearTimeout(timer);
  return {
    command: [file, ...args].join(' '),
    code: code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 127),
    stdout,
    stderr,
    timedOut,
  };
}

/** Top-level config keys that keep containerd's root and state under dir (they precede any table). */
export function privateTopLevel(dir: string, disabledPlugins: string[]): string {
  return [
    `root = "${join(dir, 'root')}"`,
    `state = "${join(dir, 'state')}"`,
    `disabled_plugins = [${disabledPlugins.map((p) => `"${p}"`).join(', ')}]`,
    '',
  ].join('\n');
}

/** Config tables that keep containerd's sockets and opt dir under dir. */
export function privateTables(dir: string): string {
  const socket = join(dir, 'containerd.sock');
  return `
[grpc]
  address = "${socket}"
[ttrpc]
  address = "${socket}.ttrpc"
[debug]
  address = "${join(dir, 'debug.sock')}"
  level = "info"
[plugins."io.containerd.internal.v1.opt"]
  path = "${join(dir, 'opt')}"
`;
}

/** The config a runtime test needs: no CRI, overlayfs and native snapshotters, all under dir. */
export function runtimeTestConfig(dir: string): string {
  return `version = 2\n${privateTopLevel(dir, [CRI_PLUGIN, ...UNNEEDED_SNAPSHOTTERS])}${privateTables(dir)}`;
}

/** The config of `criConfig` (a user's file with the CRI plugin on) made private to dir. */
export function privateCriConfig(dir: string, criConfig: string): string {
  return `${privateTopLevel(dir, UNNEEDED_SNAPSHOTTERS)}${criConfig}\n${privateTables(dir)}
[plugins."${CRI_PLUGIN}".cni]
  conf_dir = "${join(dir, 'cni/net.d')}"
`;
}

export class PrivateContainerd {
  readonly socket: string;
  readonly configFile: string;
  readonly logFile: string;
  /** overlayfs when it loaded, else native (overlay on overlay, e.g. inside a container, fails). */
  snapshotter = 'overlayfs';
  private child?: ChildProcess;
  private exited?: Promise<void>;

  constructor(
    readonly dir: string,
    readonly namespace = NAMESPACE,
  ) {
    this.socket = join(dir, 'containerd.sock');
    this.configFile = join(dir, 'config.toml');
    this.logFile = join(dir, 'containerd.log');
  }

  get stateDir(): string {
    return join(this.dir, 'state');
  }

  /** Starts containerd with `config` and returns once it answers on its socket. */
  async start(config: string): Promise<void> {
    const tmp = join(this.dir, 'tmp');
    mkdirSync(tmp, { recursive: true });
    writeFileSync(this.configFile, config);
    const log = openSync(this.logFile, 'a');
    try {
      // TMPDIR: containerd's temporary mounts (image unpack) land under dir too.
      this.child = spawn('containerd', ['--config', this.configFile], { stdio: ['ignore', log, log], env: { ...process.env, TMPDIR: tmp } });
    } finally {
      closeSync(log);
    }
    const child = this.child;
    let exitCode: number | null | undefined;
    this.exited = new Promise((resolve) =>
      child.once('exit', (code) => {
        exitCode = code;
        resolve();
      }),
    );
    const deadline = Date.now() + 20_000;
    for (;;) {
      if (exitCode !== undefined) throw new Error(`containerd exited ${exitCode} before answering:\n${this.logTail()}`);
      if (existsSync(this.socket) && (await this.ctr(['version'], { timeoutMs: 5_000 })).code === 0) break;
      if (Date.now() > deadline) throw new Error(`containerd did not answer on ${this.socket} in 20 s:\n${this.logTail()}`);
      await new Promise((r) => setTimeout(r, 100));
    }
    const plugins = await this.pluginStatus();
    if (plugins.get('io.containerd.snapshotter.v1 overlayfs') !== 'ok') this.snapshotter = 'native';
  }

  /** `ctr --address SOCK -n NAMESPACE args…` */
  ctr(args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
    const env = { ...process.env, ...opts.env, CONTAINERD_SNAPSHOTTER: this.snapshotter };
    return runCommand('ctr', ['--address', this.socket, '--namespace', this.namespace, ...args], { ...opts, env });
  }

  /** `ctr plugins ls` as "type id" → status (ok, error, skip). */
  async pluginStatus(): Promise<Map<string, string>> {
    const result = await this.ctr(['plugins', 'ls']);
    if (result.code !== 0) throw new Error(`ctr plugins ls failed\n${describeCommand(result)}`);
    const status = new Map<string, string>();
    for (const line of result.stdout.split('\n').slice(1)) {
      const fields = line.trim().split(/\s+/);
      if (fields.length >= 4) status.set(`${fields[0]} ${fields[1]}`, fields[fields.length - 1]!);
    }
    return status;
  }

  /** Live shims this containerd started, with the container each serves. */
  private shims(): { pid: number; id: string; namespace: string }[] {
    const found: { pid: number; id: string; namespace: string }[] = [];
    for (const entry of readdirSync('/proc')) {
      if (!/^\d+$/.test(entry)) continue;
      let argv: string[];
      try {
        argv = readFileSync(`/proc/${entry}/cmdline`, 'utf8').split('\0');
      } catch {
        continue;
      }
      if (!argv[0]?.includes('containerd-shim')) continue;
      const value = (flag: string): string => (argv.includes(flag) ? (argv[argv.indexOf(flag) + 1] ?? '') : '');
      if (value('-address') === this.socket && processAlive(Number(entry))) found.push({ pid: Number(entry), id: value('-id'), namespace: value('-namespace') });
    }
    return found;
  }

  /** Live shims this containerd started (for one container id, or all). */
  shimPids(id?: string): number[] {
    return this.shims()
      .filter((shim) => id === undefined || shim.id === id)
      .map((shim) => shim.pid);
  }

  logTail(lines = 20): string {
    try {
      return readFileSync(this.logFile, 'utf8').trimEnd().split('\n').slice(-lines).join('\n');
    } catch {
      return '(no log)';
    }
  }

  /**
   * Stops containerd, ends any shim it left, unmounts what is left under dir and removes dir.
   * Returns what had to be cleaned up that should have been gone already.
   */
  async stop(): Promise<string[]> {
    const leaks: string[] = [];
    if (this.child && this.child.exitCode === null && this.child.signalCode === null) {
      this.child.kill('SIGTERM');
      const stopped = await Promise.race([this.exited!.then(() => true), new Promise<boolean>((r) => setTimeout(() => r(false), 10_000))]);
      if (!stopped) {
        leaks.push(`containerd ${this.child.pid} ignored SIGTERM for 10 s`);
        this.child.kill('SIGKILL');
        await this.exited;
      }
    }
    const shims = this.shims();
    for (const shim of shims) {
      leaks.push(`shim ${shim.pid} of ${shim.namespace}/${shim.id} still running`);
      try {
        process.kill(shim.pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    await waitGone(shims.map((shim) => shim.pid), 3_000);
    // A killed shim leaves its socket where every shim of the machine keeps it (containerd 1.6
    // names it sha256("ADDRESS/NAMESPACE/ID") under /run/containerd/s).
    for (const shim of shims) rmSync(join(SHIM_SOCKET_DIR, createHash('sha256').update(join(this.socket, shim.namespace, shim.id)).digest('hex')), { force: true });
    const mounts = mountsUnder(this.dir);
    for (const point of mounts) leaks.push(`mount ${point}`);
    unmountAll(mounts);
    rmSync(this.dir, { recursive: true, force: true });
    return leaks;
  }
}
