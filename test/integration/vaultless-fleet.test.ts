/**
 * Vaultless tokens across a fleet: two real gateways (separate processes' worth of state: each its own
 * memory vault, no shared store) with the same keys and PII_GATEWAY_VAULTLESS_TYPES issue the same tokens
 * for the same values and resolve each other's tokens, through the proxy and through the vault API. A real
 * phone number sent where a token is expected is refused, never "decrypted" to a stranger's number.
 */
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring } from '../../src/crypto/keyring.js';
import type { KeyFile } from '../../src/crypto/types.js';
import { vaultlessScheme } from '../../src/tokens/vaultless/index.js';
import { canaryTextForms } from '../helpers/canary.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

// Fixed keys, so the "real number that is not a token" below is the same on every run.
const KEYS: KeyFile = {
  version: 1,
  rootKey: Buffer.alloc(32, 0x5a).toString('base64'),
  activeKeyId: 'k1',
  encryptionKeys: { k1: Buffer.alloc(32, 0x3c).toString('base64') },
};

const FIELDS = ['email', 'phone', 'name', 'account'] as const;
const TYPE = { email: 'email', phone: 'phone', name: 'opaque', account: 'digits' } as const;
const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: ingest
    match: { method: POST, path: /ingest }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
${FIELDS.map((f) => `        - { select: $.${f}, action: tokenize, type: ${TYPE[f]} }`).join('\n')}
  - id: dispatch
    match: { method: POST, path: /dispatch }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
${FIELDS.map((f) => `        - { select: $.${f}, action: detokenize, type: ${TYPE[f]}, missing: skip }`).join('\n')}
`;

type Person = Record<(typeof FIELDS)[number], string>;
const ada: Person = { email: 'ada.lovelace@example.com', phone: '+442071838750', name: 'Ada Lovelace', account: '4012888888881881' };
const grace: Person = { email: 'grace@navy.example', phone: '+12025550143', name: 'Grace Hopper', account: '00123456789' };

let upstream: TestUpstream;
let a: TestGateway;
let b: TestGateway;

beforeAll(async () => {
  upstream = await startUpstream();
  const options = {
    rules: { 'fleet.yaml': rules(upstream.url) },
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: { PII_GATEWAY_KEYS: JSON.stringify(KEYS), PII_GATEWAY_VAULTLESS_TYPES: 'email,phone,opaque,digits' },
  };
  [a, b] = await Promise.all([startTestGateway(options), startTestGateway(options)]);
});
afterAll(async () => {
  await Promise.all([a?.close(), b?.close()]);
  await upstream?.close();
});

/** POSTs `body` to a gateway route and returns what the upstream received (JSON) and the status. */
async function through(gw: TestGateway, path: string, body: unknown): Promise<{ status: number; sent: Record<string, string> | undefined; text: string }> {
  const before = upstream.received.length;
  const res = await request(gw.url + path, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  const got = upstream.received.length > before ? upstream.received.at(-1)! : undefined;
  return { status: res.statusCode, sent: got && (JSON.parse(got.body.toString('utf8')) as Record<string, string>), text };
}

describe('two vaultless gateways, no shared store', () => {
  it('issue the same tokens for the same values, none of them carrying the value', async () => {
    const fromA = await through(a, '/ingest', ada);
    const fromB = await through(b, '/ingest', ada);
    expect(fromA.status).toBe(200);
    expect(fromB.sent).toEqual(fromA.sent);
    const t = fromA.sent!;
    for (const form of canaryTextForms(ada)) expect(JSON.stringify(t)).not.toContain(form);
    expect(t.email).toMatch(/^2[a-z2-7]+@[a-z2-7.]+\.tok\.invalid$/);
    expect(t.phone).toMatch(/^\+44\d{12}$/); // country code kept; 10 national digits + 2 check digits
    expect(t.name).toMatch(/^tok_[A-Za-z0-9_-]+4$/);
    expect(t.account).toMatch(/^[1-9]\d{17}$/);
  });

  it('each resolves the tokens the other issued, through the proxy', async () => {
    const adaTokens = (await through(a, '/ingest', ada)).sent!;
    const graceTokens = (await through(b, '/ingest', grace)).sent!;
    const atB = await through(b, '/dispatch', adaTokens);
    const atA = await through(a, '/dispatch', graceTokens);
    expect(atB.status).toBe(200);
    expect(atB.sent).toEqual(ada);
    expect(atA.status).toBe(200);
    expect(atA.sent).toEqual(grace);
  });

  it('each resolves the other\'s tokens through the vault API, and still does with the issuer stopped', async () => {
    const issued = await request(a.vaultUrl + '/v1/tokenize', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: FIELDS.map((f) => ({ type: TYPE[f], value: grace[f] })) }),
    });
    const tokens = ((await issued.body.json()) as { results: { token: string }[] }).results.map((r) => r.token);
    expect(tokens).toEqual(FIELDS.map(() => expect.any(String)));
    await a.close(); // the issuer, and its vault, are gone
    const res = await request(b.vaultUrl + '/v1/detokenize', {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ items: tokens.map((token) => ({ token })) }),
    });
    const results = ((await res.body.json()) as { results: { found: boolean; value?: string; type?: string }[] }).results;
    expect(results).toEqual(FIELDS.map((f) => ({ found: true, value: grace[f], type: TYPE[f] })));
  });

  it('refuses a real phone number sent to a detokenizing route, forwarding nothing', async () => {
    const real = '+447700900123';
    // Precondition: with these keys this number does not pass the vaultless check (99 in 100 numbers do not).
    expect(vaultlessScheme(createKeyring(KEYS), 'phone').open('default', real)).toBeUndefined();
    const res = await through(b, '/dispatch', { phone: real });
    expect(res.status).toBeGreaterThanOrEqual(400);
    expect(res.sent).toBeUndefined();
    expect(res.text).not.toContain('7700900123');
    expect(JSON.parse(res.text).error.code).toMatch(/^(NOT_A_TOKEN|UNKNOWN_TOKEN)$/);
  });

  it('logged no value of any of these requests (debug level)', () => {
    const forms = canaryTextForms({ ...ada, ...Object.fromEntries(FIELDS.map((f) => [`g${f}`, grace[f]])), real: '+447700900123' });
    const leaks = [...a.logs.lines, ...b.logs.lines].filter((line) => forms.some((f) => line.includes(f)));
    expect(leaks).toEqual([]);
    expect(b.logs.lines.length).toBeGreaterThan(0);
  });
});
