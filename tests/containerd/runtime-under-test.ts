// The runtime the suite hands the shim: HUSK_TEST_RUNTIME (a path or a name on PATH), else husk's.
import { spawnSync } from 'node:child_process';
import { resolve } from 'node:path';
import { runtimeUnderTest } from '../helpers/paths.js';

/** The runtime under test as an absolute path, which is what the shim's BinaryName wants. */
export function runtimeBinary(): string {
  const runtime = runtimeUnderTest();
  if (runtime.includes('/')) return resolve(runtime);
  const found = spawnSync('sh', ['-c', 'command -v "$1"', 'sh', runtime], { encoding: 'utf8' }).stdout.trim();
  if (!found.startsWith('/')) throw new Error(`HUSK_TEST_RUNTIME=${runtime} is not on PATH`);
  return found;
}
