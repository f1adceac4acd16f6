/**
 * Email tokens: `<localToken>@<domainToken>.<suffix>`, themselves valid (never deliverable) addresses.
 *
 * The local part and the domain are tokenized separately. The domain token depends only on (tokenKey,
 * namespace, domain), so every user of one domain shares one domain token and platforms can still group
 * by domain; `preserve` keeps the real domain, `{ sink }` puts every token under one fixed domain. The local
 * token (16 derived + 5 check characters, lower-case base32) carries the keyed check, so a token is
 * recognized whatever the domain policy.
 *
 * Validation is a linear scanner (no regex): hostile input cannot make it backtrack. See docs/tokens.md
 * for the accepted syntax and why the whole address is lower-cased.
 */
import { GatewayError } from '../errors.js';
import { hmacSha256 } from '../crypto/hmac.js';
import { checkChars, matchesAt } from './check.js';
import {
  BASE32,
  ByteSource,
  MAX_BUMPS,
  allIn,
  bumpsExhausted,
  charTable,
  tokenMaterial,
  type FormatKeys,
  type VariantFormat,
} from './derive.js';

export type EmailDomainPolicy = 'tokenize' | 'preserve' | { sink: string };

export interface EmailFormatOptions {
  /** Already validated and lower-cased by the caller (tokens/index.ts) or by `validateDomainOption`. */
  readonly domain: EmailDomainPolicy;
  readonly suffix: string;
}

export const EMAIL_DEFAULT_SUFFIX = 'tok.invalid';
/** Derived characters of the local token (80 bits). */
export const EMAIL_LOCAL_BODY = 16;
/** Check characters of the local token (25 bits: 1 in 33,554,432). */
export const EMAIL_LOCAL_CHECK = 5;
/** Characters of a domain token label (80 bits). */
export const EMAIL_DOMAIN_TOKEN = 16;
const LOCAL_LEN = EMAIL_LOCAL_BODY + EMAIL_LOCAL_CHECK;
const DOMAIN_CACHE_SIZE = 1024;

const MAX_ADDRESS = 254; // RFC 5321 path limit (256) minus the angle brackets
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_LABEL = 63;

// RFC 5322 atext: ALPHA DIGIT ! # $ % & ' * + - / = ? ^ _ ` { | } ~
const ATEXT = charTable("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789!#$%&'*+-/=?^_`{|}~");
const BASE32_TABLE = charTable(BASE32);

function invalidValue(reason: string): GatewayError {
  return new GatewayError('INVALID_VALUE', `not a valid email address: ${reason}`);
}

/**
 * Why s[from, to) is not a domain name we accept, or null when it is: 2+ dot-separated labels of letters,
 * digits and hyphens (1-63 characters, no hyphen at either end), at most 253 characters, the last label
 * holding a letter (so IPv4-looking domains are refused). Any letter case is accepted.
 */
export function domainProblem(s: string, from: number, to: number): string | null {
  const length = to - from;
  if (length === 0) return 'empty domain';
  if (length > MAX_DOMAIN) return `domain longer than ${MAX_DOMAIN} characters`;
  let labels = 0;
  let labelStart = from;
  let lastLabelHasLetter = false;
  for (let i = from; i <= to; i++) {
    const c = i === to ? 46 : s.charCodeAt(i); // treat the end as a final '.'
    if (c === 46) {
      const labelLength = i - labelStart;
      if (labelLength === 0) return 'empty domain label';
      if (labelLength > MAX_LABEL) return `domain label longer than ${MAX_LABEL} characters`;
      if (s.charCodeAt(labelStart) === 45 || s.charCodeAt(i - 1) === 45) return 'domain label starts or ends with a hyphen';
      labels++;
      labelStart = i + 1;
      if (i !== to) lastLabelHasLetter = false;
      continue;
    }
    const isLetter = (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
    if (isLetter) lastLabelHasLetter = true;
    else if (!(c >= 48 && c <= 57) && c !== 45) {
      if (c === 91) return 'address literals are not supported';
      if (c >= 128) return 'internationalized domains must be given in punycode (xn--)';
      return 'domain holds a character other than letters, digits, hyphens and dots';
    }
  }
  if (labels < 2) return 'domain needs at least two labels';
  if (!lastLabelHasLetter) return 'top-level domain holds no letter';
  return null;
}

/** Why s[0, at) is not a local part we accept, or null: dot-atom of atext, 1-64 characters. */
function localProblem(s: string, at: number): string | null {
  if (at === 0) return 'empty local part';
  if (at > MAX_LOCAL) return `local part longer than ${MAX_LOCAL} characters`;
  let previousDot = true; // a leading dot counts as following a dot
  for (let i = 0; i < at; i++) {
    const c = s.charCodeAt(i);
    if (c === 46) {
      if (previousDot) return 'local part has a leading or doubled dot';
      previousDot = true;
    } else if (c < 128 && ATEXT[c] === 1) {
      previousDot = false;
    } else if (c === 34) {
      return 'quoted local parts are not supported';
    } else if (c >= 128) {
      return 'internationalized local parts are not supported';
    } else {
      return 'local part holds a character not allowed unquoted';
    }
  }
  if (previousDot) return 'local part ends with a dot';
  return null;
}

/**
 * Why a trimmed address is refused, or null when it is valid (`maxDomain`: the longest domain accepted).
 * The one validation both normalize() and tryNormalize() run: nothing here throws.
 */
function addressProblem(s: string, maxDomain: number): string | null {
  if (s.length > MAX_ADDRESS) return `longer than ${MAX_ADDRESS} characters`;
  const at = s.indexOf('@');
  if (at < 0) return 'no @';
  if (s.indexOf('@', at + 1) >= 0) return 'more than one @';
  const problem = localProblem(s, at) ?? domainProblem(s, at + 1, s.length);
  if (problem !== null) return problem;
  if (s.length - at - 1 > maxDomain) return `domain longer than ${maxDomain} characters cannot be preserved`;
  return null;
}

/** The variant string of an email format: only the options that change its tokens. */
export function emailVariant(options: EmailFormatOptions): string {
  const d = options.domain;
  if (d === 'tokenize') return `email;domain=tokenize;suffix=${options.suffix}`;
  return d === 'preserve' ? 'email;domain=preserve' : `email;domain=sink:${d.sink}`;
}

/**
 * Builds an email format. `options` must already be valid (tokens/index.ts validates rule options).
 *
 * @example
 *   const f = createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' });
 *   f.derive(f.normalize(' Ada@Example.com '), 'default', 0); // 'k3…@q7….tok.invalid'
 */
export function createEmailFormat(keys: FormatKeys, options: EmailFormatOptions): VariantFormat {
  const policy = options.domain;
  const domainMode = typeof policy === 'string' ? policy : 'sink';
  const sink = typeof policy === 'object' ? policy.sink : '';
  const suffix = options.suffix;
  const variant = emailVariant(options);
  // The longest real domain that still fits next to a local token within 254 characters.
  const maxPreservedDomain = MAX_ADDRESS - LOCAL_LEN - 1;
  const maxDomain = domainMode === 'preserve' ? maxPreservedDomain : MAX_DOMAIN;

  // Few domains carry most addresses (gmail.com...): remember their tokens. Bounded; reset when full.
  const domainTokens = new Map<string, string>();
  function domainToken(namespace: string, domain: string): string {
    const key = `${namespace}\0${domain}`;
    let token = domainTokens.get(key);
    if (token === undefined) {
      const source = new ByteSource(keys.tokenKey, hmacSha256(keys.tokenKey, 'email-domain', namespace, domain));
      token = `${source.string(BASE32, EMAIL_DOMAIN_TOKEN)}.${suffix}`;
      if (domainTokens.size >= DOMAIN_CACHE_SIZE) domainTokens.clear();
      domainTokens.set(key, token);
    }
    return token;
  }

  return Object.freeze({
    type: 'email' as const,
    variant,

    normalize(raw: string): string {
      const s = raw.trim();
      const problem = addressProblem(s, maxDomain);
      if (problem !== null) throw invalidValue(problem);
      return s.toLowerCase(); // ASCII only at this point
    },

    tryNormalize(raw: string): string | undefined {
      const s = raw.trim();
      return addressProblem(s, maxDomain) === null ? s.toLowerCase() : undefined;
    },

    derive(normalized: string, namespace: string, attempt: number, entropy?: Buffer): string {
      const at = normalized.lastIndexOf('@');
      if (at <= 0) throw invalidValue('no @');
      const domain =
        domainMode === 'tokenize'
          ? domainToken(namespace, normalized.slice(at + 1))
          : domainMode === 'preserve'
            ? normalized.slice(at + 1)
            : sink;
      for (let bump = 0; bump < MAX_BUMPS; bump++) {
        const material = tokenMaterial(keys, variant, namespace, normalized, attempt, entropy, bump);
        const body = new ByteSource(keys.tokenKey, material).string(BASE32, EMAIL_LOCAL_BODY);
        const token = `${body}${checkChars(keys.checkKey, BASE32, EMAIL_LOCAL_CHECK, 'email', body)}@${domain}`;
        if (token !== normalized) return token;
      }
      throw bumpsExhausted('email');
    },

    // Recognizes email tokens of every domain policy and suffix (a detokenize rule names only the type).
    isToken(candidate: string): boolean {
      if (candidate.length <= LOCAL_LEN + 1 || candidate.length > MAX_ADDRESS) return false;
      if (candidate.charCodeAt(LOCAL_LEN) !== 64 /* @ */) return false;
      if (!allIn(BASE32_TABLE, candidate, 0, LOCAL_LEN)) return false;
      if (domainProblem(candidate, LOCAL_LEN + 1, candidate.length) !== null) return false;
      for (let i = LOCAL_LEN + 1; i < candidate.length; i++) {
        const c = candidate.charCodeAt(i);
        if (c >= 65 && c <= 90) return false; // tokens are lower-case
      }
      const body = candidate.slice(0, EMAIL_LOCAL_BODY);
      return matchesAt(candidate, EMAIL_LOCAL_BODY, checkChars(keys.checkKey, BASE32, EMAIL_LOCAL_CHECK, 'email', body));
    },
  });
}
