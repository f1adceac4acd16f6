/**
 * The gateway's own vouch for a webhook it verified and then rewrote, for schemes the gateway cannot sign
 * as the provider (SendGrid's ECDSA), or whenever the platform prefers one format for every provider:
 *
 *   X-PII-Gateway-Signature: t=<unix seconds>,v1=<hex HMAC-SHA256(secret, t + "." + forwarded body)>
 *
 * The secret is shared between the gateway and the platform only. Why an HMAC header and not a JWS:
 * - it covers the exact forwarded bytes without copying them: an attached JWS repeats a body of up to
 *   megabytes in a header, and a detached one needs RFC 7797 (`b64: false`, `crit`), which few platform
 *   libraries implement;
 * - the platform verifies it with its standard library in a few lines, with no JOSE algorithm choices to
 *   get wrong (`alg: none`, HS/RS confusion);
 * - the timestamp is inside the MAC, so the platform enforces its own replay window.
 * What it does not give: non-repudiation (the platform holds the same secret). Nobody but the platform
 * needs to check the vouch, so that is not needed here.
 *
 * Several `v1=` entries are accepted by {@link verifyGatewaySignature}, so a platform can verify during a
 * secret rotation when a future gateway sends one per secret.
 */
import { createHmac, type KeyObject } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import { checkTimestamp, signaturesEqual } from './check.js';

/** Header name (lower-case, as node:http and undici use it). */
export const GATEWAY_SIGNATURE_HEADER = 'x-pii-gateway-signature';

/** Hex HMAC-SHA256 of `t + "." + body`. */
export function gatewayDigest(secret: string | KeyObject, timestamp: number, body: Buffer): string {
  return createHmac('sha256', secret).update(`${timestamp}.`, 'utf8').update(body).digest('hex');
}

/**
 * The X-PII-Gateway-Signature value for `body` at `nowMs`.
 *
 * @example
 *   signGatewayPayload(secret, body, Date.now()) // 't=1717171717,v1=3b1f...'
 */
export function signGatewayPayload(secret: string | KeyObject, body: Buffer, nowMs: number): string {
  const t = Math.floor(nowMs / 1000);
  return `t=${t},v1=${gatewayDigest(secret, t, body)}`;
}

/**
 * What a platform runs on a request the gateway forwarded (also usable as a library). Throws
 * SIGNATURE_MISSING (no header), SIGNATURE_EXPIRED (t outside the window) or SIGNATURE_INVALID.
 *
 * @example
 *   verifyGatewaySignature(process.env.GATEWAY_VOUCH_SECRET!, req.headers['x-pii-gateway-signature'], rawBody)
 */
export function verifyGatewaySignature(
  secret: string | KeyObject,
  header: string | undefined,
  body: Buffer,
  options: { nowMs?: number; toleranceSeconds?: number } = {},
): void {
  if (header === undefined || header === '') throw new GatewayError('SIGNATURE_MISSING', 'gateway signature: the X-PII-Gateway-Signature header is missing');
  let t: string | undefined;
  const v1: string[] = [];
  for (const item of header.split(',')) {
    const eq = item.indexOf('=');
    const key = item.slice(0, eq).trim();
    const value = item.slice(eq + 1).trim();
    if (eq === -1) continue;
    if (key === 't') t = value;
    else if (key === 'v1') v1.push(value.toLowerCase());
  }
  if (t === undefined || v1.length === 0) throw new GatewayError('SIGNATURE_INVALID', 'gateway signature: expected t=<unix>,v1=<hex>');
  const ts = checkTimestamp(t, options.nowMs ?? Date.now(), options.toleranceSeconds ?? 300, 'gateway');
  const expected = gatewayDigest(secret, ts, body);
  let ok = false;
  for (const candidate of v1) ok = signaturesEqual(candidate, expected) || ok;
  if (!ok) throw new GatewayError('SIGNATURE_INVALID', 'gateway signature: no v1 signature matches');
}
