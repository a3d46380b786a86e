// `update` (per-resource flags and containerd's `--resources -` JSON) read back from inside the
// container, and `events` (`--stats` once, the stats/OOM stream), on live, stopped and missing
// containers. Written for v1 controllers (this hybrid host), where the container sees its own
// cgroup directory at /sys/fs/cgroup/<controller>.
import { spawn, type ChildProcess } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { useRuntimeEnv, type ContainerState } from '../helpers/env.js';
import { isRunc, runtimeUnderTest } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';

const MiB = 1024 * 1024;
const V1_MEMORY = '/sys/fs/cgroup/memory/memory.limit_in_bytes';

/** The files each limit lives in, as the container sees its own v1 cgroup. */
const LIMIT_FILES = {
  memory: '/sys/fs/cgroup/memory/memory.limit_in_bytes',
  memorySwap: '/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes',
  reservation: '/sys/fs/cgroup/memory/memory.soft_limit_in_bytes',
  pids: '/sys/fs/cgroup/pids/pids.max',
  shares: '/sys/fs/cgroup/cpu/cpu.shares',
  quota: '/sys/fs/cgroup/cpu/cpu.cfs_quota_us',
  period: '/sys/fs/cgroup/cpu/cpu.cfs_period_us',
  cpus: '/sys/fs/cgroup/cpuset/cpuset.cpus',
} as const;
type Limit = keyof typeof LIMIT_FILES;

/** One line of `events` output. */
interface ContainerEvent {
  type: string;
  id: string;
  data?: StatsData;
}

/** The slice of runc's stats schema (types/events.go) that containerd and the tests read. */
interface StatsData {
  cpu: { usage: { total?: number; percpu?: number[]; kernel: number; user: number }; throttling: Record<string, number> };
  memory: {
    cache?: number;
    usage: { limit: number; usage?: number; max?: number; failcnt: number };
    swap: { limit: number; failcnt: number };
    kernel: { limit: number; failcnt: number };
    kernelTCP: { limit: number; failcnt: number };
    raw?: Record<string, number>;
  };
  pids: { current?: number; limit?: number };
  blkio: Record<string, unknown>;
  hugetlb: Record<string, unknown>;
  cpuset: Record<string, unknown>;
  intel_rdt: Record<string, unknown>;
  network_interfaces: unknown;
}

/** A running `events` stream: its parsed lines so far, and its exit. */
interface EventStream {
  events: ContainerEvent[];
  exited: Promise<{ code: number | null; stderr: string }>;
  waitFor(what: string, done: (events: ContainerEvent[]) => boolean, timeoutMs: number): Promise<void>;
}

function ok(result: RuntimeResult): RuntimeResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

function fails(result: RuntimeResult, message: RegExp): void {
  expect(result.code, describeResult(result)).not.toBe(0);
  expect(result.stderr, describeResult(result)).toMatch(message);
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe.skipIf(!existsSync(V1_MEMORY))('update and events', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  const streams = new Set<ChildProcess>();

  // Registered after the env's teardown, so it runs first: no stream outlives its test.
  afterEach(() => {
    for (const child of streams) child.kill('SIGKILL');
    streams.clear();
  });

  function sleeper(id: string, resources?: Record<string, unknown>, args = ['/bin/sleep', '1000']): Bundle {
    const bundle = env.bundle({ id, args });
    if (resources) bundle.config.linux.resources = { ...bundle.config.linux.resources, ...resources };
    return bundle.write();
  }

  async function runDetached(id: string, resources?: Record<string, unknown>, args?: string[]): Promise<ContainerState> {
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id, resources, args).dir, id]));
    return env.state(id);
  }

  /** Reads limits from inside the container (`exec cat`), one value per limit. */
  async function limitsInside(id: string, limits: Limit[]): Promise<Record<string, string>> {
    const result = ok(await env.runtime(['exec', id, 'cat', ...limits.map((l) => LIMIT_FILES[l])]));
    const values = result.stdout.trim().split('\n');
    expect(values.length, describeResult(result)).toBe(limits.length);
    return Object.fromEntries(limits.map((l, i) => [l, values[i] as string]));
  }

  async function statsOnce(id: string): Promise<ContainerEvent> {
    const result = ok(await env.runtime(['events', '--stats', id]));
    const lines = result.stdout.trim().split('\n');
    expect(lines.length, describeResult(result)).toBe(1);
    return JSON.parse(lines[0] as string) as ContainerEvent;
  }

  function streamEvents(id: string, interval: string): EventStream {
    // A pipe is safe here: the events process starts no container that could inherit it.
    const child = spawn(runtimeUnderTest(), ['--root', env.root, 'events', '--interval', interval, id], { stdio: ['ignore', 'pipe', 'pipe'] });
    streams.add(child);
    const events: ContainerEvent[] = [];
    let partial = '';
    let stderr = '';
    child.stdout?.on('data', (chunk: Buffer) => {
      const lines = (partial + chunk.toString()).split('\n');
      partial = lines.pop() ?? '';
      for (const line of lines.filter((l) => l.trim())) events.push(JSON.parse(line) as ContainerEvent);
    });
    child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()));
    const exited = new Promise<{ code: number | null; stderr: string }>((resolve) =>
      child.once('exit', (code) => {
        streams.delete(child);
        resolve({ code, stderr });
      }),
    );
    const waitFor = async (what: string, done: (events: ContainerEvent[]) => boolean, timeoutMs: number) => {
      const deadline = Date.now() + timeoutMs;
      while (!done(events)) {
        if (Date.now() > deadline) throw new Error(`no ${what} within ${timeoutMs} ms; events: ${JSON.stringify(events.map((e) => e.type))}\n${stderr}`);
        await sleep(50);
      }
    };
    return { events, exited, waitFor };
  }

  async function stopped(id: string): Promise<void> {
    ok(await env.runtime(['kill', id, 'KILL']));
    for (let i = 0; i < 100 && (await env.state(id)).status !== 'stopped'; i++) await sleep(50);
    expect((await env.state(id)).status).toBe('stopped');
  }

  test('update flags change memory, pids and cpu as the container sees them', async () => {
    const id = env.newId();
    await runDetached(id, { memory: { limit: 128 * MiB }, pids: { limit: 100 } });
    expect(await limitsInside(id, ['memory', 'pids'])).toEqual({ memory: String(128 * MiB), pids: '100' });

    ok(
      await env.runtime([
        'update',
        '--memory', '64m',
        '--memory-reservation', '32m',
        '--pids-limit', '42',
        '--cpu-share', '512',
        '--cpu-quota', '25000',
        '--cpu-period', '100000',
        '--cpuset-cpus', '0',
        id,
      ]),
    );
    expect(await limitsInside(id, ['memory', 'reservation', 'pids', 'shares', 'quota', 'period', 'cpus'])).toEqual({
      memory: String(64 * MiB),
      reservation: String(32 * MiB),
      pids: '42',
      shares: '512',
      quota: '25000',
      period: '100000',
      cpus: '0',
    });
    // Sizes as runc reads them (docker's RAMInBytes: binary units, optional "i"/"b"), and -1.
    ok(await env.runtime(['update', '--memory', '100MiB', id]));
    expect((await limitsInside(id, ['memory'])).memory).toBe(String(100 * MiB));
    ok(await env.runtime(['update', '--pids-limit', '-1', id]));
    expect((await limitsInside(id, ['pids'])).pids).toBe('max');

    const stats = (await statsOnce(id)).data;
    expect(stats?.memory.usage.limit).toBe(100 * MiB);
    expect(stats?.pids.limit ?? 0, 'pids.max "max" is reported as no limit').toBe(0);
  });

  test('update --resources - takes containerd\'s JSON, and leaves out what it does not name', async () => {
    const id = env.newId();
    await runDetached(id, { memory: { limit: 128 * MiB }, pids: { limit: 100 } });
    const resources = {
      memory: { limit: 96 * MiB, swap: 192 * MiB },
      cpu: { shares: 256, quota: 30000, period: 50000, cpus: '0' },
      pids: { limit: 64 },
    };
    ok(await env.runtime(['update', '--resources', '-', id], { input: JSON.stringify(resources) }));
    expect(await limitsInside(id, ['memory', 'memorySwap', 'shares', 'quota', 'period', 'cpus', 'pids'])).toEqual({
      memory: String(96 * MiB),
      memorySwap: String(192 * MiB),
      shares: '256',
      quota: '30000',
      period: '50000',
      cpus: '0',
      pids: '64',
    });

    // A later update of one value keeps the others.
    ok(await env.runtime(['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 50 } }) }));
    ok(await env.runtime(['update', '--cpu-quota', '20000', id]));
    expect(await limitsInside(id, ['memory', 'quota', 'period', 'pids'])).toEqual({
      memory: String(96 * MiB),
      quota: '20000',
      period: '50000',
      pids: '50',
    });
  });

  test.skipIf(isRunc())('husk saves the merged resources in its state, and takes --cpu-shares', async () => {
    const id = env.newId();
    await runDetached(id, { memory: { limit: 128 * MiB } });
    ok(await env.runtime(['update', '--resources', '-', id], { input: JSON.stringify({ pids: { limit: 33 } }) }));
    ok(await env.runtime(['update', '--cpu-shares', '300', id]));
    expect((await limitsInside(id, ['shares'])).shares).toBe('300');
    const saved = JSON.parse(readFileSync(join(env.root, id, 'state.json'), 'utf8')) as { config: { linux: { resources: Record<string, unknown> } } };
    expect(saved.config.linux.resources).toMatchObject({ memory: { limit: 128 * MiB }, pids: { limit: 33 }, cpu: { shares: 300 } });
  });

  test('a failed update reports why and leaves the limits as they were', async () => {
    const id = env.newId();
    await runDetached(id, { memory: { limit: 64 * MiB }, pids: { limit: 30 } });
    fails(await env.runtime(['update', '--memory', 'lots', id]), /invalid value for memory: invalid size: 'lots'/);
    fails(await env.runtime(['update', '--cpu-quota', 'x', id]), /invalid value for cpu-quota/);
    fails(await env.runtime(['update', '--pids-limit', 'x', id]), /invalid value \\?"x\\?" for flag -pids-limit/);
    // Below what the container already uses: the kernel refuses, and the limits stay as they were.
    fails(await env.runtime(['update', '--pids-limit', '20', '--memory', '4096', id]), /unable to set memory limit to 4096/);
    expect(await limitsInside(id, ['memory', 'pids'])).toEqual({ memory: String(64 * MiB), pids: '30' });
    fails(await env.runtime(['update', '--l3-cache-schema', 'L3:0=f', id]), /Intel RDT\/CAT: l3 cache schema is not enabled/);
    fails(await env.runtime(['update', '--mem-bw-schema', 'MB:0=50', id]), /Intel RDT\/MBA: memory bandwidth schema is not enabled/);
    fails(await env.runtime(['update']), /requires exactly 1 argument/);
    fails(await env.runtime(['events', '--interval', '0s', id]), /duration interval must be greater than 0/);
  });

  test('events --stats prints one stats event with the fields containerd reads', async () => {
    const id = env.newId();
    await runDetached(id, { memory: { limit: 64 * MiB }, pids: { limit: 20 } }, ['/bin/sh', '-c', 'sleep 1000 & sleep 1000 & wait']);
    // The shell may not have forked both sleeps yet when `run --detach` returns.
    let event = await statsOnce(id);
    for (let i = 0; i < 40 && event.data?.pids.current !== 3; i++) {
      await sleep(50);
      event = await statsOnce(id);
    }
    expect(event).toMatchObject({ type: 'stats', id });
    const data = event.data as StatsData;
    expect(Object.keys(data).sort()).toEqual(
      ['blkio', 'cpu', 'cpuset', 'hugetlb', 'intel_rdt', 'memory', 'network_interfaces', 'pids'].sort(),
    );
    expect(data.cpu.usage.total).toBeGreaterThan(0);
    expect(data.cpu.usage.percpu?.length).toBeGreaterThan(0);
    expect(typeof data.cpu.usage.kernel).toBe('number');
    expect(typeof data.cpu.usage.user).toBe('number');
    expect(typeof data.cpu.throttling).toBe('object');
    expect(data.memory.usage.usage).toBeGreaterThan(0);
    expect(data.memory.usage.limit).toBe(64 * MiB);
    expect(typeof data.memory.usage.failcnt).toBe('number');
    for (const entry of [data.memory.swap, data.memory.kernel, data.memory.kernelTCP]) expect(typeof entry.limit).toBe('number');
    expect(data.memory.raw?.total_rss, 'memory.stat as "raw"').toBeTypeOf('number');
    expect(data.memory.raw?.hierarchical_memory_limit).toBe(64 * MiB);
    expect(data.pids).toEqual({ current: 3, limit: 20 });
    for (const key of ['blkio', 'hugetlb', 'intel_rdt', 'cpuset'] as const) expect(typeof data[key]).toBe('object');
    expect(data.network_interfaces).toBeNull();
  });

  test('the events stream sends stats every interval and an oom event, and ends with the container', async () => {
    const id = env.newId();
    // The shell survives; its dd child asks for 64 MiB under a 16 MiB limit (no swap) and is OOM-killed.
    const hog = 'sleep 1; dd if=/dev/zero of=/dev/null bs=64M count=1; sleep 1000';
    await runDetached(id, { memory: { limit: 16 * MiB, swap: 16 * MiB } }, ['/bin/sh', '-c', hog]);
    const stream = streamEvents(id, '300ms');
    await stream.waitFor('oom event', (events) => events.some((e) => e.type === 'oom'), 15_000);
    await stream.waitFor('two stats events', (events) => events.filter((e) => e.type === 'stats').length >= 2, 5_000);
    for (const event of stream.events) {
      expect(event.id).toBe(id);
      if (event.type === 'oom') expect(event).toEqual({ type: 'oom', id });
      else expect(event.data?.memory.usage.limit).toBe(16 * MiB);
    }
    expect(stream.events.filter((e) => e.type === 'oom')).toHaveLength(1);

    await stopped(id);
    // runc's stream only ends when the cgroup goes away (delete); husk's ends when the container stops.
    if (isRunc()) ok(await env.runtime(['delete', id]));
    const exit = await Promise.race([stream.exited, sleep(5_000).then(() => undefined)]);
    expect(exit, 'the stream ended').toEqual({ code: 0, stderr: '' });
  });

  test('update and events fail clearly on a stopped container', async () => {
    const id = env.newId();
    await runDetached(id);
    await stopped(id);
    fails(await env.runtime(['update', '--memory', '64m', id]), /container not running/);
    fails(await env.runtime(['events', '--stats', id]), new RegExp(`container with id ${id} is not running`));
    fails(await env.runtime(['events', id]), /is not running/);
  });

  test('update and events fail with "does not exist" on a missing container', async () => {
    const id = env.newId('missing');
    for (const args of [['update', '--memory', '64m', id], ['update', '--resources', '-', id], ['events', '--stats', id], ['events', id]]) {
      // No stdin: the runtime exits before reading it, and writing to it would fail with EPIPE.
      fails(await env.runtime(args), /does not exist/);
    }
  });
});
