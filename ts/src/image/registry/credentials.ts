/**
 * Registry credentials in docker's config file (`$DOCKER_CONFIG/config.json`, else
 * `~/.docker/config.json`): read by every pull, written by `husk login`/`logout` with mode 0600.
 */
import { randomBytes } from 'node:crypto';
import { mkdirSync, readFileSync } from 'node:fs';
import { chmod, mkdir, open, readFile, rename, rm } from 'node:fs/promises';
import { homedir } from 'node:os';
import { dirname, join } from 'node:path';
import { ImageError, ImageErrorCode } from '../errors.js';
import { DEFAULT_REGISTRY } from '../reference.js';

export interface Credentials {
  username: string;
  password: string;
}

/** The key docker uses for Docker Hub in `auths`. */
const DOCKER_HUB_AUTH_KEY = 'https://index.docker.io/v1/';
const DOCKER_HUB_ALIASES = new Set(['docker.io', 'index.docker.io', 'registry-1.docker.io', 'registry.hub.docker.com']);

interface DockerConfig {
  auths?: Record<string, { auth?: string; username?: string; password?: string; identitytoken?: string }>;
  [key: string]: unknown;
}

/** The config file: DOCKER_CONFIG dir first, else ~/.docker. */
export function defaultDockerConfigPath(): string {
  const dir = process.env.DOCKER_CONFIG || join(homedir(), '.docker');
  return join(dir, 'config.json');
}

/** `https://host/v1/` or `host` → the bare host[:port] (Docker Hub's aliases → docker.io). */
function authKeyHost(key: string): string {
  const host = key.replace(/^[a-z]+:\/\//i, '').split('/')[0] ?? key;
  return DOCKER_HUB_ALIASES.has(host) ? DEFAULT_REGISTRY : host;
}

function readConfigSync(path: string): DockerConfig {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch {
    return {};
  }
  try {
    return JSON.parse(text) as DockerConfig;
  } catch (cause) {
    throw new ImageError(ImageErrorCode.Unauthorized, `cannot parse credentials file ${path}: not JSON`, { cause });
  }
}

/** The credentials stored for `registry` (host[:port], `docker.io` for Hub), if any. */
export function lookupCredentials(registry: string, configPath = defaultDockerConfigPath()): Credentials | undefined {
  const auths = readConfigSync(configPath).auths ?? {};
  const want = authKeyHost(registry);
  for (const [key, entry] of Object.entries(auths)) {
    if (authKeyHost(key) !== want) continue;
    if (entry.auth) {
      const decoded = Buffer.from(entry.auth, 'base64').toString('utf8');
      const colon = decoded.indexOf(':');
      if (colon > 0) return { username: decoded.slice(0, colon), password: decoded.slice(colon + 1) };
    }
    if (entry.username && entry.password) return { username: entry.username, password: entry.password };
  }
  return undefined;
}

/** Adds or replaces the entry for `registry`, keeping everything else in the file; mode 0600. */
export async function storeCredentials(registry: string, credentials: Credentials, configPath = defaultDockerConfigPath()): Promise<void> {
  const config = await readConfig(configPath);
  const auths = removeEntries(config.auths ?? {}, registry);
  const key = authKeyHost(registry) === DEFAULT_REGISTRY ? DOCKER_HUB_AUTH_KEY : registry;
  auths[key] = { auth: Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64') };
  await writeConfig(configPath, { ...config, auths });
}

/** Removes the entry for `registry`; returns false if there was none. */
export async function removeCredentials(registry: string, configPath = defaultDockerConfigPath()): Promise<boolean> {
  const config = await readConfig(configPath);
  const before = Object.keys(config.auths ?? {}).length;
  const auths = removeEntries(config.auths ?? {}, registry);
  if (Object.keys(auths).length === before) return false;
  await writeConfig(configPath, { ...config, auths });
  return true;
}

function removeEntries(auths: NonNullable<DockerConfig['auths']>, registry: string): NonNullable<DockerConfig['auths']> {
  const want = authKeyHost(registry);
  return Object.fromEntries(Object.entries(auths).filter(([key]) => authKeyHost(key) !== want));
}

async function readConfig(path: string): Promise<DockerConfig> {
  try {
    return JSON.parse(await readFile(path, 'utf8')) as DockerConfig;
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code === 'ENOENT') return {};
    throw new ImageError(ImageErrorCode.Unauthorized, `cannot read credentials file ${path}: ${(error as Error).message}`, {
      cause: error,
    });
  }
}

/** Atomic replace with 0600 from the start: the password is never readable by others. */
async function writeConfig(path: string, config: DockerConfig): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const temp = `${path}.tmp-${randomBytes(4).toString('hex')}`;
  const handle = await open(temp, 'wx', 0o600);
  try {
    await handle.writeFile(`${JSON.stringify(config, null, '\t')}\n`);
    await handle.sync();
  } finally {
    await handle.close();
  }
  try {
    await chmod(temp, 0o600);
    await rename(temp, path);
  } catch (error) {
    await rm(temp, { force: true });
    throw error;
  }
}

/** For tests and callers that want the directory to exist before a login. */
export function ensureConfigDir(path = defaultDockerConfigPath()): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
}
