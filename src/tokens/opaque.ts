/**
 * Opaque tokens: `<prefix><18 base62 characters><4 base62 check characters>`, e.g.
 * `tok_4fQ9xZ0aLmB7cD2eRt8Kp1Vw`. For any value at all (names, addresses, free text): the token says
 * nothing about the value, not even its length.
 *
 * 18 derived characters carry ~107 bits, so derived tokens do not collide in practice; 4 check
 * characters make a random 22-character base62 string pass for one of ours with odds 1 in 14,776,336.
 * The check covers the prefix too, so a token with its prefix changed is not recognized.
 */
import { GatewayError } from '../errors.js';
import { checkChars, matchesAt } from './check.js';
import {
  BASE62,
  ByteSource,
  MAX_BUMPS,
  allIn,
  bumpsExhausted,
  charTable,
  tokenMaterial,
  type FormatKeys,
  type VariantFormat,
} from './derive.js';

export const OPAQUE_DEFAULT_PREFIX = 'tok_';
export const OPAQUE_MAX_PREFIX = 16;
/** Derived characters after the prefix. */
export const OPAQUE_BODY = 18;
/** Check characters at the end. */
export const OPAQUE_CHECK = 4;
const TAIL = OPAQUE_BODY + OPAQUE_CHECK;

const BASE62_TABLE = charTable(BASE62);
const PREFIX_TABLE = charTable(`${BASE62}_-`);

/** True for a valid opaque prefix: 0-16 characters of A-Z a-z 0-9 _ -. */
export function isValidOpaquePrefix(prefix: string): boolean {
  return prefix.length <= OPAQUE_MAX_PREFIX && allIn(PREFIX_TABLE, prefix, 0, prefix.length);
}

/** Any non-empty string can be tokenized as opaque (normalize() and tryNormalize() share this test). */
function isOpaqueValue(raw: string): boolean {
  return raw.length > 0;
}

/** The variant string of an opaque format. */
export function opaqueVariant(prefix: string): string {
  return `opaque;prefix=${prefix}`;
}

/**
 * Builds an opaque format with the given (already validated) prefix.
 *
 * @example
 *   const f = createOpaqueFormat(keyring, 'cus_');
 *   f.derive('Ada Lovelace', 'default', 0); // 'cus_' + 22 base62 characters
 */
export function createOpaqueFormat(keys: FormatKeys, prefix: string): VariantFormat {
  const variant = opaqueVariant(prefix);

  return Object.freeze({
    type: 'opaque' as const,
    variant,

    normalize(raw: string): string {
      if (!isOpaqueValue(raw)) throw new GatewayError('INVALID_VALUE', 'empty value cannot be tokenized');
      return raw;
    },

    tryNormalize(raw: string): string | undefined {
      return isOpaqueValue(raw) ? raw : undefined;
    },

    derive(normalized: string, namespace: string, attempt: number, entropy?: Buffer): string {
      for (let bump = 0; bump < MAX_BUMPS; bump++) {
        const source = new ByteSource(keys.tokenKey, tokenMaterial(keys, variant, namespace, normalized, attempt, entropy, bump));
        const body = source.string(BASE62, OPAQUE_BODY);
        const token = prefix + body + checkChars(keys.checkKey, BASE62, OPAQUE_CHECK, 'opaque', prefix, body);
        if (token !== normalized) return token;
      }
      throw bumpsExhausted('opaque');
    },

    // Recognizes opaque tokens of every prefix (a detokenize rule names only the type): the last 22
    // characters are the body and check, whatever comes before them is the prefix.
    isToken(candidate: string): boolean {
      const prefixLength = candidate.length - TAIL;
      if (prefixLength < 0 || prefixLength > OPAQUE_MAX_PREFIX) return false;
      if (!allIn(PREFIX_TABLE, candidate, 0, prefixLength) || !allIn(BASE62_TABLE, candidate, prefixLength, candidate.length)) {
        return false;
      }
      const check = checkChars(
        keys.checkKey,
        BASE62,
        OPAQUE_CHECK,
        'opaque',
        candidate.slice(0, prefixLength),
        candidate.slice(prefixLength, prefixLength + OPAQUE_BODY),
      );
      return matchesAt(candidate, prefixLength + OPAQUE_BODY, check);
    },
  });
}
