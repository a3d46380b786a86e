// The 200 MiB layer (layers:big): pull + unpack end to end, timed. Slow to set up (the fixture
// builds the layer), so it runs only with HUSK_SLOW_TESTS=1.
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { pullImage } from '../../ts/src/image/index.js';
import { startRegistries, type Registries } from './fixtures.js';

const slow = process.env.HUSK_SLOW_TESTS === '1';
let reg: Registries | undefined;
let scratch = '';

beforeAll(async () => {
  if (!slow) return;
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-big-'));
  reg = await startRegistries({ big: true });
}, 600_000);
afterAll(async () => {
  await reg?.stop();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

test.skipIf(!slow)('layers:big pulls and unpacks (200 MiB incompressible layer)', { timeout: 300_000 }, async () => {
  for (const [name, host] of [['plain', reg!.plain], ['hub-like via CDN', reg!.hub]] as const) {
    const root = join(scratch, name.replace(/\W/g, '-'));
    const started = process.hrtime.bigint();
    const record = await pullImage(`${host}/layers:big`, { root });
    const seconds = Number(process.hrtime.bigint() - started) / 1e9;
    console.log(`husk pull ${name} layers:big: ${seconds.toFixed(2)} s`);
    const big = record.layers.at(-1)!;
    expect(big.size).toBeGreaterThan(200_000_000);
    const file = join(root, 'layers/sha256', big.diffId.slice(7), 'big/random.bin');
    expect(statSync(file).size).toBe(200 << 20);
  }
});
