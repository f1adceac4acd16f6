/** PLACEHOLDER (replaced by the PostgreSQL store work): the contract vault/index.ts builds against. */
import type { PostgresVaultConfig } from '../config/vault.js';
import { GatewayError } from '../errors.js';
import type { VaultStore } from './interface.js';

export interface PostgresStoreOptions extends PostgresVaultConfig {
  /** Longest one store call may take (statement timeout) before VAULT_UNAVAILABLE. */
  readonly timeoutMs: number;
}

export abstract class PostgresStore implements VaultStore {
  static async open(_options: PostgresStoreOptions): Promise<VaultStore> {
    throw new GatewayError('VAULT_UNAVAILABLE', 'the postgres vault backend is not built yet');
  }
  abstract findTokens: VaultStore['findTokens'];
  abstract insert: VaultStore['insert'];
  abstract findByTokens: VaultStore['findByTokens'];
  abstract delete: VaultStore['delete'];
  abstract ping: VaultStore['ping'];
  abstract close: VaultStore['close'];
}
