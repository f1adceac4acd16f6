/**
 * The shipped rule packs (rules/*.yaml, all loaded together, as `npm start` does) against the providers'
 * documented payloads (test/fixtures/providers/), through the real gateway to real local stand-ins:
 *
 * - toward a platform: no listed PII value arrives; every byte but the tokenized/removed fields is as sent,
 *   and each token is exactly the deterministic token of its value (so it resolves on dispatch);
 * - toward a provider: the platform sends the payload with tokens, and the provider receives the
 *   documented payload byte for byte (detokenized values intact, in the form the provider expects).
 *
 * Dispatch routes need a caller credential (`auth: { apiKey: true }`) and a detokenize policy; both are
 * configured here as a deployment would (an API key file, a policy allowing loopback).
 */
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const fixture = (name: string): string => readFileSync(path.join(ROOT, 'test/fixtures/providers', name), 'utf8');

/** Every shipped pack, by file name (what the rules directory holds). */
function shippedPacks(): Record<string, string> {
  const dir = path.join(ROOT, 'rules');
  const out: Record<string, string> = {};
  for (const f of readdirSync(dir)) if (f.endsWith('.yaml') && !f.endsWith('.test.yaml')) out[f] = readFileSync(path.join(dir, f), 'utf8');
  return out;
}

let gw: TestGateway;
let platform: TestUpstream;
let provider: TestUpstream;
let keyDir: string;
const KEY = generateApiKey();

beforeAll(async () => {
  platform = await startUpstream();
  provider = await startUpstream();
  keyDir = mkdtempSync(path.join(tmpdir(), 'packs-keys-'));
  writeFileSync(path.join(keyDir, 'api-keys'), `${apiKeyLine('dispatcher', ['tokenize', 'detokenize'], KEY)}\n`);
  gw = await startTestGateway({
    rules: shippedPacks(),
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: { PII_GATEWAY_API_KEYS_FILE: path.join(keyDir, 'api-keys') },
    env: {
      CLEVERTAP_URL: platform.url,
      WEBENGAGE_URL: platform.url,
      WEBENGAGE_TRACKING_URL: platform.url,
      WEBENGAGE_SSP_URL: provider.url,
      WEBENGAGE_WSP_URL: provider.url,
      WEBENGAGE_ESP_URL: provider.url,
      TWILIO_URL: provider.url,
      TWILIO_WEBHOOK_URL: platform.url,
      SENDGRID_URL: provider.url,
      SENDGRID_WEBHOOK_URL: platform.url,
      WHATSAPP_URL: provider.url,
      WHATSAPP_WEBHOOK_URL: platform.url,
      INFOBIP_URL: provider.url,
      INFOBIP_WEBHOOK_URL: platform.url,
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await platform?.close();
  await provider?.close();
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(() => {
  platform.received.length = 0;
  provider.received.length = 0;
  platform.reply({});
  provider.reply({});
});

type TokenType = 'email' | 'phone' | 'opaque';

/** The gateway's deterministic token for a value (vault API, default namespace): what a pack must produce. */
async function tokenOf(type: TokenType, value: string): Promise<string> {
  const res = await request(`${gw.vaultUrl}/v1/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ items: [{ type, value }] }),
  });
  const out = (await res.body.json()) as { results: { token?: string }[] };
  expect(res.statusCode).toBe(200);
  return out.results[0]!.token!;
}

const withoutPlus = (token: string): string => token.replace(/^\+/, '');

async function send(
  urlPath: string,
  body: string,
  contentType = 'application/json',
  dispatch = false,
): Promise<{ status: number; body: string }> {
  const headers: Record<string, string> = { 'content-type': contentType };
  if (dispatch) headers['proxy-authorization'] = `Bearer ${KEY}`;
  const res = await request(gw.url + urlPath, { method: 'POST', headers, body });
  return { status: res.statusCode, body: await res.body.text() };
}

/** `text` with every occurrence of each `from` replaced by its `to`. */
function replaced(text: string, pairs: readonly (readonly [string, string])[]): string {
  let out = text;
  for (const [from, to] of pairs) out = out.split(from).join(to);
  return out;
}

/** Platform side: none of these PII values (nor their form encoding) arrived. */
function expectNoPii(received: string, values: readonly string[]): void {
  for (const v of values) {
    expect(received).not.toContain(v);
    expect(received).not.toContain(encodeURIComponent(v));
  }
}

function onlyRequest(up: TestUpstream): string {
  expect(up.received).toHaveLength(1);
  return up.received[0]!.body.toString('utf8');
}

describe('rules/webengage.yaml', () => {
  it('users: the documented payload reaches WebEngage with tokens, byte for byte otherwise', async () => {
    const sent = fixture('webengage-users.json');
    const res = await send('/v1/accounts/~15ba1da2b/users', sent);
    expect(res.status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['john@doe.com', '+551155256325', '"John"', '"Doe"', '1986-08-19T15:45:00-0800']);
    const expected = replaced(sent, [
      ['"john@doe.com"', JSON.stringify(await tokenOf('email', 'john@doe.com'))],
      ['"+551155256325"', JSON.stringify(await tokenOf('phone', '+551155256325'))],
      ['"John"', JSON.stringify(await tokenOf('opaque', 'John'))],
      ['"Doe"', JSON.stringify(await tokenOf('opaque', 'Doe'))],
      ['"1986-08-19T15:45:00-0800"', JSON.stringify(await tokenOf('opaque', '1986-08-19T15:45:00-0800'))],
    ]);
    expect(got).toBe(expected);
    expect(got).toContain('"userId":"johndoe"');
  });

  it('events: the documented payload passes as is (userId johndoe is a customer id)', async () => {
    const sent = fixture('webengage-events.json');
    expect((await send('/v1/accounts/lic/events', sent)).status).toBe(200);
    expect(onlyRequest(platform)).toBe(sent);
  });

  it('SSP / WSP / ESP: tokens in, the documented payloads out to the sender, byte for byte', async () => {
    const phone = withoutPlus(await tokenOf('phone', '+919999999999'));
    const ssp = fixture('webengage-ssp-request.json');
    const r1 = await send('/webengage/ssp', replaced(ssp, [['"919999999999"', `"${phone}"`]]), 'application/json', true);
    expect(r1.status).toBe(200);
    expect(onlyRequest(provider)).toBe(ssp);

    provider.received.length = 0;
    const wsp = fixture('webengage-wsp-request.json');
    const name = await tokenOf('opaque', 'john');
    const r2 = await send('/webengage/wsp', replaced(wsp, [['"919999999999"', `"${phone}"`], ['"john"', `"${name}"`]]), 'application/json', true);
    expect(r2.status).toBe(200);
    expect(onlyRequest(provider)).toBe(wsp);

    // The documented ESP request's recipient is an encoded id; a real address stands in for it here.
    provider.received.length = 0;
    const esp = replaced(fixture('webengage-esp-request.json'), [['"abc12345"', '"jane@example.com"']]);
    const tokens = [
      ['"jane@example.com"', JSON.stringify(await tokenOf('email', 'jane@example.com'))],
      ['"c@x.com"', JSON.stringify(await tokenOf('email', 'c@x.com'))],
    ] as const;
    const r3 = await send('/webengage/esp', replaced(esp, tokens), 'application/json', true);
    expect(r3.status).toBe(200);
    expect(onlyRequest(provider)).toBe(esp);
  });

  it('dispatch without the caller credential is refused before anything is resolved or sent', async () => {
    const phone = withoutPlus(await tokenOf('phone', '+919999999999'));
    const res = await send('/webengage/ssp', replaced(fixture('webengage-ssp-request.json'), [['"919999999999"', `"${phone}"`]]));
    expect(res.status).toBe(401);
    expect(provider.received).toHaveLength(0);
  });

  it('DSN: the number the sender knows goes back as the token WebEngage sent; messageId unchanged', async () => {
    const sent = replaced(fixture('webengage-dsn-sms.json'), [['"toNumber":"abc12345","status":"sms_sent"', '"toNumber":"919999999999","status":"sms_sent"']]);
    expect((await send('/tracking/events', sent)).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['919999999999']);
    const token = withoutPlus(await tokenOf('phone', '+919999999999'));
    expect(got).toBe(replaced(sent, [['"919999999999"', `"${token}"`]]));
    expect(got).toContain('"messageId":"webengage-message-id"');
  });
});

describe('rules/twilio.yaml', () => {
  it('Messages create: To=<token> reaches Twilio as the documented form; the answer goes back with a token', async () => {
    const form = fixture('twilio-messages-create.form');
    const token = await tokenOf('phone', '+15558675310');
    const answer = fixture('twilio-messages-create.response.json');
    provider.reply({ status: 201, body: answer });
    const res = await send(
      '/2010-04-01/Accounts/ACXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXXX/Messages.json',
      replaced(form, [['To=%2B15558675310', `To=${encodeURIComponent(token)}`]]),
      'application/x-www-form-urlencoded',
      true,
    );
    expect(res.status).toBe(201);
    expect(onlyRequest(provider)).toBe(form);
    expectNoPii(res.body, ['15558675310']);
    expect(res.body).toBe(replaced(answer, [['"to":"+15558675310"', `"to":"${token}"`]]));
  });

  it('Messages create to WhatsApp: whatsapp:<token> arrives as whatsapp:+number', async () => {
    const token = await tokenOf('phone', '+15558675310');
    provider.reply({ status: 201, body: '{"sid":"SM1","to":"whatsapp:+15558675310"}' });
    const res = await send('/2010-04-01/Accounts/AC1/Messages.json', `To=whatsapp%3A${encodeURIComponent(token)}&Body=hi`, 'application/x-www-form-urlencoded', true);
    expect(res.status).toBe(201);
    expect(onlyRequest(provider)).toBe('To=whatsapp%3A%2B15558675310&Body=hi');
    expect(res.body).toBe(`{"sid":"SM1","to":"whatsapp:${token}"}`);
  });

  it('StatusCallback: To and From arrive as tokens, every other byte as Twilio sent it', async () => {
    const form = fixture('twilio-status-callback.form');
    expect((await send('/hooks/twilio/status', form, 'application/x-www-form-urlencoded')).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['+15558675310', '+15017122661']);
    const to = encodeURIComponent(await tokenOf('phone', '+15558675310'));
    const from = encodeURIComponent(await tokenOf('phone', '+15017122661'));
    expect(got).toBe(replaced(form, [['To=%2B15558675310', `To=${to}`], ['From=%2B15017122661', `From=${from}`]]));
  });

  it('inbound STOP: From arrives as a token, STOP kept, the sender location removed', async () => {
    const form = fixture('twilio-inbound-stop.form');
    expect((await send('/hooks/twilio/inbound', form, 'application/x-www-form-urlencoded')).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['+15558675310', 'SAN+FRANCISCO', '94105', 'FromState']);
    const from = encodeURIComponent(await tokenOf('phone', '+15558675310'));
    expect(got).toBe(replaced(form, [['FromZip=94105&', ''], ['FromState=CA&', ''], ['FromCity=SAN+FRANCISCO&', ''], ['From=%2B15558675310', `From=${from}`]]));
    expect(new URLSearchParams(got).get('Body')).toBe('STOP');
  });
});

describe('rules/sendgrid.yaml', () => {
  it('mail send: recipients and names as tokens in, the documented request out, byte for byte', async () => {
    const doc = fixture('sendgrid-mail-send.json');
    provider.reply({ status: 202, body: '' });
    const sent = replaced(doc, [
      ['"john.doe@example.com"', JSON.stringify(await tokenOf('email', 'john.doe@example.com'))],
      ['"jane.roe@example.com"', JSON.stringify(await tokenOf('email', 'jane.roe@example.com'))],
      ['"John Doe"', JSON.stringify(await tokenOf('opaque', 'John Doe'))],
      ['"first_name":"John"', `"first_name":${JSON.stringify(await tokenOf('opaque', 'John'))}`],
    ]);
    const res = await send('/v3/mail/send', sent, 'application/json', true);
    expect(res.status).toBe(202);
    expect(onlyRequest(provider)).toBe(doc);
  });

  it('event webhook: email tokens, no ip / useragent / url, bounce text scanned, the rest byte for byte', async () => {
    const events = fixture('sendgrid-events.json');
    expect((await send('/hooks/sendgrid/events', events)).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['example@test.com', '255.255.255.255', 'Mozilla', 'http://www.sendgrid.com/']);
    const token = await tokenOf('email', 'example@test.com');
    const expected = replaced(events, [['example@test.com', token]])
      .replace(/,"useragent":"[^"]*"/g, '')
      .replace(/,"ip":"[^"]*"/g, '')
      .replace(/,"url":"[^"]*"/g, '');
    expect(got).toBe(expected);
  });
});

describe('rules/whatsapp.yaml', () => {
  it('send: to and the name parameter as tokens in, the documented request out; the answer re-tokenized', async () => {
    const doc = fixture('whatsapp-send.json');
    const answer = fixture('whatsapp-send.response.json');
    provider.reply({ body: answer });
    const phone = await tokenOf('phone', '+16505551234');
    const sent = replaced(doc, [['"16505551234"', `"${withoutPlus(phone)}"`], ['"text":"John"', `"text":${JSON.stringify(await tokenOf('opaque', 'John'))}`]]);
    const res = await send('/v21.0/106540352242922/messages', sent, 'application/json', true);
    expect(res.status).toBe(200);
    expect(onlyRequest(provider)).toBe(doc);
    expectNoPii(res.body, ['16505551234']);
    expect(res.body).toBe(replaced(answer, [['"+16505551234"', `"${phone}"`], ['"16505551234"', `"${withoutPlus(phone)}"`]]));
  });

  it('webhook: every number and the profile name arrive as tokens, the rest byte for byte', async () => {
    const doc = fixture('whatsapp-webhook.json');
    expect((await send('/hooks/whatsapp', doc)).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['16505551234', 'Sheena Nelson']);
    const phone = withoutPlus(await tokenOf('phone', '+16505551234'));
    expect(got).toBe(replaced(doc, [['"16505551234"', `"${phone}"`], ['"Sheena Nelson"', JSON.stringify(await tokenOf('opaque', 'Sheena Nelson'))]]));
  });
});

describe('rules/infobip.yaml', () => {
  it('send: the destination token in, the documented request out; delivery report back with the token', async () => {
    const doc = fixture('infobip-send.json');
    const phone = withoutPlus(await tokenOf('phone', '+41793026727'));
    const res = await send('/sms/2/text/advanced', replaced(doc, [['"41793026727"', `"${phone}"`]]), 'application/json', true);
    expect(res.status).toBe(200);
    expect(onlyRequest(provider)).toBe(doc);

    const dlr = fixture('infobip-dlr.json');
    expect((await send('/hooks/infobip/dlr', dlr)).status).toBe(200);
    const got = onlyRequest(platform);
    expectNoPii(got, ['41793026727']);
    expect(got).toBe(replaced(dlr, [['"41793026727"', `"${phone}"`]]));
  });
});
