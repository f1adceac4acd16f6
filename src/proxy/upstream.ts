/**
 * Forwarding to upstreams: one undici Pool per upstream, built once at start-up, closed on shutdown.
 *
 * Knows nothing about PII or rules: it sends bytes and brings back bytes, bounded by a size limit, and maps
 * network failures to stable error codes (UPSTREAM_UNAVAILABLE, UPSTREAM_TIMEOUT) without exposing hosts or
 * internal detail in the message.
 *
 * An https upstream may require a client certificate (mTLS): `tls` names the certificate, key and CA files.
 * `reloadTls()` builds a new Pool from re-read files and swaps it in; requests already running finish on
 * the old pool, which is then closed gracefully (undici's close() waits for them). Bad new files leave the
 * running pool in place.
 */
import { Pool } from 'undici';
import { readTlsMaterial, MIN_TLS_VERSION, type TlsMaterial } from '../config/tls-material.js';
import { GatewayError } from '../errors.js';
import type { UpstreamTls } from '../rules/types.js';
import type { HeaderMap } from './headers.js';

export interface UpstreamSettings {
  readonly name: string;
  readonly url: URL;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Client certificate / CA files for an https upstream (rules: `upstreams.<name>.tls`). */
  readonly tls?: UpstreamTls;
}

export interface UpstreamResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[] | undefined>;
  readonly body: Buffer;
}

export interface ForwardRequest {
  readonly method: string;
  /** Path and query as received, e.g. `/1/upload?batch=1`. Appended to the upstream's base path. */
  readonly pathAndQuery: string;
  readonly headers: HeaderMap;
  readonly body: Buffer | null;
  /** Largest response body accepted; beyond it the response is refused with UPSTREAM_RESPONSE_INVALID. */
  readonly maxResponseBytes: number;
}

export class Upstream {
  readonly name: string;
  /** The files `reloadTls()` re-reads (empty without upstream TLS). */
  readonly tlsFiles: readonly string[];
  private pool: Pool;
  private material: TlsMaterial | undefined;
  private readonly retiring = new Set<Promise<void>>();
  private readonly basePath: string;
  private readonly host: string;

  /** @throws GatewayError CONFIG_INVALID when the upstream's TLS files cannot be read or do not load. */
  constructor(
    private readonly settings: UpstreamSettings,
    private readonly connections: number,
  ) {
    this.name = settings.name;
    this.basePath = settings.url.pathname.replace(/\/+$/, '');
    this.host = settings.url.host;
    const t = settings.tls;
    this.tlsFiles = t ? [t.cert, t.key, t.ca].filter((f): f is string => f !== undefined) : [];
    this.material = this.readMaterial();
    this.pool = this.buildPool();
  }

  private readMaterial(): TlsMaterial | undefined {
    const t = this.settings.tls;
    if (t === undefined) return undefined;
    return readTlsMaterial(`upstream '${this.name}' tls`, t);
  }

  private buildPool(): Pool {
    const s = this.settings;
    return new Pool(s.url.origin, {
      connections: this.connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: s.connectTimeoutMs,
      headersTimeout: s.headersTimeoutMs,
      bodyTimeout: s.bodyTimeoutMs,
      // TLS 1.2 floor for every https upstream; client certificate and CA when the rule file names them.
      ...(s.url.protocol === 'https:' ? { connect: { minVersion: MIN_TLS_VERSION, ...this.material?.options, servername: s.tls?.servername } } : {}),
    });
  }

  /**
   * Re-reads the TLS files; when they changed, swaps in a new pool and retires the old one after its
   * in-flight requests finish. Throws (keeping the current pool) when the new files do not load.
   */
  async reloadTls(): Promise<'reloaded' | 'unchanged'> {
    const next = this.readMaterial();
    if (next === undefined || next.digest === this.material?.digest) return 'unchanged';
    const old = this.pool;
    this.material = next;
    this.pool = this.buildPool();
    const retired = old.close().catch(() => undefined);
    this.retiring.add(retired);
    void retired.finally(() => this.retiring.delete(retired));
    return 'reloaded';
  }

  /** Sends the request and reads the whole response body (bounded). */
  async forward(req: ForwardRequest): Promise<UpstreamResponse> {
    const headers: HeaderMap = { ...req.headers, host: this.host };
    let res;
    try {
      res = await this.pool.request({
        method: req.method as 'POST',
        path: this.basePath + req.pathAndQuery,
        headers,
        body: req.body && req.body.length > 0 ? req.body : null,
        // undici takes SNI from the Host header unless told otherwise
        ...(this.settings.tls?.servername ? { servername: this.settings.tls.servername } : {}),
      } as Parameters<Pool['request']>[0]);
    } catch (err) {
      throw mapNetworkError(err, this.name);
    }
    const declared = Number(res.headers['content-length']);
    if (Number.isFinite(declared) && declared > req.maxResponseBytes) {
      res.body.destroy();
      throw tooLarge(this.name);
    }
    const chunks: Buffer[] = [];
    let size = 0;
    try {
      for await (const chunk of res.body) {
        size += (chunk as Buffer).length;
        if (size > req.maxResponseBytes) {
          res.body.destroy();
          throw tooLarge(this.name);
        }
        chunks.push(chunk as Buffer);
      }
    } catch (err) {
      if ((err as GatewayError).name === 'GatewayError') throw err;
      throw mapNetworkError(err, this.name);
    }
    return { status: res.statusCode, headers: res.headers, body: chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size) };
  }

  async close(): Promise<void> {
    await Promise.all([this.pool.close(), ...this.retiring]);
  }
}

function tooLarge(name: string): GatewayError {
  return new GatewayError('UPSTREAM_RESPONSE_INVALID', `upstream '${name}' response body exceeds the response limit`);
}

function mapNetworkError(err: unknown, name: string): GatewayError {
  const code = (err as { code?: string }).code ?? '';
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT' || code === 'UND_ERR_CONNECT_TIMEOUT') {
    return new GatewayError('UPSTREAM_TIMEOUT', `upstream '${name}' timed out`, { cause: err });
  }
  return new GatewayError('UPSTREAM_UNAVAILABLE', `upstream '${name}' is unavailable`, { cause: err });
}
