/**
 * Vaultless phone and digits tokens (fixed keys, seeded inputs: every figure replays exactly): round trips,
 * what the token keeps, the FF1 minimum domain and the length limits, and the check digits that stop a
 * string which is not our token (a real phone number) from being "decrypted" to somebody else's number.
 */
import { describe, expect, it } from 'vitest';
import { CALLING_CODES, callingCodeLength } from '../calling-codes.js';
import { createDigitsFormat } from '../digits.js';
import { createPhoneFormat } from '../phone.js';
import { errorOf, fixedKeyring, rng } from '../test-helpers.js';
import { VAULTLESS_CHECK_DIGITS, createVaultlessDigits, createVaultlessPhone } from './numeric.js';

const keyring = fixedKeyring();
const storedPhone = createPhoneFormat(keyring);
const storedDigits = createDigitsFormat(keyring);
const phone = createVaultlessPhone(keyring, storedPhone);
const digits = createVaultlessDigits(keyring, storedDigits);

function randomDigits(r: () => number, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += Math.floor(r() * 10);
  return s;
}
/** A number under a random assigned code with `national` digits (first 1-9), at most `max` digits in all. */
function randomNumber(r: () => number, national: number, max = 13): string {
  const cc = CALLING_CODES[Math.floor(r() * CALLING_CODES.length)]!;
  const n = Math.min(national, max - cc.length);
  return `+${cc}${1 + Math.floor(r() * 9)}${randomDigits(r, n - 1)}`;
}

describe('vaultless phone', () => {
  it('keeps the country code and the national digits (plus 2 check digits), and opens to the value', () => {
    const cases = ['+442071838750', '+14155552671', '+919876543210', '+8613812345678', '+390612345678', '+6723123456'];
    for (const value of cases) {
      const token = phone.encrypt(value, 'default', 'phone');
      const cc = callingCodeLength(value, 1);
      expect(token.slice(0, 1 + cc)).toBe(value.slice(0, 1 + cc));
      expect(token).toHaveLength(value.length + VAULTLESS_CHECK_DIGITS);
      expect(token).toMatch(/^\+\d{9,15}$/);
      expect(token).not.toBe(value);
      // A leading 0 of the national number (Italy) is kept as a class; no other token gains one.
      expect(token[1 + cc] === '0').toBe(value[1 + cc] === '0');
      expect(phone.open('default', token)).toBe(value);
      expect(createPhoneFormat(keyring).normalize(token)).toBe(token); // a valid E.164 number itself
    }
  });

  it('is deterministic, and separates namespaces (another namespace neither gives the same token nor opens it)', () => {
    const r = rng(11);
    let crossOpened = 0;
    for (let i = 0; i < 2000; i++) {
      const value = randomNumber(r, 10);
      const a = phone.encrypt(value, 'tenant-a', 'phone');
      expect(phone.encrypt(value, 'tenant-a', 'phone')).toBe(a);
      expect(phone.encrypt(value, 'tenant-b', 'phone')).not.toBe(a);
      if (phone.open('tenant-b', a) !== undefined) crossOpened++;
    }
    // The check depends on the namespace: 1 in 100 foreign tokens pass it (expected 20 of 2,000).
    expect(crossOpened).toBeGreaterThan(4);
    expect(crossOpened).toBeLessThan(45);
    expect(phone.open('tenant-b', phone.encrypt('+442071838750', 'tenant-a', 'phone'))).toBeUndefined();
  });

  it('is a bijection: 20,000 distinct numbers of one country and length give 20,000 distinct tokens', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 20_000; i++) seen.add(phone.encrypt(`+4420${String(i * 37).padStart(8, '0')}`, 'default', 'phone'));
    expect(seen.size).toBe(20_000);
  });

  it('refuses national numbers under 6 digits (FF1 minimum domain) and numbers over 13 digits (E.164 limit)', () => {
    const short = errorOf(() => phone.encrypt('+68341234', 'default', 'phone')); // +683: 5 national digits
    expect(short.code).toBe('INVALID_VALUE');
    expect(short.message).toContain('at least 6 digits');
    expect(short.message).toContain('1,000,000');
    expect(short.message).not.toContain('41234');
    expect(phone.open('default', phone.encrypt('+683412345', 'default', 'phone'))).toBe('+683412345'); // 6 national digits
    const long = errorOf(() => phone.encrypt('+49151234567890', 'default', 'phone')); // 14 digits
    expect(long.code).toBe('INVALID_VALUE');
    expect(long.message).toContain('at most 13 digits');
    expect(long.message).not.toContain('1234567890');
    expect(phone.encrypt('+4915123456789', 'default', 'phone')).toHaveLength(16); // 13 digits -> 15
    expect(errorOf(() => phone.encrypt('+44 20 7183 8750', 'default', 'phone')).code).toBe('INVALID_VALUE');
  });

  it('never makes a token the stored phone format would take for one of its own, and opens no stored token', () => {
    const r = rng(12);
    for (let i = 0; i < 5000; i++) {
      const value = randomNumber(r, 6 + (i % 6));
      const token = phone.encrypt(value, 'default', 'phone');
      expect(storedPhone.isToken(token)).toBe(false);
      const storedToken = storedPhone.derive(value, 'default', 0);
      expect(phone.open('default', storedToken)).toBeUndefined();
    }
  });

  it('false acceptance: 1 in 100 of 200,000 random real-looking numbers pass the check; a bare FF1 would take all', () => {
    const r = rng(13);
    let accepted = 0;
    let storedShaped = 0;
    const N = 200_000;
    for (let i = 0; i < N; i++) {
      const n = randomNumber(r, 8 + (i % 4)); // the national lengths of a vaultless token (8 or more)
      const opened = phone.open('default', n) !== undefined;
      if (opened) accepted++;
      if (storedPhone.isToken(n)) {
        storedShaped++;
        expect(opened).toBe(false); // disjoint: a string is at most one kind of token
      }
    }
    // Binomial(200,000, 0.01): mean 2,000, sd 44.5.
    expect(accepted).toBeGreaterThan(1800);
    expect(accepted).toBeLessThan(2200);
    expect(storedShaped).toBeGreaterThan(1800);
    expect(storedShaped).toBeLessThan(2200);
  });

  it('rejects a changed check digit always, and a changed body digit 99 times in 100', () => {
    const r = rng(14);
    let bodyChangeOpened = 0;
    for (let i = 0; i < 2000; i++) {
      const token = phone.encrypt(randomNumber(r, 10), 'default', 'phone');
      const last = token.length - 1;
      expect(phone.open('default', token.slice(0, last) + String((Number(token[last]) + 1 + (i % 9)) % 10))).toBeUndefined();
      const at = last - 2 - (i % 5);
      const changed = token.slice(0, at) + String((Number(token[at]) + 1) % 10) + token.slice(at + 1);
      if (phone.open('default', changed) !== undefined) bodyChangeOpened++;
    }
    expect(bodyChangeOpened).toBeLessThan(45);
  });

  it('opens nothing that is not a canonical token-shaped number, and never throws', () => {
    for (const s of ['', '+', '+44', '442071838750', '+44 20 7183 875012', '+4420718387501a', '+999123456789', '+4412345', '++442071838750', '+4420718387501234']) {
      expect(phone.open('default', s)).toBeUndefined();
    }
  });
});

describe('vaultless digits', () => {
  it('round-trips 6 to 30 digits with 2 check digits more, keeping whether the value starts with 0', () => {
    const r = rng(21);
    for (let length = 6; length <= 30; length++) {
      for (let k = 0; k < 20; k++) {
        const value = (k % 4 === 0 ? '0' : String(1 + Math.floor(r() * 9))) + randomDigits(r, length - 1);
        const token = digits.encrypt(value, 'default', 'digits');
        expect(token).toMatch(/^\d+$/);
        expect(token).toHaveLength(length + VAULTLESS_CHECK_DIGITS);
        expect(token.startsWith('0')).toBe(value.startsWith('0'));
        expect(storedDigits.isToken(token)).toBe(false);
        expect(digits.open('default', token)).toBe(value);
        expect(digits.open('elsewhere', token) === value).toBe(false);
      }
    }
  });

  it('refuses more than 30 digits (the token would exceed the 32-digit format) naming the limit, not the value', () => {
    const err = errorOf(() => digits.encrypt('9'.repeat(31), 'default', 'digits'));
    expect(err.code).toBe('INVALID_VALUE');
    expect(err.message).toContain('at most 30 digits');
    expect(err.message).not.toContain('99999');
    expect(errorOf(() => digits.encrypt('12345', 'default', 'digits')).message).toContain('at least 6 digits');
  });

  it('false acceptance: 1 in 100 of 100,000 random digit strings of token lengths', () => {
    const r = rng(22);
    let accepted = 0;
    for (let i = 0; i < 100_000; i++) if (digits.open('default', randomDigits(r, 8 + (i % 20))) !== undefined) accepted++;
    // Binomial(100,000, 0.01): mean 1,000, sd 31.5.
    expect(accepted).toBeGreaterThan(880);
    expect(accepted).toBeLessThan(1120);
  });
});
