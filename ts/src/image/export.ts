/** Writes a stored image as an OCI image layout (oci-layout, index.json, blobs/sha256/*). */
import { copyFile, link, mkdir, readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { Annotation, MediaType, type Descriptor, type DockerManifest } from '../spec/image-spec.js';
import { digestHex, sha256Digest } from './digest.js';
import { findImage } from './images.js';
import { parseReference } from './reference.js';
import { ContentStore, exists } from './store/content-store.js';

/** Exports `image` into the layout at `dir` (created or added to), tagged `tag` (default the image's tag). */
export async function exportImage(root: string, image: string, dir: string, tag?: string): Promise<void> {
  const record = await findImage(root, image);
  const store = new ContentStore(root);
  const blobs = join(dir, 'blobs', 'sha256');
  await mkdir(blobs, { recursive: true });
  const digests = [record.configDigest, ...record.layers.map((l) => l.digest)];
  let manifest = { digest: record.manifestDigest, mediaType: record.manifestMediaType, size: 0 };
  const manifestBytes = await readFile(store.layout.blob(record.manifestDigest));
  if (record.manifestMediaType === MediaType.DockerManifest) {
    // OCI layout readers (skopeo, umoci) only accept OCI manifests: convert, keeping every blob.
    const converted = Buffer.from(JSON.stringify(toOciManifest(JSON.parse(manifestBytes.toString('utf8')) as DockerManifest)));
    const digest = sha256Digest(converted);
    await writeFile(join(blobs, digestHex(digest)), converted);
    manifest = { digest, mediaType: MediaType.OciImageManifest, size: converted.length };
  } else {
    digests.unshift(record.manifestDigest);
    manifest.size = manifestBytes.length;
  }
  for (const digest of digests) {
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
  const [os, architecture, variant] = record.platform.split('/');
  index.manifests.push({
    mediaType: manifest.mediaType,
    digest: manifest.digest,
    size: manifest.size,
    platform: { os, architecture, ...(variant !== undefined && { variant }) },
    annotations: { [Annotation.RefName]: name },
  } as { annotations: Record<string, string> });
  await writeFile(indexPath, `${JSON.stringify(index, null, 2)}\n`);
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
