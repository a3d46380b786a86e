/** Builds the CLI once per test file and runs `node dist/cli/main.js` as a user would run `husk`. */
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../..');
export const HUSK_MAIN = join(REPO_ROOT, 'dist/cli/main.js');

/**
 * Compiles ts/src into dist/ (what `npm run build:ts` does). Type errors elsewhere in ts/src do not
 * stop tsc from emitting, so only a missing entry point fails the build here; typecheck catches the rest.
 */
export function buildCli(): void {
  const tsc = join(REPO_ROOT, 'node_modules/typescript/bin/tsc');
  const result = spawnSync(process.execPath, [tsc, '-p', 'tsconfig.build.json'], { cwd: REPO_ROOT, encoding: 'utf8' });
  if (!existsSync(HUSK_MAIN)) {
    throw new Error(`tsc did not produce ${HUSK_MAIN} (exit ${result.status}):\n${result.stdout}${result.stderr}`);
  }
}

export interface HuskRun {
  status: number | null;
  stdout: string;
  stderr: string;
}

export function runHusk(args: string[], options: { cwd?: string } = {}): HuskRun {
  const result = spawnSync(process.execPath, [HUSK_MAIN, ...args], {
    cwd: options.cwd ?? REPO_ROOT,
    encoding: 'utf8',
    env: { ...process.env, NO_COLOR: '1' },
  });
  return { status: result.status, stdout: result.stdout, stderr: result.stderr };
}
