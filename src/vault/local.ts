/**
 * LocalVault: the Vault the gateway runs in-process, over any VaultStore.
 *
 * All crypto lives here, none in the stores (crypto is a decorator concern): values are normalized by their token
 * format, looked up by a keyed fingerprint (HMAC-SHA256 over namespace, variant, normalized value), and
 * stored sealed with AES-256-GCM under the keyring's active key, with AAD = namespace NUL token so a row
 * cannot be moved to another token or namespace without failing to open.
 *
 * Each method makes a bounded number of store calls per batch, never one per item:
 *   tokenize:   [findByTokens for values that look like our tokens, in parallel with] findTokens,
 *               then insert for the missing values (repeated only for the rare token collision);
 *   detokenize: findByTokens.
 *
 * Integrity decision: a row whose key id is unknown or whose ciphertext fails to authenticate makes the
 * whole detokenize call throw VAULT_UNAVAILABLE. It is never reported as `found: false` (that would hide a
 * key-configuration mistake behind "unknown token") and never returns bytes that did not authenticate.
 */
import { randomBytes } from 'node:crypto';
import { open, seal } from '../crypto/aead.js';
import { hmacSha256 } from '../crypto/hmac.js';
import type { Keyring } from '../crypto/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { TokenSpec } from '../tokens/types.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type DetokenizeResult,
  type StoredRow,
  type TokenizeItem,
  type Vault,
  type VaultStore,
} from './interface.js';

/** Derivation attempts per value before giving up with TOKEN_COLLISION. */
export const MAX_TOKEN_ATTEMPTS = 32;
/** Bytes of fresh entropy handed to `format.derive()` for random tokens. */
const RANDOM_ENTROPY_BYTES = 16;

/** One distinct value of a tokenize batch that still needs a token. */
interface Pending {
  readonly spec: TokenSpec;
  readonly normalized: string;
  /** null for random tokens. */
  readonly fingerprint: string | null;
  /** Positions in the caller's batch that receive this token. */
  readonly indexes: number[];
  attempt: number;
}

/**
 * {@link Vault} over a {@link VaultStore} and a {@link Keyring}.
 *
 * @example
 *   const vault = new LocalVault(new SqliteStore('vault.db'), keyring);
 *   const [token] = await vault.tokenize([{ spec: emailSpec, value: 'ada@example.com' }]);
 *   const [res] = await vault.detokenize([{ namespace: emailSpec.namespace, token: token! }]);
 */
/** Token types whose tokens cannot collide with real values, so an existing token may pass through tokenize unchanged. */
export const PASS_THROUGH_TYPES: ReadonlySet<string> = new Set(['email', 'opaque']);

export class LocalVault implements Vault {
  readonly #store: VaultStore;
  readonly #keyring: Keyring;
  readonly #sealKey: Buffer;

  constructor(store: VaultStore, keyring: Keyring) {
    const sealKey = keyring.encryptionKeys.get(keyring.activeKeyId);
    if (sealKey === undefined) {
      throw new GatewayError('KEYS_INVALID', 'keyring has no encryption key for its active key id');
    }
    this.#store = store;
    this.#keyring = keyring;
    this.#sealKey = sealKey;
  }

  async tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    const out = new Array<string>(items.length);
    if (items.length === 0) return out;

    // Values that look like our own tokens: kept unchanged if the vault has them, else tokenized as raw
    // values (a real value can look like a token by chance, e.g. an opaque-looking string).
    // Only for email and opaque tokens, which live outside the space of real values (a `.tok.invalid`
    // domain or a keyed local part; a prefix + 22 base62 characters). Phone and digits tokens are real
    // looking numbers: a customer's real number can equal another customer's token, and passing it
    // through would later resolve it to the other customer's number (misdelivery). Those are always
    // tokenized as raw values; re-tokenizing a phone token yields a token of the token, never a wrong PII.
    const candidates: number[] = [];
    // A candidate that is not a valid raw value is an error only if it turns out not to be our token.
    const deferredErrors = new Map<number, unknown>();
    const byKey = new Map<string, Pending>();
    const random: Pending[] = [];

    for (let i = 0; i < items.length; i++) {
      const { spec, value } = items[i]!;
      const candidate = PASS_THROUGH_TYPES.has(spec.type) && spec.format.isToken(value);
      if (candidate) candidates.push(i);
      let normalized: string;
      try {
        normalized = spec.format.normalize(value);
      } catch (err) {
        if (!candidate) throw cleanValueError(err);
        deferredErrors.set(i, err);
        continue;
      }
      if (spec.random) {
        random.push({ spec, normalized, fingerprint: null, indexes: [i], attempt: 0 });
        continue;
      }
      // Length-prefixed so no (namespace, variant) pair can run into the next field.
      const key = `${spec.namespace.length}:${spec.namespace}${spec.variant.length}:${spec.variant}${normalized}`;
      const pending = byKey.get(key);
      if (pending !== undefined) pending.indexes.push(i);
      else byKey.set(key, { spec, normalized, fingerprint: null, indexes: [i], attempt: 0 });
    }

    const deterministic: Pending[] = [];
    for (const p of byKey.values()) {
      const fp = hmacSha256(this.#keyring.fingerprintKey, p.spec.namespace, p.spec.variant, p.normalized);
      deterministic.push({ ...p, fingerprint: fp.toString('hex') });
    }

    const [ownTokens, known] = await Promise.all([
      candidates.length === 0
        ? undefined
        : this.#store.findByTokens(candidates.map((i) => ({ namespace: items[i]!.spec.namespace, token: items[i]!.value }))),
      deterministic.length === 0 ? undefined : this.#store.findTokens(deterministic.map((p) => p.fingerprint!)),
    ]);

    // Our own tokens pass through; their positions drop out of the pending groups.
    const settled = new Set<number>();
    for (const i of candidates) {
      const { spec, value } = items[i]!;
      if (ownTokens?.has(storeKey(spec.namespace, value))) {
        out[i] = value;
        settled.add(i);
      } else if (deferredErrors.has(i)) {
        throw cleanValueError(deferredErrors.get(i));
      }
    }

    let missing: Pending[] = [];
    for (const p of deterministic) {
      const indexes = settled.size === 0 ? p.indexes : p.indexes.filter((i) => !settled.has(i));
      if (indexes.length === 0) continue;
      const token = known?.get(p.fingerprint!);
      if (token !== undefined) for (const i of indexes) out[i] = token;
      else missing.push({ ...p, indexes });
    }
    for (const p of random) if (!settled.has(p.indexes[0]!)) missing.push(p);

    // Insert what is missing; re-derive the (rare) collisions with the next attempt and insert again.
    while (missing.length > 0) {
      const rows = missing.map((p) => this.#row(p));
      const outcomes = await this.#store.insert(rows);
      const retry: Pending[] = [];
      for (let k = 0; k < missing.length; k++) {
        const p = missing[k]!;
        const outcome = outcomes[k];
        let token: string;
        if (outcome?.status === 'inserted') token = rows[k]!.token;
        else if (outcome?.status === 'exists') token = outcome.token;
        else if (outcome?.status === 'token-taken') {
          if (++p.attempt >= MAX_TOKEN_ATTEMPTS) {
            throw new GatewayError('TOKEN_COLLISION', `no free ${p.spec.type} token after ${MAX_TOKEN_ATTEMPTS} attempts`);
          }
          retry.push(p);
          continue;
        } else {
          throw new GatewayError('VAULT_UNAVAILABLE', 'vault store returned a malformed insert result');
        }
        for (const i of p.indexes) out[i] = token;
      }
      missing = retry;
    }
    return out;
  }

  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    const out = new Array<DetokenizeResult>(items.length);
    if (items.length === 0) return out;
    const rows = await this.#store.findByTokens(items);
    // Duplicates in a batch are opened once.
    const opened = new Map<string, DetokenizeResult>();
    for (let i = 0; i < items.length; i++) {
      const { namespace, token } = items[i]!;
      const key = storeKey(namespace, token);
      let result = opened.get(key);
      if (result === undefined) {
        const row = rows.get(key);
        result = row === undefined ? NOT_FOUND : { found: true, value: this.#open(row, namespace, token), type: row.type };
        opened.set(key, result);
      }
      out[i] = result;
    }
    return out;
  }

  delete(items: readonly DeleteItem[]): Promise<number> {
    if (items.length === 0) return Promise.resolve(0);
    return this.#store.delete(items);
  }

  ping(): Promise<void> {
    return this.#store.ping();
  }

  close(): Promise<void> {
    return this.#store.close();
  }

  #row(p: Pending): StoredRow {
    const { spec, normalized } = p;
    const token = spec.random
      ? spec.format.derive(normalized, spec.namespace, p.attempt, randomBytes(RANDOM_ENTROPY_BYTES))
      : spec.format.derive(normalized, spec.namespace, p.attempt);
    return {
      namespace: spec.namespace,
      token,
      fingerprint: p.fingerprint,
      type: spec.type,
      keyId: this.#keyring.activeKeyId,
      sealed: seal(this.#sealKey, normalized, aad(spec.namespace, token)),
    };
  }

  /** Opens a row for (namespace, token); anything but an authentic row throws, never a wrong value. */
  #open(row: StoredRow, namespace: string, token: string): string {
    const key = this.#keyring.encryptionKeys.get(row.keyId);
    if (key === undefined) {
      throw new GatewayError('VAULT_UNAVAILABLE', 'vault row is sealed with a key id this keyring does not have');
    }
    try {
      // AAD from the requested key, not the row's own fields: a row served for another token fails here.
      return open(key, row.sealed, aad(namespace, token)).toString('utf8');
    } catch (err) {
      throw new GatewayError('VAULT_UNAVAILABLE', 'vault row failed its integrity check', { cause: err });
    }
  }
}

const NOT_FOUND: DetokenizeResult = Object.freeze({ found: false });

function aad(namespace: string, token: string): Buffer {
  return Buffer.from(namespace + '\0' + token, 'utf8');
}

/**
 * Format errors leave the vault with no `field` (the caller knows the path, we only know the index) and
 * as INVALID_VALUE. The format's message is kept: its contract says it never contains the value.
 */
function cleanValueError(err: unknown): unknown {
  if (!isGatewayError(err) || err.code !== 'INVALID_VALUE' || err.field === undefined) return err;
  return new GatewayError('INVALID_VALUE', err.message, { cause: err });
}
