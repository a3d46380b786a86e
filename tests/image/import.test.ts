// `husk image import` / `export` against the real fixtures: skopeo writes a fixture as an OCI
// layout (dir and archive) and as a docker save tarball; each imports into a fresh store and
// must equal the pulled image (digests, diff ids, an unpacked rootfs passing verify-rootfs);
// husk's own exports (OCI dir, docker tarball) round-trip; tampered archives are refused.
import { execFile, spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { ContentStore, exportImage, flattenLayers, listImages, pullImage, type ImageRecord } from '../../ts/src/image/index.js';
import { exportDockerArchive } from '../../ts/src/image/export.js';
import { importImages } from '../../ts/src/image/import.js';
import { MediaType } from '../../ts/src/spec/image-spec.js';
import { buildCli, HUSK_MAIN } from '../cli/run-husk.js';
import { FIXTURES_DIR, startRegistries, type Registries } from './fixtures.js';

const runAsync = promisify(execFile);
let reg: Registries;
/** Made in beforeAll, so a file collected but not run leaves nothing behind. */
let scratch = '';
let sequence = 0;
const fresh = (what: string) => join(scratch, `${what}-${++sequence}`);
/** A file path in a new directory. */
const freshFile = (name: string) => {
  const dir = fresh('files');
  mkdirSync(dir);
  return join(dir, name);
};
/** Pulled once, compared against by every test. */
let pulled: ImageRecord;

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-import-'));
  reg = await startRegistries();
  buildCli();
  pulled = await pullImage(`${reg.plain}/layers:latest`, { root: fresh('root') });
});
afterAll(async () => {
  await reg?.stop();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

const skopeo = (...args: string[]) => runAsync('skopeo', ['--insecure-policy', 'copy', '-q', '--src-tls-verify=false', ...args], { maxBuffer: 16 << 20 });

function verifyRootfs(rootfs: string): string {
  return spawnSync('python3', [join(FIXTURES_DIR, 'verify-rootfs.py'), rootfs, reg.expectedLayers], { encoding: 'utf8' }).stdout.trim();
}

/** The imported image is the pulled one: same config and diff ids, and its layers unpack right. */
async function expectSameImage(root: string, record: ImageRecord, options: { sameBlobs: boolean }) {
  expect(record.configDigest).toBe(pulled.configDigest);
  expect(record.platform).toBe('linux/amd64');
  expect(record.layers.map((l) => l.diffId)).toEqual(pulled.layers.map((l) => l.diffId));
  if (options.sameBlobs) {
    expect(record.manifestDigest).toBe(pulled.manifestDigest);
    expect(record.layers).toEqual(pulled.layers);
  }
  for (const layer of record.layers) expect(existsSync(join(root, 'layers/sha256', layer.diffId.slice(7)))).toBe(true);
  const rootfs = fresh('rootfs');
  await flattenLayers(new ContentStore(root), record.layers, rootfs);
  expect(verifyRootfs(rootfs)).toBe('40 passed, 0 failed');
  for (const dir of ['ingest', 'locks', 'leases', 'layers/tmp']) expect(readdirSync(join(root, dir)), dir).toEqual([]);
}

describe('import', () => {
  test('an OCI layout from skopeo (directory and oci-archive tarball) equals the pulled image', async () => {
    const layout = fresh('oci');
    await skopeo(`docker://${reg.plain}/layers:latest`, `oci:${layout}:latest`);
    const root = fresh('root');
    // index.json names it by tag only: the repository comes from --name.
    await expect(importImages(layout, { root })).rejects.toMatchObject({ code: 'EINVAL_REFERENCE' });
    const [record, ...more] = await importImages(layout, { root, name: 'example.com/imported/layers' });
    expect(more).toEqual([]);
    expect(record!.reference).toBe('example.com/imported/layers:latest');
    await expectSameImage(root, record!, { sameBlobs: true });

    const archive = freshFile('layers.tar');
    await skopeo(`docker://${reg.plain}/layers:latest`, `oci-archive:${archive}:latest`);
    const root2 = fresh('root');
    const [fromTar] = await importImages(archive, { root: root2, name: 'imported:v1' });
    expect(fromTar!.reference).toBe('docker.io/library/imported:v1');
    await expectSameImage(root2, fromTar!, { sameBlobs: true });
  });

  test('a docker save tarball from skopeo (plain layer tars, symlinks), also gzip-compressed, equals the pulled image', async () => {
    const archive = freshFile('layers.tar');
    await skopeo(`docker://${reg.plain}/layers:latest`, `docker-archive:${archive}:${reg.plain}/layers:saved`);
    const root = fresh('root');
    const [record] = await importImages(archive, { root });
    expect(record!.reference).toBe(`${reg.plain}/layers:saved`);
    expect(record!.manifestMediaType).toBe(MediaType.DockerManifest);
    // docker save layers are uncompressed: their digests are the diff ids.
    expect(record!.layers.map((l) => l.digest)).toEqual(pulled.layers.map((l) => l.diffId));
    await expectSameImage(root, record!, { sameBlobs: false });

    const gzipped = `${archive}.gz`;
    writeFileSync(gzipped, gzipSync(readFileSync(archive)));
    const root2 = fresh('root');
    const [again] = await importImages(gzipped, { root: root2, name: 'saved:gz' });
    expect(again!.manifestDigest).toBe(record!.manifestDigest);
  });

  test('a multi-platform layout imports the host platform, or the one asked for', async () => {
    const layout = fresh('oci');
    await skopeo('--all', '--preserve-digests', `docker://${reg.plain}/busybox:multi`, `oci:${layout}:multi`);
    const multi = reg.refs.find((r) => r.name === 'multi')!;
    const root = fresh('root');
    const [amd64] = await importImages(layout, { root, name: 'bb' });
    expect(amd64).toMatchObject({ reference: 'docker.io/library/bb:multi', digest: multi.digest, platform: 'linux/amd64' });
    const [arm64] = await importImages(layout, { root, name: 'bb-arm:v8', platform: 'linux/arm64' });
    expect(arm64).toMatchObject({ digest: multi.digest, platform: 'linux/arm64/v8' });
    expect(arm64!.manifestDigest).not.toBe(amd64!.manifestDigest);
  });

  test("husk's exports round-trip: OCI layout dir, and a docker tarball that skopeo reads", async () => {
    const source = fresh('root');
    const v2s2 = await pullImage(`${reg.plain}/layers:v2s2`, { root: source });
    const layout = fresh('layout');
    await exportImage(source, v2s2.reference, layout);
    const root = fresh('root');
    const [fromLayout] = await importImages(layout, { root, name: `${reg.plain}/layers` });
    expect(fromLayout!.reference).toBe(`${reg.plain}/layers:v2s2`);
    await expectSameImage(root, fromLayout!, { sameBlobs: false });
    expect(fromLayout!.layers.map((l) => l.digest)).toEqual(v2s2.layers.map((l) => l.digest));

    const tarball = freshFile('layers.tar');
    await exportDockerArchive(source, [v2s2.reference], tarball);
    const { stdout } = await runAsync('skopeo', ['inspect', `docker-archive:${tarball}`]);
    const inspected = JSON.parse(stdout) as { RepoTags: string[]; Architecture: string };
    expect(inspected.Architecture).toBe('amd64');
    // skopeo reads the same tarball as an OCI archive too (docker 25's format).
    const oci = JSON.parse((await runAsync('skopeo', ['inspect', `oci-archive:${tarball}`])).stdout) as { Layers: string[] };
    expect(oci.Layers).toEqual(v2s2.layers.map((l) => l.digest));
    const root2 = fresh('root');
    const [fromTar] = await importImages(tarball, { root: root2 });
    expect(fromTar!.reference).toBe(v2s2.reference);
    await expectSameImage(root2, fromTar!, { sameBlobs: false });
  });

  test('tampered archives are refused and leave nothing recorded or half-written', async () => {
    const layout = fresh('oci');
    await skopeo(`docker://${reg.plain}/layers:latest`, `oci:${layout}:latest`);
    const bad = fresh('bad');
    cpSync(layout, bad, { recursive: true });
    const victim = join(bad, 'blobs/sha256', pulled.layers[1]!.digest.slice(7));
    const bytes = readFileSync(victim);
    bytes[bytes.length - 10]! ^= 0xff;
    writeFileSync(victim, bytes);
    const root = fresh('root');
    await expect(importImages(bad, { root, name: 'bad' })).rejects.toMatchObject({ code: 'EDIGEST_MISMATCH' });

    const archive = freshFile('layers.tar');
    await skopeo(`docker://${reg.plain}/layers:latest`, `docker-archive:${archive}:bad:tar`);
    const tampered = readFileSync(archive);
    const at = tampered.indexOf(Buffer.from('data/')); // inside the first layer tar
    tampered[at + 1]! ^= 0x20;
    writeFileSync(archive, tampered);
    await expect(importImages(archive, { root })).rejects.toMatchObject({ code: 'EDIGEST_MISMATCH' });
    await expect(importImages(join(scratch, 'nothing-here'), { root })).rejects.toMatchObject({ code: 'ENOTFOUND_IMAGE' });
    expect(await listImages(root)).toEqual([]);
    for (const dir of ['ingest', 'locks', 'leases']) expect(readdirSync(join(root, dir)), dir).toEqual([]);
  });

  test('husk image import / export --format docker on the command line', async () => {
    const root = fresh('root');
    const husk = (...args: string[]) => spawnSync(process.execPath, [HUSK_MAIN, '--root', root, ...args], { encoding: 'utf8' });
    const archive = freshFile('bb.tar');
    await skopeo(`docker://${reg.plain}/busybox:latest`, `docker-archive:${archive}:busybox:saved`);
    const loaded = husk('image', 'import', archive);
    expect(loaded.status, loaded.stderr).toBe(0);
    expect(loaded.stdout).toBe('Loaded image: busybox:saved\n');
    const out = freshFile('again.tar');
    const exported = husk('image', 'export', '--format', 'docker', 'busybox:saved', out);
    expect(exported.status, exported.stderr).toBe(0);
    expect(husk('rmi', 'busybox:saved').status).toBe(0);
    expect(husk('image', 'import', '-q', out).stdout).toBe('docker.io/library/busybox:saved\n');
    const unnamed = husk('image', 'import', join(scratch, 'nothing-here'));
    expect(unnamed.status).toBe(125);
    expect(unnamed.stderr).toContain('no such file or directory');
  });
});
