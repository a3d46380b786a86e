/**
 * Blobs by digest: written to a temp file and renamed into place only after the digest matched;
 * one download per blob even when several pulls (processes) want it at once.
 */
import { randomBytes } from 'node:crypto';
import { mkdir, open, readFile, rename, rm, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { verifyDigest } from '../digest.js';
import { withLock } from './lock.js';
import { StoreLayout } from './layout.js';

/** Downloads a blob to `partialPath`, verified; may find part of it there already. */
export type BlobFetcher = (partialPath: string) => Promise<void>;

export class ContentStore {
  readonly layout: StoreLayout;

  constructor(root: string) {
    this.layout = new StoreLayout(root);
  }

  async init(): Promise<void> {
    for (const dir of [this.layout.blobsDir, this.layout.ingestDir, this.layout.locksDir, this.layout.layersDir, this.layout.layersScratchDir, this.layout.snapshotsDir, this.layout.leasesDir]) {
      await mkdir(dir, { recursive: true, mode: 0o700 });
    }
  }

  async has(digest: string): Promise<boolean> {
    return exists(this.layout.blob(digest));
  }

  async read(digest: string): Promise<Buffer> {
    return readFile(this.layout.blob(digest));
  }

  /** Stores bytes already in memory (manifests, configs) after checking their digest. */
  async put(digest: string, bytes: Uint8Array, what = `blob ${digest}`): Promise<void> {
    verifyDigest(bytes, digest, what);
    if (await this.has(digest)) return;
    const temp = join(this.layout.ingestDir, `${randomBytes(8).toString('hex')}.tmp`);
    await writeSynced(temp, bytes);
    await rename(temp, this.layout.blob(digest));
  }

  /**
   * Makes sure the blob is in the store: returns false if it already was, true if `fetch` had to
   * download it. Holders of the blob's lock download; everyone else waits and finds it there.
   */
  async ensure(digest: string, fetch: BlobFetcher): Promise<boolean> {
    if (await this.has(digest)) return false;
    return withLock(this.layout.blobLock(digest), async () => {
      if (await this.has(digest)) return false;
      const partial = this.layout.partial(digest);
      try {
        await fetch(partial);
      } catch (error) {
        // A truncated download is kept for Range resume; content that failed verification is not.
        if ((error as { code?: string }).code === 'EDIGEST_MISMATCH') await rm(partial, { force: true });
        throw error;
      }
      await rename(partial, this.layout.blob(digest));
      return true;
    });
  }
}

export async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch {
    return false;
  }
}

/** Writes a new file and fsyncs it before anyone can rename it into place. */
export async function writeSynced(path: string, data: Uint8Array | string): Promise<void> {
  const handle = await open(path, 'wx', 0o600);
  try {
    await handle.writeFile(data);
    await handle.sync();
  } finally {
    await handle.close();
  }
}
