/** Shared by the spec tests: running the reference tools (runc, umoci, skopeo) in throwaway directories. */
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { sharedDir } from '../helpers/paths.js';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');

/** The shared fixtures (tests/helpers/paths.ts `sharedDir`); FIXTURES_DIR overrides. */
export const FIXTURES_DIR = process.env.FIXTURES_DIR ?? join(sharedDir(), 'fixtures');

export function hasCommand(name: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${name}`], { stdio: 'ignore' }).status === 0;
}

const tempDirs: string[] = [];

/** A fresh temporary directory, removed by removeTempDirs(). */
export function makeTempDir(prefix = 'husk-spec-'): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  tempDirs.push(dir);
  return dir;
}

export function removeTempDirs(): void {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
}

/** The config.json `runc spec [extraArgs]` writes, as text. */
export function runcSpecText(extraArgs: string[] = []): string {
  const dir = makeTempDir('husk-runc-spec-');
  execFileSync('runc', ['spec', ...extraArgs], { cwd: dir, stdio: 'pipe' });
  return readFileSync(join(dir, 'config.json'), 'utf8');
}

export function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}
