/**
 * bench/node-spawn.ts — starting a container from one Node process, four ways, interleaved:
 *   addon run     Runtime.run: one native job clones the container in-process, reads its piped
 *                 stdout/stderr, reaps and deletes it, and settles one Promise
 *   addon raw     the addon's spawn + wait, stdio ignored: two jobs with a JS turn between them
 *   husk-runtime  child_process.spawn of `husk-runtime run`, stdout/stderr piped
 *   runc (, …)    child_process.spawn of `RT run` for every other runtime in RUNTIMES
 * all on the same busybox `/bin/true` bundle without a network namespace (runc 1.1.5 accepts its
 * ociVersion 1.2.0 as is). Per container: wall time (median, p10, p90) and CPU time — this
 * process's user+sys (process.cpuUsage: every thread, the libuv pool included) plus its reaped
 * children's (cutime+cstime from /proc/self/stat, clock ticks, so averaged over N). Ratios are to
 * `addon run`. Exits 1 if any container fails.
 *
 * Run: bench/node-spawn.sh (compiles this file with the project's tsc into target/node-bench/,
 * since Node 20 cannot run TypeScript, then runs it with node), or `husk bench node`.
 * Then IDLE_N starts of each after IDLE_MS of quiet, as a program starting a container now and
 * then sees them (the kernel's cgroup migration lock goes idle in between).
 *   N=200  WARMUP=10  WORK=/tmp/husk-node-bench  RUNTIMES="runc"  (e.g. RUNTIMES="runc crun")  SEED=1
 *   IDLE_N=20  IDLE_MS=150
 */
import { execFileSync, spawn as spawnChild, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, release } from 'node:os';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { loadAddon } from '../ts/src/runtime/addon.js';
import { Runtime, runtimeBinary } from '../ts/src/runtime/container.js';

const TARGET_MS = 1.5;
const repo = repoRoot(dirname(fileURLToPath(import.meta.url)));
const N = Number(process.env.N ?? 200);
const WARMUP = Number(process.env.WARMUP ?? 10);
const WORK = process.env.WORK ?? '/tmp/husk-node-bench';
const RUNTIMES = (process.env.RUNTIMES ?? 'runc').split(/\s+/).filter(Boolean);
const IDLE_N = Number(process.env.IDLE_N ?? 20);
const IDLE_MS = Number(process.env.IDLE_MS ?? 150);
const CLK_TCK = Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100;

interface Sample {
  wall: number; // ms
  self: number; // ms of this process's CPU
  children: number; // ms of reaped children's CPU (tick resolution)
  phases?: { spawn: number; wait: number };
}

interface Variant {
  name: string;
  once(id: string): Promise<{ ok: boolean; detail?: string; phases?: Sample['phases'] }>;
}

/** The checkout this file (or its compiled copy under target/) belongs to: where scripts/ is. */
function repoRoot(dir: string): string {
  for (let d = dir; ; d = dirname(d)) {
    if (existsSync(join(d, 'scripts', 'make-bundle.sh'))) return d;
    if (dirname(d) === d) throw new Error(`no scripts/make-bundle.sh above ${dir}`);
  }
}

/** cutime + cstime of this process, in ms. */
function childrenCpu(): number {
  const stat = readFileSync('/proc/self/stat', 'utf8');
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return ((Number(f[13]) + Number(f[14])) * 1000) / CLK_TCK;
}

function selfCpu(): number {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** `rt run --bundle b id` through child_process, stdout/stderr piped like Runtime.run. */
function cliVariant(name: string, binary: string, root: string, bundle: string): Variant {
  return {
    name,
    once: (id) =>
      new Promise((resolve) => {
        const child = spawnChild(binary, ['--root', root, 'run', '--bundle', bundle, id], { stdio: ['ignore', 'pipe', 'pipe'] });
        let err = '';
        child.stdout.resume();
        child.stderr.on('data', (d: Buffer) => (err += d.toString()));
        child.on('error', (e) => resolve({ ok: false, detail: e.message }));
        child.on('close', (code, signal) => resolve({ ok: code === 0, detail: `exit ${code ?? signal}: ${err.trim()}` }));
      }),
  };
}

function makeBundle(dir: string): void {
  execFileSync(join(repo, 'scripts', 'make-bundle.sh'), [dir, '/bin/true'], {
    env: { ...process.env, HUSK_RUNTIME: runtimeBinary() },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  const file = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  config.linux.namespaces = config.linux.namespaces.filter((n: { type: string }) => n.type !== 'network');
  writeFileSync(file, JSON.stringify(config, null, 2));
}

/** A small deterministic PRNG (mulberry32), so a run can be repeated with SEED. */
function seededRandom(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = Math.imul(a ^ (a >>> 15), 1 | a);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Fisher-Yates over a copy. */
function shuffled<T>(items: readonly T[], random: () => number): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return NaN;
  const i = (sorted.length - 1) * q;
  const lo = Math.floor(i);
  const hi = Math.ceil(i);
  return sorted[lo]! + (sorted[hi]! - sorted[lo]!) * (i - lo);
}

const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
const sortNum = (xs: number[]) => [...xs].sort((a, b) => a - b);

async function main(): Promise<number> {
  rmSync(WORK, { recursive: true, force: true });
  mkdirSync(WORK, { recursive: true });
  const bundle = join(WORK, 'true');
  makeBundle(bundle);
  // Every variant's state root on one tmpfs, as bench/lifecycle.sh does: this machine's /tmp and
  // /run are ext4 with discard, whose file creation would be measured instead of the runtimes.
  const roots = join(WORK, 'root');
  mkdirSync(roots, { recursive: true });
  const onTmpfs = spawnSync('mount', ['-t', 'tmpfs', '-o', 'size=64m,mode=0700', 'husk-node-bench', roots]).status === 0;
  const root = (name: string) => join(roots, name);
  const rt = new Runtime({ root: root('addon') });
  const addon = loadAddon();

  const variants: Variant[] = [
    {
      name: 'addon run',
      async once(id) {
        const r = await rt.run(id, bundle);
        return { ok: r.exitCode === 0, detail: `exit ${r.exitCode}: ${r.stderr.trim()}` };
      },
    },
    {
      name: 'addon raw',
      async once(id) {
        const t0 = performance.now();
        const s = await addon.spawn({ root: rt.root, id, bundle, stdio: ['ignore', 'ignore', 'ignore'] });
        const t1 = performance.now();
        const w = await addon.wait(rt.root, id, s.pid);
        return { ok: w.exitCode === 0, detail: `exit ${w.exitCode}`, phases: { spawn: t1 - t0, wait: performance.now() - t1 } };
      },
    },
    cliVariant('husk-runtime', runtimeBinary(), root('husk-runtime'), bundle),
    ...RUNTIMES.map((r) => cliVariant(basename(r), r, root(basename(r)), bundle)),
  ];

  const samples = new Map<string, Sample[]>(variants.map((v) => [v.name, []]));
  const failures = new Map<string, string[]>(variants.map((v) => [v.name, []]));
  const load0 = loadavg();
  const started = performance.now();
  let seq = 0;
  const random = seededRandom(Number(process.env.SEED ?? 1));
  for (let i = 0; i < WARMUP + N; i++) {
    // A fresh order each round, so each variant follows every other one about equally often:
    // what runs just before matters (after runc's ~20 ms run, the kernel's cgroup migration lock
    // has gone idle and the next cgroup.procs write waits a whole RCU grace period). A rotation
    // would keep the same neighbours in every round.
    for (const v of shuffled(variants, random)) {
      const id = `nb-${process.pid}-${++seq}`;
      const c0 = childrenCpu();
      const s0 = selfCpu();
      const t0 = performance.now();
      let r: Awaited<ReturnType<Variant['once']>>;
      try {
        r = await v.once(id);
      } catch (e) {
        r = { ok: false, detail: e instanceof Error ? e.message : String(e) };
      }
      const wall = performance.now() - t0;
      const sample = { wall, self: selfCpu() - s0, children: childrenCpu() - c0, phases: r.phases };
      if (!r.ok) failures.get(v.name)!.push(`${id}: ${r.detail}`);
      else if (i >= WARMUP) samples.get(v.name)!.push(sample);
    }
  }
  const seconds = (performance.now() - started) / 1000;
  const load1 = loadavg();
  // A container now and then, as most programs start them: each start after IDLE_MS of quiet.
  const idle = new Map<string, number[]>(variants.map((v) => [v.name, []]));
  for (let i = 0; i < IDLE_N; i++) {
    for (const v of shuffled(variants, random)) {
      await new Promise((r) => setTimeout(r, IDLE_MS));
      const id = `nb-${process.pid}-${++seq}`;
      const t0 = performance.now();
      const r = await v.once(id).catch((e: unknown) => ({ ok: false, detail: String(e) }));
      if (r.ok) idle.get(v.name)!.push(performance.now() - t0);
      else failures.get(v.name)!.push(`${id} (after idle): ${r.detail}`);
    }
  }
  if (onTmpfs) spawnSync('umount', [roots]);
  rmSync(roots, { recursive: true, force: true });

  const base = summarize(samples.get('addon run')!);
  const head = ['variant', 'n', 'median', 'p10', 'p90', 'cpu self', 'cpu child', 'cpu total', 'wall/addon', 'cpu/addon', 'fail'];
  const rows = variants.map((v) => {
    const s = summarize(samples.get(v.name)!);
    return [
      v.name,
      String(s.n),
      s.median.toFixed(2),
      s.p10.toFixed(2),
      s.p90.toFixed(2),
      s.self.toFixed(2),
      s.children.toFixed(2),
      s.cpu.toFixed(2),
      (s.median / base.median).toFixed(2),
      (s.cpu / base.cpu).toFixed(2),
      String(failures.get(v.name)!.length),
    ];
  });
  console.log(`node-spawn: /bin/true without a network namespace, N=${N} (+${WARMUP} warm-up) each, interleaved, one Node ${process.version} process`);
  console.log(`machine: ${cpus().length} cpus, linux ${release()}, load average ${load0.map((l) => l.toFixed(2)).join(' ')} before, ${load1.map((l) => l.toFixed(2)).join(' ')} after; ${seconds.toFixed(1)} s`);
  console.log(`state roots: ${onTmpfs ? 'one tmpfs for every variant' : `${roots} (no tmpfs: mount failed)`}`);
  console.log('wall and CPU in ms per container; CPU = mean of this process (all threads) + its reaped children\n');
  printTable([head, ...rows]);
  if (IDLE_N > 0) {
    console.log(`\nafter ${IDLE_MS} ms of quiet before each start (N=${IDLE_N} each), wall ms:`);
    const idleRows = variants.map((v) => {
      const w = sortNum(idle.get(v.name)!);
      return [v.name, String(w.length), quantile(w, 0.5).toFixed(2), quantile(w, 0.1).toFixed(2), quantile(w, 0.9).toFixed(2)];
    });
    printTable([['variant', 'n', 'median', 'p10', 'p90'], ...idleRows]);
  }
  const phases = samples.get('addon raw')!.map((s) => s.phases!);
  if (phases.length > 0) {
    const sp = sortNum(phases.map((p) => p.spawn));
    const wt = sortNum(phases.map((p) => p.wait));
    console.log(
      `\naddon raw phases (median / p90 ms): spawn ${quantile(sp, 0.5).toFixed(2)} / ${quantile(sp, 0.9).toFixed(2)}` +
        ` (create: plan, cgroup, state, clone until exec), wait ${quantile(wt, 0.5).toFixed(2)} / ${quantile(wt, 0.9).toFixed(2)} (exit, reap, delete)`,
    );
  }
  console.log(`target ≤ ${TARGET_MS} ms per container through the addon (addon run, median): ${base.median <= TARGET_MS ? 'met' : 'missed'} (${base.median.toFixed(2)} ms)`);
  let failed = 0;
  for (const [name, list] of failures) {
    failed += list.length;
    for (const f of list.slice(0, 5)) console.error(`FAIL ${name}: ${f}`);
  }
  return failed === 0 ? 0 : 1;
}

function summarize(xs: Sample[]) {
  const walls = sortNum(xs.map((s) => s.wall));
  const self = mean(xs.map((s) => s.self));
  const children = mean(xs.map((s) => s.children));
  return { n: xs.length, median: quantile(walls, 0.5), p10: quantile(walls, 0.1), p90: quantile(walls, 0.9), self, children, cpu: self + children };
}

function printTable(rows: string[][]): void {
  const widths = rows[0]!.map((_, c) => Math.max(...rows.map((r) => r[c]!.length)));
  for (const r of rows) console.log(r.map((cell, c) => (c === 0 ? cell.padEnd(widths[c]!) : cell.padStart(widths[c]!))).join('  '));
}

process.exitCode = await main();
