/** Typed access to the addon's image exports (crates/husk-node/src/image.rs). */
import { loadAddon } from '../runtime/addon.js';
import type { NativeAddon } from '../runtime/addon.js';
import { ImageError, ImageErrorCode } from './errors.js';

export interface UnpackOptions {
  /** `overlay`: one dir per layer, whiteouts as 0:0 char devices + opaque xattr; `flatten`: delete what they cover. */
  whiteouts: 'overlay' | 'flatten';
  compression?: 'auto' | 'gzip' | 'zstd' | 'none';
  expectedDigest?: string;
  expectedDiffId?: string;
  /** Give files the tar's owners (default: when running as root). */
  sameOwner?: boolean;
  /** Lower layer dirs, top first, for hardlinks to files of lower layers. */
  lowerDirs?: string[];
}

export interface UnpackStats {
  digest: string;
  diffId: string;
  compressedSize: number;
  size: number;
  entries: number;
  compression: 'gzip' | 'zstd' | 'none';
}

type UnpackOutcome = { ok: true; stats: UnpackStats } | { ok: false; code: string; message: string };

interface ImageAddon extends NativeAddon {
  unpackLayer(blobPath: string, destDir: string, options: UnpackOptions): Promise<UnpackOutcome>;
}

function imageAddon(): ImageAddon {
  const addon = loadAddon() as Partial<ImageAddon>;
  if (typeof addon.unpackLayer !== 'function') {
    throw new ImageError(ImageErrorCode.Unpack, 'the native addon has no unpackLayer: rebuild it (`npm run build:addon`)');
  }
  return addon as ImageAddon;
}

/** Unpacks a layer blob into the existing directory `destDir`, off the event loop. */
export async function unpackLayer(blobPath: string, destDir: string, options: UnpackOptions): Promise<UnpackStats> {
  const outcome = await imageAddon().unpackLayer(blobPath, destDir, options);
  if (!outcome.ok) throw new ImageError(outcome.code, `unpacking ${blobPath}: ${outcome.message}`);
  return outcome.stats;
}
