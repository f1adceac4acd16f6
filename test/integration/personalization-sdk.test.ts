/**
 * Issue 16, "Done when": personalized messages sent with the providers' own SDKs (twilio-node,
 * @sendgrid/mail) and plain HTTP (WhatsApp Cloud API, Infobip) through the real gateway, loaded with the
 * shipped packs read from rules/ with no edits, to local stand-ins that answer as the providers do.
 *
 * - The platform side holds only tokens: a person's name, email and phone are tokenized first through the
 *   vault API, and the messages are rendered with those tokens ("Hi <name token>, ...").
 * - The provider receives the real values in its message text, HTML-escaped inside HTML content.
 * - Nothing the platform gets back (the SDKs' results, the raw answers) holds a resolved value, in any
 *   form: raw, JSON-escaped, percent- or form-encoded, HTML-escaped.
 * - An unknown token inside a Twilio Body refuses the send (422 UNKNOWN_TOKEN) and nothing reaches Twilio.
 *
 * Pointing the SDKs at the gateway: twilio-node has no base-URL option (edge/region only build
 * *.twilio.com host names), so a RequestClient subclass rewrites each URL to the gateway and adds the
 * Proxy-Authorization header; @sendgrid/client takes `defaultRequest.baseUrl` and a default header, but
 * `setApiKey` resets baseUrl to api.sendgrid.com, so the base URL is set after the key.
 *
 * Checked to fail (temporary copies, not committed) with: twilio `Body` rule removed (both Twilio tests),
 * sendgrid `content[*].value` escape set to plain, the sendgrid subject rule removed, the whatsapp
 * `text.body` and infobip `text` rules removed, and the echo guard off in proxy-app.ts (the SDK's
 * `message.body`, and on its own the canary scan of the SDK result).
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Client as SendGridClient } from '@sendgrid/client';
import { MailService } from '@sendgrid/mail';
import twilio from 'twilio';
import type RequestClient from 'twilio/lib/base/RequestClient.js';
import type * as TwilioHttp from 'twilio/lib/http/response.js';
import { request } from 'undici';
import { afterAll, beforeAll, beforeEach, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { canaryTextForms } from '../helpers/canary.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type Received, type TestUpstream } from '../helpers/upstream.js';

const ROOT = path.resolve(import.meta.dirname, '../..');
const PACKS = ['twilio.yaml', 'sendgrid.yaml', 'whatsapp.yaml', 'infobip.yaml'];

/** The person's profile (canary values: a leak names this test). */
const NAME = 'Ann <Lee & Co> Canary7731';
const NAME_HTML = 'Ann &lt;Lee &amp; Co&gt; Canary7731';
const EMAIL = 'ann.canary7731@example.com';
const PHONE = '+14155550199';
const PHONE_DIGITS = PHONE.slice(1);

const ACCOUNT_SID = `AC${'0'.repeat(32)}`;
const KEY = generateApiKey();

let gw: TestGateway;
let twilioUp: TestUpstream;
let sendgridUp: TestUpstream;
let whatsappUp: TestUpstream;
let infobipUp: TestUpstream;
let keyDir: string;
/** The platform's tokens for the profile (vault API). */
let tok: { name: string; email: string; phone: string };

beforeAll(async () => {
  [twilioUp, sendgridUp, whatsappUp, infobipUp] = await Promise.all([startUpstream(), startUpstream(), startUpstream(), startUpstream()]);
  keyDir = mkdtempSync(path.join(tmpdir(), 'personalization-sdk-'));
  writeFileSync(path.join(keyDir, 'api-keys'), `${apiKeyLine('platform', ['tokenize', 'detokenize'], KEY)}\n`);
  const rules = Object.fromEntries(PACKS.map((f) => [f, readFileSync(path.join(ROOT, 'rules', f), 'utf8')]));
  gw = await startTestGateway({
    rules,
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: { PII_GATEWAY_API_KEYS_FILE: path.join(keyDir, 'api-keys') },
    env: {
      TWILIO_URL: twilioUp.url,
      SENDGRID_URL: sendgridUp.url,
      WHATSAPP_URL: whatsappUp.url,
      INFOBIP_URL: infobipUp.url,
      // webhook routes (not exercised here) need somewhere to point
      TWILIO_WEBHOOK_URL: 'http://127.0.0.1:9',
      SENDGRID_WEBHOOK_URL: 'http://127.0.0.1:9',
      WHATSAPP_WEBHOOK_URL: 'http://127.0.0.1:9',
      INFOBIP_WEBHOOK_URL: 'http://127.0.0.1:9',
    },
  });
  // Platform side: the profile is tokenized first, as the inbound packs would have done.
  const res = await request(`${gw.vaultUrl}/v1/tokenize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${KEY}` },
    body: JSON.stringify({ items: [{ type: 'opaque', value: NAME }, { type: 'email', value: EMAIL }, { type: 'phone', value: PHONE }] }),
  });
  expect(res.statusCode).toBe(200);
  const out = (await res.body.json()) as { results: { token: string }[] };
  tok = { name: out.results[0]!.token, email: out.results[1]!.token, phone: out.results[2]!.token };
  for (const t of Object.values(tok)) expectNoCanary(t);
});

afterAll(async () => {
  await gw?.close();
  await Promise.all([twilioUp, sendgridUp, whatsappUp, infobipUp].map((u) => u?.close()));
  rmSync(keyDir, { recursive: true, force: true });
});

beforeEach(() => {
  for (const u of [twilioUp, sendgridUp, whatsappUp, infobipUp]) u.received.length = 0;
});

// ---------------------------------------------------------------------------------------------------------
// What the platform got back must hold no resolved value in any form.

const CANARIES = { name: NAME, email: EMAIL, phone: PHONE };
const CANARY_FORMS = [
  ...new Set([
    ...canaryTextForms(CANARIES),
    ...Object.values(CANARIES).flatMap((v) => [
      JSON.stringify(v).slice(1, -1),
      JSON.stringify(v).slice(1, -1).replace(/[<>&]/g, (c) => `\\u${c.charCodeAt(0).toString(16).padStart(4, '0')}`),
      new URLSearchParams({ v }).toString().slice(2),
      v.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;'),
    ]),
    // pieces that survive any encoding
    'Canary7731',
    'canary7731',
    PHONE_DIGITS,
  ]),
];

function expectNoCanary(text: string): void {
  for (const form of CANARY_FORMS) expect(text, `a resolved value (${JSON.stringify(form)}) went back to the platform`).not.toContain(form);
}

function only(up: TestUpstream): Received {
  expect(up.received).toHaveLength(1);
  return up.received[0]!;
}

// ---------------------------------------------------------------------------------------------------------
// twilio-node pointed at the gateway.

interface RawAnswer {
  statusCode: number;
  body: unknown;
  headers: unknown;
}

/** twilio-node's HTTP client, sending to the gateway instead of api.twilio.com; keeps every raw answer. */
class GatewayRequestClient extends twilio.RequestClient {
  readonly answers: RawAnswer[] = [];
  constructor(private readonly base: string) {
    super();
  }
  override async request<TData>(opts: RequestClient.RequestOptions<TData>): Promise<TwilioHttp.default<TData>> {
    const original = new URL(opts.uri);
    const uri = new URL(original.pathname + original.search, this.base).href;
    const headers = { ...opts.headers, 'Proxy-Authorization': `Bearer ${KEY}` };
    const res = await super.request<TData>({ ...opts, uri, headers });
    this.answers.push({ statusCode: res.statusCode, body: res.body, headers: res.headers });
    return res;
  }
}

/** Twilio's Messages create answer: 201 JSON echoing to, from and body, as Twilio does. */
function twilioAnswer(req: Received) {
  const form = new URLSearchParams(req.body.toString('utf8'));
  const sid = 'SM' + 'a'.repeat(32);
  return {
    status: 201,
    body: JSON.stringify({
      account_sid: ACCOUNT_SID,
      api_version: '2010-04-01',
      body: form.get('Body'),
      date_created: 'Thu, 24 Aug 2023 05:01:45 +0000',
      direction: 'outbound-api',
      error_code: null,
      error_message: null,
      from: form.get('From'),
      num_segments: '1',
      price: null,
      sid,
      status: 'queued',
      to: form.get('To'),
      uri: `/2010-04-01/Accounts/${ACCOUNT_SID}/Messages/${sid}.json`,
    }),
  };
}

describe('twilio-node through rules/twilio.yaml', () => {
  it('Body with name and email tokens reaches Twilio with the real values; the SDK gets tokens back', async () => {
    twilioUp.reply(twilioAnswer);
    const http = new GatewayRequestClient(gw.url);
    const client = twilio(ACCOUNT_SID, 'auth-token-of-the-platform', { httpClient: http });
    const message = await client.messages.create({ to: tok.phone, from: '+15005550006', body: `Hi ${tok.name}, we wrote to ${tok.email}.` });

    const got = only(twilioUp);
    expect(got.url).toBe(`/2010-04-01/Accounts/${ACCOUNT_SID}/Messages.json`);
    expect(got.headers.authorization).toBe(`Basic ${Buffer.from(`${ACCOUNT_SID}:auth-token-of-the-platform`).toString('base64')}`);
    expect(got.headers['proxy-authorization']).toBeUndefined();
    const form = new URLSearchParams(got.body.toString('utf8'));
    expect(form.get('To')).toBe(PHONE);
    expect(form.get('From')).toBe('+15005550006');
    expect(form.get('Body')).toBe(`Hi ${NAME}, we wrote to ${EMAIL}.`);

    // What the platform got: the tokens it sent, no value.
    expect(message.to).toBe(tok.phone);
    expect(message.body).toBe(`Hi ${tok.name}, we wrote to ${tok.email}.`);
    expect(message.status).toBe('queued');
    expectNoCanary(JSON.stringify(message.toJSON()));
    expect(http.answers).toHaveLength(1);
    expect(http.answers[0]!.statusCode).toBe(201);
    expectNoCanary(JSON.stringify(http.answers[0]));
  });

  it('an unknown token inside Body is refused (422 UNKNOWN_TOKEN) and Twilio receives nothing', async () => {
    twilioUp.reply(twilioAnswer);
    const spec = createTokenSpec({ type: 'opaque', namespace: 'default' }, gw.gw.keyring);
    const ghost = spec.format.derive(spec.format.normalize('Nobody Known'), 'default', 7); // passes the keyed check, never issued
    const http = new GatewayRequestClient(gw.url);
    const client = twilio(ACCOUNT_SID, 'auth-token-of-the-platform', { httpClient: http });
    const err = await client.messages.create({ to: tok.phone, from: '+15005550006', body: `Hi ${tok.name} and ${ghost}, we wrote to ${tok.email}.` }).then(
      () => undefined,
      (e: unknown) => e as { status?: number },
    );
    expect(err?.status).toBe(422);
    expect(twilioUp.received).toHaveLength(0);
    expect(http.answers).toHaveLength(1);
    const raw = http.answers[0]!;
    expect(raw.statusCode).toBe(422);
    expect(raw.body).toMatchObject({ error: { code: 'UNKNOWN_TOKEN', field: 'Body' } });
    expectNoCanary(JSON.stringify(raw));
    expectNoCanary(JSON.stringify(err) + String((err as Error).message));
  });
});

// ---------------------------------------------------------------------------------------------------------
// @sendgrid/mail pointed at the gateway.

describe('@sendgrid/mail through rules/sendgrid.yaml', () => {
  it('subject, text and HTML with tokens reach SendGrid with the real values, HTML-escaped in the HTML part', async () => {
    sendgridUp.reply({ status: 202, headers: { 'x-message-id': 'sg-msg-1' }, body: '' });
    const client = new SendGridClient();
    client.setApiKey('SG.platform-key');
    client.setDefaultRequest('baseUrl', `${gw.url}/`); // after setApiKey, which resets it to api.sendgrid.com
    client.setDefaultHeader('Proxy-Authorization', `Bearer ${KEY}`);
    const mail = new MailService();
    mail.setClient(client);
    const result = await mail.send({
      to: tok.email,
      from: 'shop@example.org',
      subject: `Order for ${tok.name}`,
      text: `Hi ${tok.name}`,
      html: `<p>Hi ${tok.name}</p>`,
    });

    const got = only(sendgridUp);
    expect(got.url).toBe('/v3/mail/send');
    expect(got.headers.authorization).toBe('Bearer SG.platform-key');
    expect(got.headers['proxy-authorization']).toBeUndefined();
    const raw = got.body.toString('utf8');
    const sent = JSON.parse(raw) as {
      personalizations: { to: { email: string }[]; subject?: string }[];
      subject?: string;
      content: { type: string; value: string }[];
    };
    expect(sent.personalizations[0]!.to[0]!.email).toBe(EMAIL);
    expect(sent.subject ?? sent.personalizations[0]!.subject).toBe(`Order for ${NAME}`);
    const text = sent.content.find((c) => c.type === 'text/plain');
    const html = sent.content.find((c) => c.type === 'text/html');
    expect(text?.value).toBe(`Hi ${NAME}`);
    expect(html?.value).toBe(`<p>Hi ${NAME_HTML}</p>`);
    expect(html?.value).not.toContain('<Lee');
    expect(raw).not.toContain(tok.name);
    expect(raw).not.toContain(tok.email);

    const [response, body] = result;
    expect(response.statusCode).toBe(202);
    expectNoCanary(JSON.stringify(response));
    expectNoCanary(JSON.stringify(body ?? null));
  });
});

// ---------------------------------------------------------------------------------------------------------
// WhatsApp and Infobip with plain HTTP.

async function dispatch(url: string, body: unknown, auth: string): Promise<{ status: number; text: string; headers: string }> {
  const res = await request(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: auth, 'proxy-authorization': `Bearer ${KEY}` },
    body: JSON.stringify(body),
  });
  return { status: res.statusCode, text: await res.body.text(), headers: JSON.stringify(res.headers) };
}

const digits = (phoneToken: string): string => phoneToken.replace(/^\+/, '');

describe('WhatsApp Cloud API through rules/whatsapp.yaml', () => {
  it('a free-form text with tokens reaches Meta with the real values; the answer holds none', async () => {
    whatsappUp.reply((req) => {
      const sent = JSON.parse(req.body.toString('utf8')) as { to: string };
      return {
        body: JSON.stringify({
          messaging_product: 'whatsapp',
          contacts: [{ input: sent.to, wa_id: sent.to }],
          messages: [{ id: 'wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3' }],
        }),
      };
    });
    const res = await dispatch(
      `${gw.url}/v21.0/106540352242922/messages`,
      {
        messaging_product: 'whatsapp',
        recipient_type: 'individual',
        to: digits(tok.phone),
        type: 'text',
        text: { preview_url: false, body: `Hi ${tok.name}, we wrote to ${tok.email}.` },
      },
      'Bearer meta-access-token',
    );

    const got = JSON.parse(only(whatsappUp).body.toString('utf8')) as { to: string; text: { body: string } };
    expect(got.to).toBe(PHONE_DIGITS);
    expect(got.text.body).toBe(`Hi ${NAME}, we wrote to ${EMAIL}.`);

    expect(res.status).toBe(200);
    const answer = JSON.parse(res.text) as { contacts: { input: string; wa_id: string }[]; messages: { id: string }[] };
    expect(answer.contacts[0]).toEqual({ input: digits(tok.phone), wa_id: digits(tok.phone) });
    expect(answer.messages[0]!.id).toBe('wamid.HBgLMTY1MDM4Nzk0MzkVAgARGBI3');
    expectNoCanary(res.text);
    expectNoCanary(res.headers);
  });
});

describe('Infobip SMS through rules/infobip.yaml', () => {
  it('an SMS text with tokens reaches Infobip with the real values; the answer holds none', async () => {
    infobipUp.reply((req) => {
      const sent = JSON.parse(req.body.toString('utf8')) as { messages: { destinations: { to: string }[] }[] };
      return {
        body: JSON.stringify({
          bulkId: '2034072219640523072',
          messages: [
            {
              messageId: '2250be2d4219-3af1-78856-aabe-1362af1edfd2',
              status: { description: 'Message sent to next instance', groupId: 1, groupName: 'PENDING', id: 26, name: 'PENDING_ACCEPTED' },
              to: sent.messages[0]!.destinations[0]!.to,
            },
          ],
        }),
      };
    });
    const res = await dispatch(
      `${gw.url}/sms/2/text/advanced`,
      { messages: [{ destinations: [{ to: digits(tok.phone) }], from: 'InfoSMS', text: `Hi ${tok.name}, we wrote to ${tok.email}.` }] },
      'App infobip-api-key',
    );

    const got = JSON.parse(only(infobipUp).body.toString('utf8')) as { messages: { destinations: { to: string }[]; text: string }[] };
    expect(got.messages[0]!.destinations[0]!.to).toBe(PHONE_DIGITS);
    expect(got.messages[0]!.text).toBe(`Hi ${NAME}, we wrote to ${EMAIL}.`);

    expect(res.status).toBe(200);
    const answer = JSON.parse(res.text) as { messages: { to: string; status: { groupName: string } }[] };
    expect(answer.messages[0]!.to).toBe(digits(tok.phone));
    expect(answer.messages[0]!.status.groupName).toBe('PENDING');
    expectNoCanary(res.text);
    expectNoCanary(res.headers);
  });
});
