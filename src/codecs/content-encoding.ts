/**
 * Content-Encoding (RFC 9110 section 8.4): decode a compressed body so rules can read it, and re-encode it
 * after a rewrite. Pure (node:zlib only, no HTTP); the server decides when to call it.
 *
 * Supported codings: gzip (and its alias x-gzip, RFC 9110 section 8.4.1.3), deflate, br. `identity` entries
 * are ignored. Codings are listed in the order they were applied (`Content-Encoding: gzip, br` = gzip first,
 * then brotli), so decoding runs the list backwards.
 *
 * deflate: RFC 9110 says the zlib format (RFC 1950), but some servers send a raw RFC 1951 stream. A zlib stream
 * starts with a two-byte header whose compression method is 8 and whose 16-bit value is a multiple of 31; a body
 * that does not start that way is inflated as raw deflate, and re-encoded raw. (A raw stream that happens to
 * start with a valid zlib header fails to inflate and is refused, 400; it cannot be misread.)
 *
 * Limits, so a hostile body costs little:
 *   - the decoded size of each stage is capped with zlib's maxOutputLength (decompression stops as soon as it is
 *     passed: a 10 KB gzip bomb never grows beyond the limit in memory) -> 413 BODY_TOO_LARGE;
 *   - at most MAX_STACKED_ENCODINGS codings -> otherwise 415 UNSUPPORTED_ENCODING;
 *   - an unknown coding (compress, zstd, ...) -> 415 UNSUPPORTED_ENCODING;
 *   - a truncated or corrupt stream -> 400 INVALID_ENCODING.
 * Work runs on the libuv thread pool (async zlib), not on the event loop.
 *
 * After a rewrite the body is re-encoded with the same codings, in the same order, so the message's headers
 * stay true as sent (only Content-Length changes, and the sender recomputes it): the upstream gets the
 * encoding its client chose, and a client gets a response in an encoding it asked for. Sending identity instead
 * would need header surgery on both sides and break an upstream that requires the compressed form (and
 * `identity;q=0` clients). An unchanged body is forwarded as the original compressed bytes, never re-encoded.
 * Re-encoding uses zlib's default level for gzip/deflate and brotli quality 5 (brotli's default, 11, is meant
 * for static assets and is far too slow per request).
 */
import { promisify } from 'node:util';
import * as zlib from 'node:zlib';
import { GatewayError } from '../errors.js';

/** A coding the gateway can decode and re-encode; `deflate-raw` is a `deflate` body without the zlib wrapper. */
export type Coding = 'gzip' | 'deflate' | 'deflate-raw' | 'br';

/** Largest number of stacked codings accepted (`gzip, br` is two). */
export const MAX_STACKED_ENCODINGS = 2;

const gunzip = promisify(zlib.gunzip);
const inflate = promisify(zlib.inflate);
const inflateRaw = promisify(zlib.inflateRaw);
const brotliDecompress = promisify(zlib.brotliDecompress);
const gzip = promisify(zlib.gzip);
const deflate = promisify(zlib.deflate);
const deflateRaw = promisify(zlib.deflateRaw);
const brotliCompress = promisify(zlib.brotliCompress);

const NAMES: Readonly<Record<string, 'gzip' | 'deflate' | 'br'>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, 'gzip' | 'deflate' | 'br'>, {
    gzip: 'gzip',
    'x-gzip': 'gzip',
    deflate: 'deflate',
    br: 'br',
  }),
);

/**
 * The codings of a Content-Encoding header, in the order they were applied; [] for none or identity.
 * Throws UNSUPPORTED_ENCODING (415) for an unknown coding or more than MAX_STACKED_ENCODINGS.
 *
 * @example
 *   parseContentEncoding('gzip, br') // ['gzip', 'br']
 */
export function parseContentEncoding(header: string | readonly string[] | undefined): ('gzip' | 'deflate' | 'br')[] {
  if (header === undefined) return [];
  const out: ('gzip' | 'deflate' | 'br')[] = [];
  for (const part of (typeof header === 'string' ? header : header.join(',')).split(',')) {
    const name = part.trim().toLowerCase();
    if (name === '' || name === 'identity') continue;
    const coding = NAMES[name];
    if (coding === undefined) {
      throw new GatewayError('UNSUPPORTED_ENCODING', 'the Content-Encoding is not one of gzip, deflate, br');
    }
    out.push(coding);
  }
  if (out.length > MAX_STACKED_ENCODINGS) {
    throw new GatewayError('UNSUPPORTED_ENCODING', `more than ${MAX_STACKED_ENCODINGS} stacked Content-Encodings`);
  }
  return out;
}

/** True when `b` starts with an RFC 1950 zlib header (CM = 8, CINFO <= 7, header % 31 == 0). */
function hasZlibHeader(b: Buffer): boolean {
  return b.length >= 2 && (b[0]! & 0x0f) === 8 && b[0]! >> 4 <= 7 && ((b[0]! << 8) | b[1]!) % 31 === 0;
}

export interface Decoded {
  readonly body: Buffer;
  /** The codings actually found, in applied order (deflate resolved to deflate-raw when unwrapped). */
  readonly codings: readonly Coding[];
}

/**
 * Decodes `body` per its Content-Encoding header, each stage capped at `maxBytes` of output.
 *
 * @throws GatewayError UNSUPPORTED_ENCODING (415), BODY_TOO_LARGE (413), INVALID_ENCODING (400)
 * @example
 *   const { body, codings } = await decodeContent(raw, req.headers['content-encoding'], 1024 * 1024);
 */
export async function decodeContent(
  body: Buffer,
  header: string | readonly string[] | undefined,
  maxBytes: number,
): Promise<Decoded> {
  const listed = parseContentEncoding(header);
  const codings: Coding[] = [...listed];
  let out = body;
  for (let i = listed.length - 1; i >= 0; i--) {
    const opts = { maxOutputLength: Math.max(1, maxBytes) };
    try {
      switch (listed[i]) {
        case 'gzip':
          out = await gunzip(out, opts);
          break;
        case 'br':
          out = await brotliDecompress(out, opts);
          break;
        case 'deflate':
          if (hasZlibHeader(out)) out = await inflate(out, opts);
          else {
            codings[i] = 'deflate-raw';
            out = await inflateRaw(out, opts);
          }
          break;
      }
    } catch (err) {
      if ((err as { code?: string }).code === 'ERR_BUFFER_TOO_LARGE') {
        throw new GatewayError('BODY_TOO_LARGE', `the decoded body exceeds the limit of ${maxBytes} bytes`);
      }
      throw new GatewayError('INVALID_ENCODING', `the body is not valid ${listed[i]} (truncated or corrupt)`, { cause: err });
    }
    if (out.length > maxBytes) {
      throw new GatewayError('BODY_TOO_LARGE', `the decoded body exceeds the limit of ${maxBytes} bytes`);
    }
  }
  return { body: out, codings };
}

/**
 * Encodes `body` with `codings` in order (the inverse of decodeContent for the codings it returned).
 *
 * @example
 *   const wire = await encodeContent(rewritten, decoded.codings);
 */
export async function encodeContent(body: Buffer, codings: readonly Coding[]): Promise<Buffer> {
  let out = body;
  for (const c of codings) {
    switch (c) {
      case 'gzip':
        out = await gzip(out);
        break;
      case 'deflate':
        out = await deflate(out);
        break;
      case 'deflate-raw':
        out = await deflateRaw(out);
        break;
      case 'br':
        out = await brotliCompress(out, {
          params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 5, [zlib.constants.BROTLI_PARAM_SIZE_HINT]: out.length },
        });
        break;
    }
  }
  return out;
}

/**
 * Runs `rewrite` over the decoded body and returns the bytes to send: the original `body` (same Buffer) when
 * `rewrite` returns its input unchanged (same Buffer), else the rewritten body re-encoded with the same codings.
 *
 * @example
 *   body = await rewriteEncoded(body, headers['content-encoding'], limit, (plain) => transformBody(dir, plain, deps));
 */
export async function rewriteEncoded(
  body: Buffer,
  header: string | readonly string[] | undefined,
  maxBytes: number,
  rewrite: (decoded: Buffer) => Promise<Buffer>,
): Promise<Buffer> {
  const decoded = await decodeContent(body, header, maxBytes);
  if (decoded.codings.length === 0) return rewrite(body);
  const out = await rewrite(decoded.body);
  return out === decoded.body ? body : encodeContent(out, decoded.codings);
}

const ACCEPTABLE = new Set(['gzip', 'x-gzip', 'deflate', 'br', 'identity']);

/**
 * The Accept-Encoding to send upstream when the gateway must read the response: the client's preferences
 * (RFC 9110 section 12.5.3) limited to the codings the gateway can decode, q-values kept; `*` and unknown codings
 * dropped. `identity` when the client sent none, or nothing it listed is supported.
 *
 * @example
 *   acceptEncodingFor('zstd, br;q=1.0, gzip;q=0.8, *;q=0.1') // 'br;q=1.0, gzip;q=0.8'
 */
export function acceptEncodingFor(header: string | readonly string[] | undefined): string {
  if (header === undefined) return 'identity';
  const kept: string[] = [];
  for (const part of (typeof header === 'string' ? header : header.join(',')).split(',')) {
    const entry = part.trim();
    const semi = entry.indexOf(';');
    const name = (semi === -1 ? entry : entry.slice(0, semi)).trim().toLowerCase();
    if (ACCEPTABLE.has(name)) kept.push(entry);
  }
  return kept.length === 0 ? 'identity' : kept.join(', ');
}
