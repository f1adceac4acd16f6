/**
 * VaultlessVault: the outermost vault layer, for the token types made vaultless (PII_GATEWAY_VAULTLESS_TYPES).
 *
 * Tokens of those types are keyed encryptions of the value (tokens/vaultless): tokenize encrypts, detokenize
 * decrypts, and no store is consulted, so any number of gateways with the same keys agree on every token and
 * resolve each other's tokens with no shared state. Everything else goes to the inner vault (cache, then the
 * backend), in ONE inner call per method, as before:
 *   - random specs (`random: true`): a fresh token per call cannot be a deterministic encryption;
 *   - types that are not vaultless;
 *   - on detokenize, every token that does not open as a vaultless token of a configured type in its
 *     namespace (stored tokens: random ones, and those issued before the switch; unknown strings).
 *
 * Routing on detokenize is by the token alone, since an item names no type: '+digits' can only be phone,
 * all digits digits (or opaque), an '@' email, anything else opaque. A string is vaultless only if it opens:
 * AES-SIV authenticates (email, opaque: false acceptance 2^-128), phone and digits carry 2 keyed check
 * digits that a vaultless token never shares with a stored one (1 in 100 for a string that is not a token,
 * e.g. a real phone number sent by mistake: docs/fleet.md). Whatever fails goes to the inner vault, which
 * answers found:false for it unless it really is a stored token there.
 *
 * delete() cannot erase a vaultless mapping (there is none: the token IS the value, encrypted). It counts 0
 * for vaultless tokens and forwards the rest; erasing vaultless values means destroying the key.
 *
 * The crypto is synchronous JavaScript (~50 us per value); batches yield to the event loop every 256 values
 * so a 10,000-item batch never holds it for more than a few milliseconds at a time.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Keyring } from '../crypto/types.js';
import { GatewayError } from '../errors.js';
import type { TokenType } from '../tokens/types.js';
import { vaultlessScheme, type VaultlessScheme } from '../tokens/vaultless/index.js';
import { PASS_THROUGH_TYPES } from './local.js';
import { storeKey, type DeleteItem, type DetokenizeItem, type DetokenizeResult, type TokenizeItem, type Vault } from './interface.js';

/** Values between two yields to the event loop. */
const YIELD_EVERY = 256;
/** Types whose tokens cannot be real values, so an existing token may pass through tokenize (as in LocalVault). */
const ALL_DIGITS = /^[0-9]+$/;

/**
 * {@link Vault} that makes the deterministic tokens of `types` vaultless and sends the rest to `inner`.
 *
 * @example
 *   const vault = new VaultlessVault(new LocalVault(store, keyring), keyring, ['phone', 'email']);
 */
export class VaultlessVault implements Vault {
  readonly #inner: Vault;
  readonly #schemes: ReadonlyMap<TokenType, VaultlessScheme>;
  #closed = false;

  /** `keyring`: the gateway's keys (the specs must come from the same keys, marked with withVaultlessTypes()). */
  constructor(inner: Vault, keyring: Keyring, types: readonly TokenType[]) {
    this.#inner = inner;
    this.#schemes = new Map(types.map((t) => [t, vaultlessScheme(keyring, t)]));
  }

  async tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    this.#assertOpen();
    const out = new Array<string>(items.length);
    const forInner: number[] = [];
    /** Email/opaque values shaped like stored tokens: kept if the inner vault knows them (as LocalVault does). */
    const candidates: number[] = [];
    let work = 0;
    for (let i = 0; i < items.length; i++) {
      const { spec, value } = items[i]!;
      const scheme = spec.random ? undefined : this.#schemes.get(spec.type);
      if (scheme === undefined) {
        forInner.push(i);
        continue;
      }
      if (++work % YIELD_EVERY === 0) await yieldToEventLoop();
      if (PASS_THROUGH_TYPES.has(spec.type)) {
        // Our own vaultless token, in this namespace: unchanged (tokenizing a token again adds nothing).
        if (scheme.open(spec.namespace, value) !== undefined) {
          out[i] = value;
          continue;
        }
        if (spec.format.isToken(value)) {
          candidates.push(i);
          continue;
        }
      }
      // Phone and digits values are always encrypted, even when they look like tokens: a real number can
      // pass a check (vault/local.ts explains the misdelivery this avoids).
      out[i] = scheme.encrypt(spec.format.normalize(value), spec.namespace, spec.variant);
    }

    if (candidates.length > 0) {
      // Looked up before anything is written, so an invalid value found here leaves nothing half-applied.
      const known = await this.#inner.detokenize(candidates.map((i) => ({ namespace: items[i]!.spec.namespace, token: items[i]!.value })));
      if (known.length !== candidates.length) throw new GatewayError('VAULT_UNAVAILABLE', 'the inner vault returned a different number of results');
      for (let k = 0; k < candidates.length; k++) {
        const { spec, value } = items[candidates[k]!]!;
        // normalize() throws INVALID_VALUE (no value in the message) for a token-shaped string that is neither known nor valid.
        out[candidates[k]!] = known[k]!.found ? value : this.#schemes.get(spec.type)!.encrypt(spec.format.normalize(value), spec.namespace, spec.variant);
      }
    }

    if (forInner.length > 0) {
      const tokens = await this.#inner.tokenize(forInner.map((i) => items[i]!));
      if (tokens.length !== forInner.length) throw new GatewayError('VAULT_UNAVAILABLE', 'the inner vault returned a different number of tokens');
      for (let k = 0; k < forInner.length; k++) out[forInner[k]!] = tokens[k]!;
    }
    return out;
  }

  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    this.#assertOpen();
    const out = new Array<DetokenizeResult>(items.length);
    const misses: number[] = [];
    // Duplicates in a batch are opened once.
    const opened = new Map<string, DetokenizeResult | null>();
    for (let i = 0; i < items.length; i++) {
      const { namespace, token } = items[i]!;
      const key = storeKey(namespace, token);
      let result = opened.get(key);
      if (result === undefined) {
        if (opened.size % YIELD_EVERY === YIELD_EVERY - 1) await yieldToEventLoop();
        result = this.#open(namespace, token);
        opened.set(key, result);
      }
      if (result === null) misses.push(i);
      else out[i] = result;
    }
    if (misses.length > 0) {
      const results = await this.#inner.detokenize(misses.map((i) => items[i]!));
      if (results.length !== misses.length) throw new GatewayError('VAULT_UNAVAILABLE', 'the inner vault returned a different number of results');
      for (let k = 0; k < misses.length; k++) out[misses[k]!] = results[k]!;
    }
    return out;
  }

  /** Forwards stored tokens; a vaultless token counts 0: there is no mapping to erase (docs/fleet.md). */
  async delete(items: readonly DeleteItem[]): Promise<number> {
    this.#assertOpen();
    const stored = items.filter((item) => this.#open(item.namespace, item.token) === null);
    return stored.length === 0 ? 0 : this.#inner.delete(stored);
  }

  async ping(): Promise<void> {
    this.#assertOpen();
    await this.#inner.ping();
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.#inner.close();
  }

  #assertOpen(): void {
    if (this.#closed) throw new GatewayError('VAULT_UNAVAILABLE', 'the vault is closed');
  }

  /** The value of a vaultless token of a configured type in `namespace`, or null when it is not one. */
  #open(namespace: string, token: string): DetokenizeResult | null {
    const c = token.charCodeAt(0);
    const types: readonly TokenType[] =
      c === 43 ? ['phone'] : token.includes('@') ? ['email'] : ALL_DIGITS.test(token) ? ['digits', 'opaque'] : ['opaque'];
    for (const type of types) {
      const value = this.#schemes.get(type)?.open(namespace, token);
      if (value !== undefined) return { found: true, value, type };
    }
    return null;
  }
}
