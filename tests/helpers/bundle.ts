// Bundles for the tests: a busybox-static rootfs (as /work/shared/bench/make-bundle.sh builds it),
// the default config, and the validator's directory bind-mounted read-only at /husk-validate with
// config.json and host.json (the facts only the host knows) next to the binary.
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  chmodSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readlinkSync,
  rmSync,
  statSync,
  symlinkSync,
  writeFileSync,
} from 'node:fs';
import { dirname, join } from 'node:path';
import { inject } from 'vitest';
import { buildValidator } from './build-validator.js';
import { CONTAINER_MARKER_ENV } from './leaks.js';
import type { ValidatorPaths } from './paths.js';
import { defaultSpec, VALIDATE_DIR, type Mount, type NamespaceType, type Spec } from './spec.js';

/** host.json: what the validator cannot learn from config.json alone. */
export interface HostFacts {
  namespaces: Record<string, number>;
  joinedNamespaces: Record<string, number>;
  noNewPrivs: boolean;
  files: { path: string; content: string }[];
  absentFiles: string[];
  sharedSources: string[];
  /** For an exec'd validator: the init's namespace inodes per /proc/<pid>/ns name, read on the host. */
  initNamespaces?: Record<string, number>;
  /** For an exec'd validator in a container without a new pid namespace: the init's pid. */
  initPid?: number;
}

export interface BundleOptions {
  /** Directory to create the bundle in (must not exist yet). */
  dir: string;
  /** process.args; default: the validator. */
  args?: string[];
  /** Container id: puts the container in cgroup /<id> and marks its env, so cleanup can find it. */
  id?: string;
}

let fallbackValidator: ValidatorPaths | undefined;

/** The validator binaries from globalSetup; built here (once per worker) if it is not wired. */
export function validatorBinaries(): ValidatorPaths {
  const provided = inject('huskValidate');
  if (provided) return provided;
  return (fallbackValidator ??= buildValidator());
}

const BUSYBOX = ['/bin/busybox', '/usr/bin/busybox'].find((p) => existsSync(p));
let busyboxApplets: string[] | undefined;

function applets(): string[] {
  if (!BUSYBOX) throw new Error('no busybox: apt-get install busybox-static');
  if (!busyboxApplets) {
    const list = spawnSync(BUSYBOX, ['--list'], { encoding: 'utf8' });
    if (list.status !== 0) throw new Error(`${BUSYBOX} --list failed: ${list.stderr}`);
    busyboxApplets = list.stdout.split('\n').filter((a) => a && a !== 'busybox');
  }
  return busyboxApplets;
}

const NS_PROC_NAMES = ['pid', 'net', 'mnt', 'ipc', 'uts', 'user', 'cgroup', 'time'];

/** The inode of each of this process's namespaces (the runtime is spawned in the same ones). */
export function hostNamespaces(): Record<string, number> {
  return processNamespaces('self');
}

/** The inode of each namespace of a process, as /proc/<pid>/ns shows them on the host. */
export function processNamespaces(pid: number | 'self'): Record<string, number> {
  const inodes: Record<string, number> = {};
  for (const name of NS_PROC_NAMES) {
    const path = `/proc/${pid}/ns/${name}`;
    if (!existsSync(path)) continue;
    const match = /\[(\d+)\]/.exec(readlinkSync(path));
    if (match?.[1]) inodes[name] = Number(match[1]);
  }
  return inodes;
}

function hostNoNewPrivs(): boolean {
  return /^NoNewPrivs:\s*1$/m.test(readFileSync('/proc/self/status', 'utf8'));
}

export function token(): string {
  return randomBytes(8).toString('hex');
}

function run(cmd: string, args: string[]): void {
  const result = spawnSync(cmd, args, { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${cmd} ${args.join(' ')} failed: ${result.error?.message ?? result.stderr}`);
}

export class Bundle {
  readonly rootfs: string;
  readonly validateDir: string;
  readonly config: Spec;
  readonly host: HostFacts;
  /** Host mounts the harness made for this bundle, unmounted in reverse on cleanup. */
  private readonly hostMounts: string[] = [];
  private sources = 0;

  constructor(readonly dir: string, config: Spec, host: HostFacts) {
    this.rootfs = join(dir, 'rootfs');
    this.validateDir = join(dir, 'validate');
    this.config = config;
    this.host = host;
  }

  /** A path inside the container → the same path in the rootfs on the host. */
  hostPath(containerPath: string): string {
    return join(this.rootfs, containerPath);
  }

  /** Creates a file in the rootfs (parents too). */
  writeFile(containerPath: string, content: string, mode = 0o644): string {
    const path = this.hostPath(containerPath);
    mkdirSync(dirname(path), { recursive: true });
    writeFileSync(path, content);
    chmodSync(path, mode);
    return path;
  }

  mkdir(containerPath: string, mode = 0o755): string {
    const path = this.hostPath(containerPath);
    mkdirSync(path, { recursive: true });
    chmodSync(path, mode);
    return path;
  }

  /** Adds a mount, creating its mount point in the rootfs (runtimes in a user ns cannot). */
  addMount(mount: Mount, opts: { file?: boolean } = {}): Mount {
    const point = this.hostPath(mount.destination);
    if (!existsSync(point)) {
      // runc gives a tmpfs the mode of the directory it covers, so make the two agree.
      const mode = mount.type === 'tmpfs' ? mount.options?.find((o) => o.startsWith('mode='))?.slice(5) : undefined;
      if (opts.file) this.writeFile(mount.destination, '');
      else this.mkdir(mount.destination, mode ? parseInt(mode, 8) : 0o755);
    }
    this.config.mounts.push(mount);
    return mount;
  }

  /**
   * Adds a bind mount of a fresh source that carries a marker the validator must see.
   * file: the source is a file. submount: a tmpfs under the source at sub/ (visible only
   * through rbind). shared: the source is a shared mount on the host (so slaves get a master).
   */
  addBindMount(opts: { destination: string; options?: string[]; file?: boolean; submount?: boolean; shared?: boolean }): Mount {
    const source = join(this.dir, `src${++this.sources}`);
    const mark = token();
    if (opts.file) {
      writeFileSync(source, mark);
      chmodSync(source, 0o644);
      this.host.files.push({ path: opts.destination, content: mark });
    } else {
      mkdirSync(source, { mode: 0o755 });
      chmodSync(source, 0o755);
      if (opts.shared) {
        run('mount', ['--bind', source, source]);
        this.hostMounts.push(source);
        run('mount', ['--make-shared', source]);
        this.host.sharedSources.push(opts.destination);
      }
      writeFileSync(join(source, '.husk-bind-source'), mark);
      this.host.files.push({ path: `${opts.destination}/.husk-bind-source`, content: mark });
      if (opts.submount) {
        const sub = join(source, 'sub');
        mkdirSync(sub);
        run('mount', ['-t', 'tmpfs', '-o', 'mode=755,size=64k', 'husk-sub', sub]);
        this.hostMounts.push(sub);
        const subMark = token();
        writeFileSync(join(sub, '.husk-submount'), subMark);
        const marker = `${opts.destination}/sub/.husk-submount`;
        if (opts.options?.includes('rbind')) this.host.files.push({ path: marker, content: subMark });
        else this.host.absentFiles.push(marker);
      }
    }
    return this.addMount({ destination: opts.destination, type: 'bind', source, options: opts.options ?? ['bind'] }, { file: opts.file });
  }

  /** Makes a persistent namespace of this type and has the container join it by path. */
  joinNamespace(type: 'network' | 'uts' | 'ipc'): string {
    const file = join(this.dir, `ns-${type}`);
    writeFileSync(file, '');
    const flag = { network: '--net', uts: '--uts', ipc: '--ipc' }[type];
    run('unshare', [`${flag}=${file}`, 'true']);
    this.hostMounts.push(file);
    this.host.joinedNamespaces[type] = statSync(file).ino;
    this.config.linux.namespaces = this.config.linux.namespaces.filter((ns) => ns.type !== type);
    this.config.linux.namespaces.push({ type, path: file });
    return file;
  }

  /** Makes the rootfs a shared mount point on the host (so rootfsPropagation slave shows a master). */
  shareRootfs(): void {
    run('mount', ['--bind', this.rootfs, this.rootfs]);
    this.hostMounts.push(this.rootfs);
    run('mount', ['--make-shared', this.rootfs]);
    this.host.sharedSources.push('/');
  }

  hasNamespace(type: NamespaceType): boolean {
    return this.config.linux.namespaces.some((ns) => ns.type === type);
  }

  /** Writes config.json, and the validator's copies of it and host.json. */
  write(): this {
    const config = `${JSON.stringify(this.config, null, 2)}\n`;
    writeFileSync(join(this.dir, 'config.json'), config);
    writeFileSync(join(this.validateDir, 'config.json'), config);
    writeFileSync(join(this.validateDir, 'host.json'), `${JSON.stringify(this.host, null, 2)}\n`);
    return this;
  }

  /**
   * Gives the validator a different view than the runtime's config.json, to prove it notices
   * when the container does not match (the validator's own self-test).
   */
  writeValidatorView(config: Spec, host: HostFacts): void {
    writeFileSync(join(this.validateDir, 'config.json'), `${JSON.stringify(config, null, 2)}\n`);
    writeFileSync(join(this.validateDir, 'host.json'), `${JSON.stringify(host, null, 2)}\n`);
  }

  /** Undoes the harness's own host mounts (the runtime's leftovers are the leak check's business). */
  unmountHostMounts(): string[] {
    const failures: string[] = [];
    while (this.hostMounts.length > 0) {
      const point = this.hostMounts.pop() as string;
      const result = spawnSync('umount', [point], { encoding: 'utf8' });
      if (result.status !== 0 && spawnSync('umount', ['-l', point]).status !== 0) failures.push(`${point}: ${result.stderr.trim()}`);
    }
    return failures;
  }

  remove(): void {
    this.unmountHostMounts();
    rmSync(this.dir, { recursive: true, force: true });
  }
}

/** Creates a bundle whose default process is the validator; call `write()` after editing. */
export function makeBundle(opts: BundleOptions): Bundle {
  const validator = validatorBinaries();
  mkdirSync(opts.dir, { recursive: true });
  // World-searchable, so a container whose root maps to an unprivileged host uid can reach it.
  chmodSync(opts.dir, 0o755);
  const config = defaultSpec();
  if (opts.args) config.process.args = opts.args;
  if (opts.id) {
    config.linux.cgroupsPath = `/${opts.id}`;
    config.process.env?.push(`${CONTAINER_MARKER_ENV}=${opts.id}`);
  }
  const marker = token();
  const host: HostFacts = {
    namespaces: hostNamespaces(),
    joinedNamespaces: {},
    noNewPrivs: hostNoNewPrivs(),
    files: [{ path: '/.husk-rootfs-marker', content: marker }],
    absentFiles: [],
    sharedSources: [],
  };
  const bundle = new Bundle(opts.dir, config, host);
  buildRootfs(bundle.rootfs);
  writeFileSync(join(bundle.rootfs, '.husk-rootfs-marker'), marker);
  mkdirSync(bundle.validateDir, { mode: 0o755 });
  copyFileSync(validator.validate, join(bundle.validateDir, 'husk-validate'));
  chmodSync(join(bundle.validateDir, 'husk-validate'), 0o755);
  bundle.addMount({ destination: VALIDATE_DIR, type: 'bind', source: bundle.validateDir, options: ['rbind', 'ro'] });
  return bundle.write();
}

function buildRootfs(rootfs: string): void {
  if (!BUSYBOX) throw new Error('no busybox: apt-get install busybox-static');
  for (const dir of ['bin', 'sbin', 'usr/bin', 'usr/sbin', 'etc', 'proc', 'sys', 'dev', 'tmp', 'run', 'root', 'var/tmp']) {
    mkdirSync(join(rootfs, dir), { recursive: true, mode: 0o755 });
  }
  chmodSync(rootfs, 0o755);
  chmodSync(join(rootfs, 'tmp'), 0o1777);
  chmodSync(join(rootfs, 'var/tmp'), 0o1777);
  copyFileSync(BUSYBOX, join(rootfs, 'bin/busybox'));
  chmodSync(join(rootfs, 'bin/busybox'), 0o755);
  for (const applet of applets()) symlinkSync('busybox', join(rootfs, 'bin', applet));
  const etc = (name: string, content: string) => writeFileSync(join(rootfs, 'etc', name), content);
  etc('passwd', 'root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n');
  etc('group', 'root:x:0:\nnogroup:x:65534:\n');
  etc('hostname', 'husk\n');
  etc('hosts', '127.0.0.1 localhost husk\n::1 localhost\n');
  etc('resolv.conf', '');
}
