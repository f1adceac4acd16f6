/**
 * Forwarding to upstreams: one undici Pool per upstream, built once at start-up, closed on shutdown.
 *
 * Knows nothing about PII or rules: it sends bytes and brings back bytes, bounded by a size limit, and maps
 * network failures to stable error codes (UPSTREAM_UNAVAILABLE, UPSTREAM_TIMEOUT) without exposing hosts or
 * internal detail in the message.
 */
import { Pool } from 'undici';
import { GatewayError } from '../errors.js';
import type { HeaderMap } from './headers.js';

export interface UpstreamSettings {
  readonly name: string;
  readonly url: URL;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
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
  private readonly pool: Pool;
  private readonly basePath: string;
  private readonly host: string;

  constructor(settings: UpstreamSettings, connections: number) {
    this.name = settings.name;
    this.basePath = settings.url.pathname.replace(/\/+$/, '');
    this.host = settings.url.host;
    this.pool = new Pool(settings.url.origin, {
      connections,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      connectTimeout: settings.connectTimeoutMs,
      headersTimeout: settings.headersTimeoutMs,
      bodyTimeout: settings.bodyTimeoutMs,
    });
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
      });
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

  close(): Promise<void> {
    return this.pool.close();
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
