// A command run on a pseudo-terminal of its own, by `script -qec`, because `ctr -t` insists its
// stdin is a terminal and Node has no pty of its own. Text typed goes to the pty; what the
// command writes comes back with \r\n and terminal queries, which `output` has removed.
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { constants } from 'node:os';

/** The command line quoted for sh -c. */
export function shellQuote(argv: string[]): string {
  return argv.map((arg) => (/^[\w@%+=:,./-]+$/.test(arg) ? arg : `'${arg.replace(/'/g, `'\\''`)}'`)).join(' ');
}

export class TerminalSession {
  private raw = '';
  /** Where the next waitFor starts looking, so a match is never found twice. */
  private consumed = 0;
  private readonly child: ChildProcessWithoutNullStreams;
  private readonly exited: Promise<number>;

  constructor(argv: string[], env: NodeJS.ProcessEnv = process.env) {
    // -e: script exits with the command's status; the typescript file is thrown away.
    this.child = spawn('script', ['-qec', shellQuote(argv), '/dev/null'], { stdio: ['pipe', 'pipe', 'pipe'], env });
    this.child.stdout.on('data', (chunk: Buffer) => (this.raw += chunk.toString()));
    this.child.stderr.on('data', (chunk: Buffer) => (this.raw += chunk.toString()));
    this.exited = new Promise((resolve) => this.child.once('close', (code, signal) => resolve(code ?? (signal ? 128 + (constants.signals[signal] ?? 0) : 127))));
  }

  /** Everything seen so far, with \r and escape sequences (busybox asks for the cursor) removed. */
  get output(): string {
    return this.raw.replace(/\r/g, '').replace(/\x1b\[[0-9;?]*[A-Za-z]/g, '');
  }

  /** Resolves with the first match of pattern in output not matched before. */
  async waitFor(pattern: RegExp, timeoutMs = 10_000): Promise<RegExpExecArray> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const rest = this.output.slice(this.consumed);
      const match = new RegExp(pattern.source, pattern.flags.replace('g', '')).exec(rest);
      if (match) {
        this.consumed += match.index + match[0].length;
        return match;
      }
      if (Date.now() > deadline || this.child.exitCode !== null) {
        throw new Error(`no ${pattern} on the terminal${this.child.exitCode !== null ? ` (exited ${this.child.exitCode})` : ''}; it showed:\n${this.output}`);
      }
      await new Promise((r) => setTimeout(r, 20));
    }
  }

  /** Types text on the terminal. */
  type(text: string): void {
    this.child.stdin.write(text);
  }

  /** The command's exit status; killed (and 137) if it has not exited within timeoutMs. */
  async exitCode(timeoutMs = 10_000): Promise<number> {
    const timer = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    const code = await this.exited;
    clearTimeout(timer);
    this.child.stdin.end();
    return code;
  }

  kill(): void {
    if (this.child.exitCode === null) this.child.kill('SIGKILL');
  }
}
