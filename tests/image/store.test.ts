// The store side against the real fixtures: `layers:latest` unpacks to exactly what
// verify-rootfs.py expects (overlay snapshot and flattened), evil:* write nothing outside, two
// concurrent pulls share downloads, rmi/prune free content, export passes `skopeo inspect`,
// and the CLI commands (pull, images, rmi, image prune/export, login/logout).
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { afterAll, afterEach, beforeAll, describe, expect, test } from 'vitest';
import {
  exportImage,
  flattenLayers,
  listImages,
  prepareSnapshot,
  pruneImages,
  pullImage,
  removeImages,
  removeSnapshot,
  ContentStore,
  type PullEvent,
} from '../../ts/src/image/index.js';
import { isMountPoint } from '../../ts/src/image/snapshot.js';
import { buildCli, HUSK_MAIN } from '../cli/run-husk.js';
import { FIXTURE_PASS, FIXTURE_USER, FIXTURES_DIR, startRegistries, type Registries } from './fixtures.js';

const runAsync = promisify(execFile);
let reg: Registries;
// Made in beforeAll, so a file that is only collected (never run) leaves nothing in /tmp.
let scratch = '';
let sequence = 0;
const freshDir = (what: string) => join(scratch, `${what}-${++sequence}`);
const snapshots: Array<[string, string]> = [];

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-store-'));
  reg = await startRegistries();
  buildCli();
});
afterEach(async () => {
  for (const [root, id] of snapshots.splice(0)) await removeSnapshot(root, id);
});
afterAll(async () => {
  await reg?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

function verifyRootfs(rootfs: string): string {
  const result = spawnSync('python3', [join(FIXTURES_DIR, 'verify-rootfs.py'), rootfs, reg.expectedLayers], { encoding: 'utf8' });
  return result.stdout.trim();
}

async function snapshot(root: string, diffIds: string[], image?: string) {
  const id = `snap-${++sequence}`;
  const snap = await prepareSnapshot(root, id, diffIds, image !== undefined ? { image } : {});
  snapshots.push([root, id]);
  return snap;
}

describe('unpack', () => {
  test('layers:latest through an overlay snapshot passes verify-rootfs 40/40', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/layers:latest`, { root });
    const snap = await snapshot(root, record.layers.map((l) => l.diffId));
    expect(await isMountPoint(snap.merged)).toBe(true);
    expect(verifyRootfs(snap.merged)).toBe('40 passed, 0 failed');
  });

  test('layers:latest flattened onto one directory passes verify-rootfs 40/40', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/layers:v2s2`, { root });
    const rootfs = freshDir('rootfs');
    await flattenLayers(new ContentStore(root), record.layers, rootfs);
    expect(verifyRootfs(rootfs)).toBe('40 passed, 0 failed');
  });

  test('shared layer dirs hold overlayfs whiteouts and opaque markers', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/layers:latest`, { root });
    const layer2 = join(root, 'layers/sha256', record.layers[2]!.diffId.slice(7));
    const whiteout = lstatSync(join(layer2, 'data/deleteme.txt'));
    expect(whiteout.isCharacterDevice() && whiteout.rdev === 0).toBe(true);
    const xattr = spawnSync('getfattr', ['--only-values', '-n', 'trusted.overlay.opaque', join(layer2, 'opq')], { encoding: 'utf8' });
    if (xattr.error === undefined) expect(xattr.stdout).toBe('y');
  });

  test('layers:xlink: a hardlink to a lower layer file unpacks', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/layers:xlink`, { root });
    const snap = await snapshot(root, record.layers.map((l) => l.diffId));
    expect(readFileSync(join(snap.merged, 'links/hard2'), 'utf8')).toBe('hardlinked\n');
  });

  test('zstd layers unpack to the same tree as gzip', async () => {
    const root = freshDir('root');
    const gzip = await pullImage(`${reg.plain}/busybox:latest`, { root });
    const zstd = await pullImage(`${reg.plain}/busybox:zstd`, { root });
    expect(zstd.layers[0]!.mediaType).toBe('application/vnd.oci.image.layer.v1.tar+zstd');
    expect(zstd.layers[0]!.diffId).toBe(gzip.layers[0]!.diffId);
  });
});

describe('evil images write nothing outside the rootfs', () => {
  const target = '/tmp/registry-evil-target';
  const around = (root: string) => [join(root, '..'), root, join(root, 'layers'), join(root, 'layers/sha256'), '/', '/tmp'];
  const strays = (root: string) =>
    around(root).flatMap((dir) => (existsSync(dir) ? readdirSync(dir).filter((n) => /^(evil|pwned)/.test(n)) : []));

  test.each(['dotdot', 'abs', 'symlink', 'hardlink'])('evil:%s', async (tag) => {
    const hostname = statSync('/etc/hostname', { throwIfNoEntry: false });
    expect(existsSync(target)).toBe(false);
    const root = freshDir('root');
    const pulled = await pullImage(`${reg.plain}/evil:${tag}`, { root }).then(
      (record) => ({ record }),
      (error: { code?: string }) => ({ error }),
    );
    if ('error' in pulled) {
      // The hardlink target does not exist inside the image: refusing it is the safe answer.
      expect(tag).toBe('hardlink');
      expect(pulled.error.code).toBe('EUNPACK_ENTRY');
      expect(readdirSync(join(root, 'layers/tmp'))).toEqual([]);
    } else {
      const snap = await snapshot(root, pulled.record.layers.map((l) => l.diffId));
      const rootfs = freshDir('rootfs');
      await flattenLayers(new ContentStore(root), pulled.record.layers, rootfs);
      for (const dir of [snap.merged, rootfs]) expect(existsSync(join(dir, 'bin/busybox'))).toBe(true);
    }
    expect(existsSync(target)).toBe(false);
    expect(strays(root)).toEqual([]);
    if (hostname !== undefined) expect(statSync('/etc/hostname').nlink).toBe(hostname.nlink);
  });
});

describe('store', () => {
  test('two concurrent pulls of one image download each blob once and both succeed', async () => {
    const root = freshDir('root');
    const downloads: number[] = [];
    const pull = () =>
      pullImage(`${reg.proxy}/slow/busybox:latest`, {
        root,
        onEvent: (e: PullEvent) => {
          if (e.type === 'done') downloads.push(e.downloaded);
        },
      });
    const [a, b] = await Promise.all([pull(), pull()]);
    expect(a.digest).toBe(b.digest);
    expect(downloads.sort()).toEqual([0, 1]);
  });

  test('two husk pull processes at once both succeed, sharing the download', async () => {
    const root = freshDir('root');
    const pull = () => runAsync(process.execPath, [HUSK_MAIN, '--root', root, 'pull', '--json', `${reg.proxy}/slow/layers:latest`]);
    const outputs = await Promise.all([pull(), pull()]);
    const downloaded = outputs.map(({ stdout }) => {
      const done = stdout.split('\n').filter(Boolean).map((l) => JSON.parse(l) as PullEvent).find((e) => e.type === 'done');
      return done?.type === 'done' ? done.downloaded : -1;
    });
    expect(downloaded[0]! + downloaded[1]!).toBe(4);
    expect(await listImages(root)).toHaveLength(1);
  });

  test('rmi frees what only that image used; prune frees leftovers', async () => {
    const root = freshDir('root');
    const busybox = await pullImage(`${reg.plain}/busybox:latest`, { root });
    const layers = await pullImage(`${reg.plain}/layers:latest`, { root });
    const blobs = () => readdirSync(join(root, 'blobs/sha256')).sort();
    const layerDirs = () => readdirSync(join(root, 'layers/sha256')).sort();
    expect(layerDirs()).toHaveLength(4);

    const removed = await removeImages(root, [`${reg.plain}/layers:latest`]);
    expect(removed.untagged).toEqual([layers.reference]);
    expect(layerDirs()).toEqual([busybox.layers[0]!.diffId.slice(7)]);
    expect(blobs()).toEqual([busybox.digest, busybox.configDigest, busybox.layers[0]!.digest].map((d) => d.slice(7)).sort());

    await removeImages(root, [busybox.configDigest.slice(7, 19)]);
    expect(blobs()).toEqual([]);
    expect(layerDirs()).toEqual([]);
    await expect(removeImages(root, ['busybox'])).rejects.toMatchObject({ code: 'ENOTFOUND_LOCAL_IMAGE' });
  });

  test('rmi refuses an image a snapshot uses, unless forced; its layers stay while the snapshot does', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/busybox:latest`, { root });
    const snap = await snapshot(root, record.layers.map((l) => l.diffId), record.reference);
    await expect(removeImages(root, [record.reference])).rejects.toMatchObject({ code: 'EIMAGE_IN_USE' });
    await removeImages(root, [record.reference], { force: true });
    expect(readdirSync(join(root, 'layers/sha256'))).toHaveLength(1);
    expect(existsSync(join(snap.merged, 'bin/busybox'))).toBe(true);
    const [entry] = snapshots.splice(snapshots.findIndex(([, id]) => id === snap.id), 1);
    await removeSnapshot(...entry!);
    expect(existsSync(snap.merged)).toBe(false);
    await pruneImages(root);
    expect(readdirSync(join(root, 'layers/sha256'))).toEqual([]);
  });

  test('prune --all removes every image no snapshot uses', async () => {
    const root = freshDir('root');
    await pullImage(`${reg.plain}/busybox:latest`, { root });
    await pullImage(`${reg.plain}/config:latest`, { root });
    const result = await pruneImages(root, { all: true });
    expect(result.untagged).toHaveLength(2);
    expect(readdirSync(join(root, 'blobs/sha256'))).toEqual([]);
  });

  test('an exported OCI layout passes skopeo inspect', async () => {
    const root = freshDir('root');
    const record = await pullImage(`${reg.plain}/layers:v2s2`, { root });
    const layout = freshDir('layout');
    await exportImage(root, `${reg.plain}/layers:v2s2`, layout);
    const { stdout } = await runAsync('skopeo', ['inspect', `oci:${layout}:v2s2`]);
    const inspected = JSON.parse(stdout) as { Digest: string; Layers: string[]; Architecture: string };
    // A Docker schema2 manifest is converted to OCI (new digest), over the same blobs.
    expect(inspected.Digest).not.toBe(record.manifestDigest);
    expect(inspected.Layers).toEqual(record.layers.map((l) => l.digest));
    expect(inspected.Architecture).toBe('amd64');
  });
});

describe('cli', () => {
  const husk = (args: string[], options: { input?: string; env?: Record<string, string> } = {}) =>
    spawnSync(process.execPath, [HUSK_MAIN, ...args], {
      encoding: 'utf8',
      input: options.input ?? '',
      env: { ...process.env, NO_COLOR: '1', ...options.env },
    });

  test('pull prints per-layer lines when not a TTY, --quiet only the reference, --json events', () => {
    const root = freshDir('root');
    const plain = husk(['--root', root, 'pull', `${reg.plain}/layers:latest`]);
    expect(plain.status, plain.stderr).toBe(0);
    expect(plain.stdout).toMatch(/^[a-f0-9]{12}: Pull complete$/m);
    expect(plain.stdout).toMatch(/Status: Downloaded newer image for 127\.0\.0\.1:\d+\/layers:latest/);
    const quiet = husk(['--root', root, 'pull', '-q', `${reg.plain}/layers:latest`]);
    expect(quiet.stdout).toBe(`${reg.plain}/layers:latest\n`);
    const json = husk(['--root', root, 'pull', '--json', `${reg.plain}/busybox:latest`]);
    const events = json.stdout.trim().split('\n').map((l) => JSON.parse(l) as { type: string });
    expect(events.map((e) => e.type)).toEqual(expect.arrayContaining(['resolved', 'layer', 'done', 'image']));

    const images = husk(['--root', root, 'images']);
    expect(images.stdout).toMatch(/^REPOSITORY\s+TAG\s+IMAGE ID\s+CREATED\s+SIZE$/m);
    expect(images.stdout).toMatch(new RegExp(`^${reg.plain.replace(/\./g, '\\.')}/layers\\s+latest\\s+[a-f0-9]{12}\\s+2024-01-01`, 'm'));
    const rmi = husk(['--root', root, 'rmi', `${reg.plain}/layers:latest`, `${reg.plain}/busybox`]);
    expect(rmi.status, rmi.stderr).toBe(0);
    expect(rmi.stdout).toContain('Untagged: ');
    expect(husk(['--root', root, 'images', '-q']).stdout).toBe('');
    const prune = husk(['--root', root, 'image', 'prune']);
    expect(prune.status, prune.stderr).toBe(0);
  });

  test('errors exit 125 with a message naming the reference', () => {
    const root = freshDir('root');
    const bad = husk(['--root', root, 'pull', 'Busybox']);
    expect(bad.status).toBe(125);
    expect(bad.stderr).toContain('invalid reference "Busybox"');
    const missing = husk(['--root', root, 'pull', `${reg.plain}/busybox:nope`]);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toContain('busybox:nope not found');
  });

  test('login stores credentials with mode 0600, pull uses them, logout removes them', () => {
    const config = freshDir('docker-config');
    const env = { DOCKER_CONFIG: config };
    const root = freshDir('root');
    const refused = husk(['login', '-u', FIXTURE_USER, '--password-stdin', reg.basic], { input: 'wrong\n', env });
    expect(refused.status).toBe(125);
    expect(existsSync(join(config, 'config.json'))).toBe(false);
    const login = husk(['login', '-u', FIXTURE_USER, '--password-stdin', reg.basic], { input: `${FIXTURE_PASS}\n`, env });
    expect(login.status, login.stderr).toBe(0);
    const file = join(config, 'config.json');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const auths = (JSON.parse(readFileSync(file, 'utf8')) as { auths: Record<string, { auth: string }> }).auths;
    expect(Buffer.from(auths[reg.basic]!.auth, 'base64').toString()).toBe(`${FIXTURE_USER}:${FIXTURE_PASS}`);
    const tokenLogin = husk(['login', '-u', FIXTURE_USER, '-p', FIXTURE_PASS, reg.token], { env });
    expect(tokenLogin.status, tokenLogin.stderr).toBe(0);
    expect(husk(['--root', root, 'pull', '-q', `${reg.basic}/busybox:latest`], { env }).status).toBe(0);
    expect(husk(['--root', root, 'pull', '-q', `${reg.token}/private/busybox:latest`], { env }).status).toBe(0);
    expect(husk(['logout', reg.basic], { env }).stdout).toContain(`Removing login credentials for ${reg.basic}`);
    const after = husk(['--root', freshDir('root'), 'pull', '-q', `${reg.basic}/busybox:latest`], { env });
    expect(after.status).toBe(125);
    expect(after.stderr).toContain('husk login');
  });

  test('image export writes a layout skopeo accepts', async () => {
    const root = freshDir('root');
    expect(husk(['--root', root, 'pull', '-q', `${reg.plain}/busybox:latest`]).status).toBe(0);
    const layout = freshDir('layout');
    const exported = husk(['--root', root, 'image', 'export', `${reg.plain}/busybox:latest`, layout]);
    expect(exported.status, exported.stderr).toBe(0);
    const { stdout } = await runAsync('skopeo', ['inspect', `oci:${layout}:latest`]);
    expect((JSON.parse(stdout) as { Digest: string }).Digest).toBe(reg.refs.find((r) => r.name === 'busybox')!.digest);
  });
});
