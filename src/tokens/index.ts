/**
 * Token specs: validated, frozen, and shared.
 *
 * `createTokenSpec()` turns what a rule (or a vault API caller) asks for into a TokenSpec whose format is
 * ready for the hot path. Specs and formats are memoized per keyring, so equal inputs give the very same
 * object and a rule set compiles each distinct format once. Token details: docs/tokens.md.
 */
import type { Keyring } from '../crypto/types.js';
import { GatewayError } from '../errors.js';
import type { VariantFormat } from './derive.js';
import { createDigitsFormat } from './digits.js';
import { EMAIL_DEFAULT_SUFFIX, EMAIL_DOMAIN_TOKEN, EMAIL_LOCAL_BODY, EMAIL_LOCAL_CHECK, createEmailFormat, domainProblem, emailVariant, type EmailDomainPolicy } from './email.js';
import { OPAQUE_DEFAULT_PREFIX, OPAQUE_MAX_PREFIX, createOpaqueFormat, isValidOpaquePrefix, opaqueVariant } from './opaque.js';
import { createPhoneFormat } from './phone.js';
import { vaultlessAwareFormat, vaultlessScheme } from './vaultless/index.js';
import { TOKEN_TYPES, type TokenFormat, type TokenSpec, type TokenSpecInput, type TokenType } from './types.js';

export { TOKEN_TYPES } from './types.js';
export type { TokenFormat, TokenSpec, TokenSpecInput, TokenType } from './types.js';
export type { EmailDomainPolicy } from './email.js';
export { withVaultlessTypes } from './vaultless/index.js';

export const DEFAULT_NAMESPACE = 'default';
const MAX_NAMESPACE = 128;
/** Memo entries per keyring before the memo is reset (namespaces can come from API callers). */
const MEMO_LIMIT = 4096;

/** Type-specific options of a format; which ones apply depends on the type. */
export interface FormatOptions {
  emailDomain?: EmailDomainPolicy;
  emailSuffix?: string;
  prefix?: string;
}

function rulesInvalid(message: string, field: string): GatewayError {
  return new GatewayError('RULES_INVALID', message, { field });
}

/** Lower-cased domain option, or a RULES_INVALID error naming the option. */
function domainOption(value: unknown, field: string, maxLength: number): string {
  if (typeof value !== 'string') throw rulesInvalid(`${field} must be a domain name (string)`, field);
  const problem = domainProblem(value, 0, value.length);
  if (problem !== null) throw rulesInvalid(`${field} must be a domain name: ${problem}`, field);
  if (value.length > maxLength) throw rulesInvalid(`${field} must be at most ${maxLength} characters`, field);
  return value.toLowerCase();
}

// Room left for the domain part of a token within 254 characters: local token and '@' (and the domain
// token label and its dot for suffixes).
const LOCAL_AND_AT = EMAIL_LOCAL_BODY + EMAIL_LOCAL_CHECK + 1;
const MAX_SUFFIX = 254 - LOCAL_AND_AT - EMAIL_DOMAIN_TOKEN - 1;
const MAX_SINK = 254 - LOCAL_AND_AT;

interface Canonical {
  type: TokenType;
  emailDomain: EmailDomainPolicy;
  emailSuffix: string;
  prefix: string;
}

/** Validates options against `type` and fills defaults. Options of another type are refused. */
function canonicalOptions(type: unknown, options: FormatOptions): Canonical {
  if (typeof type !== 'string' || !(TOKEN_TYPES as readonly string[]).includes(type)) {
    throw rulesInvalid(`token type must be one of ${TOKEN_TYPES.join(', ')}`, 'type');
  }
  const t = type as TokenType;
  if (t !== 'email') {
    if (options.emailDomain !== undefined) throw rulesInvalid(`emailDomain applies only to type email, not ${t}`, 'emailDomain');
    if (options.emailSuffix !== undefined) throw rulesInvalid(`emailSuffix applies only to type email, not ${t}`, 'emailSuffix');
  }
  if (t !== 'opaque' && options.prefix !== undefined) {
    throw rulesInvalid(`prefix applies only to type opaque, not ${t}`, 'prefix');
  }

  let emailDomain: EmailDomainPolicy = 'tokenize';
  const d = options.emailDomain as unknown;
  if (d === 'tokenize' || d === 'preserve' || d === undefined) {
    emailDomain = d ?? 'tokenize';
  } else if (typeof d === 'object' && d !== null && !Array.isArray(d) && Object.keys(d).length === 1 && 'sink' in d) {
    emailDomain = { sink: domainOption((d as { sink: unknown }).sink, 'emailDomain.sink', MAX_SINK) };
  } else {
    throw rulesInvalid("emailDomain must be 'tokenize', 'preserve' or { sink: <domain> }", 'emailDomain');
  }
  // Validated even where it does not apply (preserve, sink) so a typo never waits for a policy change.
  const emailSuffix =
    options.emailSuffix === undefined ? EMAIL_DEFAULT_SUFFIX : domainOption(options.emailSuffix, 'emailSuffix', MAX_SUFFIX);

  const prefix = options.prefix ?? OPAQUE_DEFAULT_PREFIX;
  if (typeof prefix !== 'string' || !isValidOpaquePrefix(prefix)) {
    throw rulesInvalid(`prefix must be 0-${OPAQUE_MAX_PREFIX} characters of A-Z a-z 0-9 _ -`, 'prefix');
  }
  return { type: t, emailDomain, emailSuffix, prefix };
}

const formatMemo = new WeakMap<Keyring, Map<string, VariantFormat>>();
const specMemo = new WeakMap<Keyring, Map<string, TokenSpec>>();

function memoFor<T>(memo: WeakMap<Keyring, Map<string, T>>, keyring: Keyring): Map<string, T> {
  let map = memo.get(keyring);
  if (map === undefined) {
    map = new Map();
    memo.set(keyring, map);
  } else if (map.size >= MEMO_LIMIT) {
    map.clear();
  }
  return map;
}

function buildFormat(c: Canonical, keyring: Keyring): VariantFormat {
  switch (c.type) {
    case 'email':
      return createEmailFormat(keyring, { domain: c.emailDomain, suffix: c.emailSuffix });
    case 'phone':
      return createPhoneFormat(keyring);
    case 'opaque':
      return createOpaqueFormat(keyring, c.prefix);
    case 'digits':
      return createDigitsFormat(keyring);
  }
}

function variantKey(c: Canonical): string {
  switch (c.type) {
    case 'email':
      return emailVariant({ domain: c.emailDomain, suffix: c.emailSuffix });
    case 'opaque':
      return opaqueVariant(c.prefix);
    default:
      return c.type;
  }
}

function compiledFormat(c: Canonical, keyring: Keyring): VariantFormat {
  const key = variantKey(c);
  const memo = memoFor(formatMemo, keyring);
  let format = memo.get(key);
  if (format === undefined) {
    format = buildFormat(c, keyring);
    memo.set(key, format);
  }
  return format;
}

/**
 * The format of a token type with the given options (validated: GatewayError 'RULES_INVALID'), memoized
 * per keyring. `variant` is the string TokenSpec.variant carries.
 *
 * @example
 *   formatFor('email', keyring, { emailDomain: 'preserve' }).variant === 'email;domain=preserve'
 */
export function formatFor(type: TokenType, keyring: Keyring, options: FormatOptions = {}): TokenFormat & { readonly variant: string } {
  return compiledFormat(canonicalOptions(type, options), keyring);
}

function checkNamespace(namespace: unknown): string {
  if (namespace === undefined) return DEFAULT_NAMESPACE;
  if (typeof namespace !== 'string' || namespace.length === 0 || namespace.length > MAX_NAMESPACE) {
    throw rulesInvalid(`namespace must be a string of 1-${MAX_NAMESPACE} characters`, 'namespace');
  }
  for (let i = 0; i < namespace.length; i++) {
    const c = namespace.charCodeAt(i);
    if (c < 32 || c === 127) throw rulesInvalid('namespace must not contain control characters', 'namespace');
  }
  return namespace;
}

/**
 * The input a spec stands for, with defaults filled in and nothing that does not change the token: the
 * suffix is left out unless the email domain is tokenized (it is the same variant otherwise), so the same
 * spec object always carries the same input whatever input built it first.
 */
function canonicalInput(c: Canonical, namespace: string, random: boolean): Readonly<TokenSpecInput> {
  const input: TokenSpecInput = { type: c.type, namespace, random };
  if (c.type === 'email') {
    const d = c.emailDomain;
    input.emailDomain = typeof d === 'string' ? d : Object.freeze({ sink: d.sink });
    if (d === 'tokenize') input.emailSuffix = c.emailSuffix;
  } else if (c.type === 'opaque') {
    input.prefix = c.prefix;
  }
  return Object.freeze(input);
}

/**
 * Validates a token spec input and returns the compiled, frozen spec. Equal inputs (after defaults) on
 * the same keyring return the same object while the memo holds (it resets after 4096 distinct specs).
 * Throws GatewayError('RULES_INVALID') with the offending option in `field`.
 *
 * When the keyring marks the type vaultless (withVaultlessTypes), the spec's format also recognizes the
 * vaultless tokens of its namespace (tokens/vaultless): the engine finds tokens by `format.isToken()`.
 *
 * @example
 *   const spec = createTokenSpec({ type: 'email', emailDomain: 'preserve' }, keyring);
 *   spec.variant === 'email;domain=preserve'; spec.namespace === 'default';
 */
export function createTokenSpec(input: TokenSpecInput, keyring: Keyring): TokenSpec {
  if (typeof input !== 'object' || input === null) throw rulesInvalid('token spec must be an object', 'type');
  const canonical = canonicalOptions(input.type, input);
  const namespace = checkNamespace(input.namespace);
  if (input.random !== undefined && typeof input.random !== 'boolean') throw rulesInvalid('random must be true or false', 'random');
  const random = input.random ?? false;
  if (!random && typeof canonical.emailDomain === 'object' && canonical.type === 'email' && keyring.vaultlessTypes?.includes('email')) {
    // The real domain would have to travel inside the 64-character local part, leaving 23 characters for the
    // whole address: most addresses would be refused at run time. Refused here, at rule load, instead.
    throw rulesInvalid(
      "emailDomain sink cannot be used with vaultless email tokens (the whole address would have to fit in 23 characters): use 'tokenize' or 'preserve', random: true, or keep email out of PII_GATEWAY_VAULTLESS_TYPES",
      'emailDomain',
    );
  }

  const stored = compiledFormat(canonical, keyring);
  const key = `${random ? 'r' : 'd'}${namespace.length}:${namespace}${stored.variant}`;
  const memo = memoFor(specMemo, keyring);
  let spec = memo.get(key);
  if (spec === undefined) {
    const format = keyring.vaultlessTypes?.includes(canonical.type)
      ? vaultlessAwareFormat(stored, vaultlessScheme(keyring, canonical.type), namespace)
      : stored;
    spec = Object.freeze({ type: canonical.type, namespace, random, variant: stored.variant, format, input: canonicalInput(canonical, namespace, random) });
    memo.set(key, spec);
  }
  return spec;
}
