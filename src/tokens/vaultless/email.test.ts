/**
 * Vaultless email tokens (fixed keys): every domain policy round-trips, tokens are valid lower-case addresses
 * in the stored tokens' overall shape, the length limits are enforced with messages naming no value, and
 * nothing that was changed, moved or forged opens.
 */
import { describe, expect, it } from 'vitest';
import { createEmailFormat } from '../email.js';
import { BASE32 } from '../derive.js';
import { errorOf, fixedKeyring, pick, rng } from '../test-helpers.js';
import { base32Length } from './ciphers.js';
import { VAULTLESS_EMAIL_MAX_LOCAL, createVaultlessEmail, emailPolicy } from './email.js';

const keyring = fixedKeyring();
const email = createVaultlessEmail(keyring);
const TOKENIZE = 'email;domain=tokenize;suffix=tok.invalid';
const PRESERVE = 'email;domain=preserve';
const SINK = 'email;domain=sink:sink.invalid';
const stored = createEmailFormat(keyring, { domain: 'tokenize', suffix: 'tok.invalid' });

describe('vaultless email', () => {
  it('round-trips under every domain policy, as a valid lower-case address', () => {
    const values = ['ada.lovelace@example.com', 'bob@gmail.com', "o'hara+news@mail.example.co.uk", 'x@a.io'];
    for (const variant of [TOKENIZE, PRESERVE, 'email;domain=tokenize;suffix=anon.example.net']) {
      for (const value of values) {
        const token = email.encrypt(value, 'default', variant);
        expect(token).toBe(token.toLowerCase());
        expect(stored.normalize(token)).toBe(token); // passes the gateway's own address validation
        expect(token.indexOf('@')).toBeLessThanOrEqual(64);
        expect(stored.isToken(token)).toBe(false); // never the shape of a stored token (21-character local part)
        expect(email.open('default', token)).toBe(value);
        const domain = token.slice(token.indexOf('@') + 1);
        const policy = emailPolicy(variant);
        if (policy.kind === 'preserve') expect(domain).toBe(value.slice(value.indexOf('@') + 1));
        if (policy.kind === 'tokenize') expect(domain.endsWith(`.${policy.suffix}`)).toBe(true);
      }
    }
  });

  it('grows the local part by 28 + 1.6 x its length, and shares one domain token per domain and namespace', () => {
    for (let n = 1; n <= VAULTLESS_EMAIL_MAX_LOCAL; n++) {
      const token = email.encrypt(`${'a'.repeat(n)}@example.com`, 'default', PRESERVE);
      expect(token.indexOf('@')).toBe(1 + base32Length(16 + n));
    }
    const [a, b] = ['ada@example.com', 'bob@example.com'].map((v) => email.encrypt(v, 'default', TOKENIZE));
    expect(a!.split('@')[1]).toBe(b!.split('@')[1]);
    expect(a!.split('@')[0]).not.toBe(b!.split('@')[0]);
    expect(email.encrypt('ada@example.com', 'other', TOKENIZE).split('@')[1]).not.toBe(a!.split('@')[1]);
  });

  it('is deterministic and separates namespaces and variants', () => {
    const value = 'ada.lovelace@example.com';
    const t = email.encrypt(value, 'n1', TOKENIZE);
    expect(email.encrypt(value, 'n1', TOKENIZE)).toBe(t);
    expect(email.encrypt(value, 'n2', TOKENIZE)).not.toBe(t);
    expect(email.encrypt(value, 'n1', 'email;domain=tokenize;suffix=other.invalid').split('@')[0]).not.toBe(t.split('@')[0]);
    expect(email.open('n2', t)).toBeUndefined();
  });

  it('refuses local parts over 23 characters, tokens over 254 characters, and the sink policy', () => {
    const max = `${'l'.repeat(VAULTLESS_EMAIL_MAX_LOCAL)}@example.com`;
    expect(email.encrypt(max, 'default', TOKENIZE).indexOf('@')).toBe(64);
    const long = errorOf(() => email.encrypt(`${'l'.repeat(VAULTLESS_EMAIL_MAX_LOCAL)}x@example.com`, 'default', TOKENIZE));
    expect(long.code).toBe('INVALID_VALUE');
    expect(long.message).toContain('longer than 23 characters');
    expect(long.message).not.toContain('lllll');
    expect(errorOf(() => email.encrypt('ada@example.com', 'default', SINK)).code).toBe('RULES_INVALID');
    const bigDomain = `${'d'.repeat(60)}.${'e'.repeat(60)}.${'f'.repeat(60)}.${'g'.repeat(60)}.com`; // 247 characters
    const tooLong = errorOf(() => email.encrypt(`ada@${bigDomain}`, 'default', PRESERVE));
    expect(tooLong.message).toContain('254');
    expect(tooLong.message).not.toContain('ddddd');
    expect(errorOf(() => email.encrypt(`ada@${bigDomain}`, 'default', TOKENIZE)).code).toBe('INVALID_VALUE');
  });

  it('opens nothing that was moved or changed: another domain, another suffix, a swapped domain token, one character', () => {
    const ns = 'default';
    const p = email.encrypt('ada@example.com', ns, PRESERVE);
    expect(email.open(ns, p.replace('@example.com', '@example.org'))).toBeUndefined();
    const t = email.encrypt('ada@example.com', ns, TOKENIZE);
    expect(email.open(ns, t.replace('.tok.invalid', '.tok2.invalid'))).toBeUndefined();
    const otherDomain = email.encrypt('zed@other.example', ns, TOKENIZE).split('@')[1]!;
    expect(email.open(ns, `${t.split('@')[0]}@${otherDomain}`)).toBeUndefined();
    for (let i = 1; i < t.indexOf('@'); i++) {
      const c = t[i] === 'a' ? 'b' : 'a';
      expect(email.open(ns, t.slice(0, i) + c + t.slice(i + 1))).toBeUndefined();
    }
    // The marker names the policy: changed, the token is read under another variant and does not open.
    for (const m of '012345'.replace(t[0]!, '')) expect(email.open(ns, m + t.slice(1))).toBeUndefined();
    expect(email.open(ns, t.toUpperCase())).toBeUndefined();
    expect(email.open(ns, stored.derive('ada@example.com', ns, 0))).toBeUndefined();
  });

  it('false acceptance: 0 of 100,000 forged strings of the token shape open (AES-SIV: 2^-128 each)', () => {
    const r = rng(31);
    let opened = 0;
    for (let i = 0; i < 100_000; i++) {
      const local = String(i % 3 === 0 ? 0 : 2) + pick(r, BASE32, base32Length(16 + 1 + (i % 20)));
      const domain = i % 3 === 0 ? 'example.com' : `${pick(r, BASE32, 30)}.tok.invalid`;
      if (email.open('default', `${local}@${domain}`) !== undefined) opened++;
    }
    expect(opened).toBe(0);
  });

  it('never throws on hostile input', () => {
    for (const s of ['', '@', 'a@', '@b.c', '0@b.c', `0${'a'.repeat(70)}@b.c`, '2aaaa@x', `5${'a'.repeat(40)}@a.b`, 'a@b@c', '9'.repeat(300)]) {
      expect(email.open('default', s)).toBeUndefined();
    }
  });
});
