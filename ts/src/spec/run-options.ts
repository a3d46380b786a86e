/** Docker's value syntaxes, parsed and checked: sizes, signals, ports, env lists, -v/--tmpfs mounts, ulimits. */
import { constants as osConstants } from 'node:os';
import { posix } from 'node:path';
import type { Mount, Rlimit } from './runtime-spec.js';
import { invalidOption, type SpecGenerationError } from './generation-error.js';

/** Builds the error for a bad value: invalidOption for run options, invalidImageConfig for image fields. */
export type Failure = (field: string, message: string) => SpecGenerationError;

// ---------------------------------------------------------------- sizes

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, k: 1024, m: 1024 ** 2, g: 1024 ** 3, t: 1024 ** 4, p: 1024 ** 5 };

/** Bytes from a number or docker's RAMInBytes syntax ("512m", "1.5g", "64 MiB", "1024"); units are binary. */
export function parseByteSize(value: number | string, field: string): number {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw invalidOption(field, `invalid size ${value}: expected a whole number of bytes`);
    return value;
  }
  const match = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpb]?)i?b?\s*$/i.exec(value);
  if (!match) throw invalidOption(field, `invalid size ${JSON.stringify(value)}`);
  const bytes = Math.floor(Number(match[1]) * SIZE_UNITS[match[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes)) throw invalidOption(field, `size ${JSON.stringify(value)} is too large`);
  return bytes;
}

// ---------------------------------------------------------------- signals

/** "SIGQUIT", "QUIT", "quit" or "3" → "SIGQUIT"; also SIGRTMIN+n. */
export function normalizeSignal(value: string | number, field: string, fail: Failure = invalidOption): string {
  const signals = osConstants.signals as Record<string, number>;
  const text = String(value).trim();
  if (/^\d+$/.test(text)) {
    const n = Number(text);
    const name = Object.keys(signals).find((k) => signals[k] === n && k !== 'SIGIOT' && k !== 'SIGPOLL');
    if (name) return name;
    if (n >= 34 && n <= 64) return n === 34 ? 'SIGRTMIN' : `SIGRTMIN+${n - 34}`;
    throw fail(field, `invalid signal ${JSON.stringify(value)}`);
  }
  const upper = text.toUpperCase();
  const name = upper.startsWith('SIG') ? upper : `SIG${upper}`;
  if (name in signals) return name;
  const rt = /^SIGRT(MIN|MAX)([+-]\d+)?$/.exec(name);
  if (rt) {
    const n = (rt[1] === 'MIN' ? 34 : 64) + Number(rt[2] ?? 0);
    if (n >= 34 && n <= 64) return name;
  }
  throw fail(field, `invalid signal ${JSON.stringify(value)}`);
}

// ---------------------------------------------------------------- ports

export interface ExposedPort {
  port: number;
  protocol: 'tcp' | 'udp' | 'sctp';
}

/** "8080/tcp", "53/udp", "9000" (tcp); what docker accepts as an ExposedPorts key. */
export function parseExposedPort(key: string, field: string, fail: Failure = invalidOption): ExposedPort {
  const match = /^(\d+)(?:\/(tcp|udp|sctp))?$/i.exec(key.trim());
  const port = match ? Number(match[1]) : NaN;
  if (!match || port < 1 || port > 65535) throw fail(field, `invalid port ${JSON.stringify(key)}: expected PORT[/tcp|udp|sctp]`);
  return { port, protocol: (match[2]?.toLowerCase() ?? 'tcp') as ExposedPort['protocol'] };
}

// ---------------------------------------------------------------- env

/** "KEY=value" checks: a name before "=", no NUL. A bare "KEY" is allowed (it unsets KEY). */
export function checkEnvEntry(entry: string, field: string, fail: Failure = invalidOption): void {
  if (entry.includes('\0')) throw fail(field, 'environment entries cannot contain NUL');
  if (entry === '' || entry.startsWith('=')) throw fail(field, `invalid environment variable: ${JSON.stringify(entry)}`);
}

function envKey(entry: string): string {
  const eq = entry.indexOf('=');
  return eq < 0 ? entry : entry.slice(0, eq);
}

/**
 * docker's ReplaceOrAppendEnvValues: each override replaces the entry with its key in place, or is
 * appended; a bare "KEY" removes KEY.
 */
export function replaceOrAppendEnv(base: readonly string[], overrides: readonly string[]): string[] {
  const out: (string | undefined)[] = [...base];
  const index = new Map<string, number>();
  out.forEach((e, i) => index.set(envKey(e!), i));
  for (const entry of overrides) {
    const key = envKey(entry);
    const at = index.get(key);
    if (!entry.includes('=')) {
      if (at !== undefined) out[at] = undefined;
      index.delete(key);
      continue;
    }
    if (at !== undefined) out[at] = entry;
    else index.set(key, out.push(entry) - 1);
  }
  return out.filter((e): e is string => e !== undefined);
}

/** docker's merge: the user's entries first, then the image's whose key the user did not set. */
export function mergeImageEnv(imageEnv: readonly string[], userEnv: readonly string[]): string[] {
  if (userEnv.length === 0) return [...imageEnv];
  const userKeys = new Set(userEnv.map(envKey));
  return [...userEnv, ...imageEnv.filter((e) => !userKeys.has(envKey(e)))];
}

export function envValue(env: readonly string[], key: string): string | undefined {
  for (let i = env.length - 1; i >= 0; i--) {
    if (envKey(env[i]!) === key) return env[i]!.slice(key.length + 1);
  }
  return undefined;
}

// ---------------------------------------------------------------- mounts

export type Propagation = 'private' | 'rprivate' | 'shared' | 'rshared' | 'slave' | 'rslave';
const PROPAGATIONS: readonly string[] = ['private', 'rprivate', 'shared', 'rshared', 'slave', 'rslave'];

/** A bind mount of a host path. */
export interface BindMountOption {
  type: 'bind';
  source: string;
  destination: string;
  readOnly?: boolean;
  /** Default rprivate, as docker. */
  propagation?: Propagation;
  /** Default true (rbind), as docker; false binds only the top mount. */
  recursive?: boolean;
}

/** A fresh tmpfs; options as --tmpfs takes them ("size=64m,mode=1777,exec"). */
export interface TmpfsMountOption {
  type: 'tmpfs';
  destination: string;
  size?: number | string;
  mode?: number;
  options?: string[];
}

/** A volume the caller provides: named, or anonymous (no name); see GeneratedSpec.volumes. */
export interface VolumeMountOption {
  type: 'volume';
  destination: string;
  name?: string;
  readOnly?: boolean;
}

export type MountOption = BindMountOption | TmpfsMountOption | VolumeMountOption;

/** A mount before it becomes an OCI mount: binds and tmpfs are complete, volumes wait for a host path. */
export type ParsedMount =
  | { kind: 'mount'; destination: string; mount: Mount }
  | { kind: 'volume'; destination: string; name?: string; readOnly: boolean };

/** Modes docker accepts that mean nothing here: SELinux relabelling, copy-up, Docker Desktop consistency. */
const IGNORED_VOLUME_MODES = ['z', 'Z', 'nocopy', 'consistent', 'cached', 'delegated'];

/** docker -v syntax: "/host:/ctr[:opts]" (bind), "name:/ctr[:opts]" (named volume), "/ctr" (anonymous volume). */
export function parseVolumeFlag(spec: string, field: string): ParsedMount {
  const parts = spec.split(':');
  if (parts.some((p) => p === '') || parts.length > 3) {
    throw invalidOption(field, `invalid volume specification: ${JSON.stringify(spec)}`);
  }
  if (parts.length === 1) return { kind: 'volume', destination: checkDestination(parts[0]!, field), readOnly: false };
  const [source, destination, mode = ''] = parts as [string, string, string?];
  let readOnly = false;
  let propagation: Propagation | undefined;
  for (const opt of mode === '' ? [] : mode.split(',')) {
    if (opt === 'ro' || opt === 'rw') readOnly = opt === 'ro';
    else if (PROPAGATIONS.includes(opt)) propagation = opt as Propagation;
    else if (IGNORED_VOLUME_MODES.includes(opt)) continue;
    else throw invalidOption(field, `invalid mode ${JSON.stringify(opt)} in volume specification ${JSON.stringify(spec)}`);
  }
  if (!source.startsWith('/')) {
    if (!/^[A-Za-z0-9][A-Za-z0-9_.-]*$/.test(source)) {
      throw invalidOption(field, `invalid volume name ${JSON.stringify(source)}: bind sources must be absolute paths`);
    }
    if (propagation) throw invalidOption(field, `propagation ${propagation} applies to bind mounts only`);
    return { kind: 'volume', destination: checkDestination(destination, field), name: source, readOnly };
  }
  const checked = checkDestination(destination, field);
  return bindMount({ type: 'bind', source, destination: checked, readOnly, ...(propagation ? { propagation } : {}) }, field);
}

/** docker --tmpfs syntax: "/ctr" or "/ctr:size=64m,mode=1777". */
export function parseTmpfsFlag(spec: string, field: string): ParsedMount {
  const colon = spec.indexOf(':');
  const destination = colon < 0 ? spec : spec.slice(0, colon);
  const options = colon < 0 || colon === spec.length - 1 ? [] : spec.slice(colon + 1).split(',');
  return tmpfsMount({ type: 'tmpfs', destination, options }, field);
}

export function parseMountOption(option: string | MountOption, field: string): ParsedMount {
  if (typeof option === 'string') return parseVolumeFlag(option, field);
  switch (option.type) {
    case 'bind':
      return bindMount(option, field);
    case 'tmpfs':
      return tmpfsMount(option, field);
    case 'volume':
      return {
        kind: 'volume',
        destination: checkDestination(option.destination, `${field}.destination`),
        readOnly: option.readOnly ?? false,
        ...(option.name ? { name: option.name } : {}),
      };
    default:
      const type = JSON.stringify((option as { type: unknown }).type);
      throw invalidOption(`${field}.type`, `unknown mount type ${type} (expected bind, tmpfs or volume)`);
  }
}

/** An rbind of a host path with docker's options: ["rbind", "ro"?, propagation]. */
export function bindMount(option: BindMountOption, field: string): ParsedMount {
  if (!option.source.startsWith('/')) {
    throw invalidOption(`${field}.source`, `bind source ${JSON.stringify(option.source)} must be an absolute path`);
  }
  const destination = checkDestination(option.destination, `${field}.destination`);
  const propagation = option.propagation ?? 'rprivate';
  if (!PROPAGATIONS.includes(propagation)) {
    throw invalidOption(`${field}.propagation`, `invalid propagation ${JSON.stringify(propagation)}`);
  }
  const options = [option.recursive === false ? 'bind' : 'rbind'];
  if (option.readOnly) options.push('ro');
  options.push(propagation);
  return { kind: 'mount', destination, mount: { destination, type: 'bind', source: posix.normalize(option.source), options } };
}

/** Inverse flags: a later one cancels the earlier one (docker's MergeTmpfsOptions). */
const FLAG_INVERSES: Record<string, string> = {
  exec: 'noexec', noexec: 'exec', suid: 'nosuid', nosuid: 'suid', dev: 'nodev', nodev: 'dev',
  ro: 'rw', rw: 'ro', atime: 'noatime', noatime: 'atime', diratime: 'nodiratime', nodiratime: 'diratime',
};

/** docker's tmpfs: noexec,nosuid,nodev,rprivate, then the user's options, later ones winning. */
export function tmpfsMount(option: TmpfsMountOption, field: string): ParsedMount {
  const destination = checkDestination(option.destination, `${field}.destination`);
  const requested = [...(option.options ?? [])];
  if (option.size !== undefined) requested.push(`size=${parseByteSize(option.size, `${field}.size`)}`);
  if (option.mode !== undefined) requested.push(`mode=${option.mode.toString(8)}`);
  let merged = ['noexec', 'nosuid', 'nodev', 'rprivate'];
  for (const raw of requested) {
    const opt = raw.trim();
    if (opt === '') continue;
    const eq = opt.indexOf('=');
    if (eq > 0) {
      const key = opt.slice(0, eq);
      let value = opt.slice(eq + 1);
      if (key === 'size') value = String(parseByteSize(value, `${field}.options`));
      else if (key === 'mode' && !/^[0-7]{1,4}$/.test(value)) {
        throw invalidOption(`${field}.options`, `invalid tmpfs mode ${JSON.stringify(value)}`);
      }
      merged = merged.filter((o) => !o.startsWith(`${key}=`));
      merged.push(`${key}=${value}`);
    } else {
      const inverse = FLAG_INVERSES[opt];
      merged = merged.filter((o) => o !== opt && o !== inverse && !(PROPAGATIONS.includes(opt) && PROPAGATIONS.includes(o)));
      merged.push(opt);
    }
  }
  return { kind: 'mount', destination, mount: { destination, type: 'tmpfs', source: 'tmpfs', options: merged } };
}

/** Destinations are absolute, not "/", and cleaned ("/a//b/" → "/a/b"). */
export function checkDestination(destination: string, field: string): string {
  if (!destination.startsWith('/')) {
    throw invalidOption(field, `invalid mount path ${JSON.stringify(destination)}: must be absolute`);
  }
  const clean = posix.normalize(destination).replace(/(.)\/+$/, '$1');
  if (clean === '/') throw invalidOption(field, 'invalid mount path "/": cannot mount over the root');
  return clean;
}

// ---------------------------------------------------------------- ulimits

export interface Ulimit {
  name: string;
  soft: number;
  hard: number;
}

const RLIMIT_NAMES = [
  'core', 'cpu', 'data', 'fsize', 'locks', 'memlock', 'msgqueue', 'nice', 'nofile', 'nproc', 'rss', 'rtprio', 'rttime',
  'sigpending', 'stack', 'as',
];

/** docker --ulimit: "nofile=1024:2048", "nproc=512", or {name, soft, hard}. */
export function parseUlimit(value: string | Ulimit, field: string): Rlimit {
  let name: string;
  let soft: number;
  let hard: number;
  if (typeof value === 'string') {
    const match = /^([a-z]+)=(-?\d+)(?::(-?\d+))?$/.exec(value.trim());
    if (!match) throw invalidOption(field, `invalid ulimit ${JSON.stringify(value)}: expected NAME=SOFT[:HARD]`);
    name = match[1]!;
    soft = Number(match[2]);
    hard = match[3] === undefined ? soft : Number(match[3]);
  } else {
    ({ name, soft, hard } = value);
  }
  if (!RLIMIT_NAMES.includes(name)) throw invalidOption(field, `invalid ulimit type: ${name}`);
  const limit = (n: number) => {
    // RLIM_INFINITY (2^64-1) has no exact JSON number in JavaScript, so "unlimited" is refused
    if (n === -1) throw invalidOption(field, `unlimited ${name} (-1) is not supported: give a number`);
    if (!Number.isSafeInteger(n) || n < 0) throw invalidOption(field, `invalid ${name} limit ${n}`);
    return n;
  };
  const [s, h] = [limit(soft), limit(hard)];
  if (s > h) throw invalidOption(field, `ulimit soft limit must be less than or equal to hard limit: ${soft} > ${hard}`);
  return { type: `RLIMIT_${name.toUpperCase()}`, soft: s, hard: h };
}
