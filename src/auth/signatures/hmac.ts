/**
 * Generic HMAC header signatures, for providers without a scheme of their own here (Infobip, in-house
 * senders, Stripe-like `{timestamp}.{body}` schemes):
 *
 *   <header>: <prefix><hex|base64 HMAC-<sha256|sha512>(secret, payload)>
 *
 * where the payload is the raw body, or a template over the body and a timestamp header
 * (`{timestamp}.{body}`). With a timestamp the signature is held to a replay window; the template must
 * then cover `{timestamp}`, or an attacker could swap in a fresh timestamp (compile-time check).
 */
import { createHmac } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { checkTimestamp, requireHeader, signaturesEqual } from './check.js';
import type { HmacScheme, PayloadPart, SignedRequest } from './types.js';

const PLACEHOLDER = /\{(timestamp|body)\}/g;

/**
 * Splits a payload template into literal bytes and placeholders. `{body}` must appear exactly once and
 * `{timestamp}` at most once; any other text (braces included) is literal. Returns a message on error.
 *
 * @example
 *   compilePayloadTemplate('{timestamp}.{body}') // [ 'timestamp', <Buffer 2e>, 'body' ]
 */
export function compilePayloadTemplate(template: string): readonly PayloadPart[] | { error: string } {
  const parts: PayloadPart[] = [];
  let last = 0;
  let bodies = 0;
  let timestamps = 0;
  for (const m of template.matchAll(PLACEHOLDER)) {
    if (m.index > last) parts.push(Buffer.from(template.slice(last, m.index), 'utf8'));
    const name = m[1] as 'timestamp' | 'body';
    parts.push(name);
    if (name === 'body') bodies++;
    else timestamps++;
    last = m.index + m[0].length;
  }
  if (last < template.length) parts.push(Buffer.from(template.slice(last), 'utf8'));
  if (bodies !== 1) return { error: `the payload template must contain {body} exactly once (found ${bodies})` };
  if (timestamps > 1) return { error: 'the payload template may contain {timestamp} at most once' };
  return Object.freeze(parts);
}

/** True when the template covers `{timestamp}`. */
export function coversTimestamp(parts: readonly PayloadPart[]): boolean {
  return parts.includes('timestamp');
}

/** The header value (prefix + digest) for `body` and `timestamp` under `scheme`. */
export function hmacSignature(scheme: HmacScheme, body: Buffer, timestamp: string | undefined): string {
  const mac = createHmac(scheme.algorithm, scheme.secret);
  for (const part of scheme.payload) {
    if (part === 'body') mac.update(body);
    else if (part === 'timestamp') mac.update(timestamp ?? '', 'utf8');
    else mac.update(part);
  }
  return scheme.prefix + mac.digest(scheme.encoding);
}

/**
 * Checks the configured header (and the timestamp window, when configured). Throws SIGNATURE_MISSING,
 * SIGNATURE_EXPIRED or SIGNATURE_INVALID.
 */
export function verifyHmac(spec: HmacScheme & { readonly toleranceSeconds: number }, req: SignedRequest, nowMs: number): void {
  const received = requireHeader(req.headers, spec.header, 'hmac');
  let timestamp: string | undefined;
  if (spec.timestampHeader !== undefined) {
    timestamp = requireHeader(req.headers, spec.timestampHeader, 'hmac');
    checkTimestamp(timestamp, nowMs, spec.toleranceSeconds, 'hmac');
  }
  // Hex compares case-insensitively; base64 exactly. The prefix must be there as configured.
  const normalized =
    spec.encoding === 'hex' && received.startsWith(spec.prefix) ? spec.prefix + received.slice(spec.prefix.length).toLowerCase() : received;
  if (!signaturesEqual(normalized, hmacSignature(spec, req.body, timestamp))) {
    throw new GatewayError('SIGNATURE_INVALID', `hmac signature: the ${spec.header} header does not match`);
  }
}

/** Signs the forwarded body for the next hop; sets the timestamp header to `nowMs` when the scheme has one. */
export function resignHmac(spec: HmacScheme, req: SignedRequest, nowMs: number): Record<string, string> {
  const timestamp = spec.timestampHeader === undefined ? undefined : String(Math.floor(nowMs / 1000));
  const out: Record<string, string> = { [spec.header]: hmacSignature(spec, req.body, timestamp) };
  if (spec.timestampHeader !== undefined && timestamp !== undefined) out[spec.timestampHeader] = timestamp;
  return out;
}
