/**
 * The surface of husk's Node-API addon (crates/husk-node), written by hand: there is no napi-derive
 * to generate it. Types only; a .ts rather than a .d.ts so that tsc emits it into dist/ too.
 */

/** The runtime-spec features document (features.md), as husk-core produces it. */
export interface Features {
  ociVersionMin: string;
  ociVersionMax: string;
  hooks?: string[];
  mountOptions?: string[];
  linux?: LinuxFeatures;
  annotations?: Record<string, string>;
}

export interface LinuxFeatures {
  namespaces?: string[];
  capabilities?: string[];
  cgroup?: { v1?: boolean; v2?: boolean; systemd?: boolean; systemdUser?: boolean; rdma?: boolean };
  seccomp?: { enabled?: boolean; actions?: string[]; operators?: string[]; archs?: string[] };
  apparmor?: { enabled?: boolean };
  selinux?: { enabled?: boolean };
  intelRdt?: { enabled?: boolean };
  mountExtensions?: { idmap?: { enabled?: boolean } };
}

/** What the addon throws and rejects with: a JS Error whose `code` is stable (husk-core's Error::code, EPANIC, ENAPI). */
export interface AddonError extends Error {
  code: string;
}

/** A container's state document (runtime-spec state plus runc's rootfs, created, owner). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: 'creating' | 'created' | 'running' | 'paused' | 'stopped';
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

/** What spawn() resolves to: the host pid and the JS ends of "pipe" stdio slots, or the pty master. */
export interface NativeSpawned {
  id: string;
  pid: number;
  stdio: (number | null)[];
  pty: number | null;
  /** A dup of the pty master, so reading and writing can be separate streams. */
  ptyWrite: number | null;
}

/** What run() and waitCapture() resolve to; a terminal config's pty output is `stdout`. */
export interface NativeRunResult {
  exitCode: number;
  signal: number | null;
  warnings: string[];
  stdout: string;
  stderr: string;
}

export type StdioSlot = 'pipe' | 'inherit' | 'ignore' | number | null;

/** The addon's exports. Async functions run on libuv's thread pool and never throw: they reject. */
export interface NativeAddon {
  version(): string;
  features(): Promise<Features>;
  spawn(options: { root: string; id: string; bundle: string; stdio?: StdioSlot[] }): Promise<NativeSpawned>;
  /** A whole container on one native thread: start (stdin /dev/null), capture, reap, delete. */
  run(options: { root: string; id: string; bundle: string }): Promise<NativeRunResult>;
  wait(root: string, id: string, pid: number): Promise<{ exitCode: number; signal: number | null; warnings: string[] }>;
  /** wait that reads (and closes) the JS ends of stdout/stderr pipes on the same native thread. */
  waitCapture(root: string, id: string, pid: number, stdoutFd: number, stderrFd: number): Promise<NativeRunResult>;
  start(root: string, id: string): Promise<{ warnings: string[] }>;
  state(root: string, id: string): Promise<ContainerState>;
  list(root: string): Promise<ContainerState[]>;
  kill(root: string, id: string, signal: string, all: boolean): Promise<null>;
  delete(root: string, id: string, force: boolean): Promise<{ warnings: string[] }>;
  pause(root: string, id: string): Promise<null>;
  resume(root: string, id: string): Promise<null>;
  ps(root: string, id: string): Promise<number[]>;
  stats(root: string, id: string): Promise<Record<string, unknown>>;
  /** linux.resources fields (runtime-spec names) applied to a running container. */
  update(root: string, id: string, resources: Record<string, unknown>): Promise<{ warnings: string[] }>;

  /** Test-only: rejects with husk-core's NotFound error (`ENOTFOUND_CONTAINER`). */
  __rejectForTest(id: string): Promise<never>;
  /** Test-only: a JSON round trip through Rust. */
  __echoForTest(value: unknown): Promise<unknown>;
  /** Test-only: blocks a pool thread for `ms`, resolves with null. */
  __sleepForTest(ms: number): Promise<null>;
  /** Test-only: panics on the pool; rejects with `EPANIC`. */
  __panicForTest(): Promise<never>;
  /** Test-only: panics on the JS thread; throws `EPANIC`. */
  __panicSyncForTest(): never;
}
