import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../ts/src/errors.js';
import {
  DescriptorSchema,
  ImageConfigSchema,
  ImageManifestSchema,
  MediaType,
  checkDocument,
  parseAnyManifest,
  parseDockerManifest,
  parseDockerManifestList,
  parseImageConfig,
  parseImageIndex,
  parseImageManifest,
  parseOciLayout,
  type Descriptor,
} from '../../ts/src/spec/index.js';
import { FIXTURES_DIR, hasCommand, makeTempDir, readJson, removeTempDirs } from './helpers.js';

afterAll(removeTempDirs);

const MKIMAGES = join(FIXTURES_DIR, 'mkimages.py');
const canBuildFixtures = existsSync(MKIMAGES) && hasCommand('python3') && existsSync('/bin/busybox');

const sha = (c: string) => `sha256:${c.repeat(64)}`;

function problemsOf(schema: Parameters<typeof checkDocument>[0], document: unknown): string[] {
  const result = checkDocument(schema, document);
  return result.ok ? [] : result.problems.map((p) => `${p.path}: ${p.message}`);
}

/** Reads a blob of an OCI layout and checks it against its descriptor's digest and size. */
function readBlob(layout: string, descriptor: Descriptor): Buffer {
  const [algorithm, encoded] = descriptor.digest.split(':') as [string, string];
  const bytes = readFileSync(join(layout, 'blobs', algorithm, encoded));
  expect(`${algorithm}:${createHash(algorithm).update(bytes).digest('hex')}`).toBe(descriptor.digest);
  expect(bytes.length).toBe(descriptor.size);
  return bytes;
}

/** Parses every index, manifest and config reachable from `descriptor`; returns how many of each. */
function walk(layout: string, descriptor: Descriptor, seen: Record<string, number>): void {
  const json = (d: Descriptor) => JSON.parse(readBlob(layout, d).toString('utf8')) as unknown;
  seen[descriptor.mediaType] = (seen[descriptor.mediaType] ?? 0) + 1;
  if (descriptor.mediaType === MediaType.OciImageIndex) {
    for (const child of parseImageIndex(json(descriptor)).manifests) walk(layout, child, seen);
  } else if (descriptor.mediaType === MediaType.OciImageManifest) {
    const manifest = parseImageManifest(json(descriptor));
    expect(manifest.config.mediaType).toBe(MediaType.OciImageConfig);
    parseImageConfig(json(manifest.config));
    seen.config = (seen.config ?? 0) + 1;
  }
}

describe.skipIf(!canBuildFixtures)('image-spec schemas on the fixture images (mkimages.py)', () => {
  let layout: string;

  beforeAll(() => {
    const out = makeTempDir('husk-fixtures-');
    execFileSync('python3', [MKIMAGES, out, '--no-big'], { stdio: 'pipe' });
    layout = join(out, 'layout');
  });

  it('accepts the layout header, index.json and every index, manifest and config in it', () => {
    expect(parseOciLayout(readJson(join(layout, 'oci-layout')))).toEqual({ imageLayoutVersion: '1.0.0' });
    const index = parseImageIndex(readJson(join(layout, 'index.json')));
    const seen: Record<string, number> = {};
    for (const descriptor of index.manifests) walk(layout, descriptor, seen);
    expect(seen[MediaType.OciImageIndex]).toBeGreaterThanOrEqual(2); // multi, multi-attest
    expect(seen[MediaType.OciImageManifest]).toBeGreaterThanOrEqual(10);
    expect(seen.config).toBe(seen[MediaType.OciImageManifest]);
  });

  it("reads the `config` fixture's runtime-relevant fields", () => {
    const index = parseImageIndex(readJson(join(layout, 'index.json')));
    const ref = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'config');
    expect(ref).toBeDefined();
    const manifest = parseImageManifest(JSON.parse(readBlob(layout, ref!).toString('utf8')));
    const config = parseImageConfig(JSON.parse(readBlob(layout, manifest.config).toString('utf8')));
    expect(config.config?.User).toBe('app');
    expect(config.config?.WorkingDir).toBe('/srv/app');
    expect(config.config?.Entrypoint).toEqual(['/bin/sh', '-c']);
    expect(config.config?.Env).toContain('WITH_EQUALS=a=b=c');
    expect(Object.keys(config.config?.ExposedPorts ?? {}).sort()).toEqual(['53/udp', '8080/tcp', '9000']);
    expect(config.config?.Healthcheck?.Test).toEqual(['CMD-SHELL', 'test -f /tmp/healthy']);
    expect(config.config?.StopSignal).toBe('SIGQUIT');
    expect(config.history?.filter((h) => h.empty_layer)).toHaveLength(2);
    expect(config.rootfs.diff_ids).toHaveLength(2);
  });

  it('accepts the attestation manifest with platform unknown/unknown', () => {
    const index = parseImageIndex(readJson(join(layout, 'index.json')));
    const attested = index.manifests.find((d) => d.annotations?.['org.opencontainers.image.ref.name'] === 'multi-attest');
    const children = parseImageIndex(JSON.parse(readBlob(layout, attested!).toString('utf8'))).manifests;
    const attestation = children.find((d) => d.platform?.os === 'unknown');
    expect(attestation?.annotations?.['vnd.docker.reference.type']).toBe('attestation-manifest');
  });

  describe.skipIf(!hasCommand('skopeo'))('Docker schema2, converted by skopeo', () => {
    it('accepts a schema2 manifest and its config', () => {
      const dir = join(makeTempDir('husk-skopeo-'), 'image');
      execFileSync('skopeo', ['copy', '--quiet', '--format', 'v2s2', `oci:${layout}:config`, `dir:${dir}`], { stdio: 'pipe' });
      const raw = readJson(join(dir, 'manifest.json'));
      const manifest = parseDockerManifest(raw);
      expect(manifest.config.mediaType).toBe(MediaType.DockerImageConfig);
      expect(manifest.layers.every((l) => l.mediaType === MediaType.DockerLayerGzip)).toBe(true);
      expect(parseAnyManifest(raw).kind).toBe('docker-manifest');
      const config = parseImageConfig(readJson(join(dir, manifest.config.digest.slice('sha256:'.length))));
      expect(config.config?.User).toBe('app');
    });

    it('accepts a manifest list', () => {
      const dir = join(makeTempDir('husk-skopeo-'), 'list');
      execFileSync('skopeo', ['copy', '--quiet', '--all', '--format', 'v2s2', `oci:${layout}:multi`, `dir:${dir}`], { stdio: 'pipe' });
      const raw = readJson(join(dir, 'manifest.json'));
      const list = parseDockerManifestList(raw);
      expect(list.manifests.map((m) => `${m.platform.os}/${m.platform.architecture}${m.platform.variant ? `/${m.platform.variant}` : ''}`)).toEqual([
        'linux/amd64',
        'linux/arm64/v8',
      ]);
      expect(parseAnyManifest(raw, MediaType.DockerManifestList).kind).toBe('docker-manifest-list');
    });
  });
});

describe.skipIf(!hasCommand('umoci'))('image-spec schemas on an umoci-built layout', () => {
  it('accepts manifests without mediaType and configs with history', () => {
    const layout = join(makeTempDir('husk-umoci-'), 'layout');
    const umoci = (...args: string[]) => execFileSync('umoci', args, { stdio: 'pipe' });
    umoci('init', '--layout', layout);
    umoci('new', '--image', `${layout}:t`);
    umoci('config', '--image', `${layout}:t`, '--config.cmd', 'sh', '--config.env', 'A=b', '--config.user', '1000:1000', '--config.exposedports', '80/tcp', '--config.volume', '/data', '--history.created_by', 'husk test');
    const index = parseImageIndex(readJson(join(layout, 'index.json')));
    const descriptor = index.manifests[0]!;
    const blob = (d: Descriptor) => readJson(join(layout, 'blobs', 'sha256', d.digest.slice('sha256:'.length)));
    const raw = blob(descriptor);
    const manifest = parseImageManifest(raw);
    expect(manifest.mediaType).toBeUndefined();
    expect(manifest.layers).toEqual([]);
    expect(parseAnyManifest(raw).kind).toBe('oci-manifest');
    const config = parseImageConfig(blob(manifest.config));
    expect(config.config?.Cmd).toEqual(['sh']);
    expect(config.history?.[0]?.created_by).toBe('husk test');
  });
});

describe('image-spec schemas on hand-built documents', () => {
  const configDescriptor = { mediaType: MediaType.OciImageConfig, digest: sha('a'), size: 2 };

  it('accepts an OCI 1.1 artifact manifest (artifactType, empty config, data, subject, urls)', () => {
    const artifact = {
      schemaVersion: 2,
      mediaType: MediaType.OciImageManifest,
      artifactType: 'application/vnd.example.sbom.v1+json',
      config: { mediaType: MediaType.OciEmpty, digest: sha('4'), size: 2, data: 'e30=' },
      layers: [{ mediaType: 'application/spdx+json', digest: sha('b'), size: 1234, urls: ['https://example.test/sbom'] }],
      subject: { mediaType: MediaType.OciImageManifest, digest: sha('c'), size: 527 },
      annotations: { 'org.opencontainers.image.created': '2024-01-01T00:00:00Z' },
    };
    expect(parseImageManifest(artifact)).toEqual(artifact);
  });

  it('accepts Docker configs that use null for empty fields', () => {
    const dockerConfig = {
      architecture: 'amd64',
      os: 'linux',
      config: { Env: null, Cmd: ['sh'], Entrypoint: null, OnBuild: null, Labels: null, Volumes: null, Image: '' },
      container_config: { Cmd: ['/bin/sh', '-c', '#(nop) CMD ["sh"]'] },
      docker_version: '20.10.23',
      rootfs: { type: 'layers', diff_ids: [sha('d')] },
    };
    expect(parseImageConfig(dockerConfig)).toEqual(dockerConfig);
  });

  it('rejects malformed digests, naming the path', () => {
    expect(problemsOf(DescriptorSchema, { ...configDescriptor, digest: 'sha256' })).toEqual([
      'digest: invalid value "sha256" (must match /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/)',
    ]);
    expect(problemsOf(DescriptorSchema, { ...configDescriptor, digest: 'sha256:ABC' })).toEqual([
      'digest: invalid sha256 digest "sha256:ABC": expected 64 lowercase hex digits',
    ]);
    expect(problemsOf(DescriptorSchema, { ...configDescriptor, digest: `sha512:${'a'.repeat(128)}` })).toEqual([]);
    expect(problemsOf(DescriptorSchema, { ...configDescriptor, digest: 'multihash+base58:QmRZxt2b1FVZPNqd8hsiykDL3TdBDeTSPX9Kv46HmX4Gx8' })).toEqual([]);
  });

  it('rejects bad manifests with one message per path', () => {
    const bad = { schemaVersion: 1, config: { ...configDescriptor, size: -1, mediaType: 'not a media type' }, layers: [{}] };
    expect(problemsOf(ImageManifestSchema, bad)).toEqual([
      'schemaVersion: invalid value 1, expected 2',
      'config.mediaType: invalid value "not a media type" (must match /^[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}\\/[A-Za-z0-9][A-Za-z0-9!#$&^_.+-]{0,126}$/)',
      'config.size: expected a size >= 0',
      'layers[0].mediaType: required, expected string',
      'layers[0].digest: required, expected string',
      'layers[0].size: required, expected number',
    ]);
  });

  it('rejects a Docker manifest given to the OCI parser, and a list entry without platform', () => {
    const docker = { schemaVersion: 2, mediaType: MediaType.DockerManifest, config: configDescriptor, layers: [] };
    expect(() => parseImageManifest(docker)).toThrow(
      `invalid image manifest: mediaType: invalid value "${MediaType.DockerManifest}", expected "${MediaType.OciImageManifest}"`,
    );
    const list = { schemaVersion: 2, mediaType: MediaType.DockerManifestList, manifests: [{ mediaType: MediaType.DockerManifest, digest: sha('e'), size: 1 }] };
    expect(() => parseDockerManifestList(list)).toThrow('invalid Docker manifest list: manifests[0].platform: required, expected object');
  });

  it('rejects image configs without rootfs layers', () => {
    expect(problemsOf(ImageConfigSchema, { architecture: 'amd64', os: 'linux', rootfs: { type: 'tar', diff_ids: ['x'] } })).toEqual([
      'rootfs.type: invalid value "tar", expected "layers"',
      'rootfs.diff_ids[0]: invalid value "x" (must match /^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/)',
    ]);
  });

  it('parseAnyManifest picks the kind from the media type, the document, or its shape', () => {
    const index = { schemaVersion: 2, manifests: [] };
    expect(parseAnyManifest(index).kind).toBe('oci-index');
    expect(parseAnyManifest({ ...index, mediaType: MediaType.OciImageIndex }).kind).toBe('oci-index');
    expect(parseAnyManifest({ schemaVersion: 2, config: configDescriptor, layers: [] }, MediaType.OciImageManifest).kind).toBe('oci-manifest');
    expect(() => parseAnyManifest({ schemaVersion: 1 }, MediaType.DockerManifestSchema1Signed)).toThrow(
      expect.objectContaining({ code: ErrorCode.InvalidSpec, message: expect.stringContaining('unsupported manifest media type') }),
    );
  });
});
