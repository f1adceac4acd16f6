/**
 * SendGrid Signed Event Webhook (https://www.twilio.com/docs/sendgrid/for-developers/tracking-events/getting-started-event-webhook-security-features):
 * ECDSA P-256 with SHA-256 over `timestamp + raw body`, where
 *
 *   X-Twilio-Email-Event-Webhook-Timestamp: <unix seconds>
 *   X-Twilio-Email-Event-Webhook-Signature: <base64 DER ECDSA signature>
 *
 * and the verification key is the base64 DER SubjectPublicKeyInfo that SendGrid shows for the webhook.
 *
 * Asymmetric: the gateway can verify but never sign as SendGrid, so a route that rewrites SendGrid events
 * vouches for them with its own `gateway-hmac` signature (gateway.ts). The timestamp is held to a replay
 * window, checked before the (costlier) ECDSA verification.
 */
import { createPublicKey, verify, type KeyObject } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { checkTimestamp, requireHeader } from './check.js';
import type { SignedRequest, VerifySpec } from './types.js';

export const SENDGRID_SIGNATURE_HEADER = 'x-twilio-email-event-webhook-signature';
export const SENDGRID_TIMESTAMP_HEADER = 'x-twilio-email-event-webhook-timestamp';

const BASE64 = /^[A-Za-z0-9+/]+={0,2}$/;

/**
 * Parses the verification key as SendGrid shows it (base64 DER SPKI), or a PEM `PUBLIC KEY`. Throws a
 * plain Error saying what is wrong when it is not an EC P-256 public key.
 *
 * @example
 *   const key = parseSendGridPublicKey('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAE...');
 */
export function parseSendGridPublicKey(text: string): KeyObject {
  const trimmed = text.trim();
  let key: KeyObject;
  try {
    if (trimmed.startsWith('-----BEGIN')) key = createPublicKey({ key: trimmed, format: 'pem' });
    else {
      const compact = trimmed.replace(/\s+/g, '');
      if (!BASE64.test(compact)) throw new Error('not base64');
      key = createPublicKey({ key: Buffer.from(compact, 'base64'), format: 'der', type: 'spki' });
    }
  } catch {
    throw new Error('expected the base64 DER (SPKI) public key shown for the Signed Event Webhook, or a PEM PUBLIC KEY');
  }
  if (key.asymmetricKeyType !== 'ec' || key.asymmetricKeyDetails?.namedCurve !== 'prime256v1') {
    throw new Error('expected an EC P-256 (prime256v1) public key');
  }
  return key;
}

/** True when `signature` (base64 DER) is SendGrid's ECDSA signature of `timestamp + body` under `publicKey`. */
export function sendGridSignatureValid(publicKey: KeyObject, timestamp: string, body: Buffer, signature: string): boolean {
  if (!BASE64.test(signature)) return false;
  try {
    return verify('sha256', Buffer.concat([Buffer.from(timestamp, 'utf8'), body]), { key: publicKey, dsaEncoding: 'der' }, Buffer.from(signature, 'base64'));
  } catch {
    return false; // malformed DER
  }
}

/**
 * Checks the Signed Event Webhook headers on the raw request. Throws SIGNATURE_MISSING, SIGNATURE_EXPIRED
 * (timestamp outside the window) or SIGNATURE_INVALID.
 */
export function verifySendGrid(spec: Extract<VerifySpec, { scheme: 'sendgrid' }>, req: SignedRequest, nowMs: number): void {
  const signature = requireHeader(req.headers, SENDGRID_SIGNATURE_HEADER, 'sendgrid');
  const timestamp = requireHeader(req.headers, SENDGRID_TIMESTAMP_HEADER, 'sendgrid');
  checkTimestamp(timestamp, nowMs, spec.toleranceSeconds, 'sendgrid');
  if (!sendGridSignatureValid(spec.publicKey, timestamp, req.body, signature.trim())) {
    throw new GatewayError('SIGNATURE_INVALID', 'sendgrid signature: X-Twilio-Email-Event-Webhook-Signature does not verify');
  }
}
