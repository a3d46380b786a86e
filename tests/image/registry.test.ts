// Pulls against the real registry fixtures: every fixture on every variant (plain, TLS, basic,
// token, hub-like + CDN, fault proxy), auth failures, and the fault proxy's corrupt/flaky/
// ratelimit/slow/nodigest repositories.
import { existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pullImage, type PullEvent, type PullOptions } from '../../ts/src/image/index.js';
import { FIXTURE_PASS, FIXTURE_USER, repoTag, startRegistries, type FixtureRef, type Registries } from './fixtures.js';

let reg: Registries;
// Made in beforeAll, so a file that is only collected (never run) leaves nothing in /tmp.
let scratch = '';
let rootSequence = 0;
const freshRoot = () => join(scratch, `root-${++rootSequence}`);
const credentials = () => ({ username: FIXTURE_USER, password: FIXTURE_PASS });

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-registry-'));
  reg = await startRegistries();
});
afterAll(async () => {
  await reg?.stop();
  rmSync(scratch, { recursive: true, force: true });
});

/** The fixtures a pull must succeed on (evil:* are pinned in store.test.ts). */
function pullable(): FixtureRef[] {
  return reg.refs.filter((r) => !r.name.startsWith('evil-'));
}

describe('every fixture pulls on every variant', () => {
  const variants: Array<[string, (r: Registries) => { host: string; options: Partial<PullOptions> }]> = [
    ['plain', (r) => ({ host: r.plain, options: {} })],
    ['tls', (r) => ({ host: r.tls, options: { certDir: r.caCertDir } })],
    ['basic', (r) => ({ host: r.basic, options: { credentials } })],
    ['token', (r) => ({ host: r.token, options: { credentials } })],
    ['hub-like', (r) => ({ host: r.hub, options: { credentials } })],
    ['fault proxy (no fault)', (r) => ({ host: r.proxy, options: {} })],
  ];
  test.each(variants)('%s', async (_name, variant) => {
    const { host, options } = variant(reg);
    const root = freshRoot();
    const results = await Promise.all(
      pullable().map(async (fixture) => {
        const record = await pullImage(`${host}/${repoTag(fixture)}`, { root, ...options });
        return [fixture, record] as const;
      }),
    );
    for (const [fixture, record] of results) {
      expect(record.digest, fixture.name).toBe(fixture.digest);
      expect(record.platform, fixture.name).toBe('linux/amd64');
      for (const layer of record.layers) {
        expect(existsSync(join(root, 'layers/sha256', layer.diffId.slice(7))), `${fixture.name} ${layer.diffId}`).toBe(true);
      }
    }
    // Nothing left half-done: no partial downloads, unpack scratch dirs, locks or leases.
    for (const dir of ['ingest', 'layers/tmp', 'locks', 'leases']) expect(readdirSync(join(root, dir)), dir).toEqual([]);
  });
});

describe('platforms', () => {
  test.each(['busybox:multi', 'busybox:multi-v2s2', 'busybox:multi-attest'])('%s picks amd64 by default, arm64 on request', async (tag) => {
    const root = freshRoot();
    expect((await pullImage(`${reg.plain}/${tag}`, { root })).platform).toBe('linux/amd64');
    expect((await pullImage(`${reg.plain}/${tag}`, { root, platform: 'linux/arm64' })).platform).toBe('linux/arm64/v8');
  });

  test('a platform the index lacks is a clear error', async () => {
    await expect(pullImage(`${reg.plain}/busybox:multi-attest`, { root: freshRoot(), platform: 'linux/s390x' })).rejects.toMatchObject({
      code: 'ENOMATCH_PLATFORM',
      message: expect.stringContaining('linux/amd64, linux/arm64/v8'),
    });
  });

  test('by digest', async () => {
    const fixture = reg.refs.find((r) => r.name === 'busybox')!;
    const record = await pullImage(`${reg.plain}/busybox@${fixture.digest}`, { root: freshRoot() });
    expect(record.manifestDigest).toBe(fixture.digest);
  });
});

describe('auth', () => {
  test('basic auth without credentials is refused, naming the registry', async () => {
    await expect(pullImage(`${reg.basic}/busybox:latest`, { root: freshRoot(), credentials: () => undefined })).rejects.toMatchObject({
      code: 'EREGISTRY_AUTH',
      message: expect.stringContaining(reg.basic),
    });
  });

  test('wrong basic credentials are refused', async () => {
    const wrong = () => ({ username: FIXTURE_USER, password: 'nope' });
    await expect(pullImage(`${reg.basic}/busybox:latest`, { root: freshRoot(), credentials: wrong })).rejects.toMatchObject({ code: 'EREGISTRY_AUTH' });
  });

  test('token auth: anonymous pulls public repositories but not private/*', async () => {
    await pullImage(`${reg.token}/busybox:latest`, { root: freshRoot(), credentials: () => undefined });
    await expect(pullImage(`${reg.token}/private/busybox:latest`, { root: freshRoot(), credentials: () => undefined })).rejects.toMatchObject({
      code: 'EREGISTRY_AUTH',
    });
  });

  test('token auth with a wrong password is refused by the token server', async () => {
    const wrong = () => ({ username: FIXTURE_USER, password: 'nope' });
    await expect(pullImage(`${reg.token}/private/busybox:latest`, { root: freshRoot(), credentials: wrong })).rejects.toMatchObject({
      code: 'EREGISTRY_AUTH',
      message: expect.stringContaining('token server'),
    });
  });

  test('tokens are reused: one per repository scope for a whole pull', async () => {
    const issued = async () => ((await (await request(`http://${reg.tokenServer}/_stats`)).body.json()) as { issued: number }).issued;
    const before = await issued();
    await pullImage(`${reg.hub}/layers:latest`, { root: freshRoot(), credentials: () => undefined });
    expect((await issued()) - before).toBe(1);
  });

  test('TLS without the CA fails with a certificate error and a hint', async () => {
    await expect(pullImage(`${reg.tls}/busybox:latest`, { root: freshRoot(), certsDirs: [] })).rejects.toMatchObject({
      code: 'EREGISTRY_NETWORK',
      message: expect.stringContaining('--cert-dir'),
    });
  });

  test('TLS with a certs.d directory like docker', async () => {
    const certsDirs = [join(scratch, 'certs.d')];
    const hostDir = join(certsDirs[0]!, reg.tls);
    const { cpSync, mkdirSync } = await import('node:fs');
    mkdirSync(hostDir, { recursive: true });
    cpSync(join(reg.caCertDir, 'ca.crt'), join(hostDir, 'ca.crt'));
    await pullImage(`${reg.tls}/busybox:latest`, { root: freshRoot(), certsDirs });
  });

  test('TLS --insecure skips verification', async () => {
    await pullImage(`${reg.tls}/busybox:latest`, { root: freshRoot(), certsDirs: [], insecure: true });
  });
});

describe('faults', () => {
  const proxied = (fault: string, tag = 'busybox:latest') => `${reg.proxy}/${fault}/${tag}`;
  const reset = async () => {
    await (await request(`http://${reg.proxy}/_reset`, { method: 'POST' })).body.dump();
  };

  test('corrupt/: the flipped byte is caught, nothing is stored', async () => {
    const root = freshRoot();
    await expect(pullImage(proxied('corrupt'), { root, retries: 0 })).rejects.toMatchObject({
      code: 'EDIGEST_MISMATCH',
      message: expect.stringMatching(/blob sha256:[a-f0-9]{64} from http:\/\/127\.0\.0\.1:\d+\/v2\/corrupt\/busybox\/blobs/),
    });
    // Only the manifest (served intact) is stored; the corrupted config and layer are not.
    expect(readdirSync(join(root, 'blobs/sha256'))).toEqual([reg.refs.find((r) => r.name === 'busybox')!.digest.slice(7)]);
    expect(readdirSync(join(root, 'ingest'))).toEqual([]);
    expect(readdirSync(join(root, 'layers/sha256'))).toEqual([]);
  });

  test('flaky/: a download cut in half resumes with Range', async () => {
    await reset();
    const events: PullEvent[] = [];
    const record = await pullImage(proxied('flaky', 'layers:latest'), { root: freshRoot(), onEvent: (e) => events.push(e) });
    expect(record.layers).toHaveLength(4);
    expect(events.at(-1)).toMatchObject({ type: 'done', downloaded: 4 });
  });

  test('ratelimit/: 429 with Retry-After is waited out', async () => {
    await reset();
    // Spend the budget of 5 manifest GETs, then lift the limit while husk waits.
    for (let i = 0; i < 5; i++) {
      const response = await request(`http://${reg.proxy}/v2/ratelimit/busybox/manifests/latest`, {
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      await response.body.dump();
    }
    const started = Date.now();
    setTimeout(() => void reset(), 1000);
    const record = await pullImage(proxied('ratelimit'), { root: freshRoot() });
    expect(record.digest).toBe(reg.refs.find((r) => r.name === 'busybox')!.digest);
    expect(Date.now() - started).toBeGreaterThanOrEqual(1900);
  });

  test('ratelimit/: a second pull resolves with HEAD only', async () => {
    await reset();
    const root = freshRoot();
    await pullImage(proxied('ratelimit'), { root });
    const remaining = async () => {
      const response = await request(`http://${reg.proxy}/v2/ratelimit/busybox/manifests/latest`, {
        method: 'HEAD',
        headers: { accept: 'application/vnd.oci.image.manifest.v1+json' },
      });
      await response.body.dump();
      return response.headers['ratelimit-remaining'];
    };
    const before = await remaining();
    await pullImage(proxied('ratelimit'), { root });
    expect(await remaining()).toBe(before);
  });

  test('slow/: progress is reported while the layer trickles in', async () => {
    const progress: number[] = [];
    await pullImage(proxied('slow'), {
      root: freshRoot(),
      onEvent: (e) => {
        if (e.type === 'layer' && e.status === 'downloading' && e.current !== undefined) progress.push(e.current);
      },
    });
    expect(progress.length).toBeGreaterThan(5);
    expect(progress).toEqual([...progress].sort((a, b) => a - b));
  });

  test('nodigest/: no Docker-Content-Digest, content still verified', async () => {
    const record = await pullImage(proxied('nodigest', 'layers:latest'), { root: freshRoot() });
    expect(record.digest).toBe(reg.refs.find((r) => r.name === 'layers')!.digest);
  });

  test('unknown tags and repositories are ENOTFOUND_IMAGE naming the reference', async () => {
    await expect(pullImage(`${reg.plain}/busybox:nope`, { root: freshRoot() })).rejects.toMatchObject({
      code: 'ENOTFOUND_IMAGE',
      message: expect.stringContaining('busybox:nope'),
    });
    await expect(pullImage(`${reg.plain}/nothing/here:latest`, { root: freshRoot() })).rejects.toMatchObject({ code: 'ENOTFOUND_IMAGE' });
  });
});
