/**
 * Cross-process lock files: created with O_EXCL and holding the owner's pid; a lock whose owner
 * is dead is taken over, so a killed `husk pull` never wedges the store.
 */
import { open, readFile, unlink } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageError, ImageErrorCode } from '../errors.js';

export interface LockOptions {
  /** Give up after this long (default 10 minutes: a big layer may be downloading). */
  timeoutMs?: number;
  pollMs?: number;
}

/** Runs `fn` holding the lock file `path`; waits while another live process (or call) holds it. */
export async function withLock<T>(path: string, fn: () => Promise<T>, options: LockOptions = {}): Promise<T> {
  const token = await acquire(path, options);
  try {
    return await fn();
  } finally {
    await release(path, token);
  }
}

let sequence = 0;

async function acquire(path: string, options: LockOptions): Promise<string> {
  const deadline = Date.now() + (options.timeoutMs ?? 600_000);
  const token = `${process.pid} ${++sequence}`;
  for (let poll = options.pollMs ?? 20; ; poll = Math.min(poll * 2, 250)) {
    try {
      const handle = await open(path, 'wx', 0o600);
      await handle.writeFile(token);
      await handle.close();
      return token;
    } catch (error) {
      if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error;
    }
    const owner = await readFile(path, 'utf8').catch(() => '');
    const pid = Number(owner.split(' ')[0]);
    // An empty file is a lock being written right now; a dead pid is a crashed holder.
    if (owner !== '' && !processAlive(pid)) {
      await unlink(path).catch(() => undefined);
      continue;
    }
    if (Date.now() > deadline) {
      throw new ImageError(ImageErrorCode.LockTimeout, `timed out waiting for lock ${path} (held by pid ${pid})`);
    }
    await sleep(poll);
  }
}

async function release(path: string, token: string): Promise<void> {
  const owner = await readFile(path, 'utf8').catch(() => '');
  if (owner === token) await unlink(path).catch(() => undefined);
}

export function processAlive(pid: number): boolean {
  if (!Number.isInteger(pid) || pid <= 0) return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === 'EPERM';
  }
}
