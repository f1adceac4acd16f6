/**
 * Caller authentication for the hono apps: bearer credentials (JWT or API key) -> Principal -> permission
 * checks, for proxy routes (`auth:` in rule files) and for the vault API's `authorize` seam; plus the
 * detokenize policy's request-time checks (purpose for the vault API, destination for proxy routes).
 *
 * Where the credential is read:
 * - vault API: `Authorization: Bearer <jwt | pgk_ API key>` (what CleverTap's dispatcher sends);
 * - proxy routes: `Proxy-Authorization: Bearer ...`. `Authorization` belongs to the upstream (Twilio's
 *   basic auth, a platform's API key) and is forwarded untouched; Proxy-Authorization is hop-by-hop and is
 *   never forwarded (proxy/headers.ts), so the gateway credential never reaches a third party.
 *
 * Checks run before a byte of the body is read. 401 AUTH_REQUIRED / AUTH_INVALID, 403 FORBIDDEN; messages
 * never echo a credential. The principal is put on the context (`principal`) for logs and the audit trail.
 */
import type { Context } from 'hono';
import type { AuthConfig } from '../config/auth.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import type { CompiledRoute } from '../rules/types.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from '../vault/interface.js';
import { firstDetokenizeField } from '../rules/compile-auth.js';
import { ApiKeyStore, looksLikeApiKey } from './api-keys.js';
import { checkPurpose, checkRelease, USER_TOKEN_REFUSED, type DetokenizePolicy } from './detokenize-policy.js';
import { createJwtVerifier, type JwtVerifier } from './jwt.js';
import { clientIdentityOf } from './mtls.js';
import { bearerCredential, requirePermissions, type Permission, type Principal } from './principal.js';

/** The configured credential verifiers (built once at start-up); null when not configured. */
export interface Authenticators {
  readonly jwt: JwtVerifier | null;
  readonly apiKeys: ApiKeyStore | null;
}

export const NO_AUTHENTICATORS: Authenticators = Object.freeze({ jwt: null, apiKeys: null });

/** Hono variables this module sets: `c.get('principal')`. */
export type PrincipalVariables = { principal: Principal | null };

/** The authenticated caller of this request, or null. */
export function principalOf(c: Context): Principal | null {
  return (c.get('principal' as never) as Principal | null | undefined) ?? null;
}

/**
 * Every name the caller is known by, for the detokenize policy's `callers`: the principal (`jwt:...`,
 * `apikey:...`) and the verified mTLS identity (`cn:<CN>`, `fingerprint:sha256:...`).
 */
export function callerNames(c: Context): string[] {
  const names: string[] = [];
  const p = principalOf(c);
  if (p !== null) names.push(p.id);
  const id = clientIdentityOf(c);
  if (id !== null) {
    if (id.cn !== undefined) names.push(`cn:${id.cn}`);
    names.push(`fingerprint:${id.fingerprint}`);
  }
  return names;
}

/**
 * Verifies one bearer header value with the accepted verifiers.
 * @throws GatewayError AUTH_REQUIRED / AUTH_INVALID
 */
export async function authenticate(
  header: string | undefined,
  headerName: string,
  accept: { readonly jwt: boolean; readonly apiKey: boolean },
  auth: Authenticators,
): Promise<Principal> {
  const credential = bearerCredential(header, headerName);
  if (looksLikeApiKey(credential)) {
    if (!accept.apiKey || auth.apiKeys === null) throw new GatewayError('AUTH_INVALID', 'API keys are not accepted here');
    return auth.apiKeys.authenticate(credential);
  }
  if (!accept.jwt || auth.jwt === null) throw new GatewayError('AUTH_INVALID', 'JWT bearer tokens are not accepted here');
  return auth.jwt.verify(credential);
}

function single(v: string | string[] | undefined): string | undefined {
  if (Array.isArray(v)) {
    if (v.length > 1) throw new GatewayError('AUTH_INVALID', 'more than one credential header');
    return v[0];
  }
  return v;
}

/**
 * Why a route cannot be served with this deployment's settings, or undefined when it can: its `auth:`
 * names a provider that is not configured, or it detokenizes and no detokenize policy exists (`policy`
 * null; undefined skips that check). The proxy keeps such a route disabled (it answers 404 with the reason)
 * and warns at start-up, so the quick start runs with dispatch packs it has not configured yet; a rule that
 * contradicts an existing policy is a load error instead (rules/check-detokenize.ts).
 */
export function routeUnavailable(route: CompiledRoute, auth: Authenticators, policy: DetokenizePolicy | null | undefined): string | undefined {
  const spec = route.auth;
  if (spec?.kind === 'credentials') {
    const missing: string[] = [];
    if (spec.jwt !== null && auth.jwt === null) missing.push(`a JWT provider for auth: { jwt: ${spec.jwt} } (PII_GATEWAY_JWT_ISSUER, _AUDIENCE, _JWKS_URL or _KEYS_FILE)`);
    if (spec.apiKey && auth.apiKeys === null) missing.push('API keys for auth: { apiKey: true } (PII_GATEWAY_API_KEYS_FILE)');
    // One accepted credential kind is enough to serve the route.
    if (missing.length > 0 && missing.length === (spec.jwt !== null ? 1 : 0) + (spec.apiKey ? 1 : 0)) return `it needs ${missing.join(' or ')}`;
  }
  if (policy === null && (firstDetokenizeField(route.request) ?? firstDetokenizeField(route.response)) !== undefined) {
    return 'it detokenizes and no detokenize policy is configured (PII_GATEWAY_DETOKENIZE_POLICY)';
  }
  return undefined;
}

/**
 * The per-route guard, built once per route at app build time. Without `auth:` (or with `auth: none`) it
 * does nothing. Build it only for a route routeUnavailable() accepts; credential kinds of the route that
 * are not configured are not accepted.
 *
 * @example
 *   const checkAuth = routeAuthGuard(route, authenticators);   // build time
 *   await checkAuth(c);                                         // per request, before the body
 * @throws GatewayError CONFIG_INVALID (at build time) naming the route's file:line
 */
export function routeAuthGuard(route: CompiledRoute, auth: Authenticators): (c: Context) => Promise<void> {
  const spec = route.auth;
  if (spec === undefined || spec.kind === 'none') return async function noRouteAuth() {};
  const accept = { jwt: spec.jwt !== null && auth.jwt !== null, apiKey: spec.apiKey && auth.apiKeys !== null };
  if (!accept.jwt && !accept.apiKey) {
    throw new GatewayError('CONFIG_INVALID', `${route.origin}: route ${route.id}: ${routeUnavailable(route, auth, undefined) ?? 'no credential kind is configured'}`);
  }
  const required = spec.require;
  return async function checkRouteAuth(c) {
    const header = single(c.env?.incoming?.headers?.['proxy-authorization'] as string | string[] | undefined);
    const principal = await authenticate(header, 'Proxy-Authorization', accept, auth);
    c.set('principal' as never, principal as never);
    requirePermissions(principal, required, 'this route');
    // Proxy routes have no purpose to opt in with: a user's token never detokenizes here.
    if (required.includes('detokenize') && principal.user !== undefined) throw new GatewayError('FORBIDDEN', USER_TOKEN_REFUSED);
  };
}

type Authorize = (c: Context, permission: Permission) => void | Promise<void>;

/**
 * The vault API's `authorize` seam for bearer credentials: `Authorization: Bearer <jwt | API key>`, and the
 * permission (`tokenize` / `detokenize`) the endpoint needs. `next` runs after a successful check, so this
 * composes with the mTLS authorizer (auth/mtls.ts vaultApiAuthorizer) either way round.
 */
export function vaultApiCredentialAuthorizer(auth: Authenticators, next?: Authorize): Authorize {
  const accept = { jwt: auth.jwt !== null, apiKey: auth.apiKeys !== null };
  return async function authorizeVaultCredential(c, permission) {
    const header = single(c.req.raw.headers.get('authorization') ?? undefined);
    const principal = await authenticate(header, 'Authorization', accept, auth);
    c.set('principal' as never, principal as never);
    requirePermissions(principal, [permission], permission);
    await next?.(c, permission);
  };
}

/** Runs authorizers in order; undefined entries are skipped. */
export function chainAuthorizers(...authorizers: (Authorize | undefined)[]): Authorize | undefined {
  const list = authorizers.filter((a): a is Authorize => a !== undefined);
  if (list.length === 0) return undefined;
  return async function authorizeAll(c, permission) {
    for (const a of list) await a(c, permission);
  };
}

/**
 * The vault API's release check: with a policy, a stated purpose, a caller listed for it, and only the
 * types it allows; without one, nothing more than the detokenize permission (see docs/security.md). A
 * user-delegated JWT (Principal.user) is refused unless its purpose allows users, so always without purposes.
 */
export function vaultApiReleaseCheck(policy: DetokenizePolicy | null) {
  return function checkVaultRelease(c: Context, purpose: string | undefined, types: readonly string[]): void {
    const userToken = principalOf(c)?.user !== undefined;
    if (policy === null || policy.purposes === null) {
      if (userToken) throw new GatewayError('FORBIDDEN', USER_TOKEN_REFUSED);
      return;
    }
    checkPurpose({ ...policy, purposes: policy.purposes }, purpose, callerNames(c), types, userToken);
  };
}

/**
 * A vault decorator for one direction of one proxy route: detokenize refuses (403, nothing released) when a
 * resolved type may not go where this direction sends it, toward `host` (request side) or back to the
 * caller (response side). The load-time check covers declared types; this covers undeclared ones, and every
 * place the engine detokenizes (body, query, headers, nested documents) alike.
 */
export class ReleaseGuardedVault implements Vault {
  constructor(
    private readonly inner: Vault,
    private readonly policy: DetokenizePolicy | null,
    private readonly side: 'request' | 'response',
    private readonly host: string,
  ) {}

  tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    return this.inner.tokenize(items);
  }

  async detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    const results = await this.inner.detokenize(items);
    checkRelease(this.policy, this.side, this.host, results.flatMap((r) => (r.found ? [r.type] : [])));
    return results;
  }

  delete(items: readonly DeleteItem[]): Promise<number> {
    return this.inner.delete(items);
  }

  ping(): Promise<void> {
    return this.inner.ping();
  }

  /** The route does not own the vault: closing is the gateway's job. */
  async close(): Promise<void> {}
}

/**
 * Builds the verifiers the settings ask for (start-up only): the JWKS cache and the API key file live in
 * the returned objects.
 * @throws GatewayError CONFIG_INVALID (unreadable key files, bad claim paths)
 */
export function buildAuthenticators(config: AuthConfig, log?: Logger): Authenticators {
  return Object.freeze({
    jwt: config.jwt === null ? null : createJwtVerifier(config.jwt, log),
    apiKeys: config.apiKeysFile === undefined ? null : new ApiKeyStore(config.apiKeysFile, log),
  });
}

/**
 * The vault API's credential authorizer as the settings ask for it (undefined: none). `auto` requires a
 * bearer credential as soon as a JWT provider or API keys exist. A vault API listening beyond loopback
 * with neither bearer credentials nor an mTLS detokenize allowlist is refused at start-up unless
 * PII_GATEWAY_VAULT_API_AUTH=none says so explicitly: whoever reaches it could resolve every token.
 * @throws GatewayError CONFIG_INVALID
 */
export function vaultApiCredentials(
  config: AuthConfig,
  listen: { readonly host: string },
  detokenizeClients: readonly unknown[] | null,
  auth: Authenticators,
): Authorize | undefined {
  const configured = auth.jwt !== null || auth.apiKeys !== null;
  const required = config.vaultApi === 'required' || (config.vaultApi === 'auto' && configured);
  if (!required && config.vaultApi === 'auto' && detokenizeClients === null && !isLoopbackListen(listen.host)) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `PII_GATEWAY_VAULT_API_LISTEN: the vault API listens on ${listen.host} with no caller authentication; configure JWT (PII_GATEWAY_JWT_*), API keys (PII_GATEWAY_API_KEYS_FILE) or an mTLS allowlist (PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS), or set PII_GATEWAY_VAULT_API_AUTH=none to accept that anyone who reaches it can detokenize`,
    );
  }
  return required ? vaultApiCredentialAuthorizer(auth) : undefined;
}

function isLoopbackListen(host: string): boolean {
  return host === 'localhost' || host === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(host);
}
