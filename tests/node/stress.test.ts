// Containers cloned in-process (CLONE_VM|CLONE_VFORK) while the rest of Node is busy: the libuv
// pool runs crypto and fs jobs, a worker thread churns its heap, the main thread allocates.
// Every run must succeed with the right output and leave no fd, child, state, cgroup or mount.
//   HUSK_STRESS_N=500            containers run one after another
//   HUSK_STRESS_CONCURRENT_N=200 containers run 4 at a time (HUSK_STRESS_PARALLEL=4)
import { execFileSync, spawnSync } from 'node:child_process';
import { pbkdf2, randomBytes, scrypt } from 'node:crypto';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { PerformanceObserver } from 'node:perf_hooks';
import { Worker } from 'node:worker_threads';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, runtimeBinary, type RunResult } from '../../ts/src/runtime/container.js';

const repo = join(import.meta.dirname, '..', '..');
const N = Number(process.env.HUSK_STRESS_N ?? 500);
const CONCURRENT_N = Number(process.env.HUSK_STRESS_CONCURRENT_N ?? 200);
const PARALLEL = Number(process.env.HUSK_STRESS_PARALLEL ?? 4);
// Unique per test process, short enough to find in /sys/fs/cgroup without false hits.
const prefix = `hstress-${process.pid}-`;
let seq = 0;
const uid = () => `${prefix}${++seq}`;

let work: string;
let rt: Runtime;
let trueBundle: string;
let echoBundle: string;

/** A busybox bundle running `args`; `withoutNetwork` drops the network namespace (the fast path). */
function bundle(name: string, args: string[], withoutNetwork: boolean): string {
  const dir = join(work, name);
  execFileSync(join(repo, 'scripts', 'make-bundle.sh'), [dir, ...args], { env: { ...process.env, HUSK_RUNTIME: runtimeBinary() } });
  const file = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  if (withoutNetwork) config.linux.namespaces = config.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
  writeFileSync(file, JSON.stringify(config));
  return dir;
}

const ECHO_STDOUT = 'out-42 husk\n1000\n';
const ECHO_STDERR = 'err\n';

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

/** Every process whose parent is this one (running or zombie). */
function childPids(): string[] {
  const out: string[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
      if (Number(fields[1]) === process.pid) out.push(`${p} (${fields[0]})`);
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

/** Cgroup directories named after this run's containers, in every hierarchy. */
function leftoverCgroups(): string[] {
  // Other processes' cgroups come and go meanwhile: find's complaints about them are not ours.
  const found = spawnSync('find', ['/sys/fs/cgroup', '-name', `${prefix}*`], { encoding: 'utf8' });
  if (found.error) throw found.error;
  return found.stdout.split('\n').filter(Boolean);
}

/**
 * Mounts of this process's and pid 1's tables that a container could have leaked: every
 * container mount is under its bundle in the scratch directory. (Counting all lines would
 * trip over other programs mounting meanwhile.)
 */
function leakedMounts(): string[] {
  const lines = (pid: string) => readFileSync(`/proc/${pid}/mountinfo`, 'utf8').split('\n');
  return [...lines('self'), ...lines('1')].filter((l) => l.includes(work) || l.includes(prefix));
}

/**
 * The load: one libuv job per pool thread kept in flight (pbkdf2, scrypt, file reads), so the
 * addon's own jobs always queue behind them; a worker thread that allocates and drops large
 * arrays; a main-thread allocation loop. Returns counters and stop().
 */
function startLoad(poolJobs = Number(process.env.UV_THREADPOOL_SIZE ?? 4)) {
  const counts = { crypto: 0, fs: 0, mainAlloc: 0, gc: 0, worker: 0 };
  let running = true;
  const salt = randomBytes(16);
  const inflight = new Set<Promise<void>>();
  const jobs: (() => Promise<void>)[] = [
    () => new Promise((res, rej) => pbkdf2('pw', salt, 1000, 64, 'sha512', (e) => (e ? rej(e) : (counts.crypto++, res())))),
    () => new Promise((res, rej) => scrypt('pw', salt, 64, { N: 1024 }, (e) => (e ? rej(e) : (counts.crypto++, res())))),
    async () => {
      await readFile(join(trueBundle, 'rootfs', 'bin', 'busybox'));
      await readFile('/proc/self/status');
      counts.fs++;
    },
  ];
  const loop = (k: number): void => {
    if (!running) return;
    const p = jobs[k % jobs.length]!().then(() => {
      inflight.delete(p);
      loop(k + poolJobs);
    });
    inflight.add(p);
  };
  for (let k = 0; k < poolJobs; k++) loop(k);

  // The main thread: a burst of short-lived objects on every turn of the event loop.
  let keep: unknown[] = [];
  const alloc = (): void => {
    if (!running) return;
    keep = Array.from({ length: 5_000 }, (_, i) => ({ i, s: `x${i}` }));
    counts.mainAlloc++;
    setImmediate(alloc);
  };
  setImmediate(alloc);

  const gcs = new PerformanceObserver((list) => (counts.gc += list.getEntries().length));
  gcs.observe({ entryTypes: ['gc'] });

  // The worker: large arrays allocated and dropped as fast as it can, reporting its rounds.
  const worker = new Worker(
    `const { parentPort } = require('node:worker_threads');
     let rounds = 0, live = [];
     const tick = () => {
       for (let j = 0; j < 4; j++) {
         live.push(new Array(200_000).fill(rounds), Array.from({ length: 20_000 }, (_, i) => ({ i })));
         if (live.length > 8) live = [];
       }
       parentPort.postMessage(++rounds);
       setImmediate(tick);
     };
     tick();`,
    { eval: true },
  );
  worker.on('message', (n: number) => (counts.worker = n));

  return {
    counts,
    async stop(): Promise<void> {
      running = false;
      gcs.disconnect();
      await worker.terminate();
      await Promise.all(inflight);
      keep = [];
    },
  };
}

/** One container, checked: `/bin/true` (exit 0, no output) or the echo bundle through run or spawn. */
async function runChecked(i: number): Promise<void> {
  const id = uid();
  let r: RunResult;
  let want: Pick<RunResult, 'stdout' | 'stderr'>;
  switch (i % 3) {
    case 0:
      r = await rt.run(id, trueBundle);
      want = { stdout: '', stderr: '' };
      break;
    case 1:
      r = await rt.run(id, echoBundle);
      want = { stdout: ECHO_STDOUT, stderr: ECHO_STDERR };
      break;
    default: {
      // spawn + wait with the JS ends of the pipes read as streams, stdin closed at once.
      const p = await rt.spawn(id, echoBundle, { stdio: ['pipe', 'pipe', 'pipe'] });
      p.stdin?.end();
      const read = (s: NodeJS.ReadableStream | null) =>
        new Promise<string>((res, rej) => {
          let text = '';
          s?.on('data', (d: Buffer) => (text += d.toString()));
          s?.on('error', rej);
          s?.on('close', () => res(text));
        });
      const [stdout, stderr, status] = await Promise.all([read(p.stdout), read(p.stderr), p.wait()]);
      r = { ...status, stdout, stderr };
      want = { stdout: ECHO_STDOUT, stderr: ECHO_STDERR };
    }
  }
  const got = { exitCode: r.exitCode, signal: r.signal, stdout: r.stdout, stderr: r.stderr };
  const expected = { exitCode: 0, signal: null, ...want };
  if (JSON.stringify(got) !== JSON.stringify(expected)) throw new Error(`${id}: got ${JSON.stringify(got)}`);
}

interface Baseline {
  fds: number;
}

function baseline(): Baseline {
  return { fds: fdCount() };
}

/** Nothing may outlive the containers: fds, children, state, cgroups, mounts. */
async function expectNoLeftovers(before: Baseline): Promise<void> {
  expect(childPids()).toEqual([]);
  expect(fdCount()).toBe(before.fds);
  expect(await rt.list()).toEqual([]);
  expect(readdirSync(rt.root)).toEqual([]);
  expect(leftoverCgroups()).toEqual([]);
  expect(leakedMounts()).toEqual([]);
}

beforeAll(async () => {
  work = mkdtempSync(join(tmpdir(), 'husk-stress-'));
  rt = new Runtime({ root: join(work, 'state') });
  trueBundle = bundle('true', ['/bin/true'], true);
  echoBundle = bundle('echo', ['sh', '-c', 'echo out-$((6*7)) $(hostname); seq 1 1000 | tail -n 1; echo err >&2'], false);
  // Warm up lazily opened fds (addon, libuv pipes, the worker's) before any count is taken.
  for (let i = 0; i < 3; i++) await runChecked(i);
  const warm = startLoad();
  await new Promise((r) => setTimeout(r, 200));
  await warm.stop();
});

afterAll(async () => {
  for (const c of await rt.list().catch(() => [])) await rt.delete(c.id, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('Runtime under load', () => {
  it(`runs ${N} containers one after another while the pool, a worker and the heap are busy`, async () => {
    const before = baseline();
    const load = startLoad();
    const failures: string[] = [];
    const t0 = performance.now();
    try {
      for (let i = 0; i < N; i++) {
        await runChecked(i).catch((e: Error) => failures.push(`#${i}: ${e.message}`));
      }
    } finally {
      await load.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `stress: ${N} sequential containers in ${seconds.toFixed(1)} s (${((seconds * 1000) / N).toFixed(1)} ms each); ` +
        `load meanwhile: ${JSON.stringify(load.counts)}`,
    );
    expect(failures).toEqual([]);
    // The load really ran alongside the containers.
    expect(load.counts.crypto).toBeGreaterThan(0);
    expect(load.counts.fs).toBeGreaterThan(0);
    expect(load.counts.worker).toBeGreaterThan(0);
    expect(load.counts.mainAlloc).toBeGreaterThan(0);
    await expectNoLeftovers(before);
  }, 115_000);

  it(`runs ${CONCURRENT_N} containers ${PARALLEL} at a time under the same load`, async () => {
    const before = baseline();
    const load = startLoad();
    const failures: string[] = [];
    let next = 0;
    let peak = 0;
    let active = 0;
    const t0 = performance.now();
    try {
      await Promise.all(
        Array.from({ length: PARALLEL }, async () => {
          while (next < CONCURRENT_N) {
            const i = next++;
            peak = Math.max(peak, ++active);
            await runChecked(i).catch((e: Error) => failures.push(`#${i}: ${e.message}`));
            active--;
          }
        }),
      );
    } finally {
      await load.stop();
    }
    const seconds = (performance.now() - t0) / 1000;
    console.log(
      `stress: ${CONCURRENT_N} containers ${PARALLEL} at a time in ${seconds.toFixed(1)} s; load meanwhile: ${JSON.stringify(load.counts)}`,
    );
    expect(failures).toEqual([]);
    expect(peak).toBe(Math.min(PARALLEL, CONCURRENT_N));
    expect(load.counts.worker).toBeGreaterThan(0);
    await expectNoLeftovers(before);
  }, 115_000);
});
