/** Docker's capability model: its default set, the kernel's full list, and --cap-add/--cap-drop. */
import { readFileSync } from 'node:fs';
import { invalidOption } from './generation-error.js';

/** What a docker container gets without --cap-add/--cap-drop/--privileged (moby's oci/caps defaults). */
export const DOCKER_DEFAULT_CAPABILITIES: readonly string[] = Object.freeze([
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_FSETID',
  'CAP_FOWNER',
  'CAP_MKNOD',
  'CAP_NET_RAW',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETFCAP',
  'CAP_SETPCAP',
  'CAP_NET_BIND_SERVICE',
  'CAP_SYS_CHROOT',
  'CAP_KILL',
  'CAP_AUDIT_WRITE',
]);

/** Every capability by number (linux/capability.h), CAP_CHOWN = 0 up to CAP_CHECKPOINT_RESTORE = 40. */
const KNOWN_CAPABILITIES: readonly string[] = [
  'CAP_CHOWN',
  'CAP_DAC_OVERRIDE',
  'CAP_DAC_READ_SEARCH',
  'CAP_FOWNER',
  'CAP_FSETID',
  'CAP_KILL',
  'CAP_SETGID',
  'CAP_SETUID',
  'CAP_SETPCAP',
  'CAP_LINUX_IMMUTABLE',
  'CAP_NET_BIND_SERVICE',
  'CAP_NET_BROADCAST',
  'CAP_NET_ADMIN',
  'CAP_NET_RAW',
  'CAP_IPC_LOCK',
  'CAP_IPC_OWNER',
  'CAP_SYS_MODULE',
  'CAP_SYS_RAWIO',
  'CAP_SYS_CHROOT',
  'CAP_SYS_PTRACE',
  'CAP_SYS_PACCT',
  'CAP_SYS_ADMIN',
  'CAP_SYS_BOOT',
  'CAP_SYS_NICE',
  'CAP_SYS_RESOURCE',
  'CAP_SYS_TIME',
  'CAP_SYS_TTY_CONFIG',
  'CAP_MKNOD',
  'CAP_LEASE',
  'CAP_AUDIT_WRITE',
  'CAP_AUDIT_CONTROL',
  'CAP_SETFCAP',
  'CAP_MAC_OVERRIDE',
  'CAP_MAC_ADMIN',
  'CAP_SYSLOG',
  'CAP_WAKE_ALARM',
  'CAP_BLOCK_SUSPEND',
  'CAP_AUDIT_READ',
  'CAP_PERFMON',
  'CAP_BPF',
  'CAP_CHECKPOINT_RESTORE',
];

let hostCapabilities: readonly string[] | undefined;

/** The capabilities this kernel knows (up to /proc/sys/kernel/cap_last_cap), as docker's "ALL" means. */
export function allCapabilities(): readonly string[] {
  if (hostCapabilities === undefined) {
    let last = KNOWN_CAPABILITIES.length - 1;
    try {
      const fromKernel = Number.parseInt(readFileSync('/proc/sys/kernel/cap_last_cap', 'utf8').trim(), 10);
      if (Number.isInteger(fromKernel) && fromKernel >= 0) last = Math.min(last, fromKernel);
    } catch {
      // no /proc: assume the kernel knows every capability listed here
    }
    hostCapabilities = Object.freeze(KNOWN_CAPABILITIES.slice(0, last + 1));
  }
  return hostCapabilities;
}

/** "net_admin", "NET_ADMIN" and "CAP_NET_ADMIN" all name CAP_NET_ADMIN; "all" is ALL. */
function normalizeCapabilities(caps: readonly string[], field: string): string[] {
  const known = allCapabilities();
  return caps.map((raw, i) => {
    const upper = raw.trim().toUpperCase();
    if (upper === 'ALL') return upper;
    const name = upper.startsWith('CAP_') ? upper : `CAP_${upper}`;
    if (!known.includes(name)) throw invalidOption(`${field}[${i}]`, `unknown capability: ${JSON.stringify(name)}`);
    return name;
  });
}

/**
 * docker's TweakCapabilities: privileged gets everything; `ALL` in add means everything but the
 * drops; `ALL` in drop means only the adds; else the base minus the drops plus the adds.
 */
export function tweakCapabilities(
  base: readonly string[],
  add: readonly string[] = [],
  drop: readonly string[] = [],
  privileged = false,
): string[] {
  if (privileged) return [...allCapabilities()];
  const adds = normalizeCapabilities(add, 'options.capAdd');
  const drops = normalizeCapabilities(drop, 'options.capDrop');
  let caps: string[];
  if (adds.includes('ALL')) caps = allCapabilities().filter((c) => !drops.includes(c));
  else if (drops.includes('ALL')) caps = [...adds];
  else caps = [...base.filter((c) => !drops.includes(c)), ...adds];
  return [...new Set(caps)];
}
