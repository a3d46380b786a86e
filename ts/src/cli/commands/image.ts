/** `husk image prune` (free unused content), `export` (OCI layout or docker save tarball) and `import` (either, or a layout dir). */
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
  format: 'oci' | 'docker';
}

interface ImportArgs extends GlobalOptions {
  path: string;
  name?: string;
  platform?: string;
  quiet: boolean;
  json: boolean;
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
  describe: 'Write an image as an OCI image layout directory, or (--format docker) a docker save tarball',
  builder: (argv) =>
    argv
      .positional('image', { type: 'string', demandOption: true, describe: 'Reference or image ID' })
      .positional('dir', { type: 'string', demandOption: true, describe: "Layout directory (created or added to); with --format docker the tar file ('-': stdout)" })
      .option('format', { type: 'string', choices: ['oci', 'docker'] as const, default: 'oci' as const, describe: 'oci: an image layout directory; docker: a docker save tarball (also an OCI layout)' })
      .option('tag', { type: 'string', requiresArg: true, describe: 'Name in the layout (default: the image tag)' }) as Argv<ExportArgs>,
  handler: async (args) => {
    const { exportDockerArchive, exportImage } = await import('../../image/export.js');
    if (args.format === 'docker') await exportDockerArchive(args.root, [args.image], args.dir);
    else await exportImage(args.root, args.image, args.dir, args.tag);
  },
};

const importCommand: CommandModule<GlobalOptions, ImportArgs> = {
  command: 'import <path>',
  describe: 'Load images from an OCI image layout (directory or tarball) or a docker save tarball',
  builder: (argv) =>
    argv
      .positional('path', { type: 'string', demandOption: true, describe: 'Layout directory, or a .tar (optionally gzip-compressed)' })
      .option('name', { type: 'string', requiresArg: true, describe: 'NAME[:TAG] for an image the archive names by tag only or not at all (with one image: instead of its names)' })
      .option('platform', { type: 'string', requiresArg: true, describe: 'os/arch[/variant] to take from a multi-platform index' })
      .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'Print only the image references' })
      .option('json', { type: 'boolean', default: false, describe: 'Print the image records as JSON' }) as Argv<ImportArgs>,
  handler: async (args) => {
    const { importImages } = await import('../../image/import.js');
    const { familiarReference, parseReference } = await import('../../image/reference.js');
    const records = await importImages(args.path, {
      root: args.root,
      ...(args.name !== undefined && { name: args.name }),
      ...(args.platform !== undefined && { platform: args.platform }),
    });
    if (args.json) return printJson(records);
    for (const record of records) printText(args.quiet ? record.reference : `Loaded image: ${familiarReference(parseReference(record.reference))}`);
  },
};

export const imageCommand: CommandModule<GlobalOptions, GlobalOptions> = {
  command: 'image <command>',
  describe: 'Manage images (prune, export, import)',
  builder: (argv) => argv.command(pruneCommand).command(exportCommand).command(importCommand).demandCommand(1, 'missing image command') as Argv<GlobalOptions>,
  handler: () => undefined,
};
