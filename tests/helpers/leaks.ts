// What a container may leave behind on the host, how to find it, and how to remove it.
import { spawnSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync, rmdirSync } from 'node:fs';
import { join } from 'node:path';

const CGROUP_ROOT = '/sys/fs/cgroup';

/** Every cgroup hierarchy mounted on the host (v1 controllers, named, unified; or v2 alone). */
export function cgroupHierarchies(): string[] {
  if (existsSync(join(CGROUP_ROOT, 'cgroup.procs'))) return [CGROUP_ROOT];
  return readdirSync(CGROUP_ROOT, { withFileTypes: true })
    .filter((d) => d.isDirectory() && existsSync(join(CGROUP_ROOT, d.name, 'cgroup.procs')))
    .map((d) => join(CGROUP_ROOT, d.name));
}

/** Existing directories for a cgroupsPath, across all hierarchies. */
export function cgroupDirs(cgroupsPath: string): string[] {
  return cgroupHierarchies()
    .map((h) => join(h, cgroupsPath))
    .filter((dir) => existsSync(dir));
}

/** True while a process exists and is not a zombie. */
export function processAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2, stat.lastIndexOf(')') + 3) !== 'Z';
  } catch {
    return false;
  }
}

export async function waitGone(pids: number[], timeoutMs: number): Promise<number[]> {
  const deadline = Date.now() + timeoutMs;
  let alive = pids.filter(processAlive);
  while (alive.length > 0 && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 25));
    alive = alive.filter(processAlive);
  }
  return alive;
}

/** The env var every test container carries, so its processes can be found even without a cgroup. */
export const CONTAINER_MARKER_ENV = 'HUSK_TEST_ID';

/**
 * Live processes that belong to one of these containers: in a cgroup named after the id, or
 * carrying the id in their environment.
 */
export function containerProcesses(ids: string[]): { pid: number; id: string }[] {
  const found: { pid: number; id: string }[] = [];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry) || Number(entry) === process.pid) continue;
    try {
      const cgroups = readFileSync(`/proc/${entry}/cgroup`, 'utf8');
      const environ = readFileSync(`/proc/${entry}/environ`, 'utf8').split('\0');
      const id = ids.find(
        (candidate) =>
          environ.includes(`${CONTAINER_MARKER_ENV}=${candidate}`) ||
          cgroups.split('\n').some((line) => line.endsWith(`/${candidate}`) || line.includes(`/${candidate}/`)),
      );
      if (id && processAlive(Number(entry))) found.push({ pid: Number(entry), id });
    } catch {
      // exited while we looked, or a kernel thread
    }
  }
  return found;
}

/** Mount points on the host at or below dir. */
export function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mountinfo', 'utf8')
    .split('\n')
    .map((line) => line.split(' ')[4])
    .filter((point): point is string => !!point)
    .map((point) => point.replace(/\\(\d{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8))))
    .filter((point) => point === dir || point.startsWith(`${dir}/`));
}

/** Kills what is in a cgroup and removes it, deepest first. */
export function removeCgroup(dir: string): void {
  if (!existsSync(dir)) return;
  try {
    for (const entry of readdirSync(dir, { withFileTypes: true })) {
      if (entry.isDirectory()) removeCgroup(join(dir, entry.name));
    }
  } catch {
    // removed meanwhile (by a runtime still finishing up)
    return;
  }
  for (let attempt = 0; attempt < 20; attempt++) {
    try {
      for (const pid of readFileSync(join(dir, 'cgroup.procs'), 'utf8').split('\n').filter(Boolean)) {
        try {
          process.kill(Number(pid), 'SIGKILL');
        } catch {
          // already gone
        }
      }
      rmdirSync(dir);
      return;
    } catch {
      if (!existsSync(dir)) return;
      spawnSync('sleep', ['0.05']);
    }
  }
}

export function unmountAll(points: string[]): void {
  for (const point of [...points].sort((a, b) => b.length - a.length)) spawnSync('umount', ['-l', point]);
}
