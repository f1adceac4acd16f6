/**
 * Proxy header handling, in one place, before any rule runs.
 *
 * RFC 9110 section 7.6.1: a proxy MUST remove the hop-by-hop fields — Connection and every field it names —
 * and SHOULD remove Proxy-Connection, Keep-Alive, TE, Transfer-Encoding and Upgrade, which are hop-by-hop
 * even when not listed. Content-Length is recomputed by the sender after a rewrite, and Host is the
 * upstream's (RFC 9110 section 7.2), so both are dropped here and set by the forwarder.
 */
import type { IncomingHttpHeaders } from 'node:http';

const ALWAYS_DROP = new Set([
  'connection',
  'proxy-connection',
  'keep-alive',
  'te',
  'trailer',
  'transfer-encoding',
  'upgrade',
  'proxy-authorization',
  'proxy-authenticate',
  'host',
  'content-length',
  'expect',
]);

export type HeaderMap = Record<string, string | string[]>;

/**
 * Copies end-to-end headers only. Names come lower-cased from node:http and undici.
 *
 * @example
 *   endToEndHeaders({ connection: 'x-foo', 'x-foo': '1', accept: '*' }) // { accept: '*' }
 */
export function endToEndHeaders(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): HeaderMap {
  const listed = connectionListed(headers.connection);
  const out: HeaderMap = {};
  for (const name in headers) {
    const value = headers[name];
    if (value === undefined || ALWAYS_DROP.has(name) || (listed !== null && listed.has(name))) continue;
    out[name] = value;
  }
  return out;
}

function connectionListed(value: string | string[] | undefined): Set<string> | null {
  if (value === undefined) return null;
  const set = new Set<string>();
  for (const part of (Array.isArray(value) ? value.join(',') : value).split(',')) {
    const name = part.trim().toLowerCase();
    if (name !== '') set.add(name);
  }
  return set;
}

/** First value of a header, lower-cased media type without parameters: 'application/json; charset=utf-8' -> 'application/json'. */
export function mediaType(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const semi = v.indexOf(';');
  return (semi === -1 ? v : v.slice(0, semi)).trim().toLowerCase();
}

/** The `charset` parameter of a Content-Type, lower-cased, if any. */
export function charset(value: string | string[] | undefined): string | undefined {
  const v = Array.isArray(value) ? value[0] : value;
  if (v === undefined) return undefined;
  const m = /;\s*charset\s*=\s*"?([^";\s]+)"?/i.exec(v);
  return m ? m[1]!.toLowerCase() : undefined;
}

/** True when a Content-Encoding header says the body is encoded (anything but absent or `identity`). */
export function isEncoded(value: string | string[] | undefined): boolean {
  if (value === undefined) return false;
  const v = (Array.isArray(value) ? value.join(',') : value).trim().toLowerCase();
  return v !== '' && v !== 'identity';
}
