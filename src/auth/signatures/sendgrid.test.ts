import { generateKeyPairSync, sign } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { parseSendGridPublicKey, sendGridSignatureValid, verifySendGrid } from './sendgrid.js';
import { codeOf, providerJsonFixture } from './test-helpers.js';
import type { SignedRequest } from './types.js';

const fixture = providerJsonFixture<{
  publicKey: string;
  timestamp: string;
  body: string;
  signature: string;
}>('sendgrid-signature.json');
const publicKey = parseSendGridPublicKey(fixture.publicKey);
const spec = { scheme: 'sendgrid' as const, publicKey, toleranceSeconds: 300 };
const AT_SIGNING = Number(fixture.timestamp) * 1000;

function request(over: { body?: string; signature?: string; timestamp?: string } = {}): SignedRequest {
  return {
    headers: {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': over.signature ?? fixture.signature,
      'x-twilio-email-event-webhook-timestamp': over.timestamp ?? fixture.timestamp,
    },
    body: Buffer.from(over.body ?? fixture.body),
    pathAndQuery: '/hooks/sendgrid',
  };
}

describe('SendGrid Signed Event Webhook', () => {
  it('verifies the fixture vector (ECDSA P-256 over timestamp + body)', () => {
    expect(sendGridSignatureValid(publicKey, fixture.timestamp, Buffer.from(fixture.body), fixture.signature)).toBe(true);
    expect(() => verifySendGrid(spec, request(), AT_SIGNING)).not.toThrow();
    expect(() => verifySendGrid(spec, request(), AT_SIGNING + 299_000)).not.toThrow();
  });

  it('refuses a tampered body or timestamp, a garbled signature, another key', () => {
    expect(codeOf(() => verifySendGrid(spec, request({ body: fixture.body.replace('test_event', 'test_evenT') }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifySendGrid(spec, request({ timestamp: String(Number(fixture.timestamp) + 1) }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifySendGrid(spec, request({ signature: fixture.signature.slice(4) }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifySendGrid(spec, request({ signature: 'not base64!' }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
    const other = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey;
    expect(codeOf(() => verifySendGrid({ ...spec, publicKey: other }, request(), AT_SIGNING))).toBe('SIGNATURE_INVALID');
  });

  it('replay window: outside the tolerance either way is SIGNATURE_EXPIRED; the window is configurable', () => {
    expect(codeOf(() => verifySendGrid(spec, request(), AT_SIGNING + 301_000))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifySendGrid(spec, request(), AT_SIGNING - 301_000))).toBe('SIGNATURE_EXPIRED');
    expect(codeOf(() => verifySendGrid({ ...spec, toleranceSeconds: 60 }, request(), AT_SIGNING + 61_000))).toBe('SIGNATURE_EXPIRED');
    expect(() => verifySendGrid({ ...spec, toleranceSeconds: 3600 }, request(), AT_SIGNING + 3_000_000)).not.toThrow();
    expect(codeOf(() => verifySendGrid(spec, request({ timestamp: '15887883670000000' }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifySendGrid(spec, request({ timestamp: '1588788367.5' }), AT_SIGNING))).toBe('SIGNATURE_INVALID');
  });

  it('missing signature or timestamp header is SIGNATURE_MISSING', () => {
    const { headers, ...rest } = request();
    const without = (name: string) => ({ ...rest, headers: Object.fromEntries(Object.entries(headers).filter(([k]) => k !== name)) });
    expect(codeOf(() => verifySendGrid(spec, without('x-twilio-email-event-webhook-signature'), AT_SIGNING))).toBe('SIGNATURE_MISSING');
    expect(codeOf(() => verifySendGrid(spec, without('x-twilio-email-event-webhook-timestamp'), AT_SIGNING))).toBe('SIGNATURE_MISSING');
  });

  it('verifies a signature made with a fresh key pair (sign side as SendGrid does it)', () => {
    const pair = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
    const der = pair.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    const ts = '1700000000';
    const body = '[{"email":"a@example.com","event":"delivered"}]';
    const signature = sign('sha256', Buffer.from(ts + body), { key: pair.privateKey, dsaEncoding: 'der' }).toString('base64');
    const s = { ...spec, publicKey: parseSendGridPublicKey(der) };
    expect(() => verifySendGrid(s, request({ body, signature, timestamp: ts }), 1_700_000_000_000)).not.toThrow();
  });

  it('parseSendGridPublicKey: base64 DER or PEM; refuses other curves, RSA and garbage', () => {
    const pem = publicKey.export({ format: 'pem', type: 'spki' }).toString();
    expect(parseSendGridPublicKey(pem).asymmetricKeyDetails?.namedCurve).toBe('prime256v1');
    const p384 = generateKeyPairSync('ec', { namedCurve: 'secp384r1' }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(() => parseSendGridPublicKey(p384)).toThrow(/P-256/);
    const rsa = generateKeyPairSync('rsa', { modulusLength: 1024 }).publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
    expect(() => parseSendGridPublicKey(rsa)).toThrow(/P-256/);
    expect(() => parseSendGridPublicKey('not a key')).toThrow(/base64 DER/);
    expect(() => parseSendGridPublicKey('AAAA')).toThrow(/base64 DER/);
  });
});
