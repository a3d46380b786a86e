// The registry fixtures (../shared/fixtures/registry-up.sh) on a free port range, one set per test
// file, torn down with registry-down.sh; HUSK_TEST_REGISTRY_PORT reuses a set already running.
import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { sharedDir } from '../helpers/paths.js';

const run = promisify(execFile);
export const FIXTURES_DIR = process.env.HUSK_FIXTURES_DIR ?? join(sharedDir(), 'fixtures');
export const FIXTURE_USER = 'fixture';
export const FIXTURE_PASS = 'fixture-pass';

export interface FixtureRef {
  name: string;
  /** `127.0.0.1:PORT/repo:tag` on the plain variant. */
  ref: string;
  digest: string;
  purpose: string;
}

export interface Registries {
  port: number;
  work: string;
  refs: FixtureRef[];
  plain: string;
  tls: string;
  basic: string;
  token: string;
  tokenServer: string;
  hub: string;
  cdn: string;
  proxy: string;
  caCertDir: string;
  expectedLayers: string;
  stop(): Promise<void>;
}

async function portFree(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(false));
    server.listen(port, '127.0.0.1', () => server.close(() => resolve(true)));
  });
}

/** A base port with the 8 ports after it free on 127.0.0.1. */
async function freePortRange(count: number): Promise<number> {
  for (let tries = 0; tries < 50; tries++) {
    const base = 20_000 + Math.floor(Math.random() * 30_000);
    let free = true;
    for (let p = base; p < base + count && free; p++) free = await portFree(p);
    if (free) return base;
  }
  throw new Error('no free port range for the registry fixtures');
}

/** Starts the fixture registries (FIXTURE_NO_BIG unless `big`), returns their addresses. */
export async function startRegistries(options: { big?: boolean } = {}): Promise<Registries> {
  const reuse = process.env.HUSK_TEST_REGISTRY_PORT;
  const port = reuse ? Number(reuse) : await freePortRange(8);
  const work = reuse ? (process.env.HUSK_TEST_REGISTRY_WORK ?? `/tmp/registry/fx-${port}`) : mkdtempSync(join(tmpdir(), 'husk-registry-'));
  const env = { ...process.env, FIXTURE_WORK: work, ...(options.big ? {} : { FIXTURE_NO_BIG: '1' }) };
  const stop = async () => {
    if (reuse) return;
    await run(join(FIXTURES_DIR, 'registry-down.sh'), [String(port)], { env }).catch(() => undefined);
    rmSync(work, { recursive: true, force: true });
  };
  if (!reuse) {
    try {
      await run(join(FIXTURES_DIR, 'registry-up.sh'), [String(port)], { env, maxBuffer: 16 << 20 });
    } catch (error) {
      await stop();
      throw error;
    }
  }
  const refs = readFileSync(join(work, 'refs.tsv'), 'utf8')
    .trim()
    .split('\n')
    .map((line) => {
      const [name, ref, digest, purpose] = line.split('\t') as [string, string, string, string];
      return { name, ref, digest, purpose };
    });
  const at = (offset: number) => `127.0.0.1:${port + offset}`;
  return {
    port,
    work,
    refs,
    plain: at(0),
    tls: at(1),
    basic: at(2),
    token: at(3),
    tokenServer: at(4),
    hub: at(5),
    cdn: at(6),
    proxy: at(7),
    caCertDir: join(work, 'tls'),
    expectedLayers: join(work, 'expected-layers.json'),
    stop,
  };
}

/** `repo:tag` of a fixture ref, without the host. */
export function repoTag(ref: FixtureRef): string {
  return ref.ref.slice(ref.ref.indexOf('/') + 1);
}
