import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { createEmailFormat, EMAIL_LOCAL_BODY, EMAIL_LOCAL_CHECK } from './email.js';
import { errorOf, fixedKeyring, pick, rng } from './test-helpers.js';

// Fixed keys so the statistical assertions below are reproducible.
const keyring = fixedKeyring();
const tokenize = createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' });
const preserve = createEmailFormat(keyring, { domain: 'preserve', suffix: 'tok.invalid' });
const sink = createEmailFormat(keyring, { domain: { sink: 'sink.invalid' }, suffix: 'tok.invalid' });

const LOWER = 'abcdefghijklmnopqrstuvwxyz';

const LOCAL_LEN = EMAIL_LOCAL_BODY + EMAIL_LOCAL_CHECK;
const TOKENIZED = new RegExp(`^[a-z2-7]{${LOCAL_LEN}}@[a-z2-7]{16}\\.tok\\.invalid$`);

describe('email normalize', () => {
  it('trims and lower-cases the whole address', () => {
    expect(tokenize.normalize('  Ada.Lovelace+news@Example.COM\n')).toBe('ada.lovelace+news@example.com');
    expect(tokenize.normalize("o'brien@sub.example.co.uk")).toBe("o'brien@sub.example.co.uk");
    expect(tokenize.normalize('x@xn--bcher-kva.example')).toBe('x@xn--bcher-kva.example');
    expect(tokenize.normalize(`${'a'.repeat(64)}@${'b'.repeat(63)}.com`)).toHaveLength(64 + 1 + 67);
  });

  const invalid = [
    '',
    'plainaddress',
    'a@b@example.com',
    '@example.com',
    'ada@',
    '.ada@example.com',
    'ada.@example.com',
    'ad..a@example.com',
    '"ada lovelace"@example.com',
    'ada lovelace@example.com',
    'ada@localhost',
    'ada@example..com',
    'ada@-example.com',
    'ada@example-.com',
    'ada@exa_mple.com',
    'ada@[192.168.0.1]',
    'ada@192.168.0.1',
    'adä@example.com',
    'ada@exämple.com',
    'ada@example.com.',
    `${'a'.repeat(65)}@example.com`,
    `ada@${'b'.repeat(64)}.com`,
    `${'a'.repeat(60)}@${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.com`,
  ];
  for (const value of invalid) {
    it(`refuses ${JSON.stringify(value.slice(0, 40))} with INVALID_VALUE, not echoing it`, () => {
      const err = errorOf(() => tokenize.normalize(value));
      expect(err.code).toBe('INVALID_VALUE');
      expect(err.message).toMatch(/^not a valid email address: /);
      if (value.length > 0) expect(err.message).not.toContain(value);
      expect(err.message).not.toContain('ada');
    });
  }

  it('scans hostile input in linear time', () => {
    const hostile = ['a.'.repeat(200_000) + '@', 'a@' + 'a-'.repeat(200_000), '@'.repeat(400_000), 'a'.repeat(400_000)];
    const start = performance.now();
    for (const value of hostile) expect(() => tokenize.normalize(value)).toThrow();
    expect(performance.now() - start).toBeLessThan(200);
  });

  it('refuses a domain too long to sit next to a local token when preserving it', () => {
    const longDomain = `${'b'.repeat(63)}.${'c'.repeat(63)}.${'d'.repeat(63)}.${'e'.repeat(45)}`;
    expect(tokenize.normalize(`a@${longDomain}`)).toBe(`a@${longDomain}`);
    expect(errorOf(() => preserve.normalize(`a@${longDomain}`)).code).toBe('INVALID_VALUE');
  });
});

describe('email derive', () => {
  const value = 'ada@example.com';

  it('makes a valid, undeliverable address of the documented shape', () => {
    const token = tokenize.derive(value, 'default', 0);
    expect(token).toMatch(TOKENIZED);
    expect(tokenize.normalize(token)).toBe(token);
    expect(token.length).toBeLessThanOrEqual(254);
  });

  it('is deterministic and separates namespaces and attempts', () => {
    const a = tokenize.derive(value, 'default', 0);
    expect(tokenize.derive(value, 'default', 0)).toBe(a);
    expect(createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' }).derive(value, 'default', 0)).toBe(a);
    expect(tokenize.derive(value, 'tenant-b', 0)).not.toBe(a);
    expect(tokenize.derive(value, 'default', 1)).not.toBe(a);
    expect(tokenize.derive('ada@example.org', 'default', 0)).not.toBe(a);
    const otherKeys = createEmailFormat(ephemeralKeyring(), { domain: 'tokenize', suffix: 'tok.invalid' });
    expect(otherKeys.derive(value, 'default', 0)).not.toBe(a);
  });

  it('shares one domain token per (namespace, domain)', () => {
    const domainOf = (t: string) => t.slice(t.indexOf('@') + 1);
    const a = tokenize.derive('ada@example.com', 'default', 0);
    const b = tokenize.derive('bob@example.com', 'default', 3);
    expect(domainOf(a)).toBe(domainOf(b));
    expect(a.slice(0, LOCAL_LEN)).not.toBe(b.slice(0, LOCAL_LEN));
    expect(domainOf(tokenize.derive('ada@example.org', 'default', 0))).not.toBe(domainOf(a));
    expect(domainOf(tokenize.derive('ada@example.com', 'other', 0))).not.toBe(domainOf(a));
    const suffixed = createEmailFormat(keyring, { domain: 'tokenize', suffix: 'users.example.net' });
    expect(suffixed.derive(value, 'default', 0)).toMatch(/^[a-z2-7]{21}@[a-z2-7]{16}\.users\.example\.net$/);
  });

  it('keeps the real domain with preserve and the sink domain with sink', () => {
    expect(preserve.derive('ada@gmail.com', 'default', 0)).toMatch(/^[a-z2-7]{21}@gmail\.com$/);
    expect(sink.derive('ada@gmail.com', 'default', 0)).toMatch(/^[a-z2-7]{21}@sink\.invalid$/);
    // Policies are separate variants: the local parts differ too.
    expect(preserve.derive(value, 'default', 0).slice(0, LOCAL_LEN)).not.toBe(sink.derive(value, 'default', 0).slice(0, LOCAL_LEN));
  });

  it('random tokens come from the entropy, not the value', () => {
    const e1 = randomBytes(16);
    const r1 = tokenize.derive(value, 'default', 0, e1);
    expect(r1).toMatch(TOKENIZED);
    expect(tokenize.derive(value, 'default', 0, e1)).toBe(r1);
    expect(tokenize.derive(value, 'default', 0, randomBytes(16))).not.toBe(r1);
    expect(r1).not.toBe(tokenize.derive(value, 'default', 0));
    expect(tokenize.isToken(r1)).toBe(true);
    expect(() => tokenize.derive(value, 'default', 0, randomBytes(8))).toThrow(/entropy/);
  });

  it('never returns its input, even when the input is a token', () => {
    const token = tokenize.derive(value, 'default', 0);
    const again = tokenize.derive(token, 'default', 0);
    expect(again).not.toBe(token);
    expect(tokenize.isToken(again)).toBe(true);
  });
});

describe('email isToken', () => {
  it('recognizes 100% of 10,000 tokens of every domain policy, with any email format', () => {
    const r = rng(1);
    for (let i = 0; i < 10_000; i++) {
      const value = `${pick(r, LOWER, 1 + Math.floor(r() * 12))}@${pick(r, LOWER, 2 + Math.floor(r() * 8))}.com`;
      const format = [tokenize, preserve, sink][i % 3]!;
      const token = format.derive(value, `ns${i % 7}`, i % 4);
      expect(token).not.toBe(value);
      // Recognition does not depend on the recognizing format's policy (detokenize rules name only the type).
      if (!tokenize.isToken(token) || !preserve.isToken(token) || !sink.isToken(token)) {
        throw new Error(`token ${i} not recognized`);
      }
    }
  });

  it('refuses tampered, re-cased and other-key tokens', () => {
    const token = tokenize.derive('ada@example.com', 'default', 0);
    const flipped = (token[3] === 'a' ? 'b' : 'a');
    expect(tokenize.isToken(token.slice(0, 3) + flipped + token.slice(4))).toBe(false);
    expect(tokenize.isToken(token.toUpperCase())).toBe(false);
    expect(tokenize.isToken(token.slice(0, LOCAL_LEN) + '@')).toBe(false);
    expect(tokenize.isToken(token.slice(1))).toBe(false);
    expect(createEmailFormat(ephemeralKeyring(), { domain: 'tokenize', suffix: 'tok.invalid' }).isToken(token)).toBe(false);
  });

  it('has no false positives on 100,000 real-looking addresses, and few on token-shaped strings', () => {
    const r = rng(2);
    let real = 0;
    let shaped = 0;
    for (let i = 0; i < 100_000; i++) {
      if (tokenize.isToken(`${pick(r, LOWER + '.', 4 + Math.floor(r() * 20)).replace(/\.+/g, '.')}x@example.com`)) real++;
      // Exactly the token shape: 21 base32 characters, '@', a domain. Only the 5 check characters can reject it.
      if (tokenize.isToken(`${pick(r, 'abcdefghijklmnopqrstuvwxyz234567', LOCAL_LEN)}@example.com`)) shaped++;
    }
    expect(real).toBe(0);
    // Expected rate 32^-5 = 1 in 33,554,432: 0.003 hits in 100,000.
    expect(shaped).toBeLessThanOrEqual(1);
  });

  it('derives 100,000 distinct tokens for 100,000 distinct addresses', () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 100_000; i++) tokens.add(tokenize.derive(`user${i}@example${i % 100}.com`, 'default', 0));
    expect(tokens.size).toBe(100_000);
    const sinkTokens = new Set<string>();
    for (let i = 0; i < 100_000; i++) sinkTokens.add(sink.derive(`user${i}@example.com`, 'default', 0));
    expect(sinkTokens.size).toBe(100_000);
  });
});
