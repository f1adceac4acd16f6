/**
 * Vault wiring: picks the store, puts LocalVault (the crypto) over it and the cache in front.
 *
 *   store (memory | sqlite) -> LocalVault (normalize, fingerprint, seal/open) -> CachedVault (LRU)
 *
 * Only this file knows the concrete classes; the rest of the gateway holds a `Vault`.
 */
import type { Keyring } from '../crypto/types.js';
import { CachedVault } from './cached.js';
import type { Vault, VaultStore } from './interface.js';
import { LocalVault } from './local.js';
import { MemoryStore } from './memory.js';
import { SqliteStore } from './sqlite.js';

export type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault, VaultStore } from './interface.js';
export { CachedVault, type CachedVaultOptions } from './cached.js';
export { LocalVault } from './local.js';
export { MemoryStore } from './memory.js';
export { SqliteStore } from './sqlite.js';

export interface CreateVaultOptions {
  backend: 'sqlite' | 'memory';
  /** Database file for `backend: 'sqlite'` (ignored for memory). */
  sqlitePath: string;
  keyring: Keyring;
  /** LRU bounds; `maxEntries: 0` turns the cache off. */
  cache: { maxEntries: number; maxBytes: number; ttlMs?: number };
}

/**
 * Builds the gateway's vault. Throws GatewayError VAULT_UNAVAILABLE when the sqlite file cannot be opened.
 *
 * @example
 *   const vault = createVault({
 *     backend: 'sqlite', sqlitePath: '/var/lib/pii-gateway/vault.db', keyring,
 *     cache: { maxEntries: 100_000, maxBytes: 64 * 1024 * 1024 },
 *   });
 */
export function createVault(options: CreateVaultOptions): Vault {
  const store: VaultStore = options.backend === 'sqlite' ? new SqliteStore(options.sqlitePath) : new MemoryStore();
  const local = new LocalVault(store, options.keyring);
  const { maxEntries, maxBytes, ttlMs } = options.cache;
  if (maxEntries === 0) return local;
  return new CachedVault(local, { maxEntries, maxBytes, ...(ttlMs === undefined ? {} : { ttlMs }) });
}
