import { describe, expect, it } from 'vitest';
import { routeSignatures, verifyGatewaySignature } from './index.js';
import { metaSignature } from './meta.js';
import { twilioSignature } from './twilio.js';
import type { ResignSpec, VerifySpec } from './types.js';
import { parseSendGridPublicKey } from './sendgrid.js';
import { codeOf, providerFixture, secretKey as key } from './test-helpers.js';

const FORM = 'application/x-www-form-urlencoded';
const NOW = 1_700_000_000_000;
const statusCallback = providerFixture('twilio-status-callback.form');
const params = Object.fromEntries(new URLSearchParams(statusCallback.toString()));

describe('routeSignatures', () => {
  const verify: VerifySpec = { scheme: 'twilio', secret: key('provider-token'), url: 'https://gw.example/hooks/twilio/status' };

  it('without verify/resign: verify is a no-op, resign only drops a caller-sent X-PII-Gateway-Signature', () => {
    const s = routeSignatures(undefined, undefined, () => NOW);
    expect(() => s.verify({}, Buffer.from('x'), '/')).not.toThrow();
    const headers = { 'x-pii-gateway-signature': 't=1,v1=00', 'x-twilio-signature': 'kept' };
    expect(s.resign(headers, Buffer.from('x'), '/a?b=1')).toBe('/a?b=1');
    expect(headers).toEqual({ 'x-twilio-signature': 'kept' });
  });

  it('verify: twilio on the raw request; resign: twilio for the next hop over the final body', () => {
    const resign: ResignSpec = { scheme: 'twilio', secret: key('platform-token'), url: 'https://platform.example/twilio/status' };
    const s = routeSignatures(verify, resign, () => NOW);
    const signature = twilioSignature('provider-token', 'https://gw.example/hooks/twilio/status', params);
    s.verify({ 'content-type': FORM, 'x-twilio-signature': signature }, statusCallback, '/hooks/twilio/status');
    expect(codeOf(() => s.verify({ 'content-type': FORM }, statusCallback, '/hooks/twilio/status'))).toBe('SIGNATURE_MISSING');

    const rewritten = Buffer.from(statusCallback.toString().replace('%2B15558675310', '%2B15550000001'));
    const headers: Record<string, string> = { 'content-type': FORM, 'x-twilio-signature': signature };
    expect(s.resign(headers, rewritten, '/hooks/twilio/status')).toBe('/hooks/twilio/status');
    const next = Object.fromEntries(new URLSearchParams(rewritten.toString()));
    expect(headers['x-twilio-signature']).toBe(twilioSignature('platform-token', 'https://platform.example/twilio/status', next));
  });

  it('resign gateway-hmac: drops the provider headers that no longer match, adds the vouch', () => {
    const sendgrid: VerifySpec = {
      scheme: 'sendgrid',
      publicKey: parseSendGridPublicKey('MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA=='),
      toleranceSeconds: 300,
    };
    const s = routeSignatures(sendgrid, { scheme: 'gateway-hmac', secret: key('vouch-secret') }, () => NOW);
    const headers: Record<string, string> = {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': 'stale',
      'x-twilio-email-event-webhook-timestamp': '1',
      'x-pii-gateway-signature': 'forged',
    };
    const body = Buffer.from('[{"email":"tok@tok.invalid"}]');
    s.resign(headers, body, '/hooks/sendgrid');
    expect(Object.keys(headers).sort()).toEqual(['content-type', 'x-pii-gateway-signature']);
    expect(() => verifyGatewaySignature('vouch-secret', headers['x-pii-gateway-signature'], body, { nowMs: NOW })).not.toThrow();
  });

  it('resign meta: replaces X-Hub-Signature-256 and drops the SHA-1 header', () => {
    const s = routeSignatures({ scheme: 'meta', secret: key('app') }, { scheme: 'meta', secret: key('platform') }, () => NOW);
    const body = Buffer.from('{"x":1}');
    const headers: Record<string, string> = { 'x-hub-signature-256': 'sha256=old', 'x-hub-signature': 'sha1=old' };
    s.resign(headers, body, '/');
    expect(headers).toEqual({ 'x-hub-signature-256': metaSignature('platform', body) });
  });
});
