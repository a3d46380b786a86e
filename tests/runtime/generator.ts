// The conformance config generator: features (one aspect of a config each, applied to a bundle),
// the targeted cases (every feature alone on the default config) and seeded random mixes of
// compatible features. A feature is skipped only where this machine cannot have it, or for runc
// where runc itself is wrong or lacks it, each with the reason.
import { readFileSync } from 'node:fs';
import type { Bundle } from '../helpers/bundle.js';
import type { NamespaceType } from '../helpers/spec.js';

export interface Feature {
  name: string;
  /** Features sharing a group edit the same thing; a mix takes at most one per group. */
  group: string;
  /** Groups this feature cannot be mixed with. */
  conflicts?: string[];
  /** Why runc (the reference) gets this wrong or does not support it; skipped only for runc. */
  runcSkip?: string;
  /** Why this machine cannot have it (for any runtime), or undefined when it can. */
  unavailable?: () => string | undefined;
  apply(bundle: Bundle): void;
}

export interface ConformanceCase {
  name: string;
  features: Feature[];
}

const ALL_CAPABILITIES = [
  'CAP_CHOWN', 'CAP_DAC_OVERRIDE', 'CAP_DAC_READ_SEARCH', 'CAP_FOWNER', 'CAP_FSETID', 'CAP_KILL', 'CAP_SETGID',
  'CAP_SETUID', 'CAP_SETPCAP', 'CAP_LINUX_IMMUTABLE', 'CAP_NET_BIND_SERVICE', 'CAP_NET_BROADCAST', 'CAP_NET_ADMIN',
  'CAP_NET_RAW', 'CAP_IPC_LOCK', 'CAP_IPC_OWNER', 'CAP_SYS_MODULE', 'CAP_SYS_RAWIO', 'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE', 'CAP_SYS_PACCT', 'CAP_SYS_ADMIN', 'CAP_SYS_BOOT', 'CAP_SYS_NICE', 'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME', 'CAP_SYS_TTY_CONFIG', 'CAP_MKNOD', 'CAP_LEASE', 'CAP_AUDIT_WRITE', 'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP', 'CAP_MAC_OVERRIDE', 'CAP_MAC_ADMIN', 'CAP_SYSLOG', 'CAP_WAKE_ALARM', 'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ', 'CAP_PERFMON', 'CAP_BPF', 'CAP_CHECKPOINT_RESTORE',
];

/** The harness's own limits, which the runtime inherits and (without CAP_SYS_RESOURCE) cannot raise. */
export function hostHardLimit(name: string): number {
  const line = readFileSync('/proc/self/limits', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(name));
  const hard = line?.slice(26).trim().split(/\s+/)[1];
  return !hard || hard === 'unlimited' ? Number.MAX_SAFE_INTEGER : Number(hard);
}

/** Capability names in the harness's bounding set: a runtime cannot grant more. */
export function hostBoundingSet(): string[] {
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_, bit) => (mask >> BigInt(bit)) & 1n);
}

function lacksSysResource(): string | undefined {
  return hostBoundingSet().includes('CAP_SYS_RESOURCE') ? undefined : 'the harness lacks CAP_SYS_RESOURCE, needed to lower oom_score_adj';
}

function setNamespaces(bundle: Bundle, types: NamespaceType[]): void {
  bundle.config.linux.namespaces = types.map((type) => ({ type }));
}

function addNamespace(bundle: Bundle, type: NamespaceType): void {
  if (!bundle.hasNamespace(type)) bundle.config.linux.namespaces.push({ type });
}

function replaceMountOptions(bundle: Bundle, destination: string, options: string[]): void {
  const mount = bundle.config.mounts.find((m) => m.destination === destination);
  if (!mount) throw new Error(`no default mount at ${destination}`);
  mount.options = options;
}

function useUserNamespace(bundle: Bundle, uid: { containerID: number; hostID: number; size: number }[], gid = uid): void {
  addNamespace(bundle, 'user');
  bundle.config.linux.uidMappings = uid;
  bundle.config.linux.gidMappings = gid;
}

export const FEATURES: Feature[] = [
  // namespaces
  { name: 'namespaces: mount only', group: 'namespaces', apply: (b) => setNamespaces(b, ['mount']) },
  { name: 'namespaces: all but user and time (adds cgroup)', group: 'namespaces', apply: (b) => setNamespaces(b, ['pid', 'network', 'ipc', 'uts', 'mount', 'cgroup']) },
  { name: 'namespaces: no pid, no network', group: 'namespaces', apply: (b) => setNamespaces(b, ['ipc', 'uts', 'mount']) },
  { name: 'namespaces: cgroup', group: 'cgroupns', apply: (b) => addNamespace(b, 'cgroup') },
  { name: 'namespaces: join network by path', group: 'joinns', conflicts: ['userns'], apply: (b) => void b.joinNamespace('network') },
  {
    name: 'namespaces: join uts and ipc by path',
    group: 'joinns',
    conflicts: ['userns'],
    apply: (b) => {
      b.joinNamespace('uts');
      b.joinNamespace('ipc');
    },
  },
  { name: 'user namespace: one mapping', group: 'userns', apply: (b) => useUserNamespace(b, [{ containerID: 0, hostID: 100000, size: 65536 }]) },
  {
    name: 'user namespace: two ranges, distinct gid map',
    group: 'userns',
    apply: (b) =>
      useUserNamespace(
        b,
        [
          { containerID: 0, hostID: 200000, size: 1000 },
          { containerID: 1000, hostID: 300000, size: 64536 },
        ],
        [{ containerID: 0, hostID: 400000, size: 65536 }],
      ),
  },
  {
    name: 'user namespace: non-root process',
    group: 'userns',
    conflicts: ['user'],
    apply: (b) => {
      useUserNamespace(b, [{ containerID: 0, hostID: 100000, size: 65536 }]);
      b.config.process.user = { uid: 1000, gid: 1000, additionalGids: [100] };
    },
  },
  {
    name: 'time namespace: offsets',
    group: 'timens',
    runcSkip: 'runc 1.1.5 has no time namespace support (added in runc 1.2)',
    apply: (b) => {
      addNamespace(b, 'time');
      b.config.linux.timeOffsets = { monotonic: { secs: 86400, nanosecs: 0 }, boottime: { secs: 3600, nanosecs: 500 } };
    },
  },

  // root
  { name: 'root: writable', group: 'rootrw', apply: (b) => void (b.config.root.readonly = false) },
  {
    name: 'rootfsPropagation: shared',
    group: 'rootprop',
    runcSkip: 'runc < 1.2.7 re-slaves / after pivot_root, so shared never sticks (runc#1755, fixed by runc#4724)',
    apply: (b) => void (b.config.linux.rootfsPropagation = 'shared'),
  },
  {
    name: 'rootfsPropagation: slave (rootfs shared on the host)',
    group: 'rootprop',
    runcSkip: 'runc makes a shared rootfs parent private before pivot_root, losing the slave link (runc#5192, fixed in 1.5)',
    apply: (b) => {
      b.shareRootfs();
      b.config.linux.rootfsPropagation = 'slave';
    },
  },
  { name: 'rootfsPropagation: private', group: 'rootprop', apply: (b) => void (b.config.linux.rootfsPropagation = 'private') },
  {
    name: 'rootfsPropagation: unbindable',
    group: 'rootprop',
    runcSkip: 'runc < 1.2.7 makes / unbindable before bind-mounting the rootfs, which then fails with EINVAL (runc#1755, fixed by runc#4724)',
    apply: (b) => void (b.config.linux.rootfsPropagation = 'unbindable'),
  },

  // process
  { name: 'process: hostname', group: 'uts', apply: (b) => void (b.config.hostname = 'husk-node-7') },
  {
    name: 'process: hostname and domainname',
    group: 'uts',
    runcSkip: 'runc < 1.2 ignores domainname (support added by runc#3600)',
    apply: (b) => {
      b.config.hostname = 'husk-node-8';
      b.config.domainname = 'conformance.test';
    },
  },
  {
    name: 'process: env and cwd',
    group: 'env',
    apply: (b) => {
      b.config.process.env?.push('HUSK_PLAIN=1', 'HUSK_SPACES=with spaces = and equals', 'HUSK_EMPTY=');
      b.mkdir('/work/dir');
      b.config.process.cwd = '/work/dir';
    },
  },
  {
    name: 'process: non-root user with additionalGids and umask',
    group: 'user',
    apply: (b) => void (b.config.process.user = { uid: 1000, gid: 1000, additionalGids: [10, 2000, 1000], umask: 0o027 }),
  },
  { name: 'process: root with additionalGids', group: 'user', apply: (b) => void (b.config.process.user = { uid: 0, gid: 0, additionalGids: [5, 10] }) },
  { name: 'process: umask 077', group: 'umask', conflicts: ['user'], apply: (b) => void (b.config.process.user.umask = 0o077) },
  {
    name: 'process: rlimits',
    group: 'rlimits',
    apply: (b) => {
      const limit = (type: string, procName: string, soft: number, hard: number) => {
        const cap = hostHardLimit(procName);
        return { type, soft: Math.min(soft, hard, cap), hard: Math.min(hard, cap) };
      };
      b.config.process.rlimits = [
        limit('RLIMIT_NOFILE', 'Max open files', 512, 2048),
        limit('RLIMIT_CORE', 'Max core file size', 0, 1048576),
        limit('RLIMIT_MEMLOCK', 'Max locked memory', 65536, 131072),
        limit('RLIMIT_MSGQUEUE', 'Max msgqueue size', 409600, 819200),
        limit('RLIMIT_NICE', 'Max nice priority', 0, 10),
        limit('RLIMIT_STACK', 'Max stack size', 4194304, 8388608),
      ];
    },
  },
  {
    name: 'capabilities: every capability (the harness has) in every set',
    group: 'caps',
    conflicts: ['user'],
    apply: (b) => {
      const all = () => hostBoundingSet();
      b.config.process.capabilities = { bounding: all(), effective: all(), inheritable: all(), permitted: all(), ambient: all() };
    },
  },
  {
    name: 'capabilities: bounding only CAP_KILL, nothing else',
    group: 'caps',
    apply: (b) => void (b.config.process.capabilities = { bounding: ['CAP_KILL'], effective: [], inheritable: [], permitted: [], ambient: [] }),
  },
  {
    name: 'capabilities: ambient for a non-root user',
    group: 'caps',
    conflicts: ['user'],
    apply: (b) => {
      const set = () => ['CAP_KILL', 'CAP_NET_BIND_SERVICE'];
      b.config.process.user = { uid: 1000, gid: 1000 };
      b.config.process.capabilities = { bounding: [...set(), 'CAP_CHOWN'], effective: set(), inheritable: set(), permitted: set(), ambient: set() };
    },
  },
  { name: 'process: noNewPrivileges false', group: 'nnp', apply: (b) => void (b.config.process.noNewPrivileges = false) },
  { name: 'process: oomScoreAdj 500', group: 'oom', apply: (b) => void (b.config.process.oomScoreAdj = 500) },
  { name: 'process: oomScoreAdj -300', group: 'oom', unavailable: lacksSysResource, apply: (b) => void (b.config.process.oomScoreAdj = -300) },

  // mounts
  {
    name: 'mount: tmpfs nosuid,nodev,noexec,noatime,mode,size',
    group: 'mount-tmpfs',
    apply: (b) =>
      void b.addMount({ destination: '/mnt/tmpfs', type: 'tmpfs', source: 'husk-tmpfs', options: ['nosuid', 'nodev', 'noexec', 'noatime', 'mode=1770', 'size=1m'] }),
  },
  {
    name: 'mount: tmpfs ro,strictatime,nodiratime',
    group: 'mount-tmpfs2',
    apply: (b) => void b.addMount({ destination: '/mnt/tmpfs-ro', type: 'tmpfs', source: 'tmpfs', options: ['ro', 'strictatime', 'nodiratime', 'mode=755'] }),
  },
  {
    name: 'mount: tmpfs relatime with explicit suid,dev,exec,rw',
    group: 'mount-tmpfs3',
    apply: (b) => void b.addMount({ destination: '/srv/tmp', type: 'tmpfs', source: 'tmpfs', options: ['rw', 'suid', 'dev', 'exec', 'relatime', 'size=512k'] }),
  },
  { name: 'mount: proc nosuid,nodev,noexec', group: 'mount-proc', apply: (b) => replaceMountOptions(b, '/proc', ['nosuid', 'nodev', 'noexec']) },
  { name: 'mount: sysfs read-write', group: 'mount-sysfs', apply: (b) => replaceMountOptions(b, '/sys', ['nosuid', 'noexec', 'nodev']) },
  {
    name: 'mount: devpts ptmxmode=0600,mode=0600',
    group: 'mount-devpts',
    apply: (b) => replaceMountOptions(b, '/dev/pts', ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0600', 'mode=0600']),
  },
  { name: 'mount: mqueue read-only', group: 'mount-mqueue', apply: (b) => replaceMountOptions(b, '/dev/mqueue', ['ro', 'nosuid', 'noexec', 'nodev']) },
  { name: 'mount: cgroup read-write', group: 'mount-cgroup', apply: (b) => replaceMountOptions(b, '/sys/fs/cgroup', ['nosuid', 'noexec', 'nodev', 'relatime']) },
  {
    name: 'mount: /dev/shm with a 2m size',
    group: 'mount-shm',
    apply: (b) => replaceMountOptions(b, '/dev/shm', ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=2m']),
  },
  { name: 'bind: read-only directory', group: 'bind1', apply: (b) => void b.addBindMount({ destination: '/mnt/bind-ro', options: ['bind', 'ro'] }) },
  {
    name: 'bind: nosuid,nodev,noexec directory',
    group: 'bind2',
    apply: (b) => void b.addBindMount({ destination: '/srv/bind-flags', options: ['rbind', 'nosuid', 'nodev', 'noexec'] }),
  },
  { name: 'bind: rbind shows submounts', group: 'bind3', apply: (b) => void b.addBindMount({ destination: '/mnt/rbind', options: ['rbind'], submount: true }) },
  {
    name: 'bind: plain bind hides submounts',
    group: 'bind4',
    // In a user namespace the kernel refuses a non-recursive bind that would uncover a locked submount.
    conflicts: ['userns'],
    apply: (b) => void b.addBindMount({ destination: '/mnt/bind', options: ['bind'], submount: true }),
  },
  { name: 'bind: read-only file', group: 'bind5', apply: (b) => void b.addBindMount({ destination: '/etc/husk-file', options: ['bind', 'ro'], file: true }) },
  {
    name: 'bind: rslave of a shared source',
    group: 'bind6',
    apply: (b) => void b.addBindMount({ destination: '/mnt/slave', options: ['rbind', 'rslave'], shared: true }),
  },
  { name: 'bind: rshared', group: 'bind7', apply: (b) => void b.addBindMount({ destination: '/mnt/shared', options: ['rbind', 'rshared'] }) },
  {
    name: 'bind: rprivate of a shared source',
    group: 'bind8',
    apply: (b) => void b.addBindMount({ destination: '/mnt/private', options: ['rbind', 'rprivate'], shared: true }),
  },
  { name: 'bind: runbindable', group: 'bind9', apply: (b) => void b.addBindMount({ destination: '/mnt/unbindable', options: ['rbind', 'runbindable'] }) },

  // devices
  {
    name: 'devices: char, block, fifo with modes and owners',
    group: 'devices',
    // Creating device nodes needs the initial user namespace.
    conflicts: ['userns'],
    apply: (b) => {
      b.config.linux.devices = [
        { path: '/dev/husk-null', type: 'c', major: 1, minor: 3, fileMode: 0o640, uid: 0, gid: 0 },
        { path: '/dev/husk/zero', type: 'c', major: 1, minor: 5, fileMode: 0o600, uid: 1000, gid: 1000 },
        { path: '/dev/husk-loop', type: 'b', major: 7, minor: 0, fileMode: 0o660, uid: 0, gid: 6 },
        { path: '/dev/husk-fifo', type: 'p', fileMode: 0o644, uid: 0, gid: 0 },
      ];
      // As a real config would, allow them in the device cgroup (runc's default denies all).
      const resources = (b.config.linux.resources ??= {});
      resources.devices = [
        { allow: false, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
        { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
        { allow: true, type: 'b', major: 7, minor: 0, access: 'rwm' },
      ];
    },
  },

  // masked and read-only paths
  {
    name: 'maskedPaths: a file, a directory and a missing path',
    group: 'masked',
    apply: (b) => {
      b.writeFile('/etc/husk-secret', 'secret\n');
      b.writeFile('/srv/secret/key', 'secret\n');
      b.config.linux.maskedPaths?.push('/etc/husk-secret', '/srv/secret', '/does/not/exist');
    },
  },
  {
    name: 'readonlyPaths: a directory and a file on a writable root',
    group: 'readonly',
    conflicts: ['rootrw'],
    apply: (b) => {
      b.config.root.readonly = false;
      b.writeFile('/srv/ro/data', 'data\n');
      b.writeFile('/etc/husk-ro', 'data\n');
      b.config.linux.readonlyPaths?.push('/srv/ro', '/etc/husk-ro', '/does/not/exist');
    },
  },
  {
    name: 'maskedPaths and readonlyPaths: none',
    group: 'paths-none',
    conflicts: ['masked', 'readonly'],
    apply: (b) => {
      b.config.linux.maskedPaths = [];
      b.config.linux.readonlyPaths = [];
    },
  },

  // sysctl
  {
    name: 'sysctl: net and ipc',
    group: 'sysctl',
    apply: (b) =>
      void (b.config.linux.sysctl = {
        'net.ipv4.ip_forward': '1',
        'net.ipv4.ping_group_range': '0 1000',
        'kernel.msgmax': '4096',
        'kernel.shmmni': '2048',
      }),
  },

  // terminal
  { name: 'process: terminal false stated', group: 'terminal', apply: (b) => void (b.config.process.terminal = false) },
];

/** The feature of FEATURES with this name (throws on a typo). */
export function featureNamed(name: string): Feature {
  const feature = FEATURES.find((f) => f.name === name);
  if (!feature) throw new Error(`no feature named ${JSON.stringify(name)}`);
  return feature;
}

/**
 * cgroup limits the validator reads back (memory, pids, cpu). Used by exec-conformance.test.ts;
 * kept out of FEATURES so the seeded mixes of conformance.test.ts stay as they are.
 */
export const CGROUP_RESOURCES: Feature = {
  name: 'cgroup resources: memory, pids, cpu',
  group: 'resources',
  apply: (b) => {
    const resources = (b.config.linux.resources ??= {});
    resources.memory = { limit: 64 * 1024 * 1024, reservation: 32 * 1024 * 1024 };
    resources.pids = { limit: 64 };
    resources.cpu = { shares: 512, quota: 50_000, period: 100_000 };
  },
};

/** Makes a mix consistent: namespaces that other settings need, and drops what cannot be had. */
export function finalize(bundle: Bundle): void {
  const config = bundle.config;
  if (bundle.hasNamespace('user')) {
    // proc, mqueue and sysfs may only be mounted from a user namespace that owns their namespaces.
    for (const type of ['pid', 'ipc', 'network', 'mount'] as const) addNamespace(bundle, type);
  }
  if (!bundle.hasNamespace('uts')) {
    delete config.hostname;
    delete config.domainname;
  }
  if (config.linux.sysctl) {
    const owner = (key: string): NamespaceType => (key.startsWith('net.') ? 'network' : 'ipc');
    // A sysctl of a namespace shared with the host would change the host.
    const owned = (key: string) => config.linux.namespaces.some((ns) => ns.type === owner(key) && !ns.path);
    config.linux.sysctl = Object.fromEntries(Object.entries(config.linux.sysctl).filter(([key]) => owned(key)));
  }
}

/** Every feature alone. */
export function targetedCases(): ConformanceCase[] {
  return FEATURES.map((feature) => ({ name: feature.name, features: [feature] }));
}

/** A small deterministic PRNG (mulberry32) so a seed reproduces a mix. */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `count` mixes of 3 to 7 compatible features each, reproducible from `seed`. */
export function randomMixes(seed: number, count: number): ConformanceCase[] {
  const random = rng(seed);
  const mixable = FEATURES;
  const cases: ConformanceCase[] = [];
  for (let n = 0; n < count; n++) {
    const size = 3 + Math.floor(random() * 5);
    const chosen: Feature[] = [];
    for (let tries = 0; chosen.length < size && tries < 100; tries++) {
      const candidate = mixable[Math.floor(random() * mixable.length)] as Feature;
      const clash = chosen.some(
        (f) => f.group === candidate.group || f.conflicts?.includes(candidate.group) || candidate.conflicts?.includes(f.group),
      );
      if (!clash) chosen.push(candidate);
    }
    // Apply in table order so namespace choices come before what depends on them.
    chosen.sort((x, y) => FEATURES.indexOf(x) - FEATURES.indexOf(y));
    cases.push({ name: `mix ${n + 1} (seed ${seed}): ${chosen.map((f) => f.name).join(' + ')}`, features: chosen });
  }
  return cases;
}
