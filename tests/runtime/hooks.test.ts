// OCI hooks: all six fire in the spec's order with the state on stdin, with their own args and
// env, in the right mount namespace, and a hook that times out or fails stops the operation.
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { hostNamespaces } from '../helpers/bundle.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { processAlive, waitGone } from '../helpers/leaks.js';
import { isRunc } from '../helpers/paths.js';
import { describeResult, type RuntimeResult } from '../helpers/runtime.js';
import type { Hook, HookName } from '../helpers/spec.js';

const HOOK_ORDER: HookName[] = ['prestart', 'createRuntime', 'createContainer', 'startContainer', 'poststart', 'poststop'];
/** Hooks the spec runs in the container's namespaces; the rest run in the runtime's. */
const IN_CONTAINER: HookName[] = ['createContainer', 'startContainer'];
const HOOK_PATH = '/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';

// One tab-separated log line per hook run: its name ($0), mount ns, env, the container
// process's command line as the hook saw it, and the state it read on stdin.
const LOGGING_HOOK = [
  'state=$(cat)',
  'pid=$(echo "$state" | sed -n \'s/.*"pid":\\([0-9]*\\).*/\\1/p\')',
  'cmd=$( [ -n "$pid" ] && tr "\\0" " " < /proc/$pid/cmdline 2>/dev/null )',
  'printf "%s\\t%s\\t%s\\t%s\\t%s\\t%s\\n" "$0" "$(readlink /proc/self/ns/mnt)" "$HOOK_EXTRA" "${HUSK_TEST_LEAK:-absent}" "$cmd" "$state" >> "$1"',
].join('\n');

interface HookRun {
  name: string;
  mountNs: string;
  extraEnv: string;
  leakedEnv: string;
  processCmdline: string;
  state: { ociVersion?: string; id?: string; status?: string; pid?: number; bundle?: string };
}

function parseHookLog(path: string): HookRun[] {
  if (!existsSync(path)) return [];
  return readFileSync(path, 'utf8')
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const [name = '', mountNs = '', extraEnv = '', leakedEnv = '', processCmdline = '', state = '{}'] = line.split('\t');
      return { name, mountNs, extraEnv, leakedEnv, processCmdline: processCmdline.trim(), state: JSON.parse(state) as HookRun['state'] };
    });
}

function cmdlineOf(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replace(/\0/g, ' ');
  } catch {
    return '';
  }
}

function ok(result: RuntimeResult): RuntimeResult {
  expect(result.code, describeResult(result)).toBe(0);
  return result;
}

describe('hooks', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  // The runtime's own environment; hooks must get only their configured env, not this.
  const runtimeEnv = { ...process.env, HUSK_TEST_LEAK: 'leaked' };

  interface HookedContainer {
    id: string;
    bundle: Bundle;
    /** The hook log as the host sees it. */
    log: string;
    /** Lets the container process exit (it waits for this file). */
    release(): void;
  }

  /**
   * A container whose every hook appends to hooklog/hooks.log, bind-mounted at /hooklog so the
   * startContainer hook (which runs after pivot_root) can reach it too; a tmpfs at /hookfs
   * shows which hooks ran in the container's mount namespace.
   */
  function hookedContainer(): HookedContainer {
    const id = env.newId();
    const bundle = env.bundle({ id });
    const hostLogDir = join(bundle.dir, 'hooklog');
    mkdirSync(hostLogDir, { mode: 0o777 });
    const log = join(hostLogDir, 'hooks.log');
    bundle.addMount({ destination: '/hooklog', type: 'bind', source: hostLogDir, options: ['rbind', 'rw'] });
    bundle.addMount({ destination: '/hookfs', type: 'tmpfs', source: 'tmpfs', options: ['mode=755'] });
    const hook = (name: HookName, logPath: string, marker?: string): Hook => ({
      path: '/bin/sh',
      args: ['sh', '-c', marker ? `${LOGGING_HOOK}\ntouch ${marker}` : LOGGING_HOOK, name, logPath],
      env: [`PATH=${HOOK_PATH}`, `HOOK_EXTRA=${name} with spaces`],
    });
    bundle.config.hooks = {
      prestart: [hook('prestart', log)],
      createRuntime: [hook('createRuntime', log)],
      // Before pivot_root the host paths are still reachable, but the tmpfs is only mounted
      // in the container's mount namespace.
      createContainer: [hook('createContainer', log, join(bundle.rootfs, 'hookfs/created-by-createContainer'))],
      startContainer: [hook('startContainer', '/hooklog/hooks.log', '/hookfs/created-by-startContainer')],
      poststart: [hook('poststart', log)],
      poststop: [hook('poststop', log)],
    };
    bundle.config.process.args = [
      '/bin/sh',
      '-c',
      'readlink /proc/self/ns/mnt > /hooklog/container-mntns; ls /hookfs > /hooklog/hookfs-listing; while [ ! -e /hooklog/release ]; do sleep 0.05; done',
    ];
    bundle.write();
    return { id, bundle, log, release: () => writeFileSync(join(hostLogDir, 'release'), '') };
  }

  async function lifecycle(c: HookedContainer): Promise<{ afterStart: HookRun[]; pid: number }> {
    ok(await env.runtime(['create', '--bundle', c.bundle.dir, c.id], { env: runtimeEnv }));
    const { pid } = await env.state(c.id);
    ok(await env.runtime(['start', c.id], { env: runtimeEnv }));
    const afterStart = parseHookLog(c.log);
    c.release();
    expect(await waitGone([pid], 5_000)).toEqual([]);
    ok(await env.runtime(['delete', c.id], { env: runtimeEnv }));
    return { afterStart, pid };
  }

  test('prestart, createRuntime, createContainer, startContainer and poststop fire in order with the state', async () => {
    const c = hookedContainer();
    const { pid } = await lifecycle(c);
    const runs = parseHookLog(c.log);
    const order = runs.map((r) => r.name).filter((name) => name !== 'poststart');
    expect(order).toEqual(HOOK_ORDER.filter((name) => name !== 'poststart'));
    for (const run of runs) {
      expect(run.state, run.name).toMatchObject({ id: c.id, bundle: c.bundle.dir });
      expect(run.state.ociVersion, run.name).toMatch(/^\d+\.\d+\.\d+/);
      if (run.name === 'poststop') {
        expect(run.state.status).toBe('stopped');
      } else if (run.name === 'startContainer') {
        // Before the user process is exec'd the container is still "created".
        expect(run.state.status).toBe('created');
      } else if (run.name !== 'poststart') {
        // The create hooks run after the environment exists (lifecycle steps 3-5), when the
        // spec's status is "created"; runc 1.1 sends "creating".
        expect(run.state.status, run.name).toBe(isRunc() ? 'creating' : 'created');
      }
      if (run.name === 'poststop') continue;
      // runc reports the pid as seen from inside the container's pid namespace to the hooks
      // that run there; the spec says "as seen by the host", so either is accepted for those.
      const pids = IN_CONTAINER.includes(run.name as HookName) ? [pid, 1] : [pid];
      expect(pids, `${run.name} state pid ${run.state.pid}`).toContain(run.state.pid);
    }
  });

  test('poststart fires after the user process is executed and before start returns', async ({ skip }) => {
    if (isRunc()) skip('runc < 1.5 runs poststart hooks at the end of create, before start (runc#4347, fixed by runc#5186)');
    const c = hookedContainer();
    const { afterStart } = await lifecycle(c);
    expect(afterStart.map((r) => r.name)).toContain('poststart');
    const runs = parseHookLog(c.log);
    expect(runs.map((r) => r.name)).toEqual(HOOK_ORDER);
    const poststart = runs.find((r) => r.name === 'poststart') as HookRun;
    expect(poststart.state.status).toBe('running');
    expect(poststart.processCmdline, 'the container process had exec\'d the user program').toMatch(/^\/bin\/sh -c /);
  });

  test('hooks get their args and only their configured env', async () => {
    const c = hookedContainer();
    await lifecycle(c);
    const runs = parseHookLog(c.log);
    expect(runs.map((r) => r.name).sort()).toEqual([...HOOK_ORDER].sort());
    for (const run of runs) {
      // $0 is the hook's name and $1 the log path: the args arrived in order.
      expect(run.extraEnv, run.name).toBe(`${run.name} with spaces`);
      expect(run.leakedEnv, `${run.name} saw the runtime's environment`).toBe('absent');
    }
  });

  test('createContainer and startContainer run in the container mount namespace, the others in the runtime\'s', async () => {
    const c = hookedContainer();
    await lifecycle(c);
    const runs = parseHookLog(c.log);
    const containerNs = readFileSync(join(c.bundle.dir, 'hooklog/container-mntns'), 'utf8').trim();
    const hostNs = `mnt:[${hostNamespaces().mnt}]`;
    for (const run of runs) {
      expect(run.mountNs, run.name).toBe(IN_CONTAINER.includes(run.name as HookName) ? containerNs : hostNs);
    }
    // The files they wrote landed in the container's tmpfs, not in the rootfs on the host.
    const listing = readFileSync(join(c.bundle.dir, 'hooklog/hookfs-listing'), 'utf8').split('\n');
    expect(listing).toEqual(expect.arrayContaining(['created-by-createContainer', 'created-by-startContainer']));
    expect(existsSync(join(c.bundle.rootfs, 'hookfs/created-by-createContainer'))).toBe(false);
  });

  test('a hook that outlives its timeout is killed and fails create', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    const pidFile = join(bundle.dir, 'hook.pid');
    bundle.config.hooks = {
      createRuntime: [{ path: '/bin/sh', args: ['sh', '-c', `echo $$ > ${pidFile}; exec sleep 30`], timeout: 1 }],
    };
    bundle.write();
    const started = Date.now();
    const result = await env.runtime(['create', '--bundle', bundle.dir, id]);
    expect(result.code, describeResult(result)).not.toBe(0);
    expect(Date.now() - started, 'create gave up near the 1s timeout').toBeLessThan(10_000);
    const hookPid = Number(readFileSync(pidFile, 'utf8').trim());
    env.trackPid(hookPid);
    expect(await waitGone([hookPid], 3_000), 'the hook was killed').toEqual([]);
    expect(processAlive(hookPid)).toBe(false);
    expect(existsSync(join(env.root, id)), 'no state dir').toBe(false);
  });

  test.for(['prestart', 'createRuntime', 'createContainer'] as const)('a failing %s hook fails create and leaves nothing', async (name) => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    bundle.config.hooks = { [name]: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 7'] }] };
    bundle.write();
    const result = await env.runtime(['create', '--bundle', bundle.dir, id]);
    expect(result.code, describeResult(result)).not.toBe(0);
    expect(existsSync(join(env.root, id)), 'no state dir').toBe(false);
  });

  test('a failing startContainer hook fails start', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/sleep', '1000'] });
    bundle.config.hooks = { startContainer: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 7'] }] };
    bundle.write();
    ok(await env.runtime(['create', '--bundle', bundle.dir, id]));
    const { pid } = await env.state(id);
    const result = await env.runtime(['start', id]);
    // runc reports the failure of the container's init only through the state, so either form.
    const failed = result.code !== 0 || (await waitGone([pid], 3_000)).length === 0;
    expect(failed, `start went ahead\n${describeResult(result)}`).toBe(true);
    expect(cmdlineOf(pid).startsWith('/bin/sleep'), 'the user process never ran').toBe(false);
  });

  test('a failing poststop hook does not stop delete', async () => {
    const id = env.newId();
    const bundle = env.bundle({ id, args: ['/bin/true'] });
    bundle.config.hooks = { poststop: [{ path: '/bin/sh', args: ['sh', '-c', 'exit 7'] }] };
    bundle.write();
    ok(await env.runtime(['create', '--bundle', bundle.dir, id]));
    const { pid } = await env.state(id);
    ok(await env.runtime(['start', id]));
    expect(await waitGone([pid], 5_000)).toEqual([]);
    ok(await env.runtime(['delete', id]));
    const state = await env.runtime(['state', id]);
    expect(state.code, 'the container is gone despite the hook').not.toBe(0);
  });
});
