/**
 * LocalVault behaviour that the conformance suite cannot reach through the Vault interface: how many store
 * calls a batch makes, collision retries, concurrent writers, key rotation, and refusing tampered rows.
 * Token formats here are hand-made fakes so each path can be forced.
 */
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { rejectionOf } from '../../test/helpers/errors.js';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { GatewayError } from '../errors.js';
import type { TokenFormat, TokenSpec } from '../tokens/types.js';
import type { DeleteItem, DetokenizeItem, InsertOutcome, StoredRow, VaultStore } from './interface.js';
import { LocalVault, MAX_TOKEN_ATTEMPTS } from './local.js';
import { MemoryStore } from './memory.js';

/** A MemoryStore that records calls and can rewrite what findByTokens returns. */
class SpyStore implements VaultStore {
  readonly inner = new MemoryStore();
  readonly calls: string[] = [];
  readonly inserted: StoredRow[] = [];
  rewrite: ((row: StoredRow) => StoredRow) | undefined;

  async findTokens(fps: readonly string[]): Promise<Map<string, string>> {
    this.calls.push(`findTokens:${fps.length}`);
    return this.inner.findTokens(fps);
  }
  async insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]> {
    this.calls.push(`insert:${rows.length}`);
    this.inserted.push(...rows);
    return this.inner.insert(rows);
  }
  async findByTokens(keys: readonly DetokenizeItem[]): Promise<Map<string, StoredRow>> {
    this.calls.push(`findByTokens:${keys.length}`);
    const rows = await this.inner.findByTokens(keys);
    const rewrite = this.rewrite;
    if (rewrite !== undefined) for (const [k, r] of rows) rows.set(k, rewrite(r));
    return rows;
  }
  delete(keys: readonly DeleteItem[]): Promise<number> {
    this.calls.push(`delete:${keys.length}`);
    return this.inner.delete(keys);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

/** A fake format: tokens are `tok_` + normalized + '_' + attempt unless `derive` is overridden. */
function fakeSpec(overrides: Partial<TokenFormat> = {}, random = false, namespace = 'ns'): TokenSpec {
  const format: TokenFormat = {
    type: 'opaque',
    normalize: (raw) => {
      if (raw.includes('!')) throw new GatewayError('INVALID_VALUE', 'bad opaque value');
      return raw.trim();
    },
    derive: (normalized, _ns, attempt, entropy) =>
      entropy === undefined ? `tok_${normalized}_${attempt}` : `tok_r${entropy.toString('hex')}`,
    isToken: (s) => s.startsWith('tok_'),
    ...overrides,
    // Follows normalize (overridden or not), as the real formats share their validation.
    tryNormalize: (raw) => {
      try {
        return format.normalize(raw);
      } catch {
        return undefined;
      }
    },
  };
  return { type: 'opaque', namespace, random, variant: 'fake', format, input: { type: 'opaque', namespace, random } };
}


describe('LocalVault', () => {
  it('makes one lookup and one insert per tokenize batch, deduping values, and no insert when all are known', async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    const spec = fakeSpec();
    const tokens = await vault.tokenize(['a', ' a ', 'b', 'a', 'c'].map((value) => ({ spec, value })));
    expect(tokens).toEqual(['tok_a_0', 'tok_a_0', 'tok_b_0', 'tok_a_0', 'tok_c_0']);
    expect(store.calls).toEqual(['findTokens:3', 'insert:3']);
    store.calls.length = 0;
    expect(await vault.tokenize([{ spec, value: 'c' }, { spec, value: 'a' }])).toEqual(['tok_c_0', 'tok_a_0']);
    expect(store.calls).toEqual(['findTokens:2']);
    store.calls.length = 0;
    const results = await vault.detokenize(tokens.map((token) => ({ namespace: 'ns', token })));
    expect(store.calls).toEqual(['findByTokens:5']);
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(['a', 'a', 'b', 'a', 'c']);
  });

  it('stores only fingerprints and ciphertext, sealed under the active key', async () => {
    const store = new SpyStore();
    const keyring = ephemeralKeyring();
    const vault = new LocalVault(store, keyring);
    await vault.tokenize([{ spec: fakeSpec(), value: 'secret-value' }]);
    const [row] = store.inserted;
    expect(row!.fingerprint).toMatch(/^[0-9a-f]{64}$/);
    expect(row!.keyId).toBe(keyring.activeKeyId);
    expect(row!.sealed.includes(Buffer.from('secret-value'))).toBe(false);
    expect(row!.sealed.length).toBe(12 + 16 + 'secret-value'.length);
  });

  it('re-derives with the next attempt when a token is taken, inside and across batches', async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    // Attempts 0 and 1 of every value collide on the same token.
    const spec = fakeSpec({ derive: (n, _ns, attempt) => (attempt < 2 ? 'tok_same' : `tok_${n}_${attempt}`) });
    expect(await vault.tokenize([{ spec, value: 'a' }])).toEqual(['tok_same']);
    expect(await vault.tokenize([{ spec, value: 'b' }, { spec, value: 'c' }])).toEqual(['tok_b_2', 'tok_c_2']);
    const results = await vault.detokenize(['tok_same', 'tok_b_2', 'tok_c_2'].map((token) => ({ namespace: 'ns', token })));
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(['a', 'b', 'c']);
  });

  it(`gives up with TOKEN_COLLISION after ${MAX_TOKEN_ATTEMPTS} attempts`, async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    const spec = fakeSpec({ derive: () => 'tok_fixed' });
    await vault.tokenize([{ spec, value: 'a' }]);
    const err = await rejectionOf(vault.tokenize([{ spec, value: 'b' }]));
    expect(err.code).toBe('TOKEN_COLLISION');
    expect(store.calls.filter((c) => c.startsWith('insert')).length).toBe(1 + MAX_TOKEN_ATTEMPTS);
  });

  it('uses the token another writer stored first ("exists")', async () => {
    const store = new SpyStore();
    const keyring = ephemeralKeyring();
    let n = 0;
    // A format that would give a different token on every derive: only the stored one may come back.
    const spec = fakeSpec({ derive: () => `tok_${++n}` });
    const a = new LocalVault(store, keyring);
    const b = new LocalVault(store, keyring);
    const [ta, tb] = await Promise.all([a.tokenize([{ spec, value: 'x' }]), b.tokenize([{ spec, value: 'x' }])]);
    expect(ta).toEqual(tb);
    expect(store.inner.size).toBe(1);
  });

  it('gives random specs fresh entropy and a null fingerprint', async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    const spec = fakeSpec({}, true);
    const tokens = await vault.tokenize([{ spec, value: 'v' }, { spec, value: 'v' }]);
    expect(tokens[0]).not.toBe(tokens[1]);
    expect(store.inserted.map((r) => r.fingerprint)).toEqual([null, null]);
    expect(store.calls).toEqual(['insert:2']);
  });

  it('passes known tokens through, tokenizes unknown token-looking values, and defers their format errors', async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    const spec = fakeSpec();
    const [t] = await vault.tokenize([{ spec, value: 'a' }]);
    store.calls.length = 0;
    expect(await vault.tokenize([{ spec, value: t! }, { spec, value: 'tok_unknown' }])).toEqual([
      t,
      'tok_tok_unknown_0',
    ]);
    expect(store.calls.sort()).toEqual(['findByTokens:2', 'findTokens:2', 'insert:1']);
    // Looks like a token, is not in the vault, is not a valid value: INVALID_VALUE.
    expect((await rejectionOf(vault.tokenize([{ spec, value: 'tok_!' }]))).code).toBe('INVALID_VALUE');
    // A stored token that is not a valid raw value still passes through.
    const odd = fakeSpec({ derive: () => 'tok_odd!' });
    const [oddToken] = await vault.tokenize([{ spec: odd, value: 'z' }]);
    expect(await vault.tokenize([{ spec: odd, value: oddToken! }])).toEqual(['tok_odd!']);
  });

  it('strips `field` from format errors and fails before any store call', async () => {
    const store = new SpyStore();
    const vault = new LocalVault(store, ephemeralKeyring());
    const withField = fakeSpec({
      normalize: () => {
        throw new GatewayError('INVALID_VALUE', 'not a valid opaque value', { field: 'somewhere' });
      },
    });
    const err = await rejectionOf(vault.tokenize([{ spec: withField, value: 'x' }]));
    expect([err.code, err.field, err.message]).toEqual(['INVALID_VALUE', undefined, 'not a valid opaque value']);
    const internal = fakeSpec({
      normalize: () => {
        throw new GatewayError('INTERNAL', 'format bug');
      },
    });
    expect((await rejectionOf(vault.tokenize([{ spec: internal, value: 'x' }]))).code).toBe('INTERNAL');
    expect(store.calls).toEqual([]);
  });

  it('opens rows sealed under an older key after rotation, and seals new rows with the new key', async () => {
    const store = new SpyStore();
    const old = ephemeralKeyring();
    const spec = fakeSpec();
    const [t1] = await new LocalVault(store, old).tokenize([{ spec, value: 'before' }]);
    const rotated: Keyring = {
      ...old,
      activeKeyId: 'k-next',
      encryptionKeys: new Map([...old.encryptionKeys, ['k-next', randomBytes(32)]]),
    };
    const vault = new LocalVault(store, rotated);
    const [t2] = await vault.tokenize([{ spec, value: 'after' }]);
    expect(store.inserted.map((r) => r.keyId)).toEqual([old.activeKeyId, 'k-next']);
    const results = await vault.detokenize([t1!, t2!].map((token) => ({ namespace: 'ns', token })));
    expect(results.map((r) => (r.found ? r.value : null))).toEqual(['before', 'after']);
  });

  describe('never returns a value from a row that does not authenticate', () => {
    const cases: [string, (row: StoredRow, others: StoredRow[]) => StoredRow][] = [
      ['a flipped ciphertext bit', (r) => ({ ...r, sealed: flip(r.sealed, r.sealed.length - 1) })],
      ['a flipped tag bit', (r) => ({ ...r, sealed: flip(r.sealed, 14) })],
      ['a truncated value', (r) => ({ ...r, sealed: r.sealed.subarray(0, 20) })],
      ['an unknown key id', (r) => ({ ...r, keyId: 'gone' })],
      ['the ciphertext of another token', (r, others) => ({ ...r, sealed: others.find((o) => o.token !== r.token)!.sealed })],
    ];
    for (const [what, tamper] of cases) {
      it(`refuses ${what} with VAULT_UNAVAILABLE`, async () => {
        const store = new SpyStore();
        const vault = new LocalVault(store, ephemeralKeyring());
        const spec = fakeSpec();
        const tokens = await vault.tokenize([{ spec, value: 'alpha' }, { spec, value: 'bravo' }]);
        const others = [...store.inserted];
        store.rewrite = (r) => (r.token === tokens[0] ? tamper(r, others) : r);
        const err = await rejectionOf(vault.detokenize(tokens.map((token) => ({ namespace: 'ns', token }))));
        expect(err.code).toBe('VAULT_UNAVAILABLE');
        expect(err.message).not.toContain('alpha');
        expect(err.message).not.toContain('bravo');
      });
    }
  });

  it('refuses a keyring whose active key is missing', () => {
    const keyring = ephemeralKeyring();
    expect(() => new LocalVault(new MemoryStore(), { ...keyring, activeKeyId: 'missing' })).toThrow(
      expect.objectContaining({ code: 'KEYS_INVALID' }),
    );
  });
});

function flip(buf: Buffer, index: number): Buffer {
  const copy = Buffer.from(buf);
  copy[index] = copy[index]! ^ 0x01;
  return copy;
}
