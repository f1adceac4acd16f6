/**
 * How token specs learn that a type is vaultless: the keyring marked with withVaultlessTypes(), and the
 * recognizing format createTokenSpec() then builds (the engine finds tokens by `spec.format.isToken()`).
 */
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../../errors.js';
import { createTokenSpec } from '../index.js';
import { fixedKeyring } from '../test-helpers.js';
import { vaultlessScheme, withVaultlessTypes } from './index.js';

const plain = fixedKeyring();
const marked = withVaultlessTypes(plain, ['phone', 'email', 'phone']);

describe('withVaultlessTypes', () => {
  it('keeps the keys, marks the types once, and is the keyring itself when nothing changes', () => {
    expect(marked.vaultlessTypes).toEqual(['phone', 'email']);
    expect(marked.tokenKey).toBe(plain.tokenKey);
    expect(marked.encryptionKeys).toBe(plain.encryptionKeys);
    expect(Object.isFrozen(marked)).toBe(true);
    expect(withVaultlessTypes(plain, [])).toBe(plain);
    expect(withVaultlessTypes(marked, ['email', 'phone'])).toBe(marked);
    expect(vaultlessScheme(marked, 'phone')).toBe(vaultlessScheme(plain, 'phone')); // one scheme per key
  });
});

describe('specs of vaultless types', () => {
  const token = vaultlessScheme(plain, 'phone').encrypt('+442071838750', 'ns1', 'phone');

  it('recognize vaultless tokens of their namespace, and stored tokens as before', () => {
    const spec = createTokenSpec({ type: 'phone', namespace: 'ns1' }, marked);
    expect(spec.format.isToken(token)).toBe(true);
    expect(spec.format.isToken(spec.format.derive('+442071838750', 'ns1', 0))).toBe(true);
    expect(spec.format.normalize('+44 20 7183 8750')).toBe('+442071838750');
    expect(spec.variant).toBe('phone');
    // Random specs of the type recognize them too (recognition is per type; the vault decides per spec).
    expect(createTokenSpec({ type: 'phone', namespace: 'ns1', random: true }, marked).format.isToken(token)).toBe(true);
  });

  it('do not recognize them in another namespace, nor without the mark, nor for an unmarked type', () => {
    expect(createTokenSpec({ type: 'phone', namespace: 'ns2' }, marked).format.isToken(token)).toBe(false);
    expect(createTokenSpec({ type: 'phone', namespace: 'ns1' }, plain).format.isToken(token)).toBe(false);
    const digitsToken = vaultlessScheme(plain, 'digits').encrypt('4012888888881881', 'ns1', 'digits');
    expect(createTokenSpec({ type: 'digits', namespace: 'ns1' }, marked).format.isToken(digitsToken)).toBe(false);
  });

  it('recognize email tokens of every domain policy with the default spec, as stored email formats do', () => {
    const recognizer = createTokenSpec({ type: 'email', namespace: 'ns1' }, marked);
    const scheme = vaultlessScheme(plain, 'email');
    for (const variant of ['email;domain=preserve', 'email;domain=tokenize;suffix=anon.example', 'email;domain=tokenize;suffix=tok.invalid']) {
      expect(recognizer.format.isToken(scheme.encrypt('ada@x.io', 'ns1', variant))).toBe(true);
    }
  });

  it('refuse emailDomain sink for deterministic vaultless email at rule load (RULES_INVALID), not at run time', () => {
    let err: unknown;
    try {
      createTokenSpec({ type: 'email', namespace: 'ns1', emailDomain: { sink: 'sink.invalid' } }, marked);
    } catch (e) {
      err = e;
    }
    expect(isGatewayError(err) && err.code).toBe('RULES_INVALID');
    expect(isGatewayError(err) && err.field).toBe('emailDomain');
    expect(createTokenSpec({ type: 'email', emailDomain: { sink: 'sink.invalid' }, random: true }, marked).random).toBe(true);
    expect(createTokenSpec({ type: 'email', emailDomain: { sink: 'sink.invalid' } }, plain).type).toBe('email');
  });
});
