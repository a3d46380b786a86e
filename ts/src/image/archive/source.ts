/**
 * What `husk image import` reads from: a directory (an OCI image layout, or an unpacked docker
 * save), or a tarball of either (gzip-compressed or not) streamed once into the store's ingest
 * directory, each file hashed on the way. Paths are resolved inside the archive only.
 */
import { createHash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { copyFile, link, open, readFile, rm, stat } from 'node:fs/promises';
import { join, posix } from 'node:path';
import { createGunzip } from 'node:zlib';
import { ImageError, ImageErrorCode } from '../errors.js';
import { readTar } from './tar.js';

export interface ArchiveFile {
  digest: string;
  size: number;
}

export interface ArchiveSource {
  /** For messages: the path given. */
  readonly name: string;
  has(path: string): Promise<boolean>;
  /** A small file (a JSON document) in memory. */
  read(path: string): Promise<Buffer>;
  /** The sha256 digest and size of a file's bytes. */
  stat(path: string): Promise<ArchiveFile>;
  /** The first bytes of a file (to tell compressed layers from plain tars). */
  head(path: string, length: number): Promise<Buffer>;
  /** Writes the file's bytes to `dest` (a new file) after checking they are `expected`. */
  copyTo(path: string, dest: string, expected: ArchiveFile): Promise<void>;
  /** Removes anything the source made (a tarball's extracted files). */
  close(): Promise<void>;
}

/** JSON documents in an archive are small; refuse to read a huge one into memory. */
const MAX_DOCUMENT_BYTES = 16 << 20;

/** `a/./b`, `/a/b`, `./a/b` → `a/b`; undefined if it climbs out of the archive. */
export function archivePath(path: string): string | undefined {
  const normal = posix.normalize(`/${path}`).slice(1).replace(/\/$/, '');
  return normal === '' || normal.startsWith('..') ? undefined : normal;
}

function missing(source: string, path: string): ImageError {
  return new ImageError(ImageErrorCode.NotFound, `${source}: no file ${path} in the archive`);
}

function mismatch(source: string, path: string, expected: ArchiveFile, actual: ArchiveFile): ImageError {
  return new ImageError(
    ImageErrorCode.DigestMismatch,
    `${source}: ${path}: expected ${expected.digest} (${expected.size} bytes), got ${actual.digest} (${actual.size} bytes)`,
  );
}

async function hashFile(path: string): Promise<ArchiveFile> {
  const hash = createHash('sha256');
  let size = 0;
  for await (const chunk of createReadStream(path, { highWaterMark: 1 << 20 })) {
    hash.update(chunk as Buffer);
    size += (chunk as Buffer).length;
  }
  return { digest: `sha256:${hash.digest('hex')}`, size };
}

async function readHead(path: string, length: number): Promise<Buffer> {
  const handle = await open(path, 'r');
  try {
    const buffer = Buffer.alloc(length);
    const { bytesRead } = await handle.read(buffer, 0, length, 0);
    return buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
}

/** An unpacked layout or docker save directory, read in place. */
export class DirectorySource implements ArchiveSource {
  private readonly hashes = new Map<string, Promise<ArchiveFile>>();

  constructor(readonly name: string) {}

  private resolve(path: string): string {
    const inside = archivePath(path);
    if (inside === undefined) throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${this.name}: path ${path} points outside the directory`);
    return join(this.name, inside);
  }

  async has(path: string): Promise<boolean> {
    return stat(this.resolve(path)).then((s) => s.isFile(), () => false);
  }

  async read(path: string): Promise<Buffer> {
    const file = this.resolve(path);
    const info = await stat(file).catch(() => undefined);
    if (info === undefined || !info.isFile()) throw missing(this.name, path);
    if (info.size > MAX_DOCUMENT_BYTES) throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${this.name}: ${path} is too big for a document`);
    return readFile(file);
  }

  stat(path: string): Promise<ArchiveFile> {
    const file = this.resolve(path);
    let hashed = this.hashes.get(file);
    if (hashed === undefined) {
      hashed = hashFile(file).catch((error: unknown) => {
        throw (error as NodeJS.ErrnoException).code === 'ENOENT' ? missing(this.name, path) : error;
      });
      this.hashes.set(file, hashed);
    }
    return hashed;
  }

  head(path: string, length: number): Promise<Buffer> {
    return readHead(this.resolve(path), length);
  }

  /** Copies while hashing: the directory may change under us, so what lands is what is checked. */
  async copyTo(path: string, dest: string, expected: ArchiveFile): Promise<void> {
    const hash = createHash('sha256');
    let size = 0;
    await rm(dest, { force: true });
    const out = await open(dest, 'wx', 0o600);
    try {
      for await (const chunk of createReadStream(this.resolve(path), { highWaterMark: 1 << 20 })) {
        hash.update(chunk as Buffer);
        size += (chunk as Buffer).length;
        await out.write(chunk as Buffer);
      }
      await out.sync();
    } finally {
      await out.close();
    }
    const actual = { digest: `sha256:${hash.digest('hex')}`, size };
    if (actual.digest !== expected.digest || actual.size !== expected.size) throw mismatch(this.name, path, expected, actual);
  }

  async close(): Promise<void> {}
}

interface ExtractedFile extends ArchiveFile {
  temp: string;
}

/** A tarball, read once: each regular file to `<tempPrefix>.<n>`, hashed as it is written. */
export class TarballSource implements ArchiveSource {
  private readonly files = new Map<string, ExtractedFile>();
  /** Symlinks (target resolved to an archive path) and hardlinks. */
  private readonly links = new Map<string, string>();

  private constructor(
    readonly name: string,
    private readonly tempPrefix: string,
  ) {}

  static async open(file: string, tempPrefix: string): Promise<TarballSource> {
    const source = new TarballSource(file, tempPrefix);
    try {
      await source.extract();
    } catch (error) {
      await source.close();
      throw error;
    }
    return source;
  }

  private async extract(): Promise<void> {
    const magic = await readHead(this.name, 4);
    if (magic[0] === 0x28 && magic[1] === 0xb5 && magic[2] === 0x2f && magic[3] === 0xfd) {
      throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${this.name}: zstd-compressed archives are not supported (decompress it first)`);
    }
    const raw = createReadStream(this.name, { highWaterMark: 1 << 20 });
    const input = magic[0] === 0x1f && magic[1] === 0x8b ? raw.pipe(createGunzip()) : raw;
    raw.on('error', (error) => input.destroy(error));
    let count = 0;
    try {
      await readTar(input as AsyncIterable<Buffer>, async (entry, body) => {
        const path = archivePath(entry.path);
        if (path === undefined) return;
        if (entry.type === 'symlink') {
          const target = entry.linkname.startsWith('/') ? entry.linkname : posix.join(posix.dirname(path), entry.linkname);
          const resolved = archivePath(target);
          if (resolved !== undefined) this.links.set(path, resolved);
        } else if (entry.type === 'hardlink') {
          const resolved = archivePath(entry.linkname);
          if (resolved !== undefined) this.links.set(path, resolved);
        } else if (entry.type === 'file') {
          const temp = `${this.tempPrefix}.${++count}`;
          const hash = createHash('sha256');
          const out = await open(temp, 'wx', 0o600);
          this.files.set(path, { temp, digest: '', size: entry.size });
          try {
            for await (const chunk of body) {
              hash.update(chunk);
              await out.write(chunk);
            }
          } finally {
            await out.close();
          }
          this.files.get(path)!.digest = `sha256:${hash.digest('hex')}`;
        }
      });
    } catch (error) {
      if (error instanceof ImageError) throw error;
      throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${this.name}: cannot read the archive: ${(error as Error).message}`, { cause: error });
    } finally {
      raw.destroy();
    }
  }

  private lookup(path: string): ExtractedFile | undefined {
    let current = archivePath(path);
    for (let hops = 0; current !== undefined && hops < 16; hops++) {
      const file = this.files.get(current);
      if (file !== undefined) return file;
      current = this.links.get(current);
    }
    return undefined;
  }

  private file(path: string): ExtractedFile {
    const file = this.lookup(path);
    if (file === undefined) throw missing(this.name, path);
    return file;
  }

  async has(path: string): Promise<boolean> {
    return this.lookup(path) !== undefined;
  }

  async read(path: string): Promise<Buffer> {
    const file = this.file(path);
    if (file.size > MAX_DOCUMENT_BYTES) throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${this.name}: ${path} is too big for a document`);
    return readFile(file.temp);
  }

  async stat(path: string): Promise<ArchiveFile> {
    const { digest, size } = this.file(path);
    return { digest, size };
  }

  head(path: string, length: number): Promise<Buffer> {
    return readHead(this.file(path).temp, length);
  }

  /** Hardlinks the extracted file (already hashed) into place; copies across filesystems. */
  async copyTo(path: string, dest: string, expected: ArchiveFile): Promise<void> {
    const file = this.file(path);
    if (file.digest !== expected.digest || file.size !== expected.size) throw mismatch(this.name, path, expected, file);
    await rm(dest, { force: true });
    await link(file.temp, dest).catch(() => copyFile(file.temp, dest));
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => rm(f.temp, { force: true })));
    this.files.clear();
  }
}
