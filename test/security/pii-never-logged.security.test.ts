/**
 * Defends: "PII never leaks into logs or error bodies". Runs a full round trip (inbound tokenize, vault API
 * detokenize, dispatch detokenize, refusals) with canary values at debug log level, on the sqlite vault,
 * then scans every log line and every error body for the canaries.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryTextForms } from '../helpers/canary.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CANARY = {
  email: 'canary.zq7@canary-example.org',
  phone: '+14155550199',
  name: 'Canary Quux Zebedee',
  dob: '1970-01-01-canary',
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
        - { select: "$.d[*].identity", action: tokenize, type: [email, phone], otherwise: keep }
        - { select: "$.d[*].profileData.Email", action: tokenize, type: email }
        - { select: "$.d[*].profileData.Phone", action: tokenize, type: phone }
        - { select: "$.d[*].profileData.Name", action: tokenize, type: opaque }
        - { select: "$.d[*].profileData.DOB", action: tokenize, type: opaque }
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
const bodies: string[] = [];

async function call(url: string, body: string, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body, headers: { 'content-type': 'application/json', ...headers } });
  const text = await res.body.text();
  bodies.push(text);
  return { status: res.statusCode, text };
}

beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({ rules: { 'r.yaml': rules(up.url) }, backend: 'sqlite', detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});
afterAll(async () => {
  await gw?.close();
  await up?.close();
});

describe('canary PII values never reach a log line or an error body', () => {
  it('runs the round trip and the refusals', async () => {
    const upload = {
      d: [
        { type: 'profile', identity: CANARY.email, profileData: { Email: CANARY.email, Phone: CANARY.phone, Name: CANARY.name, DOB: CANARY.dob } },
      ],
    };
    expect((await call(gw.url + '/1/upload', JSON.stringify(upload))).status).toBe(200);
    const sent = JSON.parse(up.received[0]!.body.toString()).d[0].profileData;

    // dispatch resolves (the provider sees PII: that is the point), the gateway logs none of it
    expect((await call(gw.url + '/send', JSON.stringify({ to: sent.Phone, email: sent.Email }))).status).toBe(200);
    expect(up.received[1]!.body.toString()).toContain(CANARY.phone);

    // vault API both ways
    expect((await call(gw.vaultUrl + '/v1/tokenize', JSON.stringify({ items: [{ type: 'email', value: CANARY.email }, { type: 'phone', value: CANARY.name }] }))).status).toBe(200);
    expect((await call(gw.vaultUrl + '/v1/detokenize', JSON.stringify({ items: [{ token: sent.Email }] }))).status).toBe(200);
    expect((await call(gw.vaultUrl + '/ct-vault/api/tokenization/tokens/batch', JSON.stringify({ values: [CANARY.name] }))).status).toBe(200);

    // refusals that carry the canaries in the offending request
    const refusals = [
      call(gw.url + '/1/upload', JSON.stringify({ d: [{ profileData: { Email: CANARY.name } }] })),
      call(gw.url + '/1/upload', JSON.stringify({ d: [{ profileData: { Phone: CANARY.email } }] })),
      call(gw.url + '/1/upload', `{"d":[{"profileData":{"Email":"${CANARY.email}","Email":"${CANARY.email}"}}]}`),
      call(gw.url + '/1/upload', `{"d":[{"profileData":{"Email":"${CANARY.email}"}}`),
      call(gw.url + '/send', JSON.stringify({ to: CANARY.phone })),
      call(gw.url + '/nope/' + encodeURIComponent(CANARY.email) + '?email=' + encodeURIComponent(CANARY.email), '{}'),
      call(gw.vaultUrl + '/v1/tokenize', `{"items":[{"type":"email","value":"${CANARY.email}"`),
    ];
    for (const r of await Promise.all(refusals)) expect(r.status).toBeGreaterThanOrEqual(400);
  });

  it('no log line contains a canary, at debug level', () => {
    expect(gw.logs.lines.length).toBeGreaterThan(5);
    for (const line of gw.logs.lines) for (const c of canaryForms) expect(line).not.toContain(c);
  });

  it('no error body contains a canary', () => {
    const errors = bodies.filter((b) => b.includes('"error"'));
    expect(errors.length).toBeGreaterThanOrEqual(6);
    for (const b of errors) for (const c of canaryForms) expect(b).not.toContain(c);
  });

  it('the sqlite vault files hold no canary in clear', async () => {
    await gw.gw.vault.close();
    const dataDir = path.join(gw.dir, 'data');
    const files = readdirSync(dataDir).filter((f) => f.startsWith('vault.db'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) {
      const bytes = readFileSync(path.join(dataDir, f)).toString('latin1');
      for (const c of canaryForms) expect(bytes).not.toContain(c);
    }
  });
});
