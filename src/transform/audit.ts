/**
 * The audit hook of the transform engine: what it reports when tokens are resolved to PII.
 *
 * Detokenizing is the moment PII leaves the vault, so every resolution is reported before the edits that
 * release it are applied, and a failing audit sink fails the request (fail closed: no PII without an audit
 * record). Events carry no values and no tokens: a token is named by a keyed fingerprint, so an audit log can
 * be correlated with the vault (the same token always gives the same fingerprint) without becoming a
 * second token list that could be replayed against the gateway.
 */
import { hmacSha256 } from '../crypto/hmac.js';

/** One detokenized field (found in the vault or not). No value, no token. */
export interface DetokenizeAuditEvent {
  /** Where the token was, e.g. `$.to`, `query:To`, `header:x-user`, `ContentVariables$.1`. */
  readonly path: string;
  /** Token type: the vault's answer when found, else the type the token was recognized as. */
  readonly tokenType: string;
  /** False when the vault did not know the token (the field's unknownToken policy then applies). */
  readonly found: boolean;
  /** {@link auditFingerprint} of the token. */
  readonly tokenFingerprint: string;
}

/** Who asked: passed through to the audit hook untouched. */
export interface TransformContext {
  readonly requestId?: string;
  readonly routeId?: string;
  readonly side?: 'request' | 'response';
  /** Caller identity (mTLS/JWT subject), when the proxy knows one. */
  readonly caller?: string | null;
}

/**
 * Receives the events of one direction of one request, once, after the detokenize batch and before any
 * resolved value is written into the message. A rejection fails the transform.
 */
export interface AuditHook {
  detokenized(events: readonly DetokenizeAuditEvent[], ctx?: TransformContext): Promise<void>;
}

/** Length of an audit fingerprint in hex digits (128 bits). */
export const AUDIT_FINGERPRINT_HEX = 32;

/**
 * Keyed fingerprint of a token for audit records: hex HMAC-SHA256(fingerprintKey, 'audit', namespace, token),
 * truncated to 32 hex digits. The 'audit' label keeps it apart from the vault's value fingerprints made
 * with the same key.
 *
 * @example
 *   auditFingerprint(keyring.fingerprintKey, 'twilio', '+14155550123') // '3f9c...' (32 hex digits)
 */
export function auditFingerprint(fingerprintKey: Buffer, namespace: string, token: string): string {
  return hmacSha256(fingerprintKey, 'audit', namespace, token).toString('hex').slice(0, AUDIT_FINGERPRINT_HEX);
}
