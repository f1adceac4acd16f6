/** PLACEHOLDER (replaced by the vaultless tokens work): the contract vault/index.ts builds against. */
import type { Keyring } from '../crypto/types.js';
import { GatewayError } from '../errors.js';
import type { TokenType } from '../tokens/types.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from './interface.js';

export class VaultlessVault implements Vault {
  readonly #inner: Vault;
  constructor(inner: Vault, _keyring: Keyring, _types: readonly TokenType[]) {
    this.#inner = inner;
    throw new GatewayError('CONFIG_INVALID', 'PII_GATEWAY_VAULTLESS_TYPES: vaultless tokens are not built yet');
  }
  tokenize(items: readonly TokenizeItem[]): Promise<string[]> { return this.#inner.tokenize(items); }
  detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> { return this.#inner.detokenize(items); }
  delete(items: readonly DeleteItem[]): Promise<number> { return this.#inner.delete(items); }
  ping(): Promise<void> { return this.#inner.ping(); }
  close(): Promise<void> { return this.#inner.close(); }
}
