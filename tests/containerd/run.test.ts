// `ctr run` in the foreground, through containerd-shim-runc-v2 with the runtime under test: the
// container's output and exit code, a terminal, an OOM kill, the runtime's error text, and a host
// with nothing of the container left after --rm.
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { cgroupDirs, mountsUnder } from '../helpers/leaks.js';
import { useContainerd } from './containerd-env.js';
import { EventWatcher } from './events.js';
import { describeCommand } from './private-containerd.js';

// 32 MiB, as ctr --memory-limit takes it (bytes).
const MEMORY_LIMIT = String(32 * 1024 * 1024);

describe('ctr run', { timeout: 60_000 }, () => {
  const env = useContainerd();

  test('--rm prints the container stdout and stderr, feeds it stdin, exits 0', async () => {
    const result = await env.run(env.newId('out'), ['sh', '-c', 'read line; echo "out:$line"; echo err >&2'], { flags: ['--rm'], input: 'hello\n' });
    expect(result.code, describeCommand(result)).toBe(0);
    expect(result.stdout, describeCommand(result)).toBe('out:hello\n');
    expect(result.stderr, describeCommand(result)).toContain('err\n');
  });

  test('--rm exits with the container exit code when it is not 0', async () => {
    const result = await env.run(env.newId('code'), ['sh', '-c', 'echo before-exit; exit 3'], { flags: ['--rm'] });
    expect(result.code, describeCommand(result)).toBe(3);
    expect(result.stdout).toBe('before-exit\n');
  });

  test('-t --rm gives the container a working terminal', async () => {
    const session = env.terminal(env.runArgs(env.newId('tty'), ['sh'], ['-t', '--rm']));
    try {
      await session.waitFor(/\/ # /);
      session.type('tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty; echo marker-$((6*7))\n');
      await session.waitFor(/^\/dev\/pts\/\d+$/m);
      await session.waitFor(/^stdio-is-a-tty$/m);
      await session.waitFor(/^marker-42$/m);
      session.type('exit 5\n');
      expect(await session.exitCode(), session.output).toBe(5);
    } finally {
      session.kill();
    }
  });

  test('a container that outgrows --memory-limit is OOM-killed and exits 137', async () => {
    const id = env.newId('oom');
    const events = await EventWatcher.start(env.containerd);
    try {
      // The shell itself (the init) doubles a variable until the limit kills it; stopping at 256 MiB
      // keeps a runtime that ignores the limit from eating the host.
      const grow = 'x=0123456789abcdef; i=0; while [ $i -lt 24 ]; do x=$x$x; i=$((i+1)); done; echo survived';
      const result = await env.run(id, ['sh', '-c', grow], {
        flags: ['--rm', '--memory-limit', MEMORY_LIMIT],
        timeoutMs: 45_000,
      });
      expect(result.code, describeCommand(result)).toBe(137);
      // The shim watches the container's memory cgroup: it must have seen the OOM there.
      const oom = await events.waitFor((e) => e.topic === '/tasks/oom' && e.payload.container_id === id);
      expect(oom, `no /tasks/oom for ${id}:\n${events.transcript}`).toBeDefined();
    } finally {
      events.stop();
    }
  });

  test('a process that does not exist: the runtime error text reaches ctr', async () => {
    const result = await env.run(env.newId('noexec'), ['/nonexistent'], { flags: ['--rm'] });
    expect(result.code, describeCommand(result)).not.toBe(0);
    expect(result.stderr, describeCommand(result)).toMatch(/OCI runtime create failed: .*\/nonexistent/);
    expect(result.stderr, describeCommand(result)).toMatch(/no such file or directory/i);
  });

  test('a bind mount whose source does not exist: the runtime error text reaches ctr', async () => {
    const result = await env.run(env.newId('nomount'), ['true'], { flags: ['--rm', '--mount', 'type=bind,src=/nonexistent-src,dst=/mnt/x,options=rbind:ro'] });
    expect(result.code, describeCommand(result)).not.toBe(0);
    expect(result.stderr, describeCommand(result)).toMatch(/OCI runtime create failed: .*\/nonexistent-src/);
    expect(result.stderr, describeCommand(result)).toMatch(/no such file or directory/i);
  });

  test('--rm leaves nothing behind: no runtime state, cgroup, mount, shim or snapshot', async () => {
    const id = env.newId('clean');
    // The container waits for /tmp/go, so we can see first what it has while it runs.
    const running = env.run(id, ['sh', '-c', 'while [ ! -e /tmp/go ]; do sleep 0.05; done; echo done'], { flags: ['--rm'] });
    await env.waitForStatus(id, 'RUNNING');
    expect(existsSync(env.runtimeStateDir(id)), `runtime state dir ${env.runtimeStateDir(id)} while running`).toBe(true);
    expect(cgroupDirs(env.cgroupPath(id)), 'cgroups while running').not.toEqual([]);
    expect(mountsUnder(env.rootfs(id)), 'rootfs mount while running').not.toEqual([]);
    writeFileSync(join(env.rootfs(id), 'tmp/go'), '');
    const result = await running;
    expect(result.code, describeCommand(result)).toBe(0);
    expect(result.stdout).toBe('done\n');
    expect(await env.leftovers(id)).toEqual([]);
    expect(mountsUnder(env.containerd.dir), 'mounts under the containerd dir').toEqual([]);
  });
});
