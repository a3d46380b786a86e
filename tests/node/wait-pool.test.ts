// wait() blocks in waitpid for a container's whole life. It must do that on a thread of its own:
// on libuv's pool (4 threads) a few waited-on containers would stall every fs, crypto, dns and
// zlib call in the process until they exit.
import { execFileSync } from 'node:child_process';
import { pbkdf2 } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadAddon } from '../../ts/src/runtime/addon.js';
import { Runtime, runtimeBinary } from '../../ts/src/runtime/container.js';

const repo = join(import.meta.dirname, '..', '..');
// More waits than the pool has threads, unless UV_THREADPOOL_SIZE was raised for this run.
const WAITS = Math.max(6, Number(process.env.UV_THREADPOOL_SIZE ?? 4) + 2);
let work: string;
let rt: Runtime;
let sleepBundle: string;
let small: string;
let n = 0;
const uid = () => `husk-waitpool-${process.pid}-${++n}`;

function threadCount(): number {
  return readdirSync('/proc/self/task').length;
}

/** Milliseconds `run` takes to settle. */
async function timed(run: () => Promise<unknown>): Promise<number> {
  const start = performance.now();
  await run();
  return performance.now() - start;
}

function pbkdf2Async(): Promise<Buffer> {
  return new Promise((resolve, reject) => pbkdf2('secret', 'salt', 1000, 32, 'sha256', (e, key) => (e ? reject(e) : resolve(key))));
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'husk-waitpool-'));
  rt = new Runtime({ root: join(work, 'state') });
  sleepBundle = join(work, 'sleep');
  execFileSync(join(repo, 'scripts', 'make-bundle.sh'), [sleepBundle, 'sleep', '1'], {
    env: { ...process.env, HUSK_RUNTIME: runtimeBinary() },
  });
  small = join(work, 'small.txt');
  writeFileSync(small, 'small');
});

afterAll(async () => {
  for (const c of await rt.list().catch(() => [])) await rt.delete(c.id, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('wait() off the libuv pool', () => {
  it(`leaves fs and crypto responsive while ${WAITS} containers are waited on`, async () => {
    await readFile(small); // warm up: the first call opens what later ones reuse
    await pbkdf2Async();
    const threads = threadCount();
    const procs = await Promise.all(
      Array.from({ length: WAITS }, () => rt.spawn(uid(), sleepBundle, { stdio: ['ignore', 'ignore', 'ignore'] })),
    );
    const waits = procs.map((p) => p.wait());
    // Give every wait time to reach waitpid before measuring.
    await new Promise((r) => setTimeout(r, 50));

    const fsMs = await timed(async () => expect(await readFile(small, 'utf8')).toBe('small'));
    const cryptoMs = await timed(pbkdf2Async);
    // Still blocked in waitpid during the measurement: the containers have not exited yet.
    const states = await Promise.all(procs.map((p) => rt.state(p.id)));

    expect(fsMs).toBeLessThan(200);
    expect(cryptoMs).toBeLessThan(200);
    expect(states.map((s) => s.status)).toEqual(procs.map(() => 'running'));
    expect(await Promise.all(waits)).toEqual(procs.map(() => ({ exitCode: 0, signal: null })));
    for (const p of procs) await expect(rt.state(p.id)).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
    // Each wait's thread is parked for the next job once it has handed its result over, and
    // ends after 2 s without one (husk_core::workers).
    expect(threadCount()).toBeLessThanOrEqual(threads + WAITS);
    for (let i = 0; i < 500 && threadCount() > threads; i++) await new Promise((r) => setTimeout(r, 10));
    expect(threadCount()).toBeLessThanOrEqual(threads);
  });

  it('waits only for one positive pid: never -1 or 0 (any child of Node)', async () => {
    const addon = loadAddon();
    for (const pid of [-1, 0, Number.NaN, 1.5, 2 ** 31]) {
      await expect(addon.wait(rt.root, 'no-such', pid)).rejects.toMatchObject({ code: 'EINVAL_ARGUMENT' });
    }
    // A pid that is not the addon's child is ECHILD, as a coded error, not a hang.
    await expect(addon.wait(rt.root, 'no-such', 1)).rejects.toMatchObject({ code: 'ESYSCALL' });
  });

  it('reports a killed container through its own thread', async () => {
    const id = uid();
    const p = await rt.spawn(id, sleepBundle, { stdio: ['ignore', 'ignore', 'ignore'] });
    const exit = p.wait();
    await rt.kill(id, 'KILL');
    expect(await exit).toEqual({ exitCode: 137, signal: 9 });
  });
});
