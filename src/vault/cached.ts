/**
 * CachedVault: an LRU in front of any Vault, so hot tokens skip the store (and its decryption).
 *
 * It caches two things in one bounded LRU (lru-cache 11, limited by entry count AND approximate bytes):
 *   - detokenize results that were found, keyed by namespace NUL token;
 *   - tokenize results of deterministic specs, keyed by (namespace, variant, raw value). Random specs
 *     always reach the inner vault: each call must yield a fresh token.
 * Every method makes at most one inner call, carrying only the de-duplicated misses, so the "one vault call
 * per request" promise of the Vault interface survives the decorator.
 *
 * Erasure: delete() evicts the detokenize entry AND every tokenize entry that points at the deleted token
 * (a reverse index kept in step with the LRU through its dispose hook), before and after the inner delete.
 * A lookup that was in flight while a delete ran does not fill the cache (an epoch counter), so a deleted
 * value is never re-cached by a race. Other processes sharing the store are not seen: use `ttlMs` to bound
 * staleness when several gateways share one vault.
 *
 * The cache holds plaintext in process memory, exactly like the request bodies the gateway already holds.
 */
import { LRUCache } from 'lru-cache';
import { GatewayError } from '../errors.js';
import type { TokenSpec } from '../tokens/types.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type DetokenizeResult,
  type TokenizeItem,
  type Vault,
} from './interface.js';

export interface CachedVaultOptions {
  /** Maximum number of cached entries (both kinds together). Must be > 0. */
  maxEntries: number;
  /** Approximate upper bound on the memory the cached strings take (UTF-16: 2 bytes per char). */
  maxBytes: number;
  /** Optional time to live of an entry, to bound staleness when other processes write the same store. */
  ttlMs?: number;
}

type FoundResult = Extract<DetokenizeResult, { found: true }>;

type Entry =
  | { readonly kind: 'detokenize'; readonly result: FoundResult }
  /** `ref` is storeKey(namespace, token) of the token, for eviction on delete. */
  | { readonly kind: 'tokenize'; readonly token: string; readonly ref: string };

/** The misses of one batch: the items for the inner vault, their cache keys, and the positions each fills. */
interface Misses<I> {
  readonly misses: I[];
  /** Cache key per miss; undefined for an item that is never cached (random tokenize spec). */
  readonly missKeys: (string | undefined)[];
  readonly missTargets: number[][];
}

/** Cache key of a tokenize item; random specs have none (each call must reach the inner vault). */
const tokenizeKeyOf = (item: TokenizeItem): string | undefined =>
  item.spec.random ? undefined : tokenizeKey(item.spec, item.value);
const tokenizeHit = (entry: Entry): string | undefined => (entry.kind === 'tokenize' ? entry.token : undefined);
const detokenizeKeyOf = (item: DetokenizeItem): string => detokenizeKey(item.namespace, item.token);
const detokenizeHit = (entry: Entry): FoundResult | undefined => (entry.kind === 'detokenize' ? entry.result : undefined);

/** Rough per-entry bookkeeping cost (LRU slots, Map entry, object headers), in bytes. */
const ENTRY_OVERHEAD = 96;

/**
 * Caching decorator for a {@link Vault}.
 *
 * @example
 *   const vault = new CachedVault(new LocalVault(store, keyring), { maxEntries: 100_000, maxBytes: 64 << 20 });
 */
export class CachedVault implements Vault {
  readonly #inner: Vault;
  readonly #cache: LRUCache<string, Entry>;
  /** storeKey(namespace, token) -> cache keys of tokenize entries yielding that token. */
  readonly #tokenizeKeysByToken = new Map<string, Set<string>>();
  /** Bumped by every delete; a fill whose lookup started in an older epoch is dropped. */
  #epoch = 0;
  #closed = false;

  constructor(inner: Vault, options: CachedVaultOptions) {
    const { maxEntries, maxBytes, ttlMs } = options;
    if (!Number.isInteger(maxEntries) || maxEntries <= 0) throw new RangeError('maxEntries must be a positive integer');
    if (!Number.isInteger(maxBytes) || maxBytes <= 0) throw new RangeError('maxBytes must be a positive integer');
    if (ttlMs !== undefined && (!Number.isInteger(ttlMs) || ttlMs <= 0)) {
      throw new RangeError('ttlMs must be a positive integer');
    }
    this.#inner = inner;
    this.#cache = new LRUCache<string, Entry>({
      max: maxEntries,
      maxSize: maxBytes,
      sizeCalculation: entrySize,
      ...(ttlMs === undefined ? {} : { ttl: ttlMs }),
      dispose: (entry, key) => {
        if (entry.kind !== 'tokenize') return;
        const keys = this.#tokenizeKeysByToken.get(entry.ref);
        if (keys === undefined) return;
        keys.delete(key);
        if (keys.size === 0) this.#tokenizeKeysByToken.delete(entry.ref);
      },
    });
  }

  /** Current number of entries and their computed size in bytes (diagnostics, tests). */
  get stats(): { entries: number; bytes: number } {
    return { entries: this.#cache.size, bytes: this.#cache.calculatedSize };
  }

  async tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    this.#check();
    const out = new Array<string>(items.length);
    const batch = this.#collectMisses(items, out, tokenizeKeyOf, tokenizeHit);
    if (batch.misses.length === 0) return out;

    const { misses, missKeys, missTargets } = batch;
    const epoch = this.#epoch;
    const tokens = await this.#inner.tokenize(misses);
    const fill = epoch === this.#epoch && !this.#closed;
    for (let m = 0; m < misses.length; m++) {
      const token = tokens[m]!;
      for (const i of missTargets[m]!) out[i] = token;
      const key = missKeys[m];
      if (fill && key !== undefined) this.#setTokenize(key, misses[m]!.spec.namespace, token);
    }
    return out;
  }

  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    this.#check();
    const out = new Array<DetokenizeResult>(items.length);
    const batch = this.#collectMisses(items, out, detokenizeKeyOf, detokenizeHit);
    if (batch.misses.length === 0) return out;

    const { misses, missKeys, missTargets } = batch;
    const epoch = this.#epoch;
    const results = await this.#inner.detokenize(misses);
    const fill = epoch === this.#epoch && !this.#closed;
    for (let m = 0; m < misses.length; m++) {
      const result = results[m]!;
      for (const i of missTargets[m]!) out[i] = result;
      if (fill && result.found) {
        this.#cache.set(missKeys[m]!, { kind: 'detokenize', result: Object.freeze({ ...result }) });
      }
    }
    return out;
  }

  /**
   * Answers what the cache can (written into `out` at the item's position) and returns the rest as
   * de-duplicated misses: one per distinct cache key, each with every batch position it fills. An item
   * without a key (a random tokenize spec) is always its own miss and never looked up.
   */
  #collectMisses<I, R>(
    items: readonly I[],
    out: R[],
    keyOf: (item: I) => string | undefined,
    hitOf: (entry: Entry) => R | undefined,
  ): Misses<I> {
    const misses: I[] = [];
    const missKeys: (string | undefined)[] = [];
    const missTargets: number[][] = [];
    const missByKey = new Map<string, number>();

    for (let i = 0; i < items.length; i++) {
      const item = items[i]!;
      const key = keyOf(item);
      if (key === undefined) {
        misses.push(item);
        missKeys.push(undefined);
        missTargets.push([i]);
        continue;
      }
      const entry = this.#cache.get(key);
      const hit = entry === undefined ? undefined : hitOf(entry);
      if (hit !== undefined) {
        out[i] = hit;
        continue;
      }
      const m = missByKey.get(key);
      if (m !== undefined) {
        missTargets[m]!.push(i);
        continue;
      }
      missByKey.set(key, misses.length);
      misses.push(item);
      missKeys.push(key);
      missTargets.push([i]);
    }
    return { misses, missKeys, missTargets };
  }

  async delete(items: readonly DeleteItem[]): Promise<number> {
    this.#check();
    this.#evict(items);
    try {
      return await this.#inner.delete(items);
    } finally {
      // Again: a lookup may have refilled an entry while the inner delete ran.
      this.#evict(items);
    }
  }

  ping(): Promise<void> {
    if (this.#closed) return Promise.reject(closedError());
    return this.#inner.ping();
  }

  async close(): Promise<void> {
    this.#closed = true;
    this.#cache.clear();
    await this.#inner.close();
  }

  #setTokenize(key: string, namespace: string, token: string): void {
    const ref = storeKey(namespace, token);
    const entry: Entry = { kind: 'tokenize', token, ref };
    this.#cache.set(key, entry);
    // The LRU refuses an entry larger than maxBytes; only index what it kept.
    if (this.#cache.peek(key) !== entry) return;
    let keys = this.#tokenizeKeysByToken.get(ref);
    if (keys === undefined) this.#tokenizeKeysByToken.set(ref, (keys = new Set()));
    keys.add(key);
  }

  #evict(items: readonly DeleteItem[]): void {
    this.#epoch++;
    for (const { namespace, token } of items) {
      const ref = storeKey(namespace, token);
      this.#cache.delete(detokenizeKey(namespace, token));
      const keys = this.#tokenizeKeysByToken.get(ref);
      // Copy: dispose() edits the set while we delete.
      if (keys !== undefined) for (const key of [...keys]) this.#cache.delete(key);
    }
  }

  #check(): void {
    if (this.#closed) throw closedError();
  }
}

function closedError(): GatewayError {
  return new GatewayError('VAULT_UNAVAILABLE', 'vault is closed');
}

function detokenizeKey(namespace: string, token: string): string {
  return 'd' + storeKey(namespace, token);
}

/** Length-prefixed so that no namespace/variant pair can run into the raw value. */
function tokenizeKey(spec: TokenSpec, value: string): string {
  return `t${spec.namespace.length}:${spec.namespace}${spec.variant.length}:${spec.variant}${value}`;
}

function entrySize(entry: Entry, key: string): number {
  const strings =
    entry.kind === 'detokenize'
      ? key.length + entry.result.value.length + entry.result.type.length
      : // key twice: once in the LRU, once in the reverse index; ref once as reverse-index key.
        2 * key.length + entry.token.length + entry.ref.length;
  return ENTRY_OVERHEAD + 2 * strings;
}
