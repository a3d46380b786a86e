/** `husk login`: check credentials against a registry and store them (docker's config.json, mode 0600). */
import type { Argv, CommandModule } from 'yargs';
import { ErrorCode, HuskError } from '../../errors.js';
import { printText, type GlobalOptions } from '../base.js';
import { registryOptions, withRegistryFlags, type RegistryFlags } from './pull.js';

interface LoginArgs extends GlobalOptions, RegistryFlags {
  server?: string;
  username?: string;
  password?: string;
  'password-stdin': boolean;
}

export const loginCommand: CommandModule<GlobalOptions, LoginArgs> = {
  command: 'login [server]',
  describe: 'Log in to a registry (default docker.io)',
  builder: (argv) =>
    withRegistryFlags(argv)
      .positional('server', { type: 'string', describe: 'Registry host[:port]' })
      .option('username', { alias: 'u', type: 'string', requiresArg: true, describe: 'Username' })
      .option('password', { alias: 'p', type: 'string', requiresArg: true, describe: 'Password (prefer --password-stdin)' })
      .option('password-stdin', { type: 'boolean', default: false, describe: 'Read the password from stdin' }) as Argv<LoginArgs>,
  handler: async (args) => {
    const { RegistryClient } = await import('../../image/registry/client.js');
    const { storeCredentials, defaultDockerConfigPath } = await import('../../image/registry/credentials.js');
    const server = normalizeServer(args.server);
    const password = args['password-stdin'] ? (await readStdin()).replace(/\r?\n$/, '') : args.password;
    if (args.username === undefined || password === undefined || password === '') {
      throw new HuskError(ErrorCode.Usage, 'login needs --username and --password or --password-stdin');
    }
    const credentials = { username: args.username, password };
    const client = new RegistryClient({ ...registryOptions(args), credentials: () => credentials });
    try {
      await client.checkLogin(server);
    } finally {
      await client.close();
    }
    await storeCredentials(server, credentials);
    printText(`Login Succeeded (credentials stored in ${defaultDockerConfigPath()})`);
  },
};

/** `https://host/v1/` or `host` → host, default docker.io. */
export function normalizeServer(server: string | undefined): string {
  if (server === undefined || server === '') return 'docker.io';
  const host = server.replace(/^[a-z]+:\/\//i, '').split('/')[0]!;
  return ['index.docker.io', 'registry-1.docker.io'].includes(host) ? 'docker.io' : host;
}

async function readStdin(): Promise<string> {
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks).toString('utf8');
}
