import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adversarialInputs, typicalText } from '../../test/helpers/scan-inputs.js';
import { CALLING_CODES } from '../tokens/calling-codes.js';
import { createEmailFormat } from '../tokens/email.js';
import { createPhoneFormat } from '../tokens/phone.js';
import { fixedKeyring } from '../tokens/test-helpers.js';
import { findPii, scanPii, type PiiKind, type PiiSpan } from './index.js';

const keyring = fixedKeyring();
const formats = {
  email: createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' }),
  phone: createPhoneFormat(keyring),
};

function found(text: string, kinds: readonly PiiKind[] = ['email', 'phone']): string[] {
  return findPii(text, kinds).map((s) => `${s.kind}:${text.slice(s.start, s.end)}`);
}

/** Sorted, non-overlapping, and each span accepted by its format's normalize(). */
function expectWellFormed(text: string, spans: PiiSpan[]): void {
  let previousEnd = 0;
  for (const span of spans) {
    expect(span.start).toBeGreaterThanOrEqual(previousEnd);
    expect(span.end).toBeGreaterThan(span.start);
    expect(span.end).toBeLessThanOrEqual(text.length);
    expect(() => formats[span.kind].normalize(text.slice(span.start, span.end))).not.toThrow();
    previousEnd = span.end;
  }
}

describe('findPii', () => {
  const text = 'Reply STOP to +1 (415) 555-1234 or write to <help@example.com>; call 0044 20 7946 0958.';

  it('finds both kinds in text order', () => {
    expect(found(text)).toEqual(['phone:+1 (415) 555-1234', 'email:help@example.com', 'phone:0044 20 7946 0958']);
    expect(findPii(text, ['phone', 'email'])).toEqual(findPii(text, ['email', 'phone']));
  });

  it('finds only the kinds asked for', () => {
    expect(found(text, ['email'])).toEqual(['email:help@example.com']);
    expect(found(text, ['phone'])).toEqual(['phone:+1 (415) 555-1234', 'phone:0044 20 7946 0958']);
    expect(found(text, [])).toEqual([]);
    expect(found('', ['email', 'phone'])).toEqual([]);
  });

  it('lets an email win over a phone inside it', () => {
    const t = 'to +14155551234@sms.example.com and +14155556789';
    expect(found(t)).toEqual(['email:+14155551234@sms.example.com', 'phone:+14155556789']);
    expect(found(t, ['phone'])).toEqual(['phone:+14155551234', 'phone:+14155556789']);
  });

  it('returns well-formed spans on typical text', () => {
    const t = typicalText(10_000);
    const spans = findPii(t, ['email', 'phone']);
    expectWellFormed(t, spans);
    const values = new Set(spans.map((s) => t.slice(s.start, s.end)));
    expect(values).toEqual(new Set(['+1 (415) 555-1234', 'jack.smith@gmail.com', '0044 20 7946 0958', 'support@example.co.uk']));
    // Each of the four appears once per round of the six sentences.
    const rounds = t.split('Your verification code').length - 1;
    expect(spans.length).toBeGreaterThanOrEqual(4 * rounds - 4);
  });
});

describe('findPii: inserted values are found exactly', () => {
  const letter = fc.constantFrom(...'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'.split(''));
  const localChar = fc.constantFrom(...'abcxyzABC019_%+-'.split(''));
  const email = fc
    .tuple(
      letter,
      fc.array(fc.string({ unit: localChar, minLength: 1, maxLength: 6 }), { maxLength: 3 }),
      fc.array(fc.string({ unit: fc.constantFrom(...'abcxyz019'.split('')), minLength: 1, maxLength: 8 }), { minLength: 1, maxLength: 3 }),
      fc.string({ unit: letter, minLength: 2, maxLength: 6 }),
    )
    .map(([first, atoms, labels, tld]) => `${first}${atoms.join('.')}@${[...labels, tld].join('.')}`);

  const digit = fc.constantFrom(...'0123456789'.split(''));
  const phone = fc
    .tuple(
      fc.constantFrom(...CALLING_CODES),
      fc.constantFrom('+', '00'),
      fc.constantFrom(' ', '-', '.', ''),
      fc.array(digit, { minLength: 15, maxLength: 15 }),
      fc.array(fc.integer({ min: 1, max: 4 }), { minLength: 15, maxLength: 15 }),
      fc.integer({ min: 0, max: 15 }),
    )
    .map(([code, prefix, separator, pool, sizes, extra]) => {
      const closed = code === '1' || code === '7';
      const minNational = Math.max(1, 7 - code.length);
      const nationalLength = closed ? 10 : minNational + (extra % (15 - code.length - minNational + 1));
      const national = pool.slice(0, nationalLength);
      if (code === '1') national[0] = String(2 + (Number(national[0]) % 8)); // NANP area codes start 2-9
      const groups: string[] = [];
      for (let i = 0, g = 0; i < national.length; g++) {
        const size = sizes[g]!;
        groups.push(national.slice(i, i + size).join(''));
        i += size;
      }
      return `${prefix}${code}${separator}${groups.join(separator)}`;
    });

  // Filler words never start with a digit or a separator (a phone before them would take it in), and hold
  // no '+' or '0' (a number starting inside a filler word could run on into the value after it).
  const fillerStart = fc.constantFrom(...'abcXYZéü中!?;:"<>[]{}/#$*'.split(''), '😀');
  const fillerRest = fc.string({ unit: fc.constantFrom(...'abc19.,;:!?-()@\'é中'.split('')), maxLength: 8 });
  const filler = fc.tuple(fillerStart, fillerRest).map(([a, b]) => a + b);

  it('every inserted email and phone is a span, whatever the filler', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.oneof(email.map((v) => ['email', v] as const), phone.map((v) => ['phone', v] as const)), filler), {
          minLength: 1,
          maxLength: 8,
        }),
        filler,
        (items, head) => {
          let text = head;
          const expected: PiiSpan[] = [];
          for (const [[kind, value], word] of items) {
            text += ' ';
            expected.push({ start: text.length, end: text.length + value.length, kind });
            text += `${value} ${word}`;
          }
          const spans = findPii(text, ['email', 'phone']);
          for (const e of expected) expect(spans).toContainEqual(e);
          expectWellFormed(text, spans);
        },
      ),
      { numRuns: 1000 },
    );
  });
});

describe('findPii: linear work on hostile input', () => {
  const LENGTH = 100_000;
  /** Both scanners together: the sum of their per-scanner bounds. */
  const STEPS_PER_CHAR = 8 + 16;

  it.each(Object.entries(adversarialInputs(LENGTH)))('%s', (_name, text) => {
    const counter = { steps: 0 };
    const spans = scanPii(text, ['email', 'phone'], counter);
    expect(counter.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
    expect(spans.length).toBeLessThanOrEqual(text.length);
  });
});
