/**
 * Who a request authenticated as, and what it may do: the one shape JWT (jwt.ts) and API keys
 * (api-keys.ts) both produce, so routes and the vault API check permissions the same way whatever the
 * credential was. Pure data: no hono, no I/O.
 */
import { GatewayError } from '../errors.js';

/** What a caller may do with PII through the gateway. */
export const PERMISSIONS = ['tokenize', 'detokenize'] as const;
export type Permission = (typeof PERMISSIONS)[number];

/** An authenticated caller. */
export interface Principal {
  readonly kind: 'jwt' | 'apikey';
  /**
   * Stable caller name for logs, audit and the detokenize policy: `jwt:<client>` (azp, else client_id,
   * else sub; see jwt.ts tokenIdentity) or `apikey:<name>`. Always the client, never a user. Never a credential.
   */
  readonly id: string;
  /**
   * JWT only: the user (`sub`) a user-delegated token was issued to through the client `id` names; absent
   * for client-credentials tokens. Never a caller name: the detokenize policy refuses such tokens for
   * detokenization unless a purpose allows users (`users: true`). Not written to the audit trail.
   */
  readonly user?: string;
  readonly permissions: ReadonlySet<Permission>;
}

/** Longest credential read from a header; anything longer is refused before it is parsed. */
export const MAX_CREDENTIAL_LENGTH = 16 * 1024;

/**
 * The credential of an `Authorization`/`Proxy-Authorization` value: only the Bearer scheme (RFC 6750,
 * scheme name case-insensitive) is accepted. Messages never echo the credential.
 * @throws GatewayError AUTH_REQUIRED (no header) or AUTH_INVALID (another scheme, malformed)
 */
export function bearerCredential(header: string | undefined, headerName: string): string {
  if (header === undefined || header.trim() === '') {
    throw new GatewayError('AUTH_REQUIRED', `a bearer credential is required in the ${headerName} header`);
  }
  const m = /^([A-Za-z][A-Za-z0-9!#$%&'*+.^_`|~-]*)[ ]+([A-Za-z0-9\-._~+/]+=*)[ ]*$/.exec(header);
  if (!m) throw new GatewayError('AUTH_INVALID', `the ${headerName} header is malformed (expected: Bearer <credential>)`);
  if (m[1]!.toLowerCase() !== 'bearer') {
    throw new GatewayError('AUTH_INVALID', `only the Bearer scheme is accepted in the ${headerName} header`);
  }
  if (m[2]!.length > MAX_CREDENTIAL_LENGTH) throw new GatewayError('AUTH_INVALID', 'the bearer credential is too long');
  return m[2]!;
}

/**
 * Refuses unless `principal` holds every permission in `required`.
 * @throws GatewayError FORBIDDEN (403), naming the missing permission (never the caller's credential)
 */
export function requirePermissions(principal: Principal, required: readonly Permission[], what: string): void {
  for (const p of required) {
    if (!principal.permissions.has(p)) throw new GatewayError('FORBIDDEN', `${what} requires the '${p}' permission`);
  }
}
