/** `husk pull`: download an image from a registry into the store, with per-layer progress. */
import type { Argv, CommandModule } from 'yargs';
import { printText, type GlobalOptions } from '../base.js';
import type { PullEvent } from '../../image/pull.js';

/** Flags shared by the commands that talk to registries (pull, login). */
export interface RegistryFlags {
  insecure: boolean;
  'cert-dir'?: string;
}

export function withRegistryFlags<T>(argv: Argv<T>): Argv<T & RegistryFlags> {
  return argv
    .option('insecure', {
      type: 'boolean',
      default: false,
      describe: 'Allow plain HTTP and unverified TLS (loopback registries may always use HTTP)',
    })
    .option('cert-dir', {
      type: 'string',
      requiresArg: true,
      describe: 'Directory of CA certificates (*.crt) and client pairs (*.cert/*.key) for TLS',
    }) as Argv<T & RegistryFlags>;
}

/** The RegistryClient options the flags ask for. */
export function registryOptions(args: RegistryFlags): { insecure: boolean; certDir?: string } {
  return { insecure: args.insecure, ...(args['cert-dir'] !== undefined && { certDir: args['cert-dir'] }) };
}

interface PullArgs extends GlobalOptions, RegistryFlags {
  image: string;
  platform?: string;
  quiet: boolean;
  json: boolean;
}

export const pullCommand: CommandModule<GlobalOptions, PullArgs> = {
  command: 'pull <image>',
  describe: 'Download an image from a registry',
  builder: (argv) =>
    withRegistryFlags(argv)
      .positional('image', { type: 'string', demandOption: true, describe: 'NAME[:TAG|@DIGEST]' })
      .option('platform', { type: 'string', requiresArg: true, describe: 'os/arch[/variant] to pull from a multi-platform image' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the image reference' })
      .option('json', { type: 'boolean', default: false, describe: 'Print progress and the result as JSON lines' }) as Argv<PullArgs>,
  handler: async (args) => {
    const { pullImage } = await import('../../image/pull.js');
    const progress = args.json ? jsonProgress() : args.quiet ? undefined : process.stdout.isTTY ? new TtyProgress() : new LineProgress();
    const record = await pullImage(args.image, {
      root: args.root,
      ...registryOptions(args),
      ...(args.platform !== undefined && { platform: args.platform }),
      ...(progress !== undefined && { onEvent: (event: PullEvent) => progress.event(event) }),
    });
    if (args.json) printText(JSON.stringify({ type: 'image', image: record }));
    else printText(record.reference);
  },
};

interface Progress {
  event(event: PullEvent): void;
}

function short(digest: string): string {
  return digest.replace(/^sha256:/, '').slice(0, 12);
}

function jsonProgress(): Progress {
  const last = new Map<string, number>();
  return {
    event(event) {
      // Downloading events come per chunk; a few per second per layer are plenty.
      if (event.type === 'layer' && event.status === 'downloading' && event.current !== event.total) {
        const now = Date.now();
        if (now - (last.get(event.digest) ?? 0) < 200) return;
        last.set(event.digest, now);
      }
      printText(JSON.stringify(event));
    },
  };
}

const STATUS_TEXT: Record<string, string> = {
  exists: 'Already exists',
  downloading: 'Downloading',
  downloaded: 'Download complete',
  unpacking: 'Extracting',
  unpacked: 'Pull complete',
};

/** Not a terminal: one line per layer state change, as docker prints into a log. */
class LineProgress implements Progress {
  private readonly started = new Set<string>();
  private downloaded = 0;

  event(event: PullEvent): void {
    if (event.type === 'resolved') printText(`Pulling ${event.reference} (${event.platform}, ${event.layers} layers)`);
    else if (event.type === 'done') {
      this.downloaded = event.downloaded;
      printText(`Digest: ${event.digest}`);
      printText(`Status: ${this.downloaded > 0 ? 'Downloaded newer image' : 'Image is up to date'} for ${event.reference}`);
    } else if (event.status === 'downloading') {
      if (this.started.has(event.digest)) return;
      this.started.add(event.digest);
      printText(`${short(event.digest)}: Downloading (${formatBytes(event.total)})`);
    } else if (event.status !== 'unpacking') {
      printText(`${short(event.digest)}: ${STATUS_TEXT[event.status]}`);
    }
  }
}

/** A terminal: one line per layer, redrawn in place with a bar while downloading. */
class TtyProgress implements Progress {
  private readonly order: string[] = [];
  private readonly lines = new Map<string, string>();
  private drawn = 0;
  private lastDraw = 0;

  event(event: PullEvent): void {
    if (event.type === 'resolved') {
      printText(`Pulling ${event.reference} (${event.platform})`);
      return;
    }
    if (event.type === 'done') {
      this.draw(true);
      printText(`Digest: ${event.digest}`);
      printText(`Status: ${event.downloaded > 0 ? 'Downloaded newer image' : 'Image is up to date'} for ${event.reference}`);
      return;
    }
    if (!this.lines.has(event.digest)) this.order.push(event.digest);
    let text = `${short(event.digest)}: ${STATUS_TEXT[event.status]}`;
    if (event.status === 'downloading' && event.current !== undefined && event.total > 0) {
      const width = 30;
      const filled = Math.round((event.current / event.total) * width);
      text += ` [${'='.repeat(Math.max(filled - 1, 0))}${filled > 0 ? '>' : ''}${' '.repeat(width - filled)}] ${formatBytes(event.current)}/${formatBytes(event.total)}`;
    }
    this.lines.set(event.digest, text);
    this.draw(event.status !== 'downloading');
  }

  private draw(force: boolean): void {
    const now = Date.now();
    if (!force && now - this.lastDraw < 100) return;
    this.lastDraw = now;
    const up = this.drawn > 0 ? `\x1b[${this.drawn}A` : '';
    const body = this.order.map((d) => `\x1b[2K${this.lines.get(d)}\n`).join('');
    process.stdout.write(up + body);
    this.drawn = this.order.length;
  }
}

export function formatBytes(bytes: number): string {
  const units = ['B', 'kB', 'MB', 'GB', 'TB'];
  let value = bytes;
  let unit = 0;
  while (value >= 1000 && unit < units.length - 1) {
    value /= 1000;
    unit++;
  }
  return `${unit === 0 ? value : value.toFixed(value < 10 ? 2 : 1)}${units[unit]}`;
}
