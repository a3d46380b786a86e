// The runc command-line lifecycle: create/start/state/kill/delete, run, list, and the error
// paths, each leaving nothing behind (the env's teardown fails the test otherwise).
import { existsSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { useRuntimeEnv, type ContainerState } from '../helpers/env.js';
import { cgroupDirs, containerProcesses, processAlive, waitGone } from '../helpers/leaks.js';
import { isRunc } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';

const STATE_FIELDS = ['ociVersion', 'id', 'pid', 'status', 'bundle', 'rootfs', 'created', 'owner', 'annotations'];

function ok(result: RuntimeResult): RuntimeResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

describe('lifecycle', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();

  function sleeper(id: string, edit?: (bundle: Bundle) => void): Bundle {
    const bundle = env.bundle({ id, args: ['/bin/sleep', '1000'] });
    edit?.(bundle);
    return bundle.write();
  }

  async function waitForStatus(id: string, status: string, timeoutMs = 5_000): Promise<ContainerState> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const state = await env.state(id);
      if (state.status === status || Date.now() > deadline) return state;
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  async function expectGone(id: string): Promise<void> {
    const result = await env.runtime(['state', id]);
    expect(result.code, describeResult(result)).not.toBe(0);
    expect(result.stderr).toMatch(/does not exist/);
    expect(existsSync(join(env.root, id)), `state dir ${join(env.root, id)} left`).toBe(false);
  }

  test('create, state, start, kill, delete', async () => {
    const id = env.newId();
    const bundle = sleeper(id, (b) => void (b.config.annotations = { 'org.husk.test': 'lifecycle' }));
    const pidFile = join(env.dir, 'container.pid');
    ok(await env.runtime(['create', '--bundle', bundle.dir, '--pid-file', pidFile, id]));

    const created = await env.state(id);
    expect(Object.keys(created).sort()).toEqual(expect.arrayContaining(STATE_FIELDS.sort()));
    expect(created).toMatchObject({ id, status: 'created', bundle: bundle.dir, rootfs: bundle.rootfs, annotations: { 'org.husk.test': 'lifecycle' } });
    expect(created.ociVersion).toMatch(/^\d+\.\d+\.\d+/);
    expect(typeof created.owner).toBe('string');
    expect(Math.abs(Date.now() - Date.parse(created.created)), `created ${created.created}`).toBeLessThan(60_000);
    expect(created.pid).toBeGreaterThan(0);
    expect(processAlive(created.pid)).toBe(true);
    expect(Number(readFileSync(pidFile, 'utf8').trim()), 'pid file holds the state pid').toBe(created.pid);

    ok(await env.runtime(['start', id]));
    const running = await env.state(id);
    expect(running).toMatchObject({ status: 'running', pid: created.pid });
    expect(readFileSync(`/proc/${running.pid}/cmdline`, 'utf8').split('\0')[0]).toBe('/bin/sleep');

    ok(await env.runtime(['kill', id, 'KILL']));
    expect((await waitForStatus(id, 'stopped')).status).toBe('stopped');
    expect(await waitGone([created.pid], 3_000)).toEqual([]);

    ok(await env.runtime(['delete', id]));
    await expectGone(id);
  });

  test.for(['KILL', 'SIGKILL', '9'])('kill by signal %s stops a running container', async (signal) => {
    const id = env.newId();
    ok(await env.runtime(['create', '--bundle', sleeper(id).dir, id]));
    ok(await env.runtime(['start', id]));
    const { pid } = await env.state(id);
    ok(await env.runtime(['kill', id, signal]));
    expect((await waitForStatus(id, 'stopped')).status).toBe('stopped');
    expect(await waitGone([pid], 3_000)).toEqual([]);
  });

  test.for([
    { how: 'exit 0 gives 0', script: 'exit 0', code: 0 },
    { how: 'exit 3 gives 3', script: 'exit 3', code: 3 },
    { how: 'exit 125 gives 125', script: 'exit 125', code: 125 },
    { how: 'death by SIGKILL gives 137', script: 'kill -9 $$', code: 137 },
  ])('run propagates the exit status: $how', async ({ script, code }) => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sh', '-c', script] });
    // Outside a pid namespace, so the shell is not an init that ignores its own SIGKILL.
    bundle.config.linux.namespaces = bundle.config.linux.namespaces.filter((ns) => ns.type !== 'pid');
    bundle.write();
    const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
    expect(result.code, describeResult(result)).toBe(code);
    await expectGone(id);
  });

  test('run forwards the container output and stdin', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sh', '-c', 'read line; echo "out:$line"; echo "err:$line" >&2'] });
    const result = ok(await env.runtime(['run', '--bundle', bundle.dir, id], { input: 'hello\n' }));
    expect(result.stdout).toBe('out:hello\n');
    expect(result.stderr).toContain('err:hello\n');
  });

  test('run --detach returns while the container runs', async () => {
    const id = env.newId();
    const started = Date.now();
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id).dir, id]));
    expect(Date.now() - started).toBeLessThan(10_000);
    const state = await env.state(id);
    expect(state.status).toBe('running');
    expect(processAlive(state.pid)).toBe(true);
  });

  test('HOME comes from the container\'s /etc/passwd when the env sets none, as runc does', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sleep', '1000'] });
    writeFileSync(join(bundle.rootfs, 'etc', 'passwd'), 'root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000::/home/app:/bin/sh\n');
    bundle.write();
    ok(await env.runtime(['run', '--detach', '--bundle', bundle.dir, id]));
    const home = async (args: string[]) => ok(await env.runtime(['exec', ...args, id, '/bin/sh', '-c', 'echo $HOME'])).stdout.trim();
    expect(await home([])).toBe('/root');
    expect(await home(['--user', '1000:1000'])).toBe('/home/app');
    expect(await home(['--user', '4242:4242']), 'no passwd entry').toBe('/');
    expect(await home(['--env', 'HOME=/elsewhere'])).toBe('/elsewhere');
    const initEnv = ok(await env.runtime(['exec', id, '/bin/cat', '/proc/1/environ'])).stdout.split('\0');
    expect(initEnv, 'the init\'s own env').toContain('HOME=/root');
  });

  test('ps: --format json lists host pids, and the arguments after the id go to ps(1)', async () => {
    const id = env.newId();
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id).dir, id]));
    const { pid } = await env.state(id);
    expect(JSON.parse(ok(await env.runtime(['ps', '--format', 'json', id])).stdout)).toEqual([pid]);
    const table = ok(await env.runtime(['ps', id, '-o', 'pid,comm'])).stdout.trim().split('\n');
    expect(table[0]?.trim().split(/\s+/)).toEqual(['PID', 'COMMAND']);
    expect(table.slice(1).map((l) => l.trim().split(/\s+/))).toEqual([[String(pid), 'sleep']]);
    const bad = await env.runtime(['ps', id, '-o', 'comm']);
    expect(bad.code, describeResult(bad)).not.toBe(0);
    expect(bad.stderr).toMatch(/PID field/);
  });

  test('--version: version, commit and spec lines as runc prints them', async () => {
    const lines = ok(await env.runtime(['--version'])).stdout.split('\n');
    expect(lines[0]).toMatch(/ version \d+\.\d+\.\d+/);
    expect(lines[1]).toMatch(/^commit: \S+/);
    expect(lines[2]).toMatch(/^spec: \d+\.\d+\.\d+/);
  });

  test('kill 0 only checks the container is alive; unknown signals and failed execs are errors as in runc', async () => {
    const id = env.newId();
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id).dir, id]));
    ok(await env.runtime(['kill', id, '0']));
    expect((await env.state(id)).status).toBe('running');
    const unknown = await env.runtime(['kill', id, 'NOPE']);
    expect(unknown.code, describeResult(unknown)).not.toBe(0);
    expect(unknown.stderr).toMatch(/unknown signal/);
    const failed = await env.runtime(['exec', id, '/no/such/binary']);
    expect(failed.code, describeResult(failed)).toBe(255);
    expect(failed.stderr).toMatch(/exec failed/);
  });

  test('checkpoint and restore fail clearly (no CRIU support, as features says)', async ({ skip }) => {
    if (isRunc()) skip('runc implements checkpoint/restore');
    for (const cmd of ['checkpoint', 'restore']) {
      const r = await env.runtime([cmd, 'whatever']);
      expect(r.code, describeResult(r)).not.toBe(0);
      expect(r.stderr).toMatch(new RegExp(`${cmd} is not supported`));
    }
    const features = JSON.parse(ok(await env.runtime(['features'])).stdout);
    expect(features.annotations?.['org.opencontainers.runc.checkpoint.enabled']).toBe('false');
  });

  test('list: table, --format json, -q', async () => {
    const created = env.newId('created');
    const running = env.newId('running');
    ok(await env.runtime(['create', '--bundle', env.bundle({ id: created, args: ['/bin/sleep', '1000'], name: 'b-created' }).dir, created]));
    ok(await env.runtime(['run', '--detach', '--bundle', env.bundle({ id: running, args: ['/bin/sleep', '1000'], name: 'b-running' }).dir, running]));

    const table = ok(await env.runtime(['list'])).stdout.trim().split('\n');
    expect(table[0]?.split(/\s+/)).toEqual(['ID', 'PID', 'STATUS', 'BUNDLE', 'CREATED', 'OWNER']);
    const rows = new Map(table.slice(1).map((line) => [line.split(/\s+/)[0], line.split(/\s+/)]));
    expect(rows.get(created)?.[2]).toBe('created');
    expect(rows.get(running)?.[2]).toBe('running');
    expect(rows.get(running)?.[3]).toBe(join(env.dir, 'b-running'));

    const json = JSON.parse(ok(await env.runtime(['list', '--format', 'json'])).stdout) as ContainerState[];
    expect(json.map((c) => c.id).sort()).toEqual([created, running].sort());
    for (const entry of json) {
      expect(Object.keys(entry)).toEqual(expect.arrayContaining(STATE_FIELDS.filter((f) => f !== 'annotations')));
      expect(entry.status).toBe(entry.id === created ? 'created' : 'running');
      expect(entry.pid).toBeGreaterThan(0);
      env.trackPid(entry.pid);
    }

    const quiet = ok(await env.runtime(['list', '-q'])).stdout.trim().split('\n');
    expect(quiet.sort()).toEqual([created, running].sort());
  });

  test('delete --force removes a running container', async () => {
    const id = env.newId();
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id).dir, id]));
    const { pid } = await env.state(id);
    ok(await env.runtime(['delete', '--force', id]));
    await expectGone(id);
    expect(await waitGone([pid], 3_000)).toEqual([]);
    expect(cgroupDirs(`/${id}`)).toEqual([]);
  });

  test('delete --force of a missing container succeeds', async () => {
    ok(await env.runtime(['delete', '--force', env.newId('missing')]));
  });

  test('delete of a running container without --force fails and leaves it running', async () => {
    const id = env.newId();
    ok(await env.runtime(['run', '--detach', '--bundle', sleeper(id).dir, id]));
    const result = await env.runtime(['delete', id]);
    expect(result.code, describeResult(result)).not.toBe(0);
    expect((await env.state(id)).status).toBe('running');
  });

  test('kill --all signals every process of a container without its own pid namespace', async () => {
    const id = env.newId();
    const bundle = sleeper(id, (b) => {
      b.config.process.args = ['/bin/sh', '-c', 'sleep 1000 & sleep 1000 & wait'];
      b.config.linux.namespaces = b.config.linux.namespaces.filter((ns) => ns.type !== 'pid');
    });
    ok(await env.runtime(['run', '--detach', '--bundle', bundle.dir, id]));
    const procs = cgroupDirs(`/${id}`)[0] as string;
    let pids: number[] = [];
    for (let i = 0; i < 100 && pids.length < 3; i++) {
      pids = readFileSync(join(procs, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean).map(Number);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(pids.length, 'sh and its two sleeps').toBe(3);
    pids.forEach((pid) => env.trackPid(pid));
    ok(await env.runtime(['kill', '--all', id, 'KILL']));
    expect(await waitGone(pids, 3_000)).toEqual([]);
    expect((await waitForStatus(id, 'stopped')).status).toBe('stopped');
  });

  test('run and create+delete with a nested cgroupsPath take back the parent cgroups they made', async () => {
    for (const how of ['run', 'create'] as const) {
      const id = env.newId();
      const parent = `/husk-test-parent-${id}`;
      const bundle = env.bundle({ id, args: ['/bin/sh', '-c', 'cat /proc/self/cgroup'] });
      bundle.config.linux.cgroupsPath = `${parent}/sub/${id}`;
      bundle.write();
      if (how === 'run') {
        const result = ok(await env.runtime(['run', '--bundle', bundle.dir, id]));
        expect(result.stdout).toContain(`pids:${parent}/sub/${id}\n`);
      } else {
        ok(await env.runtime(['create', '--bundle', bundle.dir, id]));
        expect(cgroupDirs(`${parent}/sub/${id}`).length).toBeGreaterThan(0);
        ok(await env.runtime(['delete', '--force', id]));
      }
      expect(cgroupDirs(parent), `${how}: parents left`).toEqual([]);
    }
  });

  describe('errors', () => {
    test('create with a duplicate id fails and leaves the first container intact', async () => {
      const id = env.newId();
      ok(await env.runtime(['create', '--bundle', sleeper(id).dir, id]));
      const first = await env.state(id);
      const second = env.bundle({ id, args: ['/bin/sleep', '1000'], name: 'second' });
      const result = await env.runtime(['create', '--bundle', second.dir, id]);
      expect(result.code, describeResult(result)).not.toBe(0);
      const after = await env.state(id);
      expect(after).toMatchObject({ status: 'created', pid: first.pid, bundle: first.bundle });
      expect(processAlive(first.pid)).toBe(true);
    });

    async function expectCreateFailsCleanly(id: string, bundleDir: string): Promise<RuntimeResult> {
      const log = join(env.dir, 'runtime.log');
      const result = await env.runtime(['create', '--bundle', bundleDir, id], { globalArgs: ['--log', log, '--log-format', 'json'] });
      expect(result.code, describeResult(result)).not.toBe(0);
      expect(existsSync(join(env.root, id)), 'no state dir').toBe(false);
      expect(cgroupDirs(`/${id}`), 'no cgroup').toEqual([]);
      expect(containerProcesses([id]), 'no process').toEqual([]);
      const entries = readFileSync(log, 'utf8')
        .split('\n')
        .filter((line) => line.trim())
        .map((line) => JSON.parse(line) as { level?: string; msg?: string; time?: string });
      const error = entries.find((e) => e.level === 'error');
      expect(error, `an error line in ${JSON.stringify(entries)}`).toBeDefined();
      expect(typeof error?.msg === 'string' && error.msg.length > 0).toBe(true);
      return result;
    }

    test('create with a missing bundle fails cleanly', async () => {
      await expectCreateFailsCleanly(env.newId(), join(env.dir, 'no-such-bundle'));
    });

    test('create with a missing rootfs fails cleanly', async () => {
      const id = env.newId();
      const bundle = sleeper(id);
      rmSync(bundle.rootfs, { recursive: true, force: true });
      await expectCreateFailsCleanly(id, bundle.dir);
    });

    test('create with unparsable config.json fails cleanly', async () => {
      const id = env.newId();
      const bundle = sleeper(id);
      writeFileSync(join(bundle.dir, 'config.json'), '{"ociVersion": "1.0.2", "process": ');
      await expectCreateFailsCleanly(id, bundle.dir);
    });

    test('create with an invalid config (no process args) fails cleanly', async () => {
      const id = env.newId();
      const bundle = sleeper(id, (b) => void (b.config.process.args = []));
      await expectCreateFailsCleanly(id, bundle.dir);
    });

    test('create whose process cannot be executed fails at create or start, and cleans up', async () => {
      const id = env.newId();
      const bundle = sleeper(id, (b) => void (b.config.process.args = ['/no/such/binary']));
      const created = await env.runtime(['create', '--bundle', bundle.dir, id]);
      // runc checks the executable at create; a runtime may also fail only at start.
      if (created.code === 0) {
        const started = await env.runtime(['start', id]);
        expect(started.code, describeResult(started)).not.toBe(0);
      }
      ok(await env.runtime(['delete', '--force', id]));
      await expectGone(id);
    });

    // `run` makes the cgroup while the container sets itself up (husk's in-process start): a
    // failure on either side is reported as itself, and neither leaves anything behind.
    test('run: a cgroup value the kernel refuses is named, and nothing is left', async () => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/bin/true'] });
      bundle.config.linux.resources = { ...bundle.config.linux.resources, cpu: { cpus: '4096' } };
      const result = await env.runtime(['run', '--bundle', bundle.write().dir, id]);
      expect(result.code, describeResult(result)).not.toBe(0);
      expect(result.stderr).toMatch(/cpuset\.cpus/);
      expect(cgroupDirs(`/${id}`), 'no cgroup').toEqual([]);
      expect(containerProcesses([id]), 'no process').toEqual([]);
      await expectGone(id);
    });

    test('run: a missing executable is named while the cgroup is made meanwhile, and nothing is left', async () => {
      const id = env.newId();
      const bundle = env.bundle({ id, args: ['/no/such/binary'] }).write();
      const result = await env.runtime(['run', '--bundle', bundle.dir, id]);
      expect(result.code, describeResult(result)).not.toBe(0);
      expect(result.stderr).toMatch(/no\/such\/binary/);
      expect(cgroupDirs(`/${id}`), 'no cgroup').toEqual([]);
      expect(containerProcesses([id]), 'no process').toEqual([]);
      await expectGone(id);
    });

    test('operations on a missing container fail with "does not exist"', async () => {
      const id = env.newId('missing');
      for (const args of [['state', id], ['start', id], ['kill', id, 'KILL'], ['delete', id]]) {
        const result = await env.runtime(args);
        expect(result.code, describeResult(result)).not.toBe(0);
        expect(result.stderr, describeResult(result)).toMatch(/does not exist/);
      }
    });
  });
});
