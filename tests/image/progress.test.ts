// Per-layer progress bars on a terminal: `husk pull` runs under `script` (a pty) against the
// fault proxy's slow/ path (~1 MiB/s), so the bars redraw several times; the output is replayed
// on a tiny terminal model and the final screen must show one line per layer, all complete.
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, test } from 'vitest';
import { buildCli, HUSK_MAIN } from '../cli/run-husk.js';
import { startRegistries, type Registries } from './fixtures.js';

let reg: Registries;
/** Made in beforeAll, so a file collected but not run leaves nothing behind. */
let scratch = '';

beforeAll(async () => {
  scratch = mkdtempSync(join(tmpdir(), 'husk-image-progress-'));
  reg = await startRegistries();
  buildCli();
});
afterAll(async () => {
  await reg?.stop();
  if (scratch !== '') rmSync(scratch, { recursive: true, force: true });
});

/** Runs a shell command line on a pty (`script -qec`); resolves to its exit code and raw output. */
function onPty(command: string): Promise<{ code: number | null; output: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn('script', ['-qec', command, '/dev/null'], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, TERM: 'xterm' } });
    let output = '';
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => (output += chunk));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, output }));
  });
}

/** Replays text with \r, \n, ESC[nA (cursor up) and ESC[2K (erase line) onto a list of lines. */
function screen(output: string): string[] {
  const lines: string[] = [''];
  let row = 0;
  let col = 0;
  for (const token of output.match(/\x1b\[\d*[A-Za-z]|\r|\n|[^\x1b\r\n]+/g) ?? []) {
    if (token === '\r') col = 0;
    else if (token === '\n') {
      row++;
      if (lines[row] === undefined) lines[row] = '';
    } else if (token.startsWith('\x1b[')) {
      const n = Number(token.slice(2, -1) || '1');
      if (token.endsWith('A')) row = Math.max(0, row - n);
      else if (token.endsWith('K')) lines[row] = '';
    } else {
      const line = lines[row]!.padEnd(col);
      lines[row] = line.slice(0, col) + token + line.slice(col + token.length);
      col += token.length;
    }
  }
  return lines.filter((l) => l !== '');
}

test('husk pull on a TTY redraws per-layer bars in place and ends with every layer complete', async () => {
  const root = join(scratch, 'root');
  const reference = `${reg.proxy}/slow/layers:latest`;
  const { code, output } = await onPty(`${process.execPath} ${HUSK_MAIN} --root ${root} pull ${reference}`);
  expect(code, output).toBe(0);
  // A pty turns each \n into \r\n; the redraws move the cursor up over the layer lines.
  expect(output).toContain('\r\n');
  const redraws = output.match(/\x1b\[\d+A/g) ?? [];
  expect(redraws.length).toBeGreaterThanOrEqual(3);
  // The 1 MB layer's bar advances through several sizes before it completes.
  const big = [...output.matchAll(/([a-f0-9]{12}): Downloading \[[= >]{30}\] ([\d.]+)(k?B)\/1\.04MB/g)];
  const sizes = new Set(big.map((m) => m[2]! + m[3]!));
  expect(sizes.size).toBeGreaterThanOrEqual(3);

  const final = screen(output);
  expect(final[0]).toBe(`Pulling ${reference} (linux/amd64)`);
  const layerLines = final.filter((l) => /^[a-f0-9]{12}: /.test(l));
  expect(layerLines).toHaveLength(4);
  for (const line of layerLines) expect(line).toMatch(/^[a-f0-9]{12}: Pull complete$/);
  expect(new Set(layerLines.map((l) => l.slice(0, 12))).size).toBe(4);
  expect(final.slice(-3)).toEqual([
    expect.stringMatching(/^Digest: sha256:[a-f0-9]{64}$/),
    `Status: Downloaded newer image for ${reference}`,
    reference,
  ]);
});
