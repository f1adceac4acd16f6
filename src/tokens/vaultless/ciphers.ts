/**
 * The primitives under vaultless tokens, and nothing else: per-purpose keys, FF1 over numeral strings,
 * AES-SIV over bytes, and the text encodings their outputs travel in.
 *
 * Every cipher is @noble/ciphers' (audited; FF1 per NIST SP 800-38G, AES-SIV per RFC 5297). This file only
 * derives keys, enforces the limits the standards set, and converts between strings and the library's
 * arrays, so the tests can run the standards' published vectors through these very wrappers.
 *
 * Keys: HKDF-SHA256 over the keyring's tokenKey with info `pii-gateway/vaultless/v1/<purpose>`. tokenKey has
 * exactly the lifetime a deterministic token needs (fixed for a deployment, docs/tokens.md#keys), and the
 * label keeps every vaultless key independent of the HMACs tokenKey already keys (token derivation uses it
 * as an HMAC key; HKDF-Extract uses it as the message under an empty salt).
 */
import { hkdfSync } from 'node:crypto';
import { aessiv } from '@noble/ciphers/aes.js';
import { FF1 } from '@noble/ciphers/ff1.js';
import { GatewayError } from '../../errors.js';

export const VAULTLESS_KEY_INFO = 'pii-gateway/vaultless/v1';

/**
 * A dedicated key for one vaultless purpose (e.g. 'phone/ff1'), `bytes` long.
 *
 * @example
 *   const key = vaultlessKey(keyring.tokenKey, 'email/siv', 64); // AES-256-SIV
 */
export function vaultlessKey(tokenKey: Buffer, purpose: string, bytes: number): Uint8Array {
  return new Uint8Array(hkdfSync('sha256', tokenKey, Buffer.alloc(0), `${VAULTLESS_KEY_INFO}/${purpose}`, bytes));
}

/** NIST SP 800-38G Rev. 1 (2nd public draft) raises FF1's minimum domain to radix^len >= 1,000,000. */
export const FF1_MIN_DOMAIN = 1_000_000;
/** The shortest decimal string FF1 may encrypt under that rule. */
export const FF1_MIN_DIGITS = 6;

const NUMERALS = '0123456789abcdefghijklmnopqrstuvwxyz';

/**
 * True when radix^length >= FF1_MIN_DOMAIN.
 *
 * @example
 *   ff1DomainOk(10, 6) === true; ff1DomainOk(10, 5) === false;
 */
export function ff1DomainOk(radix: number, length: number): boolean {
  let domain = 1;
  for (let i = 0; i < length && domain < FF1_MIN_DOMAIN; i++) domain *= radix;
  return domain >= FF1_MIN_DOMAIN;
}

/**
 * FF1 over strings of the first `radix` characters of 0-9a-z (the NIST samples' alphabets). Refuses
 * (INTERNAL: callers check lengths first) a domain below FF1_MIN_DOMAIN and characters outside the alphabet.
 *
 * @example
 *   ff1(10, key, tweak).encrypt('0123456789');
 */
export function ff1(radix: number, key: Uint8Array, tweak: Uint8Array): { encrypt(s: string): string; decrypt(s: string): string } {
  const cipher = FF1(radix, key, tweak);
  const toNumerals = (s: string): number[] => {
    if (!ff1DomainOk(radix, s.length)) throw new GatewayError('INTERNAL', `FF1 input below the minimum domain of ${FF1_MIN_DOMAIN}`);
    const out = new Array<number>(s.length);
    for (let i = 0; i < s.length; i++) {
      const n = NUMERALS.indexOf(s[i]!);
      if (n < 0 || n >= radix) throw new GatewayError('INTERNAL', 'FF1 input outside its alphabet');
      out[i] = n;
    }
    return out;
  };
  const fromNumerals = (x: number[]): string => x.map((n) => NUMERALS[n]!).join('');
  return {
    encrypt: (s) => fromNumerals(cipher.encrypt(toNumerals(s))),
    decrypt: (s) => fromNumerals(cipher.decrypt(toNumerals(s))),
  };
}

/** Cycle-walking steps before giving up (each step leaves the class with probability <= 0.9: never reached). */
const MAX_WALK = 2000;

/**
 * FF1 (radix 10) restricted to the digit strings whose first digit is in the same class as the input's
 * (0, or 1-9), by cycle walking: apply the permutation until the result is back in the class. This keeps
 * "starts with 0" exactly as the input had it, so a token parsed as a number keeps its length and a phone
 * token does not gain a trunk-prefix 0, and it stays a bijection on each class, so decryption is exact.
 * Expected FF1 calls: 1.11 for inputs starting 1-9, 10 for inputs starting with 0.
 *
 * @example
 *   const token = ff1DigitsWithinClass(key, tweak, '4155552671', 'encrypt'); // 10 digits, first one 1-9
 */
export function ff1DigitsWithinClass(key: Uint8Array, tweak: Uint8Array, digits: string, direction: 'encrypt' | 'decrypt'): string {
  const cipher = ff1(10, key, tweak);
  const step = direction === 'encrypt' ? cipher.encrypt : cipher.decrypt;
  const zero = digits.charCodeAt(0) === 48;
  let out = step(digits);
  for (let i = 1; (out.charCodeAt(0) === 48) !== zero; i++) {
    if (i >= MAX_WALK) throw new GatewayError('INTERNAL', 'FF1 cycle walk did not end');
    out = step(out);
  }
  return out;
}

/** AES-SIV tag (the synthetic IV) length: every sealed value is this much longer than its plaintext. */
export const SIV_TAG_BYTES = 16;

/**
 * AES-SIV (RFC 5297) of `plaintext` under the associated-data vector `ad` (the last component may be a
 * nonce, RFC 5297 section 3). Deterministic: same key, ad and plaintext give the same output, SIV first.
 *
 * @example
 *   const sealed = sivSeal(key, [utf8('local'), utf8(namespace)], utf8('ada'));
 */
export function sivSeal(key: Uint8Array, ad: readonly Uint8Array[], plaintext: Uint8Array): Uint8Array {
  return aessiv(key, ...ad).encrypt(plaintext);
}

/**
 * The plaintext of `sealed`, or undefined when it does not authenticate under `key` and `ad` (or is too short).
 *
 * @example
 *   const plain = sivOpen(key, ad, sealed); // undefined for anything this key and ad did not seal
 */
export function sivOpen(key: Uint8Array, ad: readonly Uint8Array[], sealed: Uint8Array): Uint8Array | undefined {
  if (sealed.length < SIV_TAG_BYTES) return undefined;
  try {
    return aessiv(key, ...ad).decrypt(sealed);
  } catch {
    return undefined;
  }
}

const encoder = new TextEncoder();

/**
 * UTF-8 bytes of a string.
 *
 * @example
 *   utf8('ada').length === 3
 */
export function utf8(s: string): Uint8Array {
  return encoder.encode(s);
}

/**
 * Length-framed parts (4-byte big-endian byte length before each), so no two part lists share bytes.
 *
 * @example
 *   const tweak = framed(namespace, countryCode);
 */
export function framed(...parts: string[]): Uint8Array {
  const bytes = parts.map(utf8);
  const out = new Uint8Array(bytes.reduce((n, b) => n + 4 + b.length, 0));
  const view = new DataView(out.buffer);
  let at = 0;
  for (const b of bytes) {
    view.setUint32(at, b.length, false);
    out.set(b, at + 4);
    at += 4 + b.length;
  }
  return out;
}

const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
const BASE32_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE32.length; i++) BASE32_VALUE[BASE32.charCodeAt(i)] = i;

/**
 * Characters of the unpadded base32 form of `bytes` bytes.
 *
 * @example
 *   base32Length(17) === 28
 */
export function base32Length(bytes: number): number {
  return Math.ceil((bytes * 8) / 5);
}

/**
 * RFC 4648 base32, lower-case, unpadded (a valid e-mail local part and DNS label alphabet).
 *
 * @example
 *   base32Encode(Uint8Array.of(0xff)) === '74'
 */
export function base32Encode(bytes: Uint8Array): string {
  let out = '';
  let acc = 0;
  let bits = 0;
  for (const b of bytes) {
    acc = (acc << 8) | b;
    bits += 8;
    while (bits >= 5) {
      bits -= 5;
      out += BASE32[(acc >>> bits) & 31];
    }
    acc &= (1 << bits) - 1;
  }
  if (bits > 0) out += BASE32[(acc << (5 - bits)) & 31];
  return out;
}

/**
 * The bytes of a canonical unpadded lower-case base32 string, or undefined (bad character, length or trailing bits).
 *
 * @example
 *   base32Decode('74')?.[0] === 0xff; base32Decode('75') === undefined;
 */
export function base32Decode(s: string): Uint8Array | undefined {
  const rest = s.length % 8;
  if (rest === 1 || rest === 3 || rest === 6) return undefined;
  const out = new Uint8Array(Math.floor((s.length * 5) / 8));
  let acc = 0;
  let bits = 0;
  let at = 0;
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    const v = c < 128 ? BASE32_VALUE[c]! : -1;
    if (v < 0) return undefined;
    acc = (acc << 5) | v;
    bits += 5;
    if (bits >= 8) {
      bits -= 8;
      out[at++] = (acc >>> bits) & 0xff;
    }
    acc &= (1 << bits) - 1;
  }
  return acc === 0 ? out : undefined; // leftover bits must be zero, or two strings would decode alike
}

/**
 * Unpadded base64url (RFC 4648 section 5).
 *
 * @example
 *   base64urlEncode(Uint8Array.of(0xfb, 0xff)) === '-_8'
 */
export function base64urlEncode(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.length).toString('base64url');
}

/**
 * The bytes of a canonical unpadded base64url string, or undefined (Buffer skips bad characters: re-encoding catches it).
 *
 * @example
 *   base64urlDecode('-_8')?.length === 2; base64urlDecode('-_9') === undefined;
 */
export function base64urlDecode(s: string): Uint8Array | undefined {
  const bytes = Buffer.from(s, 'base64url');
  return bytes.toString('base64url') === s ? new Uint8Array(bytes.buffer, bytes.byteOffset, bytes.length) : undefined;
}
