// The process's own security attributes: no_new_privileges (read back and proven with a setuid
// binary), oomScoreAdj, rlimits, masked and read-only paths, and AppArmor/SELinux asked for on
// a host that has neither.
import { chmodSync, chownSync, copyFileSync, existsSync, readFileSync } from 'node:fs';
import { beforeAll, describe, expect, test } from 'vitest';
import { token } from '../helpers/bundle.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { describeResult } from '../helpers/runtime.js';
import { expectCheck, expectCreateRefused, expectValidatorPass, hostHasCapability, ok, securityBins } from './lib.js';

const CAP_SYS_RESOURCE = 24;
const apparmorEnabled = () => existsSync('/sys/module/apparmor/parameters/enabled') && readFileSync('/sys/module/apparmor/parameters/enabled', 'utf8').startsWith('Y');
const selinuxEnabled = () => existsSync('/sys/fs/selinux/enforce');

describe('process security attributes', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  beforeAll(() => void securityBins());

  test('noNewPrivileges: NoNewPrivs is 1 and a setuid-root binary does not raise uid 1000', async () => {
    // The control run (noNewPrivileges false) shows the setuid bit works in this rootfs, so the
    // first run's euid 1000 is the flag at work. A runtime that drops the flag (or sets it after
    // execve, i.e. not at all) gives euid 0 both times.
    const run = async (nnp: boolean) => {
      const id = env.newId(nnp ? 'nnp' : 'ctl');
      const bundle = env.bundle({ id, args: ['/bin/suid-ids', 'ids'], name: nnp ? 'nnp' : 'control' });
      const suid = bundle.hostPath('/bin/suid-ids');
      copyFileSync(securityBins().probe, suid);
      chownSync(suid, 0, 0);
      chmodSync(suid, 0o4755);
      bundle.config.process.user = { uid: 1000, gid: 1000 };
      bundle.config.process.noNewPrivileges = nnp;
      bundle.write();
      return ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
    };
    const control = await run(false);
    expect(control.stdout, `setuid works without no_new_privs\n${describeResult(control)}`).toContain('uid 1000 0');
    const confined = await run(true);
    expect(confined.stdout, describeResult(confined)).toContain('uid 1000 1000');

    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.noNewPrivileges = true;
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.write().dir, id]));
    expectCheck(lines, /process\.noNewPrivileges \(NoNewPrivs\)/);
  });

  test('oomScoreAdj (positive) is the process\'s oom_score_adj', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.oomScoreAdj = 613;
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.write().dir, id]));
    expectCheck(lines, /process\.oomScoreAdj/);
  });

  test('oomScoreAdj (negative) is the process\'s oom_score_adj', async ({ skip }) => {
    // Lowering oom_score_adj below 0 needs CAP_SYS_RESOURCE, which this machine's root may lack.
    if (!hostHasCapability(CAP_SYS_RESOURCE)) return skip('the test process lacks CAP_SYS_RESOURCE, needed for a negative oom_score_adj');
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.oomScoreAdj = -317;
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.write().dir, id]));
    expectCheck(lines, /process\.oomScoreAdj/);
  });

  test('rlimits: every configured limit is the process\'s soft and hard limit', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.process.rlimits = [
      { type: 'RLIMIT_NOFILE', soft: 512, hard: 1000 },
      { type: 'RLIMIT_NPROC', soft: 3000, hard: 4000 },
      { type: 'RLIMIT_CORE', soft: 0, hard: 0 },
      { type: 'RLIMIT_STACK', soft: 4 * 1024 * 1024, hard: 16 * 1024 * 1024 },
      { type: 'RLIMIT_MEMLOCK', soft: 65536, hard: 65536 },
      { type: 'RLIMIT_MSGQUEUE', soft: 8192, hard: 16384 },
      { type: 'RLIMIT_SIGPENDING', soft: 100, hard: 200 },
      { type: 'RLIMIT_FSIZE', soft: 1 << 30, hard: 1 << 30 },
    ];
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.write().dir, id]));
    for (const limit of bundle.config.process.rlimits) expectCheck(lines, new RegExp(`process\\.rlimits ${limit.type} `));
  });

  test('masked paths read empty, read-only paths refuse writes, and the files under them are untouched', async () => {
    // A runtime that skips masking shows the secrets; one that skips the read-only bind lets the
    // validator's write probe create a file in /srv/ro (the root itself is writable here).
    const id = env.newId();
    const bundle = env.bundle({ id });
    bundle.config.root.readonly = false;
    const secret = `secret-${token()}`;
    bundle.writeFile('/etc/masked-file', secret);
    bundle.writeFile('/etc/masked-dir/inside', secret);
    bundle.writeFile('/srv/ro/kept', secret);
    bundle.config.linux.maskedPaths = [...(bundle.config.linux.maskedPaths ?? []), '/proc/keys', '/etc/masked-file', '/etc/masked-dir'];
    bundle.config.linux.readonlyPaths = [...(bundle.config.linux.readonlyPaths ?? []), '/srv/ro'];
    // Read-only, not hidden: the file under it must still read back.
    bundle.host.files.push({ path: '/srv/ro/kept', content: secret });
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.write().dir, id]));
    expectCheck(lines, /maskedPaths \/etc\/masked-file/);
    expectCheck(lines, /maskedPaths \/etc\/masked-dir/);
    expectCheck(lines, /maskedPaths \/proc\/keys/);
    expectCheck(lines, /readonlyPaths \/srv\/ro/);
    expectCheck(lines, /readonlyPaths \/proc\/sys/);
    expect(readFileSync(bundle.hostPath('/etc/masked-file'), 'utf8')).toBe(secret);
    expect(readFileSync(bundle.hostPath('/etc/masked-dir/inside'), 'utf8')).toBe(secret);
    expect(existsSync(bundle.hostPath('/srv/ro/.husk-validate-write-probe')), 'nothing written under the read-only path').toBe(false);
  });

  test('process.apparmorProfile on a host without AppArmor is refused, naming the field', async ({ skip }) => {
    // Ignoring it would run the container unconfined while the caller believes it is confined.
    if (apparmorEnabled()) return skip('AppArmor is enabled here; the refusal applies only without it');
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    (bundle.config.process as Record<string, unknown>).apparmorProfile = 'husk-test-profile';
    await expectCreateRefused(env, id, bundle.write(), /process\.apparmorProfile/);
  });

  test('process.selinuxLabel on a host without SELinux is refused, naming the field', async ({ skip }) => {
    if (selinuxEnabled()) return skip('SELinux is enabled here; the refusal applies only without it');
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    (bundle.config.process as Record<string, unknown>).selinuxLabel = 'system_u:system_r:container_t:s0:c1,c2';
    await expectCreateRefused(env, id, bundle.write(), /process\.selinuxLabel/);
  });
});
