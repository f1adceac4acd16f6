/** Vaultless opaque tokens (fixed keys): round trips of any text, the prefix, length, separation, tampering. */
import { describe, expect, it } from 'vitest';
import { createOpaqueFormat } from '../opaque.js';
import { errorOf, fixedKeyring, pick, rng } from '../test-helpers.js';
import { createVaultlessOpaque } from './opaque.js';

const keyring = fixedKeyring();
const opaque = createVaultlessOpaque(keyring);
const stored = createOpaqueFormat(keyring, 'tok_');

describe('vaultless opaque', () => {
  it('round-trips any text under any prefix, growing as 23 + 4/3 of the UTF-8 length', () => {
    const values = ['Ada Lovelace', 'x', '12 St James Square, London SW1Y 4LE', 'Zoë Ñúñez 🙂', 'a'.repeat(5000)];
    for (const prefix of ['tok_', '', 'cus_', 'A-b_0123456789xy']) {
      for (const value of values) {
        const token = opaque.encrypt(value, 'default', `opaque;prefix=${prefix}`);
        expect(token.startsWith(prefix)).toBe(true);
        expect(token).toMatch(/^[A-Za-z0-9_-]+$/);
        expect(token).toHaveLength(prefix.length + Math.ceil(((16 + Buffer.byteLength(value)) * 4) / 3) + 1);
        expect(opaque.open('default', token)).toBe(value);
        expect(stored.isToken(token)).toBe(false);
      }
    }
  });

  it('is deterministic and separates namespaces and prefixes; a changed prefix or character does not open', () => {
    const t = opaque.encrypt('Ada Lovelace', 'n1', 'opaque;prefix=tok_');
    expect(opaque.encrypt('Ada Lovelace', 'n1', 'opaque;prefix=tok_')).toBe(t);
    expect(opaque.encrypt('Ada Lovelace', 'n2', 'opaque;prefix=tok_')).not.toBe(t);
    const cus = opaque.encrypt('Ada Lovelace', 'n1', 'opaque;prefix=cus_');
    expect(cus.slice(4)).not.toBe(t.slice(4));
    expect(opaque.open('n2', t)).toBeUndefined();
    expect(opaque.open('n1', `cus_${t.slice(4)}`)).toBeUndefined();
    for (let i = 4; i < t.length - 1; i++) expect(opaque.open('n1', t.slice(0, i) + (t[i] === 'A' ? 'B' : 'A') + t.slice(i + 1))).toBeUndefined();
    expect(opaque.open('n1', stored.derive('Ada Lovelace', 'n1', 0))).toBeUndefined();
    expect(errorOf(() => opaque.encrypt('', 'n1', 'opaque;prefix=tok_')).code).toBe('INVALID_VALUE');
  });

  it('false acceptance: 0 of 100,000 forged token-shaped strings open (AES-SIV: 2^-128 each)', () => {
    const r = rng(41);
    const alphabet = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_';
    let opened = 0;
    for (let i = 0; i < 100_000; i++) if (opaque.open('default', `tok_${pick(r, alphabet, 24 + (i % 30))}4`) !== undefined) opened++;
    expect(opened).toBe(0);
    for (const s of ['', '4', 'tok_', 'tok_4', 'x'.repeat(100) + 'Z', 'tok_!!!!!!!!!!!!!!!!!!!!!!!!4']) expect(opaque.open('default', s)).toBeUndefined();
  });
});
