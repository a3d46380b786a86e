// A detached container (`ctr run -d`) driven through its task: ls, exec (plain and -t), ps,
// pause/resume, metrics (the shim reads the cgroups the runtime made), kill (TERM, --all KILL),
// delete and container rm — each call reaching the runtime under test through the shim.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import { cgroupDirs, cgroupHierarchies, processAlive, waitGone } from '../helpers/leaks.js';
import { useContainerd } from './containerd-env.js';
import { EventWatcher } from './events.js';
import { describeCommand, type CommandResult } from './private-containerd.js';

// Exits 0 on SIGTERM (pid 1 in its namespace ignores a signal it has no handler for); /tmp/ready
// tells the host the trap is set.
const TERM_HANDLER = ['sh', '-c', 'trap "exit 0" TERM; touch /tmp/ready; while true; do sleep 0.1; done'];
// Three processes that stay: the shell and two sleeps.
const THREE_PROCESSES = ['sh', '-c', 'sleep 1000 & sleep 1000 & touch /tmp/ready; wait'];

function ok(result: CommandResult): CommandResult {
  expect(result.code, describeCommand(result)).toBe(0);
  return result;
}

/** Whether the container's cgroup freezer says frozen (v1 freezer hierarchy, else cgroup v2). */
function frozen(cgroupPath: string): boolean {
  const v1 = cgroupHierarchies().find((h) => h.endsWith('/freezer'));
  if (v1) return readFileSync(join(v1, cgroupPath, 'freezer.state'), 'utf8').trim() === 'FROZEN';
  return /^frozen 1$/m.test(readFileSync(join('/sys/fs/cgroup', cgroupPath, 'cgroup.events'), 'utf8'));
}

/** The numbers of `ctr task metrics --format json` that prove the shim read the container's cgroups. */
function metricValues(metrics: Record<string, any>): { memoryUsage: number; memoryLimit: number; cpuUsage: number; pids: number } {
  const unified = existsSync('/sys/fs/cgroup/cgroup.controllers');
  return unified
    ? { memoryUsage: metrics.memory?.usage, memoryLimit: metrics.memory?.usage_limit, cpuUsage: metrics.cpu?.usage_usec, pids: metrics.pids?.current }
    : { memoryUsage: metrics.memory?.usage?.usage, memoryLimit: metrics.memory?.usage?.limit, cpuUsage: metrics.cpu?.usage?.total, pids: metrics.pids?.current };
}

describe('ctr run -d and ctr task', { timeout: 60_000 }, () => {
  const env = useContainerd();

  /** Waits until the file exists in the container's rootfs (seen from the host). */
  async function waitForFile(id: string, path: string): Promise<void> {
    const file = join(env.rootfs(id), path);
    const deadline = Date.now() + 10_000;
    while (!existsSync(file)) {
      if (Date.now() > deadline) throw new Error(`${path} never appeared in ${id}`);
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** `ctr task ps` once it lists `count` processes (a busybox applet may still be exiting). */
  async function waitForProcessCount(id: string, count: number): Promise<{ pid: number; info: string }[]> {
    const deadline = Date.now() + 5_000;
    for (;;) {
      const processes = await env.taskProcesses(id);
      if (processes.length === count || Date.now() > deadline) return processes;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  test('run -d: task ls shows the task RUNNING with its init pid in the container cgroup', async () => {
    const id = env.newId('ls');
    const pid = await env.runDetached(id, TERM_HANDLER);
    expect(processAlive(pid)).toBe(true);
    expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8')).toContain(`:${env.cgroupPath(id)}\n`);
  });

  test('task exec: output and exit code of a process inside the container', async () => {
    const id = env.newId('exec');
    await env.runDetached(id, TERM_HANDLER);
    await waitForFile(id, 'tmp/ready');
    // /tmp/ready is the init's file: the exec shares its mount namespace.
    const result = await env.ctr(env.execArgs(id, 'plain', ['sh', '-c', 'ls /tmp/ready; echo err >&2; exit 4']));
    expect(result.code, describeCommand(result)).toBe(4);
    expect(result.stdout).toBe('/tmp/ready\n');
    expect(result.stderr).toContain('err\n');
  });

  test('task exec -t: a working terminal inside a running container', async () => {
    const id = env.newId('exectty');
    await env.runDetached(id, TERM_HANDLER);
    const session = env.terminal(env.execArgs(id, 'term', ['sh'], ['-t']));
    try {
      await session.waitFor(/\/ # /);
      session.type('tty; [ -t 0 ] && [ -t 1 ] && echo stdio-is-a-tty; echo marker-$((6*7))\n');
      await session.waitFor(/^\/dev\/pts\/\d+$/m);
      await session.waitFor(/^stdio-is-a-tty$/m);
      await session.waitFor(/^marker-42$/m);
      session.type('exit 6\n');
      expect(await session.exitCode(), session.output).toBe(6);
    } finally {
      session.kill();
    }
  });

  test('task ps lists the init, its children and an exec process, all in the container cgroup', async () => {
    const id = env.newId('ps');
    const initPid = await env.runDetached(id, THREE_PROCESSES);
    await waitForFile(id, 'tmp/ready');
    expect(await waitForProcessCount(id, 3)).toHaveLength(3);
    ok(await env.ctr(env.execArgs(id, 'sleeper', ['sleep', '1000'], ['--detach'])));
    const processes = await waitForProcessCount(id, 4);
    expect(processes, JSON.stringify(processes)).toHaveLength(4);
    expect(processes.map((p) => p.pid)).toContain(initPid);
    expect(processes.filter((p) => p.info.includes('ExecID:sleeper'))).toHaveLength(1);
    for (const { pid } of processes) expect(readFileSync(`/proc/${pid}/cgroup`, 'utf8'), `pid ${pid}`).toContain(`:${env.cgroupPath(id)}\n`);
  });

  test('task pause and resume: PAUSED with the cgroup frozen, then RUNNING again', async () => {
    const id = env.newId('pause');
    await env.runDetached(id, TERM_HANDLER);
    ok(await env.ctr(['task', 'pause', id]));
    expect((await env.task(id))?.status).toBe('PAUSED');
    expect(frozen(env.cgroupPath(id)), 'the freezer state of the container cgroup').toBe(true);
    ok(await env.ctr(['task', 'resume', id]));
    expect((await env.task(id))?.status).toBe('RUNNING');
    expect(frozen(env.cgroupPath(id)), 'the freezer state of the container cgroup').toBe(false);
  });

  test('task metrics: the shim reads memory, cpu and pids from the container cgroups', async () => {
    const id = env.newId('metrics');
    const limit = 64 * 1024 * 1024;
    await env.runDetached(id, THREE_PROCESSES, ['--memory-limit', String(limit)]);
    await waitForFile(id, 'tmp/ready');
    expect(await waitForProcessCount(id, 3)).toHaveLength(3);
    const result = ok(await env.ctr(['task', 'metrics', '--format', 'json', id]));
    const values = metricValues(JSON.parse(result.stdout));
    expect(values.memoryLimit, result.stdout).toBe(limit);
    expect(values.memoryUsage, result.stdout).toBeGreaterThan(0);
    expect(values.cpuUsage, result.stdout).toBeGreaterThan(0);
    expect(values.pids, result.stdout).toBe(3);
    // The table form too, as a user sees it.
    const table = ok(await env.ctr(['task', 'metrics', id])).stdout;
    expect(table).toMatch(/^memory\.(usage_in_bytes|usage)\s+\d+/m);
    expect(table).toMatch(/^pids\.current\s+3\b/m);
  });

  test('task kill sends SIGTERM: the container handles it and exits 0; task delete and container rm', async () => {
    const id = env.newId('term');
    const events = await EventWatcher.start(env.containerd);
    try {
      const pid = await env.runDetached(id, TERM_HANDLER);
      await waitForFile(id, 'tmp/ready');
      ok(await env.ctr(['task', 'kill', id]));
      expect((await env.waitForStatus(id, 'STOPPED'))?.status).toBe('STOPPED');
      expect(await events.exitStatus(id), events.transcript).toBe(0);
      expect(await waitGone([pid], 3_000)).toEqual([]);
      ok(await env.ctr(['task', 'delete', id]));
      expect(await env.task(id)).toBeUndefined();
      expect(cgroupDirs(env.cgroupPath(id))).toEqual([]);
      expect(existsSync(env.runtimeStateDir(id))).toBe(false);
      ok(await env.ctr(['containers', 'rm', id]));
      expect(await env.leftovers(id)).toEqual([]);
    } finally {
      events.stop();
    }
  });

  test('task kill --all -s KILL ends every process of the container: exit 137', async () => {
    const id = env.newId('killall');
    const events = await EventWatcher.start(env.containerd);
    try {
      await env.runDetached(id, ['sh', '-c', 'trap "" TERM; sleep 1000 & sleep 1000 & touch /tmp/ready; wait']);
      await waitForFile(id, 'tmp/ready');
      expect(await waitForProcessCount(id, 3)).toHaveLength(3);
      ok(await env.ctr(env.execArgs(id, 'sleeper', ['sleep', '1000'], ['--detach'])));
      const processes = await waitForProcessCount(id, 4);
      expect(processes, JSON.stringify(processes)).toHaveLength(4);
      ok(await env.ctr(['task', 'kill', '--all', '--signal', 'KILL', id]));
      expect((await env.waitForStatus(id, 'STOPPED'))?.status).toBe('STOPPED');
      expect(await events.exitStatus(id), events.transcript).toBe(137);
      expect(await waitGone(processes.map((p) => p.pid), 3_000)).toEqual([]);
      ok(await env.ctr(['task', 'delete', id]));
      ok(await env.ctr(['containers', 'rm', id]));
      expect(await env.leftovers(id)).toEqual([]);
    } finally {
      events.stop();
    }
  });
});
