/**
 * Provider webhook signatures for one route: verify the provider's signature on the raw request, and
 * vouch for the rewritten request towards the next hop.
 *
 *   read body (raw) -> verify -> decode, rules, rewrite -> resign -> forward
 *
 * Verification runs on the bytes as received, before any decoding or rewrite, because those are the
 * bytes the provider signed. Re-signing runs on the final body and headers, right before forwarding,
 * because those are the bytes the next hop checks. Pure: no hono, no undici; the server wires it in.
 *
 * Scheme files: twilio.ts, sendgrid.ts, meta.ts, hmac.ts (generic), gateway.ts (the gateway's own vouch).
 */
import { GatewayError } from '../../errors.js';
import { GATEWAY_SIGNATURE_HEADER, signGatewayPayload } from './gateway.js';
import { resignHmac, verifyHmac } from './hmac.js';
import { META_LEGACY_SIGNATURE_HEADER, META_SIGNATURE_HEADER, resignMeta, verifyMeta } from './meta.js';
import { SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER, verifySendGrid } from './sendgrid.js';
import { resignTwilio, TWILIO_SIGNATURE_HEADER, verifyTwilio } from './twilio.js';
import type { HeaderValues, ResignSpec, SignedRequest, VerifySpec } from './types.js';

export type { ResignSpec, VerifySpec } from './types.js';
export { GATEWAY_SIGNATURE_HEADER, signGatewayPayload, verifyGatewaySignature } from './gateway.js';

/** Outgoing headers as the proxy builds them (a fresh, mutable copy per request). */
export type OutgoingHeaders = Record<string, string | string[]>;

export interface RouteSignatures {
  /** Throws SIGNATURE_MISSING / SIGNATURE_INVALID / SIGNATURE_EXPIRED (401); no-op without `verify`. */
  verify(headers: HeaderValues, rawBody: Buffer, pathAndQuery: string): void;
  /**
   * Sets the next hop's signature headers on `headers` (in place) for the final `body`, and returns the
   * path and query to forward (twilio's `bodySHA256` may change). Always removes a caller-sent
   * X-PII-Gateway-Signature: only the gateway vouches with that header.
   */
  resign(headers: OutgoingHeaders, body: Buffer, pathAndQuery: string): string;
}

/**
 * Builds a route's signature steps once, at start-up.
 *
 * @example
 *   const signatures = routeSignatures(route.verify, route.resign);
 *   signatures.verify(incoming.headers, rawBody, incoming.url ?? '/');
 *   // ... decode, rules, rewrite ...
 *   const pathAndQuery = signatures.resign(headers, body, incoming.url ?? '/');
 */
export function routeSignatures(verify: VerifySpec | undefined, resign: ResignSpec | undefined, now: () => number = Date.now): RouteSignatures {
  // With a re-signature, the provider's own headers describe bytes the next hop no longer receives.
  const stale = resign === undefined || verify === undefined ? [] : signatureHeaders(verify);
  return {
    verify(headers, rawBody, pathAndQuery) {
      if (verify !== undefined) verifySignature(verify, { headers, body: rawBody, pathAndQuery }, now());
    },
    resign(headers, body, pathAndQuery) {
      delete headers[GATEWAY_SIGNATURE_HEADER];
      if (resign === undefined) return pathAndQuery;
      for (const name of stale) delete headers[name];
      const out = resignRequest(resign, { headers, body, pathAndQuery }, now());
      for (const [name, value] of Object.entries(out.headers)) {
        if (value === null) delete headers[name];
        else headers[name] = value;
      }
      return out.pathAndQuery;
    },
  };
}

/** Checks one request against a verify spec at `nowMs`. Throws the SIGNATURE_* codes. */
export function verifySignature(spec: VerifySpec, req: SignedRequest, nowMs: number): void {
  switch (spec.scheme) {
    case 'twilio':
      return verifyTwilio(spec, req);
    case 'sendgrid':
      return verifySendGrid(spec, req, nowMs);
    case 'meta':
      return verifyMeta(spec, req);
    case 'hmac':
      return verifyHmac(spec, req, nowMs);
  }
}

/** Headers to set (null: remove) and the path and query to forward, for the final request. */
export function resignRequest(
  spec: ResignSpec,
  req: SignedRequest,
  nowMs: number,
): { headers: Record<string, string | null>; pathAndQuery: string } {
  switch (spec.scheme) {
    case 'twilio':
      return resignTwilio(spec, req);
    case 'meta':
      return { headers: resignMeta(spec, req), pathAndQuery: req.pathAndQuery };
    case 'hmac':
      return { headers: resignHmac(spec, req, nowMs), pathAndQuery: req.pathAndQuery };
    case 'gateway-hmac':
      return { headers: { [GATEWAY_SIGNATURE_HEADER]: signGatewayPayload(spec.secret, req.body, nowMs) }, pathAndQuery: req.pathAndQuery };
  }
  throw new GatewayError('INTERNAL', 'unknown resign scheme');
}

/** The request headers a verified scheme's signature lives in (lower-case). */
export function signatureHeaders(spec: VerifySpec): string[] {
  switch (spec.scheme) {
    case 'twilio':
      return [TWILIO_SIGNATURE_HEADER];
    case 'sendgrid':
      return [SENDGRID_SIGNATURE_HEADER, SENDGRID_TIMESTAMP_HEADER];
    case 'meta':
      return [META_SIGNATURE_HEADER, META_LEGACY_SIGNATURE_HEADER];
    case 'hmac':
      return spec.timestampHeader === undefined ? [spec.header] : [spec.header, spec.timestampHeader];
  }
}
