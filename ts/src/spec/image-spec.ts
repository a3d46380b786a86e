/**
 * OCI image-spec (v1.1) documents and their Docker schema2 counterparts as zod schemas:
 * descriptor, image index, image manifest, image config, layout header, manifest list.
 * Objects are loose (extensions and Docker's extra fields are kept).
 */
import { z } from 'zod';
import { HuskError, ErrorCode } from '../errors.js';
import { parseDocument } from './parse.js';
import { integer, stringArray, stringMap } from './primitives.js';

export const MediaType = {
  OciDescriptor: 'application/vnd.oci.descriptor.v1+json',
  OciLayoutHeader: 'application/vnd.oci.layout.header.v1+json',
  OciImageIndex: 'application/vnd.oci.image.index.v1+json',
  OciImageManifest: 'application/vnd.oci.image.manifest.v1+json',
  OciImageConfig: 'application/vnd.oci.image.config.v1+json',
  OciLayer: 'application/vnd.oci.image.layer.v1.tar',
  OciLayerGzip: 'application/vnd.oci.image.layer.v1.tar+gzip',
  OciLayerZstd: 'application/vnd.oci.image.layer.v1.tar+zstd',
  /** Deprecated by image-spec 1.1, still found in old Windows images. */
  OciLayerNondistributable: 'application/vnd.oci.image.layer.nondistributable.v1.tar',
  OciLayerNondistributableGzip: 'application/vnd.oci.image.layer.nondistributable.v1.tar+gzip',
  OciLayerNondistributableZstd: 'application/vnd.oci.image.layer.nondistributable.v1.tar+zstd',
  /** The `{}` blob artifacts use as config. */
  OciEmpty: 'application/vnd.oci.empty.v1+json',
  DockerManifest: 'application/vnd.docker.distribution.manifest.v2+json',
  DockerManifestList: 'application/vnd.docker.distribution.manifest.list.v2+json',
  DockerImageConfig: 'application/vnd.docker.container.image.v1+json',
  DockerLayerGzip: 'application/vnd.docker.image.rootfs.diff.tar.gzip',
  DockerForeignLayerGzip: 'application/vnd.docker.image.rootfs.foreign.diff.tar.gzip',
  /** Schema 1 is not supported; named so callers can refuse it clearly. */
  DockerManifestSchema1: 'application/vnd.docker.distribution.manifest.v1+json',
  DockerManifestSchema1Signed: 'application/vnd.docker.distribution.manifest.v1+prettyjws',
  DockerPluginConfig: 'application/vnd.docker.plugin.v1+json',
} as const;

export type MediaTypeName = (typeof MediaType)[keyof typeof MediaType];

/** Pre-defined annotation keys (annotations.md) husk reads or writes. */
export const Annotation = {
  RefName: 'org.opencontainers.image.ref.name',
  Created: 'org.opencontainers.image.created',
  Title: 'org.opencontainers.image.title',
  Source: 'org.opencontainers.image.source',
  Revision: 'org.opencontainers.image.revision',
  Version: 'org.opencontainers.image.version',
  BaseName: 'org.opencontainers.image.base.name',
  BaseDigest: 'org.opencontainers.image.base.digest',
} as const;

/** The Accept header a registry client sends to get any of the four manifest kinds (see fixtures NOTES). */
export const MANIFEST_MEDIA_TYPES = [
  MediaType.OciImageIndex,
  MediaType.DockerManifestList,
  MediaType.OciImageManifest,
  MediaType.DockerManifest,
] as const;

// ---------------------------------------------------------------- descriptor

/** RFC 6838 type/subtype, as the image-spec schema restricts it. */
export const MediaTypeSchema = z
  .string()
  .regex(/^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/);

const DIGEST_PATTERN = /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/;

/** Encodings of the registered algorithms; the spec requires verifying these exactly. */
const REGISTERED_DIGEST_ENCODINGS: Readonly<Record<string, RegExp>> = {
  sha256: /^[a-f0-9]{64}$/,
  sha512: /^[a-f0-9]{128}$/,
};

export const DigestSchema = z
  .string()
  .regex(DIGEST_PATTERN)
  .superRefine((digest, ctx) => {
    const separator = digest.indexOf(':');
    const algorithm = digest.slice(0, separator);
    const encoding = REGISTERED_DIGEST_ENCODINGS[algorithm];
    if (separator > 0 && encoding !== undefined && !encoding.test(digest.slice(separator + 1))) {
      const hexLength = algorithm === 'sha256' ? 64 : 128;
      ctx.addIssue({ code: 'custom', message: `invalid ${algorithm} digest "${digest}": expected ${hexLength} lowercase hex digits` });
    }
  });

export const PlatformSchema = z.looseObject({
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': stringArray.optional(),
  variant: z.string().optional(),
  /** Reserved by the OCI spec; Docker lists use it for CPU features. */
  features: stringArray.optional(),
});

const size = integer.refine((n) => n >= 0, 'expected a size >= 0');

export const DescriptorSchema = z.looseObject({
  mediaType: MediaTypeSchema,
  digest: DigestSchema,
  size,
  urls: stringArray.optional(),
  annotations: stringMap.optional(),
  /** The content itself, base64, for small blobs embedded in the descriptor. */
  data: z.string().optional(),
  artifactType: MediaTypeSchema.optional(),
  platform: PlatformSchema.optional(),
});

// ---------------------------------------------------------------- OCI documents

export const ImageIndexSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.OciImageIndex).optional(),
  artifactType: MediaTypeSchema.optional(),
  manifests: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: stringMap.optional(),
});

export const ImageManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.OciImageManifest).optional(),
  artifactType: MediaTypeSchema.optional(),
  config: DescriptorSchema,
  /** Empty for some artifacts and for images with no layers yet (umoci new). */
  layers: z.array(DescriptorSchema),
  subject: DescriptorSchema.optional(),
  annotations: stringMap.optional(),
});

/** The `oci-layout` file at the root of an image layout. */
export const OciLayoutSchema = z.looseObject({ imageLayoutVersion: z.string() });

/** Docker writes null for empty lists and maps, so most fields here accept null. */
const emptyObjectMap = z.record(z.string(), z.looseObject({})).nullable();

/** Docker's HEALTHCHECK; durations are nanoseconds. */
export const HealthcheckSchema = z.looseObject({
  Test: stringArray.nullable().optional(),
  Interval: integer.optional(),
  Timeout: integer.optional(),
  StartPeriod: integer.optional(),
  StartInterval: integer.optional(),
  Retries: integer.optional(),
});

/** The execution parameters in an image config (`config` field). */
export const ImageExecConfigSchema = z.looseObject({
  User: z.string().optional(),
  ExposedPorts: emptyObjectMap.optional(),
  Env: stringArray.nullable().optional(),
  Entrypoint: stringArray.nullable().optional(),
  Cmd: stringArray.nullable().optional(),
  Volumes: emptyObjectMap.optional(),
  WorkingDir: z.string().optional(),
  Labels: stringMap.nullable().optional(),
  StopSignal: z.string().optional(),
  /** Deprecated (Windows only), still set by Docker. */
  ArgsEscaped: z.boolean().optional(),
  Memory: integer.optional(),
  MemorySwap: integer.optional(),
  CpuShares: integer.optional(),
  Healthcheck: HealthcheckSchema.nullable().optional(),
  OnBuild: stringArray.nullable().optional(),
  Shell: stringArray.nullable().optional(),
});

export const HistorySchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  created_by: z.string().optional(),
  comment: z.string().optional(),
  empty_layer: z.boolean().optional(),
});

/** The image config blob (OCI config.md), also what Docker schema2 images carry. */
export const ImageConfigSchema = z.looseObject({
  created: z.string().optional(),
  author: z.string().optional(),
  architecture: z.string(),
  os: z.string(),
  'os.version': z.string().optional(),
  'os.features': stringArray.optional(),
  variant: z.string().optional(),
  config: ImageExecConfigSchema.nullable().optional(),
  rootfs: z.looseObject({
    type: z.literal('layers'),
    diff_ids: z.array(DigestSchema),
  }),
  history: z.array(HistorySchema).optional(),
});

// ---------------------------------------------------------------- Docker schema2

export const DockerManifestSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.DockerManifest),
  config: DescriptorSchema,
  layers: z.array(DescriptorSchema),
});

export const DockerManifestListSchema = z.looseObject({
  schemaVersion: z.literal(2),
  mediaType: z.literal(MediaType.DockerManifestList),
  manifests: z.array(DescriptorSchema.extend({ platform: PlatformSchema })),
});

export type Digest = z.infer<typeof DigestSchema>;
export type Platform = z.infer<typeof PlatformSchema>;
export type Descriptor = z.infer<typeof DescriptorSchema>;
export type ImageIndex = z.infer<typeof ImageIndexSchema>;
export type ImageManifest = z.infer<typeof ImageManifestSchema>;
export type ImageConfig = z.infer<typeof ImageConfigSchema>;
export type ImageExecConfig = z.infer<typeof ImageExecConfigSchema>;
export type History = z.infer<typeof HistorySchema>;
export type OciLayout = z.infer<typeof OciLayoutSchema>;
export type DockerManifest = z.infer<typeof DockerManifestSchema>;
export type DockerManifestList = z.infer<typeof DockerManifestListSchema>;

/** Each parser validates a parsed JSON document; throws SpecError (code EINVAL_SPEC) naming each bad path. */
export function parseDescriptor(json: unknown): Descriptor {
  return parseDocument(DescriptorSchema, json, 'descriptor');
}
export function parseImageIndex(json: unknown): ImageIndex {
  return parseDocument(ImageIndexSchema, json, 'image index');
}
export function parseImageManifest(json: unknown): ImageManifest {
  return parseDocument(ImageManifestSchema, json, 'image manifest');
}
export function parseImageConfig(json: unknown): ImageConfig {
  return parseDocument(ImageConfigSchema, json, 'image config');
}
export function parseOciLayout(json: unknown): OciLayout {
  return parseDocument(OciLayoutSchema, json, 'oci-layout file');
}
export function parseDockerManifest(json: unknown): DockerManifest {
  return parseDocument(DockerManifestSchema, json, 'Docker manifest');
}
export function parseDockerManifestList(json: unknown): DockerManifestList {
  return parseDocument(DockerManifestListSchema, json, 'Docker manifest list');
}

/** Any of the four manifest kinds a registry serves, tagged by kind. */
export type AnyManifest =
  | { kind: 'oci-index'; document: ImageIndex }
  | { kind: 'oci-manifest'; document: ImageManifest }
  | { kind: 'docker-manifest-list'; document: DockerManifestList }
  | { kind: 'docker-manifest'; document: DockerManifest };

/**
 * Parses an index, manifest or Docker equivalent. The kind comes from `mediaType` (e.g. the
 * response's Content-Type), else the document's own mediaType, else its shape (OCI allows omitting it).
 */
export function parseAnyManifest(json: unknown, mediaType?: string): AnyManifest {
  const declared = mediaType ?? mediaTypeField(json);
  switch (declared) {
    case MediaType.OciImageIndex:
      return { kind: 'oci-index', document: parseImageIndex(json) };
    case MediaType.OciImageManifest:
      return { kind: 'oci-manifest', document: parseImageManifest(json) };
    case MediaType.DockerManifestList:
      return { kind: 'docker-manifest-list', document: parseDockerManifestList(json) };
    case MediaType.DockerManifest:
      return { kind: 'docker-manifest', document: parseDockerManifest(json) };
    case undefined:
      if (typeof json === 'object' && json !== null && 'manifests' in json) {
        return { kind: 'oci-index', document: parseImageIndex(json) };
      }
      return { kind: 'oci-manifest', document: parseImageManifest(json) };
    default:
      throw new HuskError(
        ErrorCode.InvalidSpec,
        `unsupported manifest media type "${declared}" (expected one of: ${MANIFEST_MEDIA_TYPES.join(', ')})`,
      );
  }
}

function mediaTypeField(json: unknown): string | undefined {
  if (typeof json !== 'object' || json === null) return undefined;
  const value = (json as { mediaType?: unknown }).mediaType;
  return typeof value === 'string' ? value : undefined;
}
