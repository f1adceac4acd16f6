/**
 * Vaultless email tokens: AES-SIV of the address's parts, base32, in the stored tokens' shape
 * `<local token>@<domain>` (a valid, lower-case address), the domain following the spec's emailDomain:
 *
 *   tokenize  <k+1><b32 SIV(local)>@<b32 SIV(domain), in k labels>.<suffix>   ('2'-'5': k = 1-4 labels)
 *   preserve  0<b32 SIV(local)>@<the real domain>
 *   sink      refused: the real domain would have to travel inside the 64-character local part, leaving 23
 *             characters for the whole address (tokens/index.ts refuses such a rule at load, RULES_INVALID)
 *
 * The first character says which, so `open()` knows the variant (hence the associated data) from the token
 * alone: a detokenize item names no type and no options. Associated data of every seal: the part, the
 * namespace, the variant, and for the local part the token's own domain, so a local token moved under
 * another domain (a changed suffix, another real domain) no longer opens: the detokenized address is
 * always the one that was tokenized. The domain token depends only on (namespace, variant, domain): all users
 * of one domain share it, as with stored tokens, and platforms can still group by domain.
 *
 * Lengths: AES-SIV adds 16 bytes and base32 turns 5 bytes into 8 characters, so a local part of L bytes
 * becomes 1 + ceil((16 + L) * 8 / 5) characters: about 29 + 1.6 L. RFC 5321's 64-character local part
 * leaves L <= 23; the token must also stay within 254 characters. Longer values
 * are refused with INVALID_VALUE naming the limit. Stored local tokens are 21 characters, vaultless ones at
 * least 29, so the two never share a shape.
 */
import type { Keyring } from '../../crypto/types.js';
import { GatewayError } from '../../errors.js';
import { base32Decode, base32Encode, base32Length, sivOpen, sivSeal, SIV_TAG_BYTES, utf8, vaultlessKey } from './ciphers.js';
import type { VaultlessScheme } from './types.js';

const MAX_LOCAL = 64;
const MAX_ADDRESS = 254;
const MAX_LABEL = 63;
/** Domain token labels the marker can announce ('2'..'5'). */
const MAX_DOMAIN_LABELS = 4;
/** Most bytes a sealed local part may have: 1 marker + base32 within 64 characters. */
export const VAULTLESS_EMAIL_MAX_LOCAL = Math.floor(((MAX_LOCAL - 1) * 5) / 8) - SIV_TAG_BYTES;
const CACHE_SIZE = 1024;

const PRESERVE = '0';

type Policy = { readonly kind: 'preserve' } | { readonly kind: 'sink'; readonly sink: string } | { readonly kind: 'tokenize'; readonly suffix: string };

/** The domain policy named by an email variant (tokens/email.ts emailVariant: those strings never change). */
export function emailPolicy(variant: string): Policy {
  if (variant === 'email;domain=preserve') return { kind: 'preserve' };
  if (variant.startsWith('email;domain=sink:')) return { kind: 'sink', sink: variant.slice('email;domain=sink:'.length) };
  if (variant.startsWith('email;domain=tokenize;suffix=')) return { kind: 'tokenize', suffix: variant.slice('email;domain=tokenize;suffix='.length) };
  throw new GatewayError('INTERNAL', 'not an email token variant');
}

function refuse(message: string): GatewayError {
  return new GatewayError('INVALID_VALUE', `not a valid email address for a vaultless token: ${message}`);
}

const decoder = new TextDecoder();

/** Adds to a bounded memo (cleared when full): few domains carry most addresses. */
function remember(map: Map<string, string>, key: string, value: string): void {
  if (map.size >= CACHE_SIZE) map.clear();
  map.set(key, value);
}

/**
 * The vaultless email scheme.
 *
 * @example
 *   const email = createVaultlessEmail(keyring);
 *   email.encrypt('ada@example.com', 'default', 'email;domain=tokenize;suffix=tok.invalid'); // '2…@….tok.invalid'
 */
export function createVaultlessEmail(keyring: Keyring): VaultlessScheme {
  const key = vaultlessKey(keyring.tokenKey, 'email/siv', 64); // AES-256-SIV
  const seal = (part: string, namespace: string, variant: string, extra: string, plain: string): string =>
    base32Encode(sivSeal(key, [utf8(part), utf8(namespace), utf8(variant), utf8(extra)], utf8(plain)));
  const open = (part: string, namespace: string, variant: string, extra: string, body: string): string | undefined => {
    const sealed = base32Decode(body);
    if (sealed === undefined || sealed.length <= SIV_TAG_BYTES) return undefined;
    const plain = sivOpen(key, [utf8(part), utf8(namespace), utf8(variant), utf8(extra)], sealed);
    return plain === undefined ? undefined : decoder.decode(plain);
  };

  const domainTokens = new Map<string, string>();
  const domainValues = new Map<string, string>();
  const frame = (namespace: string, variant: string, s: string): string => `${namespace.length}:${namespace}${variant.length}:${variant}${s}`;

  /** `<the sealed domain, in labels of at most 63>.<suffix>`, the same for every user of the domain (memoized). */
  function domainToken(namespace: string, variant: string, suffix: string, domain: string): string {
    const memoKey = frame(namespace, variant, domain);
    let token = domainTokens.get(memoKey);
    if (token === undefined) {
      const sealed = seal('domain', namespace, variant, '', domain);
      const labels: string[] = [];
      for (let i = 0; i < sealed.length; i += MAX_LABEL) labels.push(sealed.slice(i, i + MAX_LABEL));
      if (labels.length > MAX_DOMAIN_LABELS) throw refuse('the domain is too long for a vaultless domain token');
      token = `${labels.join('.')}.${suffix}`;
      remember(domainTokens, memoKey, token);
    }
    return token;
  }

  function openDomain(namespace: string, variant: string, sealedLabels: string[]): string | undefined {
    const body = sealedLabels.join('');
    const memoKey = frame(namespace, variant, body);
    let domain = domainValues.get(memoKey);
    if (domain === undefined) {
      if (sealedLabels.some((l) => l.length === 0 || l.length > MAX_LABEL)) return undefined;
      domain = open('domain', namespace, variant, '', body);
      if (domain === undefined) return undefined;
      remember(domainValues, memoKey, domain);
    }
    return domain;
  }

  return Object.freeze({
    type: 'email' as const,

    encrypt(normalized: string, namespace: string, variant: string): string {
      const at = normalized.lastIndexOf('@');
      if (at <= 0) throw refuse('no @');
      const local = normalized.slice(0, at);
      const domain = normalized.slice(at + 1);
      const policy = emailPolicy(variant);
      if (policy.kind === 'sink') throw new GatewayError('RULES_INVALID', 'emailDomain sink cannot be used with vaultless email tokens', { field: 'emailDomain' });
      if (Buffer.byteLength(local, 'utf8') > VAULTLESS_EMAIL_MAX_LOCAL) {
        throw refuse(`local part longer than ${VAULTLESS_EMAIL_MAX_LOCAL} characters (its token would exceed the 64-character local part limit)`);
      }
      let marker = PRESERVE;
      let tokenDomain = domain;
      if (policy.kind === 'tokenize') {
        tokenDomain = domainToken(namespace, variant, policy.suffix, domain);
        marker = String(1 + countLabels(tokenDomain, policy.suffix));
      }
      const token = `${marker}${seal('local', namespace, variant, tokenDomain, local)}@${tokenDomain}`;
      if (token.length > MAX_ADDRESS) throw refuse(`its token would be longer than ${MAX_ADDRESS} characters`);
      return token;
    },

    open(namespace: string, candidate: string): string | undefined {
      if (candidate.length > MAX_ADDRESS) return undefined;
      const at = candidate.indexOf('@');
      if (at < 1 + base32Length(SIV_TAG_BYTES + 1) || at > MAX_LOCAL || candidate.indexOf('@', at + 1) >= 0) return undefined;
      const marker = candidate.charCodeAt(0) - 48;
      const body = candidate.slice(1, at);
      const domain = candidate.slice(at + 1);
      if (domain.length === 0) return undefined;
      if (marker === 0) {
        const local = open('local', namespace, 'email;domain=preserve', domain, body);
        return local === undefined ? undefined : `${local}@${domain}`;
      }
      if (marker < 2 || marker > 1 + MAX_DOMAIN_LABELS) return undefined;
      const labels = domain.split('.');
      const k = marker - 1;
      if (labels.length < k + 2) return undefined; // a suffix is a domain name: 2 labels at least
      const variant = `email;domain=tokenize;suffix=${labels.slice(k).join('.')}`;
      const realDomain = openDomain(namespace, variant, labels.slice(0, k));
      if (realDomain === undefined) return undefined;
      const local = open('local', namespace, variant, domain, body);
      return local === undefined ? undefined : `${local}@${realDomain}`;
    },
  });
}

/** Labels of a domain token before its suffix. */
function countLabels(tokenDomain: string, suffix: string): number {
  return tokenDomain.slice(0, tokenDomain.length - suffix.length - 1).split('.').length;
}
