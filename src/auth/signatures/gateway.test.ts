import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { signGatewayPayload, verifyGatewaySignature } from './gateway.js';
import { codeOf } from './test-helpers.js';

const SECRET = 'gateway-vouch-secret-0123456789abcdef';
const body = Buffer.from('AccountSid=AC1&To=%2B1tok');
const NOW = 1_717_171_717_000;

describe('X-PII-Gateway-Signature', () => {
  it('is t=<unix>,v1=<hex HMAC-SHA256(secret, t + "." + body)> (as documented for platforms)', () => {
    const expected = createHmac('sha256', SECRET).update(`1717171717.${body.toString()}`).digest('hex');
    expect(signGatewayPayload(SECRET, body, NOW)).toBe(`t=1717171717,v1=${expected}`);
  });

  it('round-trips, and accepts any of several v1 entries (secret rotation)', () => {
    const header = signGatewayPayload(SECRET, body, NOW);
    expect(() => verifyGatewaySignature(SECRET, header, body, { nowMs: NOW + 10_000 })).not.toThrow();
    const old = signGatewayPayload('previous-secret', body, NOW).split(',')[1];
    expect(() => verifyGatewaySignature(SECRET, `${header},${old}`, body, { nowMs: NOW })).not.toThrow();
    expect(() => verifyGatewaySignature(SECRET, `t=1717171717,${old},${header.split(',')[1]}`, body, { nowMs: NOW })).not.toThrow();
  });

  it('refuses a changed body, secret or timestamp, an old header, and malformed ones', () => {
    const header = signGatewayPayload(SECRET, body, NOW);
    expect(codeOf(() => verifyGatewaySignature(SECRET, header, Buffer.from(`${body}x`), { nowMs: NOW }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyGatewaySignature('other', header, body, { nowMs: NOW }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyGatewaySignature(SECRET, header.replace('t=1717171717', 't=1717171718'), body, { nowMs: NOW }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyGatewaySignature(SECRET, header, body, { nowMs: NOW + 301_000 }))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifyGatewaySignature(SECRET, header, body, { nowMs: NOW + 61_000, toleranceSeconds: 60 }))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifyGatewaySignature(SECRET, 'v1=abc', body, { nowMs: NOW }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyGatewaySignature(SECRET, 't=1717171717', body, { nowMs: NOW }))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyGatewaySignature(SECRET, undefined, body, { nowMs: NOW }))).toBe('SIGNATURE_MISSING');
  });
});
