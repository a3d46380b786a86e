/** Where everything lives under the image root (default /var/lib/husk). */
import { join } from 'node:path';
import { digestHex } from '../digest.js';

export class StoreLayout {
  constructor(readonly root: string) {}

  get blobsDir(): string {
    return join(this.root, 'blobs', 'sha256');
  }
  get ingestDir(): string {
    return join(this.root, 'ingest');
  }
  get locksDir(): string {
    return join(this.root, 'locks');
  }
  /** Unpacked layers, one read-only dir per diff id, named by hex (overlay options split on ':'). */
  get layersDir(): string {
    return join(this.root, 'layers', 'sha256');
  }
  get layersScratchDir(): string {
    return join(this.root, 'layers', 'tmp');
  }
  /** Pulls in progress record here what prune must keep. */
  get leasesDir(): string {
    return join(this.root, 'leases');
  }
  get snapshotsDir(): string {
    return join(this.root, 'snapshots');
  }
  get imagesFile(): string {
    return join(this.root, 'images.json');
  }
  get imagesLock(): string {
    return join(this.locksDir, 'images.lock');
  }

  blob(digest: string): string {
    return join(this.blobsDir, digestHex(digest));
  }
  partial(digest: string): string {
    return join(this.ingestDir, `${digestHex(digest)}.partial`);
  }
  blobLock(digest: string): string {
    return join(this.locksDir, `blob-${digestHex(digest)}.lock`);
  }
  layer(diffId: string): string {
    return join(this.layersDir, digestHex(diffId));
  }
  layerLock(diffId: string): string {
    return join(this.locksDir, `layer-${digestHex(diffId)}.lock`);
  }
  snapshot(id: string): string {
    return join(this.snapshotsDir, id);
  }
}
