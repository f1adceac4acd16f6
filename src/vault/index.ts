/**
 * Vault wiring: picks the backend, puts the crypto over it, the vaultless router and the cache in front.
 *
 *   store (memory | sqlite | postgres) -> LocalVault (normalize, fingerprint, seal/open)  \
 *   HttpVault (the customer's vault, or another gateway's vault API)                       > -> CachedVault (LRU)
 *                                                                                           /    -> VaultlessVault
 * VaultlessVault is outermost: vaultless token types never reach the cache or the backend (vault/vaultless.ts).
 * Only this file knows the concrete classes; the rest of the gateway holds a `Vault`. The gateway adds its
 * own decorators (metrics, audited deletes) over what this returns (gateway.ts).
 */
import type { VaultConfig } from '../config/vault.js';
import type { Keyring } from '../crypto/types.js';
import { CachedVault } from './cached.js';
import { HttpVault } from './http.js';
import type { Vault, VaultStore } from './interface.js';
import { LocalVault } from './local.js';
import { MemoryStore } from './memory.js';
import { PostgresStore } from './postgres.js';
import { SqliteStore } from './sqlite.js';
import { VaultlessVault } from './vaultless.js';

export type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault, VaultStore } from './interface.js';
export { CachedVault, type CachedVaultOptions } from './cached.js';
export { LocalVault } from './local.js';
export { MemoryStore } from './memory.js';
export { SqliteStore } from './sqlite.js';

/** The settings `createVault` reads: a whole VaultConfig, or just what memory/sqlite need. */
export type CreateVaultOptions = Pick<VaultConfig, 'backend' | 'sqlitePath'> &
  Partial<Omit<VaultConfig, 'backend' | 'sqlitePath' | 'cache'>> & {
    keyring: Keyring;
    /** LRU bounds; `maxEntries: 0` turns the cache off. */
    cache: { maxEntries: number; maxBytes: number; ttlMs?: number | undefined };
  };

/** Default for CreateVaultOptions.timeoutMs (config default of PII_GATEWAY_VAULT_TIMEOUT). */
const DEFAULT_TIMEOUT_MS = 5000;

/**
 * Builds the gateway's vault. Throws GatewayError VAULT_UNAVAILABLE when the backend cannot be opened
 * (an unopenable sqlite file, an unreachable database, an out-of-date schema), CONFIG_INVALID when the
 * settings contradict each other.
 *
 * @example
 *   const vault = await createVault({ ...config.vault, keyring });
 */
export async function createVault(options: CreateVaultOptions): Promise<Vault> {
  const { keyring } = options;
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  let inner: Vault;
  if (options.backend === 'http') {
    if (options.http === undefined) throw new TypeError('backend http needs its http settings');
    inner = await HttpVault.open(options.http);
  } else {
    let store: VaultStore;
    if (options.backend === 'sqlite') store = await SqliteStore.open(options.sqlitePath, { timeoutMs });
    else if (options.backend === 'postgres') {
      if (options.postgres === undefined) throw new TypeError('backend postgres needs its postgres settings');
      store = await PostgresStore.open({ ...options.postgres, timeoutMs });
    } else store = new MemoryStore();
    inner = new LocalVault(store, keyring);
  }
  const { maxEntries, maxBytes, ttlMs } = options.cache;
  if (maxEntries > 0) inner = new CachedVault(inner, { maxEntries, maxBytes, ...(ttlMs === undefined ? {} : { ttlMs }) });
  const vaultless = options.vaultlessTypes ?? [];
  return vaultless.length === 0 ? inner : new VaultlessVault(inner, keyring, vaultless);
}
