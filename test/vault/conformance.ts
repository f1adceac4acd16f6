/**
 * The one behaviour suite every Vault runs (memory, sqlite, cached; later postgres and the HTTP client).
 *
 * It speaks only the Vault interface, so a backend proves itself by passing it unchanged. Token specs are
 * built from a keyring owned by the suite: the vault under test has its own keyring (fingerprints,
 * encryption), and the specs only need to stay the same across a restart, which they do within a run.
 *
 * `makeVault()` must open the same backing storage every time it is called (for sqlite: the same file), so
 * that "restart" means stop() and makeVault() again. Backends that lose data on restart pass
 * `{ persistent: false }`.
 *
 * Vaultless tokens (vault/vaultless.ts) are keyed encryptions, not stored mappings, and differ in two
 * documented ways, each an explicit option so that no backend's proof is weakened for the others:
 * `erasure: 'none'` (delete cannot erase them: it counts 0 and they keep resolving; erasure is by destroying
 * the key) and `lengthPreserving: false` (phone and digits tokens carry 2 check digits more than the value,
 * so the tests that tokenize a token again start from a value short enough for its token's token). Their
 * specs must be built from the vault's own keys, marked vaultless: pass `keyring`.
 */
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import type { Keyring } from '../../src/crypto/types.js';
import { isGatewayError } from '../../src/errors.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenSpec, TokenSpecInput, TokenType } from '../../src/tokens/types.js';
import type { DetokenizeResult, TokenizeItem, Vault } from '../../src/vault/interface.js';

export interface VaultUnderTest {
  vault: Vault;
  stop(): Promise<void>;
}

export interface ConformanceOptions {
  /** Whether mappings survive stop() + makeVault(). Default true. */
  persistent?: boolean;
  /**
   * The keyring the suite builds its specs with (default: a fresh ephemeral one). A backend that derives
   * tokens elsewhere passes the keys that make them: the HTTP client the remote's, vaultless the vault's own,
   * so that `spec.format.isToken(token)` checks a token against the keys that made it.
   */
  keyring?: Keyring;
  /**
   * What delete() does (default 'erases'). 'refuses': the backend's API has no erasure call (the HTTP
   * client): delete() throws VAULT_UNAVAILABLE and deletes nothing. 'none': there is no stored mapping to
   * erase (vaultless): delete counts 0 and every token still resolves (docs/fleet.md#vaultless-tokens).
   */
  erasure?: 'erases' | 'refuses' | 'none';
  /** Whether phone and digits tokens have the value's digit count. Default true; false: they are longer (vaultless). */
  lengthPreserving?: boolean;
}

/** Valid raw values of each type: `sample(type, i)` is distinct for distinct i (up to 10^7). */
export function sample(type: TokenType, i: number): string {
  const n = String(i).padStart(7, '0');
  switch (type) {
    case 'email':
      return `user.${n}@example${i % 13}.com`;
    case 'phone':
      return `+4477${n.slice(0, 4)}${n.slice(4)}0`;
    case 'opaque':
      return `Ada Lovelace ${n}`;
    case 'digits':
      return `4${n}${n.slice(0, 3)}`;
  }
}

/**
 * `count` distinct valid values of `spec`'s type from `sample(type, start)` on, skipping the ones that
 * happen to pass the format's token check (about 1 in 100 phone or digits values), so that the bulk tests
 * measure collisions between distinct values only.
 */
export function plainSamples(spec: TokenSpec, start: number, count: number): string[] {
  const out: string[] = [];
  for (let i = start; out.length < count; i++) {
    const value = sample(spec.type, i);
    if (!spec.format.isToken(value)) out.push(value);
  }
  return out;
}

const TYPES: readonly TokenType[] = ['email', 'phone', 'opaque', 'digits'];

/** Runs the conformance suite as a `describe` block named after the backend. */
export function vaultConformance(
  name: string,
  makeVault: () => Promise<VaultUnderTest>,
  options: ConformanceOptions = {},
): void {
  const persistent = options.persistent ?? true;
  const erasure = options.erasure ?? 'erases';
  const lengthPreserving = options.lengthPreserving ?? true;

  describe(`Vault conformance: ${name}`, () => {
    const keyring = options.keyring ?? ephemeralKeyring();
    const specs = new Map<string, TokenSpec>();
    /** Specs are built once per distinct input, as the rule compiler does. */
    const spec = (input: TokenSpecInput): TokenSpec => {
      const key = JSON.stringify(input);
      let s = specs.get(key);
      if (s === undefined) specs.set(key, (s = createTokenSpec(input, keyring)));
      return s;
    };
    /** Every test uses its own namespace, so tests never see each other's rows in a shared store. */
    let nsCounter = 0;
    let ns = '';
    const running: VaultUnderTest[] = [];
    const start = async (): Promise<Vault> => {
      const v = await makeVault();
      running.push(v);
      return v.vault;
    };
    const stopAll = async (): Promise<void> => {
      while (running.length > 0) await running.pop()!.stop();
    };

    beforeAll(() => {
      nsCounter = 0;
    });
    afterEach(async () => {
      await stopAll();
    });
    const nextNs = (): string => (ns = `conf-${name}-${Date.now().toString(36)}-${++nsCounter}`);
    const item = (type: TokenType, value: string, extra: Partial<TokenSpecInput> = {}): TokenizeItem => ({
      spec: spec({ type, namespace: ns, ...extra }),
      value,
    });
    /** A value whose token can be tokenized again: sample(), or a 9-digit phone when tokens are longer than values. */
    const retokenizable = (type: TokenType, i: number): string =>
      lengthPreserving || type !== 'phone' ? sample(type, i) : `+4477${String(i).padStart(5, '0')}`;

    it('round-trips a value of each token type to its normalized form', async () => {
      nextNs();
      const vault = await start();
      const items = TYPES.map((t) => item(t, sample(t, 1)));
      const tokens = await vault.tokenize(items);
      expect(tokens).toHaveLength(4);
      const results = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      for (let i = 0; i < TYPES.length; i++) {
        const { spec: s, value } = items[i]!;
        expect(tokens[i]).not.toBe(value);
        expect(s.format.isToken(tokens[i]!)).toBe(true);
        expect(results[i]).toEqual({ found: true, value: s.format.normalize(value), type: TYPES[i] });
      }
    });

    it('gives the same token for the same value across calls, and for equivalent raw forms', async () => {
      nextNs();
      const vault = await start();
      const items = TYPES.map((t) => item(t, sample(t, 2)));
      const first = await vault.tokenize(items);
      const second = await vault.tokenize(items);
      expect(second).toEqual(first);
      const [padded] = await vault.tokenize([item('email', `  user.0000002@EXAMPLE2.COM `)]);
      expect(padded).toBe(first[0]);
    });

    it('gives the same tokens after a restart' + (persistent ? ' and still resolves them' : ''), async () => {
      nextNs();
      const items = TYPES.map((t) => item(t, sample(t, 3)));
      const before = await (await start()).tokenize(items);
      await stopAll();
      const vault = await start();
      if (persistent) {
        const results = await vault.detokenize(before.map((token) => ({ namespace: ns, token })));
        expect(results.map((r) => r.found)).toEqual([true, true, true, true]);
      }
      expect(await vault.tokenize(items)).toEqual(before);
    });

    it('separates namespaces', async () => {
      const a = nextNs();
      const vault = await start();
      const [ta] = await vault.tokenize([item('email', sample('email', 4))]);
      const b = nextNs();
      const [tb] = await vault.tokenize([item('email', sample('email', 4))]);
      expect(ta).not.toBe(tb);
      const results = await vault.detokenize([
        { namespace: a, token: ta! },
        { namespace: b, token: ta! },
        { namespace: b, token: tb! },
        { namespace: a, token: tb! },
      ]);
      expect(results.map((r) => r.found)).toEqual([true, false, true, false]);
    });

    it('keeps batch order with duplicates and mixed types', async () => {
      nextNs();
      const vault = await start();
      const batch = [
        item('email', sample('email', 5)),
        item('phone', sample('phone', 5)),
        item('email', sample('email', 5)),
        item('opaque', sample('opaque', 5)),
        item('digits', sample('digits', 5)),
        item('phone', sample('phone', 5)),
        item('email', sample('email', 6)),
        item('opaque', sample('opaque', 5), { prefix: 'cus_' }),
      ];
      const tokens = await vault.tokenize(batch);
      expect(tokens[2]).toBe(tokens[0]);
      expect(tokens[5]).toBe(tokens[1]);
      expect(new Set(tokens).size).toBe(6);
      expect(tokens[7]).not.toBe(tokens[3]);
      expect(tokens[7]!.startsWith('cus_')).toBe(true);

      // Same batch order on the way back, with unknown tokens interleaved.
      const keys = tokens.flatMap((token) => [
        { namespace: ns, token },
        { namespace: ns, token: token + 'x' },
      ]);
      const results = await vault.detokenize(keys);
      expect(results).toHaveLength(keys.length);
      for (let i = 0; i < batch.length; i++) {
        const { spec: s, value } = batch[i]!;
        expect(results[2 * i]).toEqual({ found: true, value: s.format.normalize(value), type: s.type });
        expect(results[2 * i + 1]).toEqual({ found: false });
      }
      // A single tokenize of a value already in the vault gives the batch's token.
      expect(await vault.tokenize([batch[6]!])).toEqual([tokens[6]]);
    });

    it('answers found:false for unknown tokens and empty batches with empty arrays', async () => {
      nextNs();
      const vault = await start();
      const e = spec({ type: 'email', namespace: ns });
      const wellFormed = e.format.derive('nobody@example.com', ns, 0);
      const results = await vault.detokenize([
        { namespace: ns, token: wellFormed },
        { namespace: ns, token: 'tok_doesnotexist' },
        { namespace: ns, token: '' },
      ]);
      expect(results).toEqual([{ found: false }, { found: false }, { found: false }]);
      expect(await vault.tokenize([])).toEqual([]);
      expect(await vault.detokenize([])).toEqual([]);
      expect(await vault.delete([])).toBe(0);
    });

    it('gives a fresh token per call for random specs, each resolving to the value', async () => {
      nextNs();
      const vault = await start();
      const value = sample('email', 7);
      const random = item('email', value, { random: true });
      const tokens = [
        ...(await vault.tokenize([random, random, random])),
        ...(await vault.tokenize([random])),
      ];
      const [deterministic] = await vault.tokenize([item('email', value)]);
      expect(new Set([...tokens, deterministic]).size).toBe(5);
      const results = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      for (const r of results) expect(r).toEqual({ found: true, value, type: 'email' });
    });

    it('returns its own email and opaque tokens unchanged, and tokenizes a token of another namespace as a value', async () => {
      const a = nextNs();
      const vault = await start();
      const tokens = await vault.tokenize(TYPES.map((t) => item(t, retokenizable(t, 8))));
      const again = await vault.tokenize(TYPES.map((t, i) => item(t, tokens[i]!)));
      expect(again[0]).toBe(tokens[0]); // email
      expect(again[2]).toBe(tokens[2]); // opaque
      // Random specs too: a token passes through instead of getting a second token.
      const [r] = await vault.tokenize([item('opaque', sample('opaque', 8), { random: true })]);
      expect(await vault.tokenize([item('opaque', r!, { random: true })])).toEqual([r]);

      const b = nextNs();
      const [moved] = await vault.tokenize([item('opaque', tokens[2]!)]);
      expect(moved).not.toBe(tokens[2]);
      const [res] = await vault.detokenize([{ namespace: b, token: moved! }]);
      expect(res).toEqual({ found: true, value: tokens[2], type: 'opaque' });
      expect(a).not.toBe(b);
    });

    it('never passes a phone or digits value through as an existing token (it could be a real number)', async () => {
      nextNs();
      const vault = await start();
      const values = [retokenizable('phone', 9), retokenizable('digits', 9)];
      const tokens = await vault.tokenize([item('phone', values[0]!), item('digits', values[1]!)]);
      // A customer whose real number equals another customer's token must not get that token back:
      // it would resolve to the other customer's number at send time.
      const again = await vault.tokenize([item('phone', tokens[0]!), item('digits', tokens[1]!)]);
      expect(again[0]).not.toBe(tokens[0]);
      expect(again[1]).not.toBe(tokens[1]);
      const resolved = await vault.detokenize(again.map((token) => ({ namespace: ns, token })));
      expect(resolved.map((x) => (x as { value?: string }).value)).toEqual(tokens);
    });

    it('handles a 10,000-item batch', async () => {
      nextNs();
      const vault = await start();
      const perType = TYPES.map((t) => plainSamples(spec({ type: t, namespace: ns }), 10_000, 2_500));
      const batch = Array.from({ length: 10_000 }, (_, i) => item(TYPES[i % 4]!, perType[i % 4]![i >> 2]!));
      const tokens = await vault.tokenize(batch);
      expect(tokens).toHaveLength(10_000);
      expect(new Set(tokens).size).toBe(10_000);
      const results = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      for (let i = 0; i < batch.length; i++) {
        expect((results[i] as { value?: string }).value).toBe(batch[i]!.spec.format.normalize(batch[i]!.value));
      }
    });

    // Only the test that applies is registered: a backend never reports a skipped behaviour test.
    if (erasure === 'refuses') it('refuses delete() with VAULT_UNAVAILABLE and deletes nothing (no erasure call in its API)', async () => {
      nextNs();
      const vault = await start();
      const items = TYPES.map((t) => item(t, sample(t, 9)));
      const tokens = await vault.tokenize(items);
      const err = await vault.delete([{ namespace: ns, token: tokens[0]! }]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGatewayError(err) ? err.code : String(err)).toBe('VAULT_UNAVAILABLE');
      const after = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      expect(after.map((r) => r.found)).toEqual([true, true, true, true]);
    });

    const deleteTitle =
      erasure === 'erases'
        ? 'deletes mappings: detokenize finds nothing, the count is of rows that existed, re-tokenizing works'
        : 'cannot erase a mapping: delete counts 0 and every token still resolves';
    if (erasure !== 'refuses') it(deleteTitle, async () => {
      nextNs();
      const vault = await start();
      const items = TYPES.map((t) => item(t, sample(t, 9)));
      const tokens = await vault.tokenize(items);
      // Warm whatever caches the backend has.
      await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      const gone = [{ namespace: ns, token: tokens[0]! }, { namespace: ns, token: tokens[1]! }];
      if (erasure === 'none') {
        // No mapping to erase: nothing counted, everything still resolves (docs/fleet.md#vaultless-tokens).
        expect(await vault.delete([...gone, { namespace: ns, token: 'tok_neverexisted' }])).toBe(0);
        const still = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
        expect(still.map((r) => r.found)).toEqual([true, true, true, true]);
        return;
      }
      expect(await vault.delete([...gone, { namespace: ns, token: 'tok_neverexisted' }])).toBe(2);
      expect(await vault.delete(gone)).toBe(0);
      const after = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
      expect(after.map((r) => r.found)).toEqual([false, false, true, true]);

      const again = await vault.tokenize(items);
      const resolved = await vault.detokenize(again.map((token) => ({ namespace: ns, token })));
      expect(resolved.map((r) => r.found)).toEqual([true, true, true, true]);
      expect((resolved[0] as { value: string }).value).toBe(items[0]!.spec.format.normalize(items[0]!.value));
    });

    for (const type of TYPES) {
      // Seconds of crypto per type on a busy CI machine: a generous timeout, never a timing assertion.
      it(`has no collisions across 100,000 distinct ${type} values`, { timeout: 180_000 }, async () => {
        nextNs();
        const vault = await start();
        const seen = new Set<string>();
        const CHUNK = 10_000;
        const values = plainSamples(spec({ type, namespace: ns }), 100_000, 100_000);
        for (let base = 0; base < 100_000; base += CHUNK) {
          const batch = values.slice(base, base + CHUNK).map((value) => item(type, value));
          const tokens = await vault.tokenize(batch);
          for (const t of tokens) seen.add(t);
          const results: DetokenizeResult[] = await vault.detokenize(tokens.map((token) => ({ namespace: ns, token })));
          for (let i = 0; i < CHUNK; i++) {
            const r = results[i]!;
            if (!r.found || r.value !== batch[i]!.spec.format.normalize(batch[i]!.value)) {
              expect.fail(`token ${i + base} did not resolve to its value`);
            }
          }
        }
        expect(seen.size).toBe(100_000);
      });
    }

    it('rejects an invalid email with INVALID_VALUE that names no value and no field', async () => {
      nextNs();
      const vault = await start();
      const bad = 'not-an-email-canary-5150';
      const err = await vault.tokenize([item('email', sample('email', 11)), item('email', bad)]).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(isGatewayError(err)).toBe(true);
      if (!isGatewayError(err)) return;
      expect(err.code).toBe('INVALID_VALUE');
      expect(err.field).toBeUndefined();
      expect(err.message).not.toContain(bad);
      expect(err.message).not.toContain('5150');
    });

    it('throws VAULT_UNAVAILABLE from every method after stop()', async () => {
      nextNs();
      const under = await makeVault();
      const tokens = await under.vault.tokenize([item('email', sample('email', 12))]);
      await under.vault.detokenize([{ namespace: ns, token: tokens[0]! }]);
      await under.stop();
      const calls: [string, () => Promise<unknown>][] = [
        ['tokenize', () => under.vault.tokenize([item('email', sample('email', 12))])],
        ['detokenize', () => under.vault.detokenize([{ namespace: ns, token: tokens[0]! }])],
        ['delete', () => under.vault.delete([{ namespace: ns, token: tokens[0]! }])],
        ['ping', () => under.vault.ping()],
      ];
      for (const [method, call] of calls) {
        const err = await call().then(
          () => new Error(`${method} resolved after stop()`),
          (e: unknown) => e,
        );
        expect(isGatewayError(err) ? `${method}: ${err.code}` : `${method}: ${String(err)}`).toBe(
          `${method}: VAULT_UNAVAILABLE`,
        );
      }
    });

    it('answers ping while running', async () => {
      const vault = await start();
      await expect(vault.ping()).resolves.toBeUndefined();
    });
  });
}
