/** `husk rmi`: remove images and free the blobs and layers nothing else uses. */
import type { Argv, CommandModule } from 'yargs';
import { printJson, printText, type GlobalOptions } from '../base.js';
import { formatBytes } from './pull.js';

interface RmiArgs extends GlobalOptions {
  images: string[];
  force: boolean;
  json: boolean;
}

export const rmiCommand: CommandModule<GlobalOptions, RmiArgs> = {
  command: 'rmi <images..>',
  describe: 'Remove one or more images',
  builder: (argv) =>
    argv
      .positional('images', { type: 'string', array: true, demandOption: true, describe: 'References or image IDs' })
      .option('force', { alias: 'f', type: 'boolean', default: false, describe: 'Remove even if a snapshot uses it or the ID matches several references' })
      .option('json', { type: 'boolean', default: false, describe: 'Print what was removed as JSON' }) as Argv<RmiArgs>,
  handler: async (args) => {
    const { removeImages } = await import('../../image/images.js');
    const result = await removeImages(args.root, args.images, { force: args.force });
    if (args.json) return printJson(result);
    for (const reference of result.untagged) printText(`Untagged: ${reference}`);
    const { blobsRemoved, layersRemoved, bytesFreed } = result.pruned;
    printText(`Deleted: ${blobsRemoved} blobs, ${layersRemoved} layers (${formatBytes(bytesFreed)} freed)`);
  },
};
