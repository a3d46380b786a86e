/** sha256 digests: computing, checking, and the hex part used for file names. */
import { createHash } from 'node:crypto';
import { ImageError, ImageErrorCode } from './errors.js';

const SHA256 = /^sha256:[a-f0-9]{64}$/;

export function sha256Digest(data: Uint8Array | string): string {
  return `sha256:${createHash('sha256').update(data).digest('hex')}`;
}

/** The hex of a sha256 digest; anything else is refused (it would become a file name). */
export function digestHex(digest: string): string {
  if (!SHA256.test(digest)) {
    throw new ImageError(ImageErrorCode.UnsupportedMediaType, `unsupported digest "${digest}": husk stores sha256 digests only`);
  }
  return digest.slice('sha256:'.length);
}

export function isSha256Digest(digest: string): boolean {
  return SHA256.test(digest);
}

/** Throws EDIGEST_MISMATCH naming what and where unless `data` hashes to `expected`. */
export function verifyDigest(data: Uint8Array, expected: string, what: string): void {
  const actual = sha256Digest(data);
  if (actual !== expected) {
    throw new ImageError(ImageErrorCode.DigestMismatch, `${what}: digest mismatch: expected ${expected}, got ${actual}`);
  }
}
