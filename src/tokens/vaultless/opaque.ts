/**
 * Vaultless opaque tokens: `<prefix><base64url AES-SIV(value)><m>`, where the last character m is the
 * prefix length in base62 ('0'-'9', 'A'-'G' for 0-16), because a detokenize item carries no options and the
 * prefix is part of the variant the value was sealed under. Associated data: namespace and variant, so the
 * same value under another prefix or in another namespace gives an unrelated token, and a token with its
 * prefix changed does not open.
 *
 * Unlike stored opaque tokens (a fixed 22 characters whatever the value), these grow with the value:
 * prefix + ceil((16 + bytes) * 4 / 3) + 1 characters, i.e. 23 + 1.33 x the UTF-8 length; the value's length is
 * visible to anyone who sees the token. Stored tokens end in 22 base62 characters with a keyed check; a
 * vaultless token is recognized only by opening it (the 128-bit SIV is its check).
 */
import type { Keyring } from '../../crypto/types.js';
import { GatewayError } from '../../errors.js';
import { BASE62 } from '../derive.js';
import { OPAQUE_MAX_PREFIX, isValidOpaquePrefix, opaqueVariant } from '../opaque.js';
import { SIV_TAG_BYTES, base64urlDecode, base64urlEncode, sivOpen, sivSeal, utf8, vaultlessKey } from './ciphers.js';
import type { VaultlessScheme } from './types.js';

const VARIANT_PREFIX = 'opaque;prefix=';
/** Characters of the shortest sealed body (16-byte SIV + 1 byte). */
const MIN_BODY = Math.ceil(((SIV_TAG_BYTES + 1) * 4) / 3);
const decoder = new TextDecoder();

/**
 * The vaultless opaque scheme.
 *
 * @example
 *   const opaque = createVaultlessOpaque(keyring);
 *   opaque.encrypt('Ada Lovelace', 'default', 'opaque;prefix=tok_'); // 'tok_' + 38 base64url + '4'
 */
export function createVaultlessOpaque(keyring: Keyring): VaultlessScheme {
  const key = vaultlessKey(keyring.tokenKey, 'opaque/siv', 64); // AES-256-SIV
  const ad = (namespace: string, variant: string): Uint8Array[] => [utf8('opaque'), utf8(namespace), utf8(variant)];

  return Object.freeze({
    type: 'opaque' as const,

    encrypt(normalized: string, namespace: string, variant: string): string {
      if (!variant.startsWith(VARIANT_PREFIX)) throw new GatewayError('INTERNAL', 'not an opaque token variant');
      if (normalized.length === 0) throw new GatewayError('INVALID_VALUE', 'empty value cannot be tokenized');
      const prefix = variant.slice(VARIANT_PREFIX.length);
      return prefix + base64urlEncode(sivSeal(key, ad(namespace, variant), utf8(normalized))) + BASE62[prefix.length]!;
    },

    open(namespace: string, candidate: string): string | undefined {
      const prefixLength = BASE62.indexOf(candidate.charAt(candidate.length - 1));
      if (prefixLength < 0 || prefixLength > OPAQUE_MAX_PREFIX || candidate.length - 1 - prefixLength < MIN_BODY) return undefined;
      const prefix = candidate.slice(0, prefixLength);
      if (!isValidOpaquePrefix(prefix)) return undefined;
      const sealed = base64urlDecode(candidate.slice(prefixLength, -1));
      if (sealed === undefined) return undefined;
      const plain = sivOpen(key, ad(namespace, opaqueVariant(prefix)), sealed);
      return plain === undefined ? undefined : decoder.decode(plain);
    },
  });
}
