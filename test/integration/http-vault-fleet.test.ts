/**
 * One gateway using another as its store, end to end: gateway A (in this process, PII_GATEWAY_VAULT=http)
 * proxies to a real local upstream and keeps nothing; gateway B (a real child process on a real SQLite
 * file) serves its vault API behind an API key. Both hold the same keys: A recognizes the tokens it
 * forwards and receives by its own keyed check before it asks B to resolve them.
 *
 * Canary: the PII sent through A appears in no log line of A or of B.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { generateKeyFile } from '../../src/crypto/keyring.js';
import { canaryTextForms } from '../helpers/canary.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startRemoteGateway, type RemoteGateway } from '../helpers/remote-gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const CANARIES = { email: 'canary.fleet.3391@canary-example.org', phone: '+14155550177', fresh: 'fresh.3391@canary-example.org', down: '+14155550166' };
const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: ingest
    match: { method: POST, path: /ingest }
    upstream: up
    request:
      codec: json
      fields:
        - { select: $.email, action: tokenize, type: email }
        - { select: $.phone, action: tokenize, type: phone }
        - { select: $.name, action: tokenize, type: opaque, prefix: "cus_" }
  - id: dispatch
    match: { method: POST, path: /dispatch }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.to, action: detokenize, type: phone }
        - { select: $.email, action: detokenize, type: email }
`;

const keys = generateKeyFile();
const apiKey = generateApiKey();
let dir: string;
let remote: RemoteGateway;
let upstream: TestUpstream;
let gw: TestGateway;

async function post(base: string, urlPath: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(base + urlPath, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, json: JSON.parse(text) as any };
}
const readyz = async (g: TestGateway) => {
  const res = await request(`${g.adminUrl}/readyz`);
  return { status: res.statusCode, json: (await res.body.json()) as any };
};

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pii-fleet-'));
  writeFileSync(path.join(dir, 'api-keys'), `${apiKeyLine('gateway-a', ['tokenize', 'detokenize'], apiKey)}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'a.key'), `${apiKey}\n`, { mode: 0o600 });
  writeFileSync(path.join(dir, 'wrong.key'), `${generateApiKey()}\n`, { mode: 0o600 });
  remote = await startRemoteGateway({ backend: 'sqlite', keys, settings: { PII_GATEWAY_API_KEYS_FILE: path.join(dir, 'api-keys') } });
  upstream = await startUpstream();
  gw = await startTestGateway({
    rules: { 'fleet.yaml': rules(upstream.url) },
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: {
      PII_GATEWAY_KEYS: JSON.stringify(keys),
      PII_GATEWAY_VAULT: 'http',
      PII_GATEWAY_HTTP_VAULT_URL: remote.vaultUrl,
      PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: path.join(dir, 'a.key'),
      PII_GATEWAY_HTTP_VAULT_RETRIES: '1',
      PII_GATEWAY_HTTP_VAULT_TIMEOUT: '5s',
    },
  });
}, 60_000);

afterAll(async () => {
  await gw?.close();
  await upstream?.close();
  await remote?.stop();
  rmSync(dir, { recursive: true, force: true });
});

describe('a gateway whose vault is another gateway (PII_GATEWAY_VAULT=http)', () => {
  let tokens: { email: string; phone: string; name: string };

  it('tokenizes through the remote: the upstream gets tokens, the remote resolves them', async () => {
    expect((await readyz(gw)).status).toBe(200);
    const res = await post(gw.url, '/ingest', { email: CANARIES.email, phone: CANARIES.phone, name: 'Ada Fleet', other: 'kept' });
    expect(res.status).toBe(200);
    const sent = JSON.parse(upstream.received[0]!.body.toString('utf8'));
    expect(sent.other).toBe('kept');
    expect(sent.email).toMatch(/@[a-z0-9]+\.tok\.invalid$/);
    expect(sent.phone).toMatch(/^\+1\d{10}$/);
    expect(sent.phone).not.toBe(CANARIES.phone);
    expect(sent.name).toMatch(/^cus_[0-9A-Za-z]{22}$/); // the rule's prefix reached the remote
    tokens = sent;

    // The mapping lives in B: B's own vault API resolves what A forwarded.
    const direct = await post(remote.vaultUrl, '/v1/detokenize', { items: [{ token: sent.email }, { token: sent.phone }, { token: sent.name }] }, { authorization: `Bearer ${apiKey}` });
    expect(direct.json.results).toEqual([
      { found: true, value: CANARIES.email, type: 'email' },
      { found: true, value: CANARIES.phone, type: 'phone' },
      { found: true, value: 'Ada Fleet', type: 'opaque' },
    ]);
  });

  it('detokenizes through the remote, also tokens that only the remote ever issued', async () => {
    const res = await post(gw.url, '/dispatch', { to: tokens.phone, email: tokens.email, body: 'hi' });
    expect(res.status).toBe(200);
    const sent = JSON.parse(upstream.received.at(-1)!.body.toString('utf8'));
    expect(sent).toEqual({ to: CANARIES.phone, email: CANARIES.email, body: 'hi' });

    const issuedByB = await post(remote.vaultUrl, '/v1/tokenize', { items: [{ type: 'phone', value: '+14155550188' }] }, { authorization: `Bearer ${apiKey}` });
    const token = issuedByB.json.results[0].token as string;
    const res2 = await post(gw.url, '/dispatch', { to: token, email: tokens.email });
    expect(res2.status).toBe(200);
    expect(JSON.parse(upstream.received.at(-1)!.body.toString('utf8')).to).toBe('+14155550188');
  });

  it('is not ready with credentials the remote refuses', async () => {
    const wrong = await startTestGateway({
      rules: { 'fleet.yaml': rules(upstream.url) },
      settings: {
        PII_GATEWAY_KEYS: JSON.stringify(keys),
        PII_GATEWAY_VAULT: 'http',
        PII_GATEWAY_HTTP_VAULT_URL: remote.vaultUrl,
        PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: path.join(dir, 'wrong.key'),
      },
    });
    try {
      expect(await readyz(wrong)).toEqual({
        status: 503,
        json: { status: 'not ready', failing: ['vault'], reasons: { vault: 'remote vault answered 401 AUTH_INVALID: the remote vault refused our credentials' } },
      });
      const before = upstream.received.length;
      const res = await post(wrong.url, '/ingest', { email: CANARIES.email, phone: CANARIES.phone, name: 'x' });
      expect([res.status, res.json.error.code]).toEqual([503, 'VAULT_UNAVAILABLE']);
      expect(upstream.received.length).toBe(before);
      const logged = wrong.logs.records().find((r) => r.msg === 'request failed');
      expect(logged?.detail).toMatch(/remote vault answered 401 AUTH_INVALID: the remote vault refused our credentials/);
      for (const line of wrong.logs.lines) for (const c of canaryTextForms(CANARIES)) expect(line).not.toContain(c);
    } finally {
      await wrong.close();
    }
  });

  it('refuses requests (503, nothing forwarded) and goes not ready when the remote is down; logs carry no PII', async () => {
    const unseen = await post(remote.vaultUrl, '/v1/tokenize', { items: [{ type: 'phone', value: '+14155550199' }, { type: 'email', value: 'other.3391@canary-example.org' }] }, { authorization: `Bearer ${apiKey}` });
    const [phone, email] = unseen.json.results.map((r: { token: string }) => r.token) as [string, string];
    await remote.stop({ keepDir: true });
    const before = upstream.received.length;
    const fresh = { email: 'fresh.3391@canary-example.org', phone: '+14155550166', name: 'Ada Down' };
    const res = await post(gw.url, '/ingest', fresh);
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('VAULT_UNAVAILABLE');
    expect(JSON.stringify(res.json)).not.toContain('3391');
    const res2 = await post(gw.url, '/dispatch', { to: phone, email });
    expect(res2.status).toBe(503);
    expect(upstream.received.length).toBe(before);
    expect((await readyz(gw)).status).toBe(503);
    // What A's cache already holds still resolves (PII_GATEWAY_CACHE_TTL, 5 min by default for http).
    expect((await post(gw.url, '/dispatch', { to: tokens.phone, email: tokens.email })).status).toBe(200);

    const failed = gw.logs.records().filter((r) => r.msg === 'request failed');
    expect(failed.length).toBeGreaterThanOrEqual(2);
    expect(String(failed[0]!.detail)).toMatch(/^remote vault is unreachable \(ECONNREFUSED\)/);
    for (const line of [...gw.logs.lines, ...remote.output]) {
      for (const c of canaryTextForms(CANARIES)) expect(line).not.toContain(c);
    }
  });
});
