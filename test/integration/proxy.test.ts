/**
 * The real gateway on real sockets between a client (undici) and a real local upstream: the CleverTap
 * upload round trip, byte-exact splicing, header handling, size limits and refusals.
 */
import { readFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { Readable } from 'node:stream';
import { gzipSync } from 'node:zlib';
import { request } from 'undici';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const fixture = readFileSync(new URL('../fixtures/providers/clevertap-upload.json', import.meta.url));
const clevertapRules = readFileSync(new URL('../../rules/clevertap.yaml', import.meta.url), 'utf8');

const demoRules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: echo-detok
    match: { method: POST, path: /dispatch }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.to, action: detokenize, type: phone }
    response:
      codec: json
      fields:
        - { select: $.to, action: tokenize, type: phone, missing: skip }
  - id: pass
    match: { method: POST, path: /pass/:id }
    upstream: up
  - id: redact
    match: { method: POST, path: /redact }
    upstream: up
    request:
      codec: json
      fields:
        - { select: $..ip, action: redact, missing: skip }
        - { select: $.email, action: mask, style: email, missing: skip }
        - { select: $.user, action: hash, missing: skip }
`;

let upstream: TestUpstream;
let gw: TestGateway;

async function post(path: string, body: string | Buffer, headers: Record<string, string> = {}) {
  const res = await request(gw.url + path, {
    method: 'POST',
    body,
    headers: { 'content-type': 'application/json', ...headers },
  });
  const text = await res.body.text();
  return { status: res.statusCode, headers: res.headers, text, json: () => JSON.parse(text) as Record<string, any> };
}

beforeEach(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({
    rules: { 'clevertap.yaml': clevertapRules, 'demo.yaml': demoRules(upstream.url) },
    env: { CLEVERTAP_URL: upstream.url },
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
  });
});

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

describe('CleverTap upload round trip', () => {
  it('forwards tokens for every PII field and leaves everything else byte-identical', async () => {
    const res = await post('/1/upload', fixture, { 'content-type': 'application/json; charset=utf-8' });
    expect(res.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const sent = upstream.received[0]!.body.toString('utf8');
    const doc = JSON.parse(sent);
    const profile = doc.d[0].profileData;

    for (const pii of ['jack@gmail.com', '+14155551234', 'Jack Montana']) expect(sent).not.toContain(pii);
    expect(profile.Email).toMatch(/^[^@\s]+@[^@\s]+\.tok\.invalid$/);
    expect(profile.Phone).toMatch(/^\+1\d{10}$/);
    expect(profile.Phone).not.toBe('+14155551234');
    expect(profile.Name).toMatch(/^tok_[0-9A-Za-z]+$/);
    // identity: an email is tokenized with the same token as profileData.Email; a customer id is kept
    expect(doc.d[0].identity).toBe('6264372124');
    expect(doc.d[1].identity).toBe(profile.Email);
    expect(profile['Customer Type']).toBe('Platinum');
    expect(profile['MSG-sms']).toBe(false);

    // Byte-exactness: putting the originals back where the tokens are gives the original bytes.
    const restored = sent
      .replaceAll(JSON.stringify(profile.Email), '"jack@gmail.com"')
      .replace(JSON.stringify(profile.Phone), '"+14155551234"')
      .replace(JSON.stringify(profile.Name), '"Jack Montana"');
    expect(restored).toBe(fixture.toString('utf8'));
    expect(upstream.received[0]!.headers['content-length']).toBe(String(Buffer.byteLength(sent)));
  });

  it('gives the same tokens for the same values, and the vault API resolves them', async () => {
    await post('/1/upload', fixture);
    await post('/1/upload', fixture);
    const [a, b] = upstream.received.map((r) => JSON.parse(r.body.toString('utf8')).d[0].profileData);
    expect(a).toEqual(b);
    const res = await request(gw.vaultUrl + '/v1/detokenize', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: [{ token: a.Email }, { token: a.Phone }, { token: a.Name }, { token: 'tok_nope' }] }),
    });
    expect(res.statusCode).toBe(200);
    const out = (await res.body.json()) as { results: { found: boolean; value?: string }[] };
    expect(out.results.map((r) => r.value)).toEqual(['jack@gmail.com', '+14155551234', 'Jack Montana', undefined]);
    expect(out.results[3]!.found).toBe(false);
  });

  it('keeps big integers, key order and whitespace it did not touch', async () => {
    const body = '{ "d" : [ {"profileData":{"Email":"a@b.co","n":9007199254740993,"f":1.0e+2,"s":"\\u00e9\\/"}} ] ,"z":[] }';
    const res = await post('/1/upload', body);
    expect(res.status).toBe(200);
    const sent = upstream.received[0]!.body.toString('utf8');
    const token = JSON.parse(sent).d[0].profileData.Email as string;
    expect(sent).toBe(body.replace('"a@b.co"', JSON.stringify(token)));
  });
});

describe('refusals (fail closed, nothing forwarded)', () => {
  const cases: [string, string | Buffer, Record<string, string>, number, string][] = [
    ['invalid JSON', '{"d":[', {}, 400, 'INVALID_JSON'],
    ['duplicate keys', '{"d":[{"profileData":{"Email":"a@b.co","Email":"c@d.co"}}]}', {}, 400, 'DUPLICATE_KEY'],
    ['a lone surrogate', '{"d":[{"profileData":{"Name":"\\ud800"}}]}', {}, 400, 'LONE_SURROGATE'],
    ['invalid UTF-8', Buffer.from([0x7b, 0x22, 0x64, 0x22, 0x3a, 0x22, 0xff, 0x22, 0x7d]), {}, 400, 'INVALID_UTF8'],
    ['a non-string Phone', '{"d":[{"profileData":{"Phone":14155551234}}]}', {}, 400, 'FIELD_NOT_STRING'],
    ['an Email that is not an email', '{"d":[{"profileData":{"Email":"not-an-email"}}]}', {}, 400, 'INVALID_VALUE'],
    ['nesting beyond the limit', '{"d":' + '['.repeat(200) + ']'.repeat(200) + '}', {}, 400, 'TOO_DEEP'],
    ['a Content-Encoding it cannot decode', gzipSync(fixture), { 'content-encoding': 'compress' }, 415, 'UNSUPPORTED_ENCODING'],
    ['a truncated gzip body', gzipSync(fixture).subarray(0, 100), { 'content-encoding': 'gzip' }, 400, 'INVALID_ENCODING'],
    ['a form body on a JSON route', 'd=1', { 'content-type': 'application/x-www-form-urlencoded' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
    ['a non-UTF-8 charset', fixture, { 'content-type': 'application/json; charset=iso-8859-1' }, 415, 'UNSUPPORTED_MEDIA_TYPE'],
  ];
  for (const [name, body, headers, status, code] of cases) {
    it(`refuses ${name} with ${status} ${code}`, async () => {
      const res = await post('/1/upload', body, headers);
      expect(res.status).toBe(status);
      const err = res.json().error;
      expect(err.code).toBe(code);
      expect(err.requestId).toBeTruthy();
      expect(res.text).not.toContain('a@b.co');
      expect(res.text).not.toContain('14155551234');
      expect(upstream.received).toHaveLength(0);
    });
  }

  it('names the JSON path of the offending field', async () => {
    const res = await post('/1/upload', '{"d":[{},{"profileData":{"Phone":14155551234}}]}');
    expect(res.json().error.field).toBe('$.d[1].profileData.Phone');
  });

  it('refuses bodies over the limit, declared or chunked, with 413', async () => {
    await gw.close();
    gw = await startTestGateway({
      rules: { 'clevertap.yaml': clevertapRules },
      env: { CLEVERTAP_URL: upstream.url },
      settings: { PII_GATEWAY_BODY_LIMIT: '1kb' },
    });
    const big = JSON.stringify({ d: [{ profileData: { Name: 'x'.repeat(2000) } }] });
    expect((await post('/1/upload', big)).status).toBe(413);
    const chunked = await request(gw.url + '/1/upload', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: Readable.from(
        (async function* () {
          for (let i = 0; i < 10; i++) yield Buffer.from(' '.repeat(200));
          yield Buffer.from(big);
        })(),
      ),
    });
    expect(chunked.statusCode).toBe(413);
    expect(((await chunked.body.json()) as any).error.code).toBe('BODY_TOO_LARGE');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses with 503 VAULT_UNAVAILABLE when the vault is down, and forwards nothing', async () => {
    await gw.gw.vault.close();
    const res = await post('/1/upload', fixture);
    expect(res.status).toBe(503);
    expect(res.json().error.code).toBe('VAULT_UNAVAILABLE');
    expect(res.text).not.toMatch(/sqlite|stack|at /i);
    expect(upstream.received).toHaveLength(0);
    const ready = await request(gw.adminUrl + '/readyz');
    expect(ready.statusCode).toBe(503);
    expect(((await ready.body.json()) as any).failing).toContain('vault');
  });

  it('answers 404 ROUTE_NOT_FOUND for undeclared routes', async () => {
    const res = await post('/1/other', '{}');
    expect(res.status).toBe(404);
    expect(res.json().error.code).toBe('ROUTE_NOT_FOUND');
  });

  it('answers 502 when the upstream is down', async () => {
    await upstream.close();
    const res = await post('/pass/1', '{}');
    expect(res.status).toBe(502);
    expect(res.json().error.code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

describe('dispatch: detokenize on the way out, tokenize the response', () => {
  it('resolves a phone token for the provider and tokenizes it again in the response', async () => {
    const [token] = await gw.gw.vault.tokenize([{ spec: phoneSpec(gw), value: '+14155551234' }]);
    upstream.reply((req) => ({ status: 201, body: req.body }));
    const res = await post('/dispatch', JSON.stringify({ to: token, body: 'hi' }));
    expect(res.status).toBe(201);
    expect(JSON.parse(upstream.received[0]!.body.toString()).to).toBe('+14155551234');
    expect(res.json().to).toBe(token);
    expect(res.text).not.toContain('+14155551234');
  });

  it('refuses a value that is not one of our tokens (NOT_A_TOKEN) and an unknown token (UNKNOWN_TOKEN)', async () => {
    const raw = await post('/dispatch', JSON.stringify({ to: '+14155551234' }));
    expect(raw.status).toBe(400);
    expect(raw.json().error.code).toBe('NOT_A_TOKEN');
    // a well-formed token from another deployment's keys
    const other = await startTestGateway({ rules: { 'demo.yaml': demoRules(upstream.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
    const [foreign] = await other.gw.vault.tokenize([{ spec: phoneSpec(other), value: '+14155551234' }]);
    await other.close();
    const res = await post('/dispatch', JSON.stringify({ to: foreign }));
    expect([400, 422]).toContain(res.status);
    expect(['NOT_A_TOKEN', 'UNKNOWN_TOKEN']).toContain(res.json().error.code);
    expect(upstream.received).toHaveLength(0);
  });
});

describe('headers and other actions', () => {
  it('strips hop-by-hop and Connection-listed headers, sets the upstream host, keeps end-to-end headers', async () => {
    // node:http, not undici: undici refuses to send a Connection header naming other fields.
    const status = await new Promise<number>((resolve, reject) => {
      const req = httpRequest(gw.url + '/pass/7?x=1', {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          connection: 'keep-alive, x-secret-hop',
          'x-secret-hop': '1',
          'keep-alive': 'timeout=5',
          'proxy-authorization': 'Basic Zm9vOmJhcg==',
          'x-keep': 'yes',
          te: 'trailers',
        },
      });
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(res.statusCode ?? 0));
      });
      req.on('error', reject);
      req.end('{"a":1}');
    });
    expect(status).toBe(200);
    const got = upstream.received[0]!;
    expect(got.url).toBe('/pass/7?x=1');
    for (const hop of ['x-secret-hop', 'te', 'keep-alive', 'proxy-authorization']) expect(got.headers[hop]).toBeUndefined();
    expect(got.headers['x-keep']).toBe('yes');
    expect(got.headers.host).toBe(new URL(upstream.url).host);
    expect(got.headers['x-request-id']).toBeTruthy();
    expect(got.body.toString()).toBe('{"a":1}');
  });

  it('redacts, masks and hashes', async () => {
    const res = await post('/redact', '{"email":"jack@gmail.com","user":"u-1","meta":{"ip":"10.0.0.1","k":1},"ip":"1.2.3.4"}');
    expect(res.status).toBe(200);
    const sent = JSON.parse(upstream.received[0]!.body.toString());
    expect(sent).toEqual({ email: 'j***@gmail.com', user: expect.stringMatching(/^h_[0-9a-f]{64}$/), meta: { k: 1 } });
  });
});

function phoneSpec(t: TestGateway) {
  const route = t.gw.rules.routes.find((r) => r.id.endsWith('echo-detok'))!;
  const field = route.response!.fields[0]!;
  if (field.action.kind !== 'tokenize') throw new Error('unexpected rule');
  return field.action.specs[0]!;
}
