// Runs the validator inside containers built from generated configs: every feature alone, then
// seeded random mixes (HUSK_TEST_SEED picks the seed, HUSK_TEST_MIXES how many).
import { describe, expect, test } from 'vitest';
import type { Bundle, HostFacts } from '../helpers/bundle.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { isRunc } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';
import type { Spec } from '../helpers/spec.js';
import { parseTap } from '../helpers/tap.js';
import { finalize, randomMixes, targetedCases, type ConformanceCase, type Feature } from './generator.js';

const seed = Number(process.env.HUSK_TEST_SEED ?? 1);
const mixes = Number(process.env.HUSK_TEST_MIXES ?? 16);

describe('conformance', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  async function runCase(c: ConformanceCase, skip: (note: string) => void): Promise<void> {
    // A mix runs without the features this machine cannot have or runc is known to get wrong;
    // a feature alone is skipped for them.
    const dropReason = (f: Feature) => f.unavailable?.() ?? (isRunc() ? f.runcSkip : undefined);
    const features = c.features.filter((f) => !dropReason(f));
    if (features.length === 0) return skip(c.features.map(dropReason).join('; '));
    const id = env.newId();
    const bundle = env.bundle({ id });
    for (const feature of features) feature.apply(bundle);
    finalize(bundle);
    bundle.write();
    const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
    const tap = parseTap(result.stdout);
    const failed = tap.failures.length > 0 ? `validator failures:\n${tap.failures.join('\n')}\n\n` : '';
    expect(result.code, `${failed}${describeResult(result)}`).toBe(0);
    expect(tap.planned, 'the validator printed its plan').toBe(tap.passed);
  }

  describe('each feature alone', () => {
    test.for(targetedCases())('$name', (c, { skip }) => runCase(c, skip));
  });

  describe(`random mixes (seed ${seed})`, () => {
    test.for(randomMixes(seed, mixes))('$name', (c, { skip }) => runCase(c, skip));
  });
});

/**
 * The validator's self-test: the runtime gets one config, the validator is told another, and it
 * must fail exactly the checks that differ (beyond what already fails for the same container
 * without the deviation). Guards against checks that pass vacuously.
 */
interface Deviation {
  name: string;
  setup?: (bundle: Bundle) => void;
  mutate: (config: Spec, host: HostFacts) => void;
  failure: RegExp;
}

const DEVIATIONS: Deviation[] = [
  { name: 'args', mutate: (c) => void c.process.args.push('extra'), failure: /process\.args/ },
  { name: 'env', mutate: (c) => void c.process.env?.push('HUSK_MISSING=1'), failure: /process\.env HUSK_MISSING/ },
  { name: 'cwd', mutate: (c) => void (c.process.cwd = '/tmp'), failure: /process\.cwd/ },
  { name: 'uid', mutate: (c) => void (c.process.user.uid = 1234), failure: /process\.user\.uid/ },
  { name: 'additionalGids', mutate: (c) => void (c.process.user.additionalGids = [7]), failure: /additionalGids/ },
  { name: 'umask', mutate: (c) => void (c.process.user.umask = 0o077), failure: /umask/ },
  { name: 'rlimit', mutate: (c) => void (c.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 1000, hard: 1024 }]), failure: /RLIMIT_NOFILE/ },
  { name: 'noNewPrivileges', mutate: (c) => void (c.process.noNewPrivileges = false), failure: /noNewPrivileges/ },
  { name: 'oomScoreAdj', mutate: (c) => void (c.process.oomScoreAdj = 100), failure: /oomScoreAdj/ },
  { name: 'terminal', mutate: (c) => void (c.process.terminal = true), failure: /terminal/ },
  { name: 'capabilities', mutate: (c) => void c.process.capabilities?.bounding?.push('CAP_SYS_ADMIN'), failure: /capabilities bounding/ },
  { name: 'hostname', mutate: (c) => void (c.hostname = 'not-this-one'), failure: /^not ok \d+ - hostname/ },
  { name: 'root.readonly', mutate: (c) => void (c.root.readonly = false), failure: /root\.readonly/ },
  {
    name: 'namespace expected but shared with the host',
    mutate: (c) => void c.linux.namespaces.push({ type: 'cgroup' }),
    failure: /namespace cgroup is new|cgroup namespace: every cgroup/,
  },
  {
    name: 'namespace expected shared but new',
    mutate: (c) => void (c.linux.namespaces = c.linux.namespaces.filter((ns) => ns.type !== 'network')),
    failure: /namespace network is the host's/,
  },
  {
    name: 'user namespace mapping',
    setup: (b) => {
      b.config.linux.namespaces.push({ type: 'user' });
      b.config.linux.uidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
      b.config.linux.gidMappings = [{ containerID: 0, hostID: 100000, size: 65536 }];
    },
    mutate: (c) => void (c.linux.uidMappings = [{ containerID: 0, hostID: 100001, size: 65536 }]),
    failure: /uidMappings/,
  },
  { name: 'mount flags', mutate: (c) => void c.mounts.find((m) => m.destination === '/dev/shm')?.options?.push('ro'), failure: /mount \/dev\/shm flags/ },
  { name: 'mount type', mutate: (c) => void ((c.mounts.find((m) => m.destination === '/dev/mqueue') as { type: string }).type = 'tmpfs'), failure: /mount \/dev\/mqueue (type|source)/ },
  {
    name: 'missing mount',
    mutate: (c) => void c.mounts.push({ destination: '/mnt/nothing', type: 'tmpfs', source: 'tmpfs' }),
    failure: /mount \/mnt\/nothing is mounted/,
  },
  {
    name: 'mount propagation',
    setup: (b) => void b.addBindMount({ destination: '/mnt/slave', options: ['rbind', 'rslave'], shared: true }),
    mutate: (c) => void c.mounts.find((m) => m.destination === '/mnt/slave')?.options?.push('rshared'),
    failure: /mount \/mnt\/slave propagation/,
  },
  { name: 'masked path', mutate: (c) => void c.linux.maskedPaths?.push('/etc/passwd'), failure: /maskedPaths \/etc\/passwd/ },
  { name: 'read-only path', mutate: (c) => void c.linux.readonlyPaths?.push('/dev/shm'), failure: /readonlyPaths \/dev\/shm/ },
  {
    name: 'device',
    mutate: (c) => void (c.linux.devices = [{ path: '/dev/null', type: 'c', major: 1, minor: 4, fileMode: 0o666 }]),
    failure: /linux\.devices \/dev\/null/,
  },
  { name: 'sysctl', mutate: (c) => void (c.linux.sysctl = { 'net.ipv4.ip_forward': '1' }), failure: /linux\.sysctl/ },
  {
    name: 'rootfs marker',
    mutate: (_, h) => void ((h.files[0] as { content: string }).content = 'someone else'),
    failure: /marker \/\.husk-rootfs-marker/,
  },
];

describe('the validator catches deviations', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  /** The validator's failed checks, without their numbers (which shift between configs). */
  async function failedChecks(bundle: Bundle, id: string): Promise<{ failed: string[]; result: RuntimeResult }> {
    const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
    const tap = parseTap(result.stdout);
    expect(tap.planned, `the validator did not finish\n${describeResult(result)}`).toBeDefined();
    return { failed: tap.failures.map((line) => line.replace(/^not ok \d+ - /, '')), result };
  }

  test.for(DEVIATIONS)('$name', async (deviation) => {
    const id = env.newId();
    const bundle = env.bundle({ id });
    deviation.setup?.(bundle);
    bundle.write();
    const baseline = await failedChecks(bundle, id);
    const config = structuredClone(bundle.config);
    const host = structuredClone(bundle.host);
    deviation.mutate(config, host);
    bundle.writeValidatorView(config, host);
    const deviated = await failedChecks(bundle, env.newId());
    const added = deviated.failed.filter((line) => !baseline.failed.includes(line));
    expect(added.length, `no check noticed\n${describeResult(deviated.result)}`).toBeGreaterThan(0);
    const unrelated = added.filter((line) => !deviation.failure.test(`not ok 0 - ${line}`));
    expect(unrelated, `failures beyond the deviation\n${describeResult(deviated.result)}`).toEqual([]);
    expect(deviated.result.code).toBe(1);
  });
});
