/** Generating a default config.json: the same document `runc spec` (and `runc spec --rootless`) writes. */
import type { Mount, RuntimeSpec } from './runtime-spec.js';
import { OCI_RUNTIME_SPEC_VERSION } from './version.js';

export interface DefaultSpecOptions {
  /** Adjust for an unprivileged user, as `runc spec --rootless` does. */
  rootless?: boolean;
  /** The process to run; runc's default is ["sh"]. */
  args?: string[];
  /** Allocate a terminal; runc's default is true. */
  terminal?: boolean;
}

const DEFAULT_CAPABILITIES = ['CAP_AUDIT_WRITE', 'CAP_KILL', 'CAP_NET_BIND_SERVICE'];

/** A fresh default spec (no shared objects between calls), field for field what runc writes. */
export function defaultSpec(options: DefaultSpecOptions = {}): RuntimeSpec {
  const spec: RuntimeSpec = {
    ociVersion: OCI_RUNTIME_SPEC_VERSION,
    process: {
      terminal: options.terminal ?? true,
      user: { uid: 0, gid: 0 },
      args: [...(options.args ?? ['sh'])],
      env: ['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'TERM=xterm'],
      cwd: '/',
      capabilities: {
        bounding: [...DEFAULT_CAPABILITIES],
        effective: [...DEFAULT_CAPABILITIES],
        permitted: [...DEFAULT_CAPABILITIES],
        ambient: [...DEFAULT_CAPABILITIES],
      },
      rlimits: [{ type: 'RLIMIT_NOFILE', hard: 1024, soft: 1024 }],
      noNewPrivileges: true,
    },
    root: { path: 'rootfs', readonly: true },
    hostname: 'runc',
    mounts: defaultMounts(),
    linux: {
      resources: { devices: [{ allow: false, access: 'rwm' }] },
      namespaces: [{ type: 'pid' }, { type: 'network' }, { type: 'ipc' }, { type: 'uts' }, { type: 'mount' }],
      maskedPaths: [
        '/proc/acpi',
        '/proc/asound',
        '/proc/kcore',
        '/proc/keys',
        '/proc/latency_stats',
        '/proc/timer_list',
        '/proc/timer_stats',
        '/proc/sched_debug',
        '/sys/firmware',
        '/proc/scsi',
      ],
      readonlyPaths: ['/proc/bus', '/proc/fs', '/proc/irq', '/proc/sys', '/proc/sysrq-trigger'],
    },
  };
  return options.rootless ? toRootless(spec) : spec;
}

/** The spec serialised exactly as runc writes config.json (tab indent, no trailing newline). */
export function serializeSpec(spec: RuntimeSpec): string {
  return JSON.stringify(spec, null, '\t');
}

function defaultMounts(): Mount[] {
  return [
    { destination: '/proc', type: 'proc', source: 'proc' },
    {
      destination: '/dev',
      type: 'tmpfs',
      source: 'tmpfs',
      options: ['nosuid', 'strictatime', 'mode=755', 'size=65536k'],
    },
    {
      destination: '/dev/pts',
      type: 'devpts',
      source: 'devpts',
      options: ['nosuid', 'noexec', 'newinstance', 'ptmxmode=0666', 'mode=0620', 'gid=5'],
    },
    {
      destination: '/dev/shm',
      type: 'tmpfs',
      source: 'shm',
      options: ['nosuid', 'noexec', 'nodev', 'mode=1777', 'size=65536k'],
    },
    { destination: '/dev/mqueue', type: 'mqueue', source: 'mqueue', options: ['nosuid', 'noexec', 'nodev'] },
    { destination: '/sys', type: 'sysfs', source: 'sysfs', options: ['nosuid', 'noexec', 'nodev', 'ro'] },
    {
      destination: '/sys/fs/cgroup',
      type: 'cgroup',
      source: 'cgroup',
      options: ['nosuid', 'noexec', 'nodev', 'relatime', 'ro'],
    },
  ];
}

/**
 * runc's ToRootless: a user namespace mapping only the caller, no network namespace (it could not
 * be configured), /sys bind-mounted (sysfs needs a netns we own), no uid=/gid= mount options
 * (those ids are unmapped), and no cgroup resources (an unprivileged user cannot set them).
 */
function toRootless(spec: RuntimeSpec): RuntimeSpec {
  const linux = spec.linux ?? {};
  const namespaces = (linux.namespaces ?? []).filter((ns) => ns.type !== 'network' && ns.type !== 'user');
  const { resources: _dropped, ...linuxWithoutResources } = linux;
  return {
    ...spec,
    mounts: (spec.mounts ?? []).map(rootlessMount),
    linux: {
      uidMappings: [{ containerID: 0, hostID: effectiveUid(), size: 1 }],
      gidMappings: [{ containerID: 0, hostID: effectiveGid(), size: 1 }],
      ...linuxWithoutResources,
      namespaces: [...namespaces, { type: 'user' }],
    },
  };
}

function rootlessMount(mount: Mount): Mount {
  if (mount.destination.replace(/\/+$/, '') === '/sys') {
    return { destination: '/sys', type: 'none', source: '/sys', options: ['rbind', 'nosuid', 'noexec', 'nodev', 'ro'] };
  }
  if (mount.options === undefined) return mount;
  return { ...mount, options: mount.options.filter((o) => !o.startsWith('uid=') && !o.startsWith('gid=')) };
}

function effectiveUid(): number {
  return process.geteuid?.() ?? 0;
}

function effectiveGid(): number {
  return process.getegid?.() ?? 0;
}
