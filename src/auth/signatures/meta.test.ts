import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { metaSignature, resignMeta, verifyMeta } from './meta.js';
import { codeOf, providerFixture, secretKey } from './test-helpers.js';
import type { SignedRequest } from './types.js';

const webhook = providerFixture('whatsapp-webhook.json');
const APP_SECRET = 'meta-app-secret-for-tests';
const spec = { scheme: 'meta' as const, secret: secretKey(APP_SECRET) };
// What Meta sends: sha256=hex(HMAC-SHA256(app secret, raw body bytes)), computed here independently.
const signed = `sha256=${createHmac('sha256', APP_SECRET).update(webhook).digest('hex')}`;
const request = (signature: string | undefined, body = webhook): SignedRequest => ({
  headers: { 'content-type': 'application/json', ...(signature === undefined ? {} : { 'x-hub-signature-256': signature }) },
  body,
  pathAndQuery: '/hooks/whatsapp',
});

describe('Meta X-Hub-Signature-256', () => {
  it('known answer (RFC 4231 test case 2)', () => {
    expect(metaSignature('Jefe', Buffer.from('what do ya want for nothing?'))).toBe(
      'sha256=5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843',
    );
  });

  it('verifies the WhatsApp webhook fixture over its raw bytes, in either hex case', () => {
    expect(() => verifyMeta(spec, request(signed))).not.toThrow();
    expect(() => verifyMeta(spec, request(`sha256=${signed.slice(7).toUpperCase()}`))).not.toThrow();
  });

  it('refuses a tampered body (one byte, or re-serialized JSON), a wrong secret, a bad prefix', () => {
    const tampered = Buffer.from(webhook.toString().replace('16505551234', '16505551235'));
    expect(codeOf(() => verifyMeta(spec, request(signed, tampered)))).toBe('SIGNATURE_INVALID');
    const reserialized = Buffer.from(JSON.stringify(JSON.parse(webhook.toString())));
    expect(codeOf(() => verifyMeta(spec, request(signed, reserialized)))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyMeta({ ...spec, secret: secretKey('other') }, request(signed)))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyMeta(spec, request(signed.slice(7))))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyMeta(spec, request(`sha1=${signed.slice(7)}`)))).toBe('SIGNATURE_INVALID');
  });

  it('a missing header is SIGNATURE_MISSING', () => {
    expect(codeOf(() => verifyMeta(spec, request(undefined)))).toBe('SIGNATURE_MISSING');
    expect(codeOf(() => verifyMeta(spec, request('')))).toBe('SIGNATURE_MISSING');
  });

  it('resign: the next hop secret over the final body, legacy SHA-1 header dropped', () => {
    const body = Buffer.from('{"rewritten":true}');
    const next = { scheme: 'meta' as const, secret: secretKey('platform-secret') };
    const out = resignMeta(next, request(undefined, body));
    expect(out).toEqual({ 'x-hub-signature-256': metaSignature('platform-secret', body), 'x-hub-signature': null });
    expect(() => verifyMeta(next, request(out['x-hub-signature-256']!, body))).not.toThrow();
  });
});
