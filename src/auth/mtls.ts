/**
 * mTLS enforcement for the hono apps: put the verified client identity on the context once per request,
 * and refuse a request whose identity is not on the route's (or the vault API's) allowlist.
 *
 * Enforcement happens before the body is read, so a client that is not allowed cannot make the gateway
 * buffer, decode or tokenize anything. A missing identity is 401 CLIENT_CERT_REQUIRED; an identity that
 * matches no allowlist entry is 403 CLIENT_NOT_ALLOWED. Messages never name the identity (the log does,
 * as CN and fingerprint only, through the error handler).
 */
import type { HttpBindings } from '@hono/node-server';
import type { Context, MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';
import { identityOfSocket, matchesAny, type ClientIdentity, type ClientMatcher } from './identity.js';

/** Hono variables this module sets: `c.get('clientIdentity')`. */
export type ClientIdentityVariables = { clientIdentity: ClientIdentity | null };

function socketOf(c: Context): unknown {
  return (c.env as Partial<HttpBindings> | undefined)?.incoming?.socket;
}

/** The request's verified client identity (null without one), whether or not the middleware ran. */
export function clientIdentityOf(c: Context): ClientIdentity | null {
  const set = c.get('clientIdentity' as never) as ClientIdentity | null | undefined;
  return set !== undefined ? set : identityOfSocket(socketOf(c));
}

/**
 * Middleware: sets `clientIdentity` (ClientIdentity | null) for handlers. Cheap: the identity is computed
 * once per TLS connection.
 *
 * @example
 *   app.use(clientIdentity());
 *   app.get('/x', (c) => c.text(c.get('clientIdentity')?.cn ?? 'anonymous'));
 */
export function clientIdentity(): MiddlewareHandler {
  return async function clientIdentityMiddleware(c, next) {
    c.set('clientIdentity' as never, identityOfSocket(socketOf(c)) as never);
    await next();
  };
}

/**
 * Refuses unless the request carries a verified client certificate matching one of `allowed`.
 * @throws GatewayError CLIENT_CERT_REQUIRED (401) or CLIENT_NOT_ALLOWED (403)
 */
export function requireClient(c: Context, allowed: readonly ClientMatcher[], what: string): ClientIdentity {
  const identity = clientIdentityOf(c);
  if (identity === null) throw new GatewayError('CLIENT_CERT_REQUIRED', `${what} requires a verified client certificate`);
  if (!matchesAny(identity, allowed)) throw new GatewayError('CLIENT_NOT_ALLOWED', `this client certificate is not allowed for ${what}`);
  return identity;
}

/**
 * Per-route check built once: with no `clients` on the route it does nothing; otherwise it calls
 * requireClient. proxy-app calls the returned function first thing in the route handler.
 *
 * @example
 *   const checkClient = clientGuard(route.clients);  // at app build time
 *   checkClient(c);                                   // per request, before reading the body
 */
export function clientGuard(clients: readonly ClientMatcher[] | undefined): (c: Context) => void {
  if (clients === undefined) return function anyClient() {};
  return function checkClient(c) {
    requireClient(c, clients, 'this route');
  };
}

/** Allowlists per vault API permission; null leaves that permission open to any client the listener accepts. */
export interface VaultApiClients {
  readonly tokenize: readonly ClientMatcher[] | null;
  readonly detokenize: readonly ClientMatcher[] | null;
}

/**
 * The vault API's `authorize` seam (server/vault-api.ts) backed by client-certificate allowlists.
 * `next` runs after a successful check (another authorizer, e.g. JWT scopes later).
 */
export function vaultApiAuthorizer(
  clients: VaultApiClients,
  next?: (c: Context, permission: 'tokenize' | 'detokenize') => void | Promise<void>,
): (c: Context, permission: 'tokenize' | 'detokenize') => void | Promise<void> {
  return function authorizeVaultClient(c, permission) {
    const allowed = clients[permission];
    if (allowed !== null) requireClient(c, allowed, permission);
    return next?.(c, permission);
  };
}

/**
 * Start-up check: a route with `clients:` on a proxy listener that never asks for client certificates
 * would refuse every request; say so at start instead.
 * @throws GatewayError CONFIG_INVALID naming the first such route.
 */
export function assertRouteClientsServable(
  routes: readonly { readonly id: string; readonly clients?: readonly ClientMatcher[] }[],
  listener: { readonly clientAuth: 'none' | 'optional' | 'required' } | null,
): void {
  if (listener !== null && listener.clientAuth !== 'none') return;
  const route = routes.find((r) => r.clients !== undefined);
  if (route !== undefined) {
    throw new GatewayError(
      'CONFIG_INVALID',
      `route ${route.id} restricts clients (clients:), but the proxy listener does not ask for client certificates (set PII_GATEWAY_TLS_CERT, PII_GATEWAY_TLS_KEY and PII_GATEWAY_TLS_CLIENT_CA)`,
    );
  }
}
