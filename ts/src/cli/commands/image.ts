/** `husk image prune` (free unused content) and `husk image export` (write an OCI layout). */
import type { Argv, CommandModule } from 'yargs';
import { printJson, printText, type GlobalOptions } from '../base.js';
import { formatBytes } from './pull.js';

interface PruneArgs extends GlobalOptions {
  all: boolean;
  json: boolean;
}

interface ExportArgs extends GlobalOptions {
  image: string;
  dir: string;
  tag?: string;
}

const pruneCommand: CommandModule<GlobalOptions, PruneArgs> = {
  command: 'prune',
  describe: 'Remove unused blobs and layers (with --all, also images no container uses)',
  builder: (argv) =>
    argv
      .option('all', { alias: 'a', type: 'boolean', default: false, describe: 'Remove all images not used by a snapshot' })
      .option('json', { type: 'boolean', default: false, describe: 'Print what was removed as JSON' }) as Argv<PruneArgs>,
  handler: async (args) => {
    const { pruneImages } = await import('../../image/images.js');
    const result = await pruneImages(args.root, { all: args.all });
    if (args.json) return printJson(result);
    for (const reference of result.untagged) printText(`Untagged: ${reference}`);
    printText(`Total reclaimed space: ${formatBytes(result.pruned.bytesFreed)} (${result.pruned.blobsRemoved} blobs, ${result.pruned.layersRemoved} layers)`);
  },
};

const exportCommand: CommandModule<GlobalOptions, ExportArgs> = {
  command: 'export <image> <dir>',
  describe: 'Write an image as an OCI image layout directory',
  builder: (argv) =>
    argv
      .positional('image', { type: 'string', demandOption: true, describe: 'Reference or image ID' })
      .positional('dir', { type: 'string', demandOption: true, describe: 'Layout directory (created or added to)' })
      .option('tag', { type: 'string', requiresArg: true, describe: 'Name in the layout (default: the image tag)' }) as Argv<ExportArgs>,
  handler: async (args) => {
    const { exportImage } = await import('../../image/export.js');
    await exportImage(args.root, args.image, args.dir, args.tag);
  },
};

export const imageCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'image <command>',
  describe: 'Manage images (prune, export)',
  builder: (argv) => argv.command(pruneCommand).command(exportCommand).demandCommand(1, 'missing image command') as Argv<GlobalOptions>,
  handler: () => undefined,
};
