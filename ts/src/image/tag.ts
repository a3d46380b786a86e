/** `tagImage`: records an image already in the store under another reference (docker tag). */
import { ImageError, ImageErrorCode } from './errors.js';
import { findImage } from './images.js';
import { formatReference, parseReference } from './reference.js';
import { ContentStore } from './store/content-store.js';
import { ImageRecords, type ImageRecord } from './store/image-records.js';

/** Gives the image `source` (reference or id) the name `target`; returns the new record. */
export async function tagImage(root: string, source: string, target: string): Promise<ImageRecord> {
  const ref = parseReference(target);
  if (ref.digest !== undefined) {
    throw new ImageError(ImageErrorCode.InvalidReference, `invalid tag "${target}": a tag cannot carry a digest`);
  }
  const found = await findImage(root, source);
  const store = new ContentStore(root);
  await store.init();
  const record: ImageRecord = { ...found, reference: formatReference(ref) };
  await new ImageRecords(store.layout).update((images) => {
    images[record.reference] = record;
  });
  return record;
}
