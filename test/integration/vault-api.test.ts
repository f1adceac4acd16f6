/**
 * The vault API listener (batch-first, per-item results, CleverTap-compatible shape) and the admin listener.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const RULES = `
version: 1
upstreams: { up: { url: "http://127.0.0.1:9" } }
routes:
  - { id: pass, match: { method: POST, path: /x }, upstream: up }
`;

let gw: TestGateway;
beforeAll(async () => {
  gw = await startTestGateway({ rules: { 'r.yaml': RULES }, backend: 'sqlite', settings: { PII_GATEWAY_VAULT_API_MAX_BATCH: '1000' } });
});
afterAll(() => gw.close());

async function post(path: string, body: unknown) {
  const res = await request(gw.vaultUrl + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  return { status: res.statusCode, json: (await res.body.json()) as any };
}

describe('vault API', () => {
  it('tokenizes and detokenizes 500 items in one call each, in order', async () => {
    const values = Array.from({ length: 500 }, (_, i) => `user${i}@example${i % 7}.com`);
    const tok = await post('/v1/tokenize', { items: values.map((value) => ({ type: 'email', value })) });
    expect(tok.status).toBe(200);
    const tokens = tok.json.results.map((r: { token: string }) => r.token);
    expect(new Set(tokens).size).toBe(500);
    // same domain, same token domain: the platform can segment by tokenized domain
    expect(tokens[0].split('@')[1]).toBe(tokens[7].split('@')[1]);
    expect(tokens[0].split('@')[1]).not.toBe(tokens[1].split('@')[1]);
    const det = await post('/v1/detokenize', { items: tokens.map((token: string) => ({ token })) });
    expect(det.json.results.map((r: { value: string }) => r.value)).toEqual(values);
    expect(det.json.results[0]).toEqual({ found: true, value: values[0], type: 'email' });
  });

  it('reports invalid items per item and still tokenizes the rest', async () => {
    const res = await post('/v1/tokenize', { items: [{ type: 'phone', value: 'not a phone' }, { type: 'phone', value: '+44 20 7946 0958' }] });
    expect(res.status).toBe(200);
    expect(res.json.results[0].error.code).toBe('INVALID_VALUE');
    expect(JSON.stringify(res.json.results[0])).not.toContain('not a phone');
    expect(res.json.results[1].token).toMatch(/^\+44\d{10}$/);
  });

  it('separates namespaces', async () => {
    const a = await post('/v1/tokenize', { namespace: 'tenant-a', items: [{ type: 'opaque', value: 'Jack' }] });
    const b = await post('/v1/tokenize', { namespace: 'tenant-b', items: [{ type: 'opaque', value: 'Jack' }] });
    expect(a.json.results[0].token).not.toBe(b.json.results[0].token);
    const wrong = await post('/v1/detokenize', { namespace: 'tenant-b', items: [{ token: a.json.results[0].token }] });
    expect(wrong.json.results[0]).toEqual({ found: false });
  });

  it('refuses batches over the maximum and malformed requests with stable codes', async () => {
    const big = await post('/v1/detokenize', { items: Array.from({ length: 1001 }, () => ({ token: 'tok_x' })) });
    expect(big.status).toBe(400);
    expect(big.json.error.code).toBe('BATCH_TOO_LARGE');
    expect((await post('/v1/tokenize', { items: [{ type: 'ssn', value: '1' }] })).json.error.field).toBe('items[0].type');
    expect((await post('/v1/detokenize', { items: [{ token: 5 }] })).json.error.code).toBe('FIELD_NOT_STRING');
  });

  it('takes the token options of a rule per item (prefix, emailDomain, emailSuffix, random)', async () => {
    const value = 'Ada.Options@Example.com';
    const res = await post('/v1/tokenize', {
      namespace: 'opts',
      items: [
        { type: 'opaque', value: 'Ada', prefix: 'cus_' },
        { type: 'email', value, emailDomain: 'preserve' },
        { type: 'email', value, emailDomain: { sink: 'sink.invalid' } },
        { type: 'email', value, emailSuffix: 't.example.com' },
        { type: 'email', value, random: true },
        { type: 'email', value, random: true },
        { type: 'email', value },
        { type: 'opaque', value: 'Ada' },
      ],
    });
    expect(res.status).toBe(200);
    const t = res.json.results.map((r: { token: string }) => r.token);
    expect(t[0]).toMatch(/^cus_[0-9A-Za-z]{22}$/);
    expect(t[1]).toMatch(/@example\.com$/);
    expect(t[2]).toMatch(/@sink\.invalid$/);
    expect(t[3]).toMatch(/\.t\.example\.com$/);
    expect(new Set([t[4], t[5], t[6]]).size).toBe(3);
    expect(t[7]).toMatch(/^tok_/);
    // Same options, same token: the options are part of the spec, not of one call.
    const again = await post('/v1/tokenize', { namespace: 'opts', items: [{ type: 'opaque', value: 'Ada', prefix: 'cus_' }] });
    expect(again.json.results[0].token).toBe(t[0]);
    const det = await post('/v1/detokenize', { namespace: 'opts', items: t.map((token: string) => ({ token })) });
    expect(det.json.results.map((r: { value: string }) => r.value)).toEqual(['Ada', ...Array(6).fill(value.toLowerCase()), 'Ada']);
  });

  it('refuses a bad token option with 400 BAD_REQUEST naming the item and the option', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ type: 'opaque', prefix: 'tok:' }, 'items[1].prefix'],
      [{ type: 'phone', prefix: 'x_' }, 'items[1].prefix'],
      [{ type: 'email', emailDomain: 'keep' }, 'items[1].emailDomain'],
      [{ type: 'email', emailDomain: { sink: 'not a domain' } }, 'items[1].emailDomain.sink'],
      [{ type: 'email', emailSuffix: 'invalid' }, 'items[1].emailSuffix'],
      [{ type: 'email', random: 'yes' }, 'items[1].random'],
      [{ type: 'email', namespace: '' }, 'items[1].namespace'],
    ];
    for (const [item, field] of cases) {
      const res = await post('/v1/tokenize', { items: [{ type: 'opaque', value: 'ok' }, { ...item, value: 'canary-opt-7781@example.com' }] });
      expect(res.status, field).toBe(400);
      expect(res.json.error.code).toBe('BAD_REQUEST');
      expect(res.json.error.field).toBe(field);
      expect(res.json.error.message).toContain(field);
      expect(JSON.stringify(res.json)).not.toContain('canary-opt-7781');
    }
    const ns = await post('/v1/tokenize', { namespace: 'a\u0001b', items: [{ type: 'opaque', value: 'ok' }] });
    expect(ns.json.error.field).toBe('namespace');
  });

  it('speaks CleverTap\'s Token Vault API', async () => {
    const one = await post('/ct-vault/api/tokenization/getToken', { value: 'jack@gmail.com' });
    expect(one.json.token).toMatch(/^TKN_[0-9A-Za-z]+$/);
    const batch = await post('/ct-vault/api/tokenization/tokens/batch', { values: ['jack@gmail.com', '+14155551234'] });
    expect(batch.json.results[0].token).toBe(one.json.token);
    expect(batch.json.summary.processedCount).toBe(2);
    const raw = await post('/ct-vault/api/tokenization/getRawValue', { token: one.json.token, metadata: { purpose: 'email_dispatch' } });
    expect(raw.json).toEqual({ value: 'jack@gmail.com', exists: true, dataType: 'string' });
    const values = await post('/ct-vault/api/tokenization/tokens/values/batch', { tokens: [one.json.token, 'TKN_unknown1'] });
    expect(values.json.summary).toEqual({ processedCount: 2, foundCount: 1, notFoundCount: 1 });
    expect(values.json.results[1]).toEqual({ token: 'TKN_unknown1', value: null, exists: false, dataType: null });
  });
});

describe('admin listener', () => {
  it('serves /healthz and /readyz', async () => {
    const h = await request(gw.adminUrl + '/healthz');
    expect(h.statusCode).toBe(200);
    await h.body.dump();
    const r = await request(gw.adminUrl + '/readyz');
    expect(r.statusCode).toBe(200);
    expect(((await r.body.json()) as any).checks).toEqual(['rules', 'keys', 'vault', 'audit']);
  });
});
