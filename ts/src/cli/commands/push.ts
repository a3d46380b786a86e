/** `husk push`: upload an image from the store to the registry its name points at. */
import type { Argv, CommandModule } from 'yargs';
import { printText, type GlobalOptions } from '../base.js';
import type { PushEvent } from '../../image/push.js';
import { formatBytes, registryOptions, withRegistryFlags, type RegistryFlags } from './pull.js';

interface PushArgs extends GlobalOptions, RegistryFlags {
  image: string;
  quiet: boolean;
  json: boolean;
}

export const pushCommand: CommandModule<GlobalOptions, PushArgs> = {
  command: 'push <image>',
  describe: 'Upload an image to a registry',
  builder: (argv) =>
    withRegistryFlags(argv)
      .positional('image', { type: 'string', demandOption: true, describe: 'NAME[:TAG] (tag it first with husk tag)' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the pushed digest' })
      .option('json', { type: 'boolean', default: false, describe: 'Print progress and the result as JSON lines' }) as Argv<PushArgs>,
  handler: async (args) => {
    const { pushImage } = await import('../../image/push.js');
    const progress = args.json ? jsonProgress() : args.quiet ? undefined : lineProgress();
    const result = await pushImage(args.image, {
      root: args.root,
      ...registryOptions(args),
      ...(progress !== undefined && { onEvent: progress }),
    });
    if (args.json) printText(JSON.stringify({ type: 'pushed', ...result }));
    else if (args.quiet) printText(result.digest);
  },
};

const short = (digest: string) => digest.replace(/^sha256:/, '').slice(0, 12);

function jsonProgress(): (event: PushEvent) => void {
  const last = new Map<string, number>();
  return (event) => {
    if (event.type === 'blob' && event.status === 'pushing' && event.current !== event.total) {
      const now = Date.now();
      if (now - (last.get(event.digest) ?? 0) < 200) return;
      last.set(event.digest, now);
    }
    printText(JSON.stringify(event));
  };
}

/** One line per blob state change, as docker push prints into a log. */
function lineProgress(): (event: PushEvent) => void {
  const started = new Set<string>();
  return (event) => {
    if (event.type === 'resolved') printText(`The push refers to repository [${event.repository}]`);
    else if (event.type === 'done') printText(`${event.reference.slice(event.reference.lastIndexOf(':') + 1)}: digest: ${event.digest} size: ${event.size}`);
    else if (event.status === 'pushing') {
      if (started.has(event.digest)) return;
      started.add(event.digest);
      printText(`${short(event.digest)}: Pushing (${formatBytes(event.total)})`);
    } else {
      const text = {
        exists: 'Layer already exists',
        mounted: `Mounted from ${event.from ?? ''}`,
        pushed: 'Pushed',
        skipped: 'Skipped foreign layer',
      }[event.status];
      printText(`${short(event.digest)}: ${text}`);
    }
  };
}
