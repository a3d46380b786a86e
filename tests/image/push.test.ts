// `husk push` against the real registry fixtures: pull a fixture, tag it into a new repository,
// push it (cross-repo mount on the same registry, monolithic and chunked uploads, basic and
// token auth, TLS), then pull it back by digest into a fresh store and compare.
import { spawnSync } from 'node:child_process';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { pullImage, type PullOptions } from '../../ts/src/image/index.js';
import { pushImage, type PushEvent, type PushOptions } from '../../ts/src/image/push.js';
import { tagImage } from '../../ts/src/image/tag.js';
import { MediaType } from '../../ts/src/spec/image-spec.js';
import { buildCli, HUSK_MAIN } from '../cli/run-husk.js';
import { FIXTURE_PASS, FIXTURE_USER, startRegistries, type Registries } from './fixtures.js';

let reg: Registries;
/** Made in beforeAll, so a file collected but not run leaves nothing behind. */
let scratch = '';
let sequence = 0;
/** Repositories unique per run, so a reused registry (HUSK_TEST_REGISTRY_PORT) starts empty. */
const run = Date.now().toString(36);
const fresh = (what: string) => join(scratch, `${what}-${++sequence}`);
const credentials = () => ({ username: FIXTURE_USER, password: FIXTURE_PASS });

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-push-'));
  reg = await startRegistries();
  buildCli();
});
afterAll(async () => {
  await reg?.stop();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

/** Pushes with events collected: status per blob digest. */
async function push(reference: string, options: PushOptions) {
  const events: PushEvent[] = [];
  const result = await pushImage(reference, { ...options, onEvent: (e) => events.push(e) });
  const statuses = new Map<string, string>();
  for (const e of events) if (e.type === 'blob' && e.status !== 'pushing') statuses.set(e.digest, e.status);
  return { result, events, statuses: [...statuses.values()].sort() };
}

/** Pulls `reference@digest` into a fresh store and checks it is the image `expected` was. */
async function pullBackAndCompare(repository: string, expected: Awaited<ReturnType<typeof pullImage>>, options: Partial<PullOptions> = {}) {
  const back = await pullImage(`${repository}@${expected.manifestDigest}`, { root: fresh('root'), ...options });
  expect(back.manifestDigest).toBe(expected.manifestDigest);
  expect(back.manifestMediaType).toBe(expected.manifestMediaType);
  expect(back.configDigest).toBe(expected.configDigest);
  expect(back.layers).toEqual(expected.layers);
}

describe('push', () => {
  test('a tagged copy goes to a new repository on the same registry by cross-repo mount', async () => {
    const root = fresh('root');
    const source = await pullImage(`${reg.plain}/busybox:latest`, { root });
    const target = `${reg.plain}/pushed-${run}/mount:v1`;
    await tagImage(root, source.configDigest.slice(7, 19), target);
    const { result, statuses } = await push(target, { root });
    expect(statuses).toEqual(['mounted', 'mounted']);
    expect(result).toMatchObject({ digest: source.manifestDigest, mediaType: MediaType.OciImageManifest, pushed: 0, mounted: 2 });
    await pullBackAndCompare(`${reg.plain}/pushed-${run}/mount`, source);
    // Pushed again: HEAD finds every blob; the tag still resolves to the same manifest.
    expect((await push(target, { root })).statuses).toEqual(['exists', 'exists']);
    const byTag = await pullImage(target, { root: fresh('root') });
    expect(byTag.manifestDigest).toBe(source.manifestDigest);
  });

  test('basic auth: chunked (PATCH) and monolithic uploads; a Docker schema2 manifest keeps its type', async () => {
    const root = fresh('root');
    const source = await pullImage(`${reg.plain}/layers:v2s2`, { root });
    expect(source.manifestMediaType).toBe(MediaType.DockerManifest);
    const target = `${reg.basic}/pushed-${run}/chunked:v1`;
    await tagImage(root, source.reference, target);
    await expect(pushImage(target, { root, credentials: () => undefined })).rejects.toMatchObject({ code: 'EREGISTRY_AUTH' });
    // 256 KiB chunks: the 1 MB busybox layer goes up in PATCHes, the small ones in one PUT.
    const { result, events, statuses } = await push(target, { root, credentials, chunkSize: 256 << 10 });
    expect(statuses).toEqual(Array(5).fill('pushed'));
    expect(result.pushed).toBe(5);
    const big = source.layers[0]!;
    const progress = events.flatMap((e) => (e.type === 'blob' && e.digest === big.digest && e.status === 'pushing' ? [e.current] : []));
    expect(progress.length).toBeGreaterThan(4);
    expect(progress.at(-1)).toBe(big.size);
    await pullBackAndCompare(`${reg.basic}/pushed-${run}/chunked`, source, { credentials });
  });

  test('token auth: anonymous push is refused; with credentials it mounts across repositories (two-repo scope)', async () => {
    const root = fresh('root');
    const source = await pullImage(`${reg.token}/busybox:latest`, { root, credentials: () => undefined });
    const target = `${reg.token}/pushed-${run}/token:v1`;
    await tagImage(root, source.reference, target);
    await expect(pushImage(target, { root, credentials: () => undefined })).rejects.toMatchObject({ code: 'EREGISTRY_AUTH' });
    const { statuses } = await push(target, { root, credentials });
    expect(statuses).toEqual(['mounted', 'mounted']);
    await pullBackAndCompare(`${reg.token}/pushed-${run}/token`, source, { credentials });
  });

  test('TLS with the fixture CA: uploads without mount sources', async () => {
    const root = fresh('root');
    const source = await pullImage(`${reg.plain}/config:latest`, { root });
    const target = `${reg.tls}/pushed-${run}/tls:v1`;
    await tagImage(root, source.reference, target);
    await expect(pushImage(target, { root, retries: 0 })).rejects.toMatchObject({ code: 'EREGISTRY_NETWORK' });
    const { result } = await push(target, { root, certDir: reg.caCertDir, mount: false });
    expect(result).toMatchObject({ pushed: source.layers.length + 1, mounted: 0 });
    await pullBackAndCompare(`${reg.tls}/pushed-${run}/tls`, source, { certDir: reg.caCertDir });
  });

  test('husk tag + husk push print docker-like lines; a missing image or a digest is refused', () => {
    const root = fresh('root');
    const husk = (...args: string[]) => spawnSync(process.execPath, [HUSK_MAIN, '--root', root, ...args], { encoding: 'utf8' });
    expect(husk('pull', '-q', `${reg.plain}/busybox:latest`).status).toBe(0);
    const tagged = husk('tag', `${reg.plain}/busybox`, `${reg.plain}/pushed-${run}/cli`);
    expect(tagged.status, tagged.stderr).toBe(0);
    const pushed = husk('push', `${reg.plain}/pushed-${run}/cli`);
    expect(pushed.status, pushed.stderr).toBe(0);
    expect(pushed.stdout).toContain(`The push refers to repository [${reg.plain}/pushed-${run}/cli]`);
    expect(pushed.stdout).toMatch(/^[a-f0-9]{12}: Mounted from busybox$/m);
    expect(pushed.stdout).toMatch(/^latest: digest: sha256:[a-f0-9]{64} size: \d+$/m);
    const quiet = husk('push', '-q', `${reg.plain}/pushed-${run}/cli`);
    expect(quiet.stdout).toBe(`${reg.refs.find((r) => r.name === 'busybox')!.digest}\n`);
    const missing = husk('push', `${reg.plain}/pushed-${run}/nothing:v9`);
    expect(missing.status).toBe(125);
    expect(missing.stderr).toContain('no such image');
    const digest = husk('push', `${reg.plain}/busybox@${reg.refs[0]!.digest}`);
    expect(digest.status).toBe(125);
    expect(digest.stderr).toContain('not a digest');
  });

  test('a chunked upload picks up from the registry after a refused PATCH and one whose answer was lost', async () => {
    // In front of the plain registry: the 2nd PATCH gets a 500 (not forwarded), the 4th reaches
    // the registry but its answer is cut off (the client retries it: the registry says 416).
    let patches = 0;
    const [plainHost, plainPort] = reg.plain.split(':');
    const proxy: Server = createServer((req, res) => {
      const n = req.method === 'PATCH' ? ++patches : 0;
      if (n === 2) {
        req.resume();
        res.writeHead(500).end();
        return;
      }
      const upstream = httpRequest({ host: plainHost, port: Number(plainPort), method: req.method, path: req.url, headers: req.headers }, (answer) => {
        if (n === 4) {
          answer.resume();
          res.socket?.destroy();
          return;
        }
        res.writeHead(answer.statusCode ?? 502, answer.headers);
        answer.pipe(res);
      });
      req.pipe(upstream);
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    try {
      const root = fresh('root');
      const source = await pullImage(`${reg.plain}/busybox:latest`, { root });
      const target = `127.0.0.1:${(proxy.address() as AddressInfo).port}/pushed-${run}/resume:v1`;
      await tagImage(root, source.reference, target);
      const { result } = await push(target, { root, chunkSize: 128 << 10, mount: false, backoffMs: 10 });
      expect(result.pushed).toBe(2);
      // 1 MB in 128 KiB chunks is 8 PATCHes; the two faults cost at least two more.
      expect(patches).toBeGreaterThanOrEqual(10);
      await pullBackAndCompare(`${reg.plain}/pushed-${run}/resume`, source);
    } finally {
      await new Promise((resolve) => proxy.close(resolve));
    }
  });
});
