/**
 * detokenize-text on a real gateway: tokens inside message text resolve toward the upstream under the
 * detokenize policy (load-time refusal of a type it does not allow; route disabled without a policy), the
 * audit file records field, type and count without values, altered tokens are counted in /metrics, and no
 * canary value reaches the logs.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenType } from '../../src/tokens/types.js';
import { canaryTextForms } from '../helpers/canary.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const NAME = 'Canary <Qx7 & Co>';
const EMAIL = 'text.canary.q7@canary-example.org';

const rules = (upstream: string) => `
version: 1
upstreams:
  mail: { url: "${upstream}" }
routes:
  - id: send
    match: { method: POST, path: /send }
    upstream: mail
    auth: none
    request:
      fields:
        - { select: $.subject, action: detokenize-text, escape: header }
        - { select: $.html, action: detokenize-text, escape: html }
`;

let up: TestUpstream;
let gw: TestGateway | undefined;
const work = mkdtempSync(path.join(tmpdir(), 'pii-text-test-'));
beforeAll(async () => {
  up = await startUpstream();
});
afterAll(async () => {
  await up.close();
  rmSync(work, { recursive: true, force: true });
});
afterEach(async () => {
  await gw?.close();
  gw = undefined;
});

async function post(url: string, body: unknown) {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json' } });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text) as Record<string, any> };
}

async function tokenOf(g: TestGateway, type: TokenType, value: string): Promise<string> {
  const [t] = await g.gw.vault.tokenize([{ spec: createTokenSpec({ type, namespace: 'default' }, g.gw.keyring), value }]);
  return t!;
}

describe('detokenize-text through the gateway', () => {
  it('refuses at load time a rule whose types the policy does not allow toward the upstream (file:line)', async () => {
    const start = startTestGateway({ rules: { 'mail.yaml': rules(up.url) }, detokenizePolicy: 'version: 1\ndestinations:\n  email: [127.0.0.1]\n' });
    await expect(start).rejects.toThrow(/mail\.yaml:12:\d+: route 'send' field '\$\.subject': the detokenize policy \(.*\) does not allow opaque tokens to be resolved toward 127\.0\.0\.1/);
  });

  it('without a policy the route stays disabled (404 with the reason)', async () => {
    gw = await startTestGateway({ rules: { 'mail.yaml': rules(up.url) } });
    const before = up.received.length;
    const r = await post(gw.url + '/send', { subject: 'x', html: 'y' });
    expect(r.status).toBe(404);
    expect(r.json.error.message).toMatch(/it detokenizes and no detokenize policy is configured/);
    expect(up.received.length).toBe(before);
  });

  it('resolves, escapes, audits without values, and counts altered tokens', async () => {
    const audit = path.join(work, 'audit.log');
    gw = await startTestGateway({
      rules: { 'mail.yaml': rules(up.url) },
      detokenizePolicy: 'version: 1\ndestinations:\n  email: [127.0.0.1]\n  opaque: [127.0.0.1]\n',
      settings: { PII_GATEWAY_AUDIT_FILE: audit },
    });
    const name = await tokenOf(gw, 'opaque', NAME);
    const mail = await tokenOf(gw, 'email', EMAIL);
    const res = await post(gw.url + '/send', {
      subject: `Hi ${name}`,
      html: `<p>Dear ${name}, we wrote to ${mail}. ${name.toUpperCase()}</p>`,
    });
    expect(res.status).toBe(200);
    expect(JSON.parse(up.received.at(-1)!.body.toString())).toEqual({
      subject: `Hi ${NAME}`,
      html: `<p>Dear Canary &lt;Qx7 &amp; Co&gt;, we wrote to ${EMAIL}. ${name.toUpperCase()}</p>`,
    });

    const records = readFileSync(audit, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l) as Record<string, unknown>).filter((r) => r.event === 'detokenize');
    expect(records.map((r) => [r.field, r.tokenType, r.count, r.outcome])).toEqual([
      ['$.subject', 'opaque', 1, 'resolved'],
      ['$.html', 'opaque', 1, 'resolved'],
      ['$.html', 'email', 1, 'resolved'],
    ]);
    const metrics = await (await request(gw.adminUrl + '/metrics')).body.text();
    expect(metrics).toMatch(/pii_gateway_altered_tokens_total\{route="mail\/send"\} 1/);

    const forms = canaryTextForms({ name: NAME, email: EMAIL, short: 'Qx7' });
    const seen = [readFileSync(audit, 'utf8'), gw.logs.lines.join('\n'), metrics, res.text];
    for (const text of seen) for (const c of forms) expect(text).not.toContain(c);
  });
});
