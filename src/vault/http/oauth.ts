/**
 * Credentials for the remote vault: a static bearer key, or OAuth2 client credentials (RFC 6749 section
 * 4.4) against a Keycloak-style token endpoint.
 *
 * Client authentication is `client_secret_basic` (RFC 6749 section 2.3.1: id and secret form-urlencoded,
 * then HTTP Basic). Authorization servers MUST support it, and it keeps the secret out of request bodies
 * that proxies tend to log. Keycloak's "Client Id and Secret" authenticator accepts both it and
 * `client_secret_post`.
 *
 * The access token is cached until shortly before `expires_in` (10% of its life early, at most 30 s; five
 * minutes, Keycloak's default lifespan, when the server sends no `expires_in`). Concurrent callers share
 * one in-flight token request, which runs on its own deadline so that one caller's short deadline cannot
 * fail the others. A 401 from the vault drops the token it was sent with; the vault client then tries once
 * more with a fresh one (vault/http.ts), and fails on a second 401.
 *
 * Whatever the token endpoint answers, the error says what was wrong in our words: never the secret,
 * never the body (an HTML error page or a JSON echo could hold anything).
 */
import { GatewayError } from '../../errors.js';
import { Deadline, within } from './deadline.js';
import { isRetryableStatus, parseRetryAfter, Retryable, retrying } from './retry.js';
import type { RawResponse } from './transport.js';

export interface Credentials {
  /** The Authorization header value for the next request; undefined when none is configured. */
  header(deadline: Deadline): Promise<string | undefined>;
  /** The vault answered 401 to `used`. True when a fresh credential is worth one more attempt. */
  rejected(used: string | undefined): boolean;
}

/** No credentials (a loopback vault API without authentication). */
export const NO_CREDENTIALS: Credentials = Object.freeze({
  header: () => Promise.resolve(undefined),
  rejected: () => false,
});

/**
 * A static bearer credential (e.g. a pii-gateway `pgk_` API key). A 401 is final: the same key will not do
 * better on a second try.
 *
 * @example
 *   const creds = staticBearer(readFileSync('/run/secrets/vault-key', 'utf8').trim());
 */
export function staticBearer(key: string): Credentials {
  if (!B64TOKEN.test(key)) {
    throw new GatewayError('CONFIG_INVALID', 'PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: the key must be one line of token characters (A-Z a-z 0-9 - . _ ~ + / =)');
  }
  const header = `Bearer ${key}`;
  return Object.freeze({ header: () => Promise.resolve(header), rejected: () => false });
}

/** RFC 6750 section 2.1 b64token: what a bearer credential may consist of (and nothing that breaks a header). */
const B64TOKEN = /^[A-Za-z0-9\-._~+/]+=*$/;
const MAX_ACCESS_TOKEN = 16 * 1024;
/** Lifetime assumed when the token response has no expires_in (Keycloak's default access token lifespan). */
export const DEFAULT_TOKEN_LIFETIME_MS = 300_000;
const ROLE = 'OAuth2 token endpoint';

export interface TokenResponse {
  readonly accessToken: string;
  /** undefined when the server sent no usable expires_in. */
  readonly expiresInMs: number | undefined;
}

/** A short, safe rendering of a remote word (an OAuth2 error code, a media type): undefined unless harmless. */
function safeWord(v: unknown, pattern: RegExp): string | undefined {
  return typeof v === 'string' && pattern.test(v) ? v : undefined;
}

function parseJsonObject(body: Buffer): Record<string, unknown> | undefined {
  try {
    const v: unknown = JSON.parse(body.toString('utf8'));
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : undefined;
  } catch {
    return undefined; // the parser's message quotes the body: never kept
  }
}

/**
 * Reads a token endpoint's answer (RFC 6749 sections 5.1 and 5.2). Throws GatewayError VAULT_UNAVAILABLE
 * saying what was wrong (Retryable for 429 and 502-504), never quoting the body.
 *
 * @example
 *   parseTokenResponse({ status: 200, headers: {}, body: Buffer.from('{"access_token":"eyJ...","token_type":"Bearer","expires_in":300}') }, Date.now())
 *   // { accessToken: 'eyJ...', expiresInMs: 300000 }
 */
export function parseTokenResponse(res: RawResponse, now: number): TokenResponse {
  const json = parseJsonObject(res.body);
  if (res.status < 200 || res.status > 299) {
    // RFC 6749 5.2: {"error":"invalid_client"}; only a plain error code is repeated.
    const code = safeWord(json?.error, /^[a-z_]{1,64}$/);
    const message = `${ROLE} answered ${res.status}${code ? ` ${code}` : ''}`;
    if (res.status === 400 || res.status === 401 || res.status === 403) {
      throw new GatewayError('VAULT_UNAVAILABLE', `${message}: it refused our client credentials (check PII_GATEWAY_HTTP_VAULT_CLIENT_ID, _CLIENT_SECRET_FILE, _SCOPE)`);
    }
    const error = new GatewayError('VAULT_UNAVAILABLE', message);
    if (isRetryableStatus(res.status)) throw new Retryable(error, parseRetryAfter(res.headers['retry-after'], now));
    throw error;
  }
  if (json === undefined) {
    const type = safeWord(String(res.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase(), /^[a-z0-9.+-]{1,64}\/[a-z0-9.+-]{1,64}$/);
    throw new GatewayError('VAULT_UNAVAILABLE', `${ROLE} answered ${res.status} with a body that is not a JSON object (${type ?? 'no content type'}); expected an access token response`);
  }
  const token = json.access_token;
  if (typeof token !== 'string' || token === '') {
    throw new GatewayError('VAULT_UNAVAILABLE', `${ROLE} answered ${res.status} without an access_token`);
  }
  if (token.length > MAX_ACCESS_TOKEN || !B64TOKEN.test(token)) {
    throw new GatewayError('VAULT_UNAVAILABLE', `${ROLE} issued an access_token that is not a bearer token (RFC 6750 characters, at most ${MAX_ACCESS_TOKEN} bytes)`);
  }
  const type = json.token_type;
  if (type !== undefined && (typeof type !== 'string' || type.toLowerCase() !== 'bearer')) {
    const shown = safeWord(type, /^[A-Za-z_-]{1,32}$/);
    throw new GatewayError('VAULT_UNAVAILABLE', `${ROLE} issued a token of type ${shown ?? '(unreadable)'}; only Bearer tokens are supported`);
  }
  const e = json.expires_in;
  const seconds = typeof e === 'number' ? e : typeof e === 'string' && /^\d{1,10}$/.test(e) ? Number(e) : NaN;
  return { accessToken: token, expiresInMs: Number.isFinite(seconds) && seconds > 0 ? seconds * 1000 : undefined };
}

/**
 * When a token obtained at `obtainedAt` should be replaced: 10% of its life early, at most 30 s early.
 *
 * @example
 *   refreshAt(0, 300_000) // 270_000
 *   refreshAt(0, 60_000)  // 54_000
 */
export function refreshAt(obtainedAt: number, expiresInMs: number | undefined): number {
  const life = expiresInMs ?? DEFAULT_TOKEN_LIFETIME_MS;
  return obtainedAt + life - Math.min(30_000, life * 0.1);
}

/** RFC 6749 2.3.1: id and secret form-urlencoded (Appendix B), joined by ':', base64 for HTTP Basic. */
export function basicAuthorization(clientId: string, clientSecret: string): string {
  const enc = (s: string): string => new URLSearchParams({ v: s }).toString().slice(2);
  return `Basic ${Buffer.from(`${enc(clientId)}:${enc(clientSecret)}`, 'utf8').toString('base64')}`;
}

export interface ClientCredentialsOptions {
  readonly clientId: string;
  readonly clientSecret: string;
  readonly scope: string | undefined;
  /** Path of the token endpoint on its origin, e.g. /realms/acme/protocol/openid-connect/token. */
  readonly path: string;
  /** Sends the token request (an HttpTransport to the token endpoint's origin). */
  readonly post: (path: string, headers: Record<string, string>, body: string, deadline: Deadline) => Promise<RawResponse>;
  /** Longest one token request (retries included) may take; it runs on its own deadline. */
  readonly timeoutMs: number;
  readonly retries: number;
  readonly now?: () => number;
}

interface CachedToken {
  readonly header: string;
  readonly refreshAt: number;
}

/**
 * OAuth2 client credentials with a shared, cached access token.
 *
 * @example
 *   const creds = new ClientCredentials({ clientId, clientSecret, scope: 'vault', path: tokenUrl.pathname, post: (...a) => transport.post(...a), timeoutMs: 60_000, retries: 3 });
 *   headers.authorization = await creds.header(deadline);
 */
export class ClientCredentials implements Credentials {
  readonly #options: ClientCredentialsOptions;
  readonly #now: () => number;
  readonly #basic: string;
  readonly #form: string;
  #token: CachedToken | undefined;
  #inflight: Promise<CachedToken> | undefined;
  /** Token requests sent (tests and metrics read it). */
  requests = 0;

  constructor(options: ClientCredentialsOptions) {
    this.#options = options;
    this.#now = options.now ?? Date.now;
    this.#basic = basicAuthorization(options.clientId, options.clientSecret);
    const form = new URLSearchParams({ grant_type: 'client_credentials' });
    if (options.scope !== undefined) form.set('scope', options.scope);
    this.#form = form.toString();
  }

  async header(deadline: Deadline): Promise<string> {
    const cached = this.#token;
    if (cached !== undefined && this.#now() < cached.refreshAt) return cached.header;
    this.#inflight ??= this.#fetch().finally(() => {
      this.#inflight = undefined;
    });
    return (await within(this.#inflight, deadline)).header;
  }

  rejected(used: string | undefined): boolean {
    // Only the token that was refused is dropped: another caller may already hold a newer one.
    if (used !== undefined && this.#token?.header === used) this.#token = undefined;
    return true;
  }

  async #fetch(): Promise<CachedToken> {
    const o = this.#options;
    const deadline = new Deadline(o.timeoutMs, () => new GatewayError('VAULT_UNAVAILABLE', `${ROLE} did not answer within ${o.timeoutMs} ms`));
    try {
      const headers = { authorization: this.#basic, 'content-type': 'application/x-www-form-urlencoded', accept: 'application/json' };
      const token = await retrying(
        async () => {
          const sentAt = this.#now();
          this.requests++;
          const res = await o.post(o.path, headers, this.#form, deadline);
          const t = parseTokenResponse(res, this.#now());
          return { header: `Bearer ${t.accessToken}`, refreshAt: refreshAt(sentAt, t.expiresInMs) };
        },
        deadline,
        { retries: o.retries },
      );
      this.#token = token;
      return token;
    } finally {
      deadline.finish();
    }
  }
}
