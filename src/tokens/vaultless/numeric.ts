/**
 * Vaultless phone and digits tokens: FF1 (radix 10) over the digits, then 2 keyed check digits.
 *
 *   phone:  +<country code> FF1(national digits) <check><check>   tweak = (namespace, country code)
 *   digits:                 FF1(digits)          <check><check>   tweak = (namespace)
 *
 * Why the token is 2 digits LONGER than the value: FF1 is a permutation of the n-digit strings, so a token
 * of exactly n digits has no redundancy at all: every n-digit string, a real phone number included, would
 * decrypt to some other number, and a real number sent to a detokenizing route would be resolved to a
 * stranger's number and a message delivered to them. The stored vault avoids this by lookup; a vaultless
 * token must carry its own evidence, and by counting (10^n values need 10^n tokens) that evidence cannot
 * fit inside the value's own n digits. 2 check digits make a string that is not our token pass with odds
 * 1 in 100 (docs/fleet.md#vaultless-tokens, false acceptance).
 *
 * The check is HMAC(check key, namespace, head) drawn into 2 digits, skipping the one value that would also
 * make the string pass the stored format's own check (tokens/phone.ts, tokens/digits.ts): a vaultless token
 * is therefore never a well-formed stored token and vice versa, so the two kinds of token can coexist (random
 * specs, tokens issued before the switch) and neither is ever sent to the other's resolver. The check depends
 * on the namespace: a token is recognized only in the namespace that made it (it would decrypt to garbage
 * anywhere else).
 *
 * The first digit keeps its class (0 or 1-9, by cycle walking: ciphers.ts), as the stored formats do. FF1's
 * minimum domain (10^6, NIST SP 800-38G Rev. 1) means at least 6 digits are encrypted; shorter values, and
 * values whose token would exceed E.164's 15 digits (phone) or the 32-digit digits format, are refused.
 */
import { hmacSha256 } from '../../crypto/hmac.js';
import type { Keyring } from '../../crypto/types.js';
import { GatewayError } from '../../errors.js';
import { callingCodeLength } from '../calling-codes.js';
import { matchesAt } from '../check.js';
import { ByteSource, DIGITS } from '../derive.js';
import { DIGITS_MAX } from '../digits.js';
import { PHONE_MAX_DIGITS } from '../phone.js';
import type { TokenFormat } from '../types.js';
import { FF1_MIN_DIGITS, ff1DigitsWithinClass, framed, vaultlessKey } from './ciphers.js';
import type { VaultlessScheme } from './types.js';

/** Check digits at the end of every vaultless phone and digits token. */
export const VAULTLESS_CHECK_DIGITS = 2;
/** Most digits (country code included) a phone number may have to get a vaultless token within E.164's 15. */
export const VAULTLESS_PHONE_MAX_DIGITS = PHONE_MAX_DIGITS - VAULTLESS_CHECK_DIGITS;
/** Most digits a digits value may have to get a vaultless token within the digits format's 32. */
export const VAULTLESS_DIGITS_MAX = DIGITS_MAX - VAULTLESS_CHECK_DIGITS;
/** Draws before giving up on a check value (each draw is refused with probability <= 1/10): never reached. */
const MAX_CHECK_DRAWS = 64;

function refuse(message: string): GatewayError {
  return new GatewayError('INVALID_VALUE', message);
}

/** The 2 check digits of `head` in `namespace`: keyed, and never the stored format's own check. */
function checkOf(key: Buffer, stored: TokenFormat, type: string, namespace: string, head: string): string {
  const source = new ByteSource(key, hmacSha256(key, 'vaultless-check', type, namespace, head));
  for (let i = 0; i < MAX_CHECK_DRAWS; i++) {
    const check = DIGITS[source.below(10)]! + DIGITS[source.below(10)]!;
    if (!stored.isToken(head + check)) return check;
  }
  throw new GatewayError('INTERNAL', `no ${type} check value outside the stored token space`);
}

function isDigits(s: string, from: number): boolean {
  for (let i = from; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 48 || c > 57) return false;
  }
  return true;
}

/**
 * The vaultless phone scheme. `stored` is the keyring's stored phone format (tokens/phone.ts), whose
 * tokens the check steers clear of.
 *
 * @example
 *   const phone = createVaultlessPhone(keyring, createPhoneFormat(keyring));
 *   phone.encrypt('+442071838750', 'default', 'phone'); // '+44' + 10 encrypted + 2 check digits
 */
export function createVaultlessPhone(keyring: Keyring, stored: TokenFormat): VaultlessScheme {
  const key = vaultlessKey(keyring.tokenKey, 'phone/ff1', 32);
  const checkKey = Buffer.from(vaultlessKey(keyring.tokenKey, 'phone/check', 32));
  return Object.freeze({
    type: 'phone' as const,

    encrypt(normalized: string, namespace: string): string {
      const cc = normalized.charCodeAt(0) === 43 && isDigits(normalized, 1) ? callingCodeLength(normalized, 1) : 0;
      if (cc === 0) throw refuse('not an E.164 phone number (not normalized)');
      const country = normalized.slice(1, 1 + cc);
      const national = normalized.slice(1 + cc);
      if (national.length < FF1_MIN_DIGITS) {
        throw refuse(
          `a vaultless phone token needs a national number of at least ${FF1_MIN_DIGITS} digits ` +
            '(FF1 minimum domain of 1,000,000, NIST SP 800-38G Rev. 1); leave type phone in the vault for such numbers',
        );
      }
      if (normalized.length - 1 > VAULTLESS_PHONE_MAX_DIGITS) {
        throw refuse(
          `a vaultless phone token adds ${VAULTLESS_CHECK_DIGITS} check digits and E.164 allows ${PHONE_MAX_DIGITS}: ` +
            `numbers of at most ${VAULTLESS_PHONE_MAX_DIGITS} digits (country code included) can be vaultless`,
        );
      }
      const head = `+${country}${ff1DigitsWithinClass(key, framed(namespace, country), national, 'encrypt')}`;
      return head + checkOf(checkKey, stored, 'phone', namespace, head);
    },

    open(namespace: string, candidate: string): string | undefined {
      if (candidate.length > PHONE_MAX_DIGITS + 1 || candidate.charCodeAt(0) !== 43 || !isDigits(candidate, 1)) return undefined;
      const cc = callingCodeLength(candidate, 1);
      if (cc === 0 || candidate.length - 1 - cc - VAULTLESS_CHECK_DIGITS < FF1_MIN_DIGITS) return undefined;
      const headEnd = candidate.length - VAULTLESS_CHECK_DIGITS;
      const head = candidate.slice(0, headEnd);
      if (!matchesAt(candidate, headEnd, checkOf(checkKey, stored, 'phone', namespace, head))) return undefined;
      const country = candidate.slice(1, 1 + cc);
      return `+${country}${ff1DigitsWithinClass(key, framed(namespace, country), head.slice(1 + cc), 'decrypt')}`;
    },
  });
}

/**
 * The vaultless digits scheme. `stored` is the keyring's stored digits format (tokens/digits.ts).
 *
 * @example
 *   const digits = createVaultlessDigits(keyring, createDigitsFormat(keyring));
 *   digits.encrypt('4012888888881881', 'default', 'digits'); // 18 digits, first one 1-9
 */
export function createVaultlessDigits(keyring: Keyring, stored: TokenFormat): VaultlessScheme {
  const key = vaultlessKey(keyring.tokenKey, 'digits/ff1', 32);
  const checkKey = Buffer.from(vaultlessKey(keyring.tokenKey, 'digits/check', 32));
  return Object.freeze({
    type: 'digits' as const,

    encrypt(normalized: string, namespace: string): string {
      if (!isDigits(normalized, 0) || normalized.length < FF1_MIN_DIGITS) {
        throw refuse(`a vaultless digits token needs at least ${FF1_MIN_DIGITS} digits (FF1 minimum domain of 1,000,000)`);
      }
      if (normalized.length > VAULTLESS_DIGITS_MAX) {
        throw refuse(
          `a vaultless digits token adds ${VAULTLESS_CHECK_DIGITS} check digits and digit strings have at most ${DIGITS_MAX}: ` +
            `values of at most ${VAULTLESS_DIGITS_MAX} digits can be vaultless`,
        );
      }
      const head = ff1DigitsWithinClass(key, framed(namespace), normalized, 'encrypt');
      return head + checkOf(checkKey, stored, 'digits', namespace, head);
    },

    open(namespace: string, candidate: string): string | undefined {
      const headEnd = candidate.length - VAULTLESS_CHECK_DIGITS;
      if (headEnd < FF1_MIN_DIGITS || candidate.length > DIGITS_MAX || !isDigits(candidate, 0)) return undefined;
      const head = candidate.slice(0, headEnd);
      if (!matchesAt(candidate, headEnd, checkOf(checkKey, stored, 'digits', namespace, head))) return undefined;
      return ff1DigitsWithinClass(key, framed(namespace), head, 'decrypt');
    },
  });
}
