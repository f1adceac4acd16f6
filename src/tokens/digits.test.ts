import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { createDigitsFormat, digitsCheckDigits } from './digits.js';
import { fixedKeyring, rng } from './test-helpers.js';

const keyring = fixedKeyring();
const digits = createDigitsFormat(keyring);

function randomDigits(r: () => number, n: number, leadingZero = false): string {
  let s = leadingZero ? '0' : String(1 + Math.floor(r() * 9));
  for (let i = 1; i < n; i++) s += Math.floor(r() * 10);
  return s;
}

describe('digits normalize', () => {
  it('accepts 6 to 32 ASCII digits as they are', () => {
    expect(digits.normalize('000123')).toBe('000123');
    expect(digits.normalize('9'.repeat(32))).toBe('9'.repeat(32));
  });

  for (const value of ['', '12345', '1'.repeat(33), '1234 5678', ' 12345678', '12345678 ', '1234-5678', '١٢٣٤٥٦٧', '12345e7', '+1234567']) {
    it(`refuses ${JSON.stringify(value)} with INVALID_VALUE, not echoing it`, () => {
      let err: { code?: string; message: string } | undefined;
      try {
        digits.normalize(value);
      } catch (e) {
        err = e as { code?: string; message: string };
      }
      expect(err?.code).toBe('INVALID_VALUE');
      expect(err?.message).toBe('not a digit string (expected 6 to 32 digits 0-9)');
    });
  }
});

describe('digits derive', () => {
  it('preserves the length and avoids a leading 0 unless the input had one', () => {
    const r = rng(21);
    let leadingZeros = 0;
    for (let i = 0; i < 5_000; i++) {
      const n = 6 + (i % 27);
      const input = randomDigits(r, n, i % 2 === 0);
      const token = digits.derive(input, 'default', 0);
      expect(token).toMatch(/^\d+$/);
      expect(token).toHaveLength(n);
      if (input[0] !== '0') expect(token[0]).not.toBe('0');
      else if (token[0] === '0') leadingZeros++;
    }
    // Inputs with a leading 0 get a uniform first digit: about 1 in 10 keeps a 0.
    expect(leadingZeros).toBeGreaterThan(150);
    expect(leadingZeros).toBeLessThan(350);
  });

  it('is deterministic and separates namespaces and attempts; random differs', () => {
    const a = digits.derive('4012888888881881', 'default', 0);
    expect(digits.derive('4012888888881881', 'default', 0)).toBe(a);
    expect(digits.derive('4012888888881881', 'other', 0)).not.toBe(a);
    expect(digits.derive('4012888888881881', 'default', 1)).not.toBe(a);
    expect(createDigitsFormat(ephemeralKeyring()).derive('4012888888881881', 'default', 0)).not.toBe(a);
    const e = randomBytes(16);
    expect(digits.derive('4012888888881881', 'default', 0, e)).toBe(digits.derive('4012888888881881', 'default', 0, e));
    expect(digits.derive('4012888888881881', 'default', 0, e)).not.toBe(digits.derive('4012888888881881', 'default', 0, randomBytes(16)));
  });

  it('never returns its input', () => {
    const r = rng(22);
    for (let i = 0; i < 10_000; i++) {
      const input = randomDigits(r, 6);
      expect(digits.derive(input, 'default', 0)).not.toBe(input);
    }
    const token = digits.derive('123456', 'default', 0);
    expect(digits.derive(token, 'default', 0)).not.toBe(token);
  });

  it('collides rarely at format level across 100,000 distinct 12-digit values', () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 100_000; i++) tokens.add(digits.derive(String(100_000_000_000 + i * 13), 'default', 0));
    // Token space 9 * 10^9; birthday estimate n^2/2N = 0.6 collisions.
    expect(100_000 - tokens.size).toBeLessThan(10);
  });
});

describe('digits isToken', () => {
  it('recognizes 100% of 10,000 tokens', () => {
    const r = rng(23);
    for (let i = 0; i < 10_000; i++) {
      const token = digits.derive(randomDigits(r, 6 + (i % 27), i % 3 === 0), `ns${i % 4}`, i % 2);
      if (!digits.isToken(token)) throw new Error(`token ${i} not recognized`);
    }
  });

  it('refuses wrong check digits and other keys', () => {
    const token = digits.derive('4012888888881881', 'default', 0);
    expect(digits.isToken(token)).toBe(true);
    const last = Number(token.at(-1));
    expect(digits.isToken(token.slice(0, -1) + String((last + 1) % 10))).toBe(false);
    expect(digits.isToken(`${token} `)).toBe(false);
    // A fixed other key set: a random one accepts a 16-digit token 1 time in 100 (2 check digits).
    expect(createDigitsFormat(fixedKeyring(8)).isToken(token)).toBe(false);
  });

  it('false positives on 100,000 random values match the check digits (1% from 10 digits, 10% below)', () => {
    const r = rng(24);
    let long = 0;
    let short = 0;
    for (let i = 0; i < 100_000; i++) {
      if (digits.isToken(randomDigits(r, 10 + (i % 23)))) long++;
      if (digits.isToken(randomDigits(r, 6 + (i % 4)))) short++;
    }
    expect(digitsCheckDigits(10)).toBe(2);
    expect(digitsCheckDigits(9)).toBe(1);
    expect(long / 100_000).toBeLessThan(0.02);
    expect(long / 100_000).toBeGreaterThan(0.002);
    expect(short / 100_000).toBeLessThan(0.12);
    expect(short / 100_000).toBeGreaterThan(0.05);
  });
});
