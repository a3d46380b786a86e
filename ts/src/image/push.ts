/**
 * `pushImage`: uploads a stored image to the registry its reference names — each blob checked
 * with HEAD first, mounted from another repository of the same registry that has it when the
 * store knows one, else uploaded — then PUTs the manifest bytes as stored (same digest, same
 * OCI or Docker Content-Type).
 */
import { MediaType, parseAnyManifest, type Descriptor } from '../spec/image-spec.js';
import { ImageError, ImageErrorCode } from './errors.js';
import { formatReference, parseReference, type ImageReference } from './reference.js';
import type { RegistryClientOptions } from './registry/client.js';
import { RegistryPushClient } from './registry/upload.js';
import { ContentStore } from './store/content-store.js';
import { takeLease } from './store/gc.js';
import { ImageRecords, type ImageRecord } from './store/image-records.js';
import { limiter } from './limiter.js';

export interface PushOptions extends RegistryClientOptions {
  /** The image root (default /var/lib/husk). */
  root: string;
  /** Parallel blob uploads. */
  concurrency?: number;
  /** PATCH chunk size; blobs no bigger go up in one PUT. */
  chunkSize?: number;
  /** Try cross-repository mounts (default true). */
  mount?: boolean;
  onEvent?: (event: PushEvent) => void;
}

export type BlobPushStatus = 'exists' | 'mounted' | 'pushing' | 'pushed' | 'skipped';

export type PushEvent =
  | { type: 'resolved'; reference: string; repository: string; digest: string; blobs: number }
  | { type: 'blob'; digest: string; status: BlobPushStatus; total: number; current?: number; from?: string }
  | { type: 'done'; reference: string; digest: string; mediaType: string; size: number; pushed: number };

export interface PushResult {
  reference: string;
  /** The manifest's digest on the registry (the same as in the store). */
  digest: string;
  mediaType: string;
  size: number;
  /** Blobs uploaded (not found on the registry, nor mounted). */
  pushed: number;
  mounted: number;
}

/** Layers a registry serves from elsewhere (`urls`): never uploaded, as docker does. */
const FOREIGN_LAYER_TYPES = new Set<string>([
  MediaType.DockerForeignLayerGzip,
  MediaType.OciLayerNondistributable,
  MediaType.OciLayerNondistributableGzip,
  MediaType.OciLayerNondistributableZstd,
]);

export async function pushImage(reference: string, options: PushOptions): Promise<PushResult> {
  const ref = parseReference(reference);
  if (ref.digest !== undefined) {
    throw new ImageError(ImageErrorCode.InvalidReference, `cannot push ${reference}: push a tag (husk tag IMAGE NAME:TAG first), not a digest`);
  }
  const name = formatReference(ref);
  const store = new ContentStore(options.root);
  await store.init();
  const records = new ImageRecords(store.layout);
  const record = await records.get(name);
  if (record === undefined) {
    throw new ImageError(ImageErrorCode.NotInStore, `no such image: ${name} (to push another image under this name: husk tag IMAGE ${name})`);
  }
  const emit = options.onEvent ?? (() => undefined);
  const manifestBytes = await store.read(record.manifestDigest);
  const manifest = parseAnyManifest(JSON.parse(manifestBytes.toString('utf8')), record.manifestMediaType);
  if (manifest.kind !== 'oci-manifest' && manifest.kind !== 'docker-manifest') {
    throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${name}: the stored manifest ${record.manifestDigest} is an index; husk pushes one platform's manifest`);
  }
  const blobs: Descriptor[] = [...manifest.document.layers, manifest.document.config];
  emit({ type: 'resolved', reference: name, repository: `${ref.registry}/${ref.repository}`, digest: record.manifestDigest, blobs: blobs.length });

  const sources = options.mount === false ? new Map<string, string[]>() : mountSources(await records.list(), ref);
  const client = new RegistryPushClient(options);
  // The blobs stay in the store while they upload, whatever `rmi` or `prune` run meanwhile.
  const release = await takeLease(store, { blobs: [record.manifestDigest, ...blobs.map((b) => b.digest)], layers: [] });
  let pushed = 0;
  let mounted = 0;
  try {
    const limit = limiter(options.concurrency ?? 3);
    const results = await Promise.allSettled(
      blobs.map((blob) =>
        limit(async () => {
          const status = (s: BlobPushStatus, extra: { current?: number; from?: string } = {}) =>
            emit({ type: 'blob', digest: blob.digest, status: s, total: blob.size, ...extra });
          if (FOREIGN_LAYER_TYPES.has(blob.mediaType) && !(await store.has(blob.digest))) return status('skipped');
          if (!(await store.has(blob.digest))) {
            throw new ImageError(ImageErrorCode.NotInStore, `${name}: blob ${blob.digest} is not in the store ${options.root}`);
          }
          if (await client.blobExists(ref, blob.digest)) return status('exists');
          let session: URL | undefined;
          for (const from of (sources.get(blob.digest) ?? []).slice(0, 1)) {
            const result = await client.mountBlob(ref, blob.digest, from);
            if (result.mounted) {
              mounted++;
              return status('mounted', { from });
            }
            session = result.session;
          }
          status('pushing', { current: 0 });
          await client.uploadBlob(ref, store.layout.blob(blob.digest), blob, {
            ...(options.chunkSize !== undefined && { chunkSize: options.chunkSize }),
            ...(session !== undefined && { session }),
            onProgress: (current) => status('pushing', { current }),
          });
          pushed++;
          return status('pushed');
        }),
      ),
    );
    const failure = results.find((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failure !== undefined) throw failure.reason;
    const tag = ref.tag!;
    const stored = await client.putManifest(ref, tag, manifestBytes, record.manifestMediaType);
    if (stored !== undefined && stored !== record.manifestDigest) {
      throw new ImageError(ImageErrorCode.DigestMismatch, `${name}: the registry stored the manifest as ${stored}, expected ${record.manifestDigest}`);
    }
    emit({ type: 'done', reference: name, digest: record.manifestDigest, mediaType: record.manifestMediaType, size: manifestBytes.length, pushed });
    return { reference: name, digest: record.manifestDigest, mediaType: record.manifestMediaType, size: manifestBytes.length, pushed, mounted };
  } finally {
    await release();
    await client.close();
  }
}

/**
 * For each blob, the repositories of the target's registry that the store's records say hold it
 * (where it was pulled from, or pushed to): candidates for a mount instead of an upload.
 */
function mountSources(records: readonly ImageRecord[], target: ImageReference): Map<string, string[]> {
  const sources = new Map<string, string[]>();
  for (const record of records) {
    const ref = parseReference(record.reference);
    if (ref.registry !== target.registry || ref.repository === target.repository) continue;
    for (const digest of [record.configDigest, ...record.layers.map((l) => l.digest)]) {
      const list = sources.get(digest) ?? [];
      if (!list.includes(ref.repository)) list.push(ref.repository);
      sources.set(digest, list);
    }
  }
  return sources;
}
