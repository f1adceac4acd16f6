/**
 * The echo guard through the real gateway (server/echo-guard.ts): providers echo the message in their answer,
 * and whatever the request resolved must go back to the platform as the token it came as, in success and
 * error answers, compressed or not, with response rules (the shipped rules/twilio.yaml) and without (a JSON
 * dispatch route with no response rules). The provider stand-in receives the real values; the platform's
 * raw response bytes hold none of them in any form an echo could take.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { gunzipSync, gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Received, type TestUpstream } from '../helpers/upstream.js';

const ROOT = path.resolve(import.meta.dirname, '../..');

// Canary values: a quote, non-ASCII and an astral character in the name, so that escaped forms differ.
const PHONE = '+15558675310';
const EMAIL = 'zoe.canary-echo@example.org';
const NAME = 'Zoë "Zed" Ånnabel 😀';

const SEND_RULES = `version: 1
upstreams:
  sender: { url: "\${SENDER_URL}" }
routes:
  - id: send
    match: { method: POST, path: /send }
    upstream: sender
    auth: { apiKey: true }
    request:
      codec: json
      fields:
        - { select: $.to, action: detokenize, type: phone, missing: skip }
        - { select: $.wa, action: detokenize, type: phone, phoneFormat: digits, missing: skip }
        - { select: $.email, action: detokenize, type: email, missing: skip }
        - { select: $.name, action: detokenize, type: opaque, missing: skip }
`;

let gw: TestGateway;
let provider: TestUpstream;
let keyDir: string;
const KEY = generateApiKey();
const tokens: Record<'phone' | 'email' | 'name', string> = { phone: '', email: '', name: '' };

beforeAll(async () => {
  provider = await startUpstream();
  keyDir = mkdtempSync(path.join(tmpdir(), 'echo-keys-'));
  writeFileSync(path.join(keyDir, 'api-keys'), `${apiKeyLine('dispatcher', ['tokenize', 'detokenize'], KEY)}\n`);
  gw = await startTestGateway({
    rules: { 'twilio.yaml': readFileSync(path.join(ROOT, 'rules/twilio.yaml'), 'utf8'), 'send.yaml': SEND_RULES },
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: { PII_GATEWAY_API_KEYS_FILE: path.join(keyDir, 'api-keys') },
    env: { TWILIO_URL: provider.url, TWILIO_WEBHOOK_URL: provider.url, SENDER_URL: provider.url },
  });
  tokens.phone = await tokenOf('phone', PHONE);
  tokens.email = await tokenOf('email', EMAIL);
  tokens.name = await tokenOf('opaque', NAME);
});

afterAll(async () => {
  await gw?.close();
  await provider?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(() => {
  provider.received.length = 0;
  provider.reply({});
});

async function tokenOf(type: string, value: string): Promise<string> {
  const res = await request(`${gw.vaultUrl}/v1/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ items: [{ type, value }] }),
  });
  expect(res.statusCode).toBe(200);
  return ((await res.body.json()) as { results: { token: string }[] }).results[0]!.token;
}

interface Answer {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  bytes: Buffer;
}

async function post(urlPath: string, body: string, contentType: string, extra: Record<string, string> = {}): Promise<Answer> {
  const res = await request(gw.url + urlPath, {
    method: 'POST',
    headers: { 'content-type': contentType, 'proxy-authorization': `Bearer ${KEY}`, ...extra },
    body,
  });
  return { status: res.statusCode, headers: res.headers, bytes: Buffer.from(await res.body.arrayBuffer()) };
}

const jsonInner = (s: string): string => JSON.stringify(s).slice(1, -1);
const asciiEscaped = (s: string, upper = false): string =>
  jsonInner(s).replace(/[^\x00-\x7f]/g, (c) => {
    const hex = c.charCodeAt(0).toString(16).padStart(4, '0');
    return `\\u${upper ? hex.toUpperCase() : hex}`;
  });

/** Every form a value could take in an echo: raw, JSON-escaped (once, twice, \\u), percent/form-encoded, no '+'. */
function echoForms(value: string): string[] {
  const forms = [value, jsonInner(value), asciiEscaped(value), asciiEscaped(value, true), jsonInner(jsonInner(value)), asciiEscaped(jsonInner(value))];
  forms.push(encodeURIComponent(value), new URLSearchParams([['', value]]).toString().slice(1));
  if (value.startsWith('+')) forms.push(value.slice(1));
  return forms;
}

/** The platform's answer (raw bytes, decoded if gzip) holds no resolved value in any form, nor a distinctive part of one. */
function expectNoValue(bytes: Buffer): void {
  const text = bytes.toString('utf8');
  const latin1 = bytes.toString('latin1');
  for (const v of [PHONE, EMAIL, NAME, 'Ånnabel', 'Zoë', 'canary-echo']) {
    for (const f of echoForms(v)) {
      expect(text).not.toContain(f);
      expect(latin1).not.toContain(f);
    }
  }
}

/** Python's json.dumps (ensure_ascii): what a provider written in Python answers. */
const pythonJson = (v: unknown): string => JSON.stringify(v).replace(/[^\x00-\x7f]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`);

function twilioForm(to: string): string {
  const vars = JSON.stringify({ '1': tokens.name, '2': tokens.email });
  return new URLSearchParams({ To: to, From: '+15017122661', Body: 'Your receipt', ContentSid: 'HX1', ContentVariables: vars }).toString();
}

/** A Twilio stand-in: 201 with the message resource, echoing `to`, a rendered body and the variables. */
function twilioEcho(req: Received): { status: number; body: string } {
  const form = new URLSearchParams(req.body.toString('utf8'));
  const vars = JSON.parse(form.get('ContentVariables')!) as Record<string, string>;
  return {
    status: 201,
    body: pythonJson({ sid: 'SM1', to: form.get('To'), status: 'queued', body: `Hi ${vars['1']}, receipt sent to ${vars['2']}`, content_variables: form.get('ContentVariables') }),
  };
}

describe('echo guard: rules/twilio.yaml (response rules run after it)', () => {
  it('201 echo: the platform gets its tokens back, never a value; Twilio got the values', async () => {
    provider.reply(twilioEcho);
    const res = await post('/2010-04-01/Accounts/AC1/Messages.json', twilioForm(tokens.phone), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(201);
    const sent = new URLSearchParams(provider.received[0]!.body.toString('utf8'));
    expect(sent.get('To')).toBe(PHONE);
    expect(JSON.parse(sent.get('ContentVariables')!)).toEqual({ '1': NAME, '2': EMAIL });
    expectNoValue(res.bytes);
    const answer = JSON.parse(res.bytes.toString('utf8')) as Record<string, string>;
    // `to` is tokenized again by the pack's rule: it keeps the token the guard wrote (not a token of it).
    expect(answer.to).toBe(tokens.phone);
    expect(answer.body).toBe(`Hi ${tokens.name}, receipt sent to ${tokens.email}`);
    expect(JSON.parse(answer.content_variables!)).toEqual({ '1': tokens.name, '2': tokens.email });
    expect(answer.sid).toBe('SM1');
  });

  it('WhatsApp recipient: whatsapp:<token> comes back as sent', async () => {
    provider.reply(twilioEcho);
    const res = await post('/2010-04-01/Accounts/AC1/Messages.json', twilioForm(`whatsapp:${tokens.phone}`), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(201);
    expectNoValue(res.bytes);
    expect((JSON.parse(res.bytes.toString('utf8')) as { to: string }).to).toBe(`whatsapp:${tokens.phone}`);
  });

  it('400 error that quotes the recipient (no `to` field, so no rule touches it): the token, not the number', async () => {
    provider.reply({
      status: 400,
      headers: { 'x-twilio-to': PHONE },
      body: JSON.stringify({ code: 21211, message: `The 'To' number ${PHONE} is not a valid phone number.`, status: 400 }),
    });
    const res = await post('/2010-04-01/Accounts/AC1/Messages.json', twilioForm(tokens.phone), 'application/x-www-form-urlencoded');
    expect(res.status).toBe(400);
    expectNoValue(res.bytes);
    expect(JSON.parse(res.bytes.toString('utf8'))).toEqual({ code: 21211, message: `The 'To' number ${tokens.phone} is not a valid phone number.`, status: 400 });
    expect(res.headers['x-twilio-to']).toBe(tokens.phone);
  });
});

describe('echo guard: a route without response rules', () => {
  const dispatch = (): string => JSON.stringify({ to: tokens.phone, wa: tokens.phone.slice(1), email: tokens.email, name: tokens.name, text: 'hello' });

  it('JSON echo of the request (escaped forms included): tokens back, values to the provider', async () => {
    provider.reply((req) => ({ status: 200, body: pythonJson({ echo: req.body.toString('utf8'), parsed: JSON.parse(req.body.toString('utf8')) }) }));
    const res = await post('/send', dispatch(), 'application/json');
    expect(res.status).toBe(200);
    expect(JSON.parse(provider.received[0]!.body.toString('utf8'))).toEqual({ to: PHONE, wa: PHONE.slice(1), email: EMAIL, name: NAME, text: 'hello' });
    expectNoValue(res.bytes);
    const answer = JSON.parse(res.bytes.toString('utf8')) as { echo: string; parsed: unknown };
    expect(answer.parsed).toEqual(JSON.parse(dispatch()));
    expect(JSON.parse(answer.echo)).toEqual(JSON.parse(dispatch()));
  });

  it('a gzip-compressed echo is decoded, checked and re-encoded', async () => {
    provider.reply((req) => ({ status: 202, headers: { 'content-encoding': 'gzip' }, body: gzipSync(req.body) }));
    const res = await post('/send', dispatch(), 'application/json', { 'accept-encoding': 'gzip' });
    expect(res.status).toBe(202);
    expect(res.headers['content-encoding']).toBe('gzip');
    const plain = gunzipSync(res.bytes);
    expectNoValue(plain);
    expect(JSON.parse(plain.toString('utf8'))).toEqual(JSON.parse(dispatch()));
  });

  it('text/plain and form-encoded echoes', async () => {
    provider.reply({ status: 200, headers: { 'content-type': 'text/plain; charset=utf-8' }, body: `sent to ${PHONE} (${NAME}, ${EMAIL})` });
    const plain = await post('/send', dispatch(), 'application/json');
    expectNoValue(plain.bytes);
    expect(plain.bytes.toString('utf8')).toBe(`sent to ${tokens.phone} (${tokens.name}, ${tokens.email})`);

    provider.reply({ status: 200, headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ to: PHONE, name: NAME, email: EMAIL }).toString() });
    const form = await post('/send', dispatch(), 'application/json');
    expectNoValue(form.bytes);
    expect(Object.fromEntries(new URLSearchParams(form.bytes.toString('utf8')))).toEqual({ to: tokens.phone, name: tokens.name, email: tokens.email });
  });

  it('an answer the gateway cannot read is refused (502), never passed back unchecked', async () => {
    const cases: Record<string, string>[] = [{ 'content-encoding': 'zstd' }, { 'content-type': 'text/plain; charset=shift_jis' }];
    for (const headers of cases) {
      provider.reply({ status: 200, headers, body: `sent to ${PHONE}` });
      const res = await post('/send', dispatch(), 'application/json', { 'accept-encoding': 'zstd' });
      expect(res.status).toBe(502);
      expect((JSON.parse(res.bytes.toString('utf8')) as { error: { code: string } }).error.code).toBe('UPSTREAM_RESPONSE_INVALID');
      expectNoValue(res.bytes);
    }
    // The upstream was only offered codings the gateway can decode.
    expect(provider.received.at(-1)!.headers['accept-encoding']).toBe('identity');
  });

  it('a request that resolved nothing gets the answer byte for byte, coding and charset untouched', async () => {
    const body = Buffer.concat([Buffer.from('not really zstd: '), Buffer.from(`${PHONE} ${NAME}`, 'utf8')]);
    provider.reply({ status: 200, headers: { 'content-encoding': 'zstd', 'content-type': 'text/plain; charset=shift_jis', 'x-to': PHONE }, body });
    const res = await post('/send', JSON.stringify({ text: 'no tokens here' }), 'application/json', { 'accept-encoding': 'zstd' });
    expect(res.status).toBe(200);
    expect(res.bytes.equals(body)).toBe(true);
    expect(res.headers['x-to']).toBe(PHONE);
    expect(provider.received[0]!.headers['accept-encoding']).toBe('zstd');
  });

  it('no resolved value in the logs', () => {
    for (const line of gw.logs.lines) for (const v of [PHONE, EMAIL, NAME, 'Ånnabel']) for (const f of echoForms(v)) expect(line).not.toContain(f);
  });
});
