// Pure functions of the image side: references, platforms, auth challenges, Retry-After.
import { describe, expect, test } from 'vitest';
import { familiarReference, formatReference, parseReference } from '../../ts/src/image/reference.js';
import { formatPlatform, parsePlatform, selectManifest } from '../../ts/src/image/platform.js';
import { parseChallenge } from '../../ts/src/image/registry/auth.js';
import { retryAfterMs } from '../../ts/src/image/registry/transport.js';
import type { Descriptor } from '../../ts/src/spec/image-spec.js';

const DIGEST = `sha256:${'a'.repeat(64)}`;

describe('parseReference', () => {
  test.each([
    ['busybox', 'docker.io/library/busybox:latest'],
    ['busybox:1.36', 'docker.io/library/busybox:1.36'],
    ['library/busybox', 'docker.io/library/busybox:latest'],
    ['someone/app', 'docker.io/someone/app:latest'],
    ['docker.io/busybox', 'docker.io/library/busybox:latest'],
    ['index.docker.io/library/busybox:x', 'docker.io/library/busybox:x'],
    ['localhost/app', 'localhost/app:latest'],
    ['localhost:5000/a/b/c:v1', 'localhost:5000/a/b/c:v1'],
    ['127.0.0.1:5000/busybox:latest', '127.0.0.1:5000/busybox:latest'],
    ['quay.io/org/app', 'quay.io/org/app:latest'],
    [`host:5000/repo:tag@${DIGEST}`, `host:5000/repo:tag@${DIGEST}`],
    [`busybox@${DIGEST}`, `docker.io/library/busybox@${DIGEST}`],
    ['a_b-c__d/f--g.h', 'docker.io/a_b-c__d/f--g.h:latest'],
  ])('%s → %s', (input, normalised) => {
    expect(formatReference(parseReference(input))).toBe(normalised);
  });

  test('familiar forms drop docker.io/library', () => {
    expect(familiarReference(parseReference('busybox'))).toBe('busybox:latest');
    expect(familiarReference(parseReference('127.0.0.1:5000/x:1'))).toBe('127.0.0.1:5000/x:1');
  });

  test.each([
    ['', 'empty'],
    ['Busybox', 'lowercase'],
    ['host:5000/Repo', 'lowercase'],
    ['busybox:', 'not a valid tag'],
    ['busybox:-x', 'not a valid tag'],
    ['busybox@sha256:abc', 'not a digest'],
    [`busybox@sha256:${'A'.repeat(64)}`, '64 lowercase hex'],
    ['a//b', 'not a valid path component'],
    ['-a', 'not a valid path component'],
    [':tag', 'repository name is empty'],
    [' busybox', 'spaces'],
    [`x/${'a'.repeat(300)}`, 'longer than 255'],
  ])('rejects %j (%s)', (input, why) => {
    expect(() => parseReference(input)).toThrow(expect.objectContaining({ code: 'EINVAL_REFERENCE', message: expect.stringContaining(why) }));
  });
});

describe('platforms', () => {
  test('parse and normalise', () => {
    expect(formatPlatform(parsePlatform('linux/arm64'))).toBe('linux/arm64/v8');
    expect(formatPlatform(parsePlatform('linux/x86_64'))).toBe('linux/amd64');
    expect(formatPlatform(parsePlatform('linux/arm/v7'))).toBe('linux/arm/v7');
    expect(formatPlatform(parsePlatform('arm64'))).toBe('linux/arm64/v8');
    expect(() => parsePlatform('linux//amd64')).toThrow(expect.objectContaining({ code: 'EINVAL_PLATFORM' }));
  });

  test('selection skips attestations and prefers the exact variant', () => {
    const entry = (architecture: string, extra: Partial<Descriptor> = {}, variant?: string): Descriptor => ({
      mediaType: 'application/vnd.oci.image.manifest.v1+json',
      digest: `sha256:${architecture.padEnd(64, '0').slice(0, 64).replace(/[^a-f0-9]/g, '0')}`,
      size: 1,
      platform: { os: architecture === 'unknown' ? 'unknown' : 'linux', architecture, ...(variant && { variant }) },
      ...extra,
    });
    const attestation = entry('unknown', { annotations: { 'vnd.docker.reference.type': 'attestation-manifest' } });
    const amd = entry('amd64');
    const armV6 = entry('arm', {}, 'v6');
    const armV7 = entry('arm', {}, 'v7');
    const list = [attestation, armV6, armV7, amd];
    expect(selectManifest(list, { os: 'linux', architecture: 'amd64' })).toBe(amd);
    expect(selectManifest(list, { os: 'linux', architecture: 'arm', variant: 'v7' })).toBe(armV7);
    expect(selectManifest([attestation], { os: 'unknown', architecture: 'unknown' })).toBeUndefined();
    expect(selectManifest(list, { os: 'linux', architecture: 's390x' })).toBeUndefined();
  });
});

describe('registry protocol details', () => {
  test('WWW-Authenticate with commas inside quotes', () => {
    expect(parseChallenge('Bearer realm="http://h:1/token",service="reg",scope="repository:a/b:push,pull",error="insufficient_scope"')).toEqual({
      scheme: 'bearer',
      params: { realm: 'http://h:1/token', service: 'reg', scope: 'repository:a/b:push,pull', error: 'insufficient_scope' },
    });
    expect(parseChallenge('Basic realm="fixture-basic"')).toEqual({ scheme: 'basic', params: { realm: 'fixture-basic' } });
    expect(parseChallenge('Negotiate abc')).toBeUndefined();
  });

  test('Retry-After in seconds or as a date, capped', () => {
    expect(retryAfterMs('2', 60_000)).toBe(2000);
    expect(retryAfterMs('600', 60_000)).toBe(60_000);
    expect(retryAfterMs(new Date(Date.now() + 5000).toUTCString(), 60_000)).toBeGreaterThan(3000);
    expect(retryAfterMs(undefined, 60_000)).toBeUndefined();
    expect(retryAfterMs('soon', 60_000)).toBeUndefined();
  });
});
