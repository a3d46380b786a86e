/**
 * Resolving a docker `--user` / image `User` ("name", "uid", "name:group", "uid:gid") against the
 * image's own /etc/passwd and /etc/group, read inside the rootfs without ever leaving it.
 */
import { closeSync, constants, fstatSync, lstatSync, openSync, readlinkSync, readSync } from 'node:fs';
import { SpecGenerationError, SpecGenerationErrorCode } from './generation-error.js';

/** Who the container's process runs as, and the HOME docker would give it. */
export interface ResolvedUser {
  uid: number;
  gid: number;
  /** Docker's: the primary gid first, then the groups listing the user, then --group-add. */
  additionalGids: number[];
  /** The passwd home directory, "/" when the user has no passwd entry (as runc). */
  home: string;
  /** The passwd name, when the user has an entry. */
  name?: string;
}

export interface PasswdEntry {
  name: string;
  uid: number;
  gid: number;
  home: string;
}

export interface GroupEntry {
  name: string;
  gid: number;
  members: string[];
}

/** runc's bound on ids given by number (a uid above it is refused). */
const MAX_ID = 2 ** 31 - 1;
/** Symlinks followed while resolving one path, as the kernel's limit. */
const MAX_SYMLINKS = 40;
/** passwd and group larger than this are refused rather than read. */
const MAX_FILE_BYTES = 16 * 1024 * 1024;

/**
 * Reads `path` as if `rootfs` were `/`: every component is opened relative to its parent's fd with
 * O_NOFOLLOW, symlinks are resolved by hand inside the root (absolute targets restart at the rootfs,
 * `..` stops at it), so neither a symlink nor `..` can reach a file outside. Undefined if absent.
 */
export function readFileInRoot(rootfs: string, path: string, maxBytes = MAX_FILE_BYTES): Buffer | undefined {
  const rootFd = openSync(rootfs, constants.O_RDONLY | constants.O_DIRECTORY);
  const dirs = [rootFd];
  const pending = path.split('/');
  let symlinks = 0;
  try {
    while (pending.length > 0) {
      const name = pending.shift()!;
      if (name === '' || name === '.') continue;
      if (name === '..') {
        if (dirs.length > 1) closeSync(dirs.pop()!);
        continue;
      }
      // The fd's magic link names the directory itself, wherever it is now: an openat() by path.
      const at = `/proc/self/fd/${dirs[dirs.length - 1]}/${name}`;
      const stat = lstatSync(at, { throwIfNoEntry: false });
      if (stat === undefined) return undefined;
      if (stat.isSymbolicLink()) {
        if (++symlinks > MAX_SYMLINKS) throw new Error(`too many levels of symbolic links resolving ${path}`);
        const target = readlinkSync(at);
        if (target.startsWith('/')) while (dirs.length > 1) closeSync(dirs.pop()!);
        pending.unshift(...target.split('/'));
        continue;
      }
      const last = pending.every((p) => p === '' || p === '.');
      if (!last) {
        if (!stat.isDirectory()) return undefined;
        dirs.push(openSync(at, constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW));
        continue;
      }
      if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
      return readRegularFile(openSync(at, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK), path, maxBytes);
    }
    return undefined;
  } finally {
    for (const fd of dirs) closeSync(fd);
  }
}

function readRegularFile(fd: number, path: string, maxBytes: number): Buffer {
  try {
    const stat = fstatSync(fd);
    // lstat and open are two steps: check again that what was opened is a regular file
    if (!stat.isFile()) throw new Error(`${path} is not a regular file`);
    if (stat.size > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
    const chunks: Buffer[] = [];
    let total = 0;
    for (;;) {
      const chunk = Buffer.alloc(64 * 1024);
      const n = readSync(fd, chunk, 0, chunk.length, null);
      if (n === 0) break;
      total += n;
      if (total > maxBytes) throw new Error(`${path} is larger than ${maxBytes} bytes`);
      chunks.push(chunk.subarray(0, n));
    }
    return Buffer.concat(chunks);
  } finally {
    closeSync(fd);
  }
}

/** passwd(5) lines; malformed lines (non-numeric ids) are skipped. */
export function parsePasswd(text: string): PasswdEntry[] {
  const entries: PasswdEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length < 4 || fields[0] === '') continue;
    const uid = parseId(fields[2]!);
    const gid = parseId(fields[3]!);
    if (uid === undefined || gid === undefined) continue;
    entries.push({ name: fields[0]!, uid, gid, home: fields[5] ?? '' });
  }
  return entries;
}

/** group(5) lines; malformed lines are skipped. */
export function parseGroup(text: string): GroupEntry[] {
  const entries: GroupEntry[] = [];
  for (const line of text.split('\n')) {
    const fields = line.trim().split(':');
    if (fields.length < 3 || fields[0] === '') continue;
    const gid = parseId(fields[2]!);
    if (gid === undefined) continue;
    const members = (fields[3] ?? '').split(',').map((m) => m.trim()).filter((m) => m !== '');
    entries.push({ name: fields[0]!, gid, members });
  }
  return entries;
}

function parseId(text: string): number | undefined {
  return /^[0-9]+$/.test(text) ? Number(text) : undefined;
}

export interface ResolveUserOptions {
  /** Extra groups by name or gid, as docker's --group-add. */
  groupAdd?: readonly string[];
  /** Where the user string came from, for error messages ("config.User", "options.user"). */
  field?: string;
}

/**
 * runc's GetExecUser plus docker's getUser: names are looked up in the image's passwd/group, numbers
 * are taken as they are (a uid without an entry gets gid 0 and HOME "/"), supplementary groups come
 * from /etc/group only when no group was given. An empty user means root.
 */
export function resolveImageUser(rootfs: string, user: string | undefined, options: ResolveUserOptions = {}): ResolvedUser {
  const field = options.field ?? 'user';
  const spec = user ?? '';
  const parts = spec.split(':');
  if (parts.length > 2) throw invalidUser(field, `invalid user ${JSON.stringify(spec)}: expected user[:group]`);
  const userArg = parts[0] === '' ? '0' : parts[0]!;
  const groupArg = parts[1] ?? '';
  if (parts.length === 2 && groupArg === '') throw invalidUser(field, `invalid user ${JSON.stringify(spec)}: empty group`);

  const passwd = lazyFile(rootfs, '/etc/passwd', parsePasswd, field);
  const groups = lazyFile(rootfs, '/etc/group', parseGroup, field);

  const uidArg = parseId(userArg);
  let uid: number;
  let gid = 0;
  let home = '/';
  let name: string | undefined;
  const entry = passwd().find((p) => (uidArg === undefined ? p.name === userArg : p.uid === uidArg));
  if (entry) {
    ({ uid, gid, name } = entry);
    home = entry.home === '' ? '/' : entry.home;
  } else if (uidArg === undefined) {
    throw new SpecGenerationError(
      SpecGenerationErrorCode.UnknownUser,
      field,
      `unable to find user ${userArg}: no matching entries in passwd file`,
    );
  } else {
    uid = checkRange(uidArg, field, 'uid');
  }

  let supplementary: number[] = [];
  if (groupArg !== '') {
    const gidArg = parseId(groupArg);
    const group = groups().find((g) => (gidArg === undefined ? g.name === groupArg : g.gid === gidArg));
    if (group) gid = group.gid;
    else if (gidArg !== undefined) gid = checkRange(gidArg, field, 'gid');
    else {
      throw new SpecGenerationError(
        SpecGenerationErrorCode.UnknownUser,
        field,
        `unable to find group ${groupArg}: no matching entries in group file`,
      );
    }
  } else if (name !== undefined) {
    supplementary = groups()
      .filter((g) => g.members.includes(name!))
      .map((g) => g.gid);
  }

  const added = (options.groupAdd ?? []).map((g, i) => {
    const byName = groups().find((entry) => entry.name === g || String(entry.gid) === g);
    if (byName) return byName.gid;
    const numeric = parseId(g);
    if (numeric === undefined) {
      throw new SpecGenerationError(
        SpecGenerationErrorCode.UnknownUser,
        `options.groupAdd[${i}]`,
        `unable to find group ${g}: no matching entries in group file`,
      );
    }
    return checkRange(numeric, `options.groupAdd[${i}]`, 'gid');
  });

  const additionalGids = [...new Set([gid, ...supplementary, ...added])];
  return name === undefined ? { uid, gid, additionalGids, home } : { uid, gid, additionalGids, home, name };
}

function checkRange(id: number, field: string, what: string): number {
  if (id > MAX_ID) throw invalidUser(field, `${what} ${id} is out of range (0 to ${MAX_ID})`);
  return id;
}

function invalidUser(field: string, message: string): SpecGenerationError {
  const code = field.startsWith('options.') ? SpecGenerationErrorCode.InvalidOption : SpecGenerationErrorCode.InvalidImageConfig;
  return new SpecGenerationError(code, field, message);
}

/** Reads and parses an image file once, on first use; a missing file reads as empty (as runc). */
function lazyFile<T>(rootfs: string, path: string, parse: (text: string) => T[], field: string): () => T[] {
  let parsed: T[] | undefined;
  return () => {
    if (parsed === undefined) {
      let bytes: Buffer | undefined;
      try {
        bytes = readFileInRoot(rootfs, path);
      } catch (error) {
        throw new SpecGenerationError(
          SpecGenerationErrorCode.InvalidImageConfig,
          field,
          `cannot read ${path} in the image: ${(error as Error).message}`,
          { cause: error },
        );
      }
      parsed = bytes === undefined ? [] : parse(bytes.toString('utf8'));
    }
    return parsed;
  };
}
