/**
 * Digits tokens: a digit string of the same length for numeric identifiers (account numbers, customer
 * ids, national ids), so fixed-width fields and numeric validation keep working.
 *
 * Inputs are 6 to 32 ASCII digits, taken as they are (no separators, no trimming). The last digits are
 * keyed check digits: 2 for 10+ digits (1 in 100 false positives), 1 below that (1 in 10), where the
 * token space is small and each digit counts. A token starts with 1-9 when the input did not start with 0,
 * so values parsed as numbers keep their length. Luhn or other check schemes of the input are not kept.
 */
import { GatewayError } from '../errors.js';
import { checkDigits, matchesAt } from './check.js';
import { ByteSource, DIGITS, MAX_BUMPS, allIn, bumpsExhausted, charTable, tokenMaterial, type FormatKeys, type VariantFormat } from './derive.js';

export const DIGITS_MIN = 6;
export const DIGITS_MAX = 32;

/** Check digits for a digits token of `length` digits. */
export function digitsCheckDigits(length: number): number {
  return length >= 10 ? 2 : 1;
}

const DIGIT_TABLE = charTable(DIGITS);

function isDigitString(s: string): boolean {
  return s.length >= DIGITS_MIN && s.length <= DIGITS_MAX && allIn(DIGIT_TABLE, s, 0, s.length);
}

/**
 * Builds the digits format (it has no options).
 *
 * @example
 *   const f = createDigitsFormat(keyring);
 *   f.derive('4012888888881881', 'default', 0); // 16 digits, not starting with 0
 */
export function createDigitsFormat(keys: FormatKeys): VariantFormat {
  const variant = 'digits';

  return Object.freeze({
    type: 'digits' as const,
    variant,

    normalize(raw: string): string {
      if (!isDigitString(raw)) {
        throw new GatewayError('INVALID_VALUE', `not a digit string (expected ${DIGITS_MIN} to ${DIGITS_MAX} digits 0-9)`);
      }
      return raw;
    },

    tryNormalize(raw: string): string | undefined {
      return isDigitString(raw) ? raw : undefined;
    },

    derive(normalized: string, namespace: string, attempt: number, entropy?: Buffer): string {
      if (!isDigitString(normalized)) throw new GatewayError('INVALID_VALUE', 'not a digit string (not normalized)');
      const checks = digitsCheckDigits(normalized.length);
      const lowFirst = normalized.charCodeAt(0) === 48 ? 0 : 1;
      for (let bump = 0; bump < MAX_BUMPS; bump++) {
        const source = new ByteSource(keys.tokenKey, tokenMaterial(keys, variant, namespace, normalized, attempt, entropy, bump));
        let head = DIGITS[lowFirst + source.below(10 - lowFirst)]!;
        for (let p = 1; p < normalized.length - checks; p++) head += DIGITS[source.below(10)]!;
        const token = head + checkDigits(keys.checkKey, checks, 'digits', head);
        if (token !== normalized) return token;
      }
      throw bumpsExhausted('digits');
    },

    isToken(candidate: string): boolean {
      if (!isDigitString(candidate)) return false;
      const headEnd = candidate.length - digitsCheckDigits(candidate.length);
      return matchesAt(candidate, headEnd, checkDigits(keys.checkKey, candidate.length - headEnd, 'digits', candidate.slice(0, headEnd)));
    },
  });
}
