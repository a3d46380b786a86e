/**
 * HTTP for registries over undici: TLS with the CAs of a certs.d directory (docker's layout) or
 * `--cert-dir`, retries with backoff on 429/5xx and connection errors honouring Retry-After, and
 * redirects followed by hand so Authorization never leaves the registry's origin.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { rootCertificates } from 'node:tls';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request, type Dispatcher } from 'undici';
import { ImageError, ImageErrorCode } from '../errors.js';

/** Where docker-style per-registry certificate dirs live (`<dir>/<host[:port]>/ca.crt`, client.cert/key). */
export const DEFAULT_CERTS_DIRS = ['/etc/husk/certs.d', '/etc/docker/certs.d', '/etc/containers/certs.d'];

export interface TransportOptions {
  /** A directory of *.crt CAs (+ *.cert/*.key client pairs) used for every registry, like skopeo's --cert-dir. */
  certDir?: string;
  /** Parent dirs of per-host cert dirs; defaults to DEFAULT_CERTS_DIRS. */
  certsDirs?: string[];
  /** Skip TLS verification (for hosts allowed plain HTTP as well). */
  insecureSkipVerify?: boolean;
  /** Attempts after the first on 429/5xx or connection errors. */
  retries?: number;
  /** First backoff delay; doubles per attempt. */
  backoffMs?: number;
  /** The longest Retry-After honoured, and the longest backoff. */
  maxDelayMs?: number;
  userAgent?: string;
}

export interface SendOptions {
  method: 'GET' | 'HEAD' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  headers?: Record<string, string>;
  /** In memory only: a retry or a redirect sends the same body again. */
  body?: string | Uint8Array;
  /** Extra statuses the caller handles itself instead of retrying. */
  noRetry?: boolean;
}

export type HttpResponse = Dispatcher.ResponseData & { url: URL };

const RETRY_STATUSES = new Set([429, 500, 502, 503, 504]);
const MAX_REDIRECTS = 5;

export class HttpTransport {
  private readonly agents = new Map<string, Agent>();
  private readonly retries: number;
  private readonly backoffMs: number;
  private readonly maxDelayMs: number;

  constructor(private readonly options: TransportOptions = {}) {
    this.retries = options.retries ?? 5;
    this.backoffMs = options.backoffMs ?? 250;
    this.maxDelayMs = options.maxDelayMs ?? 60_000;
  }

  /** Sends one request: redirects followed (Authorization dropped across origins), retried on 429/5xx. */
  async send(url: URL, options: SendOptions): Promise<HttpResponse> {
    let current = url;
    let headers = { 'user-agent': this.options.userAgent ?? 'husk', ...options.headers };
    for (let redirects = 0; ; redirects++) {
      const response = await this.sendWithRetries(current, { ...options, headers });
      const location = response.headers.location;
      if (response.statusCode < 300 || response.statusCode >= 400 || location === undefined || redirects >= MAX_REDIRECTS) {
        return Object.assign(response, { url: current });
      }
      await response.body.dump();
      const next = new URL(String(location), current);
      if (next.origin !== current.origin) {
        // A blob host (CDN, S3) must not see the registry's credentials; signed URLs carry their own.
        const { authorization: _dropped, ...rest } = headers as Record<string, string>;
        headers = rest as typeof headers;
      }
      current = next;
    }
  }

  private async sendWithRetries(url: URL, options: SendOptions): Promise<Dispatcher.ResponseData> {
    const what = `${options.method} ${url.href}`;
    for (let attempt = 0; ; attempt++) {
      let response: Dispatcher.ResponseData;
      try {
        response = await request(url, {
          method: options.method,
          headers: options.headers,
          body: options.body,
          dispatcher: this.agentFor(url),
        });
      } catch (error) {
        if (attempt < this.retries && isRetryableNetworkError(error)) {
          await sleep(this.backoff(attempt));
          continue;
        }
        throw networkError(what, error);
      }
      if (options.noRetry || !RETRY_STATUSES.has(response.statusCode)) return response;
      await response.body.dump();
      if (attempt >= this.retries) {
        throw new ImageError(
          ImageErrorCode.TooManyRetries,
          `${what}: HTTP ${response.statusCode} after ${attempt + 1} attempts`,
        );
      }
      await sleep(retryAfterMs(response.headers['retry-after'], this.maxDelayMs) ?? this.backoff(attempt));
    }
  }

  private backoff(attempt: number): number {
    const delay = this.backoffMs * 2 ** attempt;
    return Math.min(delay + Math.random() * this.backoffMs, this.maxDelayMs);
  }

  /** One agent per host: its TLS settings come from that host's cert dir. */
  private agentFor(url: URL): Agent {
    const host = url.host;
    let agent = this.agents.get(host);
    if (agent === undefined) {
      agent = new Agent({ connect: url.protocol === 'https:' ? this.tlsOptions(host) : {} });
      this.agents.set(host, agent);
    }
    return agent;
  }

  private tlsOptions(host: string): Record<string, unknown> {
    const dirs = [
      ...(this.options.certDir !== undefined ? [this.options.certDir] : []),
      ...(this.options.certsDirs ?? DEFAULT_CERTS_DIRS).map((parent) => join(parent, host)),
    ];
    const ca: string[] = [];
    let cert: string | undefined;
    let key: string | undefined;
    for (const dir of dirs) {
      if (!existsSync(dir)) continue;
      for (const name of readdirSync(dir).sort()) {
        if (name.endsWith('.crt')) ca.push(readFileSync(join(dir, name), 'utf8'));
        else if (name.endsWith('.cert') && cert === undefined) {
          const keyPath = join(dir, `${name.slice(0, -'.cert'.length)}.key`);
          if (existsSync(keyPath)) {
            cert = readFileSync(join(dir, name), 'utf8');
            key = readFileSync(keyPath, 'utf8');
          }
        }
      }
    }
    return {
      ...(ca.length > 0 && { ca: [...rootCertificates, ...ca] }),
      ...(cert !== undefined && { cert, key }),
      ...(this.options.insecureSkipVerify && { rejectUnauthorized: false }),
    };
  }

  async close(): Promise<void> {
    await Promise.all([...this.agents.values()].map((agent) => agent.close()));
    this.agents.clear();
  }
}

/** Retry-After as seconds or an HTTP date, in ms, capped; undefined if absent or unreadable. */
export function retryAfterMs(header: string | string[] | undefined, maxMs: number): number | undefined {
  const value = Array.isArray(header) ? header[0] : header;
  if (value === undefined) return undefined;
  const seconds = Number(value);
  const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(value) - Date.now();
  return Number.isNaN(ms) ? undefined : Math.min(Math.max(ms, 0), maxMs);
}

/** Errors worth another try: resets, refused/timeouts, a socket closed mid-response. */
export function isRetryableNetworkError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code ?? '';
  return /^(ECONNRESET|ECONNREFUSED|EPIPE|ETIMEDOUT|EAI_AGAIN|UND_ERR_SOCKET|UND_ERR_CONNECT_TIMEOUT|UND_ERR_HEADERS_TIMEOUT|UND_ERR_BODY_TIMEOUT|UND_ERR_CLOSED)$/.test(
    code,
  );
}

/** A TLS certificate problem (as opposed to a server that does not speak TLS at all). */
export function isCertificateError(error: unknown): boolean {
  const code = (error as { code?: string } | undefined)?.code ?? '';
  return /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ALTNAME|UNABLE_TO_GET_ISSUER/.test(code);
}

function networkError(what: string, error: unknown): ImageError {
  const reason = error instanceof Error ? error.message : String(error);
  const code = (error as { code?: string } | undefined)?.code;
  let hint = '';
  if (isCertificateError(error)) hint = ' (add the registry CA with --cert-dir or a certs.d directory, or use --insecure)';
  return new ImageError(ImageErrorCode.Network, `${what}: ${reason}${code ? ` [${code}]` : ''}${hint}`, { cause: error });
}
