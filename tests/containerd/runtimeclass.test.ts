// The documented Kubernetes RuntimeClass config (runtimeclass-config.toml): a containerd with the
// CRI plugin on takes it, and the CRI plugin loads with husk as the runtime handler "husk".
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { runtimeBinary } from './runtime-under-test.js';
import { CRI_PLUGIN, describeCommand, PrivateContainerd, privateCriConfig, runCommand } from './private-containerd.js';

const DOCUMENTED_CONFIG = readFileSync(new URL('./runtimeclass-config.toml', import.meta.url), 'utf8');

/** The documented config with this machine's runtime binary and a private runtime root. */
function testedConfig(binary: string, runtimeRoot: string): string {
  const swap = (text: string, key: string, value: string): string => {
    const line = new RegExp(`^(\\s*${key} = )".*"$`, 'm');
    if (!line.test(text)) throw new Error(`runtimeclass-config.toml has no ${key} line`);
    return text.replace(line, `$1"${value}"`);
  };
  return swap(swap(DOCUMENTED_CONFIG, 'BinaryName', binary), 'Root', runtimeRoot);
}

describe('RuntimeClass config for the CRI plugin', { timeout: 60_000 }, () => {
  const binary = runtimeBinary();
  let dir = '';
  let containerd: PrivateContainerd;
  let runtimeRoot = '';

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'husk-cri-'));
    runtimeRoot = join(dir, 'runtime-root');
    containerd = new PrivateContainerd(join(dir, 'containerd'));
    mkdirSync(containerd.dir);
    await containerd.start(privateCriConfig(containerd.dir, testedConfig(binary, runtimeRoot)));
  });

  afterAll(async () => {
    const leaks = containerd ? await containerd.stop() : [];
    rmSync(dir, { recursive: true, force: true });
    expect(leaks).toEqual([]);
  });

  test('containerd config dump merges the husk runtime with its BinaryName', async () => {
    const dump = await runCommand('containerd', ['--config', containerd.configFile, 'config', 'dump']);
    expect(dump.code, describeCommand(dump)).toBe(0);
    const husk = dump.stdout.split(/^\s*\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.husk\]\s*$/m)[1] ?? '';
    expect(husk, dump.stdout).toMatch(/^\s*runtime_type = "io\.containerd\.runc\.v2"$/m);
    expect(husk).toMatch(/^\s*\[plugins\."io\.containerd\.grpc\.v1\.cri"\.containerd\.runtimes\.husk\.options\]$/m);
    expect(husk).toContain(`BinaryName = "${binary}"`);
    expect(dump.stdout).toMatch(/^\s*default_runtime_name = "runc"$/m);
  });

  test('the CRI plugin loads (ctr plugins ls: ok) with husk as a runtime handler', async () => {
    const status = await containerd.pluginStatus();
    expect(status.get(`io.containerd.grpc.v1 cri`), containerd.logTail()).toBe('ok');
    const log = readFileSync(containerd.logFile, 'utf8');
    expect(log).not.toContain(`failed to load plugin ${CRI_PLUGIN}`);
    // The CRI plugin logs the config it runs with, runtimes included.
    const started = log.split('\n').find((line) => line.includes('Start cri plugin with config')) ?? '';
    expect(started, containerd.logTail()).toContain(`husk:{Type:io.containerd.runc.v2 `);
    expect(started).toContain(`Options:map[BinaryName:${binary} Root:${runtimeRoot} SystemdCgroup:false]`);
    expect(started).toContain('DefaultRuntimeName:runc ');
  });
});
