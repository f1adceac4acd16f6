import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { BASE62 } from './derive.js';
import { createOpaqueFormat, isValidOpaquePrefix } from './opaque.js';
import { fixedKeyring, pick, rng } from './test-helpers.js';

const keyring = fixedKeyring();
const opaque = createOpaqueFormat(keyring, 'tok_');

describe('opaque', () => {
  it('accepts any non-empty value as it is and refuses the empty string', () => {
    expect(opaque.normalize(' Ada Lovelace ')).toBe(' Ada Lovelace ');
    expect(opaque.normalize('x')).toBe('x');
    let code: string | undefined;
    try {
      opaque.normalize('');
    } catch (err) {
      code = (err as { code?: string }).code;
    }
    expect(code).toBe('INVALID_VALUE');
  });

  it('makes prefix + 22 base62 characters', () => {
    expect(opaque.derive('Ada Lovelace', 'default', 0)).toMatch(/^tok_[0-9A-Za-z]{22}$/);
    expect(createOpaqueFormat(keyring, '').derive('Ada', 'default', 0)).toMatch(/^[0-9A-Za-z]{22}$/);
    expect(createOpaqueFormat(keyring, 'cus-ID_').derive('Ada', 'default', 0)).toMatch(/^cus-ID_[0-9A-Za-z]{22}$/);
  });

  it('validates prefixes', () => {
    for (const ok of ['', 'tok_', 'TKN_', 'a-b_c', 'x'.repeat(16)]) expect(isValidOpaquePrefix(ok)).toBe(true);
    for (const bad of ['x'.repeat(17), 'tok:', 'tök_', 'a b', 'tok.']) expect(isValidOpaquePrefix(bad)).toBe(false);
  });

  it('is deterministic and separates namespaces, attempts, prefixes and keys; random differs', () => {
    const a = opaque.derive('Ada Lovelace', 'default', 0);
    expect(opaque.derive('Ada Lovelace', 'default', 0)).toBe(a);
    expect(opaque.derive('Ada Lovelace', 'other', 0)).not.toBe(a);
    expect(opaque.derive('Ada Lovelace', 'default', 1)).not.toBe(a);
    expect(opaque.derive('Ada lovelace', 'default', 0)).not.toBe(a);
    expect(createOpaqueFormat(keyring, 'cus_').derive('Ada Lovelace', 'default', 0).slice(4)).not.toBe(a.slice(4));
    expect(createOpaqueFormat(ephemeralKeyring(), 'tok_').derive('Ada Lovelace', 'default', 0)).not.toBe(a);
    const e = randomBytes(16);
    expect(opaque.derive('Ada Lovelace', 'default', 0, e)).toBe(opaque.derive('Ada Lovelace', 'default', 0, e));
    expect(opaque.derive('Ada Lovelace', 'default', 0, e)).not.toBe(opaque.derive('Ada Lovelace', 'default', 0, randomBytes(16)));
  });

  it('never returns its input, even a token', () => {
    const token = opaque.derive('Ada', 'default', 0);
    expect(opaque.derive(token, 'default', 0)).not.toBe(token);
  });

  it('recognizes 100% of 10,000 tokens, of any prefix, with any opaque format', () => {
    const prefixes = ['tok_', 'TKN_', '', 'customer-id_'];
    const formats = prefixes.map((p) => createOpaqueFormat(keyring, p));
    for (let i = 0; i < 10_000; i++) {
      const token = formats[i % 4]!.derive(`value ${i}`, `ns${i % 3}`, i % 2);
      if (!opaque.isToken(token) || !formats[1]!.isToken(token)) throw new Error(`token ${i} not recognized`);
    }
  });

  it('refuses tampered tokens, moved prefixes and other keys', () => {
    const token = opaque.derive('Ada', 'default', 0);
    expect(opaque.isToken(token)).toBe(true);
    expect(opaque.isToken(`cus_${token.slice(4)}`)).toBe(false);
    expect(opaque.isToken(token.slice(4))).toBe(false);
    const c = token[10] === 'a' ? 'b' : 'a';
    expect(opaque.isToken(token.slice(0, 10) + c + token.slice(11))).toBe(false);
    expect(opaque.isToken(`${token}x`)).toBe(false);
    expect(opaque.isToken(`tok:${token.slice(4)}`)).toBe(false);
    expect(opaque.isToken(`${'x'.repeat(17)}${token.slice(4)}`)).toBe(false);
    expect(createOpaqueFormat(ephemeralKeyring(), 'tok_').isToken(token)).toBe(false);
  });

  it('false positives on 100,000 random token-shaped strings stay near 62^-4', () => {
    const r = rng(11);
    let hits = 0;
    for (let i = 0; i < 100_000; i++) if (opaque.isToken(`tok_${pick(r, BASE62, 22)}`)) hits++;
    // Expected 100,000 / 14,776,336 = 0.007.
    expect(hits).toBeLessThanOrEqual(1);
    let other = 0;
    for (let i = 0; i < 100_000; i++) if (opaque.isToken(pick(r, `${BASE62} @._-`, 1 + Math.floor(r() * 40)))) other++;
    expect(other).toBeLessThanOrEqual(1);
  });

  it('derives 100,000 distinct tokens for 100,000 distinct values', () => {
    const tokens = new Set<string>();
    for (let i = 0; i < 100_000; i++) tokens.add(opaque.derive(`Customer ${i}`, 'default', 0));
    expect(tokens.size).toBe(100_000);
  });
});
