/**
 * Vaultless tokens: per token type, a keyed, deterministic, reversible encryption of the value instead of a
 * stored mapping, so any number of gateways with the same keys agree on every token and resolve every
 * other's tokens with no shared state (design and trade-offs: docs/fleet.md#vaultless-tokens).
 *
 *   phone, digits  FF1 + 2 keyed check digits   (numeric.ts)
 *   email          AES-SIV, base32               (email.ts)
 *   opaque         AES-SIV, base64url            (opaque.ts)
 *
 * Which types are vaultless is deployment configuration (PII_GATEWAY_VAULTLESS_TYPES) that the token specs
 * must know, because the gateway recognizes tokens by `spec.format.isToken()` before it asks the vault. It
 * travels on the keyring: `withVaultlessTypes()` returns the same keys marked with the types, and
 * createTokenSpec() (tokens/index.ts) then gives specs of those types a format whose isToken() also accepts
 * the vaultless tokens of the spec's namespace. Encryption and decryption are the vault's job
 * (vault/vaultless.ts), through the schemes here.
 */
import type { Keyring } from '../../crypto/types.js';
import type { VariantFormat } from '../derive.js';
import { createDigitsFormat } from '../digits.js';
import { createPhoneFormat } from '../phone.js';
import type { TokenType } from '../types.js';
import { createVaultlessEmail } from './email.js';
import { createVaultlessDigits, createVaultlessPhone } from './numeric.js';
import { createVaultlessOpaque } from './opaque.js';
import type { VaultlessScheme } from './types.js';

export type { VaultlessScheme } from './types.js';
export { VAULTLESS_CHECK_DIGITS, VAULTLESS_DIGITS_MAX, VAULTLESS_PHONE_MAX_DIGITS } from './numeric.js';
export { VAULTLESS_EMAIL_MAX_LOCAL } from './email.js';

// Keyed by the token key itself: a keyring and its withVaultlessTypes() copy share one set of schemes.
const schemes = new WeakMap<Buffer, Map<TokenType, VaultlessScheme>>();

/**
 * The vaultless scheme of `type` under the keyring's keys (built once per key and type).
 *
 * @example
 *   const token = vaultlessScheme(keyring, 'phone').encrypt('+442071838750', 'default', 'phone');
 */
export function vaultlessScheme(keyring: Keyring, type: TokenType): VaultlessScheme {
  let byType = schemes.get(keyring.tokenKey);
  if (byType === undefined) schemes.set(keyring.tokenKey, (byType = new Map()));
  let scheme = byType.get(type);
  if (scheme === undefined) {
    switch (type) {
      case 'phone':
        scheme = createVaultlessPhone(keyring, createPhoneFormat(keyring));
        break;
      case 'digits':
        scheme = createVaultlessDigits(keyring, createDigitsFormat(keyring));
        break;
      case 'email':
        scheme = createVaultlessEmail(keyring);
        break;
      case 'opaque':
        scheme = createVaultlessOpaque(keyring);
        break;
    }
    byType.set(type, scheme);
  }
  return scheme;
}

/**
 * The same keys, marked so that specs of `types` recognize vaultless tokens (frozen; `keyring` itself when
 * there is nothing to mark). Build every spec and the vault from the returned keyring.
 *
 * @example
 *   const keyring = withVaultlessTypes(loadKeyring(source), config.vault.vaultlessTypes);
 */
export function withVaultlessTypes(keyring: Keyring, types: readonly TokenType[]): Keyring {
  const set = [...new Set(types)];
  const current = keyring.vaultlessTypes ?? [];
  if (set.length === current.length && set.every((t) => current.includes(t))) return keyring;
  return Object.freeze({ ...keyring, vaultlessTypes: Object.freeze(set) });
}

/**
 * `format` plus recognition of the vaultless tokens of its type made in `namespace` (tokens/index.ts uses
 * it for specs of vaultless types). Normalization and derive() stay the stored format's: a vaultless token is
 * made by the vault (vault/vaultless.ts), and random specs of the type still get stored tokens.
 *
 * @example
 *   const format = vaultlessAwareFormat(createPhoneFormat(keyring), vaultlessScheme(keyring, 'phone'), 'default');
 *   format.isToken(vaultlessToken) === true;
 */
export function vaultlessAwareFormat(format: VariantFormat, scheme: VaultlessScheme, namespace: string): VariantFormat {
  return Object.freeze({
    type: format.type,
    variant: format.variant,
    normalize: (raw: string) => format.normalize(raw),
    tryNormalize: (raw: string) => format.tryNormalize(raw),
    derive: (normalized: string, ns: string, attempt: number, entropy?: Buffer) => format.derive(normalized, ns, attempt, entropy),
    isToken: (candidate: string) => format.isToken(candidate) || scheme.open(namespace, candidate) !== undefined,
  });
}
