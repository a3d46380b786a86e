/** What every command shares: the global flags, the package's version, and how output is written. */
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Argv } from 'yargs';

/** Where images, snapshots, volumes and container records live (DESIGN.md: state). */
export const DEFAULT_ROOT = '/var/lib/husk';

/** Flags every command accepts. */
export interface GlobalOptions {
  root: string;
  debug: boolean;
}

/** Declares the global flags on the top-level parser (yargs makes them valid for every command). */
export function withGlobalOptions<T>(argv: Argv<T>): Argv<T & GlobalOptions> {
  return argv
    .option('root', {
      type: 'string',
      default: DEFAULT_ROOT,
      requiresArg: true,
      describe: 'Root directory for images, snapshots and container records',
      global: true,
    })
    .option('debug', {
      type: 'boolean',
      default: false,
      describe: 'Print debugging detail, including stack traces on errors',
      global: true,
    });
}

/** Writes one line (or block) of text to stdout. */
export function printText(text: string): void {
  process.stdout.write(text.endsWith('\n') ? text : `${text}\n`);
}

/** Writes a value as indented JSON to stdout. */
export function printJson(value: unknown): void {
  printText(JSON.stringify(value, null, 2));
}

/** Writes a diagnostic line to stderr. */
export function printError(text: string): void {
  process.stderr.write(text.endsWith('\n') ? text : `${text}\n`);
}

let cachedVersion: string | undefined;

/** The CLI's version: the `version` of husk's package.json, found upward from this file (src or dist). */
export function cliVersion(): string {
  if (cachedVersion !== undefined) return cachedVersion;
  let dir = dirname(fileURLToPath(import.meta.url));
  for (;;) {
    const pkg = readPackageJson(join(dir, 'package.json'));
    if (pkg?.name === 'husk' && typeof pkg.version === 'string') return (cachedVersion = pkg.version);
    const parent = dirname(dir);
    if (parent === dir) return (cachedVersion = 'unknown');
    dir = parent;
  }
}

function readPackageJson(path: string): { name?: unknown; version?: unknown } | undefined {
  try {
    return JSON.parse(readFileSync(path, 'utf8')) as { name?: unknown; version?: unknown };
  } catch {
    return undefined;
  }
}
