import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { compilePayloadTemplate, hmacSignature, resignHmac, verifyHmac } from './hmac.js';
import { codeOf, secretKey } from './test-helpers.js';
import type { HmacScheme, PayloadPart, SignedRequest } from './types.js';

const SECRET = 'generic-hmac-secret';
function scheme(over: Partial<HmacScheme & { template: string; toleranceSeconds: number }> = {}) {
  const { template, ...rest } = over;
  const payload = compilePayloadTemplate(template ?? '{body}') as readonly PayloadPart[];
  return {
    scheme: 'hmac' as const,
    secret: secretKey(SECRET),
    header: 'x-signature',
    algorithm: 'sha256' as const,
    encoding: 'hex' as const,
    prefix: '',
    payload,
    toleranceSeconds: 300,
    ...rest,
  };
}
const body = Buffer.from('{"to":"+15558675310","status":"delivered"}');
const req = (headers: Record<string, string>, b = body): SignedRequest => ({ headers, body: b, pathAndQuery: '/hooks/x' });
const NOW = 1_700_000_000_000;

describe('compilePayloadTemplate', () => {
  it('splits literals and placeholders', () => {
    expect(compilePayloadTemplate('{timestamp}.{body}')).toEqual(['timestamp', Buffer.from('.'), 'body']);
    expect(compilePayloadTemplate('v0:{timestamp}:{body}')).toEqual([Buffer.from('v0:'), 'timestamp', Buffer.from(':'), 'body']);
    expect(compilePayloadTemplate('{body}')).toEqual(['body']);
  });
  it('needs {body} exactly once and {timestamp} at most once', () => {
    expect(compilePayloadTemplate('{timestamp}')).toEqual({ error: expect.stringContaining('{body} exactly once') });
    expect(compilePayloadTemplate('{body}{body}')).toEqual({ error: expect.stringContaining('{body} exactly once') });
    expect(compilePayloadTemplate('{timestamp}{timestamp}{body}')).toEqual({ error: expect.stringContaining('at most once') });
  });
});

describe('generic HMAC', () => {
  it('known answers (RFC 4231 test case 2, sha256 and sha512)', () => {
    const data = Buffer.from('what do ya want for nothing?');
    const jefe = { secret: secretKey('Jefe') };
    expect(hmacSignature(scheme(jefe), data, undefined)).toBe('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843');
    expect(hmacSignature(scheme({ ...jefe, algorithm: 'sha512' }), data, undefined)).toBe(
      '164b7a7bfcf819e2e395fbe73b56e0a387bd64222e831fd610270cd7ea2505549758bf75c05a994a6d034f65f8f0e6fdcaeab1a34d4a6b4b636e070a38bce737',
    );
    expect(hmacSignature(scheme({ ...jefe, encoding: 'base64', prefix: 'sha256=' }), data, undefined)).toBe(
      `sha256=${Buffer.from('5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843', 'hex').toString('base64')}`,
    );
  });

  it('body only: verifies hex (any case) and base64 (exact), refuses tampering and a wrong secret', () => {
    const hex = createHmac('sha256', SECRET).update(body).digest('hex');
    expect(() => verifyHmac(scheme(), req({ 'x-signature': hex }), NOW)).not.toThrow();
    expect(() => verifyHmac(scheme(), req({ 'x-signature': hex.toUpperCase() }), NOW)).not.toThrow();
    const b64 = createHmac('sha256', SECRET).update(body).digest('base64');
    expect(() => verifyHmac(scheme({ encoding: 'base64' }), req({ 'x-signature': b64 }), NOW)).not.toThrow();
    expect(codeOf(() => verifyHmac(scheme(), req({ 'x-signature': hex }, Buffer.from(`${body} `)), NOW))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyHmac(scheme({ secret: secretKey('x') }), req({ 'x-signature': hex }), NOW))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyHmac(scheme(), req({}), NOW))).toBe('SIGNATURE_MISSING');
  });

  it('prefix must be present as configured', () => {
    const hex = createHmac('sha512', SECRET).update(body).digest('hex');
    const s = scheme({ algorithm: 'sha512', prefix: 'sha512=' });
    expect(() => verifyHmac(s, req({ 'x-signature': `sha512=${hex}` }), NOW)).not.toThrow();
    expect(codeOf(() => verifyHmac(s, req({ 'x-signature': hex }), NOW))).toBe('SIGNATURE_INVALID');
  });

  it('{timestamp}.{body}: verifies inside the window, EXPIRED outside, INVALID when the timestamp is swapped', () => {
    const s = scheme({ template: '{timestamp}.{body}', timestampHeader: 'x-timestamp' });
    const t = String(NOW / 1000);
    const sig = createHmac('sha256', SECRET).update(`${t}.`).update(body).digest('hex');
    expect(() => verifyHmac(s, req({ 'x-signature': sig, 'x-timestamp': t }), NOW + 299_000)).not.toThrow();
    expect(codeOf(() => verifyHmac(s, req({ 'x-signature': sig, 'x-timestamp': t }), NOW + 301_000))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifyHmac({ ...s, toleranceSeconds: 30 }, req({ 'x-signature': sig, 'x-timestamp': t }), NOW + 31_000))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifyHmac(s, req({ 'x-signature': sig, 'x-timestamp': String(NOW / 1000 + 1) }), NOW))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyHmac(s, req({ 'x-signature': sig }), NOW))).toBe('SIGNATURE_MISSING');
  });

  it('resign sets the signature and a fresh timestamp that verify accepts', () => {
    const s = scheme({ template: '{timestamp}.{body}', timestampHeader: 'x-timestamp' });
    const out = resignHmac(s, req({}), NOW);
    expect(out['x-timestamp']).toBe(String(NOW / 1000));
    expect(() => verifyHmac(s, req(out), NOW)).not.toThrow();
    expect(resignHmac(scheme(), req({}), NOW)).toEqual({ 'x-signature': createHmac('sha256', SECRET).update(body).digest('hex') });
  });
});
