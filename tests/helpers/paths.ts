// Where things are: the repo, cargo's target dir, the validator binaries, the runtime under test.
import { existsSync } from 'node:fs';
import { basename, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

export const repoRoot = resolve(fileURLToPath(import.meta.url), '../../..');

/**
 * The shared materials (fixtures, bench anchors): HUSK_SHARED, else `../shared` beside the
 * checkout, else /work/shared — a clone checked out elsewhere still finds them.
 */
export function sharedDir(): string {
  const candidates = [process.env.HUSK_SHARED, resolve(repoRoot, '../shared'), '/work/shared'].filter((d): d is string => !!d);
  return candidates.find((d) => existsSync(join(d, 'fixtures'))) ?? candidates[0]!;
}

/** cargo's target dir, as cargo itself picks it (CARGO_TARGET_DIR or <repo>/target). */
export function cargoTargetDir(): string {
  return process.env.CARGO_TARGET_DIR ? resolve(repoRoot, process.env.CARGO_TARGET_DIR) : join(repoRoot, 'target');
}

// What global-setup.ts hands the test workers through vitest's provide/inject.
declare module 'vitest' {
  export interface ProvidedContext {
    huskValidate: ValidatorPaths;
  }
}

export interface ValidatorPaths {
  /** The static in-container validator. */
  validate: string;
  /** The host-side console-socket receiver. */
  consoleRecv: string;
}

/** Where the harness keeps its copy of the validator binaries once built (safe from relinks). */
export function validatorPaths(): ValidatorPaths {
  const dir = join(cargoTargetDir(), 'husk-test-bin');
  return { validate: join(dir, 'husk-validate'), consoleRecv: join(dir, 'husk-console-recv') };
}

/** The runtime binary under test: HUSK_TEST_RUNTIME (a path or a name on PATH), else husk's. */
export function runtimeUnderTest(): string {
  return process.env.HUSK_TEST_RUNTIME || join(repoRoot, 'target/release/husk-runtime');
}

/** True when the reference runtime runc is under test (for its documented deviations). */
export function isRunc(): boolean {
  return basename(runtimeUnderTest()) === 'runc';
}

/** Scratch space for bundles and state roots; gitignored. */
export const scratchRoot = join(repoRoot, '.husk-test');
