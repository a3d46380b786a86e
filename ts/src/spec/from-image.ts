/**
 * config.json from an image config plus `docker run`-style options: what dockerd's createSpec does,
 * starting from runc's default spec. The rootfs is read only for /etc/passwd and /etc/group.
 */
import { existsSync, readFileSync } from 'node:fs';
import { availableParallelism, hostname as hostHostname } from 'node:os';
import { posix, resolve } from 'node:path';
import { DOCKER_DEFAULT_CAPABILITIES, tweakCapabilities } from './capabilities.js';
import { defaultSpec } from './generate.js';
import { SpecGenerationError, SpecGenerationErrorCode, invalidImageConfig, invalidOption } from './generation-error.js';
import { resolveImageUser, type ResolvedUser } from './image-user.js';
import { Annotation, ImageExecConfigSchema, type ImageConfig, type ImageExecConfig } from './image-spec.js';
import { checkDocument } from './parse.js';
import {
  bindMount,
  checkDestination,
  checkEnvEntry,
  envValue,
  mergeImageEnv,
  normalizeSignal,
  parseByteSize,
  parseExposedPort,
  parseMountOption,
  parseTmpfsFlag,
  parseUlimit,
  replaceOrAppendEnv,
  type ExposedPort,
  type MountOption,
  type ParsedMount,
  type Ulimit,
} from './run-options.js';
import {
  RuntimeSpecSchema,
  SeccompSchema,
  type Mount,
  type Namespace,
  type Resources,
  type RuntimeSpec,
  type Seccomp,
} from './runtime-spec.js';
import { defaultSeccompProfile } from './seccomp-default.js';

export { DOCKER_DEFAULT_CAPABILITIES, allCapabilities, tweakCapabilities } from './capabilities.js';
export { defaultSeccompProfile, type DefaultSeccompOptions } from './seccomp-default.js';
export { SpecGenerationError, SpecGenerationErrorCode, type SpecGenerationErrorCodeName } from './generation-error.js';
export {
  resolveImageUser,
  readFileInRoot,
  parsePasswd,
  parseGroup,
  type ResolvedUser,
  type ResolveUserOptions,
  type PasswdEntry,
  type GroupEntry,
} from './image-user.js';
export {
  parseByteSize,
  parseVolumeFlag,
  parseTmpfsFlag,
  replaceOrAppendEnv,
  type ExposedPort,
  type MountOption,
  type BindMountOption,
  type TmpfsMountOption,
  type VolumeMountOption,
  type Propagation,
  type Ulimit,
} from './run-options.js';

/** docker's default PATH for Linux containers, added when neither the image nor the options set one. */
export const DEFAULT_PATH_ENV = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

/** Annotation keys conversion.md derives from the image config (besides Labels). */
export const ImageAnnotation = {
  Os: 'org.opencontainers.image.os',
  Architecture: 'org.opencontainers.image.architecture',
  Variant: 'org.opencontainers.image.variant',
  OsVersion: 'org.opencontainers.image.os.version',
  OsFeatures: 'org.opencontainers.image.os.features',
  Author: 'org.opencontainers.image.author',
  Created: Annotation.Created,
  StopSignal: 'org.opencontainers.image.stopSignal',
  ExposedPorts: 'org.opencontainers.image.exposedPorts',
} as const;

/** The `docker run` flags that shape config.json. Everything is optional; the image supplies the rest. */
export interface ImageRunOptions {
  /** The container's id: the default hostname is its first 12 characters, as docker. */
  id?: string;
  /** The command, replacing the image's Cmd (docker run IMAGE ARGS...). */
  args?: readonly string[];
  /**
   * Replaces the image's Entrypoint (and drops its Cmd), as --entrypoint: a string is one word;
   * "" clears the entrypoint; [] clears it but keeps the image's Cmd.
   */
  entrypoint?: string | readonly string[];
  /** Added to the image's Env, the later entry winning; a bare "KEY" unsets KEY. */
  env?: readonly string[] | Readonly<Record<string, string>>;
  /** Allocate a terminal (process.terminal) and set TERM=xterm. */
  tty?: boolean;
  /** docker -v strings ("/host:/ctr[:ro]", "name:/ctr", "/ctr") or mount objects. */
  mounts?: readonly (string | MountOption)[];
  /** docker --tmpfs strings ("/run" or "/run:size=64m,mode=1777"). */
  tmpfs?: readonly string[];
  /** Host directories for volume requests, keyed by container path; those become rbind mounts. */
  volumes?: Readonly<Record<string, string>>;
  /** user, user:group, uid or uid:gid; resolved in the image's /etc/passwd and /etc/group. */
  user?: string;
  /** Extra groups by name or gid (--group-add). */
  groupAdd?: readonly string[];
  /** The working directory (absolute), replacing the image's WorkingDir. */
  workdir?: string;
  hostname?: string;
  /** Mount the root filesystem read-only (--read-only). */
  readOnly?: boolean;
  /** Memory limit: bytes or "512m". */
  memory?: number | string;
  /** Memory plus swap: bytes, "1g", or -1 for unlimited swap; default twice memory, as docker. */
  memorySwap?: number | string;
  /** CPUs as a fraction (--cpus 1.5): a CFS quota over a 100 ms period. */
  cpus?: number | string;
  /** Relative CPU weight (--cpu-shares). */
  cpuShares?: number;
  /** Maximum number of pids; 0 or less means unlimited. */
  pidsLimit?: number;
  /** rlimits: "nofile=1024:2048" or {name, soft, hard}; none unless given, as docker. */
  ulimits?: readonly (string | Ulimit)[];
  /** Capabilities added to docker's default set; "ALL" adds every one. */
  capAdd?: readonly string[];
  /** Capabilities removed from docker's default set; "ALL" leaves only capAdd. */
  capDrop?: readonly string[];
  /** All capabilities, no seccomp, no masked or read-only paths, rw /sys, every device allowed. */
  privileged?: boolean;
  /** Set no_new_privs (docker's --security-opt no-new-privileges); default false, as docker. */
  noNewPrivileges?: boolean;
  /** "default" (Docker's profile, for the final capabilities), "unconfined", or a profile as config.json carries it. */
  seccompProfile?: 'default' | 'unconfined' | Seccomp;
  /** A network namespace path to join, "host" for the host's, or "private" (default) for a new one. */
  networkNamespace?: string;
  /** A new cgroup namespace ("private") or the host's; docker's default is private on cgroup v2 only. */
  cgroupNamespace?: 'private' | 'host';
  cgroupsPath?: string;
  /** Extra sysctls, over docker's defaults for a private network namespace. */
  sysctls?: Readonly<Record<string, string>>;
  /** Annotations, over those derived from the image. */
  annotations?: Readonly<Record<string, string>>;
  /** Replaces the image's StopSignal. */
  stopSignal?: string | number;
  /** Ports exposed in addition to the image's ExposedPorts (--expose). */
  expose?: readonly string[];
  /** root.path; default the rootfs directory, absolute. */
  rootPath?: string;
}

/** A volume the container should get: bound to `source` when options.volumes gave one, else to be created. */
export interface VolumeRequest {
  destination: string;
  /** Named volume (-v name:/path); absent for anonymous ones. */
  name?: string;
  /** The host directory bound there, from options.volumes. */
  source?: string;
  readOnly: boolean;
  /** The image's Volumes, or the options' mounts. */
  origin: 'image' | 'options';
}

type Healthcheck = NonNullable<ImageExecConfig['Healthcheck']>;

/** config.json plus what does not fit in it: volumes to provide, ports, the stop signal, warnings. */
export interface GeneratedSpec {
  spec: RuntimeSpec;
  user: ResolvedUser;
  volumes: VolumeRequest[];
  exposedPorts: ExposedPort[];
  /** The signal `stop` sends first, normalised ("SIGQUIT"); SIGTERM unless the image or options say. */
  stopSignal: string;
  healthcheck?: Healthcheck;
  /** What was adjusted or ignored, as docker warns (swap not supported, cpu shares clamped). */
  warnings: string[];
}

/** docker's device cgroup defaults: deny all, then the basic character devices, /dev/fuse denied. */
const DOCKER_DEVICE_RULES: NonNullable<Resources['devices']> = [
  { allow: false, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 5, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 3, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 9, access: 'rwm' },
  { allow: true, type: 'c', major: 1, minor: 8, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 0, access: 'rwm' },
  { allow: true, type: 'c', major: 5, minor: 1, access: 'rwm' },
  { allow: false, type: 'c', major: 10, minor: 229, access: 'rwm' },
];

/** runc's masked paths plus /sys/devices/virtual/powercap (docker masks it since CVE-2020-8694). */
const EXTRA_MASKED_PATHS = ['/sys/devices/virtual/powercap'];

/** Mounts that keep their own rw/ro under --read-only, as docker. */
const READ_ONLY_EXEMPT = new Set(['/proc', '/dev/pts', '/dev/shm', '/dev/mqueue', '/dev']);

const CFS_PERIOD_US = 100_000;
const MIN_MEMORY = 6 * 1024 * 1024;
const MIN_CPU_SHARES = 2;
const MAX_CPU_SHARES = 262_144;

/** config.json for running `imageConfig` with `options` over the unpacked image at `rootfsDir`. */
export function specFromImage(
  imageConfig: ImageConfig | ImageExecConfig | null | undefined,
  rootfsDir: string,
  options: ImageRunOptions = {},
): RuntimeSpec {
  return generateFromImage(imageConfig, rootfsDir, options).spec;
}

/** specFromImage with the rest docker keeps beside the spec: volumes, ports, stop signal, healthcheck, warnings. */
export function generateFromImage(
  imageConfig: ImageConfig | ImageExecConfig | null | undefined,
  rootfsDir: string,
  options: ImageRunOptions = {},
): GeneratedSpec {
  if (typeof rootfsDir !== 'string' || !existsSync(rootfsDir)) {
    throw invalidOption('rootfsDir', `no such directory: ${String(rootfsDir)}`);
  }
  const { image, exec } = splitImageConfig(imageConfig);
  const warnings: string[] = [];
  const privileged = options.privileged === true;

  const args = processArgs(exec, options);
  const cwd = workingDir(exec, options);
  // as docker, an empty --user means the image's User
  const user = resolveImageUser(rootfsDir, options.user || exec.User, {
    field: options.user ? 'options.user' : 'config.User',
    ...(options.groupAdd ? { groupAdd: stringList(options.groupAdd, 'options.groupAdd') } : {}),
  });
  const network = networkMode(options.networkNamespace);
  const hostname = options.hostname ?? (network.kind === 'host' ? hostHostname() : options.id?.slice(0, 12) ?? 'husk');
  const tty = options.tty === true;
  const env = processEnv(exec, options, hostname, tty, user);
  const caps = tweakCapabilities(
    DOCKER_DEFAULT_CAPABILITIES,
    stringList(options.capAdd ?? [], 'options.capAdd'),
    stringList(options.capDrop ?? [], 'options.capDrop'),
    privileged,
  );

  const spec = defaultSpec({ terminal: tty, args });
  const proc = spec.process!;
  proc.user = { uid: user.uid, gid: user.gid, additionalGids: user.additionalGids };
  proc.env = env;
  proc.cwd = cwd;
  // Like execve, a non-root user starts with no effective or permitted capabilities (moby's SetCapabilities).
  proc.capabilities =
    user.uid === 0 ? { bounding: [...caps], effective: [...caps], permitted: [...caps] } : { bounding: [...caps] };
  delete proc.rlimits;
  if (options.ulimits?.length) proc.rlimits = options.ulimits.map((u, i) => parseUlimit(u, `options.ulimits[${i}]`));
  if (options.noNewPrivileges === true) proc.noNewPrivileges = true;
  else delete proc.noNewPrivileges;

  spec.root = { path: options.rootPath ?? resolve(rootfsDir), readonly: options.readOnly === true };
  spec.hostname = hostname;

  const { mounts, volumes } = containerMounts(spec.mounts ?? [], exec, options, privileged);
  spec.mounts = mounts;

  const linux = spec.linux!;
  linux.resources = {
    devices: privileged ? [{ allow: true, access: 'rwm' }] : DOCKER_DEVICE_RULES.map((d) => ({ ...d })),
    ...resources(options, warnings),
  };
  linux.namespaces = namespaces(linux.namespaces ?? [], network, options.cgroupNamespace);
  if (privileged) {
    delete linux.maskedPaths;
    delete linux.readonlyPaths;
  } else {
    linux.maskedPaths = [...(linux.maskedPaths ?? []), ...EXTRA_MASKED_PATHS];
  }
  const seccomp = seccompProfile(options, caps, privileged);
  if (seccomp) linux.seccomp = seccomp;
  if (options.cgroupsPath !== undefined) linux.cgroupsPath = options.cgroupsPath;
  const sysctl = { ...(network.kind === 'private' ? dockerNetworkSysctls() : {}), ...options.sysctls };
  if (Object.keys(sysctl).length > 0) linux.sysctl = sysctl;

  const exposedPorts = ports(exec, options);
  const stopSignal =
    options.stopSignal !== undefined
      ? normalizeSignal(options.stopSignal, 'options.stopSignal')
      : exec.StopSignal
        ? normalizeSignal(exec.StopSignal, 'config.StopSignal', invalidImageConfig)
        : 'SIGTERM';
  const annotations = imageAnnotations(image, exec, options);
  if (Object.keys(annotations).length > 0) spec.annotations = annotations;

  const checked = checkDocument(RuntimeSpecSchema, spec);
  if (!checked.ok) {
    const first = checked.problems[0]!;
    throw invalidOption('options', `the generated config.json is invalid at ${first.path}: ${first.message}`);
  }
  const result: GeneratedSpec = { spec, user, volumes, exposedPorts, stopSignal, warnings };
  if (exec.Healthcheck) result.healthcheck = exec.Healthcheck;
  return result;
}

// ---------------------------------------------------------------- image config

function splitImageConfig(config: ImageConfig | ImageExecConfig | null | undefined): {
  image?: ImageConfig;
  exec: ImageExecConfig;
} {
  if (config === null || config === undefined) return { exec: {} };
  if (typeof config !== 'object' || Array.isArray(config)) throw invalidImageConfig('config', 'expected an object');
  const isFull = 'rootfs' in config || 'architecture' in config || 'os' in config;
  const image = isFull ? (config as ImageConfig) : undefined;
  const exec = (isFull ? (config as ImageConfig).config : config) ?? {};
  const checked = checkDocument(ImageExecConfigSchema, exec);
  if (!checked.ok) {
    const first = checked.problems[0]!;
    throw invalidImageConfig(`config.${first.path}`, first.message);
  }
  return { ...(image ? { image } : {}), exec: checked.value };
}

/** docker's merge + mergeAndVerifyConfig for Entrypoint and Cmd. */
function processArgs(exec: ImageExecConfig, options: ImageRunOptions): string[] {
  const userCmd = options.args ? stringList(options.args, 'options.args') : [];
  let userEntrypoint: string[] | undefined;
  if (typeof options.entrypoint === 'string') userEntrypoint = [options.entrypoint];
  else if (options.entrypoint !== undefined) userEntrypoint = stringList(options.entrypoint, 'options.entrypoint');

  let entrypoint = userEntrypoint;
  let cmd = userCmd;
  if (entrypoint === undefined || entrypoint.length === 0) {
    if (cmd.length === 0) cmd = [...(exec.Cmd ?? [])];
    if (entrypoint === undefined) entrypoint = [...(exec.Entrypoint ?? [])];
  }
  // --entrypoint "" clears the entrypoint
  if (entrypoint.length === 1 && entrypoint[0] === '') entrypoint = [];
  const args = [...entrypoint, ...cmd];
  if (args.length === 0) {
    const message = 'no command specified: give args, or run an image with an Entrypoint or Cmd';
    throw new SpecGenerationError(SpecGenerationErrorCode.NoCommand, 'options.args', message);
  }
  if (args[0] === '') {
    throw invalidOption(userEntrypoint ? 'options.entrypoint' : 'options.args', 'the command is an empty string');
  }
  return args;
}

function workingDir(exec: ImageExecConfig, options: ImageRunOptions): string {
  const fromOptions = options.workdir !== undefined && options.workdir !== '';
  const dir = fromOptions ? options.workdir! : (exec.WorkingDir ?? '');
  const field = fromOptions ? 'options.workdir' : 'config.WorkingDir';
  if (dir === '') return '/';
  if (!dir.startsWith('/')) {
    const message = `the working directory ${JSON.stringify(dir)} is invalid, it needs to be an absolute path`;
    throw field === 'options.workdir' ? invalidOption(field, message) : invalidImageConfig(field, message);
  }
  return posix.normalize(dir).replace(/(.)\/+$/, '$1');
}

/**
 * docker's CreateDaemonEnvironment: PATH, HOSTNAME and (tty) TERM first, overridden in place by the
 * merged env (options first, then the image's keys the options did not set); HOME from passwd last.
 */
function processEnv(
  exec: ImageExecConfig,
  options: ImageRunOptions,
  hostname: string,
  tty: boolean,
  user: ResolvedUser,
): string[] {
  const imageEnv = exec.Env ?? [];
  imageEnv.forEach((e, i) => checkEnvEntry(e, `config.Env[${i}]`, invalidImageConfig));
  let userEnv: string[];
  if (options.env === undefined) userEnv = [];
  else if (Array.isArray(options.env)) userEnv = stringList(options.env, 'options.env');
  else {
    userEnv = Object.entries(options.env as Record<string, string>).map(([k, v]) => {
      if (typeof v !== 'string') throw invalidOption(`options.env.${k}`, `expected a string, got ${typeof v}`);
      return `${k}=${v}`;
    });
  }
  userEnv.forEach((e, i) => checkEnvEntry(e, `options.env[${i}]`));
  const base = [DEFAULT_PATH_ENV, `HOSTNAME=${hostname}`, ...(tty ? ['TERM=xterm'] : [])];
  const env = replaceOrAppendEnv(base, mergeImageEnv(imageEnv, userEnv));
  return envValue(env, 'HOME') === undefined ? [...env, `HOME=${user.home}`] : env;
}

function ports(exec: ImageExecConfig, options: ImageRunOptions): ExposedPort[] {
  const seen = new Map<string, ExposedPort>();
  for (const key of Object.keys(exec.ExposedPorts ?? {})) {
    const port = parseExposedPort(key, `config.ExposedPorts[${JSON.stringify(key)}]`, invalidImageConfig);
    seen.set(`${port.port}/${port.protocol}`, port);
  }
  stringList(options.expose ?? [], 'options.expose').forEach((key, i) => {
    const port = parseExposedPort(key, `options.expose[${i}]`);
    seen.set(`${port.port}/${port.protocol}`, port);
  });
  return [...seen.values()];
}

/** conversion.md's implicit annotations, then Labels (which win), then the options' annotations. */
function imageAnnotations(
  image: ImageConfig | undefined,
  exec: ImageExecConfig,
  options: ImageRunOptions,
): Record<string, string> {
  const out: Record<string, string> = {};
  const set = (key: string, value: string | undefined) => {
    if (value !== undefined && value !== '') out[key] = value;
  };
  if (image) {
    set(ImageAnnotation.Os, image.os);
    set(ImageAnnotation.Architecture, image.architecture);
    set(ImageAnnotation.Variant, image.variant);
    set(ImageAnnotation.OsVersion, image['os.version']);
    set(ImageAnnotation.OsFeatures, image['os.features']?.join(','));
    set(ImageAnnotation.Author, image.author);
    set(ImageAnnotation.Created, image.created);
  }
  set(ImageAnnotation.StopSignal, exec.StopSignal);
  const exposed = Object.keys(exec.ExposedPorts ?? {});
  if (exposed.length > 0) set(ImageAnnotation.ExposedPorts, exposed.join(','));
  Object.assign(out, exec.Labels ?? {});
  if (options.stopSignal !== undefined) {
    out[ImageAnnotation.StopSignal] = normalizeSignal(options.stopSignal, 'options.stopSignal');
  }
  Object.assign(out, options.annotations ?? {});
  return out;
}

// ---------------------------------------------------------------- mounts

/**
 * docker's WithMounts: user mounts (and bound volumes) replace default mounts at the same place (all of
 * /dev's when /dev is mounted), sorted shallow first and placed after the defaults; --read-only makes
 * the remaining defaults read-only; privileged makes /sys and cgroup writable.
 */
function containerMounts(
  defaults: Mount[],
  exec: ImageExecConfig,
  options: ImageRunOptions,
  privileged: boolean,
): { mounts: Mount[]; volumes: VolumeRequest[] } {
  const parsed: { mount: ParsedMount; field: string }[] = [
    ...(options.mounts ?? []).map((m, i) => ({
      mount: parseMountOption(m, `options.mounts[${i}]`),
      field: `options.mounts[${i}]`,
    })),
    ...stringList(options.tmpfs ?? [], 'options.tmpfs').map((t, i) => ({
      mount: parseTmpfsFlag(t, `options.tmpfs[${i}]`),
      field: `options.tmpfs[${i}]`,
    })),
  ];
  const user: Mount[] = [];
  const volumes: VolumeRequest[] = [];
  const taken = new Set<string>();
  const hostDirs = options.volumes ?? {};
  const addVolume = (request: Omit<VolumeRequest, 'source'>) => {
    const source = hostDirs[request.destination];
    if (source === undefined) {
      volumes.push(request);
      return;
    }
    const field = `options.volumes[${JSON.stringify(request.destination)}]`;
    const { destination, readOnly } = request;
    const bound = bindMount({ type: 'bind', source, destination, readOnly }, field);
    if (bound.kind === 'mount') user.push(bound.mount);
    volumes.push({ ...request, source: bound.kind === 'mount' ? bound.mount.source! : source });
  };
  for (const { mount: m, field } of parsed) {
    if (taken.has(m.destination)) throw invalidOption(field, `duplicate mount point: ${m.destination}`);
    taken.add(m.destination);
    if (m.kind === 'mount') user.push(m.mount);
    else {
      const named = m.name ? { name: m.name } : {};
      addVolume({ destination: m.destination, readOnly: m.readOnly, origin: 'options', ...named });
    }
  }
  for (const key of Object.keys(exec.Volumes ?? {})) {
    const field = `config.Volumes[${JSON.stringify(key)}]`;
    if (!key.startsWith('/')) throw invalidImageConfig(field, `volume path ${JSON.stringify(key)} must be absolute`);
    const destination = checkDestination(key, field);
    if (taken.has(destination)) continue;
    taken.add(destination);
    addVolume({ destination, readOnly: false, origin: 'image' });
  }
  for (const destination of Object.keys(hostDirs)) {
    if (!volumes.some((v) => v.destination === destination)) {
      const message = `no volume is requested at ${destination} (by the image's Volumes or options.mounts)`;
      throw invalidOption(`options.volumes[${JSON.stringify(destination)}]`, message);
    }
  }

  const devMounted = taken.has('/dev');
  const kept = defaults
    .filter((m) => !taken.has(m.destination) && !(devMounted && m.destination.startsWith('/dev/')))
    .map((m) => {
      const mount: Mount = { ...m, ...(m.options ? { options: [...m.options] } : {}) };
      // docker mounts /proc nosuid,noexec,nodev where runc's default has no options
      if (mount.destination === '/proc') mount.options = ['nosuid', 'noexec', 'nodev'];
      if (options.readOnly && !READ_ONLY_EXEMPT.has(mount.destination) && !mount.options?.includes('ro')) {
        mount.options = [...(mount.options ?? []), 'ro'];
      }
      if (privileged && (mount.destination === '/sys' || mount.type === 'cgroup')) {
        mount.options = (mount.options ?? []).filter((o) => o !== 'ro');
      }
      return mount;
    });
  const depth = (m: Mount) => m.destination.split('/').length;
  const sorted = user.map((m, i) => ({ m, i })).sort((a, b) => depth(a.m) - depth(b.m) || a.i - b.i).map(({ m }) => m);
  return { mounts: [...kept, ...sorted], volumes };
}

// ---------------------------------------------------------------- namespaces, resources, seccomp

type NetworkMode = { kind: 'private' } | { kind: 'host' } | { kind: 'path'; path: string };

function networkMode(value: string | undefined): NetworkMode {
  if (value === undefined || value === '' || value === 'private' || value === 'none') return { kind: 'private' };
  if (value === 'host') return { kind: 'host' };
  if (!value.startsWith('/')) {
    const message = `expected "host", "private" or an absolute namespace path, got ${JSON.stringify(value)}`;
    throw invalidOption('options.networkNamespace', message);
  }
  return { kind: 'path', path: value };
}

function namespaces(
  base: Namespace[],
  network: NetworkMode,
  cgroupNamespace: ImageRunOptions['cgroupNamespace'],
): Namespace[] {
  const out = base
    .filter((ns) => ns.type !== 'network' || network.kind !== 'host')
    .map((ns) => (ns.type === 'network' && network.kind === 'path' ? { ...ns, path: network.path } : { ...ns }));
  if (cgroupNamespace !== undefined && cgroupNamespace !== 'private' && cgroupNamespace !== 'host') {
    const message = `expected "private" or "host", got ${JSON.stringify(cgroupNamespace)}`;
    throw invalidOption('options.cgroupNamespace', message);
  }
  const privateCgroup = cgroupNamespace === undefined ? isCgroupV2() : cgroupNamespace === 'private';
  if (privateCgroup && !out.some((ns) => ns.type === 'cgroup')) out.push({ type: 'cgroup' });
  return out;
}

function isCgroupV2(): boolean {
  return existsSync('/sys/fs/cgroup/cgroup.controllers');
}

function swapLimitSupported(): boolean {
  if (isCgroupV2()) {
    try {
      return readFileSync('/sys/fs/cgroup/cgroup.controllers', 'utf8').split(/\s+/).includes('memory');
    } catch {
      return false;
    }
  }
  return existsSync('/sys/fs/cgroup/memory/memory.memsw.limit_in_bytes');
}

/** docker's sysctls for a container with its own network namespace, where this kernel has them. */
function dockerNetworkSysctls(): Record<string, string> {
  const out: Record<string, string> = {};
  // unprivileged ICMP echo sockets without CAP_NET_RAW, and ports below 1024 without CAP_NET_BIND_SERVICE
  if (existsSync('/proc/sys/net/ipv4/ping_group_range')) out['net.ipv4.ping_group_range'] = '0 2147483647';
  if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) out['net.ipv4.ip_unprivileged_port_start'] = '0';
  return out;
}

/** docker's resource checks and defaults for memory, swap, CPUs, CPU shares and pids. */
function resources(options: ImageRunOptions, warnings: string[]): Omit<Resources, 'devices'> {
  const out: Omit<Resources, 'devices'> = {};
  const memory = options.memory === undefined ? 0 : parseByteSize(options.memory, 'options.memory');
  if (memory < 0) throw invalidOption('options.memory', 'a memory limit cannot be negative');
  if (memory > 0 && memory < MIN_MEMORY) throw invalidOption('options.memory', 'minimum memory limit allowed is 6MB');
  let swap = 0;
  if (options.memorySwap !== undefined) {
    const unlimited = options.memorySwap === -1 || options.memorySwap === '-1';
    swap = unlimited ? -1 : parseByteSize(options.memorySwap, 'options.memorySwap');
  }
  if (swap > 0 && memory === 0) {
    throw invalidOption('options.memorySwap', 'you should always set the memory limit when using a memory+swap limit');
  }
  if (swap > 0 && swap < memory) {
    throw invalidOption('options.memorySwap', 'minimum memory+swap limit should be larger than the memory limit');
  }
  if (memory > 0 && swap === 0) swap = memory * 2;
  if (swap !== 0 && !swapLimitSupported()) {
    warnings.push(
      'your kernel does not support swap limit capabilities or the cgroup is not mounted: memory limited without swap',
    );
    swap = 0;
  }
  if (memory > 0) out.memory = { limit: memory, ...(swap !== 0 ? { swap } : {}) };

  if (options.cpus !== undefined) {
    const text = String(options.cpus);
    const numeric = typeof options.cpus === 'number' || /^\s*\d+(\.\d+)?\s*$/.test(text);
    const cpus = numeric ? Number(text) : NaN;
    const available = availableParallelism();
    if (!Number.isFinite(cpus) || cpus < 0.01 || cpus > available) {
      const message = `range of CPUs is from 0.01 to ${available}.00, as there are only ${available} CPUs available`;
      throw invalidOption('options.cpus', message);
    }
    out.cpu = { quota: Math.round(cpus * CFS_PERIOD_US), period: CFS_PERIOD_US };
  }
  if (options.cpuShares !== undefined && options.cpuShares !== 0) {
    let shares = options.cpuShares;
    if (!Number.isInteger(shares) || shares < 0) {
      throw invalidOption('options.cpuShares', `invalid CPU shares ${shares}: expected a positive whole number`);
    }
    if (shares < MIN_CPU_SHARES || shares > MAX_CPU_SHARES) {
      const clamped = Math.min(Math.max(shares, MIN_CPU_SHARES), MAX_CPU_SHARES);
      warnings.push(`CPU shares ${shares} out of range (${MIN_CPU_SHARES} to ${MAX_CPU_SHARES}): set to ${clamped}`);
      shares = clamped;
    }
    out.cpu = { shares, ...(out.cpu ?? {}) };
  }
  if (options.pidsLimit !== undefined) {
    if (!Number.isInteger(options.pidsLimit)) {
      throw invalidOption('options.pidsLimit', `expected a whole number, got ${options.pidsLimit}`);
    }
    out.pids = { limit: options.pidsLimit <= 0 ? -1 : options.pidsLimit };
  }
  return out;
}

function seccompProfile(options: ImageRunOptions, caps: readonly string[], privileged: boolean): Seccomp | undefined {
  const requested = options.seccompProfile;
  if (typeof requested === 'object' && requested !== null) {
    const checked = checkDocument(SeccompSchema, requested);
    if (!checked.ok) {
      const first = checked.problems[0]!;
      throw invalidOption(`options.seccompProfile${first.path === '(root)' ? '' : `.${first.path}`}`, first.message);
    }
    return structuredClone(checked.value);
  }
  if (requested === 'unconfined' || privileged) return undefined;
  if (requested !== undefined && requested !== 'default') {
    const message = `expected "default", "unconfined" or a profile object, got ${JSON.stringify(requested)}`;
    throw invalidOption('options.seccompProfile', message);
  }
  return defaultSeccompProfile({ capabilities: caps });
}

// ---------------------------------------------------------------- helpers

function stringList(value: readonly unknown[], field: string): string[] {
  if (!Array.isArray(value)) throw invalidOption(field, `expected an array of strings, got ${typeof value}`);
  return value.map((v, i) => {
    if (typeof v !== 'string') {
      throw invalidOption(`${field}[${i}]`, `expected a string, got ${v === null ? 'null' : typeof v}`);
    }
    return v;
  });
}
