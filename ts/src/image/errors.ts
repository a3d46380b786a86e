/** The image side's error codes, and a helper that names what failed (reference, digest, URL). */
import { HuskError } from '../errors.js';

export const ImageErrorCode = {
  /** A reference (name[:tag][@digest]) is malformed. */
  InvalidReference: 'EINVAL_REFERENCE',
  /** A platform string (os/arch[/variant]) is malformed. */
  InvalidPlatform: 'EINVAL_PLATFORM',
  /** The registry has no such repository, tag or digest. */
  NotFound: 'ENOTFOUND_IMAGE',
  /** The image is not in the local store. */
  NotInStore: 'ENOTFOUND_LOCAL_IMAGE',
  /** The registry refused our credentials, or wants some we do not have. */
  Unauthorized: 'EREGISTRY_AUTH',
  /** The registry answered with an unexpected status or document. */
  Registry: 'EREGISTRY',
  /** The registry could not be reached (connection, TLS, timeout). */
  Network: 'EREGISTRY_NETWORK',
  /** Retries were exhausted on 429 / 5xx. */
  TooManyRetries: 'EREGISTRY_RETRIES',
  /** Content does not match its digest or size. */
  DigestMismatch: 'EDIGEST_MISMATCH',
  /** No manifest in the index matches the wanted platform. */
  NoMatchingPlatform: 'ENOMATCH_PLATFORM',
  /** A manifest, config or layer media type husk cannot handle. */
  UnsupportedMediaType: 'EUNSUPPORTED_MEDIA_TYPE',
  /** The image is used by a snapshot (container) and --force was not given. */
  InUse: 'EIMAGE_IN_USE',
  /** Unpacking a layer failed (the addon's code is kept when it has one). */
  Unpack: 'EUNPACK',
  /** Mounting or unmounting an overlay snapshot failed. */
  Mount: 'ESNAPSHOT_MOUNT',
  /** A lock in the store could not be taken in time. */
  LockTimeout: 'ELOCK_TIMEOUT',
} as const;

export type ImageErrorCodeName = (typeof ImageErrorCode)[keyof typeof ImageErrorCode];

/** An error of the image side; `code` is one of ImageErrorCode or an addon code (EUNPACK_*, EDIGEST_MISMATCH). */
export class ImageError extends HuskError {
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(code, message, options);
    this.name = 'ImageError';
  }
}
