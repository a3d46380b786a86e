/**
 * `pullImage`: resolve a reference (HEAD first, GET only what the store lacks), pick the platform
 * from an index, fetch the config, download layers in parallel and unpack each as soon as it and
 * the layers below it are there, then record the image.
 */
import { MediaType, parseAnyManifest, parseImageConfig, type Descriptor } from '../spec/image-spec.js';
import { ImageError, ImageErrorCode } from './errors.js';
import { isSha256Digest } from './digest.js';
import { formatPlatform, hostPlatform, parsePlatform, selectManifest, type PlatformSpec } from './platform.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import { RegistryClient, type ManifestResult, type RegistryClientOptions } from './registry/client.js';
import { ContentStore } from './store/content-store.js';
import { takeLease } from './store/gc.js';
import { ImageRecords, type ImageRecord, type LayerRecord } from './store/image-records.js';
import { ensureLayerUnpacked } from './store/layers.js';
import { limiter } from './limiter.js';

export interface PullOptions extends RegistryClientOptions {
  /** The image root (default /var/lib/husk). */
  root: string;
  /** `os/arch[/variant]`; default the host's. */
  platform?: string | PlatformSpec;
  /** Parallel layer downloads. */
  concurrency?: number;
  onEvent?: (event: PullEvent) => void;
}

export type LayerStatus = 'exists' | 'downloading' | 'downloaded' | 'unpacking' | 'unpacked';

export type PullEvent =
  | { type: 'resolved'; reference: string; digest: string; platform: string; layers: number }
  | { type: 'layer'; digest: string; status: LayerStatus; current?: number; total: number }
  | { type: 'done'; reference: string; digest: string; downloaded: number };

/** Layer media types husk unpacks (the native unpacker detects the compression itself). */
const LAYER_MEDIA_TYPES = new Set<string>([
  MediaType.OciLayer,
  MediaType.OciLayerGzip,
  MediaType.OciLayerZstd,
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
  MediaType.DockerLayerGzip,
  MediaType.DockerForeignLayerGzip,
  'application/vnd.docker.image.rootfs.diff.tar',
]);

export async function pullImage(reference: string, options: PullOptions): Promise<ImageRecord> {
  const ref = parseReference(reference);
  const want = typeof options.platform === 'string' ? parsePlatform(options.platform) : (options.platform ?? hostPlatform());
  const store = new ContentStore(options.root);
  await store.init();
  const client = new RegistryClient(options);
  const emit = options.onEvent ?? (() => undefined);
  try {
    const top = await fetchManifest(client, store, ref, ref.digest ?? ref.tag!);
    let manifest = top;
    const parsedTop = parseAnyManifest(JSON.parse(top.bytes.toString('utf8')), top.mediaType);
    let document = parsedTop;
    if (parsedTop.kind === 'oci-index' || parsedTop.kind === 'docker-manifest-list') {
      const entries = parsedTop.document.manifests as Descriptor[];
      const chosen = selectManifest(entries, want);
      if (chosen === undefined) {
        const offered = entries.flatMap((m) => (m.platform ? [formatPlatform(m.platform)] : [])).join(', ');
        throw new ImageError(
          ImageErrorCode.NoMatchingPlatform,
          `${formatReference(ref)}: no manifest for platform ${formatPlatform(want)} (the index offers: ${offered || 'none'})`,
        );
      }
      manifest = await fetchManifest(client, store, ref, chosen.digest);
      document = parseAnyManifest(JSON.parse(manifest.bytes.toString('utf8')), manifest.mediaType);
      if (document.kind === 'oci-index' || document.kind === 'docker-manifest-list') {
        throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${formatReference(ref)}: nested index ${chosen.digest} is not supported`);
      }
    }
    if (document.kind === 'oci-index' || document.kind === 'docker-manifest-list') throw new Error('unreachable');
    const { config: configDescriptor, layers } = document.document;
    for (const layer of layers) {
      if (!LAYER_MEDIA_TYPES.has(layer.mediaType)) {
        throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${formatReference(ref)}: layer ${layer.digest} has unsupported media type ${layer.mediaType}`);
      }
    }
    await store.ensure(configDescriptor.digest, (partial) => client.downloadBlob(ref, configDescriptor, partial));
    const configBytes = await store.read(configDescriptor.digest);
    const config = parseImageConfig(JSON.parse(configBytes.toString('utf8')));
    const diffIds = config.rootfs.diff_ids;
    if (diffIds.length !== layers.length) {
      throw new ImageError(
        ImageErrorCode.Registry,
        `${formatReference(ref)}: config ${configDescriptor.digest} lists ${diffIds.length} diff ids for ${layers.length} layers`,
      );
    }
    const layerRecords: LayerRecord[] = layers.map((layer, i) => ({
      digest: layer.digest,
      diffId: diffIds[i]!,
      size: layer.size,
      mediaType: layer.mediaType,
    }));
    const platform = formatPlatform({ os: config.os, architecture: config.architecture, ...(config.variant !== undefined && { variant: config.variant }) });
    emit({ type: 'resolved', reference: formatReference(ref), digest: top.digest, platform, layers: layers.length });

    const release = await takeLease(store, {
      blobs: [top.digest, manifest.digest, configDescriptor.digest, ...layers.map((l) => l.digest)],
      layers: diffIds,
    });
    try {
      // A prune that ran before the lease may have taken these; they are still in memory.
      await store.put(top.digest, top.bytes);
      await store.put(manifest.digest, manifest.bytes);
      await store.put(configDescriptor.digest, configBytes);
      const downloaded = await fetchAndUnpackLayers(client, store, ref, layerRecords, options.concurrency ?? 3, emit);
      const record: ImageRecord = {
        reference: formatReference(ref),
        digest: top.digest,
        manifestDigest: manifest.digest,
        manifestMediaType: manifest.mediaType,
        configDigest: configDescriptor.digest,
        platform,
        layers: layerRecords,
        size: layerRecords.reduce((sum, l) => sum + l.size, 0),
        ...(config.created !== undefined && { created: config.created }),
        pulledAt: new Date().toISOString(),
      };
      await new ImageRecords(store.layout).update((images) => {
        images[record.reference] = record;
      });
      emit({ type: 'done', reference: record.reference, digest: top.digest, downloaded });
      return record;
    } finally {
      await release();
    }
  } finally {
    await client.close();
  }
}

/** A manifest from the store if its digest is known (by reference or HEAD), else from the registry. */
async function fetchManifest(client: RegistryClient, store: ContentStore, ref: ImageReference, target: string): Promise<ManifestResult> {
  let digest = isSha256Digest(target) ? target : undefined;
  if (digest === undefined) {
    const head = await client.headManifest(ref, target);
    if (head?.digest !== undefined && isSha256Digest(head.digest)) digest = head.digest;
  }
  if (digest !== undefined && (await store.has(digest))) {
    const bytes = await store.read(digest);
    const mediaType = (JSON.parse(bytes.toString('utf8')) as { mediaType?: string }).mediaType ?? '';
    return { bytes, digest, mediaType: mediaType || (bytes.includes('"manifests"') ? MediaType.OciImageIndex : MediaType.OciImageManifest) };
  }
  const result = await client.getManifest(ref, digest ?? target);
  await store.put(result.digest, result.bytes, `manifest ${formatReference(ref)}`);
  return result;
}

/**
 * Downloads up to `concurrency` layers at once; unpacks layer i once it is downloaded and layer
 * i-1 is unpacked (its hardlinks may point into lower layers). Returns how many were downloaded.
 */
async function fetchAndUnpackLayers(
  client: RegistryClient,
  store: ContentStore,
  ref: ImageReference,
  layers: readonly LayerRecord[],
  concurrency: number,
  emit: (event: PullEvent) => void,
): Promise<number> {
  let downloaded = 0;
  const limit = limiter(concurrency);
  const downloads = layers.map((layer) =>
    limit(async () => {
      const status = (s: LayerStatus, current?: number) =>
        emit({ type: 'layer', digest: layer.digest, status: s, total: layer.size, ...(current !== undefined && { current }) });
      const fetched = await store.ensure(layer.digest, async (partial) => {
        status('downloading', 0);
        await client.downloadBlob(ref, layer, partial, (current) => status('downloading', current));
      });
      if (fetched) downloaded++;
      status(fetched ? 'downloaded' : 'exists');
    }),
  );
  let below: Promise<unknown> = Promise.resolve();
  const unpacks = layers.map((layer, i) => {
    below = Promise.all([below, downloads[i]]).then(async () => {
      emit({ type: 'layer', digest: layer.digest, status: 'unpacking', total: layer.size });
      const lower = layers.slice(0, i).map((l) => l.diffId).reverse();
      await ensureLayerUnpacked(store, layer, lower);
      emit({ type: 'layer', digest: layer.digest, status: 'unpacked', total: layer.size });
    });
    return below;
  });
  // Settle everything before returning, so no download still runs after an error is reported.
  const results = await Promise.allSettled([...downloads, ...unpacks]);
  const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
  if (failure !== undefined) throw failure.reason;
  return downloaded;
}
