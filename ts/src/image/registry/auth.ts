/**
 * Registry authentication: WWW-Authenticate challenges, basic auth, and bearer tokens (GET and
 * OAuth2 POST) cached per realm/service/scope until they expire.
 */
import { ImageError, ImageErrorCode } from '../errors.js';
import type { Credentials } from './credentials.js';
import type { HttpTransport } from './transport.js';

export interface Challenge {
  scheme: 'basic' | 'bearer';
  params: Record<string, string>;
}

/** Parses `Bearer realm="…",service="…",scope="repository:a:pull,push"` (commas inside quotes). */
export function parseChallenge(header: string | undefined): Challenge | undefined {
  if (header === undefined) return undefined;
  const match = /^\s*(\w+)\s*(.*)$/s.exec(header);
  if (match === null) return undefined;
  const scheme = match[1]!.toLowerCase();
  if (scheme !== 'basic' && scheme !== 'bearer') return undefined;
  const params: Record<string, string> = {};
  const param = /([\w-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^,\s]*))\s*,?\s*/g;
  for (const [, key, quoted, bare] of match[2]!.matchAll(param)) {
    params[key!.toLowerCase()] = quoted !== undefined ? quoted.replace(/\\(.)/g, '$1') : (bare ?? '');
  }
  return { scheme, params };
}

interface CachedToken {
  token: string;
  expiresAt: number;
}

/** Seconds a token is treated as valid when the server does not say (distribution's default). */
const DEFAULT_TOKEN_LIFETIME_S = 60;
/** Renew this long before expiry, so a token never dies in flight. */
const EXPIRY_MARGIN_MS = 5_000;

export class Authenticator {
  private readonly challenges = new Map<string, Challenge>();
  private readonly tokens = new Map<string, CachedToken>();
  private readonly pending = new Map<string, Promise<string>>();

  constructor(
    private readonly transport: HttpTransport,
    private readonly credentialsFor: (registry: string) => Credentials | undefined,
  ) {}

  /** Remembers how `registry` wants to be authenticated (from /v2/ or any 401). */
  learn(registry: string, challenge: Challenge): void {
    this.challenges.set(registry, challenge);
  }

  /** Forgets a cached token (the registry said it is invalid). */
  invalidate(registry: string, scope: string): void {
    const challenge = this.challenges.get(registry);
    if (challenge?.scheme === 'bearer') this.tokens.delete(tokenKey(challenge, scope));
  }

  /** The Authorization header for a request to `registry` needing `scope`, if auth is known to be needed. */
  async header(registry: string, scope: string): Promise<string | undefined> {
    const challenge = this.challenges.get(registry);
    if (challenge === undefined) return undefined;
    const credentials = this.credentialsFor(registry);
    if (challenge.scheme === 'basic') {
      if (credentials === undefined) {
        throw new ImageError(
          ImageErrorCode.Unauthorized,
          `registry ${registry} requires credentials (basic auth): run \`husk login ${registry}\``,
        );
      }
      return `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    const key = tokenKey(challenge, scope);
    const cached = this.tokens.get(key);
    if (cached !== undefined && cached.expiresAt - EXPIRY_MARGIN_MS > Date.now()) return `Bearer ${cached.token}`;
    let fetching = this.pending.get(key);
    if (fetching === undefined) {
      fetching = this.fetchToken(registry, challenge, scope, credentials).finally(() => this.pending.delete(key));
      this.pending.set(key, fetching);
    }
    return `Bearer ${await fetching}`;
  }

  private async fetchToken(registry: string, challenge: Challenge, scope: string, credentials?: Credentials): Promise<string> {
    const realm = challenge.params.realm;
    if (!realm) throw new ImageError(ImageErrorCode.Unauthorized, `registry ${registry}: bearer challenge without realm`);
    const service = challenge.params.service;
    let response: TokenResponse | undefined;
    if (credentials !== undefined) response = await this.oauthPost(realm, service, scope, credentials);
    response ??= await this.tokenGet(realm, service, scope, credentials);
    const token = response.token ?? response.access_token;
    if (!token) throw new ImageError(ImageErrorCode.Unauthorized, `token server ${realm} answered without a token`);
    const lifetime = typeof response.expires_in === 'number' && response.expires_in > 0 ? response.expires_in : DEFAULT_TOKEN_LIFETIME_S;
    const issued = response.issued_at ? Date.parse(response.issued_at) : NaN;
    const start = Number.isNaN(issued) ? Date.now() : Math.min(issued, Date.now());
    this.tokens.set(tokenKey(challenge, scope), { token, expiresAt: start + lifetime * 1000 });
    return token;
  }

  /** OAuth2 password grant (what containerd does with credentials); undefined if the server lacks it. */
  private async oauthPost(realm: string, service: string | undefined, scope: string, credentials: Credentials) {
    const form = new URLSearchParams({
      grant_type: 'password',
      username: credentials.username,
      password: credentials.password,
      client_id: 'husk',
      scope,
      ...(service !== undefined && { service }),
    });
    const response = await this.transport.send(new URL(realm), {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: form.toString(),
    });
    // Token servers without OAuth2 answer 404/405/400; fall back to GET with basic auth.
    if ([400, 404, 405].includes(response.statusCode)) {
      await response.body.dump();
      return undefined;
    }
    return this.tokenBody(realm, response, credentials);
  }

  private async tokenGet(realm: string, service: string | undefined, scope: string, credentials?: Credentials) {
    const url = new URL(realm);
    if (service !== undefined) url.searchParams.set('service', service);
    url.searchParams.set('scope', scope);
    if (credentials !== undefined) url.searchParams.set('account', credentials.username);
    const headers: Record<string, string> = {};
    if (credentials !== undefined) {
      headers.authorization = `Basic ${Buffer.from(`${credentials.username}:${credentials.password}`).toString('base64')}`;
    }
    const response = await this.transport.send(url, { method: 'GET', headers });
    return this.tokenBody(realm, response, credentials);
  }

  private async tokenBody(realm: string, response: Awaited<ReturnType<HttpTransport['send']>>, credentials?: Credentials) {
    if (response.statusCode === 401 || response.statusCode === 403) {
      await response.body.dump();
      const who = credentials ? `user ${credentials.username}` : 'anonymous access';
      throw new ImageError(ImageErrorCode.Unauthorized, `token server ${realm} refused ${who} (HTTP ${response.statusCode})`);
    }
    if (response.statusCode !== 200) {
      const text = await response.body.text();
      throw new ImageError(ImageErrorCode.Unauthorized, `token server ${realm}: HTTP ${response.statusCode}: ${text.slice(0, 200)}`);
    }
    return (await response.body.json()) as TokenResponse;
  }
}

interface TokenResponse {
  token?: string;
  access_token?: string;
  expires_in?: number;
  issued_at?: string;
}

function tokenKey(challenge: Challenge, scope: string): string {
  return `${challenge.params.realm ?? ''}|${challenge.params.service ?? ''}|${scope}`;
}
