/**
 * CachedVault: the conformance suite (over sqlite, so restarts are real), then what only a cache has to
 * prove: one inner call per batch with only the misses, hits that never reach the inner vault, the byte
 * bound, eviction on delete, and no refill by a lookup racing a delete.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { CachedVault } from '../../src/vault/cached.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from '../../src/vault/interface.js';
import { LocalVault } from '../../src/vault/local.js';
import { MemoryStore } from '../../src/vault/memory.js';
import { SqliteStore } from '../../src/vault/sqlite.js';
import { sample, vaultConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-cached-'));
const keyring = ephemeralKeyring();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

vaultConformance('cached(sqlite)', async () => {
  const vault = new CachedVault(new LocalVault(new SqliteStore(join(dir, 'vault.db')), keyring), {
    maxEntries: 50_000,
    maxBytes: 16 * 1024 * 1024,
  });
  return { vault, stop: () => vault.close() };
});

/** Records every call that reaches the inner vault, with its batch. */
class SpyVault implements Vault {
  readonly calls: { method: string; items: unknown[] }[] = [];
  /** When set, detokenize waits for it before answering (to race a delete). */
  gate: Promise<void> | undefined;
  constructor(readonly inner: Vault) {}
  tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    this.calls.push({ method: 'tokenize', items: items.map((i) => i.value) });
    return this.inner.tokenize(items);
  }
  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    this.calls.push({ method: 'detokenize', items: items.map((i) => i.token) });
    const results = await this.inner.detokenize(items);
    if (this.gate !== undefined) await this.gate;
    return results;
  }
  delete(items: readonly DeleteItem[]): Promise<number> {
    this.calls.push({ method: 'delete', items: items.map((i) => i.token) });
    return this.inner.delete(items);
  }
  ping(): Promise<void> {
    return this.inner.ping();
  }
  close(): Promise<void> {
    return this.inner.close();
  }
}

function setup(options = { maxEntries: 1000, maxBytes: 1 << 20 }) {
  const spy = new SpyVault(new LocalVault(new MemoryStore(), keyring));
  const vault = new CachedVault(spy, options);
  const email = createTokenSpec({ type: 'email', namespace: 'c' }, keyring);
  const randomEmail = createTokenSpec({ type: 'email', namespace: 'c', random: true }, keyring);
  const items = (from: number, to: number): TokenizeItem[] =>
    Array.from({ length: to - from }, (_, i) => ({ spec: email, value: sample('email', from + i) }));
  const keys = (tokens: string[]): DetokenizeItem[] => tokens.map((token) => ({ namespace: 'c', token }));
  return { spy, vault, email, randomEmail, items, keys };
}

describe('CachedVault', () => {
  it('makes one inner call per batch carrying only the de-duplicated misses', async () => {
    const { spy, vault, items, keys } = setup();
    const first = await vault.tokenize(items(0, 3));
    const batch = [...items(0, 5), ...items(3, 5), ...items(1, 2)];
    const tokens = await vault.tokenize(batch);
    expect(tokens.slice(0, 3)).toEqual(first);
    expect(tokens[5]).toBe(tokens[3]);
    expect(tokens[7]).toBe(tokens[1]);
    expect(spy.calls).toEqual([
      { method: 'tokenize', items: items(0, 3).map((i) => i.value) },
      { method: 'tokenize', items: [sample('email', 3), sample('email', 4)] },
    ]);

    spy.calls.length = 0;
    await vault.detokenize(keys([tokens[0]!, tokens[1]!, tokens[0]!]));
    const results = await vault.detokenize(keys([tokens[0]!, tokens[3]!, 'tok_unknown', tokens[3]!, 'tok_unknown']));
    expect(results.map((r) => r.found)).toEqual([true, true, false, true, false]);
    expect(spy.calls).toEqual([
      { method: 'detokenize', items: [tokens[0], tokens[1]] },
      { method: 'detokenize', items: [tokens[3], 'tok_unknown'] },
    ]);
  });

  it('answers hits without calling the inner vault, and does not cache misses', async () => {
    const { spy, vault, items, keys } = setup();
    const tokens = await vault.tokenize(items(0, 50));
    await vault.detokenize(keys(tokens));
    spy.calls.length = 0;
    expect(await vault.tokenize(items(0, 50))).toEqual(tokens);
    const results = await vault.detokenize(keys(tokens));
    expect(results.every((r, i) => r.found && r.value === sample('email', i))).toBe(true);
    expect(spy.calls).toEqual([]);
    await vault.detokenize(keys(['tok_unknown']));
    await vault.detokenize(keys(['tok_unknown']));
    expect(spy.calls.map((c) => c.method)).toEqual(['detokenize', 'detokenize']);
  });

  it('never caches random specs', async () => {
    const { spy, vault, randomEmail } = setup();
    const item = { spec: randomEmail, value: sample('email', 1) };
    const a = await vault.tokenize([item, item]);
    const b = await vault.tokenize([item]);
    expect(new Set([...a, ...b]).size).toBe(3);
    expect(spy.calls.map((c) => c.items.length)).toEqual([2, 1]);
  });

  it('stays within maxBytes, evicting the least recently used entries', async () => {
    const maxBytes = 64 * 1024;
    const { spy, vault, items, keys } = setup({ maxEntries: 100_000, maxBytes });
    const tokens = await vault.tokenize(items(0, 2000));
    await vault.detokenize(keys(tokens));
    const { entries, bytes } = vault.stats;
    expect(bytes).toBeGreaterThan(maxBytes / 2);
    expect(bytes).toBeLessThanOrEqual(maxBytes);
    expect(entries).toBeLessThan(4000);
    expect(entries).toBeGreaterThan(100);
    // The most recent detokenize entries are still there, the oldest tokenize entries are gone.
    spy.calls.length = 0;
    await vault.detokenize(keys(tokens.slice(-20)));
    await vault.tokenize(items(0, 1));
    expect(spy.calls.map((c) => c.method)).toEqual(['tokenize']);
  });

  it('stays within maxEntries', async () => {
    const { vault, items, keys } = setup({ maxEntries: 100, maxBytes: 1 << 20 });
    await vault.detokenize(keys(await vault.tokenize(items(0, 500))));
    expect(vault.stats.entries).toBe(100);
  });

  it('evicts the detokenize entry and the tokenize entries of a deleted token', async () => {
    const { spy, vault, email, items, keys } = setup();
    const raw = { spec: email, value: `  ${sample('email', 7)}` };
    const [token] = await vault.tokenize([...items(7, 8), raw]);
    await vault.detokenize(keys([token!]));
    expect(await vault.delete(keys([token!]))).toBe(1);
    spy.calls.length = 0;
    expect(await vault.detokenize(keys([token!]))).toEqual([{ found: false }]);
    // Both raw forms reach the inner vault again (and the token is stored again).
    expect(await vault.tokenize([...items(7, 8), raw])).toEqual([token, token]);
    expect(spy.calls.map((c) => `${c.method}:${c.items.length}`)).toEqual(['detokenize:1', 'tokenize:2']);
    expect((await vault.detokenize(keys([token!])))[0]!.found).toBe(true);
  });

  it('does not cache a lookup that raced a delete', async () => {
    const { spy, vault, items, keys } = setup();
    const [token] = await vault.tokenize(items(0, 1));
    let open!: () => void;
    spy.gate = new Promise<void>((resolve) => (open = resolve));
    const pending = vault.detokenize(keys([token!])); // reads the row, then waits at the gate
    await new Promise((r) => setTimeout(r, 5));
    await vault.delete(keys([token!]));
    open();
    expect((await pending)[0]!.found).toBe(true); // it read before the delete
    spy.gate = undefined;
    expect(await vault.detokenize(keys([token!]))).toEqual([{ found: false }]);
  });

  it('throws VAULT_UNAVAILABLE on hits too once closed', async () => {
    const { vault, items, keys } = setup();
    const tokens = await vault.tokenize(items(0, 2));
    await vault.detokenize(keys(tokens));
    await vault.close();
    await expect(vault.detokenize(keys(tokens))).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    await expect(vault.tokenize(items(0, 2))).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    expect(vault.stats.entries).toBe(0);
  });

  it('validates its options', () => {
    const inner = new LocalVault(new MemoryStore(), keyring);
    expect(() => new CachedVault(inner, { maxEntries: 0, maxBytes: 10 })).toThrow(RangeError);
    expect(() => new CachedVault(inner, { maxEntries: 10, maxBytes: 0 })).toThrow(RangeError);
    expect(() => new CachedVault(inner, { maxEntries: 10, maxBytes: 10, ttlMs: -1 })).toThrow(RangeError);
  });
});
