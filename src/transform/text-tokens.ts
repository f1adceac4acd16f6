/**
 * Finding our own tokens inside free text (the `detokenize-text` action), and writing resolved values back
 * escaped for where they land.
 *
 * One pass over the text, no regular expressions: the text is cut into maximal runs of the characters a
 * token can hold (ASCII letters, digits, `_ - . @ +`); leading and trailing dots are taken off a run (a
 * sentence's full stop); each run is then a candidate of the one shape it has, and the shape's token format
 * decides with its keyed check (`format.isToken`, no vault call; vaultless tokens too when configured):
 *
 *   email   one '@'                                  email isToken (stored and vaultless, any domain policy)
 *   phone   '+' and 7-15 digits                      phone isToken (only when the rule lists phone)
 *   digits  6-32 digits                              digits isToken (only when the rule lists digits)
 *   opaque  no '@', '+' or '.', 22+ characters       opaque isToken (any prefix)
 *
 * Delimited: a run is maximal, so a token glued to other ASCII letters or digits is part of a longer run and
 * fails its check; a run next to a non-ASCII letter, digit or mark (`ätok_…`) is not a candidate either.
 * Each run's characters are looked at a bounded number of times, so the cost is linear in the text.
 *
 * Altered tokens (what a template filter made of one: upper-cased, truncated, URL-encoded) are not tokens;
 * they are counted so a metric can show them: an email-shaped run under the reserved `.tok.invalid`
 * domain, or whose lower-cased form is a token, that is not a token; a run ending in `.tok.invalid` with no
 * '@' (its '@' was percent-encoded); an opaque-shaped or shorter run starting with `tok_` (any case) that is
 * not a token.
 */
import { GatewayError } from '../errors.js';
import { EMAIL_DEFAULT_SUFFIX, EMAIL_LOCAL_BODY, EMAIL_LOCAL_CHECK } from '../tokens/email.js';
import { OPAQUE_BODY, OPAQUE_CHECK, OPAQUE_DEFAULT_PREFIX } from '../tokens/opaque.js';
import { PHONE_MAX_DIGITS, PHONE_MIN_DIGITS } from '../tokens/phone.js';
import { DIGITS_MAX, DIGITS_MIN } from '../tokens/digits.js';
import type { TokenSpec } from '../tokens/types.js';
import type { TextEscape } from '../rules/types.js';

/** One token found: text.slice(start, end) is the token as written; `spec` recognized it. */
export interface TextToken {
  readonly start: number;
  readonly end: number;
  readonly spec: TokenSpec;
}

export interface FoundTokens {
  readonly tokens: readonly TextToken[];
  /** Token-like strings that are not tokens (see the module header). */
  readonly altered: number;
}

const EMAIL_LOCAL = EMAIL_LOCAL_BODY + EMAIL_LOCAL_CHECK;
const OPAQUE_TAIL = OPAQUE_BODY + OPAQUE_CHECK;
/** Longest run looked at: a vaultless opaque token grows with its value; anything longer is not checked. */
const MAX_CANDIDATE = 2048;
const RESERVED_DOMAIN = `.${EMAIL_DEFAULT_SUFFIX}`;

/** 1 for the ASCII characters a token run can hold. */
const RUN = new Uint8Array(128);
for (const c of 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_-.@+') RUN[c.charCodeAt(0)] = 1;

const WORDLIKE = /^[\p{L}\p{N}\p{M}]$/u;

/** True when the code point ending just before `i` (or starting at `i`) is a non-ASCII letter, digit or mark. */
function nonAsciiWordAt(text: string, i: number, before: boolean): boolean {
  if (i < 0 || i >= text.length) return false;
  const c = text.charCodeAt(i);
  if (c < 128) return false;
  let cp: number;
  if (before && c >= 0xdc00 && c <= 0xdfff && i > 0) cp = text.codePointAt(i - 1) ?? c;
  else cp = text.codePointAt(i) ?? c;
  return WORDLIKE.test(String.fromCodePoint(cp));
}

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

function endsWithIgnoreCase(s: string, suffix: string): boolean {
  return s.length >= suffix.length && s.slice(s.length - suffix.length).toLowerCase() === suffix;
}

/**
 * The tokens of `specs` (one per type, in the rule's order) in `text`, in order, non-overlapping.
 *
 * @example
 *   findTokensInText('Hi tok_LfE0dNiRVz1lNvHJfLK8C5, thanks', [opaqueSpec]).tokens // [{ start: 3, end: 29, spec }]
 */
export function findTokensInText(text: string, specs: readonly TokenSpec[]): FoundTokens {
  const tokens: TextToken[] = [];
  let altered = 0;
  const email = specs.find((s) => s.type === 'email');
  const opaque = specs.find((s) => s.type === 'opaque');
  const n = text.length;
  let i = 0;
  while (i < n) {
    const c0 = text.charCodeAt(i);
    if (c0 >= 128 || RUN[c0] !== 1) {
      i++;
      continue;
    }
    let start = i;
    let ats = 0;
    let dots = 0;
    let plus = 0;
    let digits = 0;
    while (i < n) {
      const c = text.charCodeAt(i);
      if (c >= 128 || RUN[c] !== 1) break;
      if (c === 64) ats++;
      else if (c === 46) dots++;
      else if (c === 43) plus++;
      else if (isDigit(c)) digits++;
      i++;
    }
    let end = i;
    while (start < end && text.charCodeAt(start) === 46) {
      start++;
      dots--;
    }
    while (end > start && text.charCodeAt(end - 1) === 46) {
      end--;
      dots--;
    }
    const length = end - start;
    if (length === 0 || length > MAX_CANDIDATE) continue;
    if (nonAsciiWordAt(text, start - 1, true) || nonAsciiWordAt(text, end, false)) continue;
    const s = text.slice(start, end);

    let found: TokenSpec | undefined;
    for (const spec of specs) {
      let shaped: boolean;
      switch (spec.type) {
        case 'email':
          shaped = ats === 1;
          break;
        case 'phone':
          shaped = plus === 1 && s.charCodeAt(0) === 43 && digits === length - 1 && digits >= PHONE_MIN_DIGITS && digits <= PHONE_MAX_DIGITS;
          break;
        case 'digits':
          shaped = digits === length && length >= DIGITS_MIN && length <= DIGITS_MAX;
          break;
        case 'opaque':
          shaped = ats === 0 && plus === 0 && dots === 0 && length >= OPAQUE_TAIL;
          break;
      }
      if (shaped && spec.format.isToken(s)) {
        found = spec;
        break;
      }
    }
    if (found !== undefined) {
      tokens.push({ start, end, spec: found });
      continue;
    }
    if (email !== undefined && isAlteredEmail(s, ats, email)) altered++;
    else if (opaque !== undefined && ats === 0 && length > OPAQUE_DEFAULT_PREFIX.length && s.slice(0, OPAQUE_DEFAULT_PREFIX.length).toLowerCase() === OPAQUE_DEFAULT_PREFIX) {
      altered++;
    }
  }
  return { tokens, altered };
}

function isAlteredEmail(s: string, ats: number, email: TokenSpec): boolean {
  if (ats === 0) return endsWithIgnoreCase(s, RESERVED_DOMAIN); // its '@' was percent-encoded (%40)
  if (ats !== 1) return false;
  if (endsWithIgnoreCase(s, RESERVED_DOMAIN)) return true;
  // emailDomain: preserve under a real domain: the local part is the token's shape, upper-cased
  if (s.charCodeAt(EMAIL_LOCAL) !== 64) return false;
  const lower = s.toLowerCase();
  return lower !== s && email.format.isToken(lower);
}

const HTML_ENTITIES: Readonly<Record<string, string>> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const HTML_SPECIAL = /[&<>"']/g;
const HEADER_BREAKING = /[\r\n\0]/;

/**
 * `value` written for `escape` (the codec's own escaping applies on top). `header`: a value holding CR, LF
 * or NUL is refused with INVALID_VALUE naming `path`, never the value.
 *
 * @example
 *   escapeText('Ann <Lee & Co>', 'html', '$.content[1].value') // 'Ann &lt;Lee &amp; Co&gt;'
 */
export function escapeText(value: string, escape: TextEscape, path: string): string {
  switch (escape) {
    case 'plain':
      return value;
    case 'html':
      return value.replace(HTML_SPECIAL, (ch) => HTML_ENTITIES[ch]!);
    case 'url':
      try {
        return encodeURIComponent(value).replace(/[!'()*]/g, (ch) => `%${ch.charCodeAt(0).toString(16).toUpperCase()}`);
      } catch {
        // a lone surrogate has no UTF-8 form
        throw new GatewayError('INVALID_VALUE', `${path}: a value resolved inside this text cannot be URL-encoded`, { field: path });
      }
    case 'header':
      if (HEADER_BREAKING.test(value)) {
        throw new GatewayError(
          'INVALID_VALUE',
          `${path}: a value resolved inside this text holds a line break or NUL, which would break a header or subject line`,
          { field: path },
        );
      }
      return value;
  }
}
