// terminal=true with --console-socket: the runtime hands the pty master to husk-console-recv
// (Node cannot receive SCM_RIGHTS), which relays it; the container must see a tty on its stdio
// and as /dev/console.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, test } from 'vitest';
import type { Bundle } from '../helpers/bundle.js';
import { receiveConsole } from '../helpers/console.js';
import { useRuntimeEnv } from '../helpers/env.js';
import { waitGone } from '../helpers/leaks.js';
import { describeResult } from '../helpers/runtime.js';
import { parseTap } from '../helpers/tap.js';

describe('console', { timeout: 60_000 }, () => {
  const env = useRuntimeEnv();
  let socketDir = '';

  // Unix socket paths are limited to 108 bytes, so the socket lives in a short temp dir.
  beforeEach(() => void (socketDir = mkdtempSync(join(tmpdir(), 'husk-con-'))));
  afterEach(() => rmSync(socketDir, { recursive: true, force: true }));

  function terminalBundle(id: string, args?: string[]): Bundle {
    const bundle = env.bundle({ id, args });
    bundle.config.process.terminal = true;
    return bundle.write();
  }

  test('create --console-socket: the container gets a tty on stdio and /dev/console', async () => {
    const id = env.newId();
    const bundle = terminalBundle(id);
    const socket = join(socketDir, 'console.sock');
    const receiver = await receiveConsole(socket);
    const created = await env.runtime(['create', '--console-socket', socket, '--bundle', bundle.dir, id]);
    expect(created.code, describeResult(created)).toBe(0);
    const { pid } = await env.state(id);
    const started = await env.runtime(['start', id]);
    expect(started.code, describeResult(started)).toBe(0);
    const { code, output, log } = await receiver.done;
    expect(code, `receiver: ${log}`).toBe(0);
    expect(log).toMatch(/pty master of \/dev\/pts\/\d+/);
    const tap = parseTap(output);
    expect(tap.failures, output).toEqual([]);
    expect(tap.planned, output).toBe(tap.passed);
    expect(output).toMatch(/^ok \d+ - process\.terminal: \/dev\/console is the terminal on stdin$/m);
    expect(await waitGone([pid], 3_000)).toEqual([]);
  });

  test('run --detach --console-socket: input typed on the pty reaches the process', async () => {
    const id = env.newId();
    const bundle = terminalBundle(id, ['/bin/sh', '-c', 'read line; echo "got:$line"; [ -t 0 ] && [ -t 1 ] && echo both-ttys']);
    const socket = join(socketDir, 'console.sock');
    const receiver = await receiveConsole(socket, 'hello\n');
    const run = await env.runtime(['run', '--detach', '--console-socket', socket, '--bundle', bundle.dir, id]);
    expect(run.code, describeResult(run)).toBe(0);
    const { code, output, log } = await receiver.done;
    expect(code, `receiver: ${log}`).toBe(0);
    expect(output).toContain('got:hello\n');
    expect(output).toContain('both-ttys\n');
  });

  test('terminal=true without --console-socket fails create cleanly', async () => {
    const id = env.newId();
    const bundle = terminalBundle(id);
    const result = await env.runtime(['create', '--bundle', bundle.dir, id]);
    expect(result.code, describeResult(result)).not.toBe(0);
  });
});
