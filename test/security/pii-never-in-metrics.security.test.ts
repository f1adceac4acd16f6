/**
 * Defends: "PII never reaches /metrics or the audit trail". Runs a round trip with canary values (inbound
 * tokenize, dispatch detokenize, vault API both ways, CleverTap-compatible endpoints, refusals with canaries
 * in the body and in the URL), then scans the /metrics exposition and the audit file for every canary form,
 * and for the tokens too (a token in the audit file would make it a replayable token list).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryTextForms } from '../helpers/canary.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CANARY = {
  email: 'metrics.canary.x9@canary-example.org',
  phone: '+14155550142',
  name: 'Canary Metrix Quokka',
};
const canaryForms = canaryTextForms(CANARY);

const rules = (up: string) => `
version: 1
upstreams: { up: { url: "${up}" } }
routes:
  - id: upload
    match: { method: POST, path: /1/upload }
    upstream: up
    policy: { missing: skip }
    request:
      codec: json
      fields:
        - { select: "$.d[*].profileData.Email", action: tokenize, type: email }
        - { select: "$.d[*].profileData.Phone", action: tokenize, type: phone }
        - { select: "$.d[*].profileData.Name", action: tokenize, type: opaque }
  - id: send
    match: { method: POST, path: /send }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.to, action: detokenize, type: phone }
        - { select: $.email, action: detokenize, type: email, missing: skip }
`;

let up: TestUpstream;
let gw: TestGateway;
let metricsText = '';
let auditText = '';
const tokens: string[] = [];

async function call(url: string, body: string) {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json' } });
  await res.body.text();
  return res.statusCode;
}

beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({ rules: { 'r.yaml': rules(up.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});
afterAll(async () => {
  await gw?.close();
  await up?.close();
});

describe('canary PII values never reach /metrics or the audit trail', () => {
  it('runs the round trip and the refusals', async () => {
    const upload = { d: [{ profileData: { Email: CANARY.email, Phone: CANARY.phone, Name: CANARY.name } }] };
    expect(await call(gw.url + '/1/upload', JSON.stringify(upload))).toBe(200);
    const sent = JSON.parse(up.received[0]!.body.toString()).d[0].profileData;
    tokens.push(sent.Email, sent.Phone, sent.Name);

    expect(await call(gw.url + '/send', JSON.stringify({ to: sent.Phone, email: sent.Email }))).toBe(200);
    expect(up.received[1]!.body.toString()).toContain(CANARY.phone);
    expect(await call(gw.vaultUrl + '/v1/tokenize', JSON.stringify({ items: [{ type: 'email', value: CANARY.email }] }))).toBe(200);
    expect(await call(gw.vaultUrl + '/v1/detokenize', JSON.stringify({ items: [{ token: sent.Email }, { token: sent.Name }] }))).toBe(200);
    expect(await call(gw.vaultUrl + '/ct-vault/api/tokenization/tokens/batch', JSON.stringify({ values: [CANARY.name] }))).toBe(200);
    expect(await call(gw.vaultUrl + '/ct-vault/api/tokenization/getRawValue', JSON.stringify({ token: sent.Name }))).toBe(200);

    const refusals = await Promise.all([
      call(gw.url + '/1/upload', JSON.stringify({ d: [{ profileData: { Email: CANARY.name } }] })),
      call(gw.url + '/send', JSON.stringify({ to: CANARY.phone })),
      call(gw.url + '/nope/' + encodeURIComponent(CANARY.email) + '?email=' + encodeURIComponent(CANARY.email), '{}'),
      call(gw.vaultUrl + '/v1/' + encodeURIComponent(CANARY.email), '{}'),
      call(gw.vaultUrl + '/v1/detokenize', `{"items":[{"token":"${CANARY.phone}"`),
    ]);
    for (const s of refusals) expect(s).toBeGreaterThanOrEqual(400);

    metricsText = await (await request(gw.adminUrl + '/metrics')).body.text();
    auditText = readFileSync(gw.gw.audit.file, 'utf8');
    expect(path.dirname(gw.gw.audit.file)).toBe(path.join(gw.dir, 'data'));
  });

  it('/metrics counts the round trip by route id, code and operation', () => {
    expect(metricsText).toMatch(/pii_gateway_requests_total\{listener="proxy",route="r\/upload",status_class="2xx"\} 1\b/);
    expect(metricsText).toMatch(/pii_gateway_requests_total\{listener="proxy",route="unmatched",status_class="4xx"\} 1\b/);
    expect(metricsText).toMatch(/pii_gateway_requests_total\{listener="vault_api",route="unmatched",status_class="4xx"\} 1\b/);
    expect(metricsText).toMatch(/pii_gateway_fields_total\{route="r\/upload",action="tokenized"\} 3\b/);
    expect(metricsText).toMatch(/pii_gateway_fields_total\{route="r\/send",action="detokenized"\} 2\b/);
    expect(metricsText).toMatch(/pii_gateway_refusals_total\{listener="proxy",code="ROUTE_NOT_FOUND"\} 1\b/);
    expect(metricsText).toMatch(/pii_gateway_vault_batch_size_bucket\{le="1",op="detokenize"\}/);
    expect(metricsText).toMatch(/pii_gateway_request_duration_seconds_bucket\{le="[0-9.]+",listener="proxy",route="r\/send"\}/);
    expect(metricsText).toMatch(/pii_gateway_audit_records_total [1-9]/);
  });

  it('no canary (in any form) and no token appears in /metrics', () => {
    expect(metricsText.length).toBeGreaterThan(1000);
    for (const c of [...canaryForms, ...tokens]) expect(metricsText).not.toContain(c);
  });

  it('no canary and no token appears in the audit file', () => {
    const lines = auditText.trimEnd().split('\n');
    expect(lines.filter((l) => l.includes('"event":"detokenize"')).length).toBeGreaterThanOrEqual(5);
    for (const c of [...canaryForms, ...tokens]) expect(auditText).not.toContain(c);
  });
});
