// The Node API drives real containers in-process: run with output, spawn/kill/delete, terminal,
// pause/resume, stats, create+start through husk-runtime, exec, and no leaks over many runs.
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Runtime, runtimeBinary } from '../../ts/src/runtime/container.js';
import { cgroupDirs } from '../helpers/leaks.js';

const repo = join(import.meta.dirname, '..', '..');
let work: string;
let rt: Runtime;
let n = 0;
const uid = () => `husk-node-${process.pid}-${++n}`;

function bundle(args: string[], patch: (c: Record<string, any>) => void = () => {}): string {
  const dir = join(work, `b${++n}`);
  execFileSync(join(repo, 'scripts', 'make-bundle.sh'), [dir, ...args], { env: { ...process.env, HUSK_RUNTIME: runtimeBinary() } });
  const file = join(dir, 'config.json');
  const config = JSON.parse(readFileSync(file, 'utf8'));
  patch(config);
  writeFileSync(file, JSON.stringify(config));
  return dir;
}

function fdCount(): number {
  return readdirSync('/proc/self/fd').length;
}

function childPids(): number[] {
  const out: number[] = [];
  for (const p of readdirSync('/proc')) {
    if (!/^\d+$/.test(p)) continue;
    try {
      const stat = readFileSync(`/proc/${p}/stat`, 'utf8');
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === process.pid) out.push(Number(p));
    } catch {
      // gone meanwhile
    }
  }
  return out;
}

beforeAll(() => {
  work = mkdtempSync(join(tmpdir(), 'husk-node-'));
  rt = new Runtime({ root: join(work, 'state') });
});

afterAll(async () => {
  for (const c of await rt.list().catch(() => [])) await rt.delete(c.id, { force: true }).catch(() => {});
  rmSync(work, { recursive: true, force: true });
});

describe('Runtime (Node API)', () => {
  it('runs a container and captures its output and exit code', async () => {
    const r = await rt.run(uid(), bundle(['sh', '-c', 'echo out; echo err >&2; exit 7']));
    expect(r).toMatchObject({ exitCode: 7, stdout: 'out\n', stderr: 'err\n', signal: null });
  });

  it('run captures large output whole, a terminal config\'s output through its pty, and does not wait for a daemon left holding stdout', async () => {
    const big = await rt.run(uid(), bundle(['sh', '-c', 'head -c 1000000 /dev/zero | tr "\\0" x; echo; echo done >&2']));
    expect(big.exitCode).toBe(0);
    expect(big.stdout.length).toBe(1_000_001);
    expect(big.stdout.slice(0, 3)).toBe('xxx');
    expect(big.stderr).toBe('done\n');

    const tty = await rt.run(uid(), bundle(['sh', '-c', 'tty; exit 3'], (c) => (c.process.terminal = true)));
    expect(tty.exitCode).toBe(3);
    expect(tty.stdout).toMatch(/\/dev\/(console|pts\/\d+)/);

    // Without a pid namespace the init's exit does not kill its background child, which keeps
    // the stdout pipe open: run returns when the init exits.
    const started = Date.now();
    const daemon = await rt.run(
      uid(),
      bundle(['sh', '-c', 'sleep 3 & echo parent'], (c) => (c.linux.namespaces = c.linux.namespaces.filter((n: { type: string }) => n.type !== 'pid'))),
    );
    expect(daemon).toMatchObject({ exitCode: 0, stdout: 'parent\n' });
    expect(Date.now() - started).toBeLessThan(2500);
  });

  it('passes stdin through', async () => {
    const r = await rt.run(uid(), bundle(['sh', '-c', 'read line; echo "got $line"']), { input: 'hello\n' });
    expect(r.stdout).toBe('got hello\n');
  });

  it('spawns, kills and deletes, with state visible to husk-runtime', async () => {
    const id = uid();
    const p = await rt.spawn(id, bundle(['sleep', '1000']), { stdio: ['ignore', 'ignore', 'ignore'] });
    expect((await rt.state(id)).status).toBe('running');
    const listed = JSON.parse(execFileSync(runtimeBinary(), ['--root', rt.root, 'list', '--format', 'json'], { encoding: 'utf8' }));
    expect(listed.map((c: { id: string }) => c.id)).toContain(id);
    expect(await rt.ps(id)).toContain(p.pid);
    await rt.kill(id, 'KILL');
    expect(await p.wait()).toEqual({ exitCode: 137, signal: 9 });
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
  });

  it('pauses, resumes and reports stats', async () => {
    const id = uid();
    const p = await rt.spawn(id, bundle(['sleep', '1000']), { stdio: ['ignore', 'ignore', 'ignore'] });
    await rt.pause(id);
    expect((await rt.state(id)).status).toBe('paused');
    await rt.resume(id);
    expect((await rt.state(id)).status).toBe('running');
    const stats = (await rt.stats(id)) as { pids?: { current?: number }; memory?: unknown };
    expect(stats.pids?.current).toBe(1);
    expect(stats.memory).toBeDefined();
    await rt.kill(id, 'KILL');
    await p.wait();
  });

  it('updates a running container\'s limits and streams its events', async () => {
    const id = uid();
    const p = await rt.spawn(id, bundle(['sleep', '1000']), { stdio: ['ignore', 'ignore', 'ignore'] });
    const { warnings } = await rt.update(id, { memory: { limit: 64 << 20 }, pids: { limit: 42 } });
    expect(warnings).toEqual([]);
    // Read back from inside, through the container's own cgroup mount (v1 or v2 file names).
    const read = async (v1: string, v2: string) =>
      (await rt.exec(id, ['sh', '-c', `cat /sys/fs/cgroup/${v1} 2>/dev/null || cat /sys/fs/cgroup/${v2}`])).stdout.trim();
    expect(await read('memory/memory.limit_in_bytes', 'memory.max')).toBe(String(64 << 20));
    expect(await read('pids/pids.max', 'pids.max')).toBe('42');
    await expect(rt.update(id, { memory: { limit: 'lots' } } as never)).rejects.toMatchObject({ code: 'EINVAL_ARGUMENT' });

    const events = rt.events(id, { intervalMs: 100 });
    const first = await events.next();
    expect(first.value).toMatchObject({ type: 'stats', id, data: { pids: { current: 1 } } });
    await events.return(undefined);
    await rt.kill(id, 'KILL');
    await p.wait();
    // The stream of a container that is gone ends with runc's error.
    await expect(rt.events(id).next()).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
  });

  it('gives a terminal container its pty master as a stream', async () => {
    const id = uid();
    const p = await rt.spawn(id, bundle(['sh'], (c) => (c.process.terminal = true)), { stdio: [null, null, null] });
    expect(p.pty).not.toBeNull();
    let seen = '';
    p.pty!.on('data', (d: Buffer) => (seen += d.toString()));
    p.pty!.on('error', () => {});
    p.pty!.write('echo tty-$((6*7)); tty; exit 3\n');
    const status = await p.wait();
    await new Promise((r) => setTimeout(r, 50));
    expect(status.exitCode).toBe(3);
    expect(seen).toContain('tty-42');
    expect(seen).toMatch(/\/dev\/pts\/0/);
    p.pty!.destroy();
  });

  it('creates, starts and execs through husk-runtime', async () => {
    const id = uid();
    const created = await rt.create(id, bundle(['sleep', '1000']));
    expect(created.status).toBe('created');
    await rt.start(id);
    expect((await rt.state(id)).status).toBe('running');
    const r = await rt.exec(id, ['sh', '-c', 'echo in-$(hostname); cat /proc/1/cmdline | tr "\\0" " "']);
    expect(r.exitCode).toBe(0);
    expect(r.stdout).toBe('in-husk\nsleep 1000 ');
    await rt.delete(id, { force: true });
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
  });

  it('rejects a broken bundle with a coded error and leaves nothing behind', async () => {
    const id = uid();
    const b = bundle(['/does/not/exist']);
    await expect(rt.run(id, b)).rejects.toMatchObject({ code: 'ECHILD_SETUP', message: expect.stringContaining('/does/not/exist') });
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
  });

  it('rejects a cgroup value the kernel refuses (written while the container sets up) and leaves nothing behind', async () => {
    const id = uid();
    const b = bundle(['/bin/true'], (c) => {
      c.linux.cgroupsPath = `/${id}`;
      c.linux.resources = { ...c.linux.resources, cpu: { cpus: '4096' } };
    });
    await expect(rt.run(id, b)).rejects.toMatchObject({ message: expect.stringContaining('cpuset.cpus') });
    await expect(rt.state(id)).rejects.toMatchObject({ code: 'ENOTFOUND_CONTAINER' });
    expect(cgroupDirs(`/${id}`)).toEqual([]);
    expect(childPids()).toEqual([]);
  });

  it('runs 200 containers one after another with no leaked fds, zombies or mounts', async () => {
    const b = bundle(['/bin/true']);
    await rt.run(uid(), b); // warm up lazily opened fds (addon, libuv)
    const fds = fdCount();
    const mounts = readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length;
    for (let i = 0; i < 200; i++) {
      const r = await rt.run(uid(), b);
      expect(r.exitCode).toBe(0);
    }
    expect(fdCount()).toBe(fds);
    expect(childPids()).toEqual([]);
    expect(readFileSync('/proc/self/mountinfo', 'utf8').split('\n').length).toBe(mounts);
    expect(await rt.list()).toEqual([]);
  }, 120_000);
});
