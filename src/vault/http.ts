/** PLACEHOLDER (replaced by the HTTP vault client work): the contract vault/index.ts builds against. */
import type { HttpVaultConfig } from '../config/vault.js';
import { GatewayError } from '../errors.js';
import type { Vault } from './interface.js';

export abstract class HttpVault implements Vault {
  static async open(_config: HttpVaultConfig): Promise<Vault> {
    throw new GatewayError('VAULT_UNAVAILABLE', 'the http vault backend is not built yet');
  }
  abstract tokenize: Vault['tokenize'];
  abstract detokenize: Vault['detokenize'];
  abstract delete: Vault['delete'];
  abstract ping: Vault['ping'];
  abstract close: Vault['close'];
}
