import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { adversarialInputs } from '../../test/helpers/scan-inputs.js';
import { createEmailFormat } from '../tokens/email.js';
import { fixedKeyring } from '../tokens/test-helpers.js';
import { findEmails } from './email.js';

const keyring = fixedKeyring();
const format = createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' });

/** The text of each span found. */
function found(text: string): string[] {
  return findEmails(text).map((s) => text.slice(s.start, s.end));
}

describe('findEmails: provider texts', () => {
  it.each([
    ['550 5.1.1 <jack@gmail.com>: Recipient address rejected: User unknown', ['jack@gmail.com']],
    ['550-5.1.1 The email account that you tried to reach does not exist. jack.smith+news@googlemail.com', ['jack.smith+news@googlemail.com']],
    ['smtp;550 Requested action not taken: mailbox unavailable (Ada.Lovelace@Example.COM)', ['Ada.Lovelace@Example.COM']],
    ['500 unknown recipient example@test.com', ['example@test.com']],
    ['to=<bob_o@mail.example.co.uk>, relay=none, status=bounced', ['bob_o@mail.example.co.uk']],
    ['Write to "support@acme.io", or sales@acme.io.', ['support@acme.io', 'sales@acme.io']],
    ['mailto:jack@gmail.com?subject=hi', ['jack@gmail.com']],
    ["'jack@x.com' and o'brien@x.ie", ['jack@x.com', "o'brien@x.ie"]],
    ['see..john@x.com', ['john@x.com']],
    ['jack@gmail.com, jill@gmail.com; joe@gmail.com!', ['jack@gmail.com', 'jill@gmail.com', 'joe@gmail.com']],
    ['ends with hyphen jack@gmail.com-', ['jack@gmail.com']],
    ['trailing dots jack@gmail.com...', ['jack@gmail.com']],
    ['numeric label then tld a@b.com.123', ['a@b.com']],
    ['联系jack@gmail.com谢谢', ['jack@gmail.com']],
    // Non-ASCII local parts are not accepted by the token format: the ASCII tail is still found.
    ['Répondez à josé.garcia@correo.es ¡gracias!', ['garcia@correo.es']],
    ['emoji 📧jack@gmail.com📧', ['jack@gmail.com']],
    ['fullwidth：jack@gmail.com。', ['jack@gmail.com']],
    ['punycode a@xn--bcher-kva.de', ['a@xn--bcher-kva.de']],
    ['back to back a@b.co@c.co', ['a@b.co']],
    ['+14155551234@sms.example.com', ['+14155551234@sms.example.com']],
  ])('%s', (text, expected) => {
    expect(found(text)).toEqual(expected);
  });

  it('reports UTF-16 offsets (astral characters count twice)', () => {
    const text = '😀 a@b.co';
    expect(findEmails(text)).toEqual([{ start: 3, end: 9, kind: 'email' }]);
  });
});

describe('findEmails: not emails', () => {
  it.each([
    'Order #100234567 shipped on 2024-01-02, total $1,299.00',
    'version v1.2.3 and 10.0.0.1',
    'npm i lodash@4.17.21 @scope/pkg@1.2.3 node@v20.1.0',
    'https://example.com/path?x=1&y=2#frag',
    'https://medium.com/@user.name',
    'follow @jack and @jill.smith on X',
    'a@1.2.3.4 (IPv4-looking domain)',
    'ada.@x.com (trailing dot in the local part)',
    'a@localhost (single label)',
    'a@[192.0.2.1] (address literal)',
    'jack@bücher.de (unicode domain: give it in punycode)',
    'a@-b.com (label starts with a hyphen)',
    'no at sign here at all',
    '@@@ @. .@ a@ @a',
  ])('%s', (text) => {
    expect(found(text)).toEqual([]);
  });
});

describe('findEmails: limits', () => {
  it('takes a 64-character local part and refuses a 65-character one', () => {
    const l64 = 'a'.repeat(64);
    expect(found(` ${l64}@x.com `)).toEqual([`${l64}@x.com`]);
    expect(found(` a${l64}@x.com `)).toEqual([]);
    expect(found(` .${l64}@x.com `)).toEqual([`${l64}@x.com`]); // a leading dot is dropped
  });

  it('refuses a 64-character label and keeps the labels before an over-long one', () => {
    const l63 = 'b'.repeat(63);
    expect(found(`a@${l63}.com`)).toEqual([`a@${l63}.com`]);
    expect(found(`a@b${l63}.com`)).toEqual([]);
    expect(found(`a@x.com.b${l63}`)).toEqual(['a@x.com']);
  });

  it('keeps the whole address within 254 characters', () => {
    const label = 'd'.repeat(63);
    const domain = `${label}.${label}.${label}.${'e'.repeat(57)}.com`; // 253
    expect(domain.length).toBe(253);
    const local = 'l'.repeat(10);
    // 10 + 1 + 253 = 264 > 254: the domain is cut back to whole labels that fit.
    expect(found(`${local}@${domain}`)).toEqual([`${local}@${label}.${label}.${label}`]);
    const short = `${label}.${label}.${label}.${'e'.repeat(47)}.com`;
    expect(local.length + 1 + short.length).toBe(254);
    expect(found(`${local}@${short}`)).toEqual([`${local}@${short}`]);
  });
});

describe('findEmails: agreement with the email token format', () => {
  const noisy = fc.string({
    unit: fc.constantFrom(...'ab.-_+@ \'"<>x.com@@..-1%é'.split(''), 'a@b.co', '.com', 'xn--', '@x.io'),
    maxLength: 120,
  });

  it('every span is accepted by normalize(), sorted and non-overlapping', () => {
    fc.assert(
      fc.property(noisy, (text) => {
        let previousEnd = 0;
        for (const span of findEmails(text)) {
          expect(span.start).toBeGreaterThanOrEqual(previousEnd);
          expect(span.end).toBeGreaterThan(span.start);
          const value = text.slice(span.start, span.end);
          expect(format.normalize(value)).toBe(value.toLowerCase());
          previousEnd = span.end;
        }
      }),
      { numRuns: 2000 },
    );
  });

  const localChar = fc.constantFrom(...'abcXYZ0189_%+-\''.split(''));
  const atom = fc.string({ unit: localChar, minLength: 1, maxLength: 8 }).filter((s) => s[0] !== "'");
  const local = fc.array(atom, { minLength: 1, maxLength: 4 }).map((a) => a.join('.')).filter((s) => s.length <= 64);
  const label = fc
    .string({ unit: fc.constantFrom(...'abz09-'.split('')), minLength: 1, maxLength: 10 })
    .filter((s) => s[0] !== '-' && s[s.length - 1] !== '-');
  const tld = fc.string({ unit: fc.constantFrom(...'comiorgNET'.split('')), minLength: 2, maxLength: 6 });
  const address = fc
    .tuple(local, fc.array(label, { minLength: 1, maxLength: 3 }), tld)
    .map(([l, labels, t]) => `${l}@${[...labels, t].join('.')}`);

  it('finds an address of the scanner syntax whole, and normalize() accepts it', () => {
    fc.assert(
      fc.property(address, fc.constantFrom(' ', '<', '(', '"', ', ', '：'), fc.constantFrom(' ', '>', ')', '"', '.', '!', '。'), (a, before, after) => {
        const text = `x${before}${a}${after} y`;
        expect(found(text)).toEqual([a]);
        expect(format.normalize(a)).toBe(a.toLowerCase());
      }),
      { numRuns: 2000 },
    );
  });
});

describe('findEmails: linear work on hostile input', () => {
  const LENGTH = 100_000;
  /** Characters examined per input character: a quadratic scan would be in the thousands here. */
  const STEPS_PER_CHAR = 8;

  it.each(Object.entries(adversarialInputs(LENGTH)))('%s', (_name, text) => {
    const counter = { steps: 0 };
    findEmails(text, counter);
    expect(counter.steps).toBeGreaterThanOrEqual(text.length); // the counter counts
    expect(counter.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
  });

  it('random text over hostile alphabets', () => {
    const unit = fc.string({ unit: fc.constantFrom(...'a@.-\'_+'.split('')), minLength: 1, maxLength: 12 });
    fc.assert(
      fc.property(unit, (u) => {
        const text = u.repeat(Math.ceil(20_000 / u.length));
        const counter = { steps: 0 };
        findEmails(text, counter);
        expect(counter.steps).toBeLessThanOrEqual(STEPS_PER_CHAR * text.length);
      }),
      { numRuns: 200 },
    );
  });
});
