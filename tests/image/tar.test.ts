// The small tar reader/writer behind image import/export, against GNU tar: gnu (long names as
// 'L'/'K' entries), pax ('x' records) and ustar (prefix field) archives read back entry for entry;
// what the writer produces GNU tar lists and extracts unchanged.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { createReadStream, linkSync, mkdirSync, mkdtempSync, readFileSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { readTar, TAR_END, tarHeader, tarPadding, type TarEntry } from '../../ts/src/image/archive/tar.js';

let scratch = '';
const longDir = `${'d'.repeat(60)}/${'e'.repeat(60)}`;
const longName = `${longDir}/${'f'.repeat(90)}.bin`;
const big = Buffer.alloc((1 << 20) + 1, 7);

beforeAll(() => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-tar-'));
  const src = join(scratch, 'src');
  mkdirSync(join(src, longDir), { recursive: true });
  writeFileSync(join(src, longName), big);
  writeFileSync(join(src, 'empty'), '');
  writeFileSync(join(src, 'small.json'), '{"a":1}');
  symlinkSync(`../${longName}`, join(src, longDir, 'link-to-self'));
  symlinkSync('small.json', join(src, 'sym'));
  linkSync(join(src, 'small.json'), join(src, 'hard'));
});
afterAll(() => {
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

async function entries(archive: string): Promise<Array<TarEntry & { sha256?: string }>> {
  const out: Array<TarEntry & { sha256?: string }> = [];
  await readTar(createReadStream(archive) as AsyncIterable<Buffer>, async (entry, body) => {
    const hash = createHash('sha256');
    for await (const chunk of body) hash.update(chunk);
    out.push({ ...entry, ...(entry.type === 'file' && { sha256: hash.digest('hex') }) });
  });
  return out;
}

const sha = (data: Buffer | string) => createHash('sha256').update(data).digest('hex');

describe('readTar', () => {
  test.each(['gnu', 'pax', 'ustar'])('%s archives from GNU tar', async (format) => {
    const archive = join(scratch, `${format}.tar`);
    // ustar has a 155+100 byte path (prefix field) but only 100 bytes for a link target.
    const longLink = format !== 'ustar';
    const names = ['small.json', 'empty', 'sym', 'hard', longName, ...(longLink ? [`${longDir}/link-to-self`] : [])];
    execFileSync('tar', ['-C', join(scratch, 'src'), `--format=${format}`, '-cf', archive, ...names]);
    const got = new Map((await entries(archive)).map((e) => [e.path, e]));
    expect(got.get('small.json')).toMatchObject({ type: 'file', size: 7, sha256: sha('{"a":1}') });
    expect(got.get('empty')).toMatchObject({ type: 'file', size: 0 });
    expect(got.get('sym')).toMatchObject({ type: 'symlink', linkname: 'small.json' });
    expect(got.get('hard')).toMatchObject({ type: 'hardlink', linkname: 'small.json' });
    expect(got.get(longName)).toMatchObject({ type: 'file', size: big.length, sha256: sha(big) });
    if (longLink) expect(got.get(`${longDir}/link-to-self`)).toMatchObject({ type: 'symlink', linkname: `../${longName}` });
  });

  test('a truncated archive and a bad checksum are errors', async () => {
    const archive = join(scratch, 'gnu.tar');
    const truncated = join(scratch, 'truncated.tar');
    writeFileSync(truncated, readFileSync(archive).subarray(0, 4096));
    await expect(entries(truncated)).rejects.toThrow(/truncated tar/);
    const garbage = join(scratch, 'garbage.tar');
    writeFileSync(garbage, Buffer.alloc(1024, 0x41));
    await expect(entries(garbage)).rejects.toThrow(/bad header checksum/);
  });
});

test('tarHeader/tarPadding write what GNU tar reads, long names included', () => {
  const file = join(scratch, 'written.tar');
  const data = Buffer.from('hello, tar\n');
  const parts = [tarHeader('blobs/', 'directory', 0), tarHeader(longName, 'file', big.length), big, tarPadding(big.length)];
  parts.push(tarHeader('blobs/x.txt', 'file', data.length), data, tarPadding(data.length), TAR_END);
  writeFileSync(file, Buffer.concat(parts));
  const listed = execFileSync('tar', ['-tf', file], { encoding: 'utf8' }).trim().split('\n');
  expect(listed).toEqual(['blobs/', longName, 'blobs/x.txt']);
  const out = join(scratch, 'extracted');
  mkdirSync(out);
  execFileSync('tar', ['-C', out, '-xf', file]);
  expect(readFileSync(join(out, 'blobs/x.txt'), 'utf8')).toBe('hello, tar\n');
  expect(sha(readFileSync(join(out, longName)))).toBe(sha(big));
});
