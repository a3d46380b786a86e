// linux.seccomp: errno actions and argument filters (checked from inside by the validator), KILL
// (checked from outside: death by SIGSYS), defaultErrnoRet, Docker's default profile, and the
// notify listener receiving the container process state with the seccomp fd.
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterEach, beforeAll, beforeEach, describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { repoRoot } from '../helpers/paths.js';
import { describeResult } from '../helpers/runtime.js';
import { expectCheck, expectValidatorPass, installProbe, ok, PROBE, removeQuietly, securityBins, socketDir } from './lib.js';

const ARCHES = ['SCMP_ARCH_X86_64', 'SCMP_ARCH_X86', 'SCMP_ARCH_X32'];
const DOCKER_DEFAULT = join(repoRoot, 'crates/husk-core/src/security/testdata/docker-default-amd64.json');
const SIGSYS_STATUS = 128 + 31;
const SYS_getppid = 110;

type Profile = Record<string, unknown>;

function dockerDefault(): Profile {
  return JSON.parse(readFileSync(DOCKER_DEFAULT, 'utf8')) as Profile;
}

function withSeccomp(bundle: Bundle, profile: Profile): Bundle {
  (bundle.config.linux as Record<string, unknown>).seccomp = profile;
  return bundle.write();
}

describe('seccomp', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  beforeAll(() => void securityBins());

  test('denied syscalls fail with the configured errno; argument filters pick by value', async () => {
    // A runtime that ignores linux.seccomp (or loads it into the wrong process, or drops
    // errnoRet/conditions) lets these calls run or fail with EPERM: the validator calls each
    // one and compares the errno with what this profile says.
    const id = env.newId();
    const bundle = env.bundle({ id });
    // The validator's hostname check would call uname, which this profile denies.
    delete bundle.config.hostname;
    withSeccomp(bundle, {
      defaultAction: 'SCMP_ACT_ALLOW',
      architectures: ARCHES,
      syscalls: [
        { names: ['getppid'], action: 'SCMP_ACT_ERRNO' },
        { names: ['mkdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 18 },
        { names: ['uname'], action: 'SCMP_ACT_ERRNO', errnoRet: 25 },
        { names: ['chdir'], action: 'SCMP_ACT_ERRNO', errnoRet: 40 },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 97, args: [{ index: 0, value: 2, op: 'SCMP_CMP_EQ' }] },
        { names: ['socket'], action: 'SCMP_ACT_ERRNO', errnoRet: 94, args: [{ index: 1, value: 15, valueTwo: 3, op: 'SCMP_CMP_MASKED_EQ' }] },
        { names: ['setns'], action: 'SCMP_ACT_ERRNO', errnoRet: 22, args: [{ index: 1, value: 0, op: 'SCMP_CMP_GE' }] },
        { names: ['getpriority'], action: 'SCMP_ACT_ERRNO', errnoRet: 13, args: [{ index: 0, value: 1, op: 'SCMP_CMP_LT' }] },
        { names: ['unshare'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0, op: 'SCMP_CMP_GT' }] },
        { names: ['personality'], action: 'SCMP_ACT_ERRNO', args: [{ index: 0, value: 0xffffffff, op: 'SCMP_CMP_NE' }] },
        // Two conditions on one argument: one rule each (ORed), as runc loads them.
        {
          names: ['kill'],
          action: 'SCMP_ACT_ERRNO',
          errnoRet: 3,
          args: [
            { index: 1, value: 0, op: 'SCMP_CMP_EQ' },
            { index: 1, value: 9, op: 'SCMP_CMP_EQ' },
          ],
        },
        { names: ['dup'], action: 'SCMP_ACT_TRACE' },
        { names: ['sched_yield'], action: 'SCMP_ACT_LOG' },
      ],
    });
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.dir, id]));
    expectCheck(lines, /Seccomp is 2/);
    expectCheck(lines, /getppid\(\): fails with errno 1 /);
    expectCheck(lines, /mkdir\(.*\): fails with errno 18 /);
    expectCheck(lines, /uname\(buf\): fails with errno 25 /);
    expectCheck(lines, /chdir\(.*\): fails with errno 40 /);
    expectCheck(lines, /socket\(AF_INET, SOCK_DGRAM, 0\): fails with errno 97 /);
    expectCheck(lines, /socket\(AF_INET6, SOCK_DGRAM, 0\): runs/);
    expectCheck(lines, /socket\(AF_UNIX, SOCK_STREAM, 0\): runs/);
    expectCheck(lines, /socket\(AF_NETLINK, SOCK_RAW, NETLINK_ROUTE\): fails with errno 94 /);
    expectCheck(lines, /setns\(-1, 0\): fails with errno 22 /);
    expectCheck(lines, /getpriority\(PRIO_PROCESS, 0\): fails with errno 13 /);
    expectCheck(lines, /unshare\(0\): runs/);
    expectCheck(lines, /personality\(0xffffffff\) \(query\): runs/);
    expectCheck(lines, /kill\(self, 0\): fails with errno 3 /);
    expectCheck(lines, /dup\(0\): fails with errno 38 \(SCMP_ACT_TRACE without a tracer\)/);
    expectCheck(lines, /sched_yield\(\): runs/);
  });

  test.for(['SCMP_ACT_KILL', 'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD'])('%s kills the process with SIGSYS (exit 159)', async (action) => {
    // Checked from outside: the process prints "before", calls getppid and must die there. A
    // runtime that ignores the rule prints "after" and exits 0; one that turns KILL into an
    // errno prints "result -1 errno ...".
    const id = env.newId();
    const bundle = env.bundle({ id, args: [PROBE, 'syscall', 'getppid'] });
    installProbe(bundle);
    withSeccomp(bundle, { defaultAction: 'SCMP_ACT_ALLOW', architectures: ARCHES, syscalls: [{ names: ['getppid'], action }] });
    const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
    expect(result.stdout, describeResult(result)).toContain('before');
    expect(result.stdout, describeResult(result)).not.toContain('after');
    expect(result.code, describeResult(result)).toBe(SIGSYS_STATUS);
  });

  test('defaultErrnoRet is what unlisted syscalls fail with (Docker profile, changed errno)', async () => {
    // A runtime that ignores defaultErrnoRet fails denied calls with EPERM (1) instead of 95.
    const id = env.newId();
    const bundle = env.bundle({ id });
    withSeccomp(bundle, { ...dockerDefault(), defaultErrnoRet: 95 });
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.dir, id]));
    expectCheck(lines, /unshare\(0\): fails with errno 95 or ENOSYS/);
    const got = lines.find((l) => /^# linux\.seccomp unshare\(0\): got errno/.test(l));
    expect(got, lines.join('\n')).toMatch(/got errno 95$/);
    expectCheck(lines, /setns\(-1, 0\): fails with errno 95/);
    expectCheck(lines, /getppid\(\): runs \(SCMP_ACT_ALLOW\)/);
  });

  test("Docker's default profile: busybox sh runs normally, unshare is denied", async () => {
    const id = env.newId();
    const script = 'echo hello; ls / >/dev/null && echo ls-ok; cat /etc/hostname; unshare -U true; echo "unshare=$?"';
    const bundle = env.bundle({ id, args: ['/bin/sh', '-c', script] });
    withSeccomp(bundle, dockerDefault());
    const result = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
    expect(result.stdout).toBe('hello\nls-ok\nhusk\nunshare=1\n');
    expect(result.stderr).toMatch(/unshare.*Operation not permitted/);

    const validated = env.newId();
    const vbundle = env.bundle({ id: validated, name: 'validated' });
    withSeccomp(vbundle, dockerDefault());
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', vbundle.dir, validated]));
    expectCheck(lines, /unshare\(0\): fails with errno 1 or ENOSYS/);
    expectCheck(lines, /socket\(AF_UNIX, SOCK_STREAM, 0\): runs/);
  });

  describe('notify', () => {
    let sockets = '';
    const agents: ReturnType<typeof spawn>[] = [];
    beforeEach(() => void (sockets = socketDir()));
    afterEach(() => {
      for (const agent of agents.splice(0)) agent.kill('SIGKILL');
      removeQuietly(sockets);
    });

    test('the listener gets the state with fds ["seccompFd"] and answers the notified syscall', async () => {
      // A runtime that loads SCMP_ACT_NOTIFY but never hands the fd over leaves getppid blocked
      // (the run times out); one that sends no state, or the wrong fd, fails the agent's checks.
      const socket = join(sockets, 'agent.sock');
      const agent = spawn(securityBins().agent, [socket, '--respond-val', '4242', '--timeout', '20'], { stdio: ['ignore', 'pipe', 'pipe'] });
      agents.push(agent);
      let out = '';
      let err = '';
      agent.stdout?.on('data', (c: Buffer) => (out += c.toString()));
      const exited = new Promise<number | null>((resolve) => agent.once('exit', (code) => resolve(code)));
      await new Promise<void>((resolve, reject) => {
        agent.stderr?.on('data', (c: Buffer) => {
          err += c.toString();
          if (err.includes('ready\n')) resolve();
        });
        agent.once('exit', (code) => reject(new Error(`agent exited ${code}: ${err}`)));
      });

      const id = env.newId();
      const bundle = env.bundle({ id, args: [PROBE, 'syscall', 'getppid'] });
      installProbe(bundle);
      withSeccomp(bundle, {
        defaultAction: 'SCMP_ACT_ALLOW',
        architectures: ARCHES,
        listenerPath: socket,
        listenerMetadata: 'husk-test-metadata',
        syscalls: [{ names: ['getppid'], action: 'SCMP_ACT_NOTIFY' }],
      });
      const result = ok(await env.runtime(['run', '--bundle', bundle.dir, id], { timeoutMs: 20_000 }));
      expect(result.stdout, describeResult(result)).toContain('result 4242 errno 0');
      expect(await exited, `agent: ${err}\n${out}`).toBe(0);

      const stateLine = out.split('\n').find((l) => l.startsWith('state '));
      expect(stateLine, out).toBeDefined();
      const state = JSON.parse((stateLine as string).slice('state '.length)) as {
        ociVersion?: string;
        fds?: string[];
        pid?: number;
        metadata?: string;
        state?: { id?: string; pid?: number; bundle?: string; status?: string };
      };
      expect(state.fds).toEqual(['seccompFd']);
      expect(state.ociVersion).toMatch(/^\d+\.\d+\.\d+/);
      expect(state.metadata).toBe('husk-test-metadata');
      expect(state.pid).toBeGreaterThan(0);
      expect(state.state?.id).toBe(id);
      expect(state.state?.bundle).toBe(bundle.dir);
      expect(out).toMatch(/^fd anon_inode:\[?seccomp notify\]?$/m);
      expect(out).toContain(`notification nr=${SYS_getppid} pid=`);
    });
  });
});
