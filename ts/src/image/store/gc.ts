/** Removing images and freeing what nothing uses: blobs, unpacked layers, stale downloads. */
import { randomBytes } from 'node:crypto';
import { readdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { ImageError, ImageErrorCode } from '../errors.js';
import { digestHex } from '../digest.js';
import type { ContentStore } from './content-store.js';
import type { ImageRecord, ImageRecords } from './image-records.js';
import { processAlive, withLock } from './lock.js';

export interface PruneResult {
  blobsRemoved: number;
  layersRemoved: number;
  bytesFreed: number;
}

/** What a snapshot (a container's rootfs) records about itself; see snapshot.ts. */
export interface SnapshotUse {
  id: string;
  layers: string[];
  image?: string;
}

export async function listSnapshotUses(store: ContentStore): Promise<SnapshotUse[]> {
  const uses: SnapshotUse[] = [];
  for (const id of await readdir(store.layout.snapshotsDir).catch(() => [] as string[])) {
    try {
      uses.push(JSON.parse(await readFile(join(store.layout.snapshot(id), 'snapshot.json'), 'utf8')) as SnapshotUse);
    } catch {
      // Half-created or half-removed: its layers are pinned by the lock holder anyway.
    }
  }
  return uses;
}

/** Removes the records matching `reference` (a normalised reference or an image id prefix). */
export async function removeImage(
  store: ContentStore,
  records: ImageRecords,
  match: (record: ImageRecord) => boolean,
  what: string,
  force: boolean,
): Promise<ImageRecord[]> {
  const uses = await listSnapshotUses(store);
  return records.update((images) => {
    const victims = Object.values(images).filter(match);
    if (victims.length === 0) throw new ImageError(ImageErrorCode.NotInStore, `no such image: ${what}`);
    const ids = new Set(victims.map((v) => v.configDigest));
    if (ids.size > 1 && !force) {
      throw new ImageError(ImageErrorCode.InUse, `${what} matches ${ids.size} images; give a full reference or use --force`);
    }
    for (const use of uses) {
      const users = victims.filter((v) => use.image === v.reference || use.image === v.configDigest);
      if (users.length > 0 && !force) {
        throw new ImageError(ImageErrorCode.InUse, `image ${what} is in use by snapshot ${use.id}; remove it first or use --force`);
      }
    }
    for (const victim of victims) delete images[victim.reference];
    return victims;
  });
}

/**
 * Deletes every blob no image references and every unpacked layer no image or snapshot uses,
 * plus leftovers of interrupted downloads and unpacks. Holds the images lock throughout so a
 * concurrent pull cannot record an image whose blobs are being deleted.
 */
export async function pruneStore(store: ContentStore, records: ImageRecords): Promise<PruneResult> {
  const { layout } = store;
  const result: PruneResult = { blobsRemoved: 0, layersRemoved: 0, bytesFreed: 0 };
  await withLock(layout.imagesLock, async () => {
    const images = await records.list().catch(() => [] as ImageRecord[]);
    const uses = await listSnapshotUses(store);
    const blobs = new Set<string>();
    const layers = new Set<string>();
    for (const image of images) {
      for (const digest of [image.digest, image.manifestDigest, image.configDigest]) blobs.add(digestHex(digest));
      for (const layer of image.layers) {
        blobs.add(digestHex(layer.digest));
        layers.add(digestHex(layer.diffId));
      }
    }
    for (const use of uses) for (const diffId of use.layers) layers.add(digestHex(diffId));
    for (const lease of await listLeases(store)) {
      for (const digest of lease.blobs) blobs.add(digestHex(digest));
      for (const diffId of lease.layers) layers.add(digestHex(diffId));
    }
    const busy = await lockedNames(layout.locksDir);
    for (const name of await readdir(layout.blobsDir).catch(() => [] as string[])) {
      if (blobs.has(name) || busy.has(`blob-${name}`)) continue;
      result.bytesFreed += await sizeOf(join(layout.blobsDir, name));
      await rm(join(layout.blobsDir, name), { force: true });
      result.blobsRemoved++;
    }
    for (const name of await readdir(layout.layersDir).catch(() => [] as string[])) {
      if (layers.has(name) || busy.has(`layer-${name}`)) continue;
      await rm(join(layout.layersDir, name), { recursive: true, force: true });
      result.layersRemoved++;
    }
    for (const name of await readdir(layout.ingestDir).catch(() => [] as string[])) {
      if (!busy.has(`blob-${name.split('.')[0]}`)) await rm(join(layout.ingestDir, name), { force: true });
    }
    for (const name of await readdir(layout.layersScratchDir).catch(() => [] as string[])) {
      const prefix = name.split('-')[0] ?? '';
      if (![...busy].some((lock) => lock.startsWith(`layer-${prefix}`))) {
        await rm(join(layout.layersScratchDir, name), { recursive: true, force: true });
      }
    }
  });
  return result;
}

/** What a pull in progress is about to use: prune keeps it until the image is recorded. */
export interface Lease {
  pid: number;
  blobs: string[];
  layers: string[];
}

/** Takes a lease (under the images lock, so a running prune finishes first); returns its release. */
export async function takeLease(store: ContentStore, lease: Omit<Lease, 'pid'>): Promise<() => Promise<void>> {
  const path = join(store.layout.leasesDir, `${process.pid}-${randomBytes(6).toString('hex')}.json`);
  await withLock(store.layout.imagesLock, () => writeFile(path, JSON.stringify({ pid: process.pid, ...lease })));
  return () => rm(path, { force: true });
}

/** Leases of live processes; a dead puller's lease is removed. */
async function listLeases(store: ContentStore): Promise<Lease[]> {
  const leases: Lease[] = [];
  for (const name of await readdir(store.layout.leasesDir).catch(() => [] as string[])) {
    const path = join(store.layout.leasesDir, name);
    try {
      const lease = JSON.parse(await readFile(path, 'utf8')) as Lease;
      if (processAlive(lease.pid)) leases.push(lease);
      else await rm(path, { force: true });
    } catch {
      await rm(path, { force: true });
    }
  }
  return leases;
}

/** Names (without .lock) of the lock files present: work in progress that prune must not touch. */
async function lockedNames(dir: string): Promise<Set<string>> {
  const names = await readdir(dir).catch(() => [] as string[]);
  return new Set(names.filter((n) => n.endsWith('.lock')).map((n) => n.slice(0, -'.lock'.length)));
}

async function sizeOf(path: string): Promise<number> {
  return (await stat(path).catch(() => ({ size: 0 }))).size;
}
