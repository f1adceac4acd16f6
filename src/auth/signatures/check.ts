/**
 * The three checks every signature scheme shares: read exactly one header value, compare two signatures
 * in constant time, and hold a signed timestamp to a replay window.
 *
 * Failures throw the stable codes SIGNATURE_MISSING / SIGNATURE_INVALID / SIGNATURE_EXPIRED (401). Messages
 * name headers and schemes only, never a header's value: a signature is not PII, but a timestamp or a
 * digest in a log helps nobody and an echoed expected digest would be an oracle.
 */
import { timingSafeEqual } from 'node:crypto';
import { GatewayError } from '../../errors.js';
import type { HeaderValues } from './types.js';

/** Default replay window: five minutes either side of the gateway's clock. */
export const DEFAULT_TOLERANCE_SECONDS = 300;

/**
 * The single value of a signature header (name lower-case). Absent or empty: SIGNATURE_MISSING. Sent more
 * than once: SIGNATURE_INVALID (node:http joins repeated unknown headers with ', ', which then fails the
 * comparison; an array means a header node:http keeps as a list).
 */
export function requireHeader(headers: HeaderValues, name: string, scheme: string): string {
  const value = headers[name];
  if (value === undefined || value === '' || (Array.isArray(value) && value.length === 0)) {
    throw new GatewayError('SIGNATURE_MISSING', `${scheme} signature: the ${name} header is missing`);
  }
  if (Array.isArray(value)) throw new GatewayError('SIGNATURE_INVALID', `${scheme} signature: the ${name} header is repeated`);
  return value;
}

/**
 * Constant-time equality of two signature strings (UTF-8 bytes). Different lengths are unequal at once:
 * a digest's length is public, so that early return tells an attacker nothing.
 */
export function signaturesEqual(received: string, expected: string): boolean {
  const a = Buffer.from(received, 'utf8');
  const b = Buffer.from(expected, 'utf8');
  return a.length === b.length && timingSafeEqual(a, b);
}

const UNIX_SECONDS = /^[0-9]{1,12}$/;

/**
 * Parses a unix timestamp in seconds and refuses one further than `toleranceSeconds` from `nowMs` (either
 * way: a timestamp from the future is as suspect as an old one). Not a number: SIGNATURE_INVALID.
 *
 * @example
 *   checkTimestamp('1588788367', Date.now(), 300, 'sendgrid') // throws SIGNATURE_EXPIRED today
 */
export function checkTimestamp(value: string, nowMs: number, toleranceSeconds: number, scheme: string): number {
  if (!UNIX_SECONDS.test(value)) {
    throw new GatewayError('SIGNATURE_INVALID', `${scheme} signature: the timestamp is not a unix time in seconds`);
  }
  const t = Number(value);
  if (Math.abs(nowMs / 1000 - t) > toleranceSeconds) {
    throw new GatewayError('SIGNATURE_EXPIRED', `${scheme} signature: the timestamp is outside the ${toleranceSeconds} s replay window`);
  }
  return t;
}

/** The query part of `/path?query` including its `?`, or ''. */
export function queryOf(pathAndQuery: string): string {
  const q = pathAndQuery.indexOf('?');
  return q === -1 ? '' : pathAndQuery.slice(q);
}

/** Media type of a Content-Type value: lower-case, without parameters. */
export function mediaTypeOf(value: string | string[] | undefined): string | undefined {
  const first = Array.isArray(value) ? value[0] : value;
  if (first === undefined) return undefined;
  const semi = first.indexOf(';');
  return (semi === -1 ? first : first.slice(0, semi)).trim().toLowerCase();
}
