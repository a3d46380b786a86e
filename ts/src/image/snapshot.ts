/**
 * Overlay snapshots: a container's rootfs is overlayfs with the image's unpacked layers as
 * lowerdirs and a fresh upper/work dir; `mount`/`umount` are spawned, never called from Node.
 */
import { execFile } from 'node:child_process';
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { ImageError, ImageErrorCode } from './errors.js';
import { digestHex } from './digest.js';
import { ContentStore, exists } from './store/content-store.js';
import { withLock } from './store/lock.js';
import type { SnapshotUse } from './store/gc.js';

const run = promisify(execFile);
const SNAPSHOT_ID = /^[A-Za-z0-9][A-Za-z0-9_.-]{0,127}$/;

export interface Snapshot {
  id: string;
  /** Layer dirs, top first, as overlayfs wants them. */
  lowerdirs: string[];
  upper: string;
  work: string;
  merged: string;
}

export interface PrepareOptions {
  /** The image (reference or id) the snapshot is for; `rmi` refuses to remove an image in use. */
  image?: string;
  /** Mount the overlay at `merged` (default true). */
  mount?: boolean;
}

/** Creates `<root>/snapshots/<id>` over the unpacked layers `diffIds` (bottom first) and mounts it. */
export async function prepareSnapshot(root: string, id: string, diffIds: readonly string[], options: PrepareOptions = {}): Promise<Snapshot> {
  if (!SNAPSHOT_ID.test(id)) throw new ImageError(ImageErrorCode.Mount, `invalid snapshot id "${id}"`);
  const store = new ContentStore(root);
  await store.init();
  const { layout } = store;
  const dir = layout.snapshot(id);
  const lowerdirs = [...diffIds].reverse().map((diffId) => layout.layer(diffId));
  const snapshot: Snapshot = { id, lowerdirs, upper: join(dir, 'upper'), work: join(dir, 'work'), merged: join(dir, 'merged') };
  // Under the images lock: a prune either sees this snapshot's layers or finished before them.
  await withLock(layout.imagesLock, async () => {
    if (await exists(dir)) throw new ImageError(ImageErrorCode.Mount, `snapshot ${id} already exists`);
    for (const [i, lower] of lowerdirs.entries()) {
      if (!(await exists(lower))) {
        throw new ImageError(ImageErrorCode.NotInStore, `layer ${[...diffIds].reverse()[i]} is not unpacked in ${root}`);
      }
    }
    for (const sub of [snapshot.upper, snapshot.work, snapshot.merged]) await mkdir(sub, { recursive: true, mode: 0o755 });
    const record: SnapshotUse = { id, layers: [...diffIds], ...(options.image !== undefined && { image: options.image }) };
    await writeFile(join(dir, 'snapshot.json'), JSON.stringify(record));
  });
  if (options.mount === false) return snapshot;
  if (diffIds.length === 0) {
    await mkdir(join(layout.layersDir, '..', 'empty'), { recursive: true });
  }
  // Relative lowerdirs (run in the layers dir) keep the option string under the kernel's page limit.
  const lower = diffIds.length === 0 ? '../empty' : [...diffIds].reverse().map(digestHex).join(':');
  const data = `lowerdir=${lower},upperdir=${snapshot.upper},workdir=${snapshot.work}`;
  try {
    await run('mount', ['-t', 'overlay', 'overlay', '-o', data, snapshot.merged], { cwd: layout.layersDir });
  } catch (error) {
    await rm(dir, { recursive: true, force: true });
    const stderr = (error as { stderr?: string }).stderr?.trim();
    throw new ImageError(ImageErrorCode.Mount, `mounting overlay for snapshot ${id} at ${snapshot.merged}: ${stderr || (error as Error).message}`, {
      cause: error,
    });
  }
  return snapshot;
}

/** Unmounts (if mounted) and deletes a snapshot; a missing one is fine. */
export async function removeSnapshot(root: string, id: string): Promise<void> {
  if (!SNAPSHOT_ID.test(id)) throw new ImageError(ImageErrorCode.Mount, `invalid snapshot id "${id}"`);
  const dir = new ContentStore(root).layout.snapshot(id);
  const merged = join(dir, 'merged');
  if (await isMountPoint(merged)) {
    try {
      await run('umount', [merged]);
    } catch (error) {
      const stderr = (error as { stderr?: string }).stderr?.trim();
      throw new ImageError(ImageErrorCode.Mount, `unmounting snapshot ${id} at ${merged}: ${stderr || (error as Error).message}`, { cause: error });
    }
  }
  await rm(dir, { recursive: true, force: true });
}

/** Whether `path` is a mount point, from /proc/self/mountinfo (field 5, octal-escaped). */
export async function isMountPoint(path: string): Promise<boolean> {
  const info = await readFile('/proc/self/mountinfo', 'utf8');
  return info.split('\n').some((line) => {
    const field = line.split(' ')[4];
    return field !== undefined && field.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))) === path;
  });
}
