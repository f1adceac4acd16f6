import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { createTokenSpec, formatFor, TOKEN_TYPES, type TokenSpecInput } from './index.js';
import { errorOf } from './test-helpers.js';

const keyring = ephemeralKeyring();

describe('createTokenSpec', () => {
  it('fills defaults and returns frozen specs', () => {
    const spec = createTokenSpec({ type: 'email' }, keyring);
    expect(spec).toMatchObject({ type: 'email', namespace: 'default', random: false, variant: 'email;domain=tokenize;suffix=tok.invalid' });
    expect(Object.isFrozen(spec)).toBe(true);
    expect(Object.isFrozen(spec.format)).toBe(true);
    expect(spec.format.type).toBe('email');
  });

  it('names every option that changes a token in the variant, and nothing else', () => {
    const variant = (input: TokenSpecInput) => createTokenSpec(input, keyring).variant;
    expect(variant({ type: 'email', emailDomain: 'preserve' })).toBe('email;domain=preserve');
    expect(variant({ type: 'email', emailDomain: 'preserve', emailSuffix: 'other.invalid' })).toBe('email;domain=preserve');
    expect(variant({ type: 'email', emailDomain: { sink: 'Sink.INVALID' } })).toBe('email;domain=sink:sink.invalid');
    expect(variant({ type: 'email', emailSuffix: 'T.Example.com' })).toBe('email;domain=tokenize;suffix=t.example.com');
    expect(variant({ type: 'phone', namespace: 'x', random: true })).toBe('phone');
    expect(variant({ type: 'digits' })).toBe('digits');
    expect(variant({ type: 'opaque' })).toBe('opaque;prefix=tok_');
    expect(variant({ type: 'opaque', prefix: '' })).toBe('opaque;prefix=');
  });

  it('returns the same object for equal inputs and shares formats across namespaces', () => {
    const a = createTokenSpec({ type: 'email', emailDomain: { sink: 'sink.invalid' } }, keyring);
    expect(createTokenSpec({ emailDomain: { sink: 'SINK.invalid' }, type: 'email', namespace: 'default' }, keyring)).toBe(a);
    expect(createTokenSpec({ type: 'email', emailDomain: { sink: 'sink.invalid' }, random: true }, keyring)).not.toBe(a);
    const other = createTokenSpec({ type: 'email', emailDomain: { sink: 'sink.invalid' }, namespace: 'tenant-2' }, keyring);
    expect(other).not.toBe(a);
    expect(other.format).toBe(a.format);
    expect(createTokenSpec({ type: 'email' }, ephemeralKeyring())).not.toBe(createTokenSpec({ type: 'email' }, keyring));
    expect(createTokenSpec({ type: 'phone' }, keyring)).toBe(createTokenSpec({ type: 'phone', random: false }, keyring));
  });

  it('carries its canonical input (frozen), which builds the very same spec again', () => {
    const cases: [TokenSpecInput, TokenSpecInput][] = [
      [{ type: 'email' }, { type: 'email', namespace: 'default', random: false, emailDomain: 'tokenize', emailSuffix: 'tok.invalid' }],
      [{ type: 'email', emailSuffix: 'T.Example.com', namespace: 'n' }, { type: 'email', namespace: 'n', random: false, emailDomain: 'tokenize', emailSuffix: 't.example.com' }],
      // The suffix does not change a preserved or sunk domain: it is not part of the input either.
      [{ type: 'email', emailDomain: 'preserve', emailSuffix: 'other.invalid' }, { type: 'email', namespace: 'default', random: false, emailDomain: 'preserve' }],
      [{ type: 'email', emailDomain: { sink: 'SINK.invalid' }, random: true }, { type: 'email', namespace: 'default', random: true, emailDomain: { sink: 'sink.invalid' } }],
      [{ type: 'opaque' }, { type: 'opaque', namespace: 'default', random: false, prefix: 'tok_' }],
      [{ type: 'opaque', prefix: '' }, { type: 'opaque', namespace: 'default', random: false, prefix: '' }],
      [{ type: 'phone', random: true }, { type: 'phone', namespace: 'default', random: true }],
      [{ type: 'digits', namespace: 'x' }, { type: 'digits', namespace: 'x', random: false }],
    ];
    for (const [given, canonical] of cases) {
      const spec = createTokenSpec(given, keyring);
      expect(spec.input).toEqual(canonical);
      expect(Object.isFrozen(spec.input)).toBe(true);
      if (typeof spec.input.emailDomain === 'object') expect(Object.isFrozen(spec.input.emailDomain)).toBe(true);
      expect(createTokenSpec(spec.input, keyring)).toBe(spec);
      // JSON round trip (what goes over the wire to another gateway) builds an equal spec.
      expect(createTokenSpec(JSON.parse(JSON.stringify(spec.input)) as TokenSpecInput, keyring)).toBe(spec);
    }
    // Whichever equal input builds the memoized spec first, its input is the same.
    const k = ephemeralKeyring();
    const first = createTokenSpec({ type: 'email', emailDomain: 'preserve', emailSuffix: 'a.invalid' }, k);
    expect(createTokenSpec({ type: 'email', emailDomain: 'preserve' }, k)).toBe(first);
    expect(first.input).toEqual({ type: 'email', namespace: 'default', random: false, emailDomain: 'preserve' });
  });

  const invalid: [string, unknown, string][] = [
    ['unknown type', { type: 'ssn' }, 'type'],
    ['emailDomain on phone', { type: 'phone', emailDomain: 'preserve' }, 'emailDomain'],
    ['emailSuffix on opaque', { type: 'opaque', emailSuffix: 'x.invalid' }, 'emailSuffix'],
    ['prefix on email', { type: 'email', prefix: 'tok_' }, 'prefix'],
    ['bad emailDomain', { type: 'email', emailDomain: 'keep' }, 'emailDomain'],
    ['sink with extra keys', { type: 'email', emailDomain: { sink: 'a.invalid', x: 1 } }, 'emailDomain'],
    ['bad sink', { type: 'email', emailDomain: { sink: 'not a domain' } }, 'emailDomain.sink'],
    ['one-label suffix', { type: 'email', emailSuffix: 'invalid' }, 'emailSuffix'],
    ['too long suffix', { type: 'email', emailSuffix: `${'a'.repeat(63)}.${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(30)}.invalid` }, 'emailSuffix'],
    ['bad prefix', { type: 'opaque', prefix: 'tok:' }, 'prefix'],
    ['long prefix', { type: 'opaque', prefix: 'p'.repeat(17) }, 'prefix'],
    ['empty namespace', { type: 'opaque', namespace: '' }, 'namespace'],
    ['control character in namespace', { type: 'opaque', namespace: 'a\0b' }, 'namespace'],
    ['non-boolean random', { type: 'opaque', random: 'yes' }, 'random'],
  ];
  for (const [name, input, field] of invalid) {
    it(`refuses ${name} with RULES_INVALID on ${field}`, () => {
      const err = errorOf(() => createTokenSpec(input as TokenSpecInput, keyring));
      expect(err.code).toBe('RULES_INVALID');
      expect(err.field).toBe(field);
      expect(err.message).toContain(field.split('.')[0]);
    });
  }
});

describe('formatFor', () => {
  it('gives the memoized format of createTokenSpec', () => {
    expect(formatFor('opaque', keyring, { prefix: 'cus_' })).toBe(createTokenSpec({ type: 'opaque', prefix: 'cus_' }, keyring).format);
    expect(formatFor('email', keyring, { emailDomain: 'preserve' }).variant).toBe('email;domain=preserve');
  });

  it('default formats recognize tokens of every variant of their type (detokenize rules name only the type)', () => {
    const specs: TokenSpecInput[] = [
      { type: 'email', emailDomain: 'preserve' },
      { type: 'email', emailDomain: { sink: 'sink.invalid' } },
      { type: 'email', emailSuffix: 'mail.example.net', random: true },
      { type: 'opaque', prefix: 'TKN_' },
      { type: 'opaque', prefix: '' },
      { type: 'phone', namespace: 'n2' },
      { type: 'digits', random: true },
    ];
    const values: Record<string, string> = { email: 'ada@example.com', opaque: 'Ada', phone: '+442071838750', digits: '12345678901' };
    for (const input of specs) {
      const spec = createTokenSpec(input, keyring);
      const token = spec.format.derive(spec.format.normalize(values[spec.type]!), spec.namespace, 0, spec.random ? Buffer.alloc(16, 3) : undefined);
      for (const type of TOKEN_TYPES) {
        expect([spec.variant, type, formatFor(type, keyring).isToken(token)]).toEqual([spec.variant, type, type === spec.type]);
      }
    }
  });
});
