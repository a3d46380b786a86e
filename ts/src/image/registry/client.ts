/**
 * A distribution-spec v2 client for one pull: picks https or (for loopback/--insecure) plain
 * http, authenticates per repository, fetches manifests verified by digest, and downloads blobs
 * to a file with Range resume and sha256 verification.
 */
import { createHash, type Hash } from 'node:crypto';
import { createReadStream } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { MANIFEST_MEDIA_TYPES, MediaType } from '../../spec/image-spec.js';
import { ImageError, ImageErrorCode } from '../errors.js';
import { sha256Digest } from '../digest.js';
import { registryApiHost, type ImageReference } from '../reference.js';
import { Authenticator, parseChallenge } from './auth.js';
import { lookupCredentials, type Credentials } from './credentials.js';
import { HttpTransport, isCertificateError, isRetryableNetworkError, type HttpResponse, type SendOptions, type TransportOptions } from './transport.js';

export interface RegistryClientOptions extends TransportOptions {
  /** Allow plain HTTP (and unverified TLS) for every registry, or for these hosts. Loopback always may use HTTP. */
  insecure?: boolean | string[];
  /** Credentials for a registry; default: docker's config file. */
  credentials?: (registry: string) => Credentials | undefined;
  /** Path of docker's config.json to read credentials from. */
  dockerConfig?: string;
  /** How often a blob download resumes after the connection drops. */
  resumes?: number;
}

export interface ManifestResult {
  bytes: Buffer;
  digest: string;
  mediaType: string;
}

export interface ManifestHead {
  digest?: string;
  mediaType?: string;
  size?: number;
}

/** Enough for any real manifest or index; refuses a hostile endless body. */
const MAX_MANIFEST_BYTES = 8 << 20;

export class RegistryClient {
  protected readonly transport: HttpTransport;
  private readonly auth: Authenticator;
  private readonly bases = new Map<string, Promise<URL>>();

  constructor(private readonly options: RegistryClientOptions = {}) {
    this.transport = new HttpTransport({
      ...options,
      insecureSkipVerify: options.insecure === true || options.insecureSkipVerify,
    });
    const credentials = options.credentials ?? ((registry: string) => lookupCredentials(registry, options.dockerConfig));
    this.auth = new Authenticator(this.transport, credentials);
  }

  async close(): Promise<void> {
    await this.transport.close();
  }

  /** Checks that the registry answers /v2/ and that credentials (if any) are accepted; for `husk login`. */
  async checkLogin(registry: string): Promise<void> {
    const base = await this.baseUrl(registry);
    const response = await this.send(registry, 'registry:catalog:*', new URL('/v2/', base), { method: 'GET' });
    await response.body.dump();
    if (response.statusCode !== 200) {
      throw new ImageError(ImageErrorCode.Unauthorized, `login to ${registry} failed: HTTP ${response.statusCode}`);
    }
  }

  /** HEAD of a manifest: its digest without a GET (Docker Hub counts GETs against the pull limit). */
  async headManifest(ref: ImageReference, target = ref.digest ?? ref.tag!): Promise<ManifestHead | undefined> {
    const response = await this.repoRequest(ref, `manifests/${target}`, 'HEAD', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    await response.body.dump();
    if (response.statusCode === 404) throw notFound(ref, target, response.url);
    if (response.statusCode !== 200) return undefined;
    const digest = header(response, 'docker-content-digest');
    const length = Number(header(response, 'content-length'));
    return {
      ...(digest !== undefined && { digest }),
      ...(header(response, 'content-type') !== undefined && { mediaType: header(response, 'content-type')!.split(';')[0]!.trim() }),
      ...(Number.isFinite(length) && { size: length }),
    };
  }

  /** GET of a manifest by tag or digest, verified: by digest against it, by tag against Docker-Content-Digest. */
  async getManifest(ref: ImageReference, target = ref.digest ?? ref.tag!): Promise<ManifestResult> {
    const response = await this.repoRequest(ref, `manifests/${target}`, 'GET', { accept: MANIFEST_MEDIA_TYPES.join(', ') });
    if (response.statusCode === 404) {
      await response.body.dump();
      throw notFound(ref, target, response.url);
    }
    if (response.statusCode !== 200) throw await unexpected(response, `manifest ${target}`);
    const bytes = await readLimited(response, MAX_MANIFEST_BYTES);
    const digest = sha256Digest(bytes);
    const expected = target.includes(':') ? target : header(response, 'docker-content-digest');
    if (expected !== undefined && expected.startsWith('sha256:') && expected !== digest) {
      throw new ImageError(
        ImageErrorCode.DigestMismatch,
        `manifest ${ref.repository}@${target} from ${response.url.href}: digest mismatch: expected ${expected}, got ${digest}`,
      );
    }
    let mediaType = header(response, 'content-type')?.split(';')[0]?.trim();
    if (mediaType === undefined || !(MANIFEST_MEDIA_TYPES as readonly string[]).includes(mediaType)) {
      mediaType = mediaTypeOf(bytes) ?? mediaType ?? MediaType.OciImageManifest;
    }
    if (mediaType === MediaType.DockerManifestSchema1 || mediaType === MediaType.DockerManifestSchema1Signed) {
      throw new ImageError(ImageErrorCode.UnsupportedMediaType, `${ref.repository}:${target} is a Docker schema 1 manifest, which husk does not support`);
    }
    return { bytes, digest, mediaType };
  }

  /** A small blob (a config) in memory, verified. */
  async getBlob(ref: ImageReference, digest: string, maxBytes = MAX_MANIFEST_BYTES): Promise<Buffer> {
    const response = await this.repoRequest(ref, `blobs/${digest}`, 'GET', {});
    if (response.statusCode === 404) {
      await response.body.dump();
      throw notFound(ref, digest, response.url);
    }
    if (response.statusCode !== 200) throw await unexpected(response, `blob ${digest}`);
    const bytes = await readLimited(response, maxBytes);
    const actual = sha256Digest(bytes);
    if (actual !== digest) {
      throw new ImageError(ImageErrorCode.DigestMismatch, `blob ${digest} from ${response.url.href}: digest mismatch: got ${actual}`);
    }
    return bytes;
  }

  /**
   * Downloads a blob to `path` (appending to what a previous attempt left there), resuming with
   * Range when the connection drops, and verifies size and sha256 before returning.
   */
  async downloadBlob(
    ref: ImageReference,
    descriptor: { digest: string; size: number },
    path: string,
    onProgress?: (written: number, total: number) => void,
  ): Promise<void> {
    const { digest, size } = descriptor;
    let hash = createHash('sha256');
    let written = await rehashPartial(path, hash, size);
    if (written < 0) {
      hash = createHash('sha256');
      written = 0;
    }
    const file = await open(path, written > 0 ? 'r+' : 'w');
    try {
      if (written === 0) await file.truncate(0);
      const resumes = this.options.resumes ?? 5;
      let lastUrl = '';
      for (let attempt = 0; written < size || size === 0; attempt++) {
        const headers: Record<string, string> = written > 0 ? { range: `bytes=${written}-` } : {};
        const response = await this.repoRequest(ref, `blobs/${digest}`, 'GET', headers);
        lastUrl = response.url.href;
        if (response.statusCode === 404) {
          await response.body.dump();
          throw notFound(ref, digest, response.url);
        }
        if (response.statusCode === 416 || (response.statusCode === 200 && written > 0) || (response.statusCode === 206 && !rangeStartsAt(response, written))) {
          // The server ignored or refused our range: start again from byte 0.
          response.body.destroy();
          hash = createHash('sha256');
          written = 0;
          await file.truncate(0);
          if (attempt >= resumes) throw new ImageError(ImageErrorCode.Registry, `blob ${digest} from ${lastUrl}: cannot resume download`);
          continue;
        }
        if (response.statusCode !== 200 && response.statusCode !== 206) throw await unexpected(response, `blob ${digest}`);
        try {
          for await (const chunk of response.body as AsyncIterable<Buffer>) {
            if (written + chunk.length > size) {
              throw new ImageError(ImageErrorCode.DigestMismatch, `blob ${digest} from ${lastUrl}: larger than its descriptor's ${size} bytes`);
            }
            hash.update(chunk);
            await file.write(chunk, 0, chunk.length, written);
            written += chunk.length;
            onProgress?.(written, size);
          }
        } catch (error) {
          if (error instanceof ImageError || attempt >= resumes) {
            throw error instanceof ImageError ? error : new ImageError(ImageErrorCode.Network, `blob ${digest} from ${lastUrl}: ${(error as Error).message}`, { cause: error });
          }
          await sleep(Math.min(250 * 2 ** attempt, 5_000));
          continue;
        }
        if (size === 0) break;
        if (written < size && attempt >= resumes) {
          throw new ImageError(ImageErrorCode.Network, `blob ${digest} from ${lastUrl}: connection ended at ${written} of ${size} bytes`);
        }
      }
      const actual = `sha256:${hash.digest('hex')}`;
      if (actual !== digest) {
        throw new ImageError(ImageErrorCode.DigestMismatch, `blob ${digest} from ${lastUrl || ref.registry}: digest mismatch: got ${actual}`);
      }
      await file.sync();
    } finally {
      await file.close();
    }
  }

  /** A request in a repository's API path, authenticated for pulling it. */
  private async repoRequest(ref: ImageReference, path: string, method: 'GET' | 'HEAD', headers: Record<string, string>): Promise<HttpResponse> {
    const base = await this.baseUrl(ref.registry);
    const url = new URL(`/v2/${ref.repository}/${path}`, base);
    return this.send(ref.registry, `repository:${ref.repository}:pull`, url, { method, headers });
  }

  /** Sends with auth; on 401 learns the challenge and tries once more with fresh credentials. */
  protected async send(registry: string, scope: string, url: URL, init: SendOptions): Promise<HttpResponse> {
    for (let attempt = 0; ; attempt++) {
      const authorization = await this.auth.header(registry, scope);
      const response = await this.transport.send(url, {
        ...init,
        headers: { ...init.headers, ...(authorization !== undefined && { authorization }) },
      });
      if (response.statusCode !== 401) return response;
      await response.body.dump();
      const challenge = parseChallenge(header(response, 'www-authenticate'));
      if (attempt > 0 || challenge === undefined) {
        throw new ImageError(
          ImageErrorCode.Unauthorized,
          `${init.method} ${url.href}: unauthorized${authorization === undefined ? '' : ' with the credentials given'} (run \`husk login ${registry}\`?)`,
        );
      }
      this.auth.invalidate(registry, scope);
      this.auth.learn(registry, challenge);
    }
  }

  /** `https://host` unless the host may use plain HTTP and does not speak TLS. */
  protected baseUrl(registry: string): Promise<URL> {
    let base = this.bases.get(registry);
    if (base === undefined) {
      base = this.probe(registry);
      base.catch(() => this.bases.delete(registry));
      this.bases.set(registry, base);
    }
    return base;
  }

  private async probe(registry: string): Promise<URL> {
    const host = registryApiHost(registry);
    const https = new URL(`https://${host}/v2/`);
    try {
      return await this.ping(registry, https);
    } catch (error) {
      if (!this.mayUsePlainHttp(host) || isCertificateError((error as ImageError).cause ?? error)) throw error;
      return this.ping(registry, new URL(`http://${host}/v2/`));
    }
  }

  /** GET /v2/: proves the scheme works and learns the auth challenge up front. */
  private async ping(registry: string, url: URL): Promise<URL> {
    const response = await this.transport.send(url, { method: 'GET' });
    await response.body.dump();
    const challenge = parseChallenge(header(response, 'www-authenticate'));
    if (response.statusCode === 401 && challenge !== undefined) this.auth.learn(registry, challenge);
    return new URL(`${url.protocol}//${url.host}`);
  }

  private mayUsePlainHttp(host: string): boolean {
    const insecure = this.options.insecure;
    if (insecure === true || (Array.isArray(insecure) && insecure.includes(host))) return true;
    const hostname = host.replace(/:\d+$/, '').replace(/^\[|\]$/g, '');
    return hostname === 'localhost' || hostname === '::1' || /^127\./.test(hostname);
  }
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

function rangeStartsAt(response: HttpResponse, offset: number): boolean {
  const match = /^bytes (\d+)-/.exec(header(response, 'content-range') ?? '');
  return match !== null && Number(match[1]) === offset;
}

function mediaTypeOf(bytes: Buffer): string | undefined {
  try {
    const value = (JSON.parse(bytes.toString('utf8')) as { mediaType?: unknown }).mediaType;
    return typeof value === 'string' ? value : undefined;
  } catch {
    return undefined;
  }
}

async function readLimited(response: HttpResponse, max: number): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let length = 0;
  for await (const chunk of response.body as AsyncIterable<Buffer>) {
    length += chunk.length;
    if (length > max) {
      response.body.destroy();
      throw new ImageError(ImageErrorCode.Registry, `${response.url.href}: document larger than ${max} bytes`);
    }
    chunks.push(chunk);
  }
  return Buffer.concat(chunks);
}

function notFound(ref: ImageReference, target: string, url: URL): ImageError {
  return new ImageError(ImageErrorCode.NotFound, `${ref.registry}/${ref.repository}:${target} not found (${url.href})`);
}

async function unexpected(response: HttpResponse, what: string): Promise<ImageError> {
  const text = (await response.body.text()).slice(0, 300);
  return new ImageError(ImageErrorCode.Registry, `${what} from ${response.url.href}: HTTP ${response.statusCode}: ${text}`);
}

/** Feeds a partial download into `hash`; its length, or -1 if it cannot be kept. */
async function rehashPartial(path: string, hash: Hash, size: number): Promise<number> {
  let length: number;
  try {
    length = (await stat(path)).size;
  } catch {
    return 0;
  }
  if (length === 0) return 0;
  if (length > size) return -1;
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return length;
}

export { isRetryableNetworkError };
