import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import {
  DOCKER_DEFAULT_CAPABILITIES,
  SpecGenerationError,
  SpecGenerationErrorCode,
  allCapabilities,
  defaultSeccompProfile,
  generateFromImage,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseRuntimeSpec,
  readFileInRoot,
  serializeSpec,
  specFromImage,
  type GeneratedSpec,
  type ImageConfig,
  type ImageExecConfig,
  type ImageRunOptions,
  type RuntimeSpec,
} from '../../ts/src/spec/index.js';
import { FIXTURES_DIR, REPO_ROOT, hasCommand, makeTempDir, readJson, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const MKIMAGES = join(FIXTURES_DIR, 'mkimages.py');
const canBuildFixtures = existsSync(MKIMAGES) && hasCommand('python3') && hasCommand('tar') && existsSync('/bin/busybox');
const RUNTIME = process.env.HUSK_RUNTIME ?? join(REPO_ROOT, 'target/release/husk-runtime');
const canRunContainers = canBuildFixtures && existsSync(RUNTIME) && process.getuid?.() === 0;
const DOCKER_DEFAULT_SECCOMP = join(REPO_ROOT, 'crates/husk-core/src/security/testdata/docker-default-amd64.json');

/** Generates and checks what every generated spec must satisfy: the schema accepts it, unchanged, after JSON. */
function generate(config: ImageConfig | ImageExecConfig | null, rootfs: string, options: ImageRunOptions = {}): GeneratedSpec {
  const generated = generateFromImage(config, rootfs, options);
  expect(parseRuntimeSpec(JSON.parse(serializeSpec(generated.spec)))).toEqual(generated.spec);
  expect(specFromImage(config, rootfs, options)).toEqual(generated.spec);
  return generated;
}

function specOf(config: ImageConfig | ImageExecConfig | null, rootfs: string, options: ImageRunOptions = {}): RuntimeSpec {
  return generate(config, rootfs, options).spec;
}

/** The error a call throws, for asserting its code, field and message together. */
function errorOf(fn: () => unknown): SpecGenerationError {
  try {
    fn();
  } catch (error) {
    expect(error).toBeInstanceOf(SpecGenerationError);
    return error as SpecGenerationError;
  }
  throw new Error('expected an error');
}

/** A rootfs holding only /etc/passwd and /etc/group. */
function makeRootfs(passwd: string, group: string): string {
  const rootfs = join(makeTempDir('husk-fi-rootfs-'), 'rootfs');
  mkdirSync(join(rootfs, 'etc'), { recursive: true });
  writeFileSync(join(rootfs, 'etc/passwd'), passwd);
  writeFileSync(join(rootfs, 'etc/group'), group);
  return rootfs;
}

const PASSWD = [
  'root:x:0:0:root:/root:/bin/sh',
  'app:x:1000:1000:app:/home/app:/bin/sh',
  'web:x:33:33:www:/var/www:/bin/false',
  'nohome:x:1001:1001:::/bin/sh',
  '',
].join('\n');
const GROUP = ['root:x:0:', 'app:x:1000:', 'web:x:33:', 'audio:x:29:app,web', 'video:x:44:app', 'staff:x:50:', ''].join('\n');

// ---------------------------------------------------------------- the config fixture

interface Fixture {
  config: ImageConfig;
  rootfs: string;
}

/** Builds the fixture layout with mkimages.py and unpacks `ref` (layers without whiteouts) with tar. */
function buildFixture(ref: string): Fixture {
  const out = makeTempDir('husk-fi-fixtures-');
  execFileSync('python3', [MKIMAGES, out, '--no-big'], { stdio: 'pipe' });
  const layout = join(out, 'layout');
  const blob = (digest: string) => join(layout, 'blobs', 'sha256', digest.slice('sha256:'.length));
  const index = parseImageIndex(readJson(join(layout, 'index.json')));
  const descriptor = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === ref);
  if (!descriptor) throw new Error(`no ${ref} in the fixture layout`);
  const manifest = parseImageManifest(readJson(blob(descriptor.digest)));
  const config = parseImageConfig(readJson(blob(manifest.config.digest)));
  const rootfs = join(out, 'bundle', 'rootfs');
  mkdirSync(rootfs, { recursive: true });
  for (const layer of manifest.layers) execFileSync('tar', ['-xzf', blob(layer.digest), '-C', rootfs], { stdio: 'pipe' });
  return { config, rootfs };
}

describe.skipIf(!canBuildFixtures)('specFromImage on the config:latest fixture', () => {
  let fixture: Fixture;

  beforeAll(() => {
    fixture = buildFixture('config');
  });

  it('turns every runtime-relevant field into config.json and its metadata', () => {
    const generated = generate(fixture.config, fixture.rootfs, { id: 'f00dfeedcafe0123456789' });
    const { spec } = generated;
    expect(spec.process?.args).toEqual(['/bin/sh', '-c', 'echo "$GREETING from $(pwd) as $(id -u):$(id -g)"']);
    expect(spec.process?.env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=f00dfeedcafe',
      'GREETING=hello world',
      'EMPTY=',
      'WITH_EQUALS=a=b=c',
      'HOME=/home/app',
    ]);
    expect(spec.process?.cwd).toBe('/srv/app');
    expect(spec.process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000] });
    expect(spec.process?.terminal).toBe(false);
    expect(spec.hostname).toBe('f00dfeedcafe');
    expect(spec.root).toEqual({ path: fixture.rootfs, readonly: false });
    expect(generated.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000], home: '/home/app', name: 'app' });

    // Volumes are requests, not mounts, until the caller provides host directories.
    expect(generated.volumes).toEqual([
      { destination: '/data', readOnly: false, origin: 'image' },
      { destination: '/var/cache/app', readOnly: false, origin: 'image' },
    ]);
    expect(spec.mounts?.some((m) => m.destination === '/data' || m.destination === '/var/cache/app')).toBe(false);

    expect(generated.exposedPorts).toEqual(
      expect.arrayContaining([
        { port: 8080, protocol: 'tcp' },
        { port: 53, protocol: 'udp' },
        { port: 9000, protocol: 'tcp' },
      ]),
    );
    expect(generated.exposedPorts).toHaveLength(3);
    expect(generated.stopSignal).toBe('SIGQUIT');
    expect(generated.healthcheck?.Test).toEqual(['CMD-SHELL', 'test -f /tmp/healthy']);
    expect(generated.warnings).toEqual([]);

    const annotations = spec.annotations ?? {};
    expect(annotations['org.opencontainers.image.stopSignal']).toBe('SIGQUIT');
    expect(annotations['org.opencontainers.image.exposedPorts']?.split(',').sort()).toEqual(['53/udp', '8080/tcp', '9000']);
    expect(annotations['org.opencontainers.image.os']).toBe('linux');
    expect(annotations['org.opencontainers.image.architecture']).toBe('amd64');
    expect(annotations['org.opencontainers.image.created']).toBe('2024-01-01T00:00:00Z');
    expect(annotations['org.opencontainers.image.title']).toBe('config-fixture');
    expect(annotations['com.example.multiline']).toBe('line1\nline2');
    expect(annotations['com.example.empty']).toBe('');
  });

  it('differs from `runc spec` where docker differs', () => {
    const spec = specOf(fixture.config, fixture.rootfs);
    expect(spec.process?.rlimits).toBeUndefined();
    expect(spec.process?.noNewPrivileges).toBeUndefined();
    // app is not root: like execve, only the bounding set carries capabilities
    expect(spec.process?.capabilities).toEqual({ bounding: [...DOCKER_DEFAULT_CAPABILITIES] });
    expect(spec.mounts?.find((m) => m.destination === '/proc')?.options).toEqual(['nosuid', 'noexec', 'nodev']);
    expect(spec.linux?.maskedPaths).toContain('/sys/devices/virtual/powercap');
    expect(spec.linux?.readonlyPaths).toContain('/proc/sys');
    expect(spec.linux?.resources?.devices?.[0]).toEqual({ allow: false, access: 'rwm' });
    expect(spec.linux?.seccomp?.defaultAction).toBe('SCMP_ACT_ERRNO');
    expect(spec.linux?.namespaces?.map((ns) => ns.type)).toEqual(expect.arrayContaining(['pid', 'network', 'ipc', 'uts', 'mount']));
  });

  it('binds the image volumes to the host directories given for them', () => {
    const dataDir = makeTempDir('husk-fi-volume-');
    const generated = generate(fixture.config, fixture.rootfs, { volumes: { '/data': dataDir } });
    expect(generated.volumes).toEqual([
      { destination: '/data', readOnly: false, origin: 'image', source: dataDir },
      { destination: '/var/cache/app', readOnly: false, origin: 'image' },
    ]);
    expect(generated.spec.mounts?.at(-1)).toEqual({ destination: '/data', type: 'bind', source: dataDir, options: ['rbind', 'rprivate'] });
    // A user mount at an image volume's path replaces the volume.
    const tmpfs = generate(fixture.config, fixture.rootfs, { tmpfs: ['/data'] });
    expect(tmpfs.volumes.map((v) => v.destination)).toEqual(['/var/cache/app']);
    expect(tmpfs.spec.mounts?.at(-1)).toMatchObject({ destination: '/data', type: 'tmpfs' });
  });

  it('lets the options override the image: args, user, workdir, env, stop signal', () => {
    const generated = generate(fixture.config, fixture.rootfs, {
      args: ['echo hi'],
      user: 'root',
      workdir: '/tmp/./work/',
      env: { GREETING: 'bye', EXTRA: '1' },
      stopSignal: 'term',
    });
    expect(generated.spec.process?.args).toEqual(['/bin/sh', '-c', 'echo hi']);
    expect(generated.spec.process?.user).toEqual({ uid: 0, gid: 0, additionalGids: [0] });
    expect(generated.spec.process?.cwd).toBe('/tmp/work');
    expect(generated.spec.process?.env).toEqual([
      'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin',
      'HOSTNAME=husk',
      'GREETING=bye',
      'EXTRA=1',
      'EMPTY=',
      'WITH_EQUALS=a=b=c',
      'HOME=/root',
    ]);
    expect(generated.stopSignal).toBe('SIGTERM');
    expect(generated.spec.annotations?.['org.opencontainers.image.stopSignal']).toBe('SIGTERM');
  });
});

// ---------------------------------------------------------------- entrypoint and cmd

describe('entrypoint and cmd, combined as docker does', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const image = { Entrypoint: ['/ep', 'a'], Cmd: ['c1', 'c2'] };
  const cases: [string, ImageExecConfig, ImageRunOptions, string[]][] = [
    ['image entrypoint + cmd', image, {}, ['/ep', 'a', 'c1', 'c2']],
    ['args replace the cmd', image, { args: ['x'] }, ['/ep', 'a', 'x']],
    ['empty args keep the cmd', image, { args: [] }, ['/ep', 'a', 'c1', 'c2']],
    ['--entrypoint drops the image cmd', image, { entrypoint: '/new' }, ['/new']],
    ['--entrypoint is one word', image, { entrypoint: '/bin/sh -c' }, ['/bin/sh -c']],
    ['--entrypoint with args', image, { entrypoint: '/new', args: ['x'] }, ['/new', 'x']],
    ['an entrypoint list with args', image, { entrypoint: ['/a', 'b'], args: ['c'] }, ['/a', 'b', 'c']],
    ['--entrypoint "" with args runs the args', image, { entrypoint: '', args: ['x', 'y'] }, ['x', 'y']],
    ['entrypoint [] clears it but keeps the image cmd', image, { entrypoint: [] }, ['c1', 'c2']],
    ['entrypoint [] with args', image, { entrypoint: [], args: ['x'] }, ['x']],
    ['cmd only', { Cmd: ['sh'] }, {}, ['sh']],
    ['cmd only, replaced by args', { Cmd: ['sh'] }, { args: ['ls', '-l'] }, ['ls', '-l']],
    ['entrypoint only', { Entrypoint: ['/ep'] }, {}, ['/ep']],
    ['entrypoint only, args appended', { Entrypoint: ['/ep'] }, { args: ['x'] }, ['/ep', 'x']],
    ['image entrypoint [""] is no entrypoint', { Entrypoint: [''], Cmd: ['c'] }, {}, ['c']],
    ['null entrypoint and cmd (docker writes null)', { Entrypoint: null, Cmd: ['c'] }, {}, ['c']],
    ['no image command, args given', {}, { args: ['x'] }, ['x']],
  ];
  for (const [name, config, options, args] of cases) {
    it(name, () => {
      expect(specOf(config, rootfs, options).process?.args).toEqual(args);
    });
  }

  it('refuses a container with no command, as docker', () => {
    for (const [config, options] of [
      [{}, {}],
      [{ Cmd: [] }, { args: [] }],
      [image, { entrypoint: '' }],
      [{ Entrypoint: [''] }, {}],
    ] as [ImageExecConfig, ImageRunOptions][]) {
      const error = errorOf(() => specFromImage(config, rootfs, options));
      expect(error.code).toBe(SpecGenerationErrorCode.NoCommand);
      expect(error.message).toContain('no command specified');
    }
  });

  it('names a bad image field or option', () => {
    expect(errorOf(() => specFromImage({ Cmd: 'sh' } as never, rootfs)).message).toBe('config.Cmd: expected array, got string "sh"');
    expect(errorOf(() => specFromImage({ Cmd: ['sh'] }, rootfs, { args: ['ok', 3] as never })).message).toBe('options.args[1]: expected a string, got number');
  });
});

// ---------------------------------------------------------------- users

describe('user resolution against the image /etc/passwd and /etc/group', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const config: ImageExecConfig = { Cmd: ['id'] };
  const userOf = (user: string | undefined, options: ImageRunOptions = {}) => generate({ ...config, ...(user === undefined ? {} : { User: user }) }, rootfs, options);

  const cases: [string | undefined, { uid: number; gid: number; additionalGids: number[] }, string][] = [
    [undefined, { uid: 0, gid: 0, additionalGids: [0] }, '/root'],
    ['', { uid: 0, gid: 0, additionalGids: [0] }, '/root'],
    ['root', { uid: 0, gid: 0, additionalGids: [0] }, '/root'],
    // a name: its primary group first, then every group listing it
    ['app', { uid: 1000, gid: 1000, additionalGids: [1000, 29, 44] }, '/home/app'],
    // a uid with a passwd entry is that user, groups included
    ['1000', { uid: 1000, gid: 1000, additionalGids: [1000, 29, 44] }, '/home/app'],
    // an explicit group: no supplementary groups from /etc/group
    ['app:staff', { uid: 1000, gid: 50, additionalGids: [50] }, '/home/app'],
    ['app:44', { uid: 1000, gid: 44, additionalGids: [44] }, '/home/app'],
    ['web:12345', { uid: 33, gid: 12345, additionalGids: [12345] }, '/var/www'],
    // a uid without an entry: gid 0 and HOME=/
    ['4242', { uid: 4242, gid: 0, additionalGids: [0] }, '/'],
    ['4242:4243', { uid: 4242, gid: 4243, additionalGids: [4243] }, '/'],
    ['4242:audio', { uid: 4242, gid: 29, additionalGids: [29] }, '/'],
    ['nohome', { uid: 1001, gid: 1001, additionalGids: [1001] }, '/'],
  ];
  for (const [user, expected, home] of cases) {
    it(`User ${JSON.stringify(user)}`, () => {
      const generated = userOf(user);
      expect(generated.spec.process?.user).toEqual(expected);
      expect(generated.spec.process?.env).toContain(`HOME=${home}`);
      expect(generated.user.home).toBe(home);
    });
  }

  it('options.user replaces config.User, and --group-add appends groups by name or gid', () => {
    const generated = userOf('app', { user: 'web', groupAdd: ['staff', '777', 'audio'] });
    expect(generated.spec.process?.user).toEqual({ uid: 33, gid: 33, additionalGids: [33, 29, 50, 777] });
    expect(userOf('app', { user: '' }).spec.process?.user?.uid).toBe(1000);
  });

  it('keeps a HOME the image or options set', () => {
    expect(specOf({ ...config, User: 'app', Env: ['HOME=/srv'] }, rootfs).process?.env).toContain('HOME=/srv');
    const env = specOf({ ...config, User: 'app' }, rootfs, { env: ['HOME=/opt'] }).process?.env ?? [];
    expect(env.filter((e) => e.startsWith('HOME='))).toEqual(['HOME=/opt']);
  });

  it('refuses a user or group the image does not have, naming the field', () => {
    let error = errorOf(() => specFromImage({ ...config, User: 'ghost' }, rootfs));
    expect(error.code).toBe(SpecGenerationErrorCode.UnknownUser);
    expect(error.field).toBe('config.User');
    expect(error.message).toBe('config.User: unable to find user ghost: no matching entries in passwd file');

    error = errorOf(() => specFromImage(config, rootfs, { user: 'app:nogroup' }));
    expect(error.code).toBe(SpecGenerationErrorCode.UnknownUser);
    expect(error.message).toBe('options.user: unable to find group nogroup: no matching entries in group file');

    error = errorOf(() => specFromImage(config, rootfs, { groupAdd: ['wheel'] }));
    expect(error.field).toBe('options.groupAdd[0]');

    expect(errorOf(() => specFromImage(config, rootfs, { user: '4294967296' })).message).toMatch(/uid 4294967296 is out of range/);
    expect(errorOf(() => specFromImage(config, rootfs, { user: 'a:b:c' })).code).toBe(SpecGenerationErrorCode.InvalidOption);
  });

  it('reads a missing passwd as empty: numbers still work, names do not', () => {
    const empty = join(makeTempDir('husk-fi-empty-'), 'rootfs');
    mkdirSync(empty);
    expect(specOf({ ...config, User: '1000:1000' }, empty).process?.user).toEqual({ uid: 1000, gid: 1000, additionalGids: [1000] });
    expect(specOf(config, empty).process?.env).toContain('HOME=/');
    expect(errorOf(() => specFromImage({ ...config, User: 'app' }, empty)).code).toBe(SpecGenerationErrorCode.UnknownUser);
  });

  describe('symlinks never lead out of the rootfs', () => {
    /** A passwd outside the rootfs defining "outsider"; found only if a symlink is followed out. */
    function outsidePasswd(): string {
      const dir = makeTempDir('husk-fi-outside-');
      writeFileSync(join(dir, 'passwd'), 'outsider:x:4000:4000::/outside:/bin/sh\n');
      return dir;
    }

    function rootfsWithEtc(): string {
      const rootfs = join(makeTempDir('husk-fi-links-'), 'rootfs');
      mkdirSync(join(rootfs, 'etc'), { recursive: true });
      return rootfs;
    }

    it('an absolute /etc/passwd symlink to a host file is resolved inside the rootfs', () => {
      const outside = outsidePasswd();
      const rootfs = rootfsWithEtc();
      symlinkSync(join(outside, 'passwd'), join(rootfs, 'etc/passwd'));
      expect(errorOf(() => specFromImage({ ...config, User: 'outsider' }, rootfs)).code).toBe(SpecGenerationErrorCode.UnknownUser);
      // docker's FollowSymlinkInScope: the same path inside the rootfs is what counts
      mkdirSync(join(rootfs, outside), { recursive: true });
      writeFileSync(join(rootfs, outside, 'passwd'), 'outsider:x:5000:5000::/inside:/bin/sh\n');
      expect(specOf({ ...config, User: 'outsider' }, rootfs).process?.user?.uid).toBe(5000);
    });

    it('a relative symlink climbing with .. stops at the rootfs', () => {
      const outside = outsidePasswd();
      const rootfs = rootfsWithEtc();
      symlinkSync(`${'../'.repeat(20)}${outside.slice(1)}/passwd`, join(rootfs, 'etc/passwd'));
      expect(errorOf(() => specFromImage({ ...config, User: 'outsider' }, rootfs)).code).toBe(SpecGenerationErrorCode.UnknownUser);
    });

    it('a symlinked /etc directory is not followed out either', () => {
      const outside = outsidePasswd();
      const rootfs = join(makeTempDir('husk-fi-links-'), 'rootfs');
      mkdirSync(rootfs);
      symlinkSync(outside, join(rootfs, 'etc'));
      expect(errorOf(() => specFromImage({ ...config, User: 'outsider' }, rootfs)).code).toBe(SpecGenerationErrorCode.UnknownUser);
    });

    it('symlinks inside the rootfs work, and loops are an error', () => {
      const rootfs = rootfsWithEtc();
      mkdirSync(join(rootfs, 'usr/share/base'), { recursive: true });
      writeFileSync(join(rootfs, 'usr/share/base/passwd'), 'svc:x:777:778::/svc:/bin/sh\n');
      symlinkSync('../usr/share/base/passwd', join(rootfs, 'etc/passwd'));
      expect(readFileInRoot(rootfs, '/etc/passwd')?.toString()).toBe('svc:x:777:778::/svc:/bin/sh\n');
      expect(specOf({ ...config, User: 'svc' }, rootfs).process?.user).toEqual({ uid: 777, gid: 778, additionalGids: [778] });

      symlinkSync('/etc/group', join(rootfs, 'etc/group'));
      const error = errorOf(() => specFromImage({ ...config, User: 'svc:staff' }, rootfs));
      expect(error.message).toMatch(/cannot read \/etc\/group in the image: too many levels of symbolic links/);
    });
  });
});

// ---------------------------------------------------------------- env

describe('environment merge', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);

  it('puts PATH, HOSTNAME (and TERM with a tty) first, overridden in place; options win over the image', () => {
    const env = specOf({ Cmd: ['sh'], Env: ['PATH=/img/bin', 'A=1', 'B=2', 'TERM=vt100'] }, rootfs, {
      env: ['B=3', 'C=4', 'A'],
      tty: true,
      hostname: 'box',
    }).process?.env;
    // "A" alone unsets A, as docker's ReplaceOrAppendEnvValues
    expect(env).toEqual(['PATH=/img/bin', 'HOSTNAME=box', 'TERM=vt100', 'B=3', 'C=4', 'HOME=/root']);
  });

  it('adds the default PATH only when nobody sets one, and TERM only with a tty', () => {
    const spec = specOf({ Cmd: ['sh'] }, rootfs, { hostname: 'h' });
    expect(spec.process?.env).toEqual(['PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin', 'HOSTNAME=h', 'HOME=/root']);
    expect(spec.process?.terminal).toBe(false);
    const tty = specOf({ Cmd: ['sh'] }, rootfs, { hostname: 'h', tty: true });
    expect(tty.process?.env).toContain('TERM=xterm');
    expect(tty.process?.terminal).toBe(true);
  });

  it('the later of two entries wins, in the place of the first', () => {
    const env = specOf({ Cmd: ['sh'], Env: ['X=image'] }, rootfs, { env: ['X=1', 'Y=y', 'X=2'] }).process?.env;
    expect(env?.filter((e) => e.startsWith('X=') || e.startsWith('Y='))).toEqual(['X=2', 'Y=y']);
  });

  it('takes a record as well as a list', () => {
    const env = specOf({ Cmd: ['sh'] }, rootfs, { env: { ONE: '1', EMPTY: '', EQ: 'a=b' } }).process?.env;
    expect(env).toEqual(expect.arrayContaining(['ONE=1', 'EMPTY=', 'EQ=a=b']));
  });

  it('refuses entries without a name, naming them', () => {
    expect(errorOf(() => specFromImage({ Cmd: ['sh'] }, rootfs, { env: ['OK=1', '=bad'] })).field).toBe('options.env[1]');
    const image = errorOf(() => specFromImage({ Cmd: ['sh'], Env: ['=bad'] }, rootfs));
    expect(image.field).toBe('config.Env[0]');
    expect(image.code).toBe(SpecGenerationErrorCode.InvalidImageConfig);
  });
});

// ---------------------------------------------------------------- capabilities and seccomp

describe('capabilities and seccomp', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const caps = (options: ImageRunOptions) => specOf({ Cmd: ['sh'] }, rootfs, options).process?.capabilities;

  it("gives root docker's default set in bounding, effective and permitted (no ambient, no inheritable)", () => {
    const defaults = [...DOCKER_DEFAULT_CAPABILITIES];
    expect(caps({})).toEqual({ bounding: defaults, effective: defaults, permitted: defaults });
  });

  it('adds and drops, in any spelling', () => {
    const result = caps({ capAdd: ['NET_ADMIN', 'cap_sys_time', 'KILL'], capDrop: ['chown', 'CAP_KILL'] });
    const expected = [...DOCKER_DEFAULT_CAPABILITIES.filter((c) => c !== 'CAP_CHOWN' && c !== 'CAP_KILL'), 'CAP_NET_ADMIN', 'CAP_SYS_TIME', 'CAP_KILL'];
    expect(result?.bounding).toEqual(expected);
    expect(result?.effective).toEqual(expected);
  });

  it('supports ALL on either side', () => {
    expect(caps({ capDrop: ['ALL'], capAdd: ['chown', 'NET_BIND_SERVICE'] })?.bounding).toEqual(['CAP_CHOWN', 'CAP_NET_BIND_SERVICE']);
    expect(caps({ capDrop: ['all'] })?.bounding).toEqual([]);
    expect(caps({ capAdd: ['ALL'], capDrop: ['SYS_ADMIN'] })?.bounding).toEqual(allCapabilities().filter((c) => c !== 'CAP_SYS_ADMIN'));
  });

  it('refuses an unknown capability, naming it', () => {
    const error = errorOf(() => specFromImage({ Cmd: ['sh'] }, rootfs, { capAdd: ['NET_ADMIN', 'NOPE'] }));
    expect(error.code).toBe(SpecGenerationErrorCode.InvalidOption);
    expect(error.message).toBe('options.capAdd[1]: unknown capability: "CAP_NOPE"');
  });

  it("is exactly docker's resolved default profile for docker's default capabilities on amd64", () => {
    expect(defaultSeccompProfile({ capabilities: DOCKER_DEFAULT_CAPABILITIES, arch: 'x64' })).toEqual(readJson(DOCKER_DEFAULT_SECCOMP));
    if (process.arch === 'x64') expect(specOf({ Cmd: ['sh'] }, rootfs).linux?.seccomp).toEqual(readJson(DOCKER_DEFAULT_SECCOMP));
  });

  it('follows the capabilities, as docker resolves its profile', () => {
    const names = (options: ImageRunOptions) => {
      const seccomp = specOf({ Cmd: ['sh'] }, rootfs, options).linux?.seccomp;
      return seccomp?.syscalls?.filter((s) => s.action === 'SCMP_ACT_ALLOW' && !s.args).flatMap((s) => s.names) ?? [];
    };
    expect(names({})).not.toContain('mount');
    expect(names({})).toContain('chroot');
    const admin = specOf({ Cmd: ['sh'] }, rootfs, { capAdd: ['SYS_ADMIN'] }).linux?.seccomp?.syscalls ?? [];
    expect(admin.flatMap((s) => s.names)).toEqual(expect.arrayContaining(['mount', 'unshare', 'setns', 'clone', 'clone3']));
    // with CAP_SYS_ADMIN neither clone restriction applies
    expect(admin.some((s) => s.names.includes('clone') && s.args)).toBe(false);
    expect(admin.some((s) => s.names.includes('clone3') && s.action === 'SCMP_ACT_ERRNO')).toBe(false);
    expect(names({ capDrop: ['SYS_CHROOT'] })).not.toContain('chroot');
    expect(names({ capAdd: ['SYS_PTRACE', 'SYS_TIME'] })).toEqual(expect.arrayContaining(['kcmp', 'pidfd_getfd', 'clock_settime']));
  });

  it('takes "unconfined", a profile object, or refuses anything else', () => {
    expect(specOf({ Cmd: ['sh'] }, rootfs, { seccompProfile: 'unconfined' }).linux?.seccomp).toBeUndefined();
    const custom = { defaultAction: 'SCMP_ACT_ALLOW' as const, syscalls: [{ names: ['mkdir'], action: 'SCMP_ACT_ERRNO' as const, errnoRet: 1 }] };
    expect(specOf({ Cmd: ['sh'] }, rootfs, { seccompProfile: custom }).linux?.seccomp).toEqual(custom);
    const bad = errorOf(() => specFromImage({ Cmd: ['sh'] }, rootfs, { seccompProfile: { defaultAction: 'SCMP_ACT_NOPE' } as never }));
    expect(bad.field).toBe('options.seccompProfile.defaultAction');
    expect(errorOf(() => specFromImage({ Cmd: ['sh'] }, rootfs, { seccompProfile: 'strict' as never })).field).toBe('options.seccompProfile');
  });

  it('privileged: every capability, no seccomp, no masked paths, rw /sys, every device', () => {
    const spec = specOf({ Cmd: ['sh'] }, rootfs, { privileged: true });
    expect(spec.process?.capabilities?.bounding).toEqual([...allCapabilities()]);
    expect(spec.linux?.seccomp).toBeUndefined();
    expect(spec.linux?.maskedPaths).toBeUndefined();
    expect(spec.linux?.readonlyPaths).toBeUndefined();
    expect(spec.linux?.resources?.devices).toEqual([{ allow: true, access: 'rwm' }]);
    expect(spec.mounts?.find((m) => m.destination === '/sys')?.options).not.toContain('ro');
    expect(spec.mounts?.find((m) => m.type === 'cgroup')?.options).not.toContain('ro');
  });

  it('sets no_new_privs only when asked, as docker', () => {
    expect(specOf({ Cmd: ['sh'] }, rootfs, { noNewPrivileges: true }).process?.noNewPrivileges).toBe(true);
  });
});

// ---------------------------------------------------------------- resources

describe('resources', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const gen = (options: ImageRunOptions) => generate({ Cmd: ['sh'] }, rootfs, options);

  it('memory: sizes as docker writes them, swap twice the memory by default (where the kernel limits swap)', () => {
    const generated = gen({ memory: '512m' });
    const memory = generated.spec.linux?.resources?.memory;
    expect(memory?.limit).toBe(512 * 1024 * 1024);
    if (generated.warnings.length === 0) expect(memory?.swap).toBe(1024 * 1024 * 1024);
    else expect(generated.warnings[0]).toMatch(/swap/);
    expect(gen({ memory: 64 * 1024 * 1024 }).spec.linux?.resources?.memory?.limit).toBe(64 * 1024 * 1024);
    expect(gen({ memory: '1.5g' }).spec.linux?.resources?.memory?.limit).toBe(1.5 * 1024 ** 3);
    const unlimitedSwap = gen({ memory: '64m', memorySwap: -1 });
    if (unlimitedSwap.warnings.length === 0) expect(unlimitedSwap.spec.linux?.resources?.memory?.swap).toBe(-1);
    expect(gen({}).spec.linux?.resources?.memory).toBeUndefined();
  });

  it('refuses memory values docker refuses, naming the option', () => {
    expect(errorOf(() => gen({ memory: '4m' })).message).toBe('options.memory: minimum memory limit allowed is 6MB');
    expect(errorOf(() => gen({ memory: '12q' })).message).toBe('options.memory: invalid size "12q"');
    expect(errorOf(() => gen({ memorySwap: '1g' })).field).toBe('options.memorySwap');
    expect(errorOf(() => gen({ memory: '1g', memorySwap: '512m' })).message).toMatch(/larger than the memory limit/);
  });

  it('cpus become a CFS quota over a 100ms period; shares are clamped with a warning', () => {
    expect(gen({ cpus: 0.5 }).spec.linux?.resources?.cpu).toEqual({ quota: 50_000, period: 100_000 });
    expect(gen({ cpus: '0.25', cpuShares: 512 }).spec.linux?.resources?.cpu).toEqual({ shares: 512, quota: 25_000, period: 100_000 });
    const clamped = gen({ cpuShares: 1 });
    expect(clamped.spec.linux?.resources?.cpu).toEqual({ shares: 2 });
    expect(clamped.warnings).toEqual(['CPU shares 1 out of range (2 to 262144): set to 2']);
    expect(errorOf(() => gen({ cpus: 100_000 })).message).toMatch(/^options\.cpus: range of CPUs is from 0\.01 to \d+\.00/);
    expect(errorOf(() => gen({ cpus: 'two' })).field).toBe('options.cpus');
  });

  it('pids: a limit, or unlimited (-1) for 0 and below', () => {
    expect(gen({ pidsLimit: 100 }).spec.linux?.resources?.pids).toEqual({ limit: 100 });
    expect(gen({ pidsLimit: 0 }).spec.linux?.resources?.pids).toEqual({ limit: -1 });
  });

  it('rlimits only when asked', () => {
    expect(gen({}).spec.process?.rlimits).toBeUndefined();
    expect(gen({ ulimits: ['nofile=1024:2048', { name: 'nproc', soft: 64, hard: 64 }] }).spec.process?.rlimits).toEqual([
      { type: 'RLIMIT_NOFILE', soft: 1024, hard: 2048 },
      { type: 'RLIMIT_NPROC', soft: 64, hard: 64 },
    ]);
    expect(errorOf(() => gen({ ulimits: ['nofile=2048:1024'] })).field).toBe('options.ulimits[0]');
    expect(errorOf(() => gen({ ulimits: ['bogus=1'] })).message).toBe('options.ulimits[0]: invalid ulimit type: bogus');
  });
});

// ---------------------------------------------------------------- mounts, namespaces, the rest

describe('mounts', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const gen = (options: ImageRunOptions, config: ImageExecConfig = { Cmd: ['sh'] }) => generate(config, rootfs, options);

  it('-v binds like docker (rbind, ro, rprivate), after the defaults, shallow first', () => {
    const mounts = gen({ mounts: ['/srv/a/b:/mnt/a/b', '/srv/x:/mnt:ro', '/srv/y:/opt/y:rw,rslave'] }).spec.mounts ?? [];
    expect(mounts.slice(-3)).toEqual([
      { destination: '/mnt', type: 'bind', source: '/srv/x', options: ['rbind', 'ro', 'rprivate'] },
      { destination: '/opt/y', type: 'bind', source: '/srv/y', options: ['rbind', 'rslave'] },
      { destination: '/mnt/a/b', type: 'bind', source: '/srv/a/b', options: ['rbind', 'rprivate'] },
    ]);
  });

  it('a user mount replaces the default at the same place, and /dev replaces everything under it', () => {
    const shm = gen({ mounts: [{ type: 'tmpfs', destination: '/dev/shm', size: '1g' }] }).spec.mounts ?? [];
    expect(shm.filter((m) => m.destination === '/dev/shm')).toEqual([
      { destination: '/dev/shm', type: 'tmpfs', source: 'tmpfs', options: ['noexec', 'nosuid', 'nodev', 'rprivate', 'size=1073741824'] },
    ]);
    const dev = gen({ mounts: ['/srv/dev:/dev'] }).spec.mounts ?? [];
    expect(dev.filter((m) => m.destination.startsWith('/dev')).map((m) => m.destination)).toEqual(['/dev']);
  });

  it('--tmpfs merges options like docker, later ones winning', () => {
    const mounts = gen({ tmpfs: ['/run:size=64m,exec', '/tmp'] }).spec.mounts ?? [];
    expect(mounts.find((m) => m.destination === '/run')?.options).toEqual(['nosuid', 'nodev', 'rprivate', 'size=67108864', 'exec']);
    expect(mounts.find((m) => m.destination === '/tmp')?.options).toEqual(['noexec', 'nosuid', 'nodev', 'rprivate']);
  });

  it('named and anonymous volumes are requests until given a host directory', () => {
    const generated = gen({ mounts: ['cache:/cache:ro', '/scratch', { type: 'volume', destination: '/v', name: 'vol' }], volumes: { '/scratch': '/var/lib/husk/volumes/x' } });
    expect(generated.volumes).toEqual([
      { destination: '/cache', name: 'cache', readOnly: true, origin: 'options' },
      { destination: '/scratch', readOnly: false, origin: 'options', source: '/var/lib/husk/volumes/x' },
      { destination: '/v', name: 'vol', readOnly: false, origin: 'options' },
    ]);
    expect(generated.spec.mounts?.at(-1)).toEqual({ destination: '/scratch', type: 'bind', source: '/var/lib/husk/volumes/x', options: ['rbind', 'rprivate'] });
  });

  it('refuses bad mounts, naming them', () => {
    expect(errorOf(() => gen({ mounts: ['/a:/x', '/b:/x/'] })).message).toBe('options.mounts[1]: duplicate mount point: /x');
    expect(errorOf(() => gen({ mounts: ['/a:relative'] })).message).toBe('options.mounts[0]: invalid mount path "relative": must be absolute');
    expect(errorOf(() => gen({ mounts: ['/a:/'] })).field).toBe('options.mounts[0]');
    expect(errorOf(() => gen({ mounts: ['/a:/b:rx'] })).message).toMatch(/invalid mode "rx"/);
    expect(errorOf(() => gen({ mounts: [{ type: 'bind', source: 'rel', destination: '/b' }] })).field).toBe('options.mounts[0].source');
    expect(errorOf(() => gen({ tmpfs: ['/t:mode=99'] })).field).toBe('options.tmpfs[0].options');
    expect(errorOf(() => gen({ volumes: { '/nowhere': '/srv' } })).field).toBe('options.volumes["/nowhere"]');
    expect(errorOf(() => gen({}, { Cmd: ['sh'], Volumes: { data: {} } })).field).toBe('config.Volumes["data"]');
  });

  it('--read-only: the root and the remaining defaults read-only, /dev and /proc as they were', () => {
    const spec = gen({ readOnly: true }).spec;
    expect(spec.root?.readonly).toBe(true);
    for (const m of spec.mounts ?? []) {
      const exempt = ['/proc', '/dev', '/dev/pts', '/dev/shm', '/dev/mqueue'].includes(m.destination);
      expect(m.options?.includes('ro') ?? false).toBe(!exempt);
    }
  });
});

describe('namespaces, hostname, working directory, annotations', () => {
  const rootfs = makeRootfs(PASSWD, GROUP);
  const gen = (options: ImageRunOptions, config: ImageExecConfig = { Cmd: ['sh'] }) => generate(config, rootfs, options);
  const types = (spec: RuntimeSpec) => spec.linux?.namespaces?.map((ns) => ns.type) ?? [];

  it('a private network namespace gets docker’s network sysctls; host and joined ones do not', () => {
    const own = gen({}).spec;
    expect(types(own)).toContain('network');
    if (existsSync('/proc/sys/net/ipv4/ip_unprivileged_port_start')) expect(own.linux?.sysctl?.['net.ipv4.ip_unprivileged_port_start']).toBe('0');

    const host = gen({ networkNamespace: 'host' }).spec;
    expect(types(host)).not.toContain('network');
    expect(host.hostname).toBe(hostname());
    expect(host.linux?.sysctl).toBeUndefined();

    const joined = gen({ networkNamespace: '/run/netns/test', sysctls: { 'net.core.somaxconn': '1024' } }).spec;
    expect(joined.linux?.namespaces?.find((ns) => ns.type === 'network')).toEqual({ type: 'network', path: '/run/netns/test' });
    expect(joined.linux?.sysctl).toEqual({ 'net.core.somaxconn': '1024' });
    expect(errorOf(() => gen({ networkNamespace: 'bridge' })).field).toBe('options.networkNamespace');
  });

  it('cgroup namespace and cgroupsPath', () => {
    expect(types(gen({ cgroupNamespace: 'private' }).spec)).toContain('cgroup');
    expect(types(gen({ cgroupNamespace: 'host' }).spec)).not.toContain('cgroup');
    expect(types(gen({}).spec).includes('cgroup')).toBe(existsSync('/sys/fs/cgroup/cgroup.controllers'));
    expect(gen({ cgroupsPath: '/husk/abc' }).spec.linux?.cgroupsPath).toBe('/husk/abc');
  });

  it('hostname: the option, else the id’s first 12 characters', () => {
    expect(gen({ hostname: 'web' }).spec.hostname).toBe('web');
    expect(gen({ id: '0123456789abcdef' }).spec.hostname).toBe('0123456789ab');
  });

  it('working directory: absolute, cleaned, "/" by default; a relative one is refused where it came from', () => {
    expect(gen({}).spec.process?.cwd).toBe('/');
    expect(gen({}, { Cmd: ['sh'], WorkingDir: '/a//b/' }).spec.process?.cwd).toBe('/a/b');
    expect(errorOf(() => gen({}, { Cmd: ['sh'], WorkingDir: 'rel' })).field).toBe('config.WorkingDir');
    expect(errorOf(() => gen({ workdir: 'rel' })).field).toBe('options.workdir');
  });

  it('labels win over derived annotations; the options win over both', () => {
    const config: ImageExecConfig = { Cmd: ['sh'], StopSignal: 'SIGINT', Labels: { 'org.opencontainers.image.stopSignal': 'SIGUSR1', a: 'label' } };
    const generated = gen({ annotations: { a: 'option' } }, config);
    expect(generated.spec.annotations).toEqual({ 'org.opencontainers.image.stopSignal': 'SIGUSR1', a: 'option' });
    expect(generated.stopSignal).toBe('SIGINT');
    expect(gen({ stopSignal: 9 }).stopSignal).toBe('SIGKILL');
    expect(errorOf(() => gen({ stopSignal: 'SIGNOPE' })).field).toBe('options.stopSignal');
    expect(errorOf(() => gen({}, { Cmd: ['sh'], StopSignal: 'NOPE' }))).toMatchObject({ field: 'config.StopSignal', code: SpecGenerationErrorCode.InvalidImageConfig });
  });

  it('exposed ports from the image and --expose; bad keys are refused', () => {
    expect(gen({ expose: ['80', '443/tcp', '80/tcp'] }, { Cmd: ['sh'], ExposedPorts: { '80/tcp': {} } }).exposedPorts).toEqual([
      { port: 80, protocol: 'tcp' },
      { port: 443, protocol: 'tcp' },
    ]);
    expect(errorOf(() => gen({}, { Cmd: ['sh'], ExposedPorts: { '70000/tcp': {} } }))).toMatchObject({
      field: 'config.ExposedPorts["70000/tcp"]',
      code: SpecGenerationErrorCode.InvalidImageConfig,
    });
    expect(errorOf(() => gen({ expose: ['http'] }))).toMatchObject({ field: 'options.expose[0]', code: SpecGenerationErrorCode.InvalidOption });
  });

  it('accepts the full image config, its `config` alone, or nothing', () => {
    const full = { architecture: 'arm64', os: 'linux', variant: 'v8', rootfs: { type: 'layers' as const, diff_ids: [] }, config: { Cmd: ['x'] } };
    const spec = gen({}, full as never).spec;
    expect(spec.process?.args).toEqual(['x']);
    expect(spec.annotations).toMatchObject({ 'org.opencontainers.image.architecture': 'arm64', 'org.opencontainers.image.variant': 'v8' });
    expect(specOf(null, rootfs, { args: ['y'] }).process?.args).toEqual(['y']);
    expect(specOf({ ...full, config: null }, rootfs, { args: ['z'] }).process?.args).toEqual(['z']);
    expect(errorOf(() => specFromImage(full as never, join(rootfs, 'missing')))).toMatchObject({ field: 'rootfsDir', code: SpecGenerationErrorCode.InvalidOption });
  });
});

// ---------------------------------------------------------------- end to end

describe.skipIf(!canRunContainers)('end to end: husk-runtime runs what the generator writes', () => {
  let fixture: Fixture;
  let bundle: string;
  let stateRoot: string;
  const started: string[] = [];
  let counter = 0;

  beforeAll(() => {
    fixture = buildFixture('config');
    bundle = join(fixture.rootfs, '..');
    stateRoot = makeTempDir('husk-fi-state-');
  });

  afterEach(() => {
    for (const id of started.splice(0)) spawnSync(RUNTIME, ['--root', stateRoot, 'delete', '--force', id], { stdio: 'ignore' });
  });

  /** Writes config.json for `options` and runs it to completion; returns its exit code and output. */
  function run(options: ImageRunOptions): { id: string; status: number | null; stdout: string; stderr: string } {
    const id = `husk-fi-${process.pid}-${++counter}`;
    writeFileSync(join(bundle, 'config.json'), serializeSpec(specFromImage(fixture.config, fixture.rootfs, { id, ...options })));
    started.push(id);
    const result = spawnSync(RUNTIME, ['--root', stateRoot, 'run', '--bundle', bundle, id], { encoding: 'utf8', timeout: 30_000 });
    return { id, status: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  it("runs the image's own command as its user, in its working directory, with its env", () => {
    const result = run({});
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe('hello world from /srv/app as 1000:1000\n');
    expect(result.status).toBe(0);
  });

  it('the container sees the user, cwd, args and env; the default seccomp profile is in effect', () => {
    const result = run({
      args: ['id; pwd; echo "args: $0 $1"; env; grep Seccomp: /proc/self/status; unshare -U true; echo "unshare: $?"', 'zero', 'one'],
      env: ['GREETING=from options', 'EXTRA=1'],
      groupAdd: ['nogroup'],
      workdir: '/home/app',
    });
    expect(result.status).toBe(0);
    const lines = result.stdout.split('\n');
    expect(lines[0]).toBe('uid=1000(app) gid=1000(app) groups=1000(app),65534(nogroup)');
    expect(lines[1]).toBe('/home/app');
    expect(lines[2]).toBe('args: zero one');
    expect(lines).toEqual(expect.arrayContaining(['GREETING=from options', 'EXTRA=1', 'EMPTY=', 'WITH_EQUALS=a=b=c', 'HOME=/home/app', `HOSTNAME=${result.id.slice(0, 12)}`]));
    expect(lines).toContain('Seccomp:\t2');
    // unshare(2) is not in the default profile without CAP_SYS_ADMIN: EPERM
    expect(lines).toContain('unshare: 1');
    expect(result.stderr).toMatch(/unshare.*Operation not permitted/);
  });

  it.skipIf(spawnSync('unshare', ['-U', 'true']).status !== 0)('"unconfined" lifts it: unshare -U succeeds', () => {
    const result = run({ args: ['grep Seccomp: /proc/self/status; unshare -U true; echo "unshare: $?"'], seccompProfile: 'unconfined' });
    expect(result.stdout).toBe('Seccomp:\t0\nunshare: 0\n');
  });

  it('root with added capabilities gets exactly those', () => {
    const result = run({ user: 'root', capDrop: ['ALL'], capAdd: ['CHOWN', 'NET_ADMIN', 'KILL'], args: ['grep -E "^Cap(Eff|Bnd)" /proc/self/status; id'] });
    const mask = ((1n << 0n) | (1n << 12n) | (1n << 5n)).toString(16).padStart(16, '0');
    expect(result.stdout).toBe(`CapEff:\t${mask}\nCapBnd:\t${mask}\nuid=0(root) gid=0(root) groups=0(root)\n`);
  });

  it('resource limits reach the cgroup; mounts, tmpfs and --read-only work', () => {
    const hostFile = join(makeTempDir('husk-fi-bind-'), 'hello.txt');
    writeFileSync(hostFile, 'from the host\n');
    const workdir = makeTempDir('husk-fi-workdir-');
    chmodSync(workdir, 0o777); // the container runs as app (1000)
    const v2 = existsSync('/sys/fs/cgroup/cgroup.controllers');
    const memoryFile = v2 ? '/sys/fs/cgroup/memory.max' : '/sys/fs/cgroup/memory/memory.limit_in_bytes';
    const pidsFile = v2 ? '/sys/fs/cgroup/pids.max' : '/sys/fs/cgroup/pids/pids.max';
    const result = run({
      memory: '64m',
      pidsLimit: 50,
      cpus: 0.5,
      readOnly: true,
      mounts: [`${hostFile}:/mnt/hello.txt:ro`, '/srv/app'],
      volumes: { '/srv/app': workdir },
      tmpfs: ['/scratch:size=1m'],
      ...(v2 ? { cgroupNamespace: 'private' as const } : {}),
      args: [
        `cat ${memoryFile} ${pidsFile} /mnt/hello.txt; touch /rootfs-write 2>/dev/null && echo root writable; ` +
          'touch /scratch/ok && echo scratch writable; touch /srv/app/ok && echo volume writable; ' +
          'touch /data/x 2>/dev/null || echo "no /data volume"',
      ],
    });
    expect(result.stderr).toBe('');
    expect(result.stdout).toBe(`${64 * 1024 * 1024}\n50\nfrom the host\nscratch writable\nvolume writable\nno /data volume\n`);
    expect(result.status).toBe(0);
  });

  it('a numeric user without a passwd entry runs with gid 0 and HOME=/', () => {
    const result = run({ user: '4242', args: ['id; echo "$HOME"'] });
    expect(result.stdout).toBe('uid=4242 gid=0(root) groups=0(root)\n/\n');
  });
});
