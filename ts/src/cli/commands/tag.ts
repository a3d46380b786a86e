/** `husk tag SOURCE TARGET`: give a stored image another name (to push it elsewhere). */
import type { Argv, CommandModule } from 'yargs';
import type { GlobalOptions } from '../base.js';

interface TagArgs extends GlobalOptions {
  source: string;
  target: string;
}

export const tagCommand: CommandModule<GlobalOptions, TagArgs> = {
  command: 'tag <source> <target>',
  describe: 'Create a tag TARGET that refers to the image SOURCE',
  builder: (argv) =>
    argv
      .positional('source', { type: 'string', demandOption: true, describe: 'Reference or image ID' })
      .positional('target', { type: 'string', demandOption: true, describe: 'NAME[:TAG]' }) as Argv<TagArgs>,
  handler: async (args) => {
    const { tagImage } = await import('../../image/tag.js');
    await tagImage(args.root, args.source, args.target);
  },
};
