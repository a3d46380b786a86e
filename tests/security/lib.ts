// Shared pieces of the security suite: the extra static helpers (husk-cve-probe, the seccomp
// agent), a runtime spawner that can hand the runtime extra fds or use another copy of the
// binary, and the "fails cleanly" assertion.
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import {
  chmodSync,
  closeSync,
  copyFileSync,
  existsSync,
  mkdirSync,
  mkdtempSync,
  openSync,
  readFileSync,
  renameSync,
  rmSync,
} from 'node:fs';
import { constants, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { expect } from 'vitest';
import { hasInterpreter } from '../helpers/build-validator.js';
import type { Bundle } from '../helpers/bundle.js';
import type { RuntimeEnv } from '../helpers/env.js';
import { cgroupDirs, containerProcesses } from '../helpers/leaks.js';
import { cargoTargetDir, repoRoot, runtimeUnderTest } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';
import { VALIDATE_DIR } from '../helpers/spec.js';
import { parseTap } from '../helpers/tap.js';

export interface SecurityBins {
  probe: string;
  agent: string;
}

const SECURITY_BINS = { probe: 'husk-cve-probe', agent: 'husk-seccomp-agent' } as const;
let built: SecurityBins | undefined;

/**
 * Builds husk-cve-probe and husk-seccomp-agent (crates/husk-validate/src/bin) static, and copies
 * them out of cargo's dir as build-validator.ts does. Once per test file (cargo makes it a no-op
 * after the first).
 */
export function securityBins(): SecurityBins {
  if (built) return built;
  const dir = join(cargoTargetDir(), 'husk-test-bin');
  mkdirSync(dir, { recursive: true });
  const out: Record<string, string> = {};
  for (const [key, bin] of Object.entries(SECURITY_BINS)) {
    const args = ['rustc', '-p', 'husk-validate', '--release', '--bin', bin, '--', '-C', 'target-feature=+crt-static'];
    const result = spawnSync('cargo', args, { cwd: repoRoot, encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
    if (result.status !== 0) throw new Error(`cargo ${args.join(' ')} failed:\n${result.stderr}`);
    const from = join(cargoTargetDir(), 'release', bin);
    if (hasInterpreter(from)) throw new Error(`${from} is dynamically linked; it must be static to run in a busybox rootfs`);
    const to = join(dir, bin);
    const tmp = `${to}.tmp-${process.pid}`;
    copyFileSync(from, tmp);
    chmodSync(tmp, 0o755);
    renameSync(tmp, to);
    out[key] = to;
  }
  built = { probe: out.probe as string, agent: out.agent as string };
  return built;
}

/** Where the probe appears inside a container made by makeBundle (the validator's directory). */
export const PROBE = `${VALIDATE_DIR}/husk-cve-probe`;

/** Puts the probe next to the validator in the bundle's read-only /husk-validate. */
export function installProbe(bundle: Bundle): void {
  copyFileSync(securityBins().probe, join(bundle.validateDir, 'husk-cve-probe'));
  chmodSync(join(bundle.validateDir, 'husk-cve-probe'), 0o755);
}

export function ok(result: RuntimeResult): RuntimeResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

export function sha256(file: string): string {
  return createHash('sha256').update(readFileSync(file)).digest('hex');
}

/** A short-pathed temp dir for unix sockets (108-byte limit); removed by the caller. */
export function socketDir(): string {
  return mkdtempSync(join(tmpdir(), 'husk-sec-'));
}

export interface SpawnOptions {
  root: string;
  /** The runtime binary; default the runtime under test. */
  binary?: string;
  globalArgs?: string[];
  /** Fds handed to the runtime as its fds 3, 4, ... (not close-on-exec in the runtime). */
  extraFds?: number[];
  env?: NodeJS.ProcessEnv;
  timeoutMs?: number;
  ioDir: string;
}

let sequence = 0;

/** Like helpers/runtime.ts's `runtime`, with a choice of binary and extra inherited fds. */
export async function spawnRuntime(args: string[], opts: SpawnOptions): Promise<RuntimeResult> {
  mkdirSync(opts.ioDir, { recursive: true });
  const base = join(opts.ioDir, `sec-${++sequence}-${args[0] ?? 'none'}`);
  const outFd = openSync(`${base}.out`, 'w');
  const errFd = openSync(`${base}.err`, 'w');
  const binary = opts.binary ?? runtimeUnderTest();
  const argv = ['--root', opts.root, ...(opts.globalArgs ?? []), ...args];
  let child;
  try {
    child = spawn(binary, argv, { stdio: ['ignore', outFd, errFd, ...(opts.extraFds ?? [])], env: opts.env ?? process.env });
  } finally {
    closeSync(outFd);
    closeSync(errFd);
  }
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill('SIGKILL');
  }, opts.timeoutMs ?? 30_000);
  const { code, signal } = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => {
    child.once('error', () => resolve({ code: null, signal: null }));
    child.once('exit', (exitCode, exitSignal) => resolve({ code: exitCode, signal: exitSignal }));
  });
  clearTimeout(timer);
  return {
    command: [binary, ...argv].join(' '),
    code: code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 127),
    signal,
    stdout: readFileSync(`${base}.out`, 'utf8'),
    stderr: readFileSync(`${base}.err`, 'utf8'),
    timedOut,
  };
}

/** The validator's report of a run: every check must pass and the plan must be complete. */
export function expectValidatorPass(result: RuntimeResult): string[] {
  const tap = parseTap(result.stdout);
  const failed = tap.failures.length > 0 ? `validator failures:\n${tap.failures.join('\n')}\n\n` : '';
  expect(result.code, `${failed}${describeResult(result)}`).toBe(0);
  expect(tap.planned, `the validator printed its plan\n${describeResult(result)}`).toBe(tap.passed);
  return result.stdout.split('\n');
}

/** Asserts the validator printed an `ok` line matching `pattern` (so a check was not skipped). */
export function expectCheck(lines: string[], pattern: RegExp): void {
  const hit = lines.find((l) => l.startsWith('ok ') && pattern.test(l));
  expect(hit, `an ok line matching ${pattern} in:\n${lines.join('\n')}`).toBeDefined();
}

/**
 * `create` must fail, log an error naming `field` (runc-style JSON log), and leave no state
 * dir, cgroup or process behind. Returns the error message.
 */
export async function expectCreateRefused(env: RuntimeEnv, id: string, bundle: Bundle, field: RegExp): Promise<string> {
  const log = join(env.dir, `${id}.log`);
  const result = await env.runtime(['create', '--bundle', bundle.dir, id], { globalArgs: ['--log', log, '--log-format', 'json'] });
  expect(result.code, `create must fail\n${describeResult(result)}`).not.toBe(0);
  expect(existsSync(join(env.root, id)), `state dir ${join(env.root, id)} left`).toBe(false);
  expect(cgroupDirs(`/${id}`), 'no cgroup left').toEqual([]);
  expect(containerProcesses([id]), 'no process left').toEqual([]);
  const lines = existsSync(log) ? readFileSync(log, 'utf8').split('\n').filter((l) => l.trim()) : [];
  const errors = lines
    .map((l) => {
      try {
        return JSON.parse(l) as { level?: string; msg?: string };
      } catch {
        return { level: 'unparsed', msg: l };
      }
    })
    .filter((e) => e.level === 'error')
    .map((e) => e.msg ?? '');
  const message = [...errors, result.stderr].join('\n');
  expect(message, `the error names ${field}\n${describeResult(result)}\nlog:\n${lines.join('\n')}`).toMatch(field);
  return message;
}

/** The shared libraries (and loader) an ELF file needs, from ldd; empty for a static binary. */
export function sharedLibraries(file: string): string[] {
  const result = spawnSync('ldd', [file], { encoding: 'utf8' });
  if (result.status !== 0) return [];
  return result.stdout
    .split('\n')
    .map((line) => /(?:=>\s*)?(\/\S+)\s+\(0x/.exec(line)?.[1])
    .filter((p): p is string => !!p);
}

/** Copies the libraries `file` needs into the rootfs at the same paths (what a distro image has). */
export function installLibraries(bundle: Bundle, file: string): void {
  for (const lib of sharedLibraries(file)) {
    const dest = bundle.hostPath(lib);
    mkdirSync(dirname(dest), { recursive: true });
    if (!existsSync(dest)) copyFileSync(lib, dest);
  }
}

/** Whether this process has a capability in its effective set. */
export function hostHasCapability(bit: number): boolean {
  const line = /^CapEff:\s*([0-9a-f]+)$/m.exec(readFileSync('/proc/self/status', 'utf8'));
  return !!line?.[1] && (BigInt(`0x${line[1]}`) & (1n << BigInt(bit))) !== 0n;
}

export function removeQuietly(path: string): void {
  rmSync(path, { recursive: true, force: true });
}
