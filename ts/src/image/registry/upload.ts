/**
 * The push half of the distribution spec: blob existence checks (HEAD), cross-repository mounts,
 * monolithic (POST → PUT) and chunked (POST → PATCH… → PUT) uploads that resume from the
 * registry's Range after a failure, and manifest PUTs verified by Docker-Content-Digest.
 */
import { open } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { ImageError, ImageErrorCode } from '../errors.js';
import type { ImageReference } from '../reference.js';
import { RegistryClient } from './client.js';
import type { HttpResponse, SendOptions } from './transport.js';

/** Blobs up to this size go up in one PUT; bigger ones in PATCH chunks of this size. */
export const DEFAULT_CHUNK_SIZE = 16 << 20;

export interface UploadOptions {
  /** Chunk size for PATCH uploads; blobs no bigger than this are uploaded monolithically. */
  chunkSize?: number;
  /** An upload session already open (a failed mount answers with one). */
  session?: URL;
  onProgress?: (sent: number, total: number) => void;
}

/** What a mount attempt gave: the blob is there, or an upload session to use instead. */
export type MountResult = { mounted: true } | { mounted: false; session: URL };

/** How often an upload picks up from the registry's Range after a chunk failed. */
const UPLOAD_RESUMES = 5;

export class RegistryPushClient extends RegistryClient {
  /** HEAD of a blob in the repository: true if the registry has it there. */
  async blobExists(ref: ImageReference, digest: string): Promise<boolean> {
    const response = await this.pushRequest(ref, `blobs/${digest}`, { method: 'HEAD' });
    await response.body.dump();
    if (response.statusCode === 200) return true;
    if (response.statusCode === 404) return false;
    throw await unexpected(response, `HEAD blob ${digest}`);
  }

  /** Asks the registry to link `digest` from `from` (a repository on the same registry) into `ref`. */
  async mountBlob(ref: ImageReference, digest: string, from: string): Promise<MountResult> {
    const base = await this.baseUrl(ref.registry);
    const url = new URL(`/v2/${ref.repository}/blobs/uploads/`, base);
    url.searchParams.set('mount', digest);
    url.searchParams.set('from', from);
    // One token for both repositories: push on the target, pull on the source.
    const scope = `${pushScope(ref)} repository:${from}:pull`;
    const response = await this.send(ref.registry, scope, url, { method: 'POST', headers: { 'content-length': '0' }, noRetry: true });
    await response.body.dump();
    if (response.statusCode === 201) return { mounted: true };
    if (response.statusCode === 202) return { mounted: false, session: location(response) };
    throw await unexpected(response, `mount of blob ${digest} from ${from}`);
  }

  /** Opens an upload session (POST …/blobs/uploads/); returns its Location. */
  async startUpload(ref: ImageReference): Promise<URL> {
    const response = await this.pushRequest(ref, 'blobs/uploads/', { method: 'POST', headers: { 'content-length': '0' } });
    await response.body.dump();
    if (response.statusCode !== 202) throw await unexpected(response, 'starting a blob upload');
    return location(response);
  }

  /**
   * Uploads the blob file at `path`: one PUT when it fits in a chunk, else PATCH chunks with
   * Content-Range and a closing PUT with `digest=`. A failed chunk is retried from the offset the
   * registry reports for the session (GET → 204 + Range), or from 0 in a new session if the
   * registry dropped it.
   */
  async uploadBlob(ref: ImageReference, path: string, descriptor: { digest: string; size: number }, options: UploadOptions = {}): Promise<void> {
    const { digest, size } = descriptor;
    const chunkSize = options.chunkSize ?? DEFAULT_CHUNK_SIZE;
    let session = options.session ?? (await this.startUpload(ref));
    const file = await open(path, 'r');
    try {
      if (size <= chunkSize) {
        const body = await readChunk(file, 0, size);
        const response = await this.sessionRequest(ref, withDigest(session, digest), {
          method: 'PUT',
          headers: { 'content-type': 'application/octet-stream', 'content-length': String(size) },
          body,
        });
        await finishBlob(response, digest);
        options.onProgress?.(size, size);
        return;
      }
      let offset = 0;
      let failures = 0;
      /** After a failed chunk: continue where the registry's session stands, or from 0 in a new one. */
      const recover = async (restart: boolean, error: Error) => {
        if (++failures > UPLOAD_RESUMES) throw error;
        await sleep(Math.min(250 * 2 ** failures, 5_000));
        if (!restart) {
          try {
            ({ session, offset } = await this.uploadStatus(ref, session));
            return;
          } catch (status) {
            if (!(status instanceof ImageError) || status.code !== ImageErrorCode.NotFound) throw status;
          }
        }
        // distribution cancels a session whose signed state lags behind (a chunk whose answer was lost).
        session = await this.startUpload(ref);
        offset = 0;
        options.onProgress?.(0, size);
      };
      while (offset < size) {
        const length = Math.min(chunkSize, size - offset);
        const body = await readChunk(file, offset, length);
        let response: HttpResponse;
        try {
          response = await this.sessionRequest(ref, session, {
            method: 'PATCH',
            headers: {
              'content-type': 'application/octet-stream',
              'content-length': String(length),
              'content-range': `${offset}-${offset + length - 1}`,
            },
            body,
            noRetry: true,
          });
        } catch (error) {
          if (error instanceof ImageError && error.code === ImageErrorCode.Unauthorized) throw error;
          await recover(false, error as Error);
          continue;
        }
        if (response.statusCode === 202) {
          await response.body.dump();
          session = location(response, session);
          offset += length;
          options.onProgress?.(offset, size);
          continue;
        }
        const error = await unexpected(response, `PATCH of blob ${digest} at ${offset}`);
        // 404: the session is gone; 416: the registry has another idea of where we are.
        if (response.statusCode === 404 || response.statusCode === 416 || response.statusCode >= 500) {
          await recover(response.statusCode === 404, error);
          continue;
        }
        throw error;
      }
      const response = await this.sessionRequest(ref, withDigest(session, digest), { method: 'PUT', headers: { 'content-length': '0' } });
      await finishBlob(response, digest);
    } finally {
      await file.close();
    }
  }

  /** PUTs a manifest under `target` (tag or digest); returns the digest the registry gives it. */
  async putManifest(ref: ImageReference, target: string, bytes: Buffer, mediaType: string): Promise<string | undefined> {
    const response = await this.pushRequest(ref, `manifests/${target}`, {
      method: 'PUT',
      headers: { 'content-type': mediaType, 'content-length': String(bytes.length) },
      body: bytes,
    });
    if (response.statusCode !== 201 && response.statusCode !== 200) throw await unexpected(response, `PUT manifest ${target}`);
    await response.body.dump();
    return header(response, 'docker-content-digest');
  }

  /** Where an upload session stands: the registry's next offset (Range: 0-N → N+1) and Location. */
  private async uploadStatus(ref: ImageReference, session: URL): Promise<{ session: URL; offset: number }> {
    const response = await this.sessionRequest(ref, session, { method: 'GET' });
    await response.body.dump();
    if (response.statusCode !== 204) throw await unexpected(response, 'upload status');
    const range = /^(?:bytes=)?0-(\d+)$/.exec(header(response, 'range') ?? '');
    return { session: location(response, session), offset: range === null ? 0 : Number(range[1]) + 1 };
  }

  private async pushRequest(ref: ImageReference, path: string, init: SendOptions): Promise<HttpResponse> {
    const base = await this.baseUrl(ref.registry);
    return this.send(ref.registry, pushScope(ref), new URL(`/v2/${ref.repository}/${path}`, base), init);
  }

  /** A request to an upload Location: authenticated as the registry only if it is on the registry's origin. */
  private async sessionRequest(ref: ImageReference, url: URL, init: SendOptions): Promise<HttpResponse> {
    const base = await this.baseUrl(ref.registry);
    if (url.origin !== base.origin) return this.transport.send(url, init);
    return this.send(ref.registry, pushScope(ref), url, init);
  }
}

function pushScope(ref: ImageReference): string {
  return `repository:${ref.repository}:pull,push`;
}

function header(response: HttpResponse, name: string): string | undefined {
  const value = response.headers[name];
  return Array.isArray(value) ? value[0] : value;
}

/** The Location of an upload session, resolved against the request (registries send relative ones). */
function location(response: HttpResponse, fallback?: URL): URL {
  const value = header(response, 'location');
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ImageError(ImageErrorCode.Registry, `${response.url.href}: HTTP ${response.statusCode} without a Location for the upload`);
  }
  return new URL(value, response.url);
}

function withDigest(session: URL, digest: string): URL {
  const url = new URL(session);
  url.searchParams.set('digest', digest);
  return url;
}

async function finishBlob(response: HttpResponse, digest: string): Promise<void> {
  if (response.statusCode !== 201 && response.statusCode !== 204) throw await unexpected(response, `upload of blob ${digest}`);
  await response.body.dump();
  const stored = header(response, 'docker-content-digest');
  if (stored !== undefined && stored !== digest) {
    throw new ImageError(ImageErrorCode.DigestMismatch, `upload of blob ${digest} to ${response.url.href}: the registry stored ${stored}`);
  }
}

async function readChunk(file: Awaited<ReturnType<typeof open>>, offset: number, length: number): Promise<Buffer> {
  const buffer = Buffer.allocUnsafe(length);
  let read = 0;
  while (read < length) {
    const { bytesRead } = await file.read(buffer, read, length - read, offset + read);
    if (bytesRead === 0) throw new ImageError(ImageErrorCode.DigestMismatch, `blob file ended at ${offset + read} of ${offset + length} bytes`);
    read += bytesRead;
  }
  return buffer;
}

async function unexpected(response: HttpResponse, what: string): Promise<ImageError> {
  const text = (await response.body.text().catch(() => '')).slice(0, 300);
  const code =
    response.statusCode === 401 || response.statusCode === 403
      ? ImageErrorCode.Unauthorized
      : response.statusCode === 404
        ? ImageErrorCode.NotFound
        : ImageErrorCode.Registry;
  return new ImageError(code, `${what} at ${response.url.href}: HTTP ${response.statusCode}: ${text}`);
}
