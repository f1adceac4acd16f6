/**
 * Phone tokens: E.164 numbers with the same country calling code and the same number of digits as the
 * real number, so platforms that validate, route or bill by country keep working.
 *
 * The national digits are derived; the last ones are keyed check digits (2 for national numbers of 8+
 * digits, 1 for shorter ones, where every digit of token space counts). The first national digit is never
 * 0, and for NANP (+1, 10 national digits) the area code and exchange start with 2-9 as the plan requires.
 * See docs/tokens.md for the normalization rules and the false-positive rates.
 */
import { GatewayError } from '../errors.js';
import { callingCodeLength } from './calling-codes.js';
import { checkDigits, matchesAt } from './check.js';
import { ByteSource, DIGITS, MAX_BUMPS, bumpsExhausted, tokenMaterial, type FormatKeys, type VariantFormat } from './derive.js';

/** E.164 allows at most 15 digits. */
export const PHONE_MAX_DIGITS = 15;
/** Fewest digits accepted (country code included): +683 and +690 have 4-digit national numbers. */
export const PHONE_MIN_DIGITS = 7;

/** Check digits for a national number of `nationalLength` digits. */
export function phoneCheckDigits(nationalLength: number): number {
  return nationalLength >= 8 ? 2 : 1;
}

const NOT_E164 = 'not an E.164 phone number';

function invalidValue(reason: string): GatewayError {
  return new GatewayError('INVALID_VALUE', `${NOT_E164} (${reason})`);
}

/** Separators people put in phone numbers: space, tab, no-break space, '-', '.', '(', ')'. */
function isSeparator(c: number): boolean {
  return c === 32 || c === 9 || c === 0xa0 || c === 45 || c === 46 || c === 40 || c === 41;
}

/** What an invalid value turns into: normalize() throws, tryNormalize() answers undefined. */
type OnInvalid<F> = (reason: string) => F;
const THROW: OnInvalid<never> = (reason) => {
  throw invalidValue(reason);
};
const UNDEFINED: OnInvalid<undefined> = () => undefined;

/**
 * The E.164 form '+<digits>' of a raw phone number, or `invalid(reason)` (see normalize() in docs/tokens.md).
 * The one validation both normalize() and tryNormalize() run.
 */
function canonicalPhone<F>(raw: string, invalid: OnInvalid<F>): string | F {
  let digits = '';
  let plus = false;
  for (let i = 0; i < raw.length; i++) {
    const c = raw.charCodeAt(i);
    if (c >= 48 && c <= 57) {
      // 2 more than E.164's 15 for a '00' international prefix; anything longer is refused early.
      if (digits.length >= PHONE_MAX_DIGITS + 2) return invalid(`more than ${PHONE_MAX_DIGITS} digits`);
      digits += raw[i];
    } else if (c === 43 /* + */) {
      if (plus || digits.length > 0) return invalid("'+' only at the start");
      plus = true;
    } else if (!isSeparator(c)) {
      return invalid('only digits, spaces, dashes, dots and parentheses are allowed');
    }
  }
  if (!plus) {
    if (digits.charCodeAt(0) !== 48 || digits.charCodeAt(1) !== 48) {
      return invalid("expected an international number starting with '+' or '00'");
    }
    digits = digits.slice(2);
  }
  if (digits.length < PHONE_MIN_DIGITS || digits.length > PHONE_MAX_DIGITS) {
    return invalid(`expected ${PHONE_MIN_DIGITS} to ${PHONE_MAX_DIGITS} digits`);
  }
  if (callingCodeLength(digits) === 0) return invalid('unknown country calling code');
  return `+${digits}`;
}

/** The digits of a normalized '+digits' string must form a valid number; returns the calling code length. */
function splitCanonical(s: string): number {
  const digits = s.length - 1;
  if (s.charCodeAt(0) !== 43 || digits < PHONE_MIN_DIGITS || digits > PHONE_MAX_DIGITS) return 0;
  for (let i = 1; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return 0;
  }
  return callingCodeLength(s, 1);
}

/** Whether a national digit position must avoid 0 (and for NANP also 1). Returns the lowest allowed digit. */
function lowestDigit(isNanp10: boolean, position: number): number {
  if (position === 0) return isNanp10 ? 2 : 1;
  if (isNanp10 && position === 3) return 2;
  return 0;
}

/**
 * Builds the phone format (it has no options).
 *
 * @example
 *   const f = createPhoneFormat(keyring);
 *   f.derive(f.normalize('+44 (20) 7183-8750'), 'default', 0); // '+44' + 10 digits
 */
export function createPhoneFormat(keys: FormatKeys): VariantFormat {
  const variant = 'phone';

  return Object.freeze({
    type: 'phone' as const,
    variant,

    normalize(raw: string): string {
      return canonicalPhone(raw, THROW);
    },

    tryNormalize(raw: string): string | undefined {
      return canonicalPhone(raw, UNDEFINED);
    },

    derive(normalized: string, namespace: string, attempt: number, entropy?: Buffer): string {
      const ccLength = splitCanonical(normalized);
      if (ccLength === 0) throw invalidValue('not normalized');
      const prefix = normalized.slice(0, 1 + ccLength);
      const nationalLength = normalized.length - prefix.length;
      const checks = phoneCheckDigits(nationalLength);
      const isNanp10 = ccLength === 1 && normalized.charCodeAt(1) === 49 && nationalLength === 10;
      for (let bump = 0; bump < MAX_BUMPS; bump++) {
        const source = new ByteSource(keys.tokenKey, tokenMaterial(keys, variant, namespace, normalized, attempt, entropy, bump));
        let head = prefix;
        for (let p = 0; p < nationalLength - checks; p++) {
          const low = lowestDigit(isNanp10, p);
          head += DIGITS[low + source.below(10 - low)]!;
        }
        const token = head + checkDigits(keys.checkKey, checks, 'phone', head);
        if (token !== normalized) return token;
      }
      throw bumpsExhausted('phone');
    },

    isToken(candidate: string): boolean {
      const ccLength = splitCanonical(candidate);
      if (ccLength === 0) return false;
      const nationalStart = 1 + ccLength;
      const nationalLength = candidate.length - nationalStart;
      const isNanp10 = ccLength === 1 && candidate.charCodeAt(1) === 49 && nationalLength === 10;
      if (candidate.charCodeAt(nationalStart) - 48 < lowestDigit(isNanp10, 0)) return false;
      if (isNanp10 && candidate.charCodeAt(nationalStart + 3) - 48 < 2) return false;
      const checks = phoneCheckDigits(nationalLength);
      const headEnd = candidate.length - checks;
      return matchesAt(candidate, headEnd, checkDigits(keys.checkKey, checks, 'phone', candidate.slice(0, headEnd)));
    },
  });
}
