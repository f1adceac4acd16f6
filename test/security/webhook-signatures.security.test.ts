/**
 * Provider webhook signatures through the real gateway: a signed provider webhook is verified on the raw
 * bytes, rewritten (PII tokenized), and reaches the platform with a valid signature over the rewritten body;
 * an unsigned, forged, tampered or expired one is refused with 401 and the upstream is never called.
 */
import { createHmac, generateKeyPairSync, sign, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { afterEach, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { verifyGatewaySignature } from '../../src/auth/signatures/gateway.js';
import { metaSignature } from '../../src/auth/signatures/meta.js';
import { twilioSignature } from '../../src/auth/signatures/twilio.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const fixture = (name: string) => readFileSync(new URL(`../fixtures/providers/${name}`, import.meta.url));
const STATUS_CALLBACK = fixture('twilio-status-callback.form');
const WHATSAPP = fixture('whatsapp-webhook.json');
const SENDGRID_VECTOR = JSON.parse(fixture('sendgrid-signature.json').toString()) as { publicKey: string; timestamp: string; body: string; signature: string };

const PUBLIC_TWILIO_URL = 'https://gateway.example.com/hooks/twilio/status';
const PLATFORM_TWILIO_URL = 'https://platform.example/twilio/status';
const ENV = {
  TWILIO_AUTH_TOKEN: 'twilio-auth-token-0123456789abcdef',
  PLATFORM_TWILIO_TOKEN: 'platform-twilio-token-fedcba9876543210',
  PLATFORM_STATUS_URL: PLATFORM_TWILIO_URL,
  META_APP_SECRET: 'meta-app-secret',
  PLATFORM_META_SECRET: 'platform-meta-secret',
  VOUCH_SECRET: 'gateway-vouch-secret-0123456789abcdef0123',
  HOOK_SECRET: 'generic-hook-secret',
  SENDGRID_KEY: '', // set in beforeAll
};

let sendgrid: { publicKey: KeyObject; privateKey: KeyObject };
beforeAll(() => {
  sendgrid = generateKeyPairSync('ec', { namedCurve: 'prime256v1' });
  ENV.SENDGRID_KEY = sendgrid.publicKey.export({ format: 'der', type: 'spki' }).toString('base64');
});

const rules = (upstream: string) => `
version: 1
upstreams:
  platform: { url: "${upstream}" }
routes:
  - id: twilio-status
    match: { method: POST, path: /hooks/twilio/status }
    upstream: platform
    verify: { scheme: twilio, secret: "\${TWILIO_AUTH_TOKEN}", url: "${PUBLIC_TWILIO_URL}" }
    resign: { scheme: twilio, secret: "\${PLATFORM_TWILIO_TOKEN}", url: "\${PLATFORM_STATUS_URL}" }
    request:
      codec: form
      fields:
        - { select: To, action: tokenize, type: phone }
        - { select: From, action: tokenize, type: phone }
  - id: twilio-passthrough
    match: { method: POST, path: /hooks/twilio/raw }
    upstream: platform
    verify:
      scheme: twilio
      secret: \${TWILIO_AUTH_TOKEN}
      url: https://gateway.example.com/hooks/twilio/raw
  - id: sendgrid
    match: { method: POST, path: /hooks/sendgrid }
    upstream: platform
    verify: { scheme: sendgrid, publicKey: "\${SENDGRID_KEY}" }
    resign: { scheme: gateway-hmac, secret: "\${VOUCH_SECRET}" }
    request:
      fields:
        - { select: "$[*].email", action: tokenize, type: email }
  - id: sendgrid-vector
    match: { method: POST, path: /hooks/sendgrid-vector }
    upstream: platform
    verify: { scheme: sendgrid, publicKey: "${SENDGRID_VECTOR.publicKey}" }
  - id: whatsapp
    match: { method: POST, path: /hooks/whatsapp }
    upstream: platform
    verify: { scheme: meta, secret: "\${META_APP_SECRET}" }
    resign: { scheme: meta, secret: "\${PLATFORM_META_SECRET}" }
    request:
      fields:
        - { select: "$.entry[*].changes[*].value.contacts[*].profile.name", action: tokenize, type: opaque }
  - id: generic
    match: { method: POST, path: /hooks/generic }
    upstream: platform
    verify:
      scheme: hmac
      secret: \${HOOK_SECRET}
      header: X-Signature
      timestampHeader: X-Timestamp
      toleranceSeconds: 60
    resign: { scheme: gateway-hmac, secret: "\${VOUCH_SECRET}" }
  - id: plain
    match: { method: POST, path: /plain }
    upstream: platform
`;

let upstream: TestUpstream;
let gw: TestGateway;

beforeEach(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ rules: { 'hooks.yaml': rules(upstream.url) }, env: ENV });
});

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

const post = (path: string, body: string | Buffer, headers: Record<string, string>) =>
  postRaw<{ error: { code: string; message: string } }>(gw.url + path, body, headers);

const FORM = 'application/x-www-form-urlencoded';
const formParams = (body: Buffer | string) => {
  const out: Record<string, string[]> = {};
  for (const [k, v] of new URLSearchParams(body.toString())) (out[k] ??= []).push(v);
  return out;
};
const twilioSigned = (url: string, body: Buffer, token = ENV.TWILIO_AUTH_TOKEN) => twilioSignature(token, url, formParams(body));

describe('Twilio status callback (form): verify, tokenize, re-sign for the platform', () => {
  it('passes, and the platform receives a valid signature over the rewritten body', async () => {
    const signature = twilioSigned(PUBLIC_TWILIO_URL, STATUS_CALLBACK);
    const res = await post('/hooks/twilio/status', STATUS_CALLBACK, { 'content-type': FORM, 'x-twilio-signature': signature });
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const got = upstream.received[0]!;
    const params = formParams(got.body);
    // PII left: To and From are tokens now; the rest of the callback is as sent.
    expect(got.body.toString()).not.toContain('15558675310');
    expect(got.body.toString()).not.toContain('15017122661');
    expect(params.To![0]).not.toBe('+15558675310');
    expect(params.MessageStatus).toEqual(['delivered']);
    // The platform validates with its own token and URL, over the body it received.
    const expected = twilioSignature(ENV.PLATFORM_TWILIO_TOKEN, PLATFORM_TWILIO_URL, params);
    expect(got.headers['x-twilio-signature']).toBe(expected);
    expect(got.headers['x-twilio-signature']).not.toBe(signature);
  });

  it('accepts the provider signature over the URL with the default port', async () => {
    const signature = twilioSigned('https://gateway.example.com:443/hooks/twilio/status', STATUS_CALLBACK);
    const res = await post('/hooks/twilio/status', STATUS_CALLBACK, { 'content-type': FORM, 'x-twilio-signature': signature });
    expect(res.status).toBe(200);
  });

  it('refuses an unsigned callback: 401 SIGNATURE_MISSING, nothing forwarded', async () => {
    const res = await post('/hooks/twilio/status', STATUS_CALLBACK, { 'content-type': FORM });
    expect(res.status).toBe(401);
    expect(res.json().error.code).toBe('SIGNATURE_MISSING');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a forged signature (wrong token), a tampered body, a tampered query: 401 SIGNATURE_INVALID', async () => {
    const forged = twilioSigned(PUBLIC_TWILIO_URL, STATUS_CALLBACK, 'not-the-token');
    const tampered = Buffer.from(STATUS_CALLBACK.toString().replace('MessageStatus=delivered', 'MessageStatus=failed'));
    const good = twilioSigned(PUBLIC_TWILIO_URL, STATUS_CALLBACK);
    const cases: [string, Buffer, string][] = [
      ['/hooks/twilio/status', STATUS_CALLBACK, forged],
      ['/hooks/twilio/status', tampered, good],
      ['/hooks/twilio/status?extra=1', STATUS_CALLBACK, good],
    ];
    for (const [path, body, signature] of cases) {
      const res = await post(path, body, { 'content-type': FORM, 'x-twilio-signature': signature });
      expect(res.status).toBe(401);
      expect(res.json().error.code).toBe('SIGNATURE_INVALID');
      expect(res.json().error.message).not.toContain(signature);
    }
    expect(upstream.received).toHaveLength(0);
    // Refusals are logged with their code, and with neither the signatures nor the callback's PII.
    const logged = gw.logs.lines.join('\n');
    expect(logged).toContain('SIGNATURE_INVALID');
    for (const secretish of [forged, good, '15558675310', '15017122661']) expect(logged).not.toContain(secretish);
  });

  it('without resign the request passes untouched, and a caller-sent X-PII-Gateway-Signature is dropped', async () => {
    const url = 'https://gateway.example.com/hooks/twilio/raw';
    const signature = twilioSigned(url, STATUS_CALLBACK);
    const res = await post('/hooks/twilio/raw', STATUS_CALLBACK, { 'content-type': FORM, 'x-twilio-signature': signature, 'x-pii-gateway-signature': 't=1,v1=00' });
    expect(res.status).toBe(200);
    const got = upstream.received[0]!;
    expect(got.body.equals(STATUS_CALLBACK)).toBe(true);
    expect(got.headers['x-twilio-signature']).toBe(signature);
    expect(got.headers['x-pii-gateway-signature']).toBeUndefined();
  });
});

describe('SendGrid Signed Event Webhook: verify, tokenize, vouch with X-PII-Gateway-Signature', () => {
  const events = '[{"email":"jane.doe@example.com","event":"delivered","sg_event_id":"e1"}]';
  const signed = (body: string, timestamp: string) => sign('sha256', Buffer.from(timestamp + body), { key: sendgrid.privateKey, dsaEncoding: 'der' }).toString('base64');

  it('passes; the platform gets the rewritten events and a gateway signature it can verify', async () => {
    const t = String(Math.floor(Date.now() / 1000));
    const res = await post('/hooks/sendgrid', events, {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': signed(events, t),
      'x-twilio-email-event-webhook-timestamp': t,
    });
    expect(res.status).toBe(200);
    const got = upstream.received[0]!;
    expect(got.body.toString()).not.toContain('jane.doe@example.com');
    expect(() => verifyGatewaySignature(ENV.VOUCH_SECRET, got.headers['x-pii-gateway-signature'] as string, got.body)).not.toThrow();
    // The SendGrid headers described the original bytes: not forwarded.
    expect(got.headers['x-twilio-email-event-webhook-signature']).toBeUndefined();
    expect(got.headers['x-twilio-email-event-webhook-timestamp']).toBeUndefined();
  });

  it('the fixture vector (valid signature, 2020 timestamp) is refused as a replay: 401 SIGNATURE_EXPIRED', async () => {
    const res = await post('/hooks/sendgrid-vector', SENDGRID_VECTOR.body, {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': SENDGRID_VECTOR.signature,
      'x-twilio-email-event-webhook-timestamp': SENDGRID_VECTOR.timestamp,
    });
    expect(res.status).toBe(401);
    expect(res.json().error.code).toBe('SIGNATURE_EXPIRED');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a tampered event and a missing timestamp', async () => {
    const t = String(Math.floor(Date.now() / 1000));
    const sig = signed(events, t);
    const tampered = await post('/hooks/sendgrid', events.replace('delivered', 'bounce'), {
      'content-type': 'application/json',
      'x-twilio-email-event-webhook-signature': sig,
      'x-twilio-email-event-webhook-timestamp': t,
    });
    expect([tampered.status, tampered.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    const noTime = await post('/hooks/sendgrid', events, { 'content-type': 'application/json', 'x-twilio-email-event-webhook-signature': sig });
    expect([noTime.status, noTime.json().error.code]).toEqual([401, 'SIGNATURE_MISSING']);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('WhatsApp (Meta) webhook: verify on the raw bytes, re-sign with the platform secret', () => {
  it('passes; the platform gets X-Hub-Signature-256 over the rewritten body and no stale SHA-1 header', async () => {
    const res = await post('/hooks/whatsapp', WHATSAPP, {
      'content-type': 'application/json',
      'x-hub-signature-256': metaSignature(ENV.META_APP_SECRET, WHATSAPP),
      'x-hub-signature': 'sha1=0000',
    });
    expect(res.status).toBe(200);
    const got = upstream.received[0]!;
    expect(got.body.toString()).not.toContain('Sheena Nelson');
    expect(got.headers['x-hub-signature-256']).toBe(metaSignature(ENV.PLATFORM_META_SECRET, got.body));
    expect(got.headers['x-hub-signature']).toBeUndefined();
  });

  it('verifies the compressed bytes as sent (before decoding): a signature over the decoded JSON is refused', async () => {
    const gz = gzipSync(WHATSAPP);
    const ok = await post('/hooks/whatsapp', gz, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-hub-signature-256': metaSignature(ENV.META_APP_SECRET, gz),
    });
    expect(ok.status).toBe(200);
    // What is forwarded is signed as forwarded (the re-encoded body).
    const got = upstream.received[0]!;
    expect(got.headers['x-hub-signature-256']).toBe(metaSignature(ENV.PLATFORM_META_SECRET, got.body));
    const wrong = await post('/hooks/whatsapp', gz, {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'x-hub-signature-256': metaSignature(ENV.META_APP_SECRET, WHATSAPP),
    });
    expect([wrong.status, wrong.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    expect(upstream.received).toHaveLength(1);
  });

  it('refuses a forged signature (wrong app secret)', async () => {
    const res = await post('/hooks/whatsapp', WHATSAPP, { 'content-type': 'application/json', 'x-hub-signature-256': metaSignature('guess', WHATSAPP) });
    expect([res.status, res.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('generic HMAC with a timestamp: replay window', () => {
  const body = '{"to":"+15558675310","status":"delivered"}';
  const sig = (t: string, b = body) => createHmac('sha256', ENV.HOOK_SECRET).update(`${t}.${b}`).digest('hex');

  it('passes inside the window and is vouched for; outside it is 401 SIGNATURE_EXPIRED', async () => {
    const now = String(Math.floor(Date.now() / 1000));
    const ok = await post('/hooks/generic', body, { 'content-type': 'application/json', 'x-signature': sig(now), 'x-timestamp': now });
    expect(ok.status).toBe(200);
    const got = upstream.received[0]!;
    expect(() => verifyGatewaySignature(ENV.VOUCH_SECRET, got.headers['x-pii-gateway-signature'] as string, got.body)).not.toThrow();
    expect(got.headers['x-signature']).toBeUndefined();

    const old = String(Math.floor(Date.now() / 1000) - 120);
    const expired = await post('/hooks/generic', body, { 'content-type': 'application/json', 'x-signature': sig(old), 'x-timestamp': old });
    expect([expired.status, expired.json().error.code]).toEqual([401, 'SIGNATURE_EXPIRED']);
    const swapped = await post('/hooks/generic', body, { 'content-type': 'application/json', 'x-signature': sig(old), 'x-timestamp': now });
    expect([swapped.status, swapped.json().error.code]).toEqual([401, 'SIGNATURE_INVALID']);
    expect(upstream.received).toHaveLength(1);
  });
});

describe('routes without verify', () => {
  it('never forward a caller-sent X-PII-Gateway-Signature (only the gateway vouches with it)', async () => {
    const res = await post('/plain', '{}', { 'content-type': 'application/json', 'x-pii-gateway-signature': 't=1,v1=00' });
    expect(res.status).toBe(200);
    expect(upstream.received[0]!.headers['x-pii-gateway-signature']).toBeUndefined();
  });
});
