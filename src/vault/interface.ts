/**
 * The vault: the token <-> PII store, as the gateway and the vault API use it.
 *
 * Every operation is a batch: the proxy makes at most one call per direction per request, whatever the
 * number of fields. Implementations: `LocalVault` (vault/local.ts) over a `VaultStore` (memory, sqlite,
 * later postgres), later an HTTP client for a customer's own vault. Decorators (cache, metrics) wrap this
 * same interface. One conformance suite (test/vault/conformance.ts) proves every implementation.
 */
import type { TokenSpec } from '../tokens/types.js';

export interface TokenizeItem {
  readonly spec: TokenSpec;
  /** Raw value as found in the request. The vault normalizes it with spec.format. */
  readonly value: string;
}

export interface DetokenizeItem {
  readonly namespace: string;
  readonly token: string;
}

export type DetokenizeResult =
  | { readonly found: true; readonly value: string; readonly type: string }
  | { readonly found: false };

export interface DeleteItem {
  readonly namespace: string;
  readonly token: string;
}

export interface Vault {
  /** One token per item, in order. Throws GatewayError INVALID_VALUE (with no value) or VAULT_UNAVAILABLE. */
  tokenize(items: readonly TokenizeItem[]): Promise<string[]>;
  /** One result per item, in order. Unknown tokens are `{ found: false }`, never an error. */
  detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]>;
  /** Deletes mappings (right to erasure); returns how many existed. */
  delete(items: readonly DeleteItem[]): Promise<number>;
  /** Resolves when the backing store answers; throws GatewayError VAULT_UNAVAILABLE otherwise. */
  ping(): Promise<void>;
  close(): Promise<void>;
}

/**
 * Storage under LocalVault. Sees only ciphertext and keyed fingerprints: no plaintext, no crypto.
 * Fingerprints are hex strings of HMAC-SHA256(fingerprintKey, namespace, variant, normalized value).
 */
export interface StoredRow {
  readonly namespace: string;
  readonly token: string;
  /** null for random tokens (they are never looked up by value). */
  readonly fingerprint: string | null;
  /** Token type, e.g. 'email' (not secret; lets detokenize report the type). */
  readonly type: string;
  readonly keyId: string;
  /** iv (12) | tag (16) | ciphertext, AES-256-GCM with AAD = namespace NUL token. */
  readonly sealed: Buffer;
}

export type InsertOutcome =
  /** The row was stored. */
  | { readonly status: 'inserted' }
  /** Another writer stored this fingerprint first: use its token. */
  | { readonly status: 'exists'; readonly token: string }
  /** The token is already taken by a different fingerprint: a collision, derive again. */
  | { readonly status: 'token-taken' };

export interface VaultStore {
  /** Tokens for the given fingerprints, where present. */
  findTokens(fingerprints: readonly string[]): Promise<Map<string, string>>;
  /** Inserts rows atomically one by one (a batch may be one transaction); one outcome per row, in order. */
  insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]>;
  /** Rows for (namespace, token) keys, where present; map key is `namespace + '\0' + token`. */
  findByTokens(keys: readonly DetokenizeItem[]): Promise<Map<string, StoredRow>>;
  delete(keys: readonly DeleteItem[]): Promise<number>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

export function storeKey(namespace: string, token: string): string {
  return namespace + '\0' + token;
}
