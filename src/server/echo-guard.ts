/**
 * The echo guard: whatever a request resolved goes back to the caller as the token it came as.
 *
 * Providers echo the message in their answer (Twilio's 201 JSON carries `to` and `body`; an error may quote
 * the recipient). The request transform reports every token it resolved with its value
 * (TransformStats.resolved); before the response rules run, every occurrence of such a value in the
 * response (body and header values) is replaced with its token, in success and error answers alike. The
 * response rules then see tokens: a rule that tokenizes a field again keeps a token the guard wrote
 * (TransformDeps.keepTokens), so the caller gets back the very token it sent.
 *
 * What counts as an occurrence. The body is read as bytes (after Content-Encoding decoding), each value
 * looked for in the forms an echo can take:
 *   - as is (UTF-8 bytes; and the ISO-8859-1 bytes when the response declares that charset);
 *   - JSON-string escaped: minimal (`\"`, `\\`, controls), every non-ASCII character as `\uXXXX` (lower
 *     and upper-case hex), with `/` written `\/`, and escaped twice (JSON in a JSON string);
 *   - percent-encoded: encodeURIComponent's form, the form encoding (space as `+`), lower-case hex;
 *   - HTML-escaped (`&amp; &lt; &gt; &quot;` and `&#39;` or `&#x27;`, or only `& < >`), also inside JSON;
 *   - a phone number also without its leading '+' (a `digits` form), its token likewise.
 * Each form of the value is replaced by the same form of the token. Matching is leftmost-longest over all
 * forms of all values, non-overlapping, in one pass over the body (nothing written is looked at again).
 * Values per request are few, so the occurrences of each form are found with indexOf and then ordered; the
 * cost is (forms x body length), fine for the response size limit.
 *
 * Not replaced:
 *   - a value shorter than MIN_ECHO_CHARS (3) code points: a one- or two-character value (an initial, a
 *     two-letter name) cannot be told apart from unrelated text ("Al" in "Already", "ok" in a status), and
 *     carries little; such values are counted (`short`), never looked for;
 *   - an occurrence that runs on into an ASCII word: the character before (after) it and its first (last)
 *     character are both ASCII letters, or both ASCII digits ("Ann" in "Annual", a phone number inside a
 *     longer number). A letter that ends an escape (`\n`, `%41`, `\u00e9`) is not a word character.
 *
 * A response whose charset the gateway cannot read, or whose Content-Encoding it cannot decode, is refused
 * (502 UPSTREAM_RESPONSE_INVALID) when the request resolved anything: it is never passed back unchecked.
 * The value-to-token pairs live in memory for the one request and are never logged.
 */
import { bodyCharset, type BodyCharset } from '../codecs/charset.js';
import { rewriteEncoded } from '../codecs/content-encoding.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { charset } from '../proxy/headers.js';
import type { HeaderMap, ResolvedPair } from '../transform/engine.js';

/** Values shorter than this (in code points) are not looked for in responses (see the module comment). */
export const MIN_ECHO_CHARS = 3;

export interface EchoGuard {
  /** Every token the guard can write, as a field would hold it (canonical, and a phone's without '+'). */
  readonly tokens: ReadonlySet<string>;
  /** Resolved values too short to be looked for. */
  readonly short: number;
  /** The text (a byte view: one char per byte, as Buffer 'latin1') with every echo replaced; same string when none. */
  replaceBytes(text: string, charset: BodyCharset): string;
  /** A body with every echo replaced; the same Buffer when there is none. */
  replaceBody(body: Buffer, charset: BodyCharset): Buffer;
  /** A header value (node's byte view of the header) with every echo replaced. */
  replaceHeader(value: string): string;
}

interface Pattern {
  readonly find: string;
  readonly write: string;
}

/**
 * The guard for one request's resolved pairs; undefined when there is nothing to look for.
 *
 * @example
 *   const guard = createEchoGuard([{ value: '+15558675310', token: '+15550001234', type: 'phone' }]);
 *   guard.replaceBody(Buffer.from('{"to":"+15558675310"}'), 'utf-8').toString() // '{"to":"+15550001234"}'
 */
export function createEchoGuard(pairs: readonly ResolvedPair[]): EchoGuard | undefined {
  const utf8 = new Map<string, string>();
  const latin1 = new Map<string, string>();
  const tokens = new Set<string>();
  let short = 0;
  // Two tokens resolved to one value: the first one's token is written (either is a token the caller sent).
  for (const pair of pairs) {
    if (pair.value === pair.token) continue;
    if ([...pair.value].length < MIN_ECHO_CHARS) {
      short++;
      continue;
    }
    const bases: [string, string][] = [[pair.value, pair.token]];
    if (pair.type === 'phone' && pair.value.startsWith('+') && pair.token.startsWith('+')) bases.push([pair.value.slice(1), pair.token.slice(1)]);
    for (const [value, token] of bases) {
      tokens.add(token);
      for (const text of TEXT_FORMS) {
        const tv = text(value);
        const tt = text(token);
        add(utf8, latin1, tv, tt);
        // Only a text with a character JSON escapes has other JSON forms.
        if (JSON_SPECIAL.test(tv)) for (const json of JSON_FORMS) add(utf8, latin1, json(tv), json(tt));
      }
    }
  }
  if (utf8.size === 0) return short === 0 ? undefined : { tokens, short, replaceBytes: (t) => t, replaceBody: (b) => b, replaceHeader: (v) => v };
  const utf8Patterns = toPatterns(utf8);
  // A body declared ISO-8859-1: its own bytes of the value, and the UTF-8 ones (a mislabelled body).
  const latin1Patterns = toPatterns(new Map([...utf8, ...latin1]));
  const replaceBytes = (text: string, cs: BodyCharset): string => replaceAll(text, cs === 'iso-8859-1' ? latin1Patterns : utf8Patterns);
  return {
    tokens,
    short,
    replaceBytes,
    replaceBody(body, cs) {
      const text = body.toString('latin1');
      const out = replaceBytes(text, cs);
      return out === text ? body : Buffer.from(out, 'latin1');
    },
    replaceHeader: (value) => replaceAll(value, latin1Patterns),
  };
}

/** Records one form: its UTF-8 bytes (as a byte view) and, when it fits, its ISO-8859-1 bytes. */
function add(utf8: Map<string, string>, latin1: Map<string, string>, find: string, write: string): void {
  if (ASCII.test(find) && ASCII.test(write)) {
    if (!utf8.has(find)) utf8.set(find, write);
    return;
  }
  const asUtf8 = Buffer.from(find, 'utf8').toString('latin1');
  if (!utf8.has(asUtf8)) utf8.set(asUtf8, Buffer.from(write, 'utf8').toString('latin1'));
  if (fitsLatin1(find) && !latin1.has(find)) latin1.set(find, write);
}

const ASCII = /^[\x00-\x7f]*$/;
/** A character some JSON form writes differently: a quote, a backslash, a control, '/', non-ASCII. */
const JSON_SPECIAL = /["\\/\x00-\x1f\u0080-\uffff]/;

function toPatterns(map: ReadonlyMap<string, string>): readonly Pattern[] {
  return [...map].map(([find, write]) => ({ find, write })).sort((a, b) => b.find.length - a.find.length);
}

function fitsLatin1(s: string): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > 0xff) return false;
  return true;
}

// ---------------------------------------------------------------------------------------------------------------
// The forms of a value

const jsonMinimal = (s: string): string => JSON.stringify(s).slice(1, -1);
const jsonAscii = (upper: boolean) => (s: string): string =>
  jsonMinimal(s).replace(/[^\x00-\x7f]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    return `\\u${upper ? hex.toUpperCase() : hex}`;
  });
const slashed = (f: (s: string) => string) => (s: string): string => f(s).replaceAll('/', '\\/');
const percentLower = (f: (s: string) => string) => (s: string): string => f(s).replace(/%[0-9A-F]{2}/g, (e) => e.toLowerCase());
/** application/x-www-form-urlencoded as URLSearchParams writes it: only *-._ and alphanumerics kept, space as '+'. */
const formEncoded = (s: string): string =>
  encodeURIComponent(s).replace(/[!'()~]/g, (c) => `%${c.charCodeAt(0).toString(16).toUpperCase()}`).replaceAll('%20', '+');
const htmlFull = (apos: string) => (s: string): string =>
  s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;').replaceAll('"', '&quot;').replaceAll("'", apos);
const htmlMinimal = (s: string): string => s.replaceAll('&', '&amp;').replaceAll('<', '&lt;').replaceAll('>', '&gt;');

const TEXT_FORMS: readonly ((s: string) => string)[] = [
  (s) => s,
  encodeURIComponent,
  percentLower(encodeURIComponent),
  formEncoded,
  percentLower(formEncoded),
  htmlFull('&#39;'),
  htmlFull('&#x27;'),
  htmlMinimal,
];
/** The JSON-string forms of a text other than the text itself. */
const JSON_FORMS: readonly ((s: string) => string)[] = [
  jsonMinimal,
  jsonAscii(false),
  jsonAscii(true),
  slashed(jsonMinimal),
  slashed(jsonAscii(false)),
  slashed(jsonAscii(true)),
  // A JSON document in a JSON string (a provider echoing a parameter that is itself JSON)
  (s) => jsonMinimal(jsonMinimal(s)),
  (s) => jsonAscii(false)(jsonMinimal(s)),
  (s) => jsonAscii(true)(jsonMinimal(s)),
];

// ---------------------------------------------------------------------------------------------------------------
// Matching

interface Hit {
  readonly start: number;
  readonly end: number;
  readonly write: string;
}

/** Leftmost-longest, non-overlapping, one pass: `patterns` are sorted longest first. */
function replaceAll(text: string, patterns: readonly Pattern[]): string {
  const hits: Hit[] = [];
  for (const p of patterns) {
    for (let at = text.indexOf(p.find); at !== -1; at = text.indexOf(p.find, at + 1)) {
      if (standsAlone(text, at, at + p.find.length)) hits.push({ start: at, end: at + p.find.length, write: p.write });
    }
  }
  if (hits.length === 0) return text;
  hits.sort((a, b) => a.start - b.start || b.end - a.end);
  let out = '';
  let from = 0;
  for (const h of hits) {
    if (h.start < from) continue; // overlaps a longer or earlier hit
    out += text.slice(from, h.start) + h.write;
    from = h.end;
  }
  return out + text.slice(from);
}

const enum Kind {
  Other,
  Letter,
  Digit,
}

function kindOf(code: number): Kind {
  if (code >= 0x30 && code <= 0x39) return Kind.Digit;
  if ((code >= 0x41 && code <= 0x5a) || (code >= 0x61 && code <= 0x7a)) return Kind.Letter;
  return Kind.Other;
}

const isHex = (code: number): boolean => kindOf(code) === Kind.Digit || (code >= 0x41 && code <= 0x46) || (code >= 0x61 && code <= 0x66);

/** False when the match at [start, end) runs on into an ASCII word or number on either side. */
function standsAlone(text: string, start: number, end: number): boolean {
  if (start > 0) {
    const before = kindOf(text.charCodeAt(start - 1));
    if (before !== Kind.Other && before === kindOf(text.charCodeAt(start)) && !endsEscape(text, start)) return false;
  }
  if (end < text.length) {
    const after = kindOf(text.charCodeAt(end));
    if (after !== Kind.Other && after === kindOf(text.charCodeAt(end - 1))) return false;
  }
  return true;
}

/** True when the characters just before `at` are an escape (`\n`, `%4A`, `\u00e9`), not a word. */
function endsEscape(text: string, at: number): boolean {
  if (at >= 2 && text.charCodeAt(at - 2) === 0x5c) return true; // \n \t \r \b \f
  if (at >= 3 && text.charCodeAt(at - 3) === 0x25 && isHex(text.charCodeAt(at - 2)) && isHex(text.charCodeAt(at - 1))) return true;
  if (at >= 6 && text.charCodeAt(at - 6) === 0x5c && text.charCodeAt(at - 5) === 0x75) {
    for (let k = 1; k <= 4; k++) if (!isHex(text.charCodeAt(at - k))) return false;
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------------------------------
// On a response

/**
 * The upstream answer with every echo replaced: header values, and the body after Content-Encoding decoding
 * (re-encoded the same way when changed; the original bytes when not).
 *
 * @throws GatewayError UPSTREAM_RESPONSE_INVALID (502) when the body's charset or Content-Encoding cannot be
 *   read (or it decodes past `limit`): an answer that may echo a resolved value is never passed back unchecked.
 */
export async function guardResponse(guard: EchoGuard, body: Buffer, headers: HeaderMap, limit: number): Promise<{ body: Buffer; headers: HeaderMap }> {
  let outHeaders = headers;
  for (const name in headers) {
    const v = headers[name]!;
    const out = typeof v === 'string' ? guard.replaceHeader(v) : v.map((x) => guard.replaceHeader(x));
    const changed = typeof v === 'string' ? out !== v : (out as string[]).some((x, i) => x !== v[i]);
    if (changed) {
      if (outHeaders === headers) outHeaders = { ...headers };
      (outHeaders as Record<string, string | string[]>)[name] = out;
    }
  }
  if (body.length === 0) return { body, headers: outHeaders };
  const cs = bodyCharset(charset(headers['content-type']));
  if (cs === undefined) {
    throw new GatewayError(
      'UPSTREAM_RESPONSE_INVALID',
      'upstream response: its charset is not one the gateway can read, and this request resolved tokens: it is not passed back unchecked',
    );
  }
  try {
    const out = await rewriteEncoded(body, headers['content-encoding'], limit, async (plain) => guard.replaceBody(plain, cs));
    return { body: out, headers: outHeaders };
  } catch (err) {
    if (isGatewayError(err) && err.status !== 502) {
      throw new GatewayError('UPSTREAM_RESPONSE_INVALID', `upstream response: ${err.message}; this request resolved tokens: it is not passed back unchecked`, { cause: err });
    }
    throw err;
  }
}
