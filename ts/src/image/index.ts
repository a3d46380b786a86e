/** The image side: references, pulling, the local store, layer unpack and overlay snapshots. */
export { ImageError, ImageErrorCode } from './errors.js';
export { parseReference, formatReference, familiarReference, type ImageReference } from './reference.js';
export { hostPlatform, parsePlatform, formatPlatform, type PlatformSpec } from './platform.js';
export { pullImage, type PullEvent, type PullOptions } from './pull.js';
export { listImages, findImage, removeImages, pruneImages, type ImageRecord, type LayerRecord, type RemoveResult } from './images.js';
export { exportImage } from './export.js';
export { prepareSnapshot, removeSnapshot, type Snapshot } from './snapshot.js';
export { flattenLayers } from './store/layers.js';
export { ContentStore } from './store/content-store.js';
export { unpackLayer, type UnpackOptions, type UnpackStats } from './native.js';
export { lookupCredentials, storeCredentials, removeCredentials, defaultDockerConfigPath } from './registry/credentials.js';
export { RegistryClient } from './registry/client.js';
export { pushImage, type PushOptions, type PushEvent, type PushResult } from './push.js';
export { tagImage } from './tag.js';
export { importImages, type ImportOptions } from './import.js';
