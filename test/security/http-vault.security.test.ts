/**
 * PII never leaks through the HTTP vault's failures: a gateway (PII_GATEWAY_VAULT=http, OAuth2) in front of
 * a remote vault and token endpoint that misbehave in every way we handle, each one quoting the request
 * body back (in error messages, in malformed JSON, in HTML pages, as tokens). Every answer to the client is
 * 503 VAULT_UNAVAILABLE with nothing forwarded, and no response body and no log line holds a canary.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import type { ServerResponse } from 'node:http';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { canaryTextForms } from '../helpers/canary.js';
import { json, startFakeVault, type FakeRequest, type FakeVault } from '../helpers/fake-vault.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CANARIES = { email: 'canary.sec.6607@canary-example.org', phone: '+14155550161', name: 'Canary Sixsixoseven' };
const SECRET = 'oauth-secret-canary-7Y2K';

const RULES = (up: string) => `
version: 1
upstreams: { up: { url: "${up}" } }
routes:
  - id: ingest
    match: { method: POST, path: /ingest }
    upstream: up
    request:
      codec: json
      fields:
        - { select: $.email, action: tokenize, type: email }
        - { select: $.phone, action: tokenize, type: phone }
        - { select: $.name, action: tokenize, type: opaque }
`;

let fake: FakeVault;
let upstream: TestUpstream;
let gw: TestGateway;
let dir: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pii-http-sec-'));
  writeFileSync(path.join(dir, 'secret'), SECRET, { mode: 0o600 });
  fake = await startFakeVault();
  upstream = await startUpstream();
  gw = await startTestGateway({
    rules: { 'r.yaml': RULES(upstream.url) },
    settings: {
      PII_GATEWAY_VAULT: 'http',
      PII_GATEWAY_HTTP_VAULT_URL: fake.url,
      PII_GATEWAY_HTTP_VAULT_TOKEN_URL: `${fake.url}/token`,
      PII_GATEWAY_HTTP_VAULT_CLIENT_ID: 'gw',
      PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE: path.join(dir, 'secret'),
      PII_GATEWAY_HTTP_VAULT_RETRIES: '1',
      PII_GATEWAY_HTTP_VAULT_TIMEOUT: '1s',
      // Every scenario must reach the remote: no breaker in the way, no cache answering.
      PII_GATEWAY_HTTP_VAULT_BREAKER: '1000/1s',
      PII_GATEWAY_CACHE_MAX_ENTRIES: '0',
    },
  });
}, 30_000);
afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await fake?.close();
  rmSync(dir, { recursive: true, force: true });
});

/** Quotes the request back, as a careless or hostile remote would. */
const echo = (req: FakeRequest) => req.raw;
const scenarios: [string, (req: FakeRequest, res: ServerResponse) => boolean | void | Promise<boolean | void>][] = [
  ['a 400 envelope quoting the values', (req, res) => json(res, 400, { error: { code: 'BAD_REQUEST', message: echo(req), field: echo(req) } })],
  ['a 500 HTML page quoting the values', (req, res) => json(res, 500, `<pre>${echo(req)}</pre>`, { 'content-type': 'text/html' })],
  ['a 503 burst quoting the values', (req, res) => json(res, 503, echo(req), { 'retry-after': echo(req).slice(0, 20) })],
  ['malformed JSON quoting the values', (req, res) => json(res, 200, `{"results":${echo(req)}`)],
  ['a wrong result count', (req, res) => json(res, 200, { results: [{ token: echo(req) }] })],
  ['the values as tokens', (req, res) => json(res, 200, { results: req.body.items.map((i: { value: string }) => ({ token: i.value })) })],
  ['missing tokens next to the values', (req, res) => json(res, 200, { results: req.body.items.map((i: { value: string }) => ({ value: i.value })) })],
  ['per-item errors quoting the values', (req, res) => json(res, 200, { results: req.body.items.map((i: { value: string }) => ({ error: { code: 'INVALID_VALUE', message: i.value } })) })],
  ['connection resets', (_req, res) => {
    res.socket?.destroy();
    return true;
  }],
  ['no answer at all', () => true],
  ['a 401 quoting the values', (req, res) => json(res, 401, { error: { code: 'AUTH_INVALID', message: echo(req) } })],
];

describe('HTTP vault failures never leak PII', () => {
  const forms = canaryTextForms({ ...CANARIES, SECRET });
  const check = (text: string) => {
    for (const c of forms) expect(text).not.toContain(c);
  };

  for (const [name, behaviour] of scenarios) {
    it(`remote answering with ${name}: refused (503; 400 INVALID_VALUE for per-item refusals), nothing forwarded, no canary anywhere`, async () => {
      fake.behave(async (req, res) => {
        await behaviour(req, res);
        return true;
      });
      const before = upstream.received.length;
      const res = await request(`${gw.url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CANARIES) });
      const text = await res.body.text();
      expect(res.statusCode).toBe(name.startsWith('per-item') ? 400 : 503);
      expect(JSON.parse(text).error.code).toBe(name.startsWith('per-item') ? 'INVALID_VALUE' : 'VAULT_UNAVAILABLE');
      expect(upstream.received.length).toBe(before);
      check(text);
      check(gw.logs.lines.join('\n'));
    });
  }

  it('token endpoint answering HTML quoting the secret, or a 401 quoting it: 503, no secret anywhere', async () => {
    // The vault refuses the cached token, so the client asks the token endpoint for a new one.
    fake.behave((_req, res) => json(res, 401, { error: { code: 'AUTH_INVALID' } }));
    for (const answer of [
      (res: ServerResponse) => json(res, 200, `<html>${SECRET}</html>`, { 'content-type': 'text/html' }),
      (res: ServerResponse) => json(res, 401, { error: 'invalid_client', error_description: SECRET }),
    ]) {
      fake.behaveToken((_req, res) => answer(res));
      const res = await request(`${gw.url}/ingest`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(CANARIES) });
      const text = await res.body.text();
      expect(res.statusCode).toBe(503);
      check(text);
    }
    const logged = gw.logs.records().filter((r) => /OAuth2 token endpoint/.test(String(r.detail)));
    expect(logged.length).toBeGreaterThanOrEqual(2);
    check(gw.logs.lines.join('\n'));
    // The secret went only to the token endpoint, in the Basic header; never in a body.
    expect(fake.tokenRequests.every((r) => !r.raw.includes(SECRET))).toBe(true);
  });
});
