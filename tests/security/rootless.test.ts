// Rootless: an unprivileged user runs `<runtime> --rootless=true run` of a busybox bundle made by
// `<runtime> spec --rootless`, and is root inside a user namespace that maps uid 0 to itself;
// with a subordinate id range in /etc/subuid and /etc/subgid, newuidmap/newgidmap map many ids.
import { spawn, spawnSync } from 'node:child_process';
import { chownSync, cpSync, existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { useRuntimeEnv } from '../helpers/env.js';
import { runtimeUnderTest } from '../helpers/paths.js';
import type { IdMapping, Spec } from '../helpers/spec.js';
import { CONTAINER_MARKER_ENV } from '../helpers/leaks.js';

const USER = 'husk-rootless';
/** A subordinate range this suite adds for the user when /etc/subuid has none. */
const SUB_START = 362144;
const SUB_SIZE = 65536;

interface User {
  uid: number;
  gid: number;
}

function lookupUser(): User | undefined {
  const uid = spawnSync('id', ['-u', USER], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', USER], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) return undefined;
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

function ensureUser(): User {
  const existing = lookupUser();
  if (existing) return existing;
  const made = spawnSync('useradd', ['--system', '--user-group', '--no-create-home', '--shell', '/usr/sbin/nologin', USER], { encoding: 'utf8' });
  const user = lookupUser();
  if (!user) throw new Error(`useradd ${USER} failed: ${made.stderr}`);
  return user;
}

/** The user's first range in a subordinate id file, adding SUB_START:SUB_SIZE if it has none. */
function ensureSubIds(file: string, added: string[]): { start: number; size: number } {
  const text = existsSync(file) ? readFileSync(file, 'utf8') : '';
  const line = text.split('\n').find((l) => l.startsWith(`${USER}:`));
  if (line) {
    const [, start, size] = line.split(':');
    return { start: Number(start), size: Number(size) };
  }
  const entry = `${USER}:${SUB_START}:${SUB_SIZE}`;
  writeFileSync(file, `${text}${text === '' || text.endsWith('\n') ? '' : '\n'}${entry}\n`);
  added.push(file);
  return { start: SUB_START, size: SUB_SIZE };
}

/** Removes only the line this suite added (others may have changed the file meanwhile). */
function removeSubIds(file: string): void {
  const entry = `${USER}:${SUB_START}:${SUB_SIZE}`;
  const lines = readFileSync(file, 'utf8').split('\n');
  writeFileSync(file, lines.filter((l) => l !== entry).join('\n'));
}

interface Result {
  code: number | null;
  stdout: string;
  stderr: string;
}

/** Runs the runtime as the user (setpriv: real and effective ids, the user's groups, no caps). */
function asUser(user: User, args: string[], cwd: string): Promise<Result> {
  const child = spawn('setpriv', [`--reuid=${user.uid}`, `--regid=${user.gid}`, '--init-groups', '--', runtimeUnderTest(), ...args], {
    cwd,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: { PATH: process.env.PATH ?? '/usr/sbin:/usr/bin:/sbin:/bin', HOME: '/nonexistent' },
  });
  let stdout = '';
  let stderr = '';
  child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
  child.stderr.on('data', (c: Buffer) => (stderr += c.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 30_000);
  return new Promise((resolve) =>
    child.once('exit', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    }),
  );
}

const story = (r: Result) => `exit ${r.code}\n--- stdout\n${r.stdout}--- stderr\n${r.stderr}`;

/** "0 1001 1" lines of a uid_map/gid_map, whitespace-normalised. */
const mapLines = (text: string) =>
  text
    .split('\n')
    .map((l) => l.trim().split(/\s+/).join(' '))
    .filter((l) => /^\d+ \d+ \d+$/.test(l));

describe('rootless', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  let user: User;
  const addedSubIds: string[] = [];

  beforeAll(() => void (user = ensureUser()));
  afterAll(() => {
    for (const file of addedSubIds.splice(0)) removeSubIds(file);
  });

  /**
   * A bundle owned by the user: the harness's busybox rootfs and a config.json from
   * `<runtime> spec --rootless` run as the user, with `edit` applied; and a state root it owns.
   */
  async function rootlessBundle(id: string, edit: (config: Spec) => void): Promise<{ dir: string; root: string }> {
    const source = env.bundle({ name: `source-${id}` });
    const dir = join(env.dir, `rootless-${id}`);
    const root = join(env.dir, `rootless-state-${id}`);
    mkdirSync(dir, { mode: 0o755 });
    mkdirSync(root, { mode: 0o700 });
    cpSync(source.rootfs, join(dir, 'rootfs'), { recursive: true, verbatimSymlinks: true });
    spawnSync('chown', ['-R', `${user.uid}:${user.gid}`, dir, root]);
    chownSync(dir, user.uid, user.gid);
    const spec = await asUser(user, ['spec', '--rootless'], dir);
    expect(spec.code, `spec --rootless as ${USER}\n${story(spec)}`).toBe(0);
    const config = JSON.parse(readFileSync(join(dir, 'config.json'), 'utf8')) as Spec;
    config.process.terminal = false;
    config.process.env = [...(config.process.env ?? []), `${CONTAINER_MARKER_ENV}=${id}`];
    edit(config);
    writeFileSync(join(dir, 'config.json'), JSON.stringify(config, null, 2));
    chownSync(join(dir, 'config.json'), user.uid, user.gid);
    return { dir, root };
  }

  async function runAndClean(id: string, bundle: { dir: string; root: string }): Promise<Result> {
    const result = await asUser(user, ['--rootless=true', '--root', bundle.root, 'run', '--bundle', bundle.dir, id], bundle.dir);
    await asUser(user, ['--rootless=true', '--root', bundle.root, 'delete', '--force', id], bundle.dir);
    expect(existsSync(join(bundle.root, id)), `state dir ${join(bundle.root, id)} left`).toBe(false);
    return result;
  }

  test('a non-root user runs a busybox container and is uid 0 inside, mapped to itself', async () => {
    // A runtime that needs root for anything here (cgroups, mknod, mounting sysfs, writing the
    // maps of a process it does not own the way only root may) fails as the user.
    const id = env.newId();
    const bundle = await rootlessBundle(id, (c) => {
      c.process.args = ['/bin/sh', '-c', 'id; echo uid_map; cat /proc/self/uid_map; echo gid_map; cat /proc/self/gid_map'];
    });
    const result = await runAndClean(id, bundle);
    expect(result.code, story(result)).toBe(0);
    expect(result.stdout, story(result)).toMatch(/^uid=0\(root\) gid=0\(root\)/m);
    const [uidPart = '', gidPart = ''] = result.stdout.split('uid_map')[1]?.split('gid_map') ?? [];
    expect(mapLines(uidPart), story(result)).toEqual([`0 ${user.uid} 1`]);
    expect(mapLines(gidPart), story(result)).toEqual([`0 ${user.gid} 1`]);
  });

  test('several ids mapped through newuidmap/newgidmap from /etc/subuid and /etc/subgid', async ({ skip }) => {
    if (spawnSync('sh', ['-c', 'command -v newuidmap && command -v newgidmap']).status !== 0) return skip('newuidmap/newgidmap not installed (uidmap)');
    const sub = { uid: ensureSubIds('/etc/subuid', addedSubIds), gid: ensureSubIds('/etc/subgid', addedSubIds) };
    const size = Math.min(sub.uid.size, sub.gid.size, 65536);
    const maps = (own: number, range: { start: number }): IdMapping[] => [
      { containerID: 0, hostID: own, size: 1 },
      { containerID: 1, hostID: range.start, size },
    ];
    const id = env.newId();
    const bundle = await rootlessBundle(id, (c) => {
      c.linux.uidMappings = maps(user.uid, sub.uid);
      c.linux.gidMappings = maps(user.gid, sub.gid);
      // Running as uid 1000 inside proves the second range is really mapped.
      c.process.user = { uid: 1000, gid: 1000 };
      c.process.args = ['/bin/sh', '-c', 'id; echo uid_map; cat /proc/self/uid_map; echo gid_map; cat /proc/self/gid_map'];
    });
    const result = await runAndClean(id, bundle);
    expect(result.code, story(result)).toBe(0);
    expect(result.stdout, story(result)).toMatch(/^uid=1000 gid=1000/m);
    const [uidPart = '', gidPart = ''] = result.stdout.split('uid_map')[1]?.split('gid_map') ?? [];
    expect(mapLines(uidPart).sort(), story(result)).toEqual([`0 ${user.uid} 1`, `1 ${sub.uid.start} ${size}`].sort());
    expect(mapLines(gidPart).sort(), story(result)).toEqual([`0 ${user.gid} 1`, `1 ${sub.gid.start} ${size}`].sort());
  });
});
