/** Image records by reference, in one JSON file replaced atomically under the images lock. */
import { randomBytes } from 'node:crypto';
import { readFile, rename } from 'node:fs/promises';
import { join } from 'node:path';
import { writeSynced } from './content-store.js';
import { withLock } from './lock.js';
import type { StoreLayout } from './layout.js';

export interface LayerRecord {
  digest: string;
  diffId: string;
  size: number;
  mediaType: string;
}

export interface ImageRecord {
  /** The normalised reference it was pulled by (`docker.io/library/busybox:latest`). */
  reference: string;
  /** The digest the reference resolved to (an index or a manifest). */
  digest: string;
  /** The platform manifest's digest. */
  manifestDigest: string;
  manifestMediaType: string;
  /** The image id: the config's digest (docker's IMAGE ID). */
  configDigest: string;
  platform: string;
  layers: LayerRecord[];
  /** Compressed size of the layers, as `docker images` shows it. */
  size: number;
  created?: string;
  pulledAt: string;
}

interface RecordsFile {
  version: 1;
  images: Record<string, ImageRecord>;
}

export class ImageRecords {
  constructor(private readonly layout: StoreLayout) {}

  async list(): Promise<ImageRecord[]> {
    return Object.values((await this.load()).images);
  }

  async get(reference: string): Promise<ImageRecord | undefined> {
    return (await this.load()).images[reference];
  }

  /** Reads, changes and writes the records while holding the lock; returns what `change` returns. */
  async update<T>(change: (images: Record<string, ImageRecord>) => T): Promise<T> {
    return withLock(this.layout.imagesLock, async () => {
      const file = await this.load();
      const result = change(file.images);
      const temp = join(this.layout.root, `.images-${randomBytes(6).toString('hex')}.tmp`);
      await writeSynced(temp, `${JSON.stringify(file, null, 2)}\n`);
      await rename(temp, this.layout.imagesFile);
      return result;
    });
  }

  private async load(): Promise<RecordsFile> {
    try {
      return JSON.parse(await readFile(this.layout.imagesFile, 'utf8')) as RecordsFile;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code === 'ENOENT') return { version: 1, images: {} };
      throw error;
    }
  }
}
