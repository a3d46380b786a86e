/** The local image store as the CLI sees it: list, find by reference or id, remove, prune. */
import { ImageError, ImageErrorCode } from './errors.js';
import { formatReference, parseReference } from './reference.js';
import { ContentStore } from './store/content-store.js';
import { listSnapshotUses, pruneStore, removeImage, type PruneResult } from './store/gc.js';
import { ImageRecords, type ImageRecord } from './store/image-records.js';

export type { ImageRecord, LayerRecord } from './store/image-records.js';
export type { PruneResult } from './store/gc.js';

/** Every recorded image (one entry per reference). */
export async function listImages(root: string): Promise<ImageRecord[]> {
  const store = new ContentStore(root);
  return new ImageRecords(store.layout).list();
}

/** A reference (`busybox`, `host:5000/x:1`) or an image id (`sha256:…` or a unique hex prefix). */
function matcher(input: string): (record: ImageRecord) => boolean {
  const id = /^(?:sha256:)?([a-f0-9]{4,64})$/.exec(input)?.[1];
  let reference: string | undefined;
  try {
    reference = formatReference(parseReference(input));
  } catch (error) {
    if (id === undefined) throw error;
  }
  return (record) => record.reference === reference || (id !== undefined && record.configDigest.slice('sha256:'.length).startsWith(id));
}

export async function findImage(root: string, input: string): Promise<ImageRecord> {
  const images = (await listImages(root)).filter(matcher(input));
  const first = images[0];
  if (first === undefined) throw new ImageError(ImageErrorCode.NotInStore, `no such image: ${input}`);
  if (new Set(images.map((i) => i.configDigest)).size > 1) {
    throw new ImageError(ImageErrorCode.NotInStore, `${input} is ambiguous: it matches ${images.length} images`);
  }
  return first;
}

export interface RemoveResult {
  untagged: string[];
  pruned: PruneResult;
}

/** `rmi`: removes the records, then frees the blobs and layers nothing else uses. */
export async function removeImages(root: string, inputs: readonly string[], options: { force?: boolean } = {}): Promise<RemoveResult> {
  const store = new ContentStore(root);
  await store.init();
  const records = new ImageRecords(store.layout);
  const untagged: string[] = [];
  for (const input of inputs) {
    const removed = await removeImage(store, records, matcher(input), input, options.force ?? false);
    untagged.push(...removed.map((r) => r.reference));
  }
  return { untagged, pruned: await pruneStore(store, records) };
}

/** `image prune`: frees unreferenced content; with `all`, first removes images no snapshot uses. */
export async function pruneImages(root: string, options: { all?: boolean } = {}): Promise<RemoveResult> {
  const store = new ContentStore(root);
  await store.init();
  const records = new ImageRecords(store.layout);
  const untagged: string[] = [];
  if (options.all) {
    const uses = await listSnapshotUses(store);
    const used = new Set(uses.flatMap((u) => (u.image !== undefined ? [u.image] : [])));
    await records.update((images) => {
      for (const record of Object.values(images)) {
        if (used.has(record.reference) || used.has(record.configDigest)) continue;
        delete images[record.reference];
        untagged.push(record.reference);
      }
    });
  }
  return { untagged, pruned: await pruneStore(store, records) };
}
