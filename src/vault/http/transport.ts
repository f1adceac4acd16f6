/**
 * The wire under the HTTP vault: one undici Pool per origin (the remote vault; the OAuth2 token endpoint),
 * one POST at a time, a bounded response body, and failures sorted into "try again" (Retryable) and "stop".
 *
 * undici (v7) facts this relies on, from its docs (docs/api/Dispatcher.md, Client.md, Errors.md):
 * - `Pool({ connections })` caps sockets per origin and queues the rest; `request()` does not retry or
 *   follow redirects by itself, so every retry here is ours and counted.
 * - `headersTimeout` / `bodyTimeout` per request reject with UND_ERR_HEADERS_TIMEOUT / UND_ERR_BODY_TIMEOUT;
 *   they are set to the call's remaining time, and the call's AbortSignal (Deadline) ends it on time: an
 *   aborted request rejects with the signal's reason, our own GatewayError.
 * - Connection failures surface as the socket's errno (ECONNREFUSED, ECONNRESET, EPIPE, ...), as
 *   UND_ERR_SOCKET ("other side closed", a reset mid-response) or UND_ERR_CONNECT_TIMEOUT: all retryable.
 *   Tokenize is idempotent (deterministic tokens: a replay returns the same token) and detokenize only
 *   reads, so resending after a reset is safe; a random-token spec resent may leave one orphan random token
 *   in the remote vault, which nothing references (acceptable: it resolves only for whoever holds it).
 *
 * Messages name the endpoint's role ('remote vault', 'OAuth2 token endpoint') and an errno-style code, never
 * a host, a header, or a byte of the body.
 */
import { rootCertificates, type SecureContextOptions } from 'node:tls';
import type { IncomingHttpHeaders } from 'node:http';
import { Pool } from 'undici';
import { MIN_TLS_VERSION } from '../../config/tls-material.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import type { Deadline } from './deadline.js';
import { Retryable } from './retry.js';

/** Largest response body read from a remote vault or token endpoint; beyond it the answer is refused. */
export const MAX_RESPONSE_BYTES = 64 * 1024 * 1024;

export interface RawResponse {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly body: Buffer;
}

export interface TransportOptions {
  /** Names the endpoint in messages: 'remote vault', 'OAuth2 token endpoint'. */
  readonly role: string;
  readonly connections: number;
  /** Pool-level connect timeout (the call's deadline still ends a connect that takes longer). */
  readonly connectTimeoutMs: number;
  /** Secure-context options for https (CA, client certificate); ignored for http. */
  readonly tls?: SecureContextOptions;
  readonly maxResponseBytes?: number;
}

/** Socket-level failures another attempt may cure. Everything else (TLS verification, DNS NXDOMAIN, ...) stops. */
const RETRYABLE_CODES: ReadonlySet<string> = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ECONNABORTED',
  'EPIPE',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'ENETDOWN',
  'EAI_AGAIN',
  'UND_ERR_SOCKET',
  'UND_ERR_CONNECT_TIMEOUT',
]);

/** A safe, short code of a thrown network error: errno-style or undici's UND_ERR_*, else its class name. */
function codeOf(err: unknown): string {
  const code = (err as { code?: unknown }).code;
  if (typeof code === 'string' && /^[A-Z0-9_]{1,64}$/.test(code)) return code;
  const name = (err as { name?: unknown }).name;
  return typeof name === 'string' && /^[A-Za-z]{1,64}$/.test(name) ? name : 'error';
}

/**
 * CA bundle for an endpoint we do not own (the token endpoint, often a public Keycloak): the system's
 * roots plus the configured CA. The vault itself is verified against the configured CA alone.
 */
export function withSystemRoots(tls: SecureContextOptions | undefined): SecureContextOptions | undefined {
  if (tls?.ca === undefined) return tls;
  const extra = Array.isArray(tls.ca) ? tls.ca : [tls.ca];
  return { ...tls, ca: [...rootCertificates, ...extra] as string[] };
}

export class HttpTransport {
  readonly #pool: Pool;
  readonly #role: string;
  readonly #maxBytes: number;

  /**
   * @example
   *   const t = new HttpTransport(new URL('https://vault.internal:8081'), { role: 'remote vault', connections: 50, connectTimeoutMs: 10_000 });
   *   const res = await t.post('/v1/detokenize', { 'content-type': 'application/json' }, '{"items":[]}', deadline);
   */
  constructor(origin: URL, options: TransportOptions) {
    this.#role = options.role;
    this.#maxBytes = options.maxResponseBytes ?? MAX_RESPONSE_BYTES;
    this.#pool = new Pool(origin.origin, {
      connections: options.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: options.connectTimeoutMs,
      // TLS 1.2 floor for every https remote, as for upstreams; the CA and client certificate when configured.
      ...(origin.protocol === 'https:' ? { connect: { minVersion: MIN_TLS_VERSION, ...options.tls } } : {}),
    });
  }

  /**
   * One POST, its whole (bounded) response. Throws Retryable for connection failures, GatewayError
   * VAULT_UNAVAILABLE for the rest, or the deadline's reason once the call is out of time.
   */
  async post(path: string, headers: Record<string, string>, body: string, deadline: Deadline): Promise<RawResponse> {
    if (deadline.done) throw deadline.reason;
    const remaining = Math.max(1, deadline.remaining());
    let res;
    try {
      res = await this.#pool.request({
        method: 'POST',
        path,
        headers,
        body,
        headersTimeout: remaining,
        bodyTimeout: remaining,
        signal: deadline.signal,
      });
    } catch (err) {
      throw this.#failure(err, deadline);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > this.#maxBytes) {
      res.body.destroy();
      throw this.#tooLarge();
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > this.#maxBytes) {
          res.body.destroy();
          throw this.#tooLarge();
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if (isGatewayError(err)) throw err;
      throw this.#failure(err, deadline);
    }
    return { status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) };
  }

  /** Graceful: requests in flight finish first (undici's close() waits for them). */
  close(): Promise<void> {
    return this.#pool.close();
  }

  /** Forcible: in-flight requests are aborted (used when closing must not wait on a hung remote). */
  destroy(): Promise<void> {
    return this.#pool.destroy();
  }

  #tooLarge(): GatewayError {
    return new GatewayError('VAULT_UNAVAILABLE', `${this.#role} answered a body larger than ${this.#maxBytes / (1024 * 1024)} MB; refused`);
  }

  #failure(err: unknown, deadline: Deadline): unknown {
    // Aborted by the deadline or by a failed sibling part: the deadline's reason says which.
    if (deadline.done) return deadline.reason;
    if (isGatewayError(err)) return err;
    const code = codeOf(err);
    if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
      return new GatewayError('VAULT_UNAVAILABLE', `${this.#role} did not answer within ${deadline.timeoutMs} ms (${code})`, { cause: err });
    }
    const error = new GatewayError('VAULT_UNAVAILABLE', `${this.#role} is unreachable (${code})`, { cause: err });
    return RETRYABLE_CODES.has(code) ? new Retryable(error) : error;
  }
}
