/**
 * Meta (WhatsApp Cloud API, Messenger, Instagram) webhook signatures
 * (https://developers.facebook.com/docs/graph-api/webhooks/getting-started#validate-payloads):
 *
 *   X-Hub-Signature-256: sha256=<hex HMAC-SHA256(app secret, raw body bytes)>
 *
 * No timestamp, so no replay window: a captured delivery verifies forever (Meta's design); the platform
 * de-duplicates on message/status ids. The legacy SHA-1 `X-Hub-Signature` is not checked, and is dropped on
 * re-signing because it no longer matches the rewritten body.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { requireHeader, signaturesEqual } from './check.js';
import type { ResignSpec, SignedRequest, VerifySpec } from './types.js';

export const META_SIGNATURE_HEADER = 'x-hub-signature-256';
/** The SHA-1 header Meta still sends beside the SHA-256 one. */
export const META_LEGACY_SIGNATURE_HEADER = 'x-hub-signature';

/**
 * The X-Hub-Signature-256 value for `body`.
 *
 * @example
 *   metaSignature(appSecret, rawBody) // 'sha256=5f1c...'
 */
export function metaSignature(appSecret: string | KeyObject, body: Buffer): string {
  return `sha256=${createHmac('sha256', appSecret).update(body).digest('hex')}`;
}

/** Checks X-Hub-Signature-256 on the raw body. Throws SIGNATURE_MISSING / SIGNATURE_INVALID. */
export function verifyMeta(spec: Extract<VerifySpec, { scheme: 'meta' }>, req: SignedRequest): void {
  const received = requireHeader(req.headers, META_SIGNATURE_HEADER, 'meta');
  // Hex digits compare case-insensitively; the 'sha256=' prefix must be there as written.
  const normalized = received.startsWith('sha256=') ? `sha256=${received.slice(7).toLowerCase()}` : received;
  if (!signaturesEqual(normalized, metaSignature(spec.secret, req.body))) {
    throw new GatewayError('SIGNATURE_INVALID', 'meta signature: X-Hub-Signature-256 does not match');
  }
}

/** Signs the forwarded body with the next hop's app secret; the stale SHA-1 header is removed (null). */
export function resignMeta(spec: Extract<ResignSpec, { scheme: 'meta' }>, req: SignedRequest): Record<string, string | null> {
  return { [META_SIGNATURE_HEADER]: metaSignature(spec.secret, req.body), [META_LEGACY_SIGNATURE_HEADER]: null };
}
