// One test file's world: a private containerd with the busybox image imported, container ids
// unique to the run, ctr calls that name the runtime under test (--runc-binary) and a private
// runtime root (--runc-root), and after each test the removal of its containers followed by a
// check that nothing of them is left; a leak fails the test, after being removed anyway.
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, expect } from 'vitest';
import { cgroupDirs, CONTAINER_MARKER_ENV, containerProcesses, mountsUnder, removeCgroup, unmountAll, waitGone } from '../helpers/leaks.js';
import { BUSYBOX_IMAGE, buildBusyboxImage } from './busybox-image.js';
import { describeCommand, NAMESPACE, PrivateContainerd, runtimeTestConfig, type CommandOptions, type CommandResult } from './private-containerd.js';
import { runtimeBinary } from './runtime-under-test.js';
import { TerminalSession } from './terminal.js';

export const IMAGE = BUSYBOX_IMAGE;

export interface TaskInfo {
  pid: number;
  status: string;
}

export interface RunOptions extends CommandOptions {
  /** ctr run flags that go before the image, e.g. ['--rm'] or ['-d', '--memory-limit', '…']. */
  flags?: string[];
}

const runToken = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;

export class ContainerdEnv {
  containerd!: PrivateContainerd;
  readonly runtime = runtimeBinary();
  /** The temp dir holding containerd, the runtime root and the ctr fifos. */
  dir = '';
  private ids: string[] = [];
  private sequence = 0;

  get runtimeRoot(): string {
    return join(this.dir, 'runtime-root');
  }

  /** ctr's stdio fifos (it would use /run/containerd/fifo otherwise). */
  private get fifoDir(): string {
    return join(this.dir, 'fifo');
  }

  /** Starts containerd and imports the busybox image. */
  async setup(): Promise<void> {
    // Short, because unix socket paths are limited to 108 bytes.
    this.dir = mkdtempSync(join(tmpdir(), 'husk-ctd-'));
    mkdirSync(this.fifoDir);
    this.containerd = new PrivateContainerd(join(this.dir, 'containerd'));
    mkdirSync(this.containerd.dir);
    await this.containerd.start(runtimeTestConfig(this.containerd.dir));
    const archive = buildBusyboxImage(join(this.dir, 'image'));
    const imported = await this.ctr(['images', 'import', archive], { timeoutMs: 60_000 });
    if (imported.code !== 0) throw new Error(`image import failed\n${describeCommand(imported)}\n${this.containerd.logTail()}`);
  }

  /** A container id unique to this run, removed after the test. */
  newId(label = 'c'): string {
    const id = `husk-${runToken}-${label}${++this.sequence}`;
    this.ids.push(id);
    return id;
  }

  ctr(args: string[], opts: CommandOptions = {}): Promise<CommandResult> {
    return this.containerd.ctr(args, opts);
  }

  /** `ctr run` arguments for the runtime under test: flags, the image, the id, the command. */
  runArgs(id: string, command: string[], flags: string[] = []): string[] {
    return [
      'run',
      '--runc-binary', this.runtime,
      '--runc-root', this.runtimeRoot,
      '--fifo-dir', this.fifoDir,
      // Marks the container's processes so a leak is found even without its cgroup.
      '--env', `${CONTAINER_MARKER_ENV}=${id}`,
      ...flags,
      IMAGE,
      id,
      ...command,
    ];
  }

  /** `ctr task exec` arguments: flags (e.g. ['-t'] or ['--detach']), the exec id, the command. */
  execArgs(id: string, execId: string, command: string[], flags: string[] = []): string[] {
    return ['task', 'exec', '--fifo-dir', this.fifoDir, ...flags, '--exec-id', execId, id, ...command];
  }

  run(id: string, command: string[], opts: RunOptions = {}): Promise<CommandResult> {
    return this.ctr(this.runArgs(id, command, opts.flags), opts);
  }

  /** `ctr run -d`; returns the task's pid once it is RUNNING. */
  async runDetached(id: string, command: string[], flags: string[] = []): Promise<number> {
    const result = await this.run(id, command, { flags: ['-d', ...flags] });
    expect(result.code, describeCommand(result)).toBe(0);
    const task = await this.waitForStatus(id, 'RUNNING');
    expect(task?.status, `task ${id}`).toBe('RUNNING');
    return task!.pid;
  }

  /** A ctr command on a terminal of its own (ctr -t needs one). */
  terminal(args: string[]): TerminalSession {
    const c = this.containerd;
    return new TerminalSession(['ctr', '--address', c.socket, '--namespace', c.namespace, ...args], { ...process.env, CONTAINERD_SNAPSHOTTER: c.snapshotter });
  }

  /** The task's line in `ctr task ls`, if it has one. */
  async task(id: string): Promise<TaskInfo | undefined> {
    const result = await this.ctr(['task', 'ls']);
    expect(result.code, describeCommand(result)).toBe(0);
    for (const line of result.stdout.split('\n').slice(1)) {
      const [task, pid, status] = line.trim().split(/\s+/);
      if (task === id) return { pid: Number(pid), status: status ?? '' };
    }
    return undefined;
  }

  async waitForStatus(id: string, status: string, timeoutMs = 10_000): Promise<TaskInfo | undefined> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const task = await this.task(id);
      if (task?.status === status || Date.now() > deadline) return task;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** The pids `ctr task ps` lists, with each one's INFO column (the exec id for an exec). */
  async taskProcesses(id: string): Promise<{ pid: number; info: string }[]> {
    const result = await this.ctr(['task', 'ps', id]);
    expect(result.code, describeCommand(result)).toBe(0);
    return result.stdout
      .split('\n')
      .slice(1)
      .filter((line) => line.trim())
      .map((line) => {
        const [pid, ...info] = line.trim().split(/\s+/);
        return { pid: Number(pid), info: info.join(' ') };
      });
  }

  /** The shim's bundle for the task: config.json and the rootfs mount. */
  bundleDir(id: string): string {
    return join(this.containerd.stateDir, 'io.containerd.runtime.v2.task', NAMESPACE, id);
  }

  /** The container's root filesystem as the host sees it while the task exists. */
  rootfs(id: string): string {
    return join(this.bundleDir(id), 'rootfs');
  }

  /** Where the runtime keeps the container's state (the shim passes --root RUNTIME_ROOT/NAMESPACE). */
  runtimeStateDir(id: string): string {
    return join(this.runtimeRoot, NAMESPACE, id);
  }

  /** ctr's default cgroupsPath for a container. */
  cgroupPath(id: string): string {
    return `/${NAMESPACE}/${id}`;
  }

  /** What is left of a container that should be gone entirely. */
  async leftovers(id: string): Promise<string[]> {
    const left: string[] = [];
    const listed = async (args: string[]): Promise<string[]> => (await this.ctr(args)).stdout.split('\n').map((line) => line.trim().split(/\s+/)[0] ?? '');
    if ((await listed(['task', 'ls', '-q'])).includes(id)) left.push('task');
    if ((await listed(['containers', 'ls', '-q'])).includes(id)) left.push('container record');
    if ((await listed(['snapshots', 'ls'])).includes(id)) left.push('snapshot');
    for (const pid of await waitGone(this.containerd.shimPids(id), 3_000)) left.push(`shim process ${pid}`);
    for (const { pid } of containerProcesses([id])) left.push(`container process ${pid}`);
    if (existsSync(this.runtimeStateDir(id))) left.push(`runtime state dir ${this.runtimeStateDir(id)}`);
    if (existsSync(this.bundleDir(id))) left.push(`task bundle ${this.bundleDir(id)}`);
    for (const dir of cgroupDirs(this.cgroupPath(id))) left.push(`cgroup ${dir}`);
    for (const point of mountsUnder(this.bundleDir(id))) left.push(`mount ${point}`);
    return left;
  }

  /** After each test: remove its containers the way a user would, then fail on anything left. */
  async removeContainers(): Promise<void> {
    const leaks: string[] = [];
    for (const id of this.ids.splice(0)) {
      // A paused task cannot die until thawed; each step may fail because the thing is gone.
      await this.ctr(['task', 'resume', id], { timeoutMs: 10_000 });
      await this.ctr(['task', 'delete', '--force', id], { timeoutMs: 10_000 });
      await this.ctr(['containers', 'rm', id], { timeoutMs: 10_000 });
      const left = await this.leftovers(id);
      leaks.push(...left.map((what) => `${id}: ${what}`));
      if (left.length === 0) continue;
      for (const { pid } of containerProcesses([id])) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone meanwhile
        }
      }
      for (const dir of cgroupDirs(this.cgroupPath(id))) removeCgroup(dir);
      unmountAll(mountsUnder(this.bundleDir(id)));
    }
    if (leaks.length > 0) throw new Error(`containers left things behind:\n  ${leaks.join('\n  ')}`);
  }

  /** After all tests: stop containerd (and any shim it left) and remove the temp dir. */
  async teardown(): Promise<void> {
    const leaks = this.containerd ? await this.containerd.stop() : [];
    unmountAll(mountsUnder(this.dir));
    if (this.dir) rmSync(this.dir, { recursive: true, force: true });
    if (leaks.length > 0) throw new Error(`containerd left things behind:\n  ${leaks.join('\n  ')}`);
  }
}

/** A ContainerdEnv started before the file's tests, checked after each, stopped after all. */
export function useContainerd(): ContainerdEnv {
  const env = new ContainerdEnv();
  beforeAll(() => env.setup());
  afterEach(() => env.removeContainers());
  afterAll(() => env.teardown());
  return env;
}
