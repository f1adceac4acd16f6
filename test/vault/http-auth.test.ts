/**
 * The HTTP vault client's credentials and TLS, against real local servers: an OAuth2 token endpoint that
 * expires tokens early or answers garbage, a vault that checks bearer tokens, and an https vault with a
 * private CA and a client-certificate requirement (certificates from `pii-gateway certs init`'s code).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { certsInit, type InitResult } from '../../src/cli/certs.js';
import type { HttpVaultConfig } from '../../src/config/vault.js';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { isGatewayError, type GatewayError } from '../../src/errors.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { HttpVault } from '../../src/vault/http.js';
import type { TokenizeItem, Vault } from '../../src/vault/interface.js';
import { json, startFakeVault, type FakeVault } from '../helpers/fake-vault.js';
import { httpVaultConfig } from '../helpers/http-vault.js';

const keyring = ephemeralKeyring();
const CANARY = 'canary.auth.8812@canary-example.org';
const SECRET = 'client-secret-canary-QX71';
const items = (): TokenizeItem[] => [{ spec: createTokenSpec({ type: 'email' }, keyring), value: CANARY }];
const FAST = { backoff: { baseMs: 5, capMs: 20 } };

let fake: FakeVault;
const open: Vault[] = [];
const errors: GatewayError[] = [];

function oauth(url: string): HttpVaultConfig['oauth'] {
  return { tokenUrl: new URL(`${url}/realms/acme/protocol/openid-connect/token`), clientId: 'pii-gateway', clientSecret: SECRET, scope: 'vault' };
}
async function vault(overrides: Partial<HttpVaultConfig> = {}): Promise<Vault> {
  const v = await HttpVault.open(httpVaultConfig(fake.url, { oauth: oauth(fake.url), ...overrides }), FAST);
  open.push(v);
  return v;
}
async function failure(p: Promise<unknown>): Promise<GatewayError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${err === undefined ? 'success' : String(err)}`);
  errors.push(err);
  return err;
}

beforeAll(async () => {
  fake = await startFakeVault();
});
afterEach(async () => {
  while (open.length > 0) await open.pop()!.close();
  fake.behave(undefined);
  fake.behaveToken(undefined);
  fake.requireAuth = false;
  fake.validTokens.clear();
  fake.requests.length = 0;
  fake.tokenRequests.length = 0;
});
afterAll(async () => {
  await fake.close();
  expect(errors.length).toBeGreaterThan(5);
  for (const e of errors) {
    const text = `${e.message} ${(e.cause as Error | undefined)?.message ?? ''}`;
    for (const secret of [CANARY, SECRET, '8812', 'QX71']) expect(text).not.toContain(secret);
  }
});

describe('HttpVault with OAuth2 client credentials', () => {
  it('gets one token for concurrent callers, sends it as a bearer, and reuses it', async () => {
    fake.requireAuth = true;
    const v = await vault();
    await Promise.all(Array.from({ length: 10 }, () => v.tokenize(items())));
    await v.tokenize(items());
    expect(fake.tokenRequests).toHaveLength(1);
    expect(fake.requests).toHaveLength(11);
    const t = fake.tokenRequests[0]!;
    expect(t.path).toBe('/realms/acme/protocol/openid-connect/token');
    expect(Object.fromEntries(new URLSearchParams(t.raw))).toEqual({ grant_type: 'client_credentials', scope: 'vault' });
    expect(t.headers.authorization).toBe(`Basic ${Buffer.from(`pii-gateway:${SECRET}`).toString('base64')}`);
    expect(t.headers['content-type']).toBe('application/x-www-form-urlencoded');
    expect(fake.requests[0]!.headers.authorization).toMatch(/^Bearer AT\d+\./);
  });

  it('refreshes once on a 401 when the token endpoint expired its token early, then succeeds', async () => {
    fake.requireAuth = true;
    const v = await vault();
    await v.tokenize(items());
    fake.validTokens.clear(); // the identity provider revoked it long before expires_in (3600 s)
    await v.tokenize(items());
    expect(fake.tokenRequests).toHaveLength(2);
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual([
      fake.requests[0]!.headers.authorization,
      fake.requests[0]!.headers.authorization,
      fake.requests[2]!.headers.authorization,
    ]);
    expect(fake.requests[2]!.headers.authorization).not.toBe(fake.requests[0]!.headers.authorization);
  });

  it('fails on a second 401 after the refresh, saying the vault refused our credentials', async () => {
    fake.requireAuth = true;
    const v = await vault();
    fake.behave((_req, res) => json(res, 401, { error: { code: 'AUTH_INVALID' } }));
    const err = await failure(v.tokenize(items()));
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    expect(err.message).toBe('remote vault answered 401 AUTH_INVALID: the remote vault refused our credentials');
    expect(fake.requests).toHaveLength(2);
    expect(fake.tokenRequests).toHaveLength(2);
  });

  it('refreshes shortly before expires_in without waiting for a 401', async () => {
    let n = 0;
    fake.behaveToken((_req, res) => json(res, 200, { access_token: `short${++n}`, token_type: 'Bearer', expires_in: 1 }));
    const v = await vault();
    await v.tokenize(items());
    await new Promise((r) => setTimeout(r, 950)); // past 90% of a 1 s lifetime
    await v.tokenize(items());
    expect(fake.requests.map((r) => r.headers.authorization)).toEqual(['Bearer short1', 'Bearer short2']);
  });

  const garbage: [string, (res: import('node:http').ServerResponse) => unknown, RegExp][] = [
    ['an HTML login page', (res) => json(res, 200, `<html><form>${SECRET}</form></html>`, { 'content-type': 'text/html' }), /token endpoint answered 200 with a body that is not a JSON object \(text\/html\)/],
    ['non-JSON text', (res) => json(res, 200, `access_token=${SECRET}`, { 'content-type': 'text/plain' }), /not a JSON object \(text\/plain\)/],
    ['JSON without access_token', (res) => json(res, 200, { token: SECRET }), /answered 200 without an access_token/],
    ['a numeric access_token', (res) => json(res, 200, { access_token: 12345 }), /without an access_token/],
    ['500', (res) => json(res, 500, `<h1>${SECRET}</h1>`), /token endpoint answered 500$/],
    ['401 invalid_client', (res) => json(res, 401, { error: 'invalid_client', error_description: `secret ${SECRET} wrong` }), /answered 401 invalid_client: it refused our client credentials/],
  ];
  for (const [name, answer, message] of garbage) {
    it(`fails clearly on a token endpoint answering ${name}, sending nothing to the vault`, async () => {
      fake.behaveToken((_req, res) => (answer(res), true));
      const v = await vault();
      const err = await failure(v.tokenize(items()));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(/^OAuth2 token endpoint /);
      expect(err.message).toMatch(message);
      expect(fake.requests).toHaveLength(0);
      // Readiness goes red for the same reason.
      expect((await failure(v.ping())).message).toMatch(message);
    });
  }

  it('retries a token endpoint that answers 503 and gives up on one that never answers, within the deadline', async () => {
    let n = 0;
    fake.behaveToken((_req, res) => (++n === 1 ? json(res, 503, '') : false));
    const v = await vault();
    expect(await v.tokenize(items())).toHaveLength(1);
    expect(fake.tokenRequests).toHaveLength(2);

    fake.behaveToken(() => true);
    const slow = await vault({ timeoutMs: 300 });
    const started = Date.now();
    const err = await failure(slow.tokenize(items()));
    expect(Date.now() - started).toBeLessThan(1300);
    expect(err.message).toMatch(/did not answer within 300 ms/);
  });

  it('sends a static API key as a bearer and never retries its 401', async () => {
    fake.behave((_req, res) => json(res, 401, { error: { code: 'AUTH_INVALID' } }));
    const v = await vault({ oauth: undefined, apiKey: 'pgk_abc.def' });
    const err = await failure(v.tokenize(items()));
    expect(err.message).toMatch(/refused our credentials/);
    expect(fake.requests).toHaveLength(1);
    expect(fake.requests[0]!.headers.authorization).toBe('Bearer pgk_abc.def');
    expect(fake.tokenRequests).toHaveLength(0);
  });
});

describe('HttpVault over TLS', () => {
  let dir: string;
  let pki: InitResult;
  let tlsFake: FakeVault;
  beforeAll(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'pii-http-tls-'));
    pki = certsInit(path.join(dir, 'pki'));
    tlsFake = await startFakeVault({ tls: { ...pki.server, ca: pki.ca.cert, requestCert: true } });
  });
  afterAll(async () => {
    await tlsFake?.close();
    rmSync(dir, { recursive: true, force: true });
  });
  const tlsVault = async (tls: HttpVaultConfig['tls']) => {
    const v = await HttpVault.open(httpVaultConfig(tlsFake.url.replace('127.0.0.1', 'localhost'), { tls }), FAST);
    open.push(v);
    return v;
  };

  it('verifies the vault against the configured CA and presents the client certificate (mTLS)', async () => {
    const v = await tlsVault({ ca: pki.ca.cert, cert: pki.client.cert, key: pki.client.key });
    expect(await v.tokenize(items())).toHaveLength(1);
    await v.ping();
  });

  it('refuses a vault whose certificate the CA does not vouch for, without retrying', async () => {
    const v = await tlsVault({ ca: undefined, cert: pki.client.cert, key: pki.client.key });
    const before = tlsFake.requests.length;
    const err = await failure(v.tokenize(items()));
    expect(err.message).toMatch(/^remote vault is unreachable \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)$/);
    expect(tlsFake.requests.length).toBe(before);
  });

  it('fails without the client certificate the vault requires', async () => {
    const v = await tlsVault({ ca: pki.ca.cert, cert: undefined, key: undefined });
    const err = await failure(v.tokenize(items()));
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    expect(err.message).toMatch(/^remote vault is unreachable/);
  });

  it('refuses unreadable TLS files at open with CONFIG_INVALID naming the file', async () => {
    const bad = path.join(dir, 'not-a-cert.pem');
    writeFileSync(bad, 'not PEM');
    const err = await failure(HttpVault.open(httpVaultConfig(tlsFake.url, { tls: { ca: path.join(dir, 'missing.pem'), cert: undefined, key: undefined } })));
    expect([err.code, err.message]).toEqual(['CONFIG_INVALID', `PII_GATEWAY_HTTP_VAULT_CA/_CERT/_KEY: cannot read the ca file ${path.join(dir, 'missing.pem')} (ENOENT)`]);
    expect((await failure(HttpVault.open(httpVaultConfig(tlsFake.url, { tls: { ca: undefined, cert: bad, key: bad } })))).message).toMatch(/do not load/);
  });
});
