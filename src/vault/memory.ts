/**
 * The reference VaultStore: two Maps, no persistence.
 *
 * Every other store (sqlite, postgres) must behave exactly like this one; the conformance suite in
 * test/vault/conformance.ts is written against it first. It is also the store for tests and for a
 * throw-away gateway (`backend: memory`), where losing every mapping on restart is acceptable.
 *
 * Like every store it sees only ciphertext and keyed fingerprints.
 */
import { GatewayError } from '../errors.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type InsertOutcome,
  type StoredRow,
  type VaultStore,
} from './interface.js';

/**
 * In-memory {@link VaultStore}. After `close()` every call rejects with `VAULT_UNAVAILABLE`, as a real
 * store does once its connection is gone.
 *
 * @example
 *   const vault = new LocalVault(new MemoryStore(), keyring);
 */
export class MemoryStore implements VaultStore {
  /** storeKey(namespace, token) -> row */
  readonly #rows = new Map<string, StoredRow>();
  /** fingerprint -> token (fingerprints already bind the namespace) */
  readonly #byFingerprint = new Map<string, string>();
  #closed = false;

  /** Number of stored rows (tests and diagnostics). */
  get size(): number {
    return this.#rows.size;
  }

  async findTokens(fingerprints: readonly string[]): Promise<Map<string, string>> {
    this.#check();
    const out = new Map<string, string>();
    for (const fp of fingerprints) {
      const token = this.#byFingerprint.get(fp);
      if (token !== undefined) out.set(fp, token);
    }
    return out;
  }

  async insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]> {
    this.#check();
    const outcomes: InsertOutcome[] = new Array(rows.length);
    for (let i = 0; i < rows.length; i++) {
      const row = rows[i]!;
      if (row.fingerprint !== null) {
        const existing = this.#byFingerprint.get(row.fingerprint);
        if (existing !== undefined) {
          outcomes[i] = { status: 'exists', token: existing };
          continue;
        }
      }
      const key = storeKey(row.namespace, row.token);
      if (this.#rows.has(key)) {
        outcomes[i] = { status: 'token-taken' };
        continue;
      }
      // Copy: the caller's Buffer must not alias what we store.
      this.#rows.set(key, { ...row, sealed: Buffer.from(row.sealed) });
      if (row.fingerprint !== null) this.#byFingerprint.set(row.fingerprint, row.token);
      outcomes[i] = { status: 'inserted' };
    }
    return outcomes;
  }

  async findByTokens(keys: readonly DetokenizeItem[]): Promise<Map<string, StoredRow>> {
    this.#check();
    const out = new Map<string, StoredRow>();
    for (const { namespace, token } of keys) {
      const key = storeKey(namespace, token);
      const row = this.#rows.get(key);
      if (row !== undefined) out.set(key, row);
    }
    return out;
  }

  async delete(keys: readonly DeleteItem[]): Promise<number> {
    this.#check();
    let deleted = 0;
    for (const { namespace, token } of keys) {
      const key = storeKey(namespace, token);
      const row = this.#rows.get(key);
      if (row === undefined) continue;
      this.#rows.delete(key);
      if (row.fingerprint !== null) this.#byFingerprint.delete(row.fingerprint);
      deleted++;
    }
    return deleted;
  }

  async ping(): Promise<void> {
    this.#check();
  }

  async close(): Promise<void> {
    this.#closed = true;
  }

  #check(): void {
    if (this.#closed) throw new GatewayError('VAULT_UNAVAILABLE', 'vault store is closed');
  }
}
