/**
 * VaultlessVault: the conformance suite with all four token types vaultless over a memory LocalVault (the
 * inner vault keeps only random tokens), then what is particular to vaultless tokens: no store consulted,
 * stored and vaultless tokens side by side, misdelivery guards, erasure, and errors that name no value.
 */
import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { isGatewayError } from '../../src/errors.js';
import { createTokenSpec, withVaultlessTypes } from '../../src/tokens/index.js';
import type { TokenSpecInput, TokenType } from '../../src/tokens/types.js';
import { vaultlessScheme } from '../../src/tokens/vaultless/index.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from '../../src/vault/interface.js';
import { LocalVault } from '../../src/vault/local.js';
import { MemoryStore } from '../../src/vault/memory.js';
import { VaultlessVault } from '../../src/vault/vaultless.js';
import { vaultConformance } from './conformance.js';

const ALL: TokenType[] = ['email', 'phone', 'opaque', 'digits'];
const keyring = withVaultlessTypes(ephemeralKeyring(), ALL);

vaultConformance(
  'vaultless',
  async () => {
    const vault = new VaultlessVault(new LocalVault(new MemoryStore(), keyring), keyring, ALL);
    return { vault, stop: () => vault.close() };
  },
  // Deterministic tokens need no store, so they survive a restart over a memory inner vault.
  { persistent: true, erasure: 'none', lengthPreserving: false, keyring },
);

/** An inner vault that records every call (a real LocalVault underneath). */
class Recording implements Vault {
  readonly calls: string[] = [];
  readonly inner = new LocalVault(new MemoryStore(), keyring);
  tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    this.calls.push(`tokenize ${items.length}`);
    return this.inner.tokenize(items);
  }
  detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    this.calls.push(`detokenize ${items.length}`);
    return this.inner.detokenize(items);
  }
  delete(items: readonly DeleteItem[]): Promise<number> {
    this.calls.push(`delete ${items.length}`);
    return this.inner.delete(items);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

const spec = (input: TokenSpecInput) => createTokenSpec(input, keyring);
const values: Record<TokenType, string> = {
  email: 'Ada.Lovelace@Example.com',
  phone: '+44 20 7183 8750',
  opaque: 'Ada Lovelace, 12 St James Square',
  digits: '4012888888881881',
};

describe('VaultlessVault', () => {
  it('never calls the inner vault for deterministic tokens of vaultless types, either way', async () => {
    const inner = new Recording();
    const vault = new VaultlessVault(inner, keyring, ALL);
    const items = ALL.map((type) => ({ spec: spec({ type, namespace: 'n1' }), value: values[type] }));
    const tokens = await vault.tokenize(items);
    const results = await vault.detokenize(tokens.map((token) => ({ namespace: 'n1', token })));
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(items.map((i) => i.spec.format.normalize(i.value)));
    expect(inner.calls).toEqual([]);
  });

  it('sends random specs and other types to the inner vault in one call, keeping batch order', async () => {
    const inner = new Recording();
    const vault = new VaultlessVault(inner, keyring, ['phone']);
    const batch = [
      { spec: spec({ type: 'phone', namespace: 'n2' }), value: values.phone },
      { spec: spec({ type: 'email', namespace: 'n2' }), value: values.email },
      { spec: spec({ type: 'phone', namespace: 'n2', random: true }), value: values.phone },
      { spec: spec({ type: 'phone', namespace: 'n2' }), value: '+1 415 555 2671' },
    ];
    const tokens = await vault.tokenize(batch);
    expect(inner.calls).toEqual(['tokenize 2']);
    expect(tokens[0]).toBe(vaultlessScheme(keyring, 'phone').encrypt('+442071838750', 'n2', 'phone'));
    expect(tokens[1]).toMatch(/^[a-z2-7]{21}@[a-z2-7]{16}\.tok\.invalid$/); // a stored email token
    expect(tokens[2]).toMatch(/^\+44\d{10}$/); // a stored (random) phone token: same length as the number
    expect(tokens[3]).toMatch(/^\+1\d{12}$/); // vaultless: 2 check digits longer

    const results = await vault.detokenize(tokens.map((token) => ({ namespace: 'n2', token })));
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(['+442071838750', 'ada.lovelace@example.com', '+442071838750', '+14155552671']);
    // Only the two stored tokens were looked up, in one call.
    expect(inner.calls).toEqual(['tokenize 2', 'detokenize 2']);
  });

  it('resolves stored tokens of a vaultless type (issued before the switch), never decrypting them', async () => {
    const inner = new LocalVault(new MemoryStore(), keyring);
    const items = ALL.map((type) => ({ spec: spec({ type, namespace: 'n3' }), value: values[type] }));
    const stored = await inner.tokenize(items); // what the gateway issued while every type was stored
    const vault = new VaultlessVault(inner, keyring, ALL);
    for (const [i, token] of stored.entries()) expect(vaultlessScheme(keyring, ALL[i]!).open('n3', token)).toBeUndefined();
    const results = await vault.detokenize(stored.map((token) => ({ namespace: 'n3', token })));
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(items.map((i) => i.spec.format.normalize(i.value)));
    // Email and opaque stored tokens pass through tokenize unchanged, as they do in LocalVault.
    const again = await vault.tokenize([
      { spec: spec({ type: 'email', namespace: 'n3' }), value: stored[0]! },
      { spec: spec({ type: 'opaque', namespace: 'n3' }), value: stored[2]! },
    ]);
    expect(again).toEqual([stored[0], stored[2]]);
  });

  it('does not resolve a real phone number sent to detokenize (it is not a token), and says found:false', async () => {
    const phone = vaultlessScheme(keyring, 'phone');
    const vault = new VaultlessVault(new LocalVault(new MemoryStore(), keyring), keyring, ['phone']);
    // Real numbers whose last two digits are not our check for the namespace: 99 in 100 of them.
    const real: string[] = [];
    for (let i = 0; real.length < 200; i++) {
      const n = `+4477009${String(i).padStart(5, '0')}`;
      if (phone.open('n4', n) === undefined) real.push(n);
    }
    expect(real.length).toBe(200);
    const results = await vault.detokenize(real.map((token) => ({ namespace: 'n4', token })));
    expect(results.every((r) => !r.found)).toBe(true);
    // ...whereas a bare FF1 would have "decrypted" every one of them to somebody's number.
  });

  it('fails the check (found:false) for a token with a changed digit, another namespace, or a changed email domain', async () => {
    const vault = new VaultlessVault(new LocalVault(new MemoryStore(), keyring), keyring, ALL);
    const ns = 'n5';
    const [p, e, d] = await vault.tokenize([
      { spec: spec({ type: 'phone', namespace: ns }), value: values.phone },
      { spec: spec({ type: 'email', namespace: ns, emailDomain: 'preserve' }), value: values.email },
      { spec: spec({ type: 'digits', namespace: ns }), value: values.digits },
    ]);
    const lastDigitChanged = (t: string): string => t.slice(0, -1) + String((Number(t.at(-1)) + 1) % 10);
    const results = await vault.detokenize([
      { namespace: ns, token: lastDigitChanged(p!) },
      { namespace: ns, token: lastDigitChanged(d!) },
      { namespace: 'other', token: e! },
      { namespace: ns, token: e!.replace('@example.com', '@example.org') },
      { namespace: ns, token: e!.toUpperCase() },
    ]);
    expect(results).toEqual(results.map(() => ({ found: false })));
  });

  it('cannot erase a vaultless token: delete counts 0 and does not reach the inner vault; stored tokens are deleted', async () => {
    const inner = new Recording();
    const vault = new VaultlessVault(inner, keyring, ['email']);
    const [vaultless, stored] = await vault.tokenize([
      { spec: spec({ type: 'email', namespace: 'n6' }), value: values.email },
      { spec: spec({ type: 'email', namespace: 'n6', random: true }), value: values.email },
    ]);
    inner.calls.length = 0;
    expect(await vault.delete([{ namespace: 'n6', token: vaultless! }])).toBe(0);
    expect(inner.calls).toEqual([]);
    expect(await vault.delete([{ namespace: 'n6', token: vaultless! }, { namespace: 'n6', token: stored! }])).toBe(1);
    expect(inner.calls).toEqual(['delete 1']);
    const after = await vault.detokenize([{ namespace: 'n6', token: vaultless! }, { namespace: 'n6', token: stored! }]);
    expect(after.map((r) => r.found)).toEqual([true, false]);
  });

  it('refuses values that cannot be vaultless with INVALID_VALUE naming the limit, never the value, before any inner call', async () => {
    const inner = new Recording();
    const vault = new VaultlessVault(inner, keyring, ALL);
    const cases: [TokenType, string, RegExp][] = [
      ['phone', '+683 4321', /at least 6 digits.*1,000,000/], // Niue: 4 national digits
      ['phone', '+49 1512 3456 7890', /at most 13 digits/], // 14 digits: the token would exceed E.164's 15
      ['digits', '123456789012345678901234567890123'.slice(0, 31), /at most 30 digits/],
      ['email', 'augusta.ada.king.lovelace@example.com', /longer than 23/],
    ];
    for (const [type, value, message] of cases) {
      const err = await vault.tokenize([{ spec: spec({ type, namespace: 'n7', random: true }), value }, { spec: spec({ type, namespace: 'n7' }), value }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGatewayError(err) ? err.code : err).toBe('INVALID_VALUE');
      if (!isGatewayError(err)) continue;
      expect(err.message).toMatch(message);
      for (const piece of value.split(/[ @.]/).filter((p) => p.length >= 4)) expect(err.message).not.toContain(piece);
      expect(err.field).toBeUndefined();
    }
    expect(inner.calls).toEqual([]);
  });

  it('answers VAULT_UNAVAILABLE when the inner vault is needed and down, but still works without it', async () => {
    const inner = new LocalVault(new MemoryStore(), keyring);
    const vault = new VaultlessVault(inner, keyring, ['phone']);
    const [token] = await vault.tokenize([{ spec: spec({ type: 'phone', namespace: 'n8' }), value: values.phone }]);
    await inner.close();
    // The vaultless token needs nothing from the store...
    expect(await vault.detokenize([{ namespace: 'n8', token: token! }])).toEqual([{ found: true, value: '+442071838750', type: 'phone' }]);
    // ...a stored one does, and fails closed.
    const err = await vault.tokenize([{ spec: spec({ type: 'email', namespace: 'n8' }), value: values.email }]).then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(isGatewayError(err) ? err.code : err).toBe('VAULT_UNAVAILABLE');
  });
});
