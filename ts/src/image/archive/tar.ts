/**
 * Just enough tar for image archives (docker save, OCI layout tarballs): a streaming reader of
 * ustar/pax/GNU headers that hands each entry's bytes to the caller, and a writer of plain files
 * and directories. Entries are never written to disk by their names here.
 */
import { ImageError, ImageErrorCode } from '../errors.js';

const BLOCK = 512;

export type TarEntryType = 'file' | 'directory' | 'symlink' | 'hardlink' | 'other';

export interface TarEntry {
  /** The path as written (pax `path` and GNU long names applied), not normalised. */
  path: string;
  type: TarEntryType;
  size: number;
  linkname: string;
}

/** Reads exact byte counts from a stream of chunks. */
class ByteReader {
  private buffer: Buffer = Buffer.alloc(0);
  private done = false;
  offset = 0;

  constructor(private readonly chunks: AsyncIterator<Buffer>) {}

  /** Exactly `n` bytes; undefined at a clean end of stream (nothing buffered). */
  async read(n: number): Promise<Buffer | undefined> {
    while (this.buffer.length < n && !this.done) await this.fill();
    if (this.buffer.length === 0 && this.done) return undefined;
    if (this.buffer.length < n) throw truncated(this.offset + this.buffer.length);
    const out = this.buffer.subarray(0, n);
    this.buffer = this.buffer.subarray(n);
    this.offset += n;
    return out;
  }

  /** The next `n` bytes as they arrive, in chunks. */
  async *take(n: number): AsyncGenerator<Buffer> {
    let left = n;
    while (left > 0) {
      if (this.buffer.length === 0) {
        if (this.done) throw truncated(this.offset);
        await this.fill();
        continue;
      }
      const piece = this.buffer.subarray(0, Math.min(left, this.buffer.length));
      this.buffer = this.buffer.subarray(piece.length);
      this.offset += piece.length;
      left -= piece.length;
      yield piece;
    }
  }

  private async fill(): Promise<void> {
    const next = await this.chunks.next();
    if (next.done) this.done = true;
    else this.buffer = this.buffer.length === 0 ? next.value : Buffer.concat([this.buffer, next.value]);
  }
}

function truncated(at: number): ImageError {
  return new ImageError(ImageErrorCode.UnsupportedMediaType, `archive: truncated tar at byte ${at}`);
}

function text(block: Buffer, start: number, length: number): string {
  const field = block.subarray(start, start + length);
  const end = field.indexOf(0);
  return field.subarray(0, end < 0 ? length : end).toString('utf8');
}

/** An octal field, or GNU base-256 when the high bit of the first byte is set. */
function number(block: Buffer, start: number, length: number): number {
  const field = block.subarray(start, start + length);
  if ((field[0]! & 0x80) !== 0) {
    let value = field[0]! & 0x7f;
    for (const byte of field.subarray(1)) value = value * 256 + byte;
    return value;
  }
  const digits = text(block, start, length).trim();
  return digits === '' ? 0 : parseInt(digits, 8);
}

function checksumOk(block: Buffer): boolean {
  let sum = 0;
  for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : block[i]!;
  return sum === number(block, 148, 8);
}

/** `len key=value\n` records of a pax header. */
function paxRecords(data: Buffer): Record<string, string> {
  const records: Record<string, string> = {};
  let at = 0;
  while (at < data.length) {
    const space = data.indexOf(0x20, at);
    if (space < 0) break;
    const length = Number(data.subarray(at, space).toString('ascii'));
    if (!Number.isInteger(length) || length <= 0) break;
    const record = data.subarray(space + 1, at + length - 1).toString('utf8');
    const eq = record.indexOf('=');
    if (eq > 0) records[record.slice(0, eq)] = record.slice(eq + 1);
    at += length;
  }
  return records;
}

const TYPES: Readonly<Record<string, TarEntryType>> = {
  '0': 'file',
  '\0': 'file',
  '7': 'file',
  '1': 'hardlink',
  '2': 'symlink',
  '5': 'directory',
};

/**
 * Calls `onEntry` for each entry with a body stream of its bytes; what the callback leaves
 * unread is skipped. Throws on a bad checksum or a truncated archive.
 */
export async function readTar(chunks: AsyncIterable<Buffer>, onEntry: (entry: TarEntry, body: AsyncIterable<Buffer>) => Promise<void>): Promise<void> {
  const reader = new ByteReader(chunks[Symbol.asyncIterator]());
  let pax: Record<string, string> = {};
  let longName: string | undefined;
  let longLink: string | undefined;
  for (;;) {
    const block = await reader.read(BLOCK);
    if (block === undefined || block.every((b) => b === 0)) return;
    if (!checksumOk(block)) throw new ImageError(ImageErrorCode.UnsupportedMediaType, `archive: not a tar file (bad header checksum at byte ${reader.offset - BLOCK})`);
    const flag = String.fromCharCode(block[156]!);
    if (flag === 'x' || flag === 'g' || flag === 'L' || flag === 'K') {
      const length = number(block, 124, 12);
      const data = Buffer.concat(await collect(reader.take(Math.ceil(length / BLOCK) * BLOCK))).subarray(0, length);
      if (flag === 'x') pax = { ...pax, ...paxRecords(data) };
      else if (flag === 'L') longName = text(data, 0, data.length);
      else if (flag === 'K') longLink = text(data, 0, data.length);
      continue;
    }
    const size = pax.size !== undefined ? Number(pax.size) : number(block, 124, 12);
    const padded = Math.ceil(size / BLOCK) * BLOCK;
    const magic = text(block, 257, 6);
    const prefix = magic.startsWith('ustar') ? text(block, 345, 155) : '';
    const name = text(block, 0, 100);
    const entry: TarEntry = {
      path: pax.path ?? longName ?? (prefix !== '' ? `${prefix}/${name}` : name),
      type: TYPES[flag] ?? 'other',
      size,
      linkname: pax.linkpath ?? longLink ?? text(block, 157, 100),
    };
    pax = {};
    longName = undefined;
    longLink = undefined;
    const start = reader.offset;
    await onEntry(entry, reader.take(size));
    // Skip what the callback did not read, and the padding.
    const left = start + padded - reader.offset;
    if (left > 0) for await (const _ of reader.take(left)) void _;
  }
}

async function collect(chunks: AsyncIterable<Buffer>): Promise<Buffer[]> {
  const out: Buffer[] = [];
  for await (const chunk of chunks) out.push(chunk);
  return out;
}

/** A ustar header (with a pax header first when the name does not fit). */
export function tarHeader(path: string, type: 'file' | 'directory', size: number, mtime = 0): Buffer {
  const name = Buffer.from(path, 'utf8');
  const blocks: Buffer[] = [];
  if (name.length > 100) {
    // A pax record counts its own length digits: `len path=…\n`.
    const rest = Buffer.byteLength(` path=${path}\n`);
    let length = rest + String(rest).length;
    if (String(length).length + rest !== length) length = rest + String(length).length;
    const data = Buffer.from(`${length} path=${path}\n`);
    blocks.push(headerBlock('././@PaxHeader', 'x', data.length, mtime), pad(data));
  }
  blocks.push(headerBlock(name.length > 100 ? name.subarray(0, 100).toString('utf8') : path, type === 'file' ? '0' : '5', size, mtime));
  return Buffer.concat(blocks);
}

function headerBlock(name: string, flag: string, size: number, mtime: number): Buffer {
  const block = Buffer.alloc(BLOCK);
  block.write(name, 0, 100, 'utf8');
  block.write(`${(flag === '5' ? 0o755 : 0o644).toString(8).padStart(7, '0')}\0`, 100, 'ascii');
  block.write('0000000\0', 108, 'ascii');
  block.write('0000000\0', 116, 'ascii');
  block.write(`${size.toString(8).padStart(11, '0')}\0`, 124, 'ascii');
  block.write(`${Math.floor(mtime).toString(8).padStart(11, '0')}\0`, 136, 'ascii');
  block.write(flag, 156, 'ascii');
  block.write('ustar\0', 257, 'ascii');
  block.write('00', 263, 'ascii');
  block.fill(0x20, 148, 156);
  let sum = 0;
  for (const byte of block) sum += byte;
  block.write(`${sum.toString(8).padStart(6, '0')}\0 `, 148, 'ascii');
  return block;
}

/** Zero bytes up to the next block boundary after `length` bytes of data. */
export function tarPadding(length: number): Buffer {
  return Buffer.alloc((BLOCK - (length % BLOCK)) % BLOCK);
}

function pad(data: Buffer): Buffer {
  return Buffer.concat([data, tarPadding(data.length)]);
}

/** The end-of-archive marker: two zero blocks. */
export const TAR_END = Buffer.alloc(2 * BLOCK);
