// One test's world: a fresh state root and scratch dir, unique container ids, bundles, and a
// teardown that always runs: `delete --force` every id, then fail the test if anything of the
// containers is left (state dir, process, cgroup, mount), after removing it anyway.
import { randomBytes } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, readFileSync, rmdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, beforeEach } from 'vitest';
import { makeBundle, validatorBinaries, type Bundle } from './bundle.js';
import { cgroupDirs, containerProcesses, mountsUnder, processAlive, removeCgroup, unmountAll, waitGone } from './leaks.js';
import { scratchRoot } from './paths.js';
import { describeResult, runtime, type RuntimeOptions, type RuntimeResult } from './runtime.js';

/** The runtime's `state` output (runc's fields). */
export interface ContainerState {
  ociVersion: string;
  id: string;
  pid: number;
  status: string;
  bundle: string;
  rootfs: string;
  created: string;
  owner: string;
  annotations?: Record<string, string>;
}

function readCmdline(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ').trim();
  } catch {
    return 'gone';
  }
}

const runToken = `${process.pid.toString(36)}${randomBytes(2).toString('hex')}`;
let testSequence = 0;

export class RuntimeEnv {
  /** This test's scratch dir; bundles and the state root live in it. */
  dir = '';
  /** The runtime's --root for this test. */
  root = '';
  private ids: string[] = [];
  private bundles: Bundle[] = [];
  private pids = new Set<number>();
  private idSequence = 0;

  setup(): void {
    this.dir = join(scratchRoot, runToken, String(++testSequence));
    rmSync(this.dir, { recursive: true, force: true });
    mkdirSync(this.dir, { recursive: true });
    for (let d = this.dir; d.startsWith(scratchRoot); d = join(d, '..')) chmodSync(d, 0o755);
    this.root = join(this.dir, 'root');
    this.ids = [];
    this.bundles = [];
    this.pids = new Set();
  }

  /** A container id unique to this run and test, removed at teardown. */
  newId(label = 'c'): string {
    const id = `husk-t-${runToken}-${testSequence}-${label}${++this.idSequence}`;
    this.ids.push(id);
    return id;
  }

  /** A bundle in this test's scratch dir, in cgroup /<id> when an id is given. */
  bundle(opts: { id?: string; args?: string[]; name?: string } = {}): Bundle {
    const bundle = makeBundle({ dir: join(this.dir, opts.name ?? `bundle${this.bundles.length + 1}`), id: opts.id, args: opts.args });
    this.bundles.push(bundle);
    return bundle;
  }

  runtime(args: string[], opts: Omit<RuntimeOptions, 'root'> = {}): Promise<RuntimeResult> {
    return runtime(args, { root: this.root, ...opts });
  }

  /** `state ID` parsed; throws with the runtime's output if it fails. Remembers the pid. */
  async state(id: string): Promise<ContainerState> {
    const result = await this.runtime(['state', id]);
    if (result.code !== 0) throw new Error(`state ${id} failed\n${describeResult(result)}`);
    const state = JSON.parse(result.stdout) as ContainerState;
    this.trackPid(state.pid);
    return state;
  }

  /** A process that must be gone after teardown. */
  trackPid(pid: number | undefined): void {
    if (pid && pid > 0) this.pids.add(pid);
  }

  async teardown(): Promise<void> {
    const leaks: string[] = [];
    for (const id of [...this.ids].reverse()) {
      const result = await this.runtime(['delete', '--force', id], { timeoutMs: 20_000 });
      if (result.timedOut) leaks.push(`delete --force ${id} timed out`);
    }
    await waitGone([...this.pids, ...containerProcesses(this.ids).map((p) => p.pid)], 3_000);
    const alive = [...new Set([...this.pids].filter(processAlive).concat(containerProcesses(this.ids).map((p) => p.pid)))];
    for (const pid of alive) leaks.push(`process ${pid} (${readCmdline(pid)}) still running`);
    for (const id of this.ids) {
      if (existsSync(join(this.root, id))) leaks.push(`state dir ${join(this.root, id)}`);
    }
    const cgroups = this.ids.flatMap((id) => cgroupDirs(`/${id}`));
    for (const dir of cgroups) leaks.push(`cgroup ${dir}`);
    for (const bundle of this.bundles) {
      for (const failure of bundle.unmountHostMounts()) leaks.push(`harness mount ${failure}`);
    }
    const mounts = mountsUnder(this.dir);
    for (const point of mounts) leaks.push(`mount ${point}`);

    // Leave the host clean whatever happened, then report.
    for (const pid of alive) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // gone meanwhile
      }
    }
    for (const dir of cgroups) removeCgroup(dir);
    unmountAll(mounts);
    const stillAlive = [...this.pids].filter(processAlive);
    if (leaks.length === 0 || stillAlive.length === 0) rmSync(this.dir, { recursive: true, force: true });
    if (leaks.length > 0) throw new Error(`the container left things behind:\n  ${leaks.join('\n  ')}`);
  }
}

/** Registers a RuntimeEnv's setup/teardown around every test of the enclosing describe/file. */
export function useRuntimeEnv(): RuntimeEnv {
  const env = new RuntimeEnv();
  // Outside any test's timeout: when globalSetup is not wired this is where the validator builds.
  beforeAll(() => void validatorBinaries());
  beforeEach(() => env.setup());
  afterEach(() => env.teardown());
  afterAll(() => {
    try {
      rmdirSync(join(scratchRoot, runToken));
    } catch {
      // not empty (a leak's evidence) or already gone
    }
  });
  return env;
}
