/**
 * HttpVault: a Vault whose store is a remote vault API, so that a gateway can use another gateway, or the
 * customer's own vault, as its store (PII_GATEWAY_VAULT=http, docs/fleet.md).
 *
 * One Vault call becomes one remote call per `batchSize` items (CleverTap's API takes at most 1,000 per
 * tokenize call), sent concurrently up to `connections`, all under one deadline (`timeoutMs`, retries and
 * the token fetch included). Any part failing fails the whole call and cancels the others: the caller gets
 * every token or an error, never a partly tokenized batch. Around each call: the circuit breaker (fail fast
 * while the remote is down); inside, per part: credentials, retries with backoff (http/retry.ts), one
 * credential refresh on a 401, strict checking of the answer (http/protocols.ts).
 *
 * The remote does the crypto and holds the data: this class never sees a key and stores nothing. It checks
 * values locally before sending (the spec's format, as LocalVault does), so a bad value is refused with
 * the same INVALID_VALUE error and nothing reaches the remote.
 *
 * delete() is refused: neither API has an erasure call, so right-to-erasure requests must be carried out
 * on the remote vault itself.
 */
import type { HttpVaultConfig } from '../config/vault.js';
import { readTlsMaterial } from '../config/tls-material.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { Deadline } from './http/deadline.js';
import { ClientCredentials, NO_CREDENTIALS, staticBearer, type Credentials } from './http/oauth.js';
import { protocolFor, remoteErrorCode, type Protocol, type WireRequest } from './http/protocols.js';
import { CircuitBreaker, isRetryableStatus, parseRetryAfter, Retryable, retrying, type BackoffOptions } from './http/retry.js';
import { HttpTransport, withSystemRoots, type RawResponse } from './http/transport.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from './interface.js';

/** A readiness probe must answer quickly whatever the call timeout: this is its own cap. */
const PING_TIMEOUT_MS = 5_000;
/** Connections to the token endpoint: one token request at a time is shared by every caller. */
const TOKEN_CONNECTIONS = 2;
const ROLE = 'remote vault';
const PASS_THROUGH: ReadonlySet<string> = new Set(['email', 'opaque']);
/** Errors of a 403 answer, so ping() can tell "forbidden" (another permission may do) from the rest. */
const FORBIDDEN = new WeakSet<GatewayError>();

/** Test seams; production passes none. */
export interface HttpVaultTestOptions {
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
}

function tlsOptions(config: HttpVaultConfig) {
  const { ca, cert, key } = config.tls;
  if (ca === undefined && cert === undefined && key === undefined) return undefined;
  return readTlsMaterial('PII_GATEWAY_HTTP_VAULT_CA/_CERT/_KEY', { ca, cert, key }).options;
}

function basePath(url: URL): string {
  return url.pathname.replace(/\/+$/, '');
}

export class HttpVault implements Vault {
  readonly #config: HttpVaultConfig;
  readonly #protocol: Protocol;
  readonly #transport: HttpTransport;
  readonly #tokenTransport: HttpTransport | undefined;
  readonly #credentials: Credentials;
  readonly #breaker: CircuitBreaker;
  readonly #base: string;
  readonly #test: HttpVaultTestOptions;
  #closed = false;

  /**
   * Builds the client: reads the TLS files (CONFIG_INVALID naming the file when they do not load) and the
   * credentials. Does not contact the remote: a remote that is down makes readiness red (ping), not the
   * start fail, so that a fleet can start in any order.
   *
   * @example
   *   const vault = await HttpVault.open(config.vault.http!);
   *   const [token] = await vault.tokenize([{ spec: createTokenSpec({ type: 'email' }, keyring), value: 'ada@example.com' }]);
   */
  static async open(config: HttpVaultConfig, testOptions: HttpVaultTestOptions = {}): Promise<Vault> {
    return new HttpVault(config, testOptions);
  }

  private constructor(config: HttpVaultConfig, test: HttpVaultTestOptions) {
    this.#config = config;
    this.#test = test;
    this.#protocol = protocolFor(config.protocol);
    this.#base = basePath(config.url);
    const tls = tlsOptions(config);
    const connectTimeoutMs = Math.min(config.timeoutMs, 10_000);
    this.#transport = new HttpTransport(config.url, { role: ROLE, connections: config.connections, connectTimeoutMs, ...(tls ? { tls } : {}) });
    if (config.oauth !== undefined) {
      const { tokenUrl, clientId, clientSecret, scope } = config.oauth;
      // The token endpoint is often a public identity provider: system CAs plus the configured one, and
      // no client certificate (that one is for the vault).
      const tokenTls = withSystemRoots(tls === undefined ? undefined : { minVersion: tls.minVersion, ...(tls.ca ? { ca: tls.ca } : {}) });
      const transport = new HttpTransport(tokenUrl, { role: 'OAuth2 token endpoint', connections: TOKEN_CONNECTIONS, connectTimeoutMs, ...(tokenTls ? { tls: tokenTls } : {}) });
      this.#tokenTransport = transport;
      this.#credentials = new ClientCredentials({
        clientId,
        clientSecret,
        scope,
        path: tokenUrl.pathname,
        post: (path, headers, body, deadline) => transport.post(path, headers, body, deadline),
        timeoutMs: config.timeoutMs,
        retries: config.retries,
      });
    } else {
      this.#credentials = config.apiKey !== undefined ? staticBearer(config.apiKey) : NO_CREDENTIALS;
    }
    this.#breaker = new CircuitBreaker(config.breaker);
  }

  async tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    this.#assertOpen();
    if (items.length === 0) return [];
    this.#protocol.checkTokenize(items);
    checkValues(items);
    const size = Math.min(this.#config.batchSize, this.#protocol.maxTokenize);
    return this.#call(this.#config.timeoutMs, (deadline) =>
      this.#parts(items, size, deadline, async (part, offset) => {
        const json = await this.#exchange(this.#protocol.tokenizeRequest(part), deadline);
        return this.#protocol.tokenizeResults(json, part, offset);
      }),
    );
  }

  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    this.#assertOpen();
    if (items.length === 0) return [];
    this.#protocol.checkDetokenize(items);
    const size = Math.min(this.#config.batchSize, this.#protocol.maxDetokenize);
    return this.#call(this.#config.timeoutMs, (deadline) =>
      this.#parts(items, size, deadline, async (part, offset) => {
        const json = await this.#exchange(this.#protocol.detokenizeRequest(part, this.#config.purpose), deadline);
        return this.#protocol.detokenizeResults(json, part, offset);
      }),
    );
  }

  async delete(items: readonly DeleteItem[]): Promise<number> {
    this.#assertOpen();
    if (items.length === 0) return 0;
    throw new GatewayError(
      'VAULT_UNAVAILABLE',
      `the ${this.#protocol.name} vault API has no erasure call: delete these tokens on the remote vault itself (nothing was deleted)`,
    );
  }

  /**
   * Readiness: the remote answers a cheap empty call and takes our credentials. pii-gateway: an empty
   * detokenize (with the purpose), else an empty tokenize when the first is refused with 403 (a gateway
   * that only tokenizes); clevertap: an empty tokens/values/batch.
   */
  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#call(Math.min(this.#config.timeoutMs, PING_TIMEOUT_MS), async (deadline) => {
      const [first, ...others] = this.#protocol.pingRequests(this.#config.purpose);
      try {
        await this.#exchange(first!, deadline);
      } catch (err) {
        if (!(isGatewayError(err) && FORBIDDEN.has(err) && others.length > 0)) throw err;
        for (const request of others) await this.#exchange(request, deadline);
      }
    });
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all([this.#transport.close(), this.#tokenTransport?.close()]);
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError('VAULT_UNAVAILABLE', 'the http vault client is closed');
  }

  /** One Vault call: the breaker around it, one deadline for everything in it. */
  async #call<T>(timeoutMs: number, run: (deadline: Deadline) => Promise<T>): Promise<T> {
    const ticket = this.#breaker.admit();
    const deadline = new Deadline(timeoutMs, () => new GatewayError('VAULT_UNAVAILABLE', `${ROLE} did not answer within ${timeoutMs} ms (PII_GATEWAY_HTTP_VAULT_TIMEOUT)`));
    let ok = false;
    try {
      const result = await run(deadline);
      ok = true;
      return result;
    } catch (err) {
      // A refused value is the remote working as it should; only unavailability counts against it.
      ok = !(isGatewayError(err) && err.code === 'VAULT_UNAVAILABLE');
      throw err;
    } finally {
      deadline.finish();
      this.#breaker.record(ticket, ok);
    }
  }

  /**
   * Splits `items` into parts of `size`, runs them concurrently (at most `connections` at once) and joins
   * the results in order. The first failure cancels the others (through the deadline) and is thrown.
   */
  async #parts<I, R>(items: readonly I[], size: number, deadline: Deadline, run: (part: readonly I[], offset: number) => Promise<R[]>): Promise<R[]> {
    if (items.length <= size) return run(items, 0);
    const offsets: number[] = [];
    for (let o = 0; o < items.length; o += size) offsets.push(o);
    const out = new Array<R>(items.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async (): Promise<void> => {
      while (failure === undefined && next < offsets.length) {
        const offset = offsets[next++]!;
        try {
          const results = await run(items.slice(offset, offset + size), offset);
          for (let i = 0; i < results.length; i++) out[offset + i] = results[i]!;
        } catch (err) {
          if (failure === undefined) {
            failure = { error: err };
            deadline.cancel(err);
          }
          return;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(offsets.length, this.#config.connections) }, worker));
    if (failure !== undefined) throw (failure as { error: unknown }).error;
    return out;
  }

  /**
   * One request/answer with the remote: retries on connection failures, 429 and 502-504; one fresh
   * credential after a 401; the JSON body of a 2xx answer, or a GatewayError saying what went wrong.
   */
  async #exchange(request: WireRequest, deadline: Deadline): Promise<unknown> {
    const body = JSON.stringify(request.body);
    const path = this.#base + request.path;
    let refreshed = false;
    return retrying(
      async () => {
        for (;;) {
          const authorization = await this.#credentials.header(deadline);
          const headers: Record<string, string> = { 'content-type': 'application/json', accept: 'application/json', 'user-agent': 'pii-gateway' };
          if (authorization !== undefined) headers.authorization = authorization;
          const res = await this.#transport.post(path, headers, body, deadline);
          if (res.status === 401 && !refreshed && this.#credentials.rejected(authorization)) {
            refreshed = true;
            continue;
          }
          return answer(res, this.#config.batchSize);
        }
      },
      deadline,
      { retries: this.#config.retries, ...(this.#test.backoff ? { backoff: this.#test.backoff } : {}), ...(this.#test.random ? { random: this.#test.random } : {}) },
    );
  }
}

/** The JSON of a 2xx answer; otherwise the error (Retryable where another attempt may help). */
function answer(res: RawResponse, batchSize: number): unknown {
  const { status } = res;
  if (status >= 200 && status <= 299) {
    try {
      return JSON.parse(res.body.toString('utf8')) as unknown;
    } catch {
      // Never the parser's message: it quotes the body.
      throw new GatewayError('VAULT_UNAVAILABLE', `${ROLE} answered ${status} with a body that is not JSON`);
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(res.body.toString('utf8'));
  } catch {
    json = undefined;
  }
  const code = remoteErrorCode(json);
  const said = `${ROLE} answered ${status}${code ? ` ${code}` : ''}`;
  if (isRetryableStatus(status)) {
    const wait = status === 429 || status === 503 ? parseRetryAfter(res.headers['retry-after'], Date.now()) : undefined;
    throw new Retryable(new GatewayError('VAULT_UNAVAILABLE', said), wait);
  }
  const fail = (message: string): never => {
    const error = new GatewayError('VAULT_UNAVAILABLE', message);
    if (status === 403) FORBIDDEN.add(error);
    throw error;
  };
  if (status === 401 || status === 403) fail(`${said}: the remote vault refused our credentials`);
  if (status === 413 || code === 'BATCH_TOO_LARGE') fail(`${said}: lower PII_GATEWAY_HTTP_VAULT_BATCH (now ${batchSize}) to the remote's batch limit`);
  if (status === 404 || status === 405) fail(`${said}: no such endpoint (check PII_GATEWAY_HTTP_VAULT_URL and PII_GATEWAY_HTTP_VAULT_PROTOCOL)`);
  if (status >= 300 && status <= 399) fail(`${said}: redirects are not followed (set PII_GATEWAY_HTTP_VAULT_URL to the final address)`);
  if (status >= 400 && status <= 499) fail(`${said}: the remote vault refused the request`);
  return fail(`${said}: the remote vault failed`);
}

/**
 * Values are checked here, before anything is sent: a bad value gets LocalVault's INVALID_VALUE (the
 * format's message, no field: the caller knows the path). A value that is already a token (email, opaque)
 * goes to the remote, which hands it back unchanged.
 */
function checkValues(items: readonly TokenizeItem[]): void {
  for (const { spec, value } of items) {
    if (spec.format.tryNormalize(value) !== undefined) continue;
    if (PASS_THROUGH.has(spec.type) && spec.format.isToken(value)) continue;
    try {
      spec.format.normalize(value);
    } catch (err) {
      if (isGatewayError(err) && err.code === 'INVALID_VALUE') throw new GatewayError('INVALID_VALUE', err.message);
      throw err;
    }
    throw new GatewayError('INVALID_VALUE', `value is not a valid ${spec.type}`);
  }
}

