// Runs the validator as an *exec'd* process: each generated config gets a long-running init
// (busybox sleep), then `exec` runs `husk-validate --exec PROCESS_JSON` twice, once from a
// `--process` file whose args/env/cwd/user/capabilities/noNewPrivileges/rlimits differ from the
// init's, once with the inline flags (--user --additional-gids --cwd --env --cap --no-new-privs)
// applied to the init's process. The process-level checks use the exec'd process; the
// container-level ones (namespaces, hostname, mounts, cgroup limits) config.json; the "exec"
// checks compare its namespaces and cgroup with the init's.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { processNamespaces, type Bundle, type HostFacts } from '../helpers/bundle.js';
import { useRuntimeEnv, type RuntimeEnv } from '../helpers/env.js';
import { CONTAINER_MARKER_ENV } from '../helpers/leaks.js';
import { isRunc } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';
import { VALIDATE_BIN, VALIDATE_DIR, type Spec } from '../helpers/spec.js';
import { parseTap } from '../helpers/tap.js';
import { CGROUP_RESOURCES, featureNamed, finalize, hostBoundingSet, hostHardLimit, type Feature } from './generator.js';

type Process = Spec['process'];

interface ExecCase {
  name: string;
  features: Feature[];
}

const f = featureNamed;

const CASES: ExecCase[] = [
  { name: 'default config', features: [] },
  { name: 'user namespace: two uid ranges, distinct gid map', features: [f('user namespace: two ranges, distinct gid map')] },
  { name: 'user namespace: non-root init', features: [f('user namespace: non-root process')] },
  { name: 'cgroup resources', features: [CGROUP_RESOURCES] },
  { name: 'cgroup resources in a cgroup namespace', features: [f('namespaces: all but user and time (adds cgroup)'), CGROUP_RESOURCES] },
  { name: 'non-root init with additionalGids and umask', features: [f('process: non-root user with additionalGids and umask')] },
  { name: 'restricted capabilities (bounding only CAP_KILL)', features: [f('capabilities: bounding only CAP_KILL, nothing else')] },
  { name: 'noNewPrivileges false', features: [f('process: noNewPrivileges false')] },
  { name: 'no pid and no network namespace', features: [f('namespaces: no pid, no network')] },
  { name: 'network namespace joined by path', features: [f('namespaces: join network by path')] },
  { name: 'time namespace', features: [f('time namespace: offsets')] },
  { name: "init's env, cwd and rlimits", features: [f('process: env and cwd'), f('process: rlimits')] },
];

const PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Capabilities of the --process exec, unlike any init's here; trimmed to what the harness has. */
function execCapabilities(): NonNullable<Process['capabilities']> {
  const have = new Set(hostBoundingSet());
  const only = (names: string[]) => names.filter((n) => have.has(n));
  return {
    bounding: only(['CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_KILL', 'CAP_SETGID', 'CAP_SETUID', 'CAP_NET_RAW', 'CAP_SYS_CHROOT']),
    effective: only(['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_NET_RAW']),
    permitted: only(['CAP_CHOWN', 'CAP_KILL', 'CAP_SETUID', 'CAP_NET_RAW']),
    inheritable: only(['CAP_KILL', 'CAP_NET_RAW']),
    ambient: only(['CAP_NET_RAW']),
  };
}

/** A cwd that exists in the rootfs and is not the init's. */
function otherCwd(init: Process): string {
  return init.cwd.replace(/\/+$/, '') === '/tmp' ? '/var/tmp' : '/tmp';
}

/** The validator's argv for an exec checked against the view at this path inside the container. */
function validatorArgs(view: string): string[] {
  return [VALIDATE_BIN, '--exec', view];
}

/** The --process exec: everything process-level differs from the init's. */
function processFile(init: Process, id: string, view: string): Process {
  const limit = (type: string, procName: string, soft: number, hard: number) => {
    const cap = hostHardLimit(procName);
    return { type, soft: Math.min(soft, hard, cap), hard: Math.min(hard, cap) };
  };
  return {
    terminal: false,
    user: init.user.uid === 0 ? { uid: 1001, gid: 1002, additionalGids: [1003, 20] } : { uid: 0, gid: 0, additionalGids: [4] },
    args: validatorArgs(view),
    env: [PATH_ENV, `${CONTAINER_MARKER_ENV}=${id}`, 'HUSK_EXEC=process', 'HUSK_EXEC_SPACES=a b = c'],
    cwd: otherCwd(init),
    capabilities: execCapabilities(),
    rlimits: [limit('RLIMIT_NOFILE', 'Max open files', 256, 512), limit('RLIMIT_CORE', 'Max core file size', 0, 4096)],
    noNewPrivileges: !(init.noNewPrivileges ?? false),
  };
}

/** The inline exec's flags, and the process they make of the init's (as runc 1.1.5 does): the
 * user and cwd replaced, env and additional gids appended. */
function inlineExec(init: Process, view: string): { flags: string[]; expected: Process } {
  // Root when the init is not, else 1000: either way not the init's user.
  const uid = init.user.uid === 0 ? 1000 : 0;
  const cwd = otherCwd(init);
  const cap = 'CAP_CHOWN';
  const expected = structuredClone(init);
  expected.args = validatorArgs(view);
  expected.env = [...(init.env ?? []), 'HUSK_EXEC=inline'];
  expected.cwd = cwd;
  expected.user = { ...init.user, uid, gid: uid, additionalGids: [...(init.user.additionalGids ?? []), 30] };
  expected.terminal = false;
  expected.noNewPrivileges = true;
  // --cap adds to bounding, effective and permitted (runc 1.1.5 leaves inheritable alone, so no
  // ambient capability could be raised either).
  const caps = (expected.capabilities ??= {});
  for (const set of ['bounding', 'effective', 'permitted'] as const) caps[set] = [...(caps[set] ?? []), cap];
  const flags = ['--user', `${uid}:${uid}`, '--additional-gids', '30', '--cwd', cwd, '--env', 'HUSK_EXEC=inline', '--cap', cap, '--no-new-privs'];
  return { flags, expected };
}

/**
 * What the validator is told of an exec'd process: the process itself, less what runc 1.1.5 (the
 * reference) is known to get wrong for exec, when runc is under test.
 */
function expectedOf(given: Process): Process {
  const view = structuredClone(given);
  if (!isRunc()) return view;
  // runc 1.1.5 applies process.user.umask to the init only (it is container-level in
  // libcontainer); an exec'd process keeps runc's own umask (0022 here).
  delete view.user.umask;
  // runc sets an exec'd process's rlimits with prlimit(2) while its Go runtime (>= 1.19) raises
  // the RLIMIT_NOFILE soft limit to the hard one, so the soft limit is racy (runc#4195, fixed by
  // runc#4266). Equal soft and hard limits are not affected.
  view.rlimits = view.rlimits?.filter((r) => r.type !== 'RLIMIT_NOFILE' || r.soft === r.hard);
  return view;
}

/** Writes a process JSON into the validator's directory (VALIDATE_DIR/name inside). */
function writeView(bundle: Bundle, name: string, process: Process): void {
  writeFileSync(join(bundle.validateDir, name), `${JSON.stringify(process, null, 2)}\n`);
}

function dropReason(feature: Feature): string | undefined {
  return feature.unavailable?.() ?? (isRunc() ? feature.runcSkip : undefined);
}

/**
 * Creates and starts a container whose init sleeps, then tells the validator what the host sees
 * of the init (its namespaces, its pid).
 */
async function startSleeper(env: RuntimeEnv, features: Feature[]): Promise<{ id: string; bundle: Bundle }> {
  const id = env.newId();
  const bundle = env.bundle({ id });
  for (const feature of features) feature.apply(bundle);
  bundle.config.process.args = ['/bin/sleep', '1000'];
  finalize(bundle);
  bundle.write();
  const created = await env.runtime(['create', '--bundle', bundle.dir, id]);
  expect(created.code, describeResult(created)).toBe(0);
  const { pid } = await env.state(id);
  const started = await env.runtime(['start', id]);
  expect(started.code, describeResult(started)).toBe(0);
  bundle.host.initNamespaces = processNamespaces(pid);
  bundle.host.initPid = pid;
  bundle.writeValidatorView(bundle.config, bundle.host);
  return { id, bundle };
}

describe('exec conformance', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  function expectAllPassed(result: RuntimeResult, bundle: Bundle): void {
    const tap = parseTap(result.stdout);
    const failed = tap.failures.length > 0 ? `validator failures:\n${tap.failures.join('\n')}\n\n` : '';
    expect(result.code, `${failed}${describeResult(result)}`).toBe(0);
    expect(tap.planned, `the validator printed its plan\n${describeResult(result)}`).toBe(tap.passed);
    // The exec checks ran: one per namespace of the init, and the cgroup.
    for (const name of Object.keys(bundle.host.initNamespaces ?? {})) {
      expect(result.stdout, `exec namespace ${name} checked`).toMatch(new RegExp(`^ok \\d+ - exec: namespace ${name} is the init's$`, 'm'));
    }
    expect(result.stdout).toMatch(/^ok \d+ - exec: \/proc\/self\/cgroup is the init's/m);
    expect(result.stdout).toMatch(/^ok \d+ - exec: not the container's init/m);
    if (bundle.config.linux.resources?.memory) expect(result.stdout).toMatch(/^ok \d+ - linux\.resources\.memory\.limit/m);
  }

  test.for(CASES)('$name', async (c, { skip }) => {
    const reasons = c.features.map(dropReason).filter(Boolean);
    if (reasons.length > 0) return skip(reasons.join('; '));
    const { id, bundle } = await startSleeper(env, c.features);
    const init = bundle.config.process;

    // --process: the runtime reads its own copy; the validator the same content in its dir.
    const processView = 'exec-process.json';
    const given = processFile(init, id, `${VALIDATE_DIR}/${processView}`);
    writeView(bundle, processView, expectedOf(given));
    const processPath = join(bundle.dir, 'exec-process.json');
    writeFileSync(processPath, JSON.stringify(given));
    expectAllPassed(await env.runtime(['exec', '--process', processPath, id]), bundle);

    // Inline flags on the init's process.
    const inline = inlineExec(init, `${VALIDATE_DIR}/exec-inline.json`);
    writeView(bundle, 'exec-inline.json', expectedOf(inline.expected));
    expectAllPassed(await env.runtime(['exec', ...inline.flags, id, ...inline.expected.args]), bundle);
  });

  // runc keeps the process's gid (config.json's) for `exec --user UID`, overriding it only when
  // a gid is given.
  test("inline --user UID without a gid keeps the init's gid", async () => {
    const { id, bundle } = await startSleeper(env, [f('process: non-root user with additionalGids and umask')]);
    const view = `${VALIDATE_DIR}/exec-uid-only.json`;
    const expected = structuredClone(bundle.config.process);
    expected.args = validatorArgs(view);
    expected.user.uid = 0;
    writeView(bundle, 'exec-uid-only.json', expectedOf(expected));
    expectAllPassed(await env.runtime(['exec', '--user', '0', id, ...expected.args]), bundle);
  });
});

/**
 * The exec validator's self-test: the runtime execs one process, the validator is told of
 * another (or of other host facts), and exactly the differing checks must fail.
 */
interface ExecDeviation {
  name: string;
  features?: Feature[];
  mutate: (view: { process: Process; config: Spec; host: HostFacts; init: Process }) => void;
  failure: RegExp;
}

const EXEC_DEVIATIONS: ExecDeviation[] = [
  {
    name: "the init's process instead of the exec'd one",
    mutate: (v) => void (v.process = { ...structuredClone(v.init), args: v.process.args }),
    failure: /^not ok \d+ - process\./,
  },
  { name: 'uid', mutate: (v) => void (v.process.user.uid = 1234), failure: /process\.user\.uid/ },
  { name: 'additionalGids', mutate: (v) => void (v.process.user.additionalGids = [7]), failure: /additionalGids/ },
  { name: 'cwd', mutate: (v) => void (v.process.cwd = '/'), failure: /process\.cwd/ },
  { name: 'env', mutate: (v) => void v.process.env?.push('HUSK_MISSING=1'), failure: /process\.env HUSK_MISSING/ },
  { name: 'capabilities', mutate: (v) => void v.process.capabilities?.bounding?.push('CAP_SYS_ADMIN'), failure: /capabilities bounding/ },
  { name: 'noNewPrivileges', mutate: (v) => void (v.process.noNewPrivileges = !v.process.noNewPrivileges), failure: /noNewPrivileges/ },
  { name: 'rlimit', mutate: (v) => void (v.process.rlimits = [{ type: 'RLIMIT_NOFILE', soft: 100, hard: 200 }]), failure: /RLIMIT_NOFILE/ },
  {
    name: "the init's namespace (as the host saw it)",
    mutate: (v) => void ((v.host.initNamespaces as Record<string, number>).net = 1),
    failure: /exec: namespace net is the init's/,
  },
  {
    name: "the init's cgroup (another process as the init)",
    features: [f('namespaces: no pid, no network')],
    mutate: (v) => void (v.host.initPid = process.pid),
    failure: /exec: \/proc\/self\/cgroup is the init's/,
  },
  {
    name: 'cgroup limit (config.json)',
    features: [CGROUP_RESOURCES],
    mutate: (v) => void ((v.config.linux.resources?.memory as { limit: number }).limit *= 2),
    failure: /linux\.resources\.memory\.limit/,
  },
  { name: 'hostname (config.json)', mutate: (v) => void (v.config.hostname = 'not-this-one'), failure: /^not ok \d+ - hostname/ },
];

describe('the exec validator catches deviations', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  test.for(EXEC_DEVIATIONS)('$name', async (deviation) => {
    const { id, bundle } = await startSleeper(env, deviation.features ?? []);
    const init = bundle.config.process;
    const given = processFile(init, id, `${VALIDATE_DIR}/exec-view.json`);
    const processPath = join(bundle.dir, 'exec-process.json');
    writeFileSync(processPath, JSON.stringify(given));
    const failedChecks = async () => {
      const result = await env.runtime(['exec', '--process', processPath, id]);
      const tap = parseTap(result.stdout);
      expect(tap.planned, `the validator did not finish\n${describeResult(result)}`).toBeDefined();
      return { failed: tap.failures.map((line) => line.replace(/^not ok \d+ - /, '')), result };
    };

    writeView(bundle, 'exec-view.json', expectedOf(given));
    const baseline = await failedChecks();
    const view = { process: expectedOf(given), config: structuredClone(bundle.config), host: structuredClone(bundle.host), init };
    deviation.mutate(view);
    writeView(bundle, 'exec-view.json', view.process);
    bundle.writeValidatorView(view.config, view.host);
    const deviated = await failedChecks();
    const added = deviated.failed.filter((line) => !baseline.failed.includes(line));
    expect(added.length, `no check noticed\n${describeResult(deviated.result)}`).toBeGreaterThan(0);
    const unrelated = added.filter((line) => !deviation.failure.test(`not ok 0 - ${line}`));
    expect(unrelated, `failures beyond the deviation\n${describeResult(deviated.result)}`).toEqual([]);
    expect(deviated.result.code).toBe(1);
  });
});
