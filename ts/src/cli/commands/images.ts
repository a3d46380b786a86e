/** `husk images`: the images in the store, one row per reference. */
import type { Argv, CommandModule } from 'yargs';
import { printJson, printText, type GlobalOptions } from '../base.js';
import { formatBytes } from './pull.js';

interface ImagesArgs extends GlobalOptions {
  quiet: boolean;
  json: boolean;
  digests: boolean;
}

export const imagesCommand: CommandModule<GlobalOptions, ImagesArgs> = {
  command: 'images',
  describe: 'List images',
  builder: (argv) =>
    argv
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Only show image IDs' })
      .option('digests', { type: 'boolean', default: false, describe: 'Show digests' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the image records as JSON' }) as Argv<ImagesArgs>,
  handler: async (args) => {
    const { listImages } = await import('../../image/images.js');
    const { familiarName, parseReference } = await import('../../image/reference.js');
    const images = (await listImages(args.root)).sort((a, b) => a.reference.localeCompare(b.reference));
    if (args.json) return printJson(images);
    const id = (digest: string) => digest.slice('sha256:'.length, 'sha256:'.length + 12);
    if (args.quiet) {
      const ids = [...new Set(images.map((i) => id(i.configDigest)))];
      if (ids.length > 0) printText(ids.join('\n'));
      return;
    }
    const rows = images.map((image) => {
      const ref = parseReference(image.reference);
      const name = familiarName(ref);
      return [name, ref.tag ?? '<none>', ...(args.digests ? [image.digest] : []), id(image.configDigest), image.created?.slice(0, 19).replace('T', ' ') ?? '', formatBytes(image.size)];
    });
    const header = ['REPOSITORY', 'TAG', ...(args.digests ? ['DIGEST'] : []), 'IMAGE ID', 'CREATED', 'SIZE'];
    printText(table([header, ...rows]));
  },
};

export function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, col) => Math.max(...rows.map((r) => (r[col] ?? '').length)));
  return rows.map((r) => r.map((cell, col) => (col === r.length - 1 ? cell : cell.padEnd(widths[col]! + 3))).join('')).join('\n');
}
