/**
 * JWT authentication against a real, independent OpenID provider: `oidc-provider` 8 (a certified OIDC
 * server) started here on 127.0.0.1:<free port>, issuing RFC 9068 JWT access tokens (typ at+jwt,
 * client_id, scope string) for a resource indicator through the client-credentials grant, and publishing
 * its keys at its own jwks_uri. The gateway is configured the way docs/security.md tells an operator of
 * an RFC 9068 provider to configure it (PII_GATEWAY_JWT_TOKEN_TYPES=at+jwt).
 *
 * Defends: a client-credentials access token from the provider works on the vault API and is audited
 * under its client (`jwt:clevertap-dispatcher`); the same provider's ID tokens (signed with the same keys,
 * right issuer, audience the gateway's client id) and its access tokens for another API are refused 401
 * AUTH_INVALID.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { exportJWK, generateKeyPair, decodeProtectedHeader, decodeJwt } from 'jose';
import Provider from 'oidc-provider';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { postRaw } from '../helpers/http.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

const PHONE = '+14155550123';
/** The gateway's audience: the resource server's `aud`, and (Keycloak convention) the gateway's own client id. */
const AUDIENCE = 'pii-gateway';
const RESOURCE = 'https://pii-gateway.test/';
const OTHER_RESOURCE = 'https://crm-api.test/';
const SECRET = 'dispatcher-secret-0123456789abcdef';

const rules = `
version: 1
upstreams:
  up: { url: "http://127.0.0.1:9" }
routes:
  - id: send
    match: { method: POST, path: /send }
    upstream: up
    auth: { jwt: default }
    request:
      fields:
        - { select: $.to, action: detokenize, type: phone }
`;

const POLICY = `version: 1
destinations: { phone: [127.0.0.1] }
responses: []
purposes:
  sms_dispatch: { callers: ["jwt:clevertap-dispatcher"], types: [phone] }
`;

let server: Server;
let provider: Provider;
let issuer: string;
let gw: TestGateway;

async function startProvider(): Promise<void> {
  server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const { privateKey } = await generateKeyPair('RS256', { extractable: true });
  const jwk = { ...(await exportJWK(privateKey)), kid: 'op-rsa-1', alg: 'RS256', use: 'sig' };
  provider = new Provider(issuer, {
    clients: [
      {
        client_id: 'clevertap-dispatcher',
        client_secret: SECRET,
        grant_types: ['client_credentials'],
        response_types: [],
        redirect_uris: [],
        token_endpoint_auth_method: 'client_secret_basic',
      },
      // The gateway's own client (its id is the gateway's audience): a user's login through it yields an ID token with aud pii-gateway.
      {
        client_id: AUDIENCE,
        client_secret: 'gateway-client-secret-0123456789',
        grant_types: ['authorization_code'],
        response_types: ['code'],
        redirect_uris: ['http://127.0.0.1/cb'],
      },
    ],
    jwks: { keys: [jwk] },
    cookies: { keys: ['test-cookie-key-0123456789abcdef'] },
    ttl: { ClientCredentials: 300, IdToken: 300 },
    scopes: ['openid', 'tokenize', 'detokenize'],
    features: {
      devInteractions: { enabled: false },
      clientCredentials: { enabled: true },
      resourceIndicators: {
        enabled: true,
        defaultResource: () => RESOURCE,
        useGrantedResource: () => true,
        getResourceServerInfo: (_ctx: unknown, resource: string) => {
          if (resource === RESOURCE) return { scope: 'detokenize tokenize', audience: AUDIENCE, accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          if (resource === OTHER_RESOURCE) return { scope: 'detokenize tokenize', audience: 'crm-api', accessTokenFormat: 'jwt', jwt: { sign: { alg: 'RS256' } } };
          throw new Provider.errors.InvalidTarget();
        },
      },
    },
  });
  server.on('request', provider.callback());
}

/** A client-credentials access token from the provider's token endpoint (client_secret_basic). */
async function accessToken(resource: string): Promise<string> {
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { token_endpoint: string };
  const res = await fetch(discovery.token_endpoint, {
    method: 'POST',
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      authorization: `Basic ${Buffer.from(`clevertap-dispatcher:${SECRET}`).toString('base64')}`,
    },
    body: new URLSearchParams({ grant_type: 'client_credentials', resource, scope: 'detokenize tokenize' }).toString(),
  });
  const body = (await res.json()) as { access_token?: string; token_type?: string };
  expect(res.status, JSON.stringify(body)).toBe(200);
  return body.access_token!;
}

/**
 * An ID token issued by the provider itself (its IdToken model, its signing key) to the gateway's client:
 * `aud` pii-gateway, the provider's issuer, a user subject. `extra` adds claims (nonce).
 */
async function idToken(extra: Record<string, string> = {}): Promise<string> {
  const client = await provider.Client.find(AUDIENCE);
  const token = new provider.IdToken({ sub: 'alice' }, { client });
  token.scope = 'openid';
  for (const [k, v] of Object.entries(extra)) token.set(k, v);
  return token.issue({ use: 'idtoken' });
}

const vault = (token: string, endpoint: string, body: unknown) =>
  postRaw(gw.vaultUrl + endpoint, JSON.stringify(body), { 'content-type': 'application/json', authorization: `Bearer ${token}` });

beforeAll(async () => {
  await startProvider();
  const discovery = (await (await fetch(`${issuer}/.well-known/openid-configuration`)).json()) as { jwks_uri: string; issuer: string };
  expect(discovery.issuer).toBe(issuer);
  gw = await startTestGateway({
    rules: { 'r.yaml': rules },
    detokenizePolicy: POLICY,
    settings: {
      PII_GATEWAY_JWT_ISSUER: issuer,
      PII_GATEWAY_JWT_AUDIENCE: AUDIENCE,
      PII_GATEWAY_JWT_JWKS_URL: discovery.jwks_uri,
      PII_GATEWAY_JWT_TOKEN_TYPES: 'at+jwt',
      PII_GATEWAY_AUDIT_FILE: 'audit.log',
    },
  });
});

afterAll(async () => {
  await gw?.close();
  await new Promise((r) => server?.close(r));
});

function auditRecords(): Record<string, unknown>[] {
  return readFileSync(path.join(gw.dir, 'audit.log'), 'utf8')
    .trimEnd()
    .split('\n')
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

describe('a real OpenID provider (oidc-provider 8, client credentials, RFC 9068 JWT access tokens)', () => {
  it('issues what RFC 9068 describes (the shape the gateway is tested against elsewhere)', async () => {
    const token = await accessToken(RESOURCE);
    expect(decodeProtectedHeader(token)).toMatchObject({ alg: 'RS256', typ: 'at+jwt', kid: 'op-rsa-1' });
    expect(decodeJwt(token)).toMatchObject({ iss: issuer, aud: AUDIENCE, client_id: 'clevertap-dispatcher', sub: 'clevertap-dispatcher', scope: 'detokenize tokenize' });
  });

  it('its access token tokenizes and detokenizes on the vault API, for the client purpose, audited as jwt:clevertap-dispatcher', async () => {
    const token = await accessToken(RESOURCE);
    const t = await vault(token, '/v1/tokenize', { items: [{ type: 'phone', value: PHONE }] });
    expect(t.status, t.bytes.toString()).toBe(200);
    const phoneToken = (t.json() as { results: { token: string }[] }).results[0]!.token;
    expect(phoneToken).not.toContain(PHONE);

    const before = auditRecords().length;
    const d = await vault(token, '/v1/detokenize', { purpose: 'sms_dispatch', items: [{ token: phoneToken }] });
    expect(d.status, d.bytes.toString()).toBe(200);
    expect((d.json() as { results: unknown[] }).results[0]).toMatchObject({ found: true, value: PHONE });
    const recs = auditRecords().slice(before);
    expect(recs).toHaveLength(1);
    expect(recs[0]).toMatchObject({ event: 'detokenize', route: '/v1/detokenize', outcome: 'resolved', caller: 'jwt:clevertap-dispatcher' });
  });

  it("the provider's own ID tokens (same key, same issuer, aud = the gateway's client id) are refused 401 AUTH_INVALID", async () => {
    const t = await vault(await accessToken(RESOURCE), '/v1/tokenize', { items: [{ type: 'phone', value: PHONE }] });
    const phoneToken = (t.json() as { results: { token: string }[] }).results[0]!.token;
    // A bare ID token (no nonce, no hashes: a code-flow login without nonce) is told apart by its typ header
    // only; one with a nonce by its claims too.
    const bare = await idToken();
    const withNonce = await idToken({ nonce: 'n-0S6_WzA2Mj' });
    expect(decodeJwt(bare)).toMatchObject({ iss: issuer, aud: AUDIENCE, sub: 'alice' });
    expect(decodeProtectedHeader(bare).typ).not.toBe('at+jwt');
    const before = auditRecords().length;
    for (const [token, why] of [
      [bare, "the bearer token's typ header is not an accepted access token type"],
      [withNonce, 'an ID token is not an access token (it carries nonce)'],
    ] as const) {
      for (const [endpoint, body] of [
        ['/v1/tokenize', { items: [{ type: 'phone', value: PHONE }] }],
        ['/v1/detokenize', { items: [{ token: phoneToken }] }],
        ['/v1/detokenize', { purpose: 'sms_dispatch', items: [{ token: phoneToken }] }],
      ] as const) {
        const r = await vault(token, endpoint, body);
        expect(r.bytes.toString()).not.toContain(PHONE);
        expect(r.bytes.toString()).not.toContain(token);
        expect(r.status).toBe(401);
        expect((r.json() as { error: unknown }).error).toMatchObject({ code: 'AUTH_INVALID', message: expect.stringContaining(why) });
      }
    }
    expect(auditRecords().length).toBe(before);
  });

  it("its access token for another API (aud crm-api) is refused 401 AUTH_INVALID", async () => {
    const other = await accessToken(OTHER_RESOURCE);
    expect(decodeJwt(other).aud).toBe('crm-api');
    const r = await vault(other, '/v1/tokenize', { items: [{ type: 'phone', value: PHONE }] });
    expect(r.status).toBe(401);
    expect((r.json() as { error: unknown }).error).toMatchObject({ code: 'AUTH_INVALID', message: "the bearer token's audience is not accepted" });
  });
});

describe('OIDC discovery (PII_GATEWAY_JWT_ISSUER alone) against the same provider', () => {
  const started: TestGateway[] = [];
  const helpers: Server[] = [];
  afterAll(async () => {
    for (const g of started) await g.close();
    for (const s of helpers) await new Promise((r) => s.close(r));
  });
  const start = async (settings: Record<string, string>) => {
    const g = await startTestGateway({ rules: { 'r.yaml': rules }, detokenizePolicy: POLICY, settings: { PII_GATEWAY_JWT_AUDIENCE: AUDIENCE, PII_GATEWAY_JWT_TOKEN_TYPES: 'at+jwt', ...settings } });
    started.push(g);
    return g;
  };
  /** A loopback server answering every request with `body(its own origin)` as JSON; returns the origin. */
  const serve = async (body: (origin: string) => unknown): Promise<string> => {
    const s = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body(origin)));
    });
    await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
    helpers.push(s);
    const origin = `http://127.0.0.1:${(s.address() as AddressInfo).port}`;
    return origin;
  };
  const tokenizeWith = (g: TestGateway, token: string) =>
    postRaw(g.vaultUrl + '/v1/tokenize', JSON.stringify({ items: [{ type: 'phone', value: PHONE }] }), { 'content-type': 'application/json', authorization: `Bearer ${token}` });

  it("finds the provider's jwks_uri and verifies its access tokens with it (ID tokens and other audiences still refused)", async () => {
    const g = await start({ PII_GATEWAY_JWT_ISSUER: issuer });
    expect(g.logs.lines.some((l) => l.includes('JWKS URL from OIDC discovery') && l.includes(`${issuer}/jwks`))).toBe(true);
    expect((await tokenizeWith(g, await accessToken(RESOURCE))).status).toBe(200);
    for (const refused of [await idToken(), await accessToken(OTHER_RESOURCE)]) {
      const r = await tokenizeWith(g, refused);
      expect([r.status, (r.json() as { error: { code: string } }).error.code]).toEqual([401, 'AUTH_INVALID']);
    }
  });

  it("with the default PII_GATEWAY_JWT_TOKEN_TYPES (at+jwt,keycloak) the provider's nonce-less ID token is refused too, its access token accepted", async () => {
    const g = await start({ PII_GATEWAY_JWT_ISSUER: issuer, PII_GATEWAY_JWT_TOKEN_TYPES: '' });
    const bare = await idToken();
    expect(decodeProtectedHeader(bare).typ).toBe('JWT'); // typed JWT, no nonce, no hashes: only the header tells it apart
    const refused = await tokenizeWith(g, bare);
    expect(refused.status).toBe(401);
    expect(refused.bytes.toString()).toContain("the bearer token's typ header is not an accepted access token type");
    expect((await tokenizeWith(g, await accessToken(RESOURCE))).status).toBe(200);
  });

  it('an explicit JWKS URL wins over discovery', async () => {
    const { publicKey } = await generateKeyPair('RS256', { extractable: true });
    const jwk = { ...(await exportJWK(publicKey)), kid: 'op-rsa-1', alg: 'RS256', use: 'sig' };
    const foreign = await serve(() => ({ keys: [jwk] }));
    const g = await start({ PII_GATEWAY_JWT_ISSUER: issuer, PII_GATEWAY_JWT_JWKS_URL: `${foreign}/certs` });
    expect(g.logs.lines.some((l) => l.includes('OIDC discovery'))).toBe(false);
    const r = await tokenizeWith(g, await accessToken(RESOURCE));
    expect(r.status).toBe(401); // the provider's key is not in the explicit set: the explicit set was used
  });

  it('refuses to start (CONFIG_INVALID, says why) when the document is for another issuer, names a clear-text jwks_uri, or cannot be fetched', async () => {
    // Same server, another spelling of the issuer: the document says 127.0.0.1, the setting localhost.
    const localhost = issuer.replace('127.0.0.1', 'localhost');
    await expect(start({ PII_GATEWAY_JWT_ISSUER: localhost })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining(`its issuer '${issuer}' is not '${localhost}'`) });
    const clearText = await serve((origin) => ({ issuer: origin, jwks_uri: 'http://sso.example.com/certs' }));
    await expect(start({ PII_GATEWAY_JWT_ISSUER: clearText })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('is not https (plain http only to loopback)') });
    const noJwks = await serve((origin) => ({ issuer: origin }));
    await expect(start({ PII_GATEWAY_JWT_ISSUER: noJwks })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('names no jwks_uri') });
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const gone = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`;
    await new Promise((r) => closed.close(r));
    await expect(start({ PII_GATEWAY_JWT_ISSUER: gone })).rejects.toMatchObject({ code: 'CONFIG_INVALID', message: expect.stringContaining('ECONNREFUSED') });
  });
});
