/** `husk logout`: forget the stored credentials of a registry. */
import type { Argv, CommandModule } from 'yargs';
import { printText, type GlobalOptions } from '../base.js';
import { normalizeServer } from './login.js';

interface LogoutArgs extends GlobalOptions {
  server?: string;
}

export const logoutCommand: CommandModule<GlobalOptions, LogoutArgs> = {
  command: 'logout [server]',
  describe: 'Log out from a registry (default docker.io)',
  builder: (argv) => argv.positional('server', { type: 'string', describe: 'Registry host[:port]' }) as Argv<LogoutArgs>,
  handler: async (args) => {
    const { removeCredentials } = await import('../../image/registry/credentials.js');
    const server = normalizeServer(args.server);
    const removed = await removeCredentials(server);
    printText(removed ? `Removing login credentials for ${server}` : `Not logged in to ${server}`);
  },
};
