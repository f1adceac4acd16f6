/**
 * Purpose-bound detokenization on a real gateway: the detokenize policy decides toward which hosts each
 * token type may be resolved (refused at load with file:line when a rule contradicts it, per request when
 * the rule leaves the type open), routes that detokenize stay disabled without a policy, and the vault API
 * resolves only for a stated purpose, a caller listed for it and the types it allows.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenType } from '../../src/tokens/types.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const PHONE = '+14155550199';
const EMAIL = 'jack.canary@example.com';

const echoRules = (upstream: string, type: string) => `
version: 1
upstreams:
  echo: { url: "${upstream}" }
routes:
  - id: echo
    match: { method: POST, path: /echo }
    upstream: echo
    auth: none
    request:
      fields:
        - { select: $.to, action: detokenize${type === '' ? '' : `, type: ${type}`} }
  - id: upload
    match: { method: POST, path: /upload }
    upstream: echo
    request:
      fields:
        - { select: $.email, action: tokenize, type: email }
`;

let up: TestUpstream;
let gw: TestGateway | undefined;

beforeAll(async () => {
  up = await startUpstream();
  return () => up.close();
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as Record<string, any> };
}

async function tokenOf(g: TestGateway, type: TokenType, value: string): Promise<string> {
  const [t] = await g.gw.vault.tokenize([{ spec: createTokenSpec({ type, namespace: 'default' }, g.gw.keyring), value }]);
  return t!;
}

describe('proxy routes', () => {
  it('refuses at load time a rule that detokenizes phone toward a host the policy does not list (file:line)', async () => {
    const start = startTestGateway({
      rules: { 'echo.yaml': echoRules(up.url, 'phone') },
      detokenizePolicy: 'version: 1\ndestinations:\n  phone: [api.twilio.com, "*.infobip.com"]\n  email: [127.0.0.1]\n',
    });
    await expect(start).rejects.toMatchObject({ code: 'RULES_INVALID' });
    const err = (await start.catch((e: unknown) => e)) as Error;
    expect(err.message).toMatch(/echo\.yaml:12:\d+: route 'echo' field '\$\.to': the detokenize policy \(.*\) does not allow phone tokens to be resolved toward 127\.0\.0\.1/);
  });

  it('refuses per request a type the policy does not allow when the rule leaves the type open', async () => {
    gw = await startTestGateway({ rules: { 'echo.yaml': echoRules(up.url, '') }, detokenizePolicy: 'version: 1\ndestinations:\n  email: [127.0.0.1]\n' });
    const phone = await tokenOf(gw, 'phone', PHONE);
    const email = await tokenOf(gw, 'email', EMAIL);
    const before = up.received.length;
    const refused = await post(gw.url + '/echo', { to: phone });
    expect(refused.status).toBe(403);
    expect(refused.json.error).toMatchObject({ code: 'FORBIDDEN', message: expect.stringContaining('phone tokens') });
    expect(refused.text).not.toContain(PHONE);
    expect(up.received.length).toBe(before);
    expect(gw.logs.lines.join('\n')).not.toContain(PHONE);

    const ok = await post(gw.url + '/echo', { to: email });
    expect(ok.status).toBe(200);
    expect(JSON.parse(up.received.at(-1)!.body.toString()).to).toBe(EMAIL);
  });

  it('without a policy a detokenizing route stays disabled (404 with the reason); tokenizing routes work', async () => {
    gw = await startTestGateway({ rules: { 'echo.yaml': echoRules(up.url, 'phone') } });
    const phone = await tokenOf(gw, 'phone', PHONE);
    const before = up.received.length;
    const r = await post(gw.url + '/echo', { to: phone });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/disabled: it detokenizes and no detokenize policy is configured/);
    expect(up.received.length).toBe(before);
    expect(gw.logs.records().some((l) => l.msg === 'route disabled until configured' && l.route === 'echo/echo')).toBe(true);
    expect((await post(gw.url + '/upload', { email: EMAIL })).status).toBe(200);
  });

  it('refuses at load time a detokenize route that says nothing about who may call it', async () => {
    const text = echoRules(up.url, 'phone').replace('    auth: none\n', '');
    await expect(startTestGateway({ rules: { 'echo.yaml': text }, detokenizePolicy: 'version: 1\ndestinations: { phone: [127.0.0.1] }\n' })).rejects.toThrow(
      /echo\.yaml:6:\d+: route 'echo': this route detokenizes \(\$\.to, line 11\) but says nothing about who may call it/,
    );
  });
});

describe('vault API purposes', () => {
  const keys = { dispatcher: generateApiKey(), other: generateApiKey() };
  const POLICY = `version: 1
purposes:
  sms_dispatch: { callers: ["apikey:dispatcher"], types: [phone] }
  email_dispatch: { callers: ["apikey:dispatcher", "apikey:other"], types: [email] }
`;

  async function start() {
    const dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-keys-'));
    const file = path.join(dir, 'keys.txt');
    writeFileSync(file, `${apiKeyLine('dispatcher', ['detokenize'], keys.dispatcher)}\n${apiKeyLine('other', ['detokenize'], keys.other)}\n`);
    const uploadOnly = echoRules(up.url, 'phone').replace(/  - id: echo[\s\S]*?(?=  - id: upload)/, '');
    return startTestGateway({ rules: { 'upload.yaml': uploadOnly }, detokenizePolicy: POLICY, settings: { PII_GATEWAY_API_KEYS_FILE: file } });
  }

  it('resolves only for a listed purpose, a caller listed for it, and the types it allows', async () => {
    gw = await start();
    const phone = await tokenOf(gw, 'phone', PHONE);
    const email = await tokenOf(gw, 'email', EMAIL);
    const det = (key: string, body: Record<string, unknown>) => post(gw!.vaultUrl + '/v1/detokenize', body, { authorization: `Bearer ${key}` });

    const noPurpose = await det(keys.dispatcher, { items: [{ token: phone }] });
    expect([noPurpose.status, noPurpose.json.error.code, noPurpose.json.error.field]).toEqual([400, 'BAD_REQUEST', 'purpose']);
    const unknown = await det(keys.dispatcher, { purpose: 'marketing', items: [{ token: phone }] });
    expect([unknown.status, unknown.json.error.code]).toEqual([403, 'FORBIDDEN']);
    const wrongCaller = await det(keys.other, { purpose: 'sms_dispatch', items: [{ token: phone }] });
    expect([wrongCaller.status, wrongCaller.json.error.code]).toEqual([403, 'FORBIDDEN']);
    const wrongType = await det(keys.dispatcher, { purpose: 'sms_dispatch', items: [{ token: phone }, { token: email }] });
    expect([wrongType.status, wrongType.json.error.code]).toEqual([403, 'FORBIDDEN']);
    for (const r of [noPurpose, unknown, wrongCaller, wrongType]) {
      expect(r.text).not.toContain(PHONE);
      expect(r.text).not.toContain(EMAIL);
    }

    const ok = await det(keys.dispatcher, { purpose: 'sms_dispatch', items: [{ token: phone }] });
    expect(ok.status).toBe(200);
    expect(ok.json.results).toEqual([{ found: true, value: PHONE, type: 'phone' }]);
    const otherOk = await det(keys.other, { purpose: 'email_dispatch', items: [{ token: email }] });
    expect(otherOk.json.results[0].value).toBe(EMAIL);
  });

  it("CleverTap's getRawValue states its purpose in metadata.purpose", async () => {
    gw = await start();
    const [token] = await gw.gw.vault.tokenize([
      { spec: createTokenSpec({ type: 'opaque', prefix: 'TKN_', namespace: 'default' }, gw.gw.keyring), value: PHONE },
    ]);
    const call = (metadata?: unknown) =>
      post(gw!.vaultUrl + '/ct-vault/api/tokenization/getRawValue', { token, ...(metadata ? { metadata } : {}) }, { authorization: `Bearer ${keys.dispatcher}` });
    expect((await call()).status).toBe(400);
    // an opaque token is not what sms_dispatch may resolve
    const r = await call({ purpose: 'sms_dispatch', request_id: 'req_1' });
    expect([r.status, r.json.error.code]).toEqual([403, 'FORBIDDEN']);
    expect(r.text).not.toContain(PHONE);
  });
});
