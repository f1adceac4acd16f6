/**
 * JWT bearer verification (jose): the signature against pinned asymmetric algorithms and keys from a
 * JWKS URL (Keycloak's `/realms/<r>/protocol/openid-connect/certs`) or a static key file; then `iss`,
 * `aud`, `exp` (always required), `nbf` (checked when present, optionally required) with a bounded clock
 * skew; then roles/scopes at configurable claim paths mapped to the gateway's permissions.
 *
 * Why each refusal holds:
 * - `alg: none` and HS* are not in the pinned list (config/auth.ts refuses them), so jose rejects the
 *   token before any key is used: a public key can never be used as an HMAC secret.
 * - JWKS: jose's createRemoteJWKSet caches the set (max age), and on an unknown `kid` refetches once when
 *   the last fetch is older than the cooldown, then refuses; within the cooldown it refuses without a
 *   fetch, so a flood of made-up kids cannot make the gateway hammer the identity provider. Key rotation
 *   works because a new kid triggers that one refetch.
 * - Only access tokens (RFC 9068 section 4): the JOSE `typ` header must be one PII_GATEWAY_JWT_TOKEN_TYPES
 *   accepts, and a token that is an ID token by its claims (`nonce`, `at_hash`, `c_hash`, `s_hash`, or a
 *   Keycloak `typ` claim other than `Bearer`, e.g. `ID`) is refused whatever its header says: an ID token
 *   whose audience is the gateway's client id would otherwise pass every other check.
 * - The caller is the client (tokenIdentity): `azp`, then `client_id`; `sub` only when nothing else names
 *   the client or the token is a client-credentials token by its claims. A user's token through a client is
 *   named after the client and carries the user separately (Principal.user), so a user whose `sub` equals
 *   a client name is never that client.
 * - Errors name the reason (expired, audience, ...) and never echo the token or its claims.
 */
import { createPublicKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createLocalJWKSet, createRemoteJWKSet, jwtVerify, type JSONWebKeySet, type JWK, type JWTPayload, type JWTVerifyGetKey } from 'jose';
import { normalizeTyp, type JwtConfig } from '../config/auth.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { Permission, Principal } from './principal.js';

export interface JwtVerifier {
  /** Verifies a compact JWS and returns the caller; throws AUTH_INVALID (401) otherwise. */
  verify(token: string): Promise<Principal>;
}

/** One step of a claim path: a key. */
type ClaimPath = readonly string[];

/**
 * Parses `realm_access.roles` or `resource_access["pii.gateway"].roles` (brackets for keys with dots).
 * @throws GatewayError CONFIG_INVALID naming the setting
 */
export function parseClaimPath(text: string): ClaimPath {
  const out: string[] = [];
  let rest = text;
  while (rest.length > 0) {
    const m = /^(?:([A-Za-z0-9_$:-]+)|\["([^"\]]+)"\])/.exec(rest);
    if (!m) throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_PERMISSION_CLAIMS: cannot read claim path '${text}' (expected e.g. realm_access.roles or resource_access["my.client"].roles)`);
    out.push(m[1] ?? m[2]!);
    rest = rest.slice(m[0].length);
    if (rest.startsWith('.')) {
      rest = rest.slice(1);
      if (rest === '') throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_PERMISSION_CLAIMS: claim path '${text}' ends with '.'`);
    } else if (rest !== '' && !rest.startsWith('[')) {
      throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_PERMISSION_CLAIMS: cannot read claim path '${text}'`);
    }
  }
  return Object.freeze(out);
}

/** The strings at `path` in the payload: an array's strings, or a space-separated string's words (OAuth `scope`). */
export function claimValues(payload: JWTPayload, path: ClaimPath): string[] {
  let at: unknown = payload;
  for (const key of path) {
    if (at === null || typeof at !== 'object' || Array.isArray(at) || !Object.hasOwn(at, key)) return [];
    at = (at as Record<string, unknown>)[key];
  }
  if (typeof at === 'string') return at.split(' ').filter((s) => s !== '');
  if (Array.isArray(at)) return at.filter((v): v is string => typeof v === 'string');
  return [];
}

/** Reads a static key file: a PEM public key (or certificate), a JWK, or a JWKS. Secret keys are refused. */
function staticKeys(file: string): JWTVerifyGetKey | KeyObject {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_KEYS_FILE: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  const bad = (why: string): never => {
    throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_KEYS_FILE: ${file}: ${why}`);
  };
  if (text.trimStart().startsWith('-----BEGIN')) {
    if (/PRIVATE KEY-----/.test(text)) bad('holds a private key; give the public key only');
    try {
      return createPublicKey(text);
    } catch {
      return bad('not a PEM public key or certificate');
    }
  }
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    return bad('expected a PEM public key, a JWK or a JWKS (JSON)');
  }
  const keys: JWK[] = Array.isArray((json as JSONWebKeySet).keys) ? (json as JSONWebKeySet).keys : [json as JWK];
  if (keys.length === 0) bad('the key set is empty');
  for (const k of keys) {
    if (typeof k !== 'object' || k === null || typeof k.kty !== 'string') bad('a key has no kty');
    if (k.kty === 'oct') bad('symmetric (oct) keys are not accepted: HMAC tokens are never verified');
    if ('d' in k) bad('holds a private key; give the public keys only');
  }
  return createLocalJWKSet({ keys });
}

const REASONS: Record<string, string> = {
  ERR_JWT_EXPIRED: 'the bearer token has expired',
  ERR_JOSE_ALG_NOT_ALLOWED: "the bearer token's algorithm is not accepted",
  ERR_JWS_SIGNATURE_VERIFICATION_FAILED: "the bearer token's signature does not verify",
  ERR_JWKS_NO_MATCHING_KEY: "no verification key matches the bearer token's key id",
  ERR_JWKS_MULTIPLE_MATCHING_KEYS: "several verification keys match the bearer token's key id",
  ERR_JWS_INVALID: 'the bearer token is not a valid JWS',
  ERR_JWT_INVALID: 'the bearer token is not a valid JWT',
  ERR_JOSE_NOT_SUPPORTED: "the bearer token's algorithm or key is not supported",
};

function claimReason(claim: string, reason: string): string {
  if (claim === 'nbf') return reason === 'missing' ? 'the bearer token has no nbf claim' : 'the bearer token is not valid yet';
  if (claim === 'iss') return "the bearer token's issuer is not accepted";
  if (claim === 'aud') return "the bearer token's audience is not accepted";
  if (claim === 'exp') return 'the bearer token has no exp claim';
  if (claim === 'iat') return "the bearer token's iat claim is not valid";
  return `the bearer token's ${claim} claim is not valid`;
}

const nonEmpty = (v: unknown): string | undefined => (typeof v === 'string' && v !== '' ? v : undefined);

/**
 * Why `payload`/`typ` is not an access token this gateway accepts, or undefined when it is one.
 * `accepted` holds normalized `typ` values (`at+jwt`, `jwt`, `absent`). Messages never carry claim values.
 */
export function notAnAccessToken(typ: unknown, payload: JWTPayload, accepted: readonly string[]): string | undefined {
  const claimTyp = payload.typ;
  if (claimTyp === 'ID' || claimTyp === 'id') return 'an ID token is not an access token (its typ claim is ID)';
  for (const claim of ['nonce', 'at_hash', 'c_hash', 's_hash']) {
    if (Object.hasOwn(payload, claim)) return `an ID token is not an access token (it carries ${claim})`;
  }
  // Keycloak marks its tokens: access tokens `Bearer`; `Refresh`, `Offline`, `Logout` ... are not access tokens.
  if (claimTyp !== undefined && (typeof claimTyp !== 'string' || claimTyp.toLowerCase() !== 'bearer')) {
    return "the bearer token's typ claim does not mark an access token (expected Bearer)";
  }
  const header = typ === undefined ? 'absent' : typeof typ === 'string' ? normalizeTyp(typ) : '';
  // `keycloak`: Keycloak's access tokens are typed JWT like its ID tokens; its `typ: Bearer` claim tells them apart.
  const keycloakBearer = header === 'jwt' && accepted.includes('keycloak') && typeof claimTyp === 'string' && claimTyp.toLowerCase() === 'bearer';
  if (!accepted.includes(header) && !keycloakBearer) {
    const shown = accepted.map((t) => (t === 'jwt' ? 'JWT' : t === 'keycloak' ? "JWT with Keycloak's typ: Bearer claim" : t)).join(', ');
    if (header === 'absent') return `the bearer token has no typ header (accepted: ${shown}; PII_GATEWAY_JWT_TOKEN_TYPES)`;
    return `the bearer token's typ header is not an accepted access token type (accepted: ${shown}; PII_GATEWAY_JWT_TOKEN_TYPES)`;
  }
  return undefined;
}

/** Who a verified token speaks for: the client, and the user when a user obtained it through that client. */
export interface TokenIdentity {
  readonly client: string;
  /** The user's `sub` for a user-delegated token; undefined for a client-credentials token. */
  readonly user: string | undefined;
}

/**
 * The caller of a verified token is its client: `azp`, else `client_id` (RFC 9068), else `cid` (Okta) or
 * `appid` (Entra ID v1). A token with no such claim is named by its `sub` but counts as a user's token
 * (nothing proves otherwise). `sub` is the client only for a client-credentials token by its claims:
 * - `sub` equal to the client id (RFC 9068 section 2.2, oidc-provider; Okta with `cid`);
 * - Keycloak service accounts: `preferred_username` `service-account-<client>` together with the
 *   `client_id` (Keycloak 22+) or `clientId` (older) claim equal to the client; Keycloak writes that claim
 *   from the session of a client-credentials grant only, never for a user's login;
 * - Auth0: `sub` `<client>@clients` with `gty` `client-credentials`.
 * Anything else with a `sub` different from the client is a user's token through that client: named after
 * the client, with the user apart. Unrecognized client-credentials shapes therefore fail closed (treated as
 * user-delegated, refused for detokenize unless a purpose allows users).
 */
export function tokenIdentity(payload: JWTPayload): TokenIdentity {
  const sub = nonEmpty(payload.sub);
  // Okta names the client `cid`, Entra ID v1 tokens `appid`: without them their users would be named by `sub`.
  const client = nonEmpty(payload.azp) ?? nonEmpty(payload.client_id) ?? nonEmpty(payload.cid) ?? nonEmpty(payload.appid);
  // No claim names a client: nothing proves this is not a user's token (RFC 9068 access tokens always carry
  // client_id, Keycloak's azp). Named by its sub, but marked as a user's, so detokenize refuses it (fail closed).
  if (client === undefined) return { client: sub ?? 'unknown', user: sub ?? 'unknown' };
  if (sub === undefined || sub === client) return { client, user: undefined };
  const clientClaim = nonEmpty(payload.client_id) ?? nonEmpty(payload.clientId);
  if (payload.preferred_username === `service-account-${client}` && clientClaim === client) return { client, user: undefined };
  if (payload.gty === 'client-credentials' && sub === `${client}@clients`) return { client, user: undefined };
  return { client, user: sub };
}

/**
 * Builds the verifier once (the JWKS cache lives in it). `log` receives why verification failed in a
 * way the caller cannot see (JWKS unreachable), never the token.
 *
 * @example
 *   const jwt = createJwtVerifier(config.auth.jwt!, log);
 *   const principal = await jwt.verify(token); // { kind: 'jwt', id: 'jwt:dispatcher', permissions }
 */
export function createJwtVerifier(config: JwtConfig, log?: Logger): JwtVerifier {
  if (config.jwksUrl === undefined && config.keysFile === undefined) {
    // Discovery (auth/oidc-discovery.ts resolveJwtDiscovery) fills jwksUrl in before this is called.
    throw new GatewayError('CONFIG_INVALID', 'PII_GATEWAY_JWT_JWKS_URL: no JWKS URL or keys file (OIDC discovery was not resolved)');
  }
  const key: JWTVerifyGetKey | KeyObject =
    config.jwksUrl !== undefined
      ? createRemoteJWKSet(config.jwksUrl, {
          cooldownDuration: config.jwksCooldownMs,
          cacheMaxAge: config.jwksCacheMaxAgeMs,
          timeoutDuration: config.jwksTimeoutMs,
        })
      : staticKeys(config.keysFile!);
  const paths = config.permissionClaims.map(parseClaimPath);
  const grants: [Permission, ReadonlySet<string>][] = [
    ['tokenize', new Set(config.roles.tokenize)],
    ['detokenize', new Set(config.roles.detokenize)],
  ];
  const options = {
    issuer: config.issuer,
    audience: [...config.audience],
    algorithms: [...config.algorithms],
    clockTolerance: config.clockSkewSeconds,
    requiredClaims: ['iss', 'aud', 'exp', ...(config.requireNbf ? ['nbf'] : [])],
  };

  return {
    async verify(token) {
      let payload: JWTPayload;
      let typ: unknown;
      try {
        // The overloads differ only in the key's type; both are valid here.
        let protectedHeader: { typ?: unknown };
        ({ payload, protectedHeader } = typeof key === 'function' ? await jwtVerify(token, key, options) : await jwtVerify(token, key, options));
        typ = protectedHeader.typ;
      } catch (err) {
        const code = (err as { code?: unknown }).code;
        let reason = typeof code === 'string' ? REASONS[code] : undefined;
        if (code === 'ERR_JWT_CLAIM_VALIDATION_FAILED') {
          const e = err as { claim?: string; reason?: string };
          reason = claimReason(e.claim ?? '', e.reason ?? '');
        }
        if (reason === undefined) {
          // JWKS unreachable or malformed, timeouts: the caller learns only that verification failed.
          log?.warn({ jwtError: typeof code === 'string' ? code : (err as Error).name }, 'bearer token could not be verified');
          reason = 'the bearer token could not be verified';
        }
        throw new GatewayError('AUTH_INVALID', reason);
      }
      const refused = notAnAccessToken(typ, payload, config.tokenTypes);
      if (refused !== undefined) throw new GatewayError('AUTH_INVALID', refused);
      const values = new Set<string>();
      for (const p of paths) for (const v of claimValues(payload, p)) values.add(v);
      const permissions = new Set<Permission>();
      for (const [permission, granting] of grants) {
        for (const v of granting) if (values.has(v)) permissions.add(permission);
      }
      const { client, user } = tokenIdentity(payload);
      return Object.freeze({ kind: 'jwt', id: `jwt:${client}`, permissions, ...(user !== undefined ? { user } : {}) });
    },
  };
}
