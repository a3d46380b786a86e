/** Unpacked layers: each diff id unpacked once (natively) into a shared, read-only directory. */
import { chmod, mkdir, mkdtemp, rename, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { digestHex } from '../digest.js';
import { unpackLayer, type UnpackStats } from '../native.js';
import { exists, type ContentStore } from './content-store.js';
import { withLock } from './lock.js';
import type { LayerRecord } from './image-records.js';

/**
 * Unpacks `layer` into `<root>/layers/sha256/<hex>` unless it is there; `lowerDiffIds` (top
 * first) are where hardlinks into lower layers find their targets. Returns the stats, or
 * undefined if the layer was already unpacked.
 */
export async function ensureLayerUnpacked(store: ContentStore, layer: LayerRecord, lowerDiffIds: readonly string[]): Promise<UnpackStats | undefined> {
  const { layout } = store;
  const final = layout.layer(layer.diffId);
  if (await exists(final)) return undefined;
  return withLock(layout.layerLock(layer.diffId), async () => {
    if (await exists(final)) return undefined;
    const scratch = await mkdtemp(join(layout.layersScratchDir, `${digestHex(layer.diffId).slice(0, 16)}-`));
    try {
      await chmod(scratch, 0o755);
      const lowerDirs: string[] = [];
      for (const diffId of lowerDiffIds) {
        if (await exists(layout.layer(diffId))) lowerDirs.push(layout.layer(diffId));
      }
      const stats = await unpackLayer(layout.blob(layer.digest), scratch, {
        whiteouts: 'overlay',
        expectedDigest: layer.digest,
        expectedDiffId: layer.diffId,
        lowerDirs,
      });
      await rename(scratch, final);
      return stats;
    } catch (error) {
      await rm(scratch, { recursive: true, force: true });
      throw error;
    }
  });
}

/** Applies every layer, bottom first, onto one directory, deleting what whiteouts cover (exports, checks). */
export async function flattenLayers(store: ContentStore, layers: readonly LayerRecord[], dir: string): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const layer of layers) {
    await unpackLayer(store.layout.blob(layer.digest), dir, {
      whiteouts: 'flatten',
      expectedDigest: layer.digest,
      expectedDiffId: layer.diffId,
    });
  }
}
