/**
 * `importImages`: loads an OCI image layout (directory or tarball) or a `docker save` archive
 * into the store — every blob checked against its digest and size (docker save layers against
 * the config's diff ids), layers unpacked as a pull does, and one image record per name.
 */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { Annotation, MediaType, parseAnyManifest, parseImageConfig, type Descriptor } from '../spec/image-spec.js';
import { DirectorySource, TarballSource, type ArchiveSource } from './archive/source.js';
import { digestHex, sha256Digest, verifyDigest } from './digest.js';
import { ImageError, ImageErrorCode } from './errors.js';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest, type PlatformSpec } from './platform.js';
import { formatReference, parseReference } from './reference.js';
import { ContentStore } from './store/content-store.js';
import { takeLease } from './store/gc.js';
import { ImageRecords, type ImageRecord, type LayerRecord } from './store/image-records.js';
import { ensureLayerUnpacked } from './store/layers.js';
import { processAlive, withLock } from './store/lock.js';

export interface ImportOptions {
  /** The image root (default /var/lib/husk). */
  root: string;
  /**
   * NAME[:TAG] for images the archive names by tag only (an OCI layout's `ref.name` is usually
   * just `latest`) or not at all; with one image, it replaces the archive's names.
   */
  name?: string;
  /** The platform to take from a multi-platform index; default the host's. */
  platform?: string | PlatformSpec;
}

/** A document kept as bytes: stored under the digest of exactly these bytes. */
interface Document {
  digest: string;
  bytes: Buffer;
  mediaType: string;
}

/** One image of the archive, planned before anything is written. */
interface PlannedImage {
  references: string[];
  top: Document;
  manifest: Document;
  config: Document;
  layers: Array<{ path: string; record: LayerRecord }>;
  platform: string;
  created?: string;
}

/** The annotation containerd and docker (25+) write with the full image name. */
const CONTAINERD_IMAGE_NAME = 'io.containerd.image.name';
const UNCOMPRESSED_DOCKER_LAYER = 'application/vnd.docker.image.rootfs.diff.tar';

export async function importImages(path: string, options: ImportOptions): Promise<ImageRecord[]> {
  const info = await stat(path).catch(() => undefined);
  if (info === undefined) throw new ImageError(ImageErrorCode.NotFound, `${path}: no such file or directory`);
  const store = new ContentStore(options.root);
  await store.init();
  await removeStaleImports(store);
  const id = randomBytes(6).toString('hex');
  // The lock keeps `image prune` off the extracted files (ingest/import-<id>.*) while we work.
  return withLock(join(store.layout.locksDir, `blob-import-${id}.lock`), async () => {
    const source: ArchiveSource = info.isDirectory() ? new DirectorySource(path) : await TarballSource.open(path, join(store.layout.ingestDir, `import-${id}`));
    try {
      const plans = (await source.has('index.json')) && (await source.has('oci-layout')) ? await planOciLayout(source, options) : await planDockerArchive(source, options);
      return await storeImages(store, source, plans);
    } finally {
      await source.close();
    }
  });
}

/** Writes the planned images' blobs (verified), unpacks their layers, and records them. */
async function storeImages(store: ContentStore, source: ArchiveSource, plans: readonly PlannedImage[]): Promise<ImageRecord[]> {
  const release = await takeLease(store, {
    blobs: plans.flatMap((p) => [p.top.digest, p.manifest.digest, p.config.digest, ...p.layers.map((l) => l.record.digest)]),
    layers: plans.flatMap((p) => p.layers.map((l) => l.record.diffId)),
  });
  try {
    const records: ImageRecord[] = [];
    for (const plan of plans) {
      for (const doc of [plan.top, plan.manifest, plan.config]) await store.put(doc.digest, doc.bytes, `${source.name}: ${doc.digest}`);
      for (const { path, record } of plan.layers) {
        await store.ensure(record.digest, (partial) => source.copyTo(path, partial, { digest: record.digest, size: record.size }));
      }
      // Unpacking checks each layer's diff id (the only check a compressed docker save layer gets).
      const diffIds = plan.layers.map((l) => l.record.diffId);
      for (const [i, { record }] of plan.layers.entries()) await ensureLayerUnpacked(store, record, diffIds.slice(0, i).reverse());
      const base = {
        digest: plan.top.digest,
        manifestDigest: plan.manifest.digest,
        manifestMediaType: plan.manifest.mediaType,
        configDigest: plan.config.digest,
        platform: plan.platform,
        layers: plan.layers.map((l) => l.record),
        size: plan.layers.reduce((sum, l) => sum + l.record.size, 0),
        ...(plan.created !== undefined && { created: plan.created }),
        pulledAt: new Date().toISOString(),
      };
      records.push(...plan.references.map((reference) => ({ reference, ...base })));
    }
    await new ImageRecords(store.layout).update((images) => {
      for (const record of records) images[record.reference] = record;
    });
    return records;
  } finally {
    await release();
  }
}

// ---------------------------------------------------------------- OCI image layout

async function planOciLayout(source: ArchiveSource, options: ImportOptions): Promise<PlannedImage[]> {
  const layout = parseJson(await source.read('oci-layout'), source, 'oci-layout') as { imageLayoutVersion?: unknown };
  if (typeof layout.imageLayoutVersion !== 'string') throw invalid(source, 'oci-layout has no imageLayoutVersion');
  const index = parseAnyManifest(parseJson(await source.read('index.json'), source, 'index.json'), MediaType.OciImageIndex);
  if (index.kind !== 'oci-index') throw invalid(source, 'index.json is not an image index');
  const entries = index.document.manifests as Descriptor[];
  const want = typeof options.platform === 'string' ? parsePlatform(options.platform) : (options.platform ?? hostPlatform());
  const plans: PlannedImage[] = [];
  for (const entry of entries) {
    const annotated = entry.annotations?.[CONTAINERD_IMAGE_NAME] ?? entry.annotations?.[Annotation.RefName];
    const references = namesFor(annotated, options.name, entries.length, source);
    if (references.length === 0) continue;
    const top = await readDocument(source, entry);
    let manifest = top;
    let parsed = parseAnyManifest(parseJson(top.bytes, source, entry.digest), top.mediaType);
    if (parsed.kind === 'oci-index' || parsed.kind === 'docker-manifest-list') {
      const chosen = selectManifest(parsed.document.manifests as Descriptor[], want);
      if (chosen === undefined) throw new ImageError(ImageErrorCode.NoMatchingPlatform, `${source.name}: ${references[0]}: no manifest for ${formatPlatform(want)}`);
      manifest = await readDocument(source, chosen);
      parsed = parseAnyManifest(parseJson(manifest.bytes, source, chosen.digest), manifest.mediaType);
      if (parsed.kind === 'oci-index' || parsed.kind === 'docker-manifest-list') throw invalid(source, `nested index ${chosen.digest}`);
    }
    const config = await readDocument(source, parsed.document.config);
    const image = parseImageConfig(parseJson(config.bytes, source, config.digest));
    const diffIds = image.rootfs.diff_ids;
    if (diffIds.length !== parsed.document.layers.length) throw invalid(source, `config ${config.digest} lists ${diffIds.length} diff ids for ${parsed.document.layers.length} layers`);
    const layers = [];
    for (const [i, layer] of parsed.document.layers.entries()) {
      const path = blobPath(layer.digest);
      const found = await source.stat(path);
      if (found.digest !== layer.digest || found.size !== layer.size) {
        throw new ImageError(ImageErrorCode.DigestMismatch, `${source.name}: ${path}: expected ${layer.digest} (${layer.size} bytes), got ${found.digest} (${found.size} bytes)`);
      }
      layers.push({ path, record: { digest: layer.digest, diffId: diffIds[i]!, size: layer.size, mediaType: layer.mediaType } });
    }
    plans.push({
      references,
      top,
      manifest,
      config,
      layers,
      platform: formatPlatform({ os: image.os, architecture: image.architecture, ...(image.variant !== undefined && { variant: image.variant }) }),
      ...(image.created !== undefined && { created: image.created }),
    });
  }
  if (plans.length === 0) throw new ImageError(ImageErrorCode.NotFound, `${source.name}: index.json names no image (give one a name with --name)`);
  return plans;
}

/** `blobs/<algorithm>/<hex>` of a digest (sha256 only, as the store). */
function blobPath(digest: string): string {
  return `blobs/sha256/${digestHex(digest)}`;
}

/** A document blob of the layout, checked against its descriptor's digest and size. */
async function readDocument(source: ArchiveSource, descriptor: Descriptor): Promise<Document> {
  const bytes = await source.read(blobPath(descriptor.digest));
  verifyDigest(bytes, descriptor.digest, `${source.name}: ${blobPath(descriptor.digest)}`);
  if (bytes.length !== descriptor.size) throw invalid(source, `${descriptor.digest} is ${bytes.length} bytes, its descriptor says ${descriptor.size}`);
  return { digest: descriptor.digest, bytes, mediaType: descriptor.mediaType };
}

// ---------------------------------------------------------------- docker save

interface DockerArchiveEntry {
  Config: string;
  RepoTags?: string[] | null;
  Layers: string[];
  LayerSources?: Record<string, Descriptor> | null;
}

async function planDockerArchive(source: ArchiveSource, options: ImportOptions): Promise<PlannedImage[]> {
  if (!(await source.has('manifest.json'))) {
    throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${source.name}: neither an OCI image layout (oci-layout, index.json) nor a docker save archive (manifest.json)`);
  }
  const entries = parseJson(await source.read('manifest.json'), source, 'manifest.json') as DockerArchiveEntry[];
  if (!Array.isArray(entries) || entries.length === 0) throw invalid(source, 'manifest.json lists no image');
  const plans: PlannedImage[] = [];
  for (const entry of entries) {
    if (typeof entry.Config !== 'string' || !Array.isArray(entry.Layers)) throw invalid(source, 'manifest.json: an entry lacks Config or Layers');
    const tags = entry.RepoTags ?? [];
    const references =
      options.name !== undefined && entries.length === 1
        ? [formatReference(parseReference(options.name))]
        : tags.map((tag) => formatReference(parseReference(tag)));
    if (references.length === 0) throw new ImageError(ImageErrorCode.InvalidReference, `${source.name}: image ${entry.Config} has no RepoTags: give it a name with --name`);
    const configBytes = await source.read(entry.Config);
    const configDigest = sha256Digest(configBytes);
    // Docker names the config after its digest (`<hex>.json`, or `blobs/sha256/<hex>` since 25).
    const named = /([a-f0-9]{64})(?:\.json)?$/.exec(entry.Config)?.[1];
    if (named !== undefined && `sha256:${named}` !== configDigest) {
      throw new ImageError(ImageErrorCode.DigestMismatch, `${source.name}: ${entry.Config}: digest mismatch: got ${configDigest}`);
    }
    const image = parseImageConfig(parseJson(configBytes, source, entry.Config));
    const diffIds = image.rootfs.diff_ids;
    if (diffIds.length !== entry.Layers.length) throw invalid(source, `${entry.Config} lists ${diffIds.length} diff ids for ${entry.Layers.length} layers`);
    const layers = [];
    for (const [i, path] of entry.Layers.entries()) {
      const diffId = diffIds[i]!;
      const file = await source.stat(path);
      const mediaType = layerMediaType(await source.head(path, 4));
      // A plain tar's digest is its diff id: checked here. Compressed ones are checked by the unpack.
      if (mediaType === UNCOMPRESSED_DOCKER_LAYER && file.digest !== diffId) {
        throw new ImageError(ImageErrorCode.DigestMismatch, `${source.name}: ${path}: layer ${i} should have diff id ${diffId}, got ${file.digest}`);
      }
      const foreign = entry.LayerSources?.[diffId];
      const type = foreign !== undefined && foreign.digest === file.digest ? foreign.mediaType : mediaType;
      layers.push({ path, record: { digest: file.digest, diffId, size: file.size, mediaType: type } });
    }
    const oci = layers.some((l) => l.record.mediaType === MediaType.OciLayerZstd);
    const manifestDocument = {
      schemaVersion: 2,
      mediaType: oci ? MediaType.OciImageManifest : MediaType.DockerManifest,
      config: { mediaType: oci ? MediaType.OciImageConfig : MediaType.DockerImageConfig, size: configBytes.length, digest: configDigest },
      layers: layers.map(({ record }) => ({ mediaType: oci ? ociLayerType(record.mediaType) : record.mediaType, size: record.size, digest: record.digest })),
    };
    if (oci) for (const layer of layers) layer.record.mediaType = ociLayerType(layer.record.mediaType);
    const manifestBytes = Buffer.from(JSON.stringify(manifestDocument, null, 2));
    const manifest = { digest: sha256Digest(manifestBytes), bytes: manifestBytes, mediaType: manifestDocument.mediaType };
    plans.push({
      references,
      top: manifest,
      manifest,
      config: { digest: configDigest, bytes: configBytes, mediaType: manifestDocument.config.mediaType },
      layers,
      platform: formatPlatform({ os: image.os, architecture: image.architecture, ...(image.variant !== undefined && { variant: image.variant }) }),
      ...(image.created !== undefined && { created: image.created }),
    });
  }
  return plans;
}

/** A docker save layer's media type from its first bytes. */
function layerMediaType(head: Buffer): string {
  if (head[0] === 0x1f && head[1] === 0x8b) return MediaType.DockerLayerGzip;
  if (head[0] === 0x28 && head[1] === 0xb5 && head[2] === 0x2f && head[3] === 0xfd) return MediaType.OciLayerZstd;
  return UNCOMPRESSED_DOCKER_LAYER;
}

function ociLayerType(mediaType: string): string {
  if (mediaType === MediaType.DockerLayerGzip) return MediaType.OciLayerGzip;
  if (mediaType === UNCOMPRESSED_DOCKER_LAYER) return MediaType.OciLayer;
  return mediaType;
}

// ---------------------------------------------------------------- names and helpers

/**
 * The references to record an index entry under: the annotated full name, or `--name` (whose
 * repository takes the annotated tag when it has none of its own). Empty: skip the entry.
 */
function namesFor(annotated: string | undefined, option: string | undefined, entries: number, source: ArchiveSource): string[] {
  const tagOnly = annotated !== undefined && !annotated.includes('/') && !annotated.includes(':');
  if (option !== undefined) {
    const ref = parseReference(option);
    const explicitTag = /:[\w][\w.-]*$/.test(option.slice(option.lastIndexOf('/') + 1));
    if (tagOnly && !explicitTag) return [formatReference({ registry: ref.registry, repository: ref.repository, tag: annotated })];
    if (entries === 1 || annotated === undefined) return [formatReference(ref)];
  }
  if (annotated === undefined) {
    if (entries === 1) throw new ImageError(ImageErrorCode.InvalidReference, `${source.name}: the image in index.json has no name: give it one with --name`);
    return [];
  }
  if (tagOnly) {
    throw new ImageError(
      ImageErrorCode.InvalidReference,
      `${source.name}: index.json names an image only by its tag "${annotated}": give the repository with --name (e.g. --name myimage)`,
    );
  }
  return [formatReference(parseReference(annotated))];
}

function parseJson(bytes: Buffer, source: ArchiveSource, what: string): unknown {
  try {
    return JSON.parse(bytes.toString('utf8'));
  } catch (cause) {
    throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${source.name}: ${what} is not JSON`, { cause });
  }
}

function invalid(source: ArchiveSource, why: string): ImageError {
  return new ImageError(ImageErrorCode.UnsupportedMediaType, `${source.name}: ${why}`);
}

/** Files of imports whose process died (their lock names a dead pid). */
async function removeStaleImports(store: ContentStore): Promise<void> {
  const { locksDir, ingestDir } = store.layout;
  for (const name of await readdir(locksDir).catch(() => [] as string[])) {
    const id = /^blob-(import-[a-f0-9]+)\.lock$/.exec(name)?.[1];
    if (id === undefined) continue;
    const owner = await readFile(join(locksDir, name), 'utf8').catch(() => '');
    // An empty lock is being written by its (live) owner right now.
    if (owner === '' || processAlive(Number(owner.split(' ')[0]))) continue;
    for (const file of await readdir(ingestDir).catch(() => [] as string[])) {
      if (file.startsWith(`${id}.`)) await rm(join(ingestDir, file), { force: true });
    }
    await rm(join(locksDir, name), { force: true });
  }
}
