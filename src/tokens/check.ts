/**
 * Keyed check characters: how the gateway recognizes its own tokens without a vault call.
 *
 * The check is HMAC(checkKey, type, ...the token's non-check part) mapped into the token's alphabet.
 * Without checkKey nobody can make a string that passes (beyond guessing, at the false-positive rates in
 * docs/tokens.md); with it, recognizing a token costs one HMAC. The check never depends on the namespace,
 * so a token is recognized wherever it travels; the vault decides whether it is known there.
 */
import { hmacSha256 } from '../crypto/hmac.js';
import { ByteSource, DIGITS } from './derive.js';

/**
 * `count` check characters from `alphabet` over the given parts.
 *
 * @example
 *   const check = checkChars(keys.checkKey, BASE62, 4, 'opaque', prefix, body);
 */
export function checkChars(checkKey: Buffer, alphabet: string, count: number, ...parts: string[]): string {
  return new ByteSource(checkKey, hmacSha256(checkKey, 'check', ...parts)).string(alphabet, count);
}

/** `count` decimal check digits over the given parts. */
export function checkDigits(checkKey: Buffer, count: number, ...parts: string[]): string {
  return checkChars(checkKey, DIGITS, count, ...parts);
}

/** True when s[from, from + expected.length) equals `expected`, without allocating a substring. */
export function matchesAt(s: string, from: number, expected: string): boolean {
  if (from + expected.length > s.length) return false;
  for (let i = 0; i < expected.length; i++) if (s.charCodeAt(from + i) !== expected.charCodeAt(i)) return false;
  return true;
}
