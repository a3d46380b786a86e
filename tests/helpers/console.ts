// husk-console-recv (crates/husk-validate) on the receiving end of a --console-socket, as
// containerd's shim would be: it takes the pty master, optionally types into it, and prints
// everything the container writes to its terminal.
import { spawn } from 'node:child_process';
import { validatorBinaries } from './bundle.js';

export interface ConsoleReceiver {
  /** Resolves when the receiver exits: everything the container wrote to its terminal. */
  done: Promise<{ code: number | null; output: string; log: string }>;
}

/** Starts husk-console-recv on `socket` and resolves once it listens. */
export async function receiveConsole(socket: string, input?: string): Promise<ConsoleReceiver> {
  const args = [socket, '--timeout', '20', ...(input === undefined ? [] : ['--input', input])];
  const child = spawn(validatorBinaries().consoleRecv, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  let log = '';
  child.stdout.on('data', (chunk: Buffer) => (output += chunk.toString()));
  const ready = new Promise<void>((resolve, reject) => {
    child.stderr.on('data', (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes('ready\n')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`husk-console-recv exited ${code} before listening: ${log}`)));
  });
  const done = new Promise<{ code: number | null; output: string; log: string }>((resolve) =>
    child.once('exit', (code) => resolve({ code, output: output.replace(/\r\n/g, '\n'), log })),
  );
  await ready;
  // Wrapped: an async function returning the promise itself would wait for the receiver's exit.
  return { done };
}
