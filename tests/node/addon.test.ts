/** The Node-API addon end to end: loading, the typed wrappers, error codes, panics, and the event loop. */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { features, loadAddon, loadAddonFile, version } from '../../ts/src/runtime/addon.js';

/** `[workspace.package] version` from the root Cargo.toml. */
function cargoWorkspaceVersion(): string {
  const cargoToml = readFileSync(new URL('../../Cargo.toml', import.meta.url), 'utf8');
  const section = cargoToml.split(/^\[/m).find((s) => s.startsWith('workspace.package]'));
  const match = section?.match(/^version\s*=\s*"([^"]+)"/m);
  if (!match?.[1]) throw new Error('no [workspace.package] version in Cargo.toml');
  return match[1];
}

/** Counts 5 ms timer ticks while `work` runs: a blocked event loop would count none. */
async function ticksDuring(work: () => Promise<unknown>): Promise<number> {
  let ticks = 0;
  const timer = setInterval(() => ticks++, 5);
  try {
    await work();
  } finally {
    clearInterval(timer);
  }
  return ticks;
}

describe('loading', () => {
  it('loads once and caches', () => {
    expect(loadAddon()).toBe(loadAddon());
  });

  it('fails with EADDON_LOAD and a build hint when the binary is missing', () => {
    expect(() => loadAddonFile('/nonexistent/husk.linux-x64-gnu.node')).toThrow(
      expect.objectContaining({ code: 'EADDON_LOAD', message: expect.stringContaining('npm run build:addon') }),
    );
  });
});

describe('version()', () => {
  it('is the Cargo workspace version', () => {
    expect(version()).toBe(cargoWorkspaceVersion());
  });
});

describe('features()', () => {
  it('resolves to husk-core features document', async () => {
    const doc = await features();
    expect(doc.ociVersionMin).toBe('1.0.0');
    expect(doc.ociVersionMax).toMatch(/^1\.\d+\.\d+$/);
    expect(doc.linux?.namespaces).toContain('pid');
    expect(doc.hooks).toContain('createRuntime');
    expect(doc.annotations?.['io.github.husk.version']).toBe(version());
  });

  it('returns before the document is ready and keeps the event loop turning', async () => {
    let settled = false;
    const pending = features().then(() => (settled = true));
    expect(settled).toBe(false);
    const ticks = await ticksDuring(() =>
      Promise.all([pending, ...Array.from({ length: 50 }, () => features()), loadAddon().__sleepForTest(100)]),
    );
    expect(settled).toBe(true);
    expect(ticks).toBeGreaterThanOrEqual(5);
  });
});

describe('errors', () => {
  it('rejects with husk-core error code and message', async () => {
    const rejection = loadAddon().__rejectForTest('no-such-container');
    await expect(rejection).rejects.toBeInstanceOf(Error);
    await expect(rejection).rejects.toMatchObject({
      code: 'ENOTFOUND_CONTAINER',
      message: 'container "no-such-container" does not exist',
    });
  });

  it('rejects a wrongly typed argument with EINVAL_ARGUMENT', async () => {
    await expect(loadAddon().__rejectForTest(42 as unknown as string)).rejects.toMatchObject({
      code: 'EINVAL_ARGUMENT',
      message: 'argument id: expected string, got number',
    });
    await expect(loadAddon().__sleepForTest(-1)).rejects.toMatchObject({ code: 'EINVAL_ARGUMENT' });
  });

  it('passes JSON through Rust unchanged, and rejects what JSON cannot carry', async () => {
    const value = { id: 'c1', n: 1.5, ok: true, none: null, list: ['a', { b: [] }], text: 'é ✓ \u{1F600}' };
    await expect(loadAddon().__echoForTest(value)).resolves.toEqual(value);
    await expect(loadAddon().__echoForTest(undefined)).rejects.toMatchObject({ code: 'EINVAL_ARGUMENT' });
    await expect(loadAddon().__echoForTest(1n)).rejects.toBeInstanceOf(TypeError);
  });
});

describe('panics', () => {
  it('turns a panic in async work into an EPANIC rejection, and Node carries on', async () => {
    await expect(loadAddon().__panicForTest()).rejects.toMatchObject({
      code: 'EPANIC',
      message: expect.stringContaining('deliberate panic in async work'),
    });
    expect(version()).toBe(cargoWorkspaceVersion());
    await expect(features()).resolves.toHaveProperty('ociVersionMax');
  });

  it('turns a panic on the JS thread into a thrown EPANIC error', () => {
    expect(() => loadAddon().__panicSyncForTest()).toThrow(expect.objectContaining({ code: 'EPANIC' }));
    expect(version()).toBe(cargoWorkspaceVersion());
  });
});
