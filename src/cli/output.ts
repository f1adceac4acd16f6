/**
 * How commands report errors to a person: our errors by code and message (they never carry values), rule
 * errors one per line as file:line:column, anything else as a short line without a stack trace.
 */
import { isGatewayError } from '../errors.js';

export function printStartupError(err: unknown): void {
  const issues = (err as { errors?: unknown }).errors;
  if ((err as { code?: unknown }).code === 'RULES_INVALID' && Array.isArray(issues)) {
    console.error(String((err as Error).message));
    return;
  }
  if (isGatewayError(err)) {
    console.error(`pii-gateway: ${err.code}: ${err.message}`);
    return;
  }
  const e = err as { code?: string; name?: string };
  if (e.code === 'EADDRINUSE') {
    console.error('pii-gateway: a listen address is already in use (set PII_GATEWAY_LISTEN / _ADMIN_LISTEN / _VAULT_API_LISTEN)');
    return;
  }
  console.error(`pii-gateway: failed to start (${e.name ?? 'Error'}${e.code ? ` ${e.code}` : ''})`);
}
