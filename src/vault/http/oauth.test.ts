import { describe, expect, it } from 'vitest';
import { GatewayError, isGatewayError } from '../../errors.js';
import { Deadline } from './deadline.js';
import { basicAuthorization, ClientCredentials, DEFAULT_TOKEN_LIFETIME_MS, parseTokenResponse, refreshAt, staticBearer } from './oauth.js';
import { Retryable } from './retry.js';
import type { RawResponse } from './transport.js';

const SECRET = 'canary-secret-Zq81';
const res = (status: number, body: string, headers: Record<string, string> = {}): RawResponse => ({ status, headers, body: Buffer.from(body) });

function thrown(f: () => unknown): unknown {
  try {
    f();
  } catch (e) {
    return e;
  }
  throw new Error('did not throw');
}

describe('parseTokenResponse', () => {
  it('reads access_token and expires_in (number or numeric string)', () => {
    expect(parseTokenResponse(res(200, '{"access_token":"eyJ.a-b_c","token_type":"Bearer","expires_in":300}'), 0)).toEqual({ accessToken: 'eyJ.a-b_c', expiresInMs: 300_000 });
    expect(parseTokenResponse(res(200, '{"access_token":"t","token_type":"bearer","expires_in":"60"}'), 0)).toEqual({ accessToken: 't', expiresInMs: 60_000 });
    expect(parseTokenResponse(res(200, '{"access_token":"t"}'), 0)).toEqual({ accessToken: 't', expiresInMs: undefined });
    expect(parseTokenResponse(res(200, '{"access_token":"t","expires_in":-5}'), 0).expiresInMs).toBeUndefined();
  });

  const garbage: [string, RawResponse, RegExp][] = [
    ['HTML', res(200, `<html><body>Login ${SECRET}</body></html>`, { 'content-type': 'text/html; charset=utf-8' }), /not a JSON object \(text\/html\)/],
    ['non-JSON', res(200, `oops ${SECRET}`), /not a JSON object \(no content type\)/],
    ['a JSON array', res(200, `["${SECRET}"]`), /not a JSON object/],
    ['no access_token', res(200, `{"token":"${SECRET}"}`), /without an access_token/],
    ['an empty access_token', res(200, '{"access_token":""}'), /without an access_token/],
    ['a token with header-breaking characters', res(200, `{"access_token":"a\\r\\nx: ${SECRET}"}`), /not a bearer token/],
    ['another token type', res(200, `{"access_token":"t","token_type":"mac"}`), /type mac; only Bearer/],
    ['an unreadable token type', res(200, `{"access_token":"t","token_type":"${SECRET} !"}`), /type \(unreadable\)/],
    ['500', res(500, `{"error":"server_error","error_description":"${SECRET}"}`), /answered 500 server_error$/],
    ['401 invalid_client', res(401, `{"error":"invalid_client","error_description":"${SECRET}"}`), /answered 401 invalid_client: it refused our client credentials/],
    ['400 with an odd error', res(400, `{"error":"${SECRET}"}`), /answered 400: it refused/],
  ];
  for (const [name, r, message] of garbage) {
    it(`refuses ${name} with VAULT_UNAVAILABLE, quoting nothing`, () => {
      const err = thrown(() => parseTokenResponse(r, 0)) as GatewayError;
      expect(isGatewayError(err)).toBe(true);
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(SECRET);
      expect(err.message).not.toContain('Zq81');
    });
  }

  it('marks 429 and 502-504 retryable, with Retry-After', () => {
    const err = thrown(() => parseTokenResponse(res(429, '', { 'retry-after': '2' }), 0));
    expect(err).toBeInstanceOf(Retryable);
    expect((err as Retryable).retryAfterMs).toBe(2000);
    expect(thrown(() => parseTokenResponse(res(503, '<html>'), 0))).toBeInstanceOf(Retryable);
    expect(thrown(() => parseTokenResponse(res(500, ''), 0))).not.toBeInstanceOf(Retryable);
  });
});

describe('refreshAt', () => {
  it('refreshes 10% of the lifetime early, at most 30 s early', () => {
    expect(refreshAt(1000, 300_000)).toBe(1000 + 270_000);
    expect(refreshAt(0, 3_600_000)).toBe(3_570_000);
    expect(refreshAt(0, 60_000)).toBe(54_000);
    expect(refreshAt(0, 1000)).toBe(900);
    expect(refreshAt(0, undefined)).toBe(DEFAULT_TOKEN_LIFETIME_MS - 30_000);
  });
});

describe('basicAuthorization', () => {
  it('form-urlencodes id and secret before base64 (RFC 6749 2.3.1)', () => {
    expect(basicAuthorization('gateway', 's3cret')).toBe(`Basic ${Buffer.from('gateway:s3cret').toString('base64')}`);
    const decoded = Buffer.from(basicAuthorization('a:b c', 'p@ss:+/').slice(6), 'base64').toString();
    expect(decoded).toBe('a%3Ab+c:p%40ss%3A%2B%2F');
  });
});

describe('staticBearer', () => {
  it('sends the key as a bearer token and never asks for a retry on 401', async () => {
    const c = staticBearer('pgk_abc.DEF');
    expect(await c.header(undefined as unknown as Deadline)).toBe('Bearer pgk_abc.DEF');
    expect(c.rejected('Bearer pgk_abc.DEF')).toBe(false);
  });
  it('refuses a key that would break the header, without quoting it', () => {
    const err = thrown(() => staticBearer(`pgk_${SECRET}\r\nx: y`)) as GatewayError;
    expect(err.code).toBe('CONFIG_INVALID');
    expect(err.message).not.toContain(SECRET);
  });
});

describe('ClientCredentials', () => {
  const deadline = () => new Deadline(5000, () => new GatewayError('VAULT_UNAVAILABLE', 'timed out'));

  function source(answers: (() => RawResponse | Promise<RawResponse>)[], now: () => number = Date.now) {
    const sent: { path: string; headers: Record<string, string>; body: string }[] = [];
    const creds = new ClientCredentials({
      clientId: 'gw',
      clientSecret: SECRET,
      scope: 'vault:tokenize vault:detokenize',
      path: '/realms/r/protocol/openid-connect/token',
      post: async (path, headers, body) => {
        sent.push({ path, headers, body });
        const next = answers.shift();
        if (!next) throw new Error('no more answers');
        return next();
      },
      timeoutMs: 5000,
      retries: 2,
      now,
    });
    return { creds, sent };
  }

  it('sends grant_type and scope as a form with Basic client authentication, and caches the token', async () => {
    const { creds, sent } = source([() => res(200, '{"access_token":"AT1","expires_in":300}')]);
    const d = deadline();
    expect(await creds.header(d)).toBe('Bearer AT1');
    expect(await creds.header(d)).toBe('Bearer AT1');
    d.finish();
    expect(sent).toHaveLength(1);
    expect(sent[0]!.path).toBe('/realms/r/protocol/openid-connect/token');
    expect(Object.fromEntries(new URLSearchParams(sent[0]!.body))).toEqual({ grant_type: 'client_credentials', scope: 'vault:tokenize vault:detokenize' });
    expect(sent[0]!.body).not.toContain(SECRET);
    expect(sent[0]!.headers.authorization).toBe(basicAuthorization('gw', SECRET));
    expect(sent[0]!.headers['content-type']).toBe('application/x-www-form-urlencoded');
  });

  it('shares one in-flight token request among concurrent callers', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { creds, sent } = source([async () => (await gate, res(200, '{"access_token":"AT1","expires_in":300}'))]);
    const d = deadline();
    const all = Promise.all(Array.from({ length: 20 }, () => creds.header(d)));
    release();
    expect(new Set(await all)).toEqual(new Set(['Bearer AT1']));
    d.finish();
    expect(sent).toHaveLength(1);
  });

  it('refreshes shortly before expires_in, and after a 401 drops only the refused token', async () => {
    let t = 0;
    const { creds, sent } = source(
      [() => res(200, '{"access_token":"AT1","expires_in":100}'), () => res(200, '{"access_token":"AT2","expires_in":100}'), () => res(200, '{"access_token":"AT3","expires_in":100}')],
      () => t,
    );
    const d = deadline();
    expect(await creds.header(d)).toBe('Bearer AT1');
    t = 89_999;
    expect(await creds.header(d)).toBe('Bearer AT1');
    t = 90_000; // 10 s (10%) early
    expect(await creds.header(d)).toBe('Bearer AT2');
    expect(creds.rejected('Bearer AT1')).toBe(true); // stale: AT2 stays
    expect(await creds.header(d)).toBe('Bearer AT2');
    expect(creds.rejected('Bearer AT2')).toBe(true);
    expect(await creds.header(d)).toBe('Bearer AT3');
    d.finish();
    expect(sent).toHaveLength(3);
  });

  it('retries a 503 from the token endpoint, then fails clearly on garbage without caching it', async () => {
    const { creds, sent } = source([() => res(503, ''), () => res(200, '<html>'), () => res(200, '{"access_token":"AT9"}')]);
    const d = deadline();
    const err = await creds.header(d).then(
      () => undefined,
      (e: unknown) => e as GatewayError,
    );
    expect(err?.code).toBe('VAULT_UNAVAILABLE');
    expect(err?.message).toMatch(/OAuth2 token endpoint answered 200 with a body that is not a JSON object/);
    expect(await creds.header(d)).toBe('Bearer AT9');
    d.finish();
    expect(sent).toHaveLength(3);
  });
});
