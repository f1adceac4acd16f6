/**
 * One error handler, one envelope:
 *
 *   {"error":{"code":"VAULT_UNAVAILABLE","message":"...","requestId":"...","field":"$.d[0].Email"}}
 *
 * 4xx messages are ours and name at most a JSON path; 5xx bodies carry a fixed public message per code and
 * nothing internal (no hosts, no driver messages). The detail goes to the log through errorFields(), which
 * is PII-safe as well.
 */
import type { Context } from 'hono';
import { identityLogFields, type ClientIdentity } from '../auth/identity.js';
import { GatewayError, isGatewayError, type ErrorCode } from '../errors.js';
import { errorFields, type Logger } from '../observability/logger.js';

const PUBLIC_5XX: Partial<Record<ErrorCode, string>> = {
  VAULT_UNAVAILABLE: 'the token vault is unavailable; the request was not forwarded',
  AUDIT_UNAVAILABLE: 'the audit log is unavailable; nothing was resolved or changed, and the request was not forwarded',
  UPSTREAM_UNAVAILABLE: 'the upstream could not be reached',
  UPSTREAM_TIMEOUT: 'the upstream did not answer in time',
  UPSTREAM_RESPONSE_INVALID: 'the upstream response could not be processed; it was not returned',
  NOT_READY: 'the gateway is not ready',
};

export interface ErrorBody {
  error: { code: string; message: string; requestId: string; field?: string };
}

/** Builds the envelope for any thrown value. */
export function errorEnvelope(err: unknown, requestId: string): { status: number; body: ErrorBody } {
  const e: GatewayError = isGatewayError(err) ? err : new GatewayError('INTERNAL', 'internal error');
  const message = e.status >= 500 ? (PUBLIC_5XX[e.code] ?? 'internal error') : e.message;
  const body: ErrorBody = { error: { code: e.status >= 500 && !PUBLIC_5XX[e.code] ? 'INTERNAL' : e.code, message, requestId } };
  if (e.field !== undefined && e.status < 500) body.error.field = e.field;
  return { status: e.status, body };
}

/**
 * The hono `onError` handler for every listener.
 *
 * @example
 *   app.onError(errorHandler(log));
 */
export function errorHandler(log: Logger) {
  return function onGatewayError(err: Error, c: Context): Response {
    const requestId = (c.get('requestId' as never) as string | undefined) ?? 'unknown';
    const { status, body } = errorEnvelope(err, requestId);
    const client = identityLogFields((c.get('clientIdentity' as never) as ClientIdentity | null | undefined) ?? null);
    const fields = { requestId, route: c.get('routeId' as never) as string | undefined, client, ...errorFields(err) };
    if (status >= 500) log.error(fields, 'request failed');
    else log.warn(fields, 'request refused');
    return c.json(body, status as 400);
  };
}
