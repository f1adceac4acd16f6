/**
 * Twilio request signatures (`X-Twilio-Signature`), as twilio-node's `lib/webhooks/webhooks` computes and
 * checks them (https://www.twilio.com/docs/usage/webhooks/webhooks-security):
 *
 *   Base64(HMAC-SHA1(authToken, url + name1 + value1 + name2 + value2 + ...))
 *
 * - `url` is the full URL Twilio called, query included (spellings: {@link twilioUrlVariants}).
 * - Form bodies (application/x-www-form-urlencoded): parameters sorted by name (UTF-16 code-unit order,
 *   JavaScript's default sort). A name sent several times contributes each *distinct* value once, values
 *   sorted: twilio-node's `toFormUrlEncodedParam` does `Array.from(new Set(values)).sort()`. (So a request
 *   that repeats an already-signed `a=1` still verifies; the gateway re-signs what it forwards, so the next
 *   hop never trusts bytes nobody signed.)
 * - JSON bodies: the URL carries `bodySHA256=<hex sha256(body)>` and the signature covers the URL only.
 * - Twilio's back end is inconsistent about default ports and query encoding, so a validator accepts the URL
 *   with the default port (`:443`/`:80`) and without any port, with the query in three encodings.
 *
 * A non-empty body that is neither a form nor covered by `bodySHA256` is refused: the signature would cover
 * the URL alone and the body would be anyone's.
 */
import { createHash, createHmac, type KeyObject } from 'node:crypto';
import { parse as parseQuery, stringify as stringifyQuery } from 'node:querystring';
import { GatewayError } from '../../errors.js';
import { mediaTypeOf, queryOf, requireHeader, signaturesEqual } from './check.js';
import type { ResignSpec, SignedRequest, VerifySpec } from './types.js';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';
const FORM = 'application/x-www-form-urlencoded';
const BODY_HASH_PARAM = 'bodySHA256';

/** Form parameters by name, each with its values in order. */
export type TwilioParams = ReadonlyMap<string, readonly string[]> | Readonly<Record<string, string | readonly string[]>>;

/**
 * The X-Twilio-Signature for exactly this `url` string and `params` (no normalization, no port variants:
 * see {@link twilioUrlVariants}), as twilio-node's `getExpectedTwilioSignature`.
 *
 * @example
 *   twilioSignature('12345', 'https://mycompany.com/myapp.php?foo=1&bar=2', { CallSid: 'CA1234567890ABCDE', ... })
 */
export function twilioSignature(authToken: string | KeyObject, url: string, params: TwilioParams = {}): string {
  const entries: [string, readonly string[]][] =
    params instanceof Map
      ? [...(params as ReadonlyMap<string, readonly string[]>)]
      : Object.entries(params as Record<string, string | readonly string[]>).map(([k, v]) => [k, typeof v === 'string' ? [v] : v]);
  entries.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  let data = url;
  for (const [name, values] of entries) {
    for (const value of [...new Set(values)].sort()) data += name + value;
  }
  return createHmac('sha1', authToken).update(data, 'utf8').digest('base64');
}

/**
 * Every spelling of `url` a Twilio validator accepts, because Twilio's signing side is inconsistent:
 * without a port and with the default port (`:443`/`:80`; an explicit port is kept in the second form and
 * removed in the first), each with the query as written, as WHATWG `URL` serializes it (`'` becomes
 * `%27`), and as node's legacy `querystring` re-encodes it (`+` becomes `%20`). twilio-node has used each
 * of these over its versions (`url-parse` raw strings, then `new URL()`, then both plus the legacy form).
 * Duplicates removed; the port-less form comes first.
 *
 * @example
 *   twilioUrlVariants('https://example.com/hook?a=1') // ['https://example.com/hook?a=1', 'https://example.com:443/hook?a=1']
 */
export function twilioUrlVariants(url: string): string[] {
  const u = new URL(url);
  const q = url.indexOf('?');
  const rawQuery = q === -1 ? '' : url.slice(q).replace(/#.*$/, '');
  const legacy = u.search === '' ? '' : `?${stringifyQuery(parseQuery(u.search.slice(1)))}`;
  const auth = u.username === '' && u.password === '' ? '' : `${u.username}${u.password === '' ? '' : `:${u.password}`}@`;
  const port = u.port !== '' ? u.port : u.protocol === 'https:' ? '443' : '80';
  const bases = [`${u.protocol}//${auth}${u.hostname}${u.pathname}`, `${u.protocol}//${auth}${u.hostname}:${port}${u.pathname}`];
  const out = new Set<string>();
  for (const base of bases) for (const query of [rawQuery, u.search, legacy]) out.add(base + query + u.hash);
  return [...out];
}

/** Parameters of a form body (WHATWG application/x-www-form-urlencoded parsing), grouped by name. */
export function formParams(body: Buffer): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const [name, value] of new URLSearchParams(body.toString('utf8'))) {
    const list = out.get(name);
    if (list) list.push(value);
    else out.set(name, [value]);
  }
  return out;
}

/** Hex SHA-256 of the body, as the `bodySHA256` query parameter carries it. */
export function twilioBodyHash(body: Buffer): string {
  return createHash('sha256').update(body).digest('hex');
}

/**
 * Checks X-Twilio-Signature on the raw request against the configured public URL plus the request's query.
 * Throws SIGNATURE_MISSING / SIGNATURE_INVALID.
 */
export function verifyTwilio(spec: Extract<VerifySpec, { scheme: 'twilio' }>, req: SignedRequest): void {
  const received = requireHeader(req.headers, TWILIO_SIGNATURE_HEADER, 'twilio');
  const url = spec.url + queryOf(req.pathAndQuery);
  const bodyHash = new URL(url).searchParams.get(BODY_HASH_PARAM);
  const params = signedParams(req, bodyHash !== null, 'SIGNATURE_INVALID');
  let ok = false;
  // Every candidate is compared (no short-circuit), in constant time.
  for (const candidate of twilioUrlVariants(url)) ok = signaturesEqual(received, twilioSignature(spec.secret, candidate, params)) || ok;
  if (!ok) throw new GatewayError('SIGNATURE_INVALID', 'twilio signature: X-Twilio-Signature does not match');
  if (bodyHash !== null && !signaturesEqual(bodyHash, twilioBodyHash(req.body))) {
    throw new GatewayError('SIGNATURE_INVALID', 'twilio signature: the body does not match bodySHA256');
  }
}

/**
 * Signs the forwarded request for the next hop with its auth token and URL. With `bodySHA256` in the query,
 * the parameter is recomputed over the final body (only that parameter's bytes change). Returns the header
 * to set and the path and query to forward.
 */
export function resignTwilio(
  spec: Extract<ResignSpec, { scheme: 'twilio' }>,
  req: SignedRequest,
): { headers: Record<string, string>; pathAndQuery: string } {
  let pathAndQuery = req.pathAndQuery;
  const query = queryOf(pathAndQuery);
  const hasBodyHash = query !== '' && new URLSearchParams(query).has(BODY_HASH_PARAM);
  if (hasBodyHash) {
    const hash = twilioBodyHash(req.body);
    const parts = query
      .slice(1)
      .split('&')
      .map((p) => (p === BODY_HASH_PARAM || p.startsWith(`${BODY_HASH_PARAM}=`) ? `${BODY_HASH_PARAM}=${hash}` : p));
    pathAndQuery = pathAndQuery.slice(0, pathAndQuery.length - query.length) + '?' + parts.join('&');
  }
  // Cannot happen after verify: twilio (the body kind is unchanged by a rewrite); fail closed if it does.
  const params = signedParams(req, hasBodyHash, 'INTERNAL');
  // Signed over the WHATWG serialization, the form every twilio-node version since 4.x accepts.
  const signature = twilioSignature(spec.secret, new URL(spec.url + queryOf(pathAndQuery)).toString(), params);
  return { headers: { [TWILIO_SIGNATURE_HEADER]: signature }, pathAndQuery };
}

/** The parameters a Twilio signature covers for this request, or a refusal when it would not cover the body. */
function signedParams(req: SignedRequest, bodyHashed: boolean, code: 'SIGNATURE_INVALID' | 'INTERNAL'): TwilioParams {
  if (bodyHashed) return {};
  if (mediaTypeOf(req.headers['content-type']) === FORM) return formParams(req.body);
  if (req.body.length === 0) return {};
  throw new GatewayError(
    code,
    'twilio signature: a body that is not a form must be covered by bodySHA256 in the URL (otherwise the signature covers the URL only)',
  );
}
