/**
 * Writes stored images out: as an OCI image layout directory (oci-layout, index.json,
 * blobs/sha256/*), or as one tarball that is both a `docker save` archive (manifest.json) and an
 * OCI layout, as docker 25+ writes them — `docker load`, `skopeo docker-archive:`/`oci-archive:`
 * and `husk image import` all read it.
 */
import { once } from 'node:events';
import { createReadStream, createWriteStream } from 'node:fs';
import { copyFile, link, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import type { Writable } from 'node:stream';
import { Annotation, MediaType, type Descriptor, type DockerManifest } from '../spec/image-spec.js';
import { TAR_END, tarHeader, tarPadding } from './archive/tar.js';
import { digestHex, sha256Digest } from './digest.js';
import { ErrorCode, HuskError } from '../errors.js';
import { findImage, type ImageRecord } from './images.js';
import { familiarReference, parseReference } from './reference.js';
import { ContentStore, exists } from './store/content-store.js';

/** What an export writes for one image: the (OCI) manifest and the store blobs it needs. */
interface ExportPlan {
  record: ImageRecord;
  manifest: { digest: string; mediaType: string; size: number };
  /** Set when the stored manifest had to be converted (Docker schema2 → OCI). */
  convertedManifest?: Buffer;
  /** Store blobs to copy, manifest first when it is the stored one. */
  blobs: string[];
}

async function planExport(store: ContentStore, record: ImageRecord): Promise<ExportPlan> {
  const blobs = [record.configDigest, ...record.layers.map((l) => l.digest)];
  const manifestBytes = await readFile(store.layout.blob(record.manifestDigest));
  if (record.manifestMediaType === MediaType.DockerManifest) {
    // OCI layout readers (skopeo, umoci) only accept OCI manifests: convert, keeping every blob.
    const converted = Buffer.from(JSON.stringify(toOciManifest(JSON.parse(manifestBytes.toString('utf8')) as DockerManifest)));
    return { record, blobs, convertedManifest: converted, manifest: { digest: sha256Digest(converted), mediaType: MediaType.OciImageManifest, size: converted.length } };
  }
  return { record, blobs: [record.manifestDigest, ...blobs], manifest: { digest: record.manifestDigest, mediaType: record.manifestMediaType, size: manifestBytes.length } };
}

/** The index.json entry of an exported image, named `tag` (and, for docker, the full name). */
function indexEntry(plan: ExportPlan, tag: string, fullName?: string): object {
  const [os, architecture, variant] = plan.record.platform.split('/');
  return {
    mediaType: plan.manifest.mediaType,
    digest: plan.manifest.digest,
    size: plan.manifest.size,
    platform: { os, architecture, ...(variant !== undefined && { variant }) },
    annotations: { ...(fullName !== undefined && { 'io.containerd.image.name': fullName }), [Annotation.RefName]: tag },
  };
}

/** Exports `image` into the layout at `dir` (created or added to), tagged `tag` (default the image's tag). */
export async function exportImage(root: string, image: string, dir: string, tag?: string): Promise<void> {
  const record = await findImage(root, image);
  const store = new ContentStore(root);
  const plan = await planExport(store, record);
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  if (plan.convertedManifest !== undefined) await writeFile(join(blobs, digestHex(plan.manifest.digest)), plan.convertedManifest);
  for (const digest of plan.blobs) {
    const target = join(blobs, digestHex(digest));
    if (await exists(target)) continue;
    // A hardlink shares the (immutable) blob; across filesystems it is copied.
    await link(store.layout.blob(digest), target).catch(() => copyFile(store.layout.blob(digest), target));
  }
  await writeFile(join(dir, 'oci-layout'), JSON.stringify({ imageLayoutVersion: '1.0.0' }));
  const indexPath = join(dir, 'index.json');
  const index = (await exists(indexPath))
    ? (JSON.parse(await readFile(indexPath, 'utf8')) as { manifests: Array<{ annotations?: Record<string, string> }> })
    : { schemaVersion: 2, mediaType: MediaType.OciImageIndex, manifests: [] };
  const name = tag ?? parseReference(record.reference).tag ?? 'latest';
  index.manifests = index.manifests.filter((m) => m.annotations?.[Annotation.RefName] !== name);
  index.manifests.push(indexEntry(plan, name) as { annotations: Record<string, string> });
  await writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
}

/**
 * Writes `images` (references or ids) as one docker save tarball at `file` ('-': stdout). Layers
 * go in as stored (compressed); docker load and skopeo detect the compression.
 */
export async function exportDockerArchive(root: string, images: readonly string[], file: string): Promise<void> {
  const store = new ContentStore(root);
  const plans = await Promise.all(images.map(async (image) => planExport(store, await findImage(root, image))));
  const entry = (plan: ExportPlan) => {
    const ref = parseReference(plan.record.reference);
    return { ref, familiar: familiarReference({ registry: ref.registry, repository: ref.repository, ...(ref.tag !== undefined && { tag: ref.tag }) }) };
  };
  const manifestJson = plans.map((plan) => ({
    Config: `blobs/sha256/${digestHex(plan.record.configDigest)}`,
    RepoTags: entry(plan).ref.tag !== undefined ? [entry(plan).familiar] : [],
    Layers: plan.record.layers.map((l) => `blobs/sha256/${digestHex(l.digest)}`),
  }));
  const index = {
    schemaVersion: 2,
    mediaType: MediaType.OciImageIndex,
    manifests: plans.map((plan) => indexEntry(plan, entry(plan).ref.tag ?? 'latest', plan.record.reference)),
  };
  const toStdout = file === '-';
  if (toStdout && process.stdout.isTTY) {
    throw new HuskError(ErrorCode.Usage, 'refusing to write a tarball to a terminal: give a file name or redirect stdout');
  }
  const temp = `${file}.tmp-${process.pid}`;
  if (!toStdout) await mkdir(dirname(file), { recursive: true });
  const out: Writable = toStdout ? process.stdout : createWriteStream(temp, { mode: 0o644 });
  const write = async (chunk: Buffer) => {
    if (!out.write(chunk)) await once(out, 'drain');
  };
  const addBuffer = async (path: string, data: Buffer) => {
    await write(tarHeader(path, 'file', data.length));
    await write(data);
    await write(tarPadding(data.length));
  };
  try {
    await write(tarHeader('blobs/', 'directory', 0));
    await write(tarHeader('blobs/sha256/', 'directory', 0));
    const written = new Set<string>();
    for (const plan of plans) {
      if (plan.convertedManifest !== undefined && !written.has(plan.manifest.digest)) {
        written.add(plan.manifest.digest);
        await addBuffer(`blobs/sha256/${digestHex(plan.manifest.digest)}`, plan.convertedManifest);
      }
      for (const digest of plan.blobs) {
        if (written.has(digest)) continue;
        written.add(digest);
        const path = store.layout.blob(digest);
        const { size } = await stat(path);
        await write(tarHeader(`blobs/sha256/${digestHex(digest)}`, 'file', size));
        let copied = 0;
        for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
          copied += (chunk as Buffer).length;
          await write(chunk as Buffer);
        }
        if (copied !== size) throw new Error(`blob ${digest} changed size while it was exported`);
        await write(tarPadding(size));
      }
    }
    await addBuffer('oci-layout', Buffer.from(JSON.stringify({ imageLayoutVersion: '1.0.0' })));
    await addBuffer('index.json', Buffer.from(`${JSON.stringify(index)}\n`));
    await addBuffer('manifest.json', Buffer.from(`${JSON.stringify(manifestJson)}\n`));
    await write(TAR_END);
    if (!toStdout) {
      out.end();
      await once(out, 'finish');
      await rename(temp, file);
    }
  } catch (error) {
    if (!toStdout) {
      out.destroy();
      await rm(temp, { force: true });
    }
    throw error;
  }
}

const OCI_LAYER_TYPES: Readonly<Record<string, string>> = {
  [MediaType.DockerLayerGzip]: MediaType.OciLayerGzip,
  [MediaType.DockerForeignLayerGzip]: MediaType.OciLayerNondistributableGzip,
  'application/vnd.docker.image.rootfs.diff.tar': MediaType.OciLayer,
};

/** A Docker schema2 manifest as an OCI manifest over the same config and layer blobs. */
function toOciManifest(docker: DockerManifest): object {
  const layer = (d: Descriptor) => ({ ...d, mediaType: OCI_LAYER_TYPES[d.mediaType] ?? d.mediaType });
  return {
    schemaVersion: 2,
    mediaType: MediaType.OciImageManifest,
    config: { ...docker.config, mediaType: MediaType.OciImageConfig },
    layers: docker.layers.map(layer),
  };
}
