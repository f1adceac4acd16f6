/**
 * The HTTP vault client against a remote that misbehaves, on real local sockets: slow, resetting, 5xx
 * bursts, 429 with Retry-After, refusals that must not be retried, malformed answers, a circuit that must
 * open and half-open. Timings are asserted only loosely (bounds of hundreds of milliseconds around what
 * the settings ask for): the machine is shared.
 *
 * Canary: every value sent is a canary, and remote answers echo it back in their bodies; no error message
 * (nor its cause's message) may contain it.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { isGatewayError, type GatewayError } from '../../src/errors.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { CachedVault } from '../../src/vault/cached.js';
import { HttpVault } from '../../src/vault/http.js';
import type { TokenizeItem, Vault } from '../../src/vault/interface.js';
import { fakeToken, json, startFakeVault, type FakeVault } from '../helpers/fake-vault.js';
import { httpVaultConfig } from '../helpers/http-vault.js';
import type { HttpVaultConfig } from '../../src/config/vault.js';

const keyring = ephemeralKeyring();
const CANARY = 'canary.http.5523@canary-example.org';
const canaryItems = (n: number): TokenizeItem[] =>
  Array.from({ length: n }, (_, i) => ({ spec: createTokenSpec({ type: 'email' }, keyring), value: i === 0 ? CANARY : `user${i}.5523@canary-example.org` }));
/** Fast retries for tests (the production backoff is 100 ms base, 5 s cap). */
const FAST = { backoff: { baseMs: 5, capMs: 20 } };

let fake: FakeVault;
const open: Vault[] = [];
async function vault(overrides: Partial<HttpVaultConfig> = {}, test = FAST): Promise<Vault> {
  const v = await HttpVault.open(httpVaultConfig(fake.url, overrides), test);
  open.push(v);
  return v;
}

/** The GatewayError a call fails with; fails the test if it resolves, or if the canary leaks into it. */
const errors: GatewayError[] = [];
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
  fake.delayMs = 0;
  fake.requests.length = 0;
  fake.tokenRequests.length = 0;
});
afterAll(async () => {
  await fake.close();
  // The canary check over every failure of this file: message and the cause's message.
  expect(errors.length).toBeGreaterThan(20);
  for (const e of errors) {
    const text = `${e.message} ${(e.cause as Error | undefined)?.message ?? ''} ${e.field ?? ''}`;
    expect(text).not.toContain(CANARY);
    expect(text).not.toContain('5523');
  }
});

describe('HttpVault against a correct remote', () => {
  it('splits a batch at batchSize, sends the parts concurrently (at most `connections`), and keeps the order', async () => {
    fake.delayMs = 20;
    const v = await vault({ batchSize: 100, connections: 4 });
    const items = canaryItems(2000);
    const tokens = await v.tokenize(items);
    expect(tokens).toEqual(items.map((i) => fakeToken('default', 'email', i.value)));
    expect(fake.requests).toHaveLength(20);
    expect(fake.requests.every((r) => r.body.items.length === 100)).toBe(true);
    expect(fake.maxInFlight()).toBeLessThanOrEqual(4);
    expect(fake.maxInFlight()).toBeGreaterThanOrEqual(2);
  });

  it('sends the purpose on detokenize and reports what the remote found', async () => {
    const v = await vault({ purpose: 'sms_dispatch' });
    const [token] = await v.tokenize(canaryItems(1));
    expect(await v.detokenize([{ namespace: 'default', token: token! }, { namespace: 'default', token: 'tok_nope' }])).toEqual([
      { found: true, value: CANARY, type: 'email' },
      { found: false },
    ]);
    expect(fake.requests[1]!.body.purpose).toBe('sms_dispatch');
  });

  it('refuses a bad value before sending anything, with INVALID_VALUE and no field', async () => {
    const v = await vault();
    const err = await failure(v.tokenize([...canaryItems(2), { spec: createTokenSpec({ type: 'email' }, keyring), value: 'not-an-email-5523' }]));
    expect([err.code, err.field]).toEqual(['INVALID_VALUE', undefined]);
    expect(fake.requests).toHaveLength(0);
  });

  it('refuses delete() saying erasure must be done on the remote vault', async () => {
    const v = await vault();
    expect(await v.delete([])).toBe(0);
    const err = await failure(v.delete([{ namespace: 'default', token: 'tok_x' }]));
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    expect(err.message).toMatch(/no erasure call: delete these tokens on the remote vault itself/);
    expect(fake.requests).toHaveLength(0);
  });

  it('speaks the clevertap protocol: opaque tokens in the default namespace only, type opaque back', async () => {
    const v = await vault({ protocol: 'clevertap', purpose: 'email_dispatch' });
    const spec = createTokenSpec({ type: 'opaque' }, keyring);
    const [token] = await v.tokenize([{ spec, value: CANARY }]);
    expect(token).toMatch(/^TKN_/);
    expect(fake.requests[0]!.path).toBe('/ct-vault/api/tokenization/tokens/batch');
    expect(await v.detokenize([{ namespace: 'default', token: token! }])).toEqual([{ found: true, value: CANARY, type: 'opaque' }]);
    expect(fake.requests[1]!.body).toEqual({ tokens: [token], metadata: { purpose: 'email_dispatch' } });
    const refused = await failure(v.tokenize(canaryItems(1)));
    expect(refused.message).toMatch(/clevertap vault protocol stores only deterministic opaque tokens.*asks for token type email/);
    expect(fake.requests).toHaveLength(2);
    await v.ping();
    expect(fake.requests[2]!.body).toEqual({ tokens: [], metadata: { purpose: 'email_dispatch' } });
  });
});

describe('HttpVault retries', () => {
  it('retries connection resets and succeeds; fails after 1 + retries attempts when they go on', async () => {
    fake.behave((req, res) => {
      if (req.n < 2) {
        res.socket?.destroy();
        return true;
      }
    });
    const v = await vault();
    expect(await v.tokenize(canaryItems(3))).toHaveLength(3);
    expect(fake.requests).toHaveLength(3);

    fake.requests.length = 0;
    fake.behave((_req, res) => {
      res.socket?.destroy();
      return true;
    });
    const err = await failure(v.tokenize(canaryItems(3)));
    expect(fake.requests).toHaveLength(4);
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    expect(err.message).toMatch(/^remote vault is unreachable \((UND_ERR_SOCKET|ECONNRESET|EPIPE)\) \(after 4 attempts\)$/);
  });

  it('retries a 502, 503, 504 burst and succeeds', async () => {
    fake.behave((req, res) => (req.n < 3 ? json(res, [502, 503, 504][req.n]!, `<html>${CANARY}</html>`, { 'content-type': 'text/html' }) : false));
    const v = await vault();
    expect(await v.tokenize(canaryItems(2))).toHaveLength(2);
    expect(fake.requests).toHaveLength(4);
  });

  it('honours Retry-After on 429 (seconds), and refuses to wait past the deadline', async () => {
    fake.behave((req, res) => (req.n === 0 ? json(res, 429, { error: { code: 'RATE_LIMITED' } }, { 'retry-after': '1' }) : false));
    const v = await vault();
    expect(await v.tokenize(canaryItems(1))).toHaveLength(1);
    const gap = fake.requests[1]!.at - fake.requests[0]!.at;
    expect(gap).toBeGreaterThanOrEqual(900);
    expect(gap).toBeLessThan(3000);

    fake.requests.length = 0;
    fake.behave((_req, res) => json(res, 429, '', { 'retry-after': '120' }));
    const short = await vault({ timeoutMs: 2000 });
    const started = Date.now();
    const err = await failure(short.tokenize(canaryItems(1)));
    expect(Date.now() - started).toBeLessThan(1000);
    expect(fake.requests).toHaveLength(1);
    expect(err.message).toMatch(/answered 429; it asked us to retry after 120 s, past the call's deadline/);
  });

  const notRetried: [number, unknown, RegExp][] = [
    [400, { error: { code: 'BAD_REQUEST', message: `items[0].value ${CANARY}` } }, /answered 400 BAD_REQUEST: the remote vault refused the request/],
    [400, { error: { code: 'BATCH_TOO_LARGE' } }, /lower PII_GATEWAY_HTTP_VAULT_BATCH \(now 500\)/],
    [401, { error: { code: 'AUTH_INVALID' } }, /answered 401 AUTH_INVALID: the remote vault refused our credentials/],
    [403, `forbidden ${CANARY}`, /answered 403: the remote vault refused our credentials/],
    [404, {}, /no such endpoint \(check PII_GATEWAY_HTTP_VAULT_URL and PII_GATEWAY_HTTP_VAULT_PROTOCOL\)/],
    [422, { error: { code: CANARY } }, /answered 422: the remote vault refused the request/],
    [500, `<html>${CANARY}</html>`, /answered 500: the remote vault failed/],
    [302, '', /redirects are not followed/],
  ];
  for (const [status, body, message] of notRetried) {
    it(`does not retry ${status} (one request) and says why`, async () => {
      fake.behave((_req, res) => json(res, status, body));
      const v = await vault();
      const err = await failure(v.tokenize(canaryItems(2)));
      expect(fake.requests).toHaveLength(1);
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);
    });
  }
});

describe('HttpVault deadline', () => {
  it('gives up a remote that never answers at the deadline (VAULT_UNAVAILABLE within timeoutMs)', async () => {
    fake.behave(() => true); // never answers
    const v = await vault({ timeoutMs: 300 });
    const started = Date.now();
    const err = await failure(v.tokenize(canaryItems(1)));
    const took = Date.now() - started;
    expect(took).toBeGreaterThanOrEqual(250);
    expect(took).toBeLessThan(1300); // 300 ms asked; a second of slack for a shared machine
    expect(err.message).toBe('remote vault did not answer within 300 ms (PII_GATEWAY_HTTP_VAULT_TIMEOUT)');
  });

  it('holds one deadline across every retry and every part', async () => {
    fake.behave(async (_req, res) => {
      await new Promise((r) => setTimeout(r, 120));
      return json(res, 503, '');
    });
    const v = await vault({ timeoutMs: 400, retries: 10, batchSize: 1, connections: 2 });
    const started = Date.now();
    const err = await failure(v.tokenize(canaryItems(6)));
    expect(Date.now() - started).toBeLessThan(1400);
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    // Without one shared deadline, 6 parts x 11 attempts x 120 ms would take seconds.
    expect(fake.requests.length).toBeLessThan(12);
  });
});

describe('HttpVault answers checked strictly, nothing half-applied', () => {
  const bad: [string, (req: any) => unknown, RegExp][] = [
    ['malformed JSON', () => `{"results":[{"token":"${CANARY}"`, /answered 200 with a body that is not JSON/],
    ['a wrong result count', (req) => ({ results: req.body.items.slice(1).map(() => ({ token: 'tok_x' })) }), /answered 249 results for 250 items \(items 500\.\.749\)/],
    ['a missing token', (req) => ({ results: req.body.items.map((_: unknown, i: number) => (i === 3 ? { value: CANARY } : { token: `tok_${i}` })) }), /malformed JSON at results\[503\]\.token/],
    ['the value as the token', (req) => ({ results: req.body.items.map((it: any) => ({ token: it.value })) }), /the value itself as the token at results\[500\]/],
    ['a per-item error', (req) => ({ results: req.body.items.map((_: unknown, i: number) => (i === 1 ? { error: { code: 'INVALID_VALUE', message: CANARY } } : { token: `tok_${i}` })) }), /refused the value of items\[501\]/],
  ];
  for (const [name, answer, message] of bad) {
    it(`fails the whole call on ${name} in one part, and caches none of the other parts`, async () => {
      // The part holding items 500..749 of 1000 misbehaves; the other three answer correctly.
      fake.behave((req, res) => (req.body?.items?.[0]?.value === 'user500.5523@canary-example.org' ? json(res, 200, answer(req) as object) : false));
      const http = await vault({ batchSize: 250 });
      const v = new CachedVault(http, { maxEntries: 10_000, maxBytes: 10_000_000 });
      const items = canaryItems(1000);
      const err = await failure(v.tokenize(items));
      expect(err.code).toBe(name === 'a per-item error' ? 'INVALID_VALUE' : 'VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);

      fake.behave(undefined);
      const before = fake.requests.length;
      expect(await v.tokenize(items)).toEqual(items.map((i) => fakeToken('default', 'email', i.value)));
      // Every item went to the remote again: no part of the failed call was kept. (A cancelled part of the
      // failed call may still be arriving, so the heads of the parts are compared, not the count.)
      const heads = new Set(fake.requests.slice(before).map((r) => r.body.items[0].value));
      expect([0, 250, 500, 750].every((i) => heads.has(items[i]!.value))).toBe(true);
    });
  }

  it('refuses a detokenize answer with a wrong type or value', async () => {
    const v = await vault();
    fake.behave((_req, res) => json(res, 200, { results: [{ found: true, value: CANARY, type: 'ssn' }] }));
    expect((await failure(v.detokenize([{ namespace: 'default', token: 'tok_a' }]))).message).toMatch(/results\[0\]\.type/);
    fake.behave((_req, res) => json(res, 200, { results: [{ found: true, value: 42, type: 'email' }] }));
    expect((await failure(v.detokenize([{ namespace: 'default', token: 'tok_a' }]))).message).toMatch(/results\[0\]\.value: expected a string/);
  });

  it('refuses a response body over 64 MB (declared or streamed)', async () => {
    const v = await vault();
    fake.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(70 * 1024 * 1024) });
      res.write('{"results":[');
      return true;
    });
    expect((await failure(v.tokenize(canaryItems(1)))).message).toBe('remote vault answered a body larger than 64 MB; refused');
    fake.behave((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' });
      const chunk = Buffer.alloc(1024 * 1024, 0x20);
      let sent = 0;
      const pump = (): void => {
        while (sent < 70) {
          sent++;
          if (!res.write(chunk)) return void res.once('drain', pump);
        }
        res.end();
      };
      pump();
      return true;
    });
    expect((await failure(v.tokenize(canaryItems(1)))).message).toBe('remote vault answered a body larger than 64 MB; refused');
  });
});

describe('HttpVault circuit breaker', () => {
  it('opens after N consecutive failed calls, fails fast while open, half-opens for one probe after openMs', async () => {
    fake.behave((_req, res) => json(res, 500, ''));
    const v = await vault({ breaker: { failures: 3, openMs: 300 } });
    for (let i = 0; i < 3; i++) expect((await failure(v.tokenize(canaryItems(1)))).message).toMatch(/answered 500/);
    expect(fake.requests).toHaveLength(3);

    const started = Date.now();
    const fast = await failure(v.tokenize(canaryItems(1)));
    expect(Date.now() - started).toBeLessThan(50);
    expect(fast.message).toMatch(/^remote vault circuit open after 3 consecutive failed calls/);
    expect((await failure(v.ping())).message).toMatch(/circuit open/); // readiness red too
    expect(fake.requests).toHaveLength(3);

    await new Promise((r) => setTimeout(r, 350));
    // Half-open: one probe goes through (slowly); a concurrent call fails fast meanwhile.
    fake.behave(async () => {
      await new Promise((r) => setTimeout(r, 100));
      return false;
    });
    const probe = v.tokenize(canaryItems(1));
    await new Promise((r) => setTimeout(r, 20));
    expect((await failure(v.tokenize(canaryItems(1)))).message).toMatch(/probe call is in flight/);
    expect(await probe).toHaveLength(1);
    // Closed again.
    expect(await v.tokenize(canaryItems(2))).toHaveLength(2);
    expect(fake.requests).toHaveLength(5);
  });

  it('counts a refused value as an answer, not a failure', async () => {
    fake.behave((req, res) => json(res, 200, { results: req.body.items.map(() => ({ error: { code: 'INVALID_VALUE', message: 'x' } })) }));
    const v = await vault({ breaker: { failures: 1, openMs: 60_000 } });
    for (let i = 0; i < 3; i++) expect((await failure(v.tokenize(canaryItems(1)))).code).toBe('INVALID_VALUE');
    expect(fake.requests).toHaveLength(3);
  });
});

describe('HttpVault ping', () => {
  it('is green on an empty detokenize, and falls back to an empty tokenize on 403', async () => {
    const v = await vault({ purpose: 'p' });
    await v.ping();
    expect(fake.requests.map((r) => [r.path, r.raw])).toEqual([['/v1/detokenize', '{"items":[],"purpose":"p"}']]);
    fake.requests.length = 0;
    fake.behave((req, res) => (req.path === '/v1/detokenize' ? json(res, 403, { error: { code: 'FORBIDDEN' } }) : false));
    await v.ping();
    expect(fake.requests.map((r) => r.path)).toEqual(['/v1/detokenize', '/v1/tokenize']);
  });

  it('is red when the remote refuses our credentials or is down', async () => {
    fake.behave((_req, res) => json(res, 401, { error: { code: 'AUTH_INVALID' } }));
    expect((await failure((await vault({ apiKey: 'pgk_wrong' })).ping())).message).toMatch(/refused our credentials/);
    fake.behave((_req, res) => json(res, 403, { error: { code: 'FORBIDDEN' } }));
    expect((await failure((await vault()).ping())).message).toMatch(/403 FORBIDDEN: the remote vault refused our credentials/);
    const down = await HttpVault.open(httpVaultConfig('http://127.0.0.1:9'), FAST);
    open.push(down);
    expect((await failure(down.ping())).message).toMatch(/^remote vault is unreachable \(ECONNREFUSED\)/);
  });
});
