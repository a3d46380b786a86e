// Behaviour compared side by side with runc 1.1.5 (the same bundle through both, looking at what
// the process sees inside the container), where husk used to differ.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import { receiveConsole } from '../helpers/console.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';

function ok(result: RuntimeResult): RuntimeResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

describe('parity with runc', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  test('a non-root process owns its stdio, so it can reopen /dev/stdout and /dev/stderr', async () => {
    // runc's fixStdioPermissions: fds 0-2 are chowned to the process's uid (group kept) before
    // it becomes that user; without it an image that logs to /dev/stdout as a user fails.
    const id = env.newId();
    const bundle = env.bundle({
      id,
      args: ['/bin/sh', '-c', 'stat -L -c "owner %u" /proc/self/fd/1 /proc/self/fd/2; echo out >>/dev/stdout && echo err >>/dev/stderr'],
    });
    bundle.config.process.user = { uid: 1000, gid: 1000 };
    bundle.write();
    const run = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
    expect(run.stdout).toContain('owner 1000\nowner 1000\n');
    expect(run.stdout).toContain('out\n');
    expect(run.stderr).toContain('err\n');
  });

  describe('with a terminal', () => {
    let socketDir = '';
    beforeEach(() => void (socketDir = mkdtempSync(join(tmpdir(), 'husk-par-'))));
    afterEach(() => rmSync(socketDir, { recursive: true, force: true }));

    test('the pty belongs to the process user and keeps the devpts tty group (gid=5)', async () => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/sh', '-c', 'stat -c "console %u:%g %a" /dev/console; stat -L -c "stdin %u:%g" /proc/self/fd/0'] });
      bundle.config.process.terminal = true;
      bundle.config.process.user = { uid: 1000, gid: 1000 };
      bundle.write();
      const socket = join(socketDir, 'console.sock');
      const { done } = await receiveConsole(socket);
      ok(await env.runtime(['run', '--detach', '--console-socket', socket, '--bundle', bundle.dir, id]));
      const { code, output, log } = await done;
      expect(code, `receiver: ${log}`).toBe(0);
      expect(output).toContain('console 1000:5 620\n');
      expect(output).toContain('stdin 1000:5\n');
    });
  });

  describe('recursive mount attributes', () => {
    const script = 'touch /mnt/top && echo top-writable; touch /mnt/sub/below && echo sub-writable; true';

    test('rbind,ro is read-only at the top only', async () => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/sh', '-c', script] });
      bundle.addBindMount({ destination: '/mnt', options: ['rbind', 'ro'], submount: true });
      bundle.write();
      const run = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
      expect(run.stdout).not.toContain('top-writable');
      expect(run.stderr).toContain('Read-only file system');
      expect(run.stdout).toContain('sub-writable');
    });

    test.for([['rbind', 'rro'], ['rbind', 'ro', 'rro']])('%j is read-only all the way down', async (options) => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/sh', '-c', script] });
      bundle.addBindMount({ destination: '/mnt', options, submount: true });
      bundle.write();
      const run = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
      expect(run.stdout).not.toContain('top-writable');
      expect(run.stdout).not.toContain('sub-writable');
      expect(run.stderr.match(/Read-only file system/g)?.length, describeResult(run)).toBe(2);
    });

    test('rnosuid,rnodev,rnoexec,rnoatime reach the submount', async () => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/grep', ' /mnt/sub ', '/proc/self/mountinfo'] });
      bundle.addBindMount({ destination: '/mnt', options: ['rbind', 'rnosuid', 'rnodev', 'rnoexec', 'rnoatime'], submount: true });
      bundle.write();
      const run = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
      const perMount = run.stdout.split(' ')[5]?.split(',') ?? [];
      expect(perMount, run.stdout).toEqual(expect.arrayContaining(['nosuid', 'nodev', 'noexec', 'noatime']));
    });
  });

  test('read-only paths are applied before masked paths: a mask below a read-only path is mounted once, on top', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sh', '-c', 'grep -E " /proc/sys(/kernel)? " /proc/self/mountinfo; echo "entries $(ls /proc/sys/kernel | wc -l)"'] });
    bundle.config.linux.readonlyPaths = ['/proc/sys'];
    bundle.config.linux.maskedPaths = ['/proc/sys/kernel'];
    bundle.write();
    const run = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
    const points = run.stdout.split('\n').filter((l) => l.includes(' - ')).map((l) => l.split(' ')[4]);
    expect(points, run.stdout).toEqual(['/proc/sys', '/proc/sys/kernel']);
    expect(run.stdout).toContain('entries 0\n');
  });
});
