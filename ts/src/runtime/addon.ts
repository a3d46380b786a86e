/** Finds and loads husk's Node-API addon once, and wraps its functions with types. */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { HuskError } from '../errors.js';
import type { Features, NativeAddon } from './native.js';

export type { AddonError, Features, LinuxFeatures, NativeAddon } from './native.js';

/** The napi-rs platform package for the one target husk builds, and its binary's file name. */
const PLATFORM_DIR = 'npm/linux-x64-gnu';
const PLATFORM_PACKAGE = '@husk/linux-x64-gnu';
const BINARY_NAME = 'husk.linux-x64-gnu.node';
const BUILD_HINT = 'run `npm run build:addon` to build it';

const require = createRequire(import.meta.url);

/** The addon is missing, or present but not loadable on this machine. */
export class AddonLoadError extends HuskError {
  constructor(message: string, options?: { cause?: unknown }) {
    super('EADDON_LOAD', message, options);
    this.name = 'AddonLoadError';
  }
}

let cached: NativeAddon | undefined;

/** The addon, loaded on first use: this checkout's build, else the installed platform package. */
export function loadAddon(): NativeAddon {
  cached ??= loadAddonFile(findAddonPath());
  return cached;
}

/** Where the addon is: `npm/linux-x64-gnu/` under the package root, else `@husk/linux-x64-gnu`. */
export function findAddonPath(): string {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    const here = `${process.platform}-${process.arch}`;
    throw new AddonLoadError(`husk's addon is built for linux-x64-gnu only, not ${here}`);
  }
  const root = packageRoot(dirname(fileURLToPath(import.meta.url)));
  const local = root === undefined ? undefined : join(root, PLATFORM_DIR, BINARY_NAME);
  if (local !== undefined && existsSync(local)) return local;
  try {
    return require.resolve(PLATFORM_PACKAGE);
  } catch {
    const where = local ?? `${PLATFORM_DIR}/${BINARY_NAME}`;
    throw new AddonLoadError(
      `husk's native addon is not built: no ${where} and no ${PLATFORM_PACKAGE} package; ${BUILD_HINT}`,
    );
  }
}

/** Loads the addon from one file, uncached. */
export function loadAddonFile(path: string): NativeAddon {
  try {
    return require(path) as NativeAddon;
  } catch (cause) {
    const reason = cause instanceof Error ? cause.message : String(cause);
    throw new AddonLoadError(`cannot load husk's native addon from ${path}: ${reason}; ${BUILD_HINT}`, {
      cause,
    });
  }
}

/** The nearest directory at or above `dir` holding a package.json: the repo root from ts/src or dist. */
function packageRoot(dir: string): string | undefined {
  for (let current = dir; ; current = dirname(current)) {
    if (existsSync(join(current, 'package.json'))) return current;
    if (dirname(current) === current) return undefined;
  }
}

/** husk-core's version (the Cargo workspace version). */
export function version(): string {
  return loadAddon().version();
}

/** The runtime-spec features document, computed off the event loop. */
export async function features(): Promise<Features> {
  return loadAddon().features();
}
