// linux.sysctl: only sysctls the container's own namespaces isolate are written; anything else is
// refused by name before a container exists, and a /proc that is not procfs is never written.
import { mkdirSync, readFileSync, symlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { token } from '../helpers/bundle.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { describeResult } from '../helpers/runtime.js';
import { expectCheck, expectCreateRefused, expectValidatorPass } from './lib.js';

const hostSysctl = (key: string) => readFileSync(`/proc/sys/${key.replace(/\./g, '/')}`, 'utf8');

describe('sysctl', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  function withSysctl(bundle: Bundle, sysctl: Record<string, string>): Bundle {
    bundle.config.linux.sysctl = sysctl;
    return bundle.write();
  }

  test('namespaced sysctls are set inside (kernel.shmmax with ipc, net.ipv4.ip_forward with network) and not on the host', async () => {
    const before = { shmmax: hostSysctl('kernel.shmmax'), forward: hostSysctl('net.ipv4.ip_forward') };
    const shmmax = before.shmmax.trim() === '68719476736' ? '68719476735' : '68719476736';
    const forward = before.forward.trim() === '1' ? '0' : '1';
    const id = env.newId();
    const bundle = withSysctl(env.bundle({ id }), { 'kernel.shmmax': shmmax, 'net.ipv4.ip_forward': forward });
    const lines = expectValidatorPass(await env.runtime(['run', '--bundle', bundle.dir, id]));
    expectCheck(lines, /linux\.sysctl kernel\.shmmax/);
    expectCheck(lines, /linux\.sysctl net\.ipv4\.ip_forward/);
    expect(hostSysctl('kernel.shmmax'), "the host's kernel.shmmax").toBe(before.shmmax);
    expect(hostSysctl('net.ipv4.ip_forward'), "the host's net.ipv4.ip_forward").toBe(before.forward);
  });

  test.for([
    { what: 'a sysctl no namespace isolates (kernel.randomize_va_space)', key: 'kernel.randomize_va_space', value: '0', drop: undefined },
    { what: 'net.* without a network namespace', key: 'net.ipv4.ip_forward', value: '1', drop: 'network' as const },
    { what: 'kernel.shm* without an ipc namespace', key: 'kernel.shmmax', value: '1234567', drop: 'ipc' as const },
  ])('refused: $what, naming linux.sysctl.<key>, nothing left and the host unchanged', async ({ key, value, drop }) => {
    // A runtime that writes whatever it is given changes the host kernel for everyone (ASLR off,
    // the host forwarding packets); the refusal must come before the container exists.
    const before = hostSysctl(key);
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    if (drop) bundle.config.linux.namespaces = bundle.config.linux.namespaces.filter((ns) => ns.type !== drop);
    withSysctl(bundle, { [key]: value });
    await expectCreateRefused(env, id, bundle, new RegExp(`linux\\.sysctl\\.${key.replace(/\./g, '\\.')}`));
    expect(hostSysctl(key), `the host's ${key}`).toBe(before);
  });

  test.for(['a regular file', 'a symlink to a host file'])(
    'a sysctl is never written through a /proc that is not procfs (%s planted at /proc/sys/...)',
    async (kind) => {
      // CVE-2025-52881: with no proc mount at /proc, the image's own /proc/sys/net/ipv4/ip_forward
      // is what a path-based write opens. A runtime that writes without checking the filesystem
      // (fstatfs == PROC_SUPER_MAGIC) and without O_NOFOLLOW writes "1" into the planted file or
      // through the symlink into the host file bind-mounted at /host-share.
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/true'] });
      bundle.config.mounts = bundle.config.mounts.filter((m) => m.destination !== '/proc');
      // Masking and read-only binds go through /proc/self/fd, which this container lacks.
      bundle.config.linux.maskedPaths = [];
      bundle.config.linux.readonlyPaths = [];
      // Writable, so a runtime that writes the planted file is not saved by a read-only root.
      bundle.config.root.readonly = false;
      const share = join(env.dir, 'host-share');
      mkdirSync(share, { mode: 0o755 });
      const mark = `host-file-${token()}\n`;
      const hostFile = join(share, 'target');
      writeFileSync(hostFile, mark);
      bundle.addMount({ destination: '/host-share', type: 'bind', source: share, options: ['rbind', 'rw'] });
      const planted = bundle.hostPath('/proc/sys/net/ipv4/ip_forward');
      mkdirSync(join(planted, '..'), { recursive: true });
      if (kind === 'a regular file') writeFileSync(planted, mark);
      else symlinkSync('/host-share/target', planted);
      withSysctl(bundle, { 'net.ipv4.ip_forward': '1' });
      const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
      expect(readFileSync(hostFile, 'utf8'), `the host file behind the symlink\n${describeResult(result)}`).toBe(mark);
      if (kind === 'a regular file') expect(readFileSync(planted, 'utf8'), `the planted file\n${describeResult(result)}`).toBe(mark);
      expect(result.code, `the write must be refused, failing the container\n${describeResult(result)}`).not.toBe(0);
    },
  );
});
