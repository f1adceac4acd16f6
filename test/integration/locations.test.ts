/**
 * The real gateway between a client and a real upstream for PII outside a flat JSON body: query-string
 * parameters and headers (both directions), a form body with a JSON document inside a field (Twilio
 * ContentVariables), and free text scanned in a response.
 */
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { createTokenSpec } from '../../src/tokens/index.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const EMAIL = 'jack.montana@gmail.com';
const PHONE = '+14155550123';

const rules = (upstream: string) => `
version: 1
namespace: demo
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: lookup
    match: { method: GET, path: /lookup }
    upstream: up
    auth: none
    request:
      fields:
        - { select: "query:email", action: tokenize, type: email }
        - { select: "header:X-User-Phone", action: tokenize, type: phone }
    response:
      fields:
        - { select: "header:X-Contact", action: detokenize, type: email, missing: skip }
        - { select: $.email, action: detokenize, type: email, missing: skip }
  - id: send-sms
    match: { method: POST, path: /2010-04-01/Accounts/:sid/Messages.json }
    upstream: up
    auth: none
    request:
      codec: form
      fields:
        - { select: To, action: detokenize, type: phone }
        - select: ContentVariables
          codec: json
          fields:
            - { select: "$.1", action: detokenize, type: email }
    response:
      fields:
        - { select: $.message, action: scan, missing: skip }
`;

let upstream: TestUpstream;
let gw: TestGateway;

beforeEach(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ rules: { 'demo.yaml': rules(upstream.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

async function tokenize(type: 'email' | 'phone', value: string): Promise<string> {
  const [token] = await gw.gw.vault.tokenize([{ spec: createTokenSpec({ type, namespace: 'demo' }, gw.gw.keyring), value }]);
  return token!;
}

describe('query string and headers', () => {
  it('tokenizes a query parameter and a request header on the way up, byte-exact elsewhere', async () => {
    const res = await request(`${gw.url}/lookup?a=%7e+x&email=${encodeURIComponent(EMAIL)}&b`, {
      headers: { 'X-User-Phone': PHONE, 'x-other': 'kept' },
    });
    await res.body.text();
    expect(res.statusCode).toBe(200);
    const got = upstream.received[0]!;
    const emailToken = await tokenize('email', EMAIL);
    const phoneToken = await tokenize('phone', PHONE);
    expect(got.url).toBe(`/lookup?a=%7e+x&email=${encodeURIComponent(emailToken).replace(/%20/g, '+')}&b`);
    expect(got.headers['x-user-phone']).toBe(phoneToken);
    expect(got.headers['x-other']).toBe('kept');
    expect(JSON.stringify(got.headers) + got.url).not.toContain('4155550123');
    expect(got.url).not.toContain('jack');
  });

  it('resolves a token in a response header and body for the client', async () => {
    const emailToken = await tokenize('email', EMAIL);
    upstream.reply({ headers: { 'x-contact': emailToken }, body: JSON.stringify({ email: emailToken, n: 1 }) });
    const res = await request(`${gw.url}/lookup?email=${encodeURIComponent(EMAIL)}`, { headers: { 'x-user-phone': PHONE } });
    const text = await res.body.text();
    expect(res.statusCode).toBe(200);
    expect(res.headers['x-contact']).toBe(EMAIL);
    expect(JSON.parse(text)).toEqual({ email: EMAIL, n: 1 });
  });

  it('refuses a request without the query parameter (fail closed), before anything is forwarded', async () => {
    const res = await request(`${gw.url}/lookup?a=1`, { headers: { 'x-user-phone': PHONE } });
    const body = (await res.body.json()) as { error: { code: string; message: string } };
    expect(res.statusCode).toBe(400);
    expect(body.error.code).toBe('FIELD_MISSING');
    expect(body.error.message).toContain('query:email');
    expect(upstream.received).toHaveLength(0);
  });
});

describe('Twilio: form body with a JSON document in ContentVariables', () => {
  it('resolves To and the token inside ContentVariables; scans the provider message on the way back', async () => {
    const phoneToken = await tokenize('phone', PHONE);
    const emailToken = await tokenize('email', EMAIL);
    upstream.reply({ status: 400, body: JSON.stringify({ code: 21211, message: `The 'To' number ${PHONE} is not valid` }) });
    const form = `To=${encodeURIComponent(phoneToken)}&From=%2B15005550006&ContentSid=HX123&ContentVariables=${encodeURIComponent(
      JSON.stringify({ 1: emailToken, 2: '3pm' }),
    )}`;
    const res = await request(`${gw.url}/2010-04-01/Accounts/AC1/Messages.json`, {
      method: 'POST',
      body: form,
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
    });
    const text = await res.body.text();
    const sent = new URLSearchParams(upstream.received[0]!.body.toString('latin1'));
    expect(sent.get('To')).toBe(PHONE);
    expect(JSON.parse(sent.get('ContentVariables')!)).toEqual({ 1: EMAIL, 2: '3pm' });
    expect(upstream.received[0]!.body.toString('latin1')).toContain('&From=%2B15005550006&ContentSid=HX123&');
    expect(res.statusCode).toBe(400);
    expect(JSON.parse(text)).toEqual({ code: 21211, message: `The 'To' number ${phoneToken} is not valid` });
  });
});
