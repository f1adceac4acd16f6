/**
 * Caller-authentication settings (the `PII_GATEWAY_JWT_*`, `_API_KEYS_FILE`, `_VAULT_API_AUTH` and
 * `_DETOKENIZE_POLICY` rows of SETTINGS in index.ts): JWT bearer tokens, API keys, and the detokenize
 * policy file that binds token types to destinations.
 *
 * Everything is off by default, so the local quick start (tokenize inbound, loopback listeners) keeps
 * working. What is refused instead of silently weakened: a JWT issuer without an audience or keys, an
 * algorithm list with `none` or an HMAC algorithm (a public key must never be usable as an HMAC secret),
 * a JWKS URL over plain HTTP to anything but loopback, an unbounded clock skew.
 */
import path from 'node:path';
import { GatewayError } from '../errors.js';

/** Asymmetric JWS algorithms the gateway can pin. HS* and `none` are deliberately absent. */
export const JWT_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const;

export interface JwtConfig {
  /** Exact `iss` every token must carry, e.g. https://sso.example.com/realms/acme. */
  readonly issuer: string;
  /** Accepted `aud` values (a token must name at least one). */
  readonly audience: readonly string[];
  /**
   * Keycloak: `<issuer>/protocol/openid-connect/certs`. At most one of jwksUrl / keysFile; with neither,
   * `discoveryUrl` is set and the JWKS URL comes from the provider's discovery document at start-up
   * (auth/oidc-discovery.ts fills jwksUrl in before any verifier is built).
   */
  readonly jwksUrl: URL | undefined;
  /** `<issuer>/.well-known/openid-configuration` when neither a JWKS URL nor a keys file is set. */
  readonly discoveryUrl: URL | undefined;
  /** PEM public key, JWK or JWKS (JSON) file. */
  readonly keysFile: string | undefined;
  readonly algorithms: readonly string[];
  readonly clockSkewSeconds: number;
  /** Refuse tokens without `nbf` (Keycloak does not issue one, so off by default; checked whenever present). */
  readonly requireNbf: boolean;
  /** Claim paths holding roles or scopes, e.g. `scope`, `realm_access.roles`, `resource_access["pii-gateway"].roles`. */
  readonly permissionClaims: readonly string[];
  /** Claim values that grant each permission. */
  readonly roles: { readonly tokenize: readonly string[]; readonly detokenize: readonly string[] };
  readonly jwksCooldownMs: number;
  readonly jwksCacheMaxAgeMs: number;
  readonly jwksTimeoutMs: number;
  /**
   * Accepted JOSE `typ` header values, normalized (lower-case, no `application/` prefix): `at+jwt`
   * (RFC 9068), `jwt` (Keycloak, Entra ID), `absent` (no `typ` header). ID-token claims are refused
   * whatever this says (jwt.ts).
   */
  readonly tokenTypes: readonly string[];
}

export type VaultApiAuthMode = 'auto' | 'required' | 'none';

export interface AuthConfig {
  /** null: no JWT provider (routes with `auth: { jwt: default }` refuse to load). */
  readonly jwt: JwtConfig | null;
  /** API key file (hashes only); undefined: no API keys. */
  readonly apiKeysFile: string | undefined;
  /** Vault API: auto = credentials required as soon as a JWT provider or API keys are configured. */
  readonly vaultApi: VaultApiAuthMode;
  /** Detokenize policy file (YAML); undefined: proxy detokenization is refused at load (see docs/security.md). */
  readonly detokenizePolicyFile: string | undefined;
}

/** Rows appended to SETTINGS (index.ts). Kept here beside the code that reads them. */
export const AUTH_SETTINGS = [
  ['PII_GATEWAY_JWT_ISSUER', '', 'JWT bearer auth: required `iss` (e.g. https://sso.example.com/realms/acme). Unset: JWT auth off. Alone (no JWKS URL or keys file): the JWKS URL is read from <issuer>/.well-known/openid-configuration at start. See docs/security.md#authentication-jwt-api-keys.'],
  ['PII_GATEWAY_JWT_AUDIENCE', '', 'Accepted `aud` values, comma-separated (required with an issuer).'],
  ['PII_GATEWAY_JWT_JWKS_URL', '', "JWKS URL (Keycloak: <issuer>/protocol/openid-connect/certs); https, or http to loopback only. Unset with no keys file: OIDC discovery."],
  ['PII_GATEWAY_JWT_KEYS_FILE', '', 'Static verification keys instead of a JWKS URL: a PEM public key, a JWK or a JWKS (JSON) file.'],
  ['PII_GATEWAY_JWT_ALGORITHMS', 'RS256', `Accepted JWS algorithms, comma-separated, from: ${JWT_ALGORITHMS.join(', ')} (never none or HS*).`],
  ['PII_GATEWAY_JWT_CLOCK_SKEW', '30s', 'Clock skew tolerated on exp/nbf (at most 5m).'],
  ['PII_GATEWAY_JWT_REQUIRE_NBF', 'false', 'Refuse tokens without an nbf claim (nbf is always checked when present; Keycloak issues none).'],
  ['PII_GATEWAY_JWT_PERMISSION_CLAIMS', 'scope,realm_access.roles', 'Claim paths holding roles/scopes, comma-separated (a string is split on spaces), e.g. resource_access["pii-gateway"].roles.'],
  ['PII_GATEWAY_JWT_TOKENIZE_ROLES', 'tokenize', 'Role/scope values granting the tokenize permission, comma-separated.'],
  ['PII_GATEWAY_JWT_DETOKENIZE_ROLES', 'detokenize', 'Role/scope values granting the detokenize permission, comma-separated.'],
  ['PII_GATEWAY_JWT_JWKS_COOLDOWN', '30s', 'Least time between two JWKS fetches (an unknown kid refetches once, then is refused until the cooldown ends).'],
  ['PII_GATEWAY_JWT_JWKS_MAX_AGE', '10m', 'JWKS cache lifetime before a refetch.'],
  ['PII_GATEWAY_JWT_JWKS_TIMEOUT', '5s', 'JWKS fetch timeout.'],
  ['PII_GATEWAY_JWT_TOKEN_TYPES', 'at+jwt,keycloak', "Accepted access tokens, comma-separated, from: at+jwt (RFC 9068 typ header), keycloak (typ header JWT with Keycloak's typ: Bearer claim), JWT (any JWT-typed token: Entra ID, Auth0's default profile; weaker, see docs/security.md), absent (no typ header). ID tokens (nonce, at_hash, c_hash, s_hash, a typ claim other than Bearer) are always refused."],
  ['PII_GATEWAY_API_KEYS_FILE', '', "API key hashes ('pii-gateway apikey create' prints the lines); re-read when it changes. Unset: API keys off."],
  ['PII_GATEWAY_VAULT_API_AUTH', 'auto', 'Vault API bearer credentials: auto (required when JWT or API keys are configured), required, none.'],
  ['PII_GATEWAY_DETOKENIZE_POLICY', '', 'Detokenize policy (YAML): token types per destination host and vault API purposes. Unset: proxy routes may not detokenize.'],
] as const;

type Get = (name: (typeof AUTH_SETTINGS)[number][0]) => string;

function invalid(name: string, expected: string): never {
  throw new GatewayError('CONFIG_INVALID', `${name}: ${expected}`);
}

const DURATION_UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000 };

/** `500ms`, `30s`, `10m` (a bare number is seconds) -> milliseconds. */
export function parseDuration(name: string, text: string, maxMs: number): number {
  const m = /^(\d{1,9})\s*(ms|s|m)?$/.exec(text.trim());
  if (!m) invalid(name, 'expected a duration such as 500ms, 30s or 10m');
  const ms = Number(m[1]) * DURATION_UNITS[m[2] ?? 's']!;
  if (ms > maxMs) invalid(name, `expected at most ${maxMs / 1000}s`);
  return ms;
}

/**
 * The values PII_GATEWAY_JWT_TOKEN_TYPES may name (normalized): JOSE `typ` headers, and `keycloak` for a
 * `JWT`-typed token that carries Keycloak's `typ: Bearer` claim. A plain `JWT` header proves nothing (RFC
 * 9068 providers such as oidc-provider sign their ID tokens `typ: JWT`, some without a nonce), so the
 * default accepts it only with that claim.
 */
export const JWT_TOKEN_TYPES = ['at+jwt', 'keycloak', 'jwt', 'absent'] as const;

/** RFC 7515 4.1.9: `typ` is case-insensitive and `application/` may be omitted. */
export function normalizeTyp(typ: string): string {
  const t = typ.trim().toLowerCase();
  return t.startsWith('application/') ? t.slice('application/'.length) : t;
}

const list = (text: string): string[] =>
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');

/** localhost, 127.x.x.x or [::1]: where plain http cannot be intercepted off the host. */
export function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function loadJwtConfig(get: Get, cwd: string): JwtConfig | null {
  const issuer = get('PII_GATEWAY_JWT_ISSUER').trim();
  const jwksText = get('PII_GATEWAY_JWT_JWKS_URL').trim();
  const keysText = get('PII_GATEWAY_JWT_KEYS_FILE').trim();
  const audience = list(get('PII_GATEWAY_JWT_AUDIENCE'));
  if (issuer === '') {
    const stray = [jwksText && 'PII_GATEWAY_JWT_JWKS_URL', keysText && 'PII_GATEWAY_JWT_KEYS_FILE', audience.length > 0 && 'PII_GATEWAY_JWT_AUDIENCE'].find(Boolean);
    if (stray) invalid(stray as string, 'set PII_GATEWAY_JWT_ISSUER as well (JWT auth is off without an issuer)');
    return null;
  }
  if (audience.length === 0) invalid('PII_GATEWAY_JWT_AUDIENCE', 'required with PII_GATEWAY_JWT_ISSUER (a token for another audience must not be accepted)');
  if (jwksText !== '' && keysText !== '') {
    invalid('PII_GATEWAY_JWT_JWKS_URL', 'set at most one of PII_GATEWAY_JWT_JWKS_URL and PII_GATEWAY_JWT_KEYS_FILE');
  }
  let discoveryUrl: URL | undefined;
  if (jwksText === '' && keysText === '') {
    // OIDC Discovery 1.0 section 4: the document is at the issuer with /.well-known/openid-configuration appended.
    let issuerUrl: URL | undefined;
    try {
      issuerUrl = new URL(issuer);
    } catch {
      // reported below
    }
    if (issuerUrl === undefined || (issuerUrl.protocol !== 'https:' && !(issuerUrl.protocol === 'http:' && isLoopbackHost(issuerUrl.hostname)))) {
      invalid('PII_GATEWAY_JWT_ISSUER', 'without PII_GATEWAY_JWT_JWKS_URL or PII_GATEWAY_JWT_KEYS_FILE the issuer must be an https URL (plain http only to loopback) publishing /.well-known/openid-configuration');
    }
    if (issuerUrl.search !== '' || issuerUrl.hash !== '') invalid('PII_GATEWAY_JWT_ISSUER', 'an issuer used for discovery has no query or fragment');
    discoveryUrl = new URL(`${issuer.replace(/\/+$/, '')}/.well-known/openid-configuration`);
  }
  let jwksUrl: URL | undefined;
  if (jwksText !== '') {
    try {
      jwksUrl = new URL(jwksText);
    } catch {
      invalid('PII_GATEWAY_JWT_JWKS_URL', 'expected an absolute URL');
    }
    if (jwksUrl.protocol !== 'https:' && !(jwksUrl.protocol === 'http:' && isLoopbackHost(jwksUrl.hostname))) {
      invalid('PII_GATEWAY_JWT_JWKS_URL', 'expected an https URL (plain http only to loopback): keys fetched in clear text can be swapped');
    }
  }
  const algorithms = list(get('PII_GATEWAY_JWT_ALGORITHMS'));
  if (algorithms.length === 0) invalid('PII_GATEWAY_JWT_ALGORITHMS', 'expected at least one algorithm');
  for (const alg of algorithms) {
    if (!(JWT_ALGORITHMS as readonly string[]).includes(alg)) {
      const why = alg.toLowerCase() === 'none' || /^HS/i.test(alg) ? ' (unsigned and HMAC tokens are never accepted)' : '';
      invalid('PII_GATEWAY_JWT_ALGORITHMS', `'${alg}' is not accepted${why}; expected some of ${JWT_ALGORITHMS.join(', ')}`);
    }
  }
  const claims = list(get('PII_GATEWAY_JWT_PERMISSION_CLAIMS'));
  if (claims.length === 0) invalid('PII_GATEWAY_JWT_PERMISSION_CLAIMS', 'expected at least one claim path');
  const requireNbf = get('PII_GATEWAY_JWT_REQUIRE_NBF');
  if (requireNbf !== 'true' && requireNbf !== 'false') invalid('PII_GATEWAY_JWT_REQUIRE_NBF', 'expected true or false');
  const tokenTypes = list(get('PII_GATEWAY_JWT_TOKEN_TYPES')).map(normalizeTyp);
  if (tokenTypes.length === 0) invalid('PII_GATEWAY_JWT_TOKEN_TYPES', 'expected at least one of at+jwt, keycloak, JWT, absent');
  for (const t of tokenTypes) {
    if (!(JWT_TOKEN_TYPES as readonly string[]).includes(t)) invalid('PII_GATEWAY_JWT_TOKEN_TYPES', `'${t}' is not accepted; expected some of at+jwt, keycloak, JWT, absent (only access tokens are accepted)`);
  }
  return {
    issuer,
    audience,
    jwksUrl,
    discoveryUrl,
    keysFile: keysText === '' ? undefined : path.resolve(cwd, keysText),
    algorithms,
    clockSkewSeconds: parseDuration('PII_GATEWAY_JWT_CLOCK_SKEW', get('PII_GATEWAY_JWT_CLOCK_SKEW'), 300_000) / 1000,
    requireNbf: requireNbf === 'true',
    permissionClaims: claims,
    roles: {
      tokenize: list(get('PII_GATEWAY_JWT_TOKENIZE_ROLES')),
      detokenize: list(get('PII_GATEWAY_JWT_DETOKENIZE_ROLES')),
    },
    jwksCooldownMs: parseDuration('PII_GATEWAY_JWT_JWKS_COOLDOWN', get('PII_GATEWAY_JWT_JWKS_COOLDOWN'), 3_600_000),
    jwksCacheMaxAgeMs: parseDuration('PII_GATEWAY_JWT_JWKS_MAX_AGE', get('PII_GATEWAY_JWT_JWKS_MAX_AGE'), 86_400_000),
    jwksTimeoutMs: parseDuration('PII_GATEWAY_JWT_JWKS_TIMEOUT', get('PII_GATEWAY_JWT_JWKS_TIMEOUT'), 60_000),
    tokenTypes: [...new Set(tokenTypes)],
  };
}

/** Reads the auth rows through `get` (index.ts's defaulting getter); paths resolve against `cwd`. */
export function loadAuthConfig(get: Get, cwd: string): AuthConfig {
  const file = (name: Parameters<Get>[0]): string | undefined => {
    const v = get(name).trim();
    return v === '' ? undefined : path.resolve(cwd, v);
  };
  const vaultApi = get('PII_GATEWAY_VAULT_API_AUTH');
  if (vaultApi !== 'auto' && vaultApi !== 'required' && vaultApi !== 'none') invalid('PII_GATEWAY_VAULT_API_AUTH', 'expected auto, required or none');
  const config: AuthConfig = {
    jwt: loadJwtConfig(get, cwd),
    apiKeysFile: file('PII_GATEWAY_API_KEYS_FILE'),
    vaultApi,
    detokenizePolicyFile: file('PII_GATEWAY_DETOKENIZE_POLICY'),
  };
  if (config.vaultApi === 'required' && config.jwt === null && config.apiKeysFile === undefined) {
    invalid('PII_GATEWAY_VAULT_API_AUTH', 'required, but neither PII_GATEWAY_JWT_ISSUER nor PII_GATEWAY_API_KEYS_FILE is set');
  }
  return config;
}
