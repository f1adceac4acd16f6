/**
 * Caller authentication on a real gateway: JWT bearer tokens verified against a local JWKS server (real
 * node:http on 127.0.0.1:0 serving jose-generated keys, fetches counted), API keys from a hash file, and
 * route-guard bypass attempts on raw sockets. Every refusal is checked to forward nothing upstream and to
 * keep the credential out of the error body.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer, request as httpRequest, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose';
import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { apiKeyLine, generateApiKey } from '../../src/auth/api-keys.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const ISSUER = 'https://sso.test/realms/acme';
const AUDIENCE = 'pii-gateway';
const PHONE = '+14155550123';

const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: send
    match: { method: POST, path: /send }
    upstream: up
    auth: { jwt: default, apiKey: true }
    request:
      fields:
        - { select: $.to, action: detokenize, type: phone }
  - id: ingest
    match: { method: POST, path: /ingest }
    upstream: up
    auth: { jwt: default, require: [tokenize] }
    request:
      fields:
        - { select: $.to, action: tokenize, type: phone }
  - id: public
    match: { method: POST, path: /public/:x }
    upstream: up
  - id: hosted
    match: { method: POST, path: /hosted, host: api.example.test }
    upstream: up
    auth: { apiKey: true }
    request:
      fields:
        - { select: $.to, action: detokenize, type: phone }
`;

interface Jwks {
  server: Server;
  url: string;
  fetches: number;
  keys: JWK[];
}

async function startJwks(): Promise<Jwks> {
  const state = { fetches: 0, keys: [] as JWK[] } as Jwks;
  state.server = createServer((_req, res) => {
    state.fetches++;
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ keys: state.keys }));
  });
  await new Promise<void>((r) => state.server.listen(0, '127.0.0.1', r));
  state.url = `http://127.0.0.1:${(state.server.address() as AddressInfo).port}/realms/acme/protocol/openid-connect/certs`;
  return state;
}

async function rsaKey(kid: string) {
  const { publicKey, privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' };
  return { kid, publicKey, privateKey, jwk };
}

type Key = Awaited<ReturnType<typeof rsaKey>>;

/** Keycloak's service-account (client-credentials) shape: the client in azp and client_id, sub the service account user's id. */
const KEYCLOAK_SERVICE_ACCOUNT = {
  azp: 'dispatcher',
  typ: 'Bearer',
  client_id: 'dispatcher',
  preferred_username: 'service-account-dispatcher',
  realm_access: { roles: ['detokenize'] },
};

interface SignOptions {
  iss?: string;
  aud?: string;
  exp?: number;
  nbf?: number;
  /** JOSE typ header; null leaves it out. */
  typ?: string | null;
  /** null leaves sub out. */
  sub?: string | null;
  /** Replaces the default (Keycloak service-account) claims instead of extending them. */
  only?: boolean;
}

function sign(key: { kid: string; privateKey: CryptoKey }, claims: Record<string, unknown> = {}, opts: SignOptions = {}) {
  const now = Math.floor(Date.now() / 1000);
  const typ = opts.typ === undefined ? 'JWT' : opts.typ;
  const jwt = new SignJWT(opts.only ? claims : { ...KEYCLOAK_SERVICE_ACCOUNT, ...claims })
    .setProtectedHeader({ alg: 'RS256', kid: key.kid, ...(typ === null ? {} : { typ }) })
    .setIssuer(opts.iss ?? ISSUER)
    .setAudience(opts.aud ?? AUDIENCE)
    .setIssuedAt(now)
    .setExpirationTime(opts.exp ?? now + 300);
  const sub = opts.sub === undefined ? '7c2d3f0e-5b1a-4e59-9a57-0f1d2c3b4a59' : opts.sub;
  if (sub !== null) jwt.setSubject(sub);
  if (opts.nbf !== undefined) jwt.setNotBefore(opts.nbf);
  return jwt.sign(key.privateKey);
}

/** An RFC 9068 access token (oidc-provider, Okta, Auth0's RFC 9068 profile): typ at+jwt, client_id, scope string. */
function signRfc9068(key: { kid: string; privateKey: CryptoKey }, claims: Record<string, unknown>, opts: SignOptions = {}) {
  return sign(key, { jti: `at-${Math.random()}`, scope: 'detokenize', ...claims }, { typ: 'at+jwt', only: true, ...opts });
}

const b64 = (v: unknown) => Buffer.from(JSON.stringify(v)).toString('base64url');

/** A raw HTTP/1.1 request: the path and headers go on the wire exactly as given. */
function raw(base: string, method: string, target: string, headers: Record<string, string> = {}, body = ''): Promise<{ status: number; text: string }> {
  const u = new URL(base);
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: u.hostname, port: u.port, method, path: target, headers: { 'content-type': 'application/json', ...headers } }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString('utf8') }));
    });
    req.on('error', reject);
    req.end(body);
  });
}

let jwks: Jwks;
let k1: Key;
let k2: Key;
let up: TestUpstream;
let gw: TestGateway;
let phoneToken: string;
const keys = { dispatcher: generateApiKey(), crm: generateApiKey(), revoked: generateApiKey() };
let keysFile: string;

const send = (auth: string | undefined, to = phoneToken, target = '/send') =>
  raw(gw.url, 'POST', target, auth === undefined ? {} : { 'proxy-authorization': auth }, JSON.stringify({ to }));

beforeAll(async () => {
  jwks = await startJwks();
  k1 = await rsaKey('k1');
  k2 = await rsaKey('k2');
  jwks.keys = [k1.jwk];
  up = await startUpstream();
  up.reply((r) => ({ body: r.body }));
  // The API key file (hashes only); the store re-reads it when it changes.
  keysFile = path.join(mkdtempSync(path.join(tmpdir(), 'pii-gw-keys-')), 'api-keys.txt');
  writeFileSync(
    keysFile,
    [apiKeyLine('dispatcher', ['detokenize'], keys.dispatcher), apiKeyLine('crm', ['tokenize'], keys.crm), apiKeyLine('old', ['detokenize'], keys.revoked)].join('\n') + '\n',
  );
  gw = await startTestGateway({
    rules: { 'r.yaml': rules(up.url) },
    detokenizePolicy: LOCAL_DETOKENIZE_POLICY,
    settings: {
      PII_GATEWAY_JWT_ISSUER: ISSUER,
      PII_GATEWAY_JWT_AUDIENCE: AUDIENCE,
      PII_GATEWAY_JWT_JWKS_URL: jwks.url,
      PII_GATEWAY_JWT_JWKS_COOLDOWN: '400ms',
      PII_GATEWAY_API_KEYS_FILE: keysFile,
    },
  });
  phoneToken = (await gw.gw.vault.tokenize([{ spec: createTokenSpec({ type: 'phone', namespace: 'default' }, gw.gw.keyring), value: PHONE }]))[0]!;
});

afterAll(async () => {
  await gw?.close();
  await up?.close();
  await new Promise<void>((r) => jwks.server.close(() => r()));
});

/** Refused: the status and code, nothing forwarded, the credential not echoed. */
async function expectRefused(res: Promise<{ status: number; text: string }>, status: number, code: string, credential?: string) {
  const before = up.received.length;
  const r = await res;
  expect(r.status).toBe(status);
  // node's HTTP parser or @hono/node-server refuse some targets and Host values themselves (400, no body):
  // refused before routing all the same.
  if (!(status === 400 && r.text === '')) expect(JSON.parse(r.text).error.code).toBe(code);
  if (credential !== undefined) expect(r.text).not.toContain(credential);
  expect(r.text).not.toContain(PHONE);
  expect(up.received.length).toBe(before);
}

describe('JWT bearer tokens on a detokenize route', () => {
  it('valid token with the detokenize role: 200, the provider gets the number and never the credential', async () => {
    const token = await sign(k1);
    const r = await send(`Bearer ${token}`);
    expect(r.status).toBe(200);
    const got = up.received.at(-1)!;
    expect(JSON.parse(got.body.toString()).to).toBe(PHONE);
    expect(got.headers['proxy-authorization']).toBeUndefined();
    expect(JSON.stringify(got.headers)).not.toContain(token);
    expect(jwks.fetches).toBe(1);
  });

  it('no credential: 401 AUTH_REQUIRED; another scheme: 401 AUTH_INVALID', async () => {
    await expectRefused(send(undefined), 401, 'AUTH_REQUIRED');
    await expectRefused(send('Basic ZGlzcGF0Y2hlcjpzZWNyZXQ='), 401, 'AUTH_INVALID', 'ZGlzcGF0Y2hlcjpzZWNyZXQ=');
    const token = await sign(k1);
    await expectRefused(send(`Token ${token}`), 401, 'AUTH_INVALID', token);
  });

  it("alg 'none' and HS256 signed with the RSA public key are refused", async () => {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: ISSUER, aud: AUDIENCE, exp: now + 300, azp: 'dispatcher', realm_access: { roles: ['detokenize'] } };
    const none = `${b64({ alg: 'none', typ: 'JWT', kid: 'k1' })}.${b64(claims)}.`;
    await expectRefused(send(`Bearer ${none}`), 401, 'AUTH_INVALID', none);
    const pem = await exportSPKI(k1.publicKey);
    for (const secret of [pem, JSON.stringify(k1.jwk), Buffer.from(k1.jwk.n!, 'base64url').toString('latin1')]) {
      const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: 'k1' })}.${b64(claims)}`;
      const hs = `${input}.${createHmac('sha256', secret).update(input).digest('base64url')}`;
      await expectRefused(send(`Bearer ${hs}`), 401, 'AUTH_INVALID', hs);
    }
  });

  it('wrong audience, wrong issuer, expired, not yet valid: 401 naming the reason, never the token', async () => {
    const now = Math.floor(Date.now() / 1000);
    const cases: [Promise<string>, RegExp][] = [
      [sign(k1, {}, { aud: 'another-service' }), /audience/],
      [sign(k1, {}, { iss: 'https://evil.test/realms/acme' }), /issuer/],
      [sign(k1, {}, { exp: now - 120 }), /expired/],
      [sign(k1, {}, { nbf: now + 120 }), /not valid yet/],
    ];
    for (const [pending, reason] of cases) {
      const token = await pending;
      const r = await send(`Bearer ${token}`);
      expect(r.status).toBe(401);
      expect(JSON.parse(r.text).error).toMatchObject({ code: 'AUTH_INVALID', message: expect.stringMatching(reason) });
      expect(r.text).not.toContain(token);
    }
    // within the 30 s skew: still accepted
    expect((await send(`Bearer ${await sign(k1, {}, { exp: now - 5 })}`)).status).toBe(200);
  });

  it('a valid token without the detokenize role: 403 FORBIDDEN, nothing forwarded', async () => {
    const token = await sign(k1, { realm_access: { roles: ['tokenize'] }, scope: 'profile email' });
    await expectRefused(send(`Bearer ${token}`), 403, 'FORBIDDEN', token);
  });

  it('unknown kid: one JWKS refetch, then refused without refetching until the cooldown ends; rotation picks up the new key', async () => {
    await new Promise((r) => setTimeout(r, 450)); // past the cooldown since the first fetch
    const before = jwks.fetches;
    const unknown = await sign(k2); // k2 is not published yet
    await expectRefused(send(`Bearer ${unknown}`), 401, 'AUTH_INVALID', unknown);
    expect(jwks.fetches).toBe(before + 1);
    await expectRefused(send(`Bearer ${unknown}`), 401, 'AUTH_INVALID', unknown);
    await expectRefused(send(`Bearer ${await sign(k2, { jti: 'x' })}`), 401, 'AUTH_INVALID');
    expect(jwks.fetches).toBe(before + 1); // refused within the cooldown without hitting the IdP again

    jwks.keys = [k2.jwk]; // rotation: k2 published, k1 retired
    await new Promise((r) => setTimeout(r, 450));
    expect((await send(`Bearer ${await sign(k2)}`)).status).toBe(200);
    expect(jwks.fetches).toBe(before + 2);
    // k1 is gone from the set now; its tokens are refused
    await expectRefused(send(`Bearer ${await sign(k1)}`), 401, 'AUTH_INVALID');
    jwks.keys = [k1.jwk, k2.jwk];
  });

  it('the vault API needs a bearer credential with the right permission once JWT is configured', async () => {
    const call = (auth?: string) =>
      raw(gw.vaultUrl, 'POST', '/v1/detokenize', auth ? { authorization: auth } : {}, JSON.stringify({ items: [{ token: phoneToken }] }));
    await new Promise((r) => setTimeout(r, 450));
    const none = await call();
    expect([none.status, JSON.parse(none.text).error.code]).toEqual([401, 'AUTH_REQUIRED']);
    const tokenizeOnly = await call(`Bearer ${await sign(k1, { realm_access: { roles: ['tokenize'] } })}`);
    expect([tokenizeOnly.status, JSON.parse(tokenizeOnly.text).error.code]).toEqual([403, 'FORBIDDEN']);
    expect(tokenizeOnly.text).not.toContain(PHONE);
    const ok = await call(`Bearer ${await sign(k1)}`);
    expect(ok.status).toBe(200);
    expect(JSON.parse(ok.text).results[0]).toMatchObject({ found: true, value: PHONE });
    // scopes work too (space-separated `scope` claim)
    const scoped = await call(`Bearer ${await sign(k1, { realm_access: { roles: [] }, scope: 'openid detokenize' })}`);
    expect(scoped.status).toBe(200);
  });
});

/** The JSON error of a response, with the credential and the number checked to be absent. */
function errorOf(r: { status: number; text: string }, credential: string) {
  expect(r.text).not.toContain(credential);
  expect(r.text).not.toContain(PHONE);
  return { status: r.status, ...(JSON.parse(r.text) as { error: { code: string; message: string } }).error };
}

const vault = (auth: string, endpoint: '/v1/tokenize' | '/v1/detokenize', body: unknown) =>
  raw(gw.vaultUrl, 'POST', endpoint, { authorization: auth }, JSON.stringify(body));

describe('only access tokens (RFC 9068 section 4)', () => {
  // An ID token whose audience is the gateway: what a user gets at login when the gateway's client id is
  // the audience (the Keycloak convention). Signed by the provider's own key, unexpired, right issuer.
  const idTokenShapes: [string, () => Promise<string>][] = [
    ['OIDC ID token (nonce, at_hash)', () => sign(k1, { azp: 'dispatcher', nonce: 'n-0S6_WzA2Mj', at_hash: 'HK6E_P6Dh8Y93mRNtsDB1Q', realm_access: { roles: ['tokenize', 'detokenize'] } }, { only: true, sub: 'user-1' })],
    ['OIDC ID token from the code flow (c_hash only)', () => sign(k1, { azp: 'dispatcher', c_hash: 'LDktKdoQak3Pk0cnXxCltA', scope: 'tokenize detokenize' }, { only: true, sub: 'user-1' })],
    ['Keycloak ID token (typ claim ID)', () => sign(k1, { typ: 'ID', azp: 'dispatcher', preferred_username: 'alice', realm_access: { roles: ['tokenize', 'detokenize'] } }, { only: true, sub: 'user-1' })],
    ['ID token typed at+jwt in its header', () => sign(k1, { client_id: 'dispatcher', nonce: 'n', scope: 'tokenize detokenize' }, { only: true, typ: 'at+jwt', sub: 'user-1' })],
  ];

  for (const [shape, mint] of idTokenShapes) {
    it(`${shape}: refused on a tokenizing proxy route, a detokenize route and the vault API (401, says why)`, async () => {
      const token = await mint();
      const before = up.received.length;
      const r = await raw(gw.url, 'POST', '/ingest', { 'proxy-authorization': `Bearer ${token}` }, JSON.stringify({ to: PHONE }));
      expect(errorOf(r, token)).toMatchObject({ status: 401, code: 'AUTH_INVALID', message: expect.stringContaining('an ID token is not an access token') });
      expect(up.received.length).toBe(before);
      await expectRefused(send(`Bearer ${token}`), 401, 'AUTH_INVALID', token);
      for (const [endpoint, body] of [['/v1/tokenize', { items: [{ type: 'phone', value: PHONE }] }], ['/v1/detokenize', { items: [{ token: phoneToken }] }]] as const) {
        expect(errorOf(await vault(`Bearer ${token}`, endpoint, body), token)).toMatchObject({ status: 401, code: 'AUTH_INVALID', message: expect.stringContaining('an ID token is not an access token') });
      }
    });
  }

  it('other Keycloak token kinds (typ Refresh, Logout) and a missing typ header are refused too', async () => {
    for (const t of ['Refresh', 'Logout', 'Offline']) {
      const token = await sign(k1, { typ: t });
      expect(errorOf(await send(`Bearer ${token}`), token)).toMatchObject({ status: 401, code: 'AUTH_INVALID', message: expect.stringContaining('typ claim') });
    }
    const untyped = await sign(k1, {}, { typ: null });
    expect(errorOf(await send(`Bearer ${untyped}`), untyped)).toMatchObject({ status: 401, code: 'AUTH_INVALID', message: expect.stringContaining('no typ header') });
    const other = await sign(k1, {}, { typ: 'id_token+jwt' });
    expect(errorOf(await send(`Bearer ${other}`), other)).toMatchObject({ status: 401, code: 'AUTH_INVALID', message: expect.stringContaining('typ header') });
  });

  it('Keycloak and RFC 9068 client-credentials access tokens still work (proxy route and vault API)', async () => {
    const keycloak = await sign(k1, { realm_access: { roles: ['tokenize', 'detokenize'] } });
    const rfc9068 = await signRfc9068(k1, { client_id: 'dispatcher', scope: 'tokenize detokenize' }, { sub: 'dispatcher' });
    const mediaType = await signRfc9068(k1, { client_id: 'dispatcher', scope: 'tokenize detokenize' }, { sub: 'dispatcher', typ: 'application/AT+JWT' });
    for (const token of [keycloak, rfc9068, mediaType]) {
      expect((await send(`Bearer ${token}`)).status).toBe(200);
      expect(JSON.parse(up.received.at(-1)!.body.toString()).to).toBe(PHONE);
      expect((await raw(gw.url, 'POST', '/ingest', { 'proxy-authorization': `Bearer ${token}` }, JSON.stringify({ to: PHONE }))).status).toBe(200);
      expect(up.received.at(-1)!.body.toString()).not.toContain(PHONE);
      expect((await vault(`Bearer ${token}`, '/v1/detokenize', { items: [{ token: phoneToken }] })).status).toBe(200);
    }
  });
});

describe('user-delegated tokens on a gateway without purposes', () => {
  it("a user's token through the right client: refused on a detokenize route and the vault API's detokenize (403, says why); tokenize still works", async () => {
    const tokens = [
      await sign(k1, { azp: 'dispatcher', typ: 'Bearer', preferred_username: 'alice', realm_access: { roles: ['tokenize', 'detokenize'] } }, { only: true, sub: 'f3a1e2d4-user' }),
      await signRfc9068(k1, { client_id: 'dispatcher', scope: 'tokenize detokenize' }, { sub: 'alice' }),
    ];
    for (const token of tokens) {
      await expectRefused(send(`Bearer ${token}`), 403, 'FORBIDDEN', token);
      const r = await send(`Bearer ${token}`);
      expect(errorOf(r, token).message).toContain("a user's token");
      const v = await vault(`Bearer ${token}`, '/v1/detokenize', { items: [{ token: phoneToken }] });
      expect(errorOf(v, token)).toMatchObject({ status: 403, code: 'FORBIDDEN', message: expect.stringContaining('users: true') });
      expect((await vault(`Bearer ${token}`, '/v1/tokenize', { items: [{ type: 'email', value: 'a@b.example' }] })).status).toBe(200);
    }
  });
});

describe('callers are named after their client (vault API purposes)', () => {
  let gw2: TestGateway;
  let phone2: string;
  beforeAll(async () => {
    gw2 = await startTestGateway({
      rules: { 'r.yaml': rules(up.url) },
      detokenizePolicy: `version: 1
destinations: { phone: [127.0.0.1] }
responses: []
purposes:
  sms_dispatch: { callers: ["jwt:clevertap-dispatcher"], types: [phone] }
  agent_lookup: { callers: ["jwt:support-console"], types: [phone], users: true }
`,
      settings: { PII_GATEWAY_JWT_ISSUER: ISSUER, PII_GATEWAY_JWT_AUDIENCE: AUDIENCE, PII_GATEWAY_JWT_JWKS_URL: jwks.url, PII_GATEWAY_JWT_JWKS_COOLDOWN: '400ms' },
    });
    phone2 = (await gw2.gw.vault.tokenize([{ spec: createTokenSpec({ type: 'phone', namespace: 'default' }, gw2.gw.keyring), value: PHONE }]))[0]!;
  });
  afterAll(async () => {
    await gw2?.close();
  });

  const det = (token: string, purpose: string) =>
    raw(gw2.vaultUrl, 'POST', '/v1/detokenize', { authorization: `Bearer ${token}` }, JSON.stringify({ purpose, items: [{ token: phone2 }] }));

  it("a user whose sub is a client's name gets nothing for that client's purpose (RFC 9068 and Keycloak shapes)", async () => {
    const rfc9068User = await signRfc9068(k1, { client_id: 'crm-web' }, { sub: 'clevertap-dispatcher' });
    const keycloakUser = await sign(k1, { azp: 'crm-web', typ: 'Bearer', preferred_username: 'clevertap-dispatcher', realm_access: { roles: ['detokenize'] } }, { only: true, sub: 'clevertap-dispatcher' });
    for (const token of [rfc9068User, keycloakUser]) {
      expect(errorOf(await det(token, 'sms_dispatch'), token)).toMatchObject({ status: 403, code: 'FORBIDDEN', message: 'this caller may not detokenize for this purpose' });
    }
  });

  it('the client itself (client credentials) resolves for its purpose, in both shapes', async () => {
    const rfc9068 = await signRfc9068(k1, { client_id: 'clevertap-dispatcher' }, { sub: 'clevertap-dispatcher' });
    const keycloak = await sign(k1, { azp: 'clevertap-dispatcher', client_id: 'clevertap-dispatcher', preferred_username: 'service-account-clevertap-dispatcher' });
    for (const token of [rfc9068, keycloak]) {
      const r = await det(token, 'sms_dispatch');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).results[0]).toMatchObject({ found: true, value: PHONE });
    }
  });

  it("a user's token through the listed client is refused unless the purpose says users: true", async () => {
    const viaDispatcher = [
      await signRfc9068(k1, { client_id: 'clevertap-dispatcher' }, { sub: 'alice' }),
      await sign(k1, { azp: 'clevertap-dispatcher', typ: 'Bearer', preferred_username: 'alice', realm_access: { roles: ['detokenize'] } }, { only: true, sub: 'f3a1e2d4-user' }),
      // a user cannot pass as a Keycloak service account by the username alone
      await sign(k1, { azp: 'clevertap-dispatcher', typ: 'Bearer', preferred_username: 'service-account-clevertap-dispatcher', realm_access: { roles: ['detokenize'] } }, { only: true, sub: 'f3a1e2d4-user' }),
    ];
    for (const token of viaDispatcher) {
      expect(errorOf(await det(token, 'sms_dispatch'), token)).toMatchObject({ status: 403, code: 'FORBIDDEN', message: expect.stringContaining("a user's token") });
    }
    const viaConsole = [
      await signRfc9068(k1, { client_id: 'support-console' }, { sub: 'alice' }),
      await sign(k1, { azp: 'support-console', typ: 'Bearer', preferred_username: 'alice', realm_access: { roles: ['detokenize'] } }, { only: true, sub: 'f3a1e2d4-user' }),
    ];
    for (const token of viaConsole) {
      const r = await det(token, 'agent_lookup');
      expect(r.status).toBe(200);
      expect(JSON.parse(r.text).results[0]).toMatchObject({ found: true, value: PHONE });
    }
  });
});

describe('API keys', () => {
  it('valid detokenize key: 200; wrong key: 401; tokenize-only key: 403', async () => {
    expect((await send(`Bearer ${keys.dispatcher}`)).status).toBe(200);
    const wrong = generateApiKey();
    await expectRefused(send(`Bearer ${wrong}`), 401, 'AUTH_INVALID', wrong);
    await expectRefused(send(`Bearer pgk_short`), 401, 'AUTH_INVALID');
    await expectRefused(send(`Bearer ${keys.crm}`), 403, 'FORBIDDEN', keys.crm);
    // the vault API takes the same keys in Authorization
    const v = await raw(gw.vaultUrl, 'POST', '/v1/tokenize', { authorization: `Bearer ${keys.crm}` }, JSON.stringify({ items: [{ type: 'email', value: 'a@b.example' }] }));
    expect(v.status).toBe(200);
  });

  it('a revoked key (its line deleted) is refused within about a second, without a restart', async () => {
    expect((await send(`Bearer ${keys.revoked}`)).status).toBe(200);
    writeFileSync(keysFile, [apiKeyLine('dispatcher', ['detokenize'], keys.dispatcher), apiKeyLine('crm', ['tokenize'], keys.crm)].join('\n') + '\n');
    await new Promise((r) => setTimeout(r, 1100));
    await expectRefused(send(`Bearer ${keys.revoked}`), 401, 'AUTH_INVALID', keys.revoked);
    expect((await send(`Bearer ${keys.dispatcher}`)).status).toBe(200);
  });
});

describe('route-guard bypass attempts reach nothing', () => {
  const bypasses = [
    '/public/..%2Fsend',
    '/public/..%2fsend',
    '/public/%2e%2e/send',
    '/public/../send',
    '/public/x/../../send',
    '/public/./../send',
    '/public/..;/send',
    '//send',
    '/public//send',
    '/send/.',
    '/public/x%5C..%5Csend',
    '/public/x\\..\\send',
    '/public/%252e%252e%252fsend',
    'http://127.0.0.1/send',
  ];
  for (const target of bypasses) {
    it(`refuses ${target} with 400 INVALID_PATH before routing`, async () => {
      await expectRefused(raw(gw.url, 'POST', target, {}, JSON.stringify({ to: phoneToken })), 400, 'INVALID_PATH');
    });
  }

  it('case tricks match no protected route (404), and an unauthenticated /send stays 401', async () => {
    await expectRefused(raw(gw.url, 'POST', '/SEND', {}, JSON.stringify({ to: phoneToken })), 404, 'ROUTE_NOT_FOUND');
    await expectRefused(raw(gw.url, 'POST', '/Send', {}, JSON.stringify({ to: phoneToken })), 404, 'ROUTE_NOT_FOUND');
    await expectRefused(raw(gw.url, 'POST', '/send?x=/public/a', {}, JSON.stringify({ to: phoneToken })), 401, 'AUTH_REQUIRED');
  });

  it('a trailing-dot Host cannot dodge a host-bound route', async () => {
    const body = JSON.stringify({ to: phoneToken });
    await expectRefused(raw(gw.url, 'POST', '/hosted', { host: 'api.example.test' }, body), 401, 'AUTH_REQUIRED');
    await expectRefused(raw(gw.url, 'POST', '/hosted', { host: 'api.example.test.' }, body), 400, 'INVALID_PATH');
    await expectRefused(raw(gw.url, 'POST', '/hosted', { host: 'API.EXAMPLE.TEST.:80' }, body), 400, 'INVALID_PATH');
    expect((await raw(gw.url, 'POST', '/hosted', { host: 'API.Example.Test', 'proxy-authorization': `Bearer ${keys.dispatcher}` }, body)).status).toBe(200);
  });

  it('the unprotected route still serves ordinary paths', async () => {
    expect((await raw(gw.url, 'POST', '/public/abc', {}, '{}')).status).toBe(200);
    expect(up.received.at(-1)!.url).toBe('/public/abc');
  });
});
