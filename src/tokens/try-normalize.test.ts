/**
 * tryNormalize() must agree with normalize() on every input: the same canonical form where normalize()
 * returns, undefined exactly where it throws (INVALID_VALUE). Property tests over random strings per format,
 * biased towards each format's alphabet so that both valid and invalid inputs occur often.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors.js';
import { createDigitsFormat } from './digits.js';
import { createEmailFormat } from './email.js';
import { createOpaqueFormat } from './opaque.js';
import { createPhoneFormat } from './phone.js';
import { fixedKeyring } from './test-helpers.js';
import type { TokenFormat } from './types.js';

const keyring = fixedKeyring();

const FORMATS: Record<string, TokenFormat> = {
  'email (tokenize)': createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' }),
  'email (preserve)': createEmailFormat(keyring, { domain: 'preserve', suffix: 'tok.invalid' }),
  'email (sink)': createEmailFormat(keyring, { domain: { sink: 'sink.invalid' }, suffix: 'tok.invalid' }),
  phone: createPhoneFormat(keyring),
  opaque: createOpaqueFormat(keyring, 'tok_'),
  digits: createDigitsFormat(keyring),
};

/** normalize() as a value: the canonical form, or undefined when it threw INVALID_VALUE (anything else fails). */
function normalized(format: TokenFormat, raw: string): string | undefined {
  try {
    return format.normalize(raw);
  } catch (err) {
    if (!isGatewayError(err) || err.code !== 'INVALID_VALUE') throw err;
    return undefined;
  }
}

function chars(alphabet: string, maxLength: number): fc.Arbitrary<string> {
  return fc.string({ unit: fc.constantFrom(...alphabet), maxLength });
}

const EMAIL_CHARS = 'abcXYZ09.-_+@ "[]é\t';
const PHONE_CHARS = '0123456789+ -.()\t\u00a0x';
const anyString = fc.string({ unit: 'binary', maxLength: 40 });
/** Strings from the email alphabet, and ones built as local@label.label, often valid. */
const emailish = fc.oneof(
  chars(EMAIL_CHARS, 30),
  fc.tuple(chars('abc.+_-9', 12), chars('abc-9', 10), chars('abc.-9', 10)).map(([l, d, t]) => `${l}@${d}.${t}`),
  fc.tuple(chars('a', 70), fc.integer({ min: 1, max: 260 })).map(([l, n]) => `${l || 'a'}@${'d'.repeat(n)}.com`),
  anyString,
);
/** Phone-alphabet strings, and '+'/'00' followed by 5-18 digits (valid when the calling code exists). */
const phoneish = fc.oneof(
  chars(PHONE_CHARS, 24),
  fc.tuple(fc.constantFrom('+', '00', '+ ', '', '0'), chars('0123456789', 18), chars(' -', 2)).map(([p, d, s]) => `${p}${d}${s}`),
  anyString,
);
const digitish = fc.oneof(chars('0123456789', 40), chars('0123456789a ', 12), anyString);

const INPUTS: Record<string, fc.Arbitrary<string>> = {
  'email (tokenize)': emailish,
  'email (preserve)': emailish,
  'email (sink)': emailish,
  phone: phoneish,
  opaque: fc.oneof(anyString, fc.constant('')),
  digits: digitish,
};

describe('TokenFormat.tryNormalize', () => {
  for (const [name, format] of Object.entries(FORMATS)) {
    it(`${name}: agrees with normalize() on random strings`, () => {
      let valid = 0;
      let invalid = 0;
      fc.assert(
        fc.property(INPUTS[name]!, (raw) => {
          const expected = normalized(format, raw);
          if (expected === undefined) invalid++;
          else valid++;
          expect(format.tryNormalize(raw)).toBe(expected);
        }),
        { numRuns: 2000 },
      );
      // The generators must exercise both outcomes, or the agreement says little.
      expect(valid).toBeGreaterThan(20);
      if (name !== 'opaque') expect(invalid).toBeGreaterThan(20);
    });
  }

  it('answers the canonical form for valid values and undefined for invalid ones', () => {
    const email = FORMATS['email (tokenize)']!;
    const phone = FORMATS.phone!;
    expect(email.tryNormalize(' Ada@Example.COM ')).toBe('ada@example.com');
    expect(email.tryNormalize('6264372124')).toBeUndefined();
    expect(phone.tryNormalize('+44 (20) 7183-8750')).toBe('+442071838750');
    expect(phone.tryNormalize('0044 20 7183 8750')).toBe('+442071838750');
    expect(phone.tryNormalize('6264372124')).toBeUndefined();
    expect(phone.tryNormalize('ada@example.com')).toBeUndefined();
    expect(FORMATS.digits!.tryNormalize('6264372124')).toBe('6264372124');
    expect(FORMATS.digits!.tryNormalize('12345')).toBeUndefined();
    expect(FORMATS.opaque!.tryNormalize('Ada Lovelace')).toBe('Ada Lovelace');
    expect(FORMATS.opaque!.tryNormalize('')).toBeUndefined();
    // A domain too long to keep next to a local token: refused only where the domain is preserved.
    const longDomain = `a@${`${'d'.repeat(60)}.`.repeat(4)}com`; // 247-character domain
    expect(FORMATS['email (preserve)']!.tryNormalize(longDomain)).toBeUndefined();
    expect(FORMATS['email (tokenize)']!.tryNormalize(longDomain)).toBe(longDomain);
  });
});
