/**
 * Internals shared by the token formats: the keyed byte material a token is drawn from, and unbiased
 * mapping of those bytes into alphabets (rejection sampling, so every symbol is equally likely).
 *
 * Deterministic tokens: HMAC(tokenKey, 'token', variant, namespace, attempt, normalized[, bump]).
 * Random tokens:        HMAC(tokenKey, 'random', variant, entropy, attempt[, bump]).
 * `bump` is only added when a format has to re-derive because a token came out equal to its input.
 */
import { hmacSha256 } from '../crypto/hmac.js';
import { GatewayError } from '../errors.js';
import type { TokenFormat } from './types.js';

/** The two keys a format needs (a subset of Keyring). */
export interface FormatKeys {
  readonly tokenKey: Buffer;
  readonly checkKey: Buffer;
}

export const BASE32 = 'abcdefghijklmnopqrstuvwxyz234567';
export const BASE62 = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz';
export const DIGITS = '0123456789';

/** Lookup table: 1 for the characters of `alphabet` (ASCII only). */
export function charTable(alphabet: string): Uint8Array {
  const table = new Uint8Array(128);
  for (let i = 0; i < alphabet.length; i++) table[alphabet.charCodeAt(i)] = 1;
  return table;
}

/** True when every character of s[from, to) is in `table`. */
export function allIn(table: Uint8Array, s: string, from: number, to: number): boolean {
  for (let i = from; i < to; i++) {
    const c = s.charCodeAt(i);
    if (c >= 128 || table[c] !== 1) return false;
  }
  return true;
}

/**
 * An endless keyed byte stream: the first block, then HMAC(key, 'more', previous block) as needed.
 * Rejection sampling rarely needs more than the first 32 bytes; the extension keeps it total.
 */
export class ByteSource {
  #block: Buffer;
  #pos = 0;
  readonly #key: Buffer;

  constructor(key: Buffer, first: Buffer) {
    this.#key = key;
    this.#block = first;
  }

  byte(): number {
    if (this.#pos >= this.#block.length) {
      this.#block = hmacSha256(this.#key, 'more', this.#block);
      this.#pos = 0;
    }
    return this.#block[this.#pos++]!;
  }

  /** Uniform integer in [0, n) for 1 <= n <= 256. */
  below(n: number): number {
    const limit = 256 - (256 % n);
    for (;;) {
      const b = this.byte();
      if (b < limit) return b % n;
    }
  }

  /** `count` symbols drawn uniformly from `alphabet`. */
  string(alphabet: string, count: number): string {
    let out = '';
    for (let i = 0; i < count; i++) out += alphabet[this.below(alphabet.length)]!;
    return out;
  }
}

/** Smallest entropy accepted for random tokens (the vault passes 16 bytes). */
const MIN_ENTROPY_BYTES = 16;

/** The first block of key material for a token (see the module comment). */
export function tokenMaterial(
  keys: FormatKeys,
  variant: string,
  namespace: string,
  normalized: string,
  attempt: number,
  entropy: Buffer | undefined,
  bump: number,
): Buffer {
  if (!Number.isSafeInteger(attempt) || attempt < 0) {
    throw new GatewayError('INTERNAL', 'token attempt must be a non-negative integer');
  }
  if (entropy !== undefined) {
    if (entropy.length < MIN_ENTROPY_BYTES) {
      throw new GatewayError('INTERNAL', `random token entropy must be at least ${MIN_ENTROPY_BYTES} bytes`);
    }
    return bump === 0
      ? hmacSha256(keys.tokenKey, 'random', variant, entropy, String(attempt))
      : hmacSha256(keys.tokenKey, 'random', variant, entropy, String(attempt), String(bump));
  }
  return bump === 0
    ? hmacSha256(keys.tokenKey, 'token', variant, namespace, String(attempt), normalized)
    : hmacSha256(keys.tokenKey, 'token', variant, namespace, String(attempt), normalized, String(bump));
}

/** Most re-derivations a format makes to avoid returning its input; 2^-60 odds of ever needing the 2nd. */
export const MAX_BUMPS = 64;

/** Thrown if MAX_BUMPS derivations all equal the input (practically impossible; kept so loops end). */
export function bumpsExhausted(type: string): GatewayError {
  return new GatewayError('TOKEN_COLLISION', `could not derive a ${type} token different from its input`);
}

/** A format plus its variant string (see TokenSpec.variant). */
export interface VariantFormat extends TokenFormat {
  readonly variant: string;
}
