/**
 * The gateway's key material, as the rest of the code sees it.
 *
 * A keyring is loaded once at start-up (env or key file, see keyring.ts) and never changes while the
 * process runs. Every purpose gets its own key, derived with HKDF-SHA256 from one root key, so a key used
 * for one job (token derivation) is never reused for another (fingerprints, hash action, token checks).
 * Encryption keys are separate and carry ids so that they can rotate: each stored row names its key id.
 */
import type { TokenType } from '../tokens/types.js';

export interface Keyring {
  /** HMAC key for deterministic token derivation. Fixed for the life of a deployment: changing it changes every token. */
  readonly tokenKey: Buffer;
  /** HMAC key for the check characters embedded in tokens, so the gateway recognizes its own tokens without a vault call. */
  readonly checkKey: Buffer;
  /** HMAC key for the vault's lookup index (value fingerprints). */
  readonly fingerprintKey: Buffer;
  /** HMAC key for the `hash` rule action (keyed HMAC-SHA256, irreversible). */
  readonly hashKey: Buffer;
  /** Id of the AES-256-GCM key new rows are encrypted with. */
  readonly activeKeyId: string;
  /** All AES-256-GCM keys by id (32 bytes each); old ids stay to decrypt old rows. */
  readonly encryptionKeys: ReadonlyMap<string, Buffer>;
  /**
   * Token types whose deterministic tokens are vaultless (keyed encryptions of the value, no stored mapping),
   * so that token specs built from this keyring recognize them. Not key material: the deployment's
   * PII_GATEWAY_VAULTLESS_TYPES, set with withVaultlessTypes() (tokens/vaultless). Absent: none.
   */
  readonly vaultlessTypes?: readonly TokenType[];
}

/** On-disk / env form of the keys (JSON). Secrets are base64 of 32 random bytes. */
export interface KeyFile {
  version: 1;
  rootKey: string;
  activeKeyId: string;
  encryptionKeys: Record<string, string>;
}
