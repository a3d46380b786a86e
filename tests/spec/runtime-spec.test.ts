import { afterAll, describe, expect, it } from 'vitest';
import { ErrorCode, HuskError } from '../../ts/src/errors.js';
import {
  RuntimeSpecSchema,
  SpecError,
  checkDocument,
  parseRuntimeSpec,
  type RuntimeSpec,
} from '../../ts/src/spec/index.js';
import { removeTempDirs, runcSpecText } from './helpers.js';

afterAll(removeTempDirs);

/** A config.json that sets every field husk models, with realistic values. */
function everyFieldSpec(): Record<string, unknown> {
  return {
    ociVersion: '1.2.0',
    process: {
      terminal: true,
      consoleSize: { height: 25, width: 80 },
      user: { uid: 1000, gid: 1000, umask: 0o022, additionalGids: [5, 6], username: 'app' },
      args: ['/bin/sh', '-c', 'echo hi'],
      commandLine: 'cmd /c echo hi',
      env: ['PATH=/usr/bin:/bin', 'TERM=xterm'],
      cwd: '/srv',
      capabilities: {
        bounding: ['CAP_CHOWN', 'CAP_NET_BIND_SERVICE'],
        effective: ['CAP_CHOWN'],
        inheritable: [],
        permitted: ['CAP_CHOWN'],
        ambient: ['CAP_CHECKPOINT_RESTORE'],
      },
      rlimits: [
        { type: 'RLIMIT_NOFILE', soft: 1024, hard: 4096 },
        // RLIM_INFINITY: JSON.parse rounds it to 2^64, which must still count as a uint64
        JSON.parse('{"type": "RLIMIT_CORE", "soft": 18446744073709551615, "hard": 18446744073709551615}'),
      ],
      noNewPrivileges: true,
      apparmorProfile: 'husk-default',
      oomScoreAdj: -500,
      selinuxLabel: 'system_u:system_r:container_t:s0',
      ioPriority: { class: 'IOPRIO_CLASS_BE', priority: 4 },
      scheduler: { policy: 'SCHED_DEADLINE', nice: 0, priority: 0, flags: ['SCHED_FLAG_RESET_ON_FORK'], runtime: 10_000_000, deadline: 20_000_000, period: 20_000_000 },
      execCPUAffinity: { initial: '0', final: '0-3, 7' },
    },
    root: { path: '/var/lib/husk/rootfs', readonly: false },
    hostname: 'box',
    domainname: 'example.test',
    mounts: [
      { destination: '/proc', type: 'proc', source: 'proc' },
      {
        destination: '/data',
        type: 'bind',
        source: '/srv/data',
        options: ['rbind', 'ro'],
        uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
        gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      },
      { destination: '/tmp' },
    ],
    hooks: {
      prestart: [{ path: '/usr/bin/hook', args: ['hook', 'prestart'], env: ['A=1'], timeout: 5 }],
      createRuntime: [{ path: '/usr/bin/hook' }],
      createContainer: [{ path: '/usr/bin/hook' }],
      startContainer: [{ path: '/usr/bin/hook' }],
      poststart: [{ path: '/usr/bin/hook' }],
      poststop: [{ path: '/usr/bin/hook', timeout: 1 }],
    },
    annotations: { 'org.example.key': 'value' },
    linux: {
      namespaces: [
        { type: 'pid' },
        { type: 'network', path: '/var/run/netns/box' },
        { type: 'mount' },
        { type: 'ipc' },
        { type: 'uts' },
        { type: 'user' },
        { type: 'cgroup' },
        { type: 'time' },
      ],
      uidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      gidMappings: [{ containerID: 0, hostID: 100000, size: 65536 }],
      timeOffsets: { monotonic: { secs: 3600, nanosecs: 0 }, boottime: { secs: -60 } },
      devices: [{ path: '/dev/fuse', type: 'c', major: 10, minor: 229, fileMode: 0o666, uid: 0, gid: 0 }],
      netDevices: { eth1: { name: 'net0' } },
      cgroupsPath: '/husk/box',
      resources: {
        devices: [
          { allow: false, access: 'rwm' },
          { allow: true, type: 'c', major: 10, minor: 229, access: 'rw' },
        ],
        memory: {
          limit: 536870912,
          reservation: 268435456,
          swap: -1,
          kernel: -1,
          kernelTCP: -1,
          swappiness: 0,
          disableOOMKiller: false,
          useHierarchy: true,
          checkBeforeUpdate: true,
        },
        cpu: { shares: 1024, quota: 50000, burst: 10000, period: 100000, realtimeRuntime: 0, realtimePeriod: 0, cpus: '0-1', mems: '0', idle: 0 },
        pids: { limit: 512 },
        blockIO: {
          weight: 500,
          leafWeight: 300,
          weightDevice: [{ major: 8, minor: 0, weight: 500, leafWeight: 300 }],
          throttleReadBpsDevice: [{ major: 8, minor: 0, rate: 104857600 }],
          throttleWriteBpsDevice: [{ major: 8, minor: 0, rate: 104857600 }],
          throttleReadIOPSDevice: [{ major: 8, minor: 0, rate: 1000 }],
          throttleWriteIOPSDevice: [{ major: 8, minor: 0, rate: 1000 }],
        },
        hugepageLimits: [{ pageSize: '2MB', limit: 209715200 }],
        network: { classID: 1048577, priorities: [{ name: 'eth0', priority: 500 }] },
        rdma: { mlx5_1: { hcaHandles: 3, hcaObjects: 10000 } },
        unified: { 'memory.high': '400M', 'io.weight': 'default 100' },
      },
      intelRdt: { closID: 'husk', l3CacheSchema: 'L3:0=ffff', memBwSchema: 'MB:0=70', enableCMT: true, enableMBM: true },
      sysctl: { 'net.ipv4.ip_forward': '1' },
      seccomp: {
        defaultAction: 'SCMP_ACT_ERRNO',
        defaultErrnoRet: 1,
        architectures: ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'],
        flags: ['SECCOMP_FILTER_FLAG_LOG', 'SECCOMP_FILTER_FLAG_SPEC_ALLOW'],
        listenerPath: '/run/seccomp-agent.sock',
        listenerMetadata: 'box',
        syscalls: [
          { names: ['read', 'write', 'exit_group'], action: 'SCMP_ACT_ALLOW' },
          { names: ['mkdir'], action: 'SCMP_ACT_NOTIFY' },
          { names: ['personality'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 0, op: 'SCMP_CMP_EQ' }] },
          { names: ['clone'], action: 'SCMP_ACT_ERRNO', errnoRet: 38, args: [{ index: 0, value: 2114060288, valueTwo: 0, op: 'SCMP_CMP_MASKED_EQ' }] },
        ],
      },
      rootfsPropagation: 'rslave',
      maskedPaths: ['/proc/kcore'],
      readonlyPaths: ['/proc/sys'],
      mountLabel: 'system_u:object_r:container_file_t:s0',
      personality: { domain: 'LINUX', flags: [] },
    },
  };
}

/** The problems parseRuntimeSpec reports, as "path: message" lines. */
function problemsOf(document: unknown): string[] {
  const result = checkDocument(RuntimeSpecSchema, document);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

describe('RuntimeSpecSchema', () => {
  it('accepts what `runc spec` writes', () => {
    const spec = parseRuntimeSpec(JSON.parse(runcSpecText()));
    expect(spec.process?.args).toEqual(['sh']);
  });

  it('accepts what `runc spec --rootless` writes', () => {
    const spec = parseRuntimeSpec(JSON.parse(runcSpecText(['--rootless'])));
    expect(spec.linux?.namespaces?.map((n) => n.type)).toContain('user');
  });

  it('accepts a document that sets every modelled field', () => {
    const input = everyFieldSpec();
    expect(problemsOf(input)).toEqual([]);
    expect(parseRuntimeSpec(input)).toEqual(input);
  });

  it('accepts the minimal document (only ociVersion is required)', () => {
    expect(parseRuntimeSpec({ ociVersion: '1.0.0' })).toEqual({ ociVersion: '1.0.0' });
  });

  it('keeps fields it does not know (the spec allows extensions)', () => {
    const input: Record<string, unknown> = {
      ...everyFieldSpec(),
      windows: { layerFolders: ['C:\\layers'] },
      vendorExtension: { anything: [1, 2] },
    };
    (input.process as Record<string, unknown>).futureField = true;
    const spec: RuntimeSpec = parseRuntimeSpec(input);
    expect(spec.vendorExtension).toEqual({ anything: [1, 2] });
    expect(spec.windows).toEqual({ layerFolders: ['C:\\layers'] });
    expect(spec.process?.futureField).toBe(true);
  });

  it('names the JSON path and the problem for each error', () => {
    const bad = everyFieldSpec() as any;
    bad.process.args = 'sh';
    bad.linux.namespaces[2].type = 'foo';
    delete bad.root.path;
    bad.process.rlimits[0].type = 'NOFILE';
    bad.linux.resources.memory.limit = 1.5;
    bad.annotations = { 'org.example.key': 5 };
    bad.linux.seccomp.syscalls[1].names = [];
    bad.linux.seccomp.architectures[0] = 'SCMP_ARCH_Z80';
    bad.process.user.uid = -1;
    expect(problemsOf(bad).sort()).toEqual(
      [
        'process.args: expected array, got string "sh"',
        'linux.namespaces[2].type: invalid value "foo" (expected one of: "pid", "network", "mount", "ipc", "uts", "user", "cgroup", "time")',
        'root.path: required, expected string',
        'process.rlimits[0].type: invalid value "NOFILE" (must match /^RLIMIT_[A-Z]+$/)',
        'linux.resources.memory.limit: expected int64 (a 64-bit signed integer), got 1.5',
        'annotations["org.example.key"]: expected string, got number 5',
        'linux.seccomp.syscalls[1].names: expected number of items >= 1',
        'linux.seccomp.architectures[0]: invalid value "SCMP_ARCH_Z80" (expected one of: ' +
          '"SCMP_ARCH_X86", "SCMP_ARCH_X86_64", "SCMP_ARCH_X32", "SCMP_ARCH_ARM", "SCMP_ARCH_AARCH64", ' +
          '"SCMP_ARCH_MIPS", "SCMP_ARCH_MIPS64", "SCMP_ARCH_MIPS64N32", "SCMP_ARCH_MIPSEL", "SCMP_ARCH_MIPSEL64", ' +
          '"SCMP_ARCH_MIPSEL64N32", "SCMP_ARCH_PPC", "SCMP_ARCH_PPC64", "SCMP_ARCH_PPC64LE", "SCMP_ARCH_S390", ' +
          '"SCMP_ARCH_S390X", "SCMP_ARCH_PARISC", "SCMP_ARCH_PARISC64", "SCMP_ARCH_RISCV64", "SCMP_ARCH_LOONGARCH64")',
        'process.user.uid: expected uint32 (0 to 4294967295), got -1',
      ].sort(),
    );
  });

  it('throws a HuskError with code EINVAL_SPEC whose message lists every path', () => {
    const bad = everyFieldSpec() as any;
    bad.process.args = 'sh';
    bad.linux.namespaces[2].type = 'foo';
    let thrown: unknown;
    try {
      parseRuntimeSpec(bad);
    } catch (error) {
      thrown = error;
    }
    expect(thrown).toBeInstanceOf(SpecError);
    expect(thrown).toBeInstanceOf(HuskError);
    const error = thrown as SpecError;
    expect(error.code).toBe(ErrorCode.InvalidSpec);
    expect(error.code).toBe('EINVAL_SPEC');
    expect(error.message).toMatch(/^invalid runtime spec: /);
    expect(error.message).toContain('process.args: expected array');
    expect(error.message).toContain('linux.namespaces[2].type: invalid value "foo"');
    expect(error.problems.map((p) => p.path)).toEqual(['process.args', 'linux.namespaces[2].type']);
  });

  it('rejects documents that are not objects, or lack ociVersion', () => {
    expect(problemsOf('config')).toEqual(['(root): expected object, got string "config"']);
    expect(problemsOf(null)).toEqual(['(root): expected object, got null']);
    expect(problemsOf({})).toEqual(['ociVersion: required, expected string']);
  });

  it('checks required members of nested objects', () => {
    expect(problemsOf({ ociVersion: '1.2.0', process: { args: ['sh'] } })).toEqual(['process.cwd: required, expected string']);
    expect(problemsOf({ ociVersion: '1.2.0', mounts: [{ source: '/x' }] })).toEqual([
      'mounts[0].destination: required, expected string',
    ]);
    expect(
      problemsOf({ ociVersion: '1.2.0', linux: { seccomp: { defaultAction: 'SCMP_ACT_ALLOW', syscalls: [{ names: ['read'], action: 'SCMP_ACT_ALLOW', args: [{ index: 0, value: 1 }] }] } } }),
    ).toEqual([
      'linux.seccomp.syscalls[0].args[0].op: required, expected one of: "SCMP_CMP_NE", "SCMP_CMP_LT", "SCMP_CMP_LE", "SCMP_CMP_EQ", "SCMP_CMP_GE", "SCMP_CMP_GT", "SCMP_CMP_MASKED_EQ"',
    ]);
    expect(problemsOf({ ociVersion: '1.2.0', hooks: { poststop: [{ path: '/x', timeout: 0 }] } })).toEqual([
      'hooks.poststop[0].timeout: expected a timeout > 0 seconds',
    ]);
    expect(problemsOf({ ociVersion: '1.2.0', linux: { devices: [{ path: '/dev/x', type: 'x' }] } })).toEqual([
      'linux.devices[0].type: invalid value "x" (must match /^[cbup]$/)',
    ]);
  });
});
