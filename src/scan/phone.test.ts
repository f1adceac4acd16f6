import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adversarialInputs } from '../../test/helpers/scan-inputs.js';
import { CALLING_CODES } from '../tokens/calling-codes.js';
import { createPhoneFormat } from '../tokens/phone.js';
import { fixedKeyring } from '../tokens/test-helpers.js';
import { findPhones } from './phone.js';

const keyring = fixedKeyring();
const format = createPhoneFormat(keyring);

function found(text: string): string[] {
  return findPhones(text).map((s) => text.slice(s.start, s.end));
}

describe('findPhones: provider texts', () => {
  it.each([
    ['Reply STOP to +1 (415) 555-1234 to unsubscribe.', ['+1 (415) 555-1234']],
    ['Reply STOP to +1 (415) 555-1234.', ['+1 (415) 555-1234']],
    ['call 0044 20 7946 0958', ['0044 20 7946 0958']],
    ['Call us: +44 20 7946 0958, 24/7', ['+44 20 7946 0958']],
    ['Ваш код 4821. Вопросы: +7 495 123-45-67', ['+7 495 123-45-67']],
    ['请致电+86 138 0013 8000转人工', ['+86 138 0013 8000']],
    ['Kontakt: +49 (0) 30 901820, Fax +49-30-9018-2111', ['+49 (0) 30 901820', '+49-30-9018-2111']],
    ['appelez le +33.1.23.45.67.89 svp', ['+33.1.23.45.67.89']],
    ['(+44) 20 7946 0958 is our line', ['(+44) 20 7946 0958']],
    ['From:+14155551234 To:+14155556789', ['+14155551234', '+14155556789']],
    ['tab\t+1\t415\t555\t1234', ['+1\t415\t555\t1234']],
    ['no-break +44\u00a020\u00a07946\u00a00958', ['+44\u00a020\u00a07946\u00a00958']],
    ['Niue +683 4002 and Tokelau +690 3456', ['+683 4002', '+690 3456']],
    ['NANP stops at 10 national digits: +1 415 555 1234 5678', ['+1 415 555 1234']],
    ['E.164 stops at 15 digits: +44 20 7946 0958 123 4567', ['+44 20 7946 0958 123']],
    ['an extension glued on: +44 20 7946 0958x12', ['+44 20 7946']],
    ['then an email +14155551234@sms.example.com', ['+14155551234']],
  ])('%s', (text, expected) => {
    expect(found(text)).toEqual(expected);
  });
});

describe('findPhones: not phones', () => {
  it.each([
    'Your code is 482913, order #100234567, ref 4155551234',
    'national numbers: (415) 555-1234, 020 7946 0958, 06 12 34 56 78',
    'dates 2024-01-02, 02.01.2024, 2024/01/02 00:00',
    'prices $1,299.00, +12.5%, +1,234.56, +12345.67 EUR, +1 234 567,89',
    'credited +1 500 000 (NANP needs 10 national digits)',
    'v1.2.3, 10.0.0.1, build 2024.01.02.1234',
    'glued: ABC+442079460958, x+44 20 7946 0958, 1+44 20 7946 0958, ++44 20 7946 0958',
    'longer digit runs: +4420794609581234567, 9900442079460958',
    'unknown calling code +999 123 4567, +0 123 456 7890, 00 0 44 1234 5678',
    'too short: +44 123 4 has 6 digits, the phone format needs seven',
    'NANP area code 0/1: +1 015 555 1234, +1 155 555 1234',
    'decimals: 1.0044 20 7946 0958, 3,0044 20 7946',
    'base64 dGVzd+12345678Zm9v and a+1234567',
  ])('%s', (text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('findPhones: agreement with the phone token format', () => {
  const noisy = fc.string({
    unit: fc.constantFrom(...'+0012345 ()-.\t,x'.split(''), '+44', '00', '+1 ', '415', '\u00a0'),
    maxLength: 80,
  });

  it('every span is accepted by normalize(), sorted and non-overlapping', () => {
    fc.assert(
      fc.property(noisy, (text) => {
        let previousEnd = 0;
        for (const span of findPhones(text)) {
          expect(span.start).toBeGreaterThanOrEqual(previousEnd);
          expect(span.end).toBeGreaterThan(span.start);
          expect(() => format.normalize(text.slice(span.start, span.end))).not.toThrow();
          previousEnd = span.end;
        }
      }),
      { numRuns: 3000 },
    );
  });

  it('finds every calling code with a plausible national number', () => {
    for (const code of CALLING_CODES) {
      const national = code === '1' || code === '7' ? '415 555 1234' : '612 3456';
      const text = `call +${code} ${national} now`;
      expect(found(text), code).toEqual([`+${code} ${national}`]);
    }
  });
});

describe('findPhones: linear work on hostile input', () => {
  const LENGTH = 100_000;
  /**
   * Characters examined per input character; a quadratic scan would be in the thousands here. Analytic
   * bound: ~76 steps per candidate start, starts at least 3 characters apart while inside a window, so
   * ~26; the worst found by search is ~8 ('.4)(00' repeated: every window fills up, then is refused).
   */
  const STEPS_PER_CHAR = 16;

  it.each(Object.entries(adversarialInputs(LENGTH)))('%s', (_name, text) => {
    const counter = { steps: 0 };
    findPhones(text, counter);
    expect(counter.steps).toBeGreaterThanOrEqual(text.length);
    expect(counter.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
  });

  it('random text over hostile alphabets', () => {
    const unit = fc.string({ unit: fc.constantFrom(...'+0 14-().,'.split('')), minLength: 1, maxLength: 24 });
    fc.assert(
      fc.property(unit, (u) => {
        const text = u.repeat(Math.ceil(20_000 / u.length));
        const counter = { steps: 0 };
        findPhones(text, counter);
        expect(counter.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
      }),
      { numRuns: 200 },
    );
  });
});
