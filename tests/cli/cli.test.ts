import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { defaultSpec, parseFeatures, parseRuntimeSpec, serializeSpec } from '../../ts/src/spec/index.js';
import { REPO_ROOT, buildCli, runHusk } from './run-husk.js';

const packageVersion = (JSON.parse(readFileSync(join(REPO_ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const addonBuilt = existsSync(join(REPO_ROOT, 'npm/linux-x64-gnu/husk.linux-x64-gnu.node'));

beforeAll(buildCli);

const tempDirs: string[] = [];
afterEach(() => {
  for (const dir of tempDirs.splice(0)) rmSync(dir, { recursive: true, force: true });
});
function bundleDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'husk-cli-'));
  tempDirs.push(dir);
  return dir;
}

describe('husk --help', () => {
  it('lists every command with a one-line description', () => {
    const run = runHusk(['--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/Usage: husk <command>/);
    expect(run.stdout).toMatch(/husk spec\s+Write a default OCI runtime config.json/);
    expect(run.stdout).toMatch(/husk info\s+Show the features of the container runtime/);
    expect(run.stdout).toMatch(/husk version\s+Show the husk CLI, native core and OCI runtime-spec versions/);
    expect(run.stdout).toContain('--root');
    expect(run.stdout).toContain('/var/lib/husk');
    expect(run.stdout).toContain('--debug');
  });

  it('is what bare `husk` prints', () => {
    const bare = runHusk([]);
    expect(bare.status).toBe(0);
    expect(bare.stdout).toBe(runHusk(['--help']).stdout);
  });

  it("shows a command's own flags", () => {
    const run = runHusk(['spec', '--help']);
    expect(run.status).toBe(0);
    expect(run.stdout).toContain('--bundle');
    expect(run.stdout).toContain('--rootless');
  });
});

describe('husk --version', () => {
  it("prints the CLI's version from package.json", () => {
    for (const flag of ['--version', '-v']) {
      const run = runHusk([flag]);
      expect(run.status).toBe(0);
      expect(run.stdout.trim()).toBe(`husk version ${packageVersion}`);
    }
  });
});

describe('usage errors exit 125 with a clear message', () => {
  it('unknown command', () => {
    const run = runHusk(['frobnicate']);
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('husk: Unknown command: frobnicate');
    expect(run.stderr).toContain("Run 'husk --help' for usage.");
    expect(run.stdout).toBe('');
  });

  it('unknown flag', () => {
    const run = runHusk(['spec', '--frobnicate'], { cwd: bundleDir() });
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('husk: Unknown argument: frobnicate');
  });

  it('flag without its value', () => {
    const run = runHusk(['spec', '--bundle']);
    expect(run.status).toBe(125);
    expect(run.stderr).toMatch(/husk: Not enough arguments following: bundle/);
  });

  it('unexpected positional argument', () => {
    const run = runHusk(['version', 'extra']);
    expect(run.status).toBe(125);
    expect(run.stderr).toContain('husk: Unknown command: extra');
  });
});

describe('husk spec', () => {
  it('writes the default config.json into the current directory', () => {
    const dir = bundleDir();
    const run = runHusk(['spec'], { cwd: dir });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('');
    const text = readFileSync(join(dir, 'config.json'), 'utf8');
    expect(text).toBe(serializeSpec(defaultSpec()));
    expect(() => parseRuntimeSpec(JSON.parse(text))).not.toThrow();
  });

  it('writes into --bundle, and --rootless writes the rootless spec', () => {
    const dir = bundleDir();
    const run = runHusk(['spec', '--rootless', '--bundle', dir]);
    expect(run.status).toBe(0);
    expect(JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8'))).toEqual(defaultSpec({ rootless: true }));
    const short = bundleDir();
    expect(runHusk(['spec', '-b', short]).status).toBe(0);
    expect(existsSync(join(short, 'config.json'))).toBe(true);
  });

  it('refuses to overwrite an existing config.json', () => {
    const dir = bundleDir();
    writeFileSync(join(dir, 'config.json'), '{"mine": true}');
    const run = runHusk(['spec', '--bundle', dir]);
    expect(run.status).toBe(125);
    expect(run.stderr).toContain(`husk: ${join(dir, 'config.json')} already exists; remove it first`);
    expect(readFileSync(join(dir, 'config.json'), 'utf8')).toBe('{"mine": true}');
  });

  it('fails clearly when the bundle directory does not exist', () => {
    const missing = join(bundleDir(), 'nope');
    const run = runHusk(['spec', '--bundle', missing]);
    expect(run.status).toBe(125);
    expect(run.stderr).toContain(`husk: bundle directory ${missing} does not exist`);
  });

  it('--debug adds the stack trace to errors', () => {
    const missing = join(bundleDir(), 'nope');
    const run = runHusk(['--debug', 'spec', '--bundle', missing]);
    expect(run.status).toBe(125);
    expect(run.stderr).toMatch(/at writeDefaultSpec/);
  });
});

describe('husk version', () => {
  it('prints the CLI, core and spec versions (core falls back to a reason without the addon)', () => {
    const run = runHusk(['version']);
    expect(run.status).toBe(0);
    const lines = run.stdout.trim().split('\n');
    expect(lines[0]).toBe(`husk version ${packageVersion}`);
    expect(lines[1]).toMatch(/^core: (\d+\.\d+\.\d+\S*|unavailable \(.+\))$/);
    expect(lines[2]).toBe('spec: 1.2.0');
  });

  it('--json prints the same as JSON', () => {
    const run = runHusk(['version', '--json']);
    expect(run.status).toBe(0);
    const versions = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(versions).toMatchObject({ version: packageVersion, spec: '1.2.0', node: process.version });
  });
});

describe.skipIf(!addonBuilt)('husk info (needs the built addon)', () => {
  it('prints the features document as JSON', () => {
    const run = runHusk(['info']);
    expect(run.status).toBe(0);
    const features = parseFeatures(JSON.parse(run.stdout));
    expect(features.ociVersionMax).toBe('1.2.0');
  });

  it('--no-json prints a summary', () => {
    const run = runHusk(['info', '--no-json']);
    expect(run.status).toBe(0);
    expect(run.stdout).toMatch(/^OCI runtime spec: \S+ to 1\.2\.0$/m);
  });
});
