/**
 * The real gateway on the embedded SQLite vault (real file, real sockets) when the file misbehaves:
 *   - another process holds the write lock: /healthz keeps answering at once, requests needing a write get
 *     503 VAULT_UNAVAILABLE within PII_GATEWAY_VAULT_TIMEOUT, reads and readiness go on, release recovers;
 *   - the file is deleted or replaced: /readyz goes red with the reason, requests needing the vault get 503;
 *   - the SQLite worker crashes: readiness red and 503 at once, not after a deadline.
 * Nothing is forwarded upstream on any of those 503s, and no value appears in a response.
 */
import { copyFileSync, renameSync, rmSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import { afterEach, describe, expect, it } from 'vitest';
import { crashSqliteWorkersForTests } from '../../src/vault/sqlite.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { holdSqliteLock } from '../helpers/sqlite-lock.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: signup
    match: { method: POST, path: /signup }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.email, action: tokenize, type: email }
`;

const REPLACED = 'vault file was deleted or replaced since it was opened; restart the gateway';

let upstream: TestUpstream | undefined;
let gw: TestGateway | undefined;

afterEach(async () => {
  await gw?.close();
  await upstream?.close();
  gw = upstream = undefined;
});

async function start(timeout: string): Promise<{ gw: TestGateway; upstream: TestUpstream; vaultPath: string }> {
  upstream = await startUpstream();
  gw = await startTestGateway({ rules: { 'r.yaml': rules(upstream.url) }, backend: 'sqlite', settings: { PII_GATEWAY_VAULT_TIMEOUT: timeout } });
  return { gw, upstream, vaultPath: path.join(gw.dir, 'data', 'vault.db') };
}

async function call(url: string, body?: unknown): Promise<{ status: number; text: string; json: any; ms: number }> {
  const started = performance.now();
  const res = await request(url, body === undefined ? {} : { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  return { status: res.statusCode, text, json: JSON.parse(text), ms: performance.now() - started };
}

const tokenize = (g: TestGateway, value: string) => call(`${g.vaultUrl}/v1/tokenize`, { items: [{ type: 'email', value }] });
const detokenize = (g: TestGateway, token: string) => call(`${g.vaultUrl}/v1/detokenize`, { items: [{ token }] });
const signup = (g: TestGateway, email: string) => call(`${g.url}/signup`, { email, plan: 'pro' });

/**
 * Probes /healthz every 50 ms until `until` settles. Each probe's lateness is measured from the moment it
 * was SCHEDULED, not from when its timer ran: the gateway shares this process's event loop, so a stalled
 * loop delays the timer too, and only the schedule shows the stall.
 */
async function healthzLateness(g: TestGateway, until: Promise<unknown>): Promise<number[]> {
  let done = false;
  void until.finally(() => (done = true));
  const lateness: number[] = [];
  const t0 = performance.now();
  for (let k = 1; !done; k++) {
    const scheduled = t0 + k * 50;
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, scheduled - performance.now())));
    const res = await call(`${g.adminUrl}/healthz`);
    expect(res.status).toBe(200);
    lateness.push(performance.now() - scheduled);
  }
  return lateness;
}

describe('sqlite vault: another process holds the write lock', () => {
  it('keeps /healthz instant, answers writes 503 within the timeout, keeps reads and readiness, and recovers', async () => {
    const { gw, upstream, vaultPath } = await start('500ms');
    const known = await tokenize(gw, 'known@example.com');
    expect(known.status).toBe(200);
    const knownToken: string = known.json.results[0].token;

    const lock = await holdSqliteLock(vaultPath, 'write');
    try {
      // A proxy request that must store a new token, with /healthz probed all the while.
      const proxied = signup(gw, 'first.signup@example.com');
      const lateness = await healthzLateness(gw, proxied);
      const res = await proxied;
      expect(res.status).toBe(503);
      expect(res.json.error.code).toBe('VAULT_UNAVAILABLE');
      expect(res.text).not.toContain('first.signup');
      // PII_GATEWAY_VAULT_TIMEOUT=500ms, plus generous slack for a loaded machine.
      expect(res.ms).toBeLessThan(500 + 2000);
      expect(upstream.received).toHaveLength(0);
      // The issue: "/healthz answers in under 50 ms" while the file is locked. Asserted < 200 ms to allow
      // for a loaded 2-core machine; the old synchronous store made every probe in the window wait ~500 ms.
      expect(lateness.length).toBeGreaterThanOrEqual(3);
      expect(Math.max(...lateness)).toBeLessThan(200);

      // The vault API: a new value needs the write lock (503); a read does not (WAL), nor does readiness.
      const blocked = await tokenize(gw, 'second.signup@example.com');
      expect(blocked.status).toBe(503);
      expect(blocked.json.error.code).toBe('VAULT_UNAVAILABLE');
      expect(blocked.ms).toBeLessThan(500 + 2000);
      const read = await detokenize(gw, knownToken);
      expect(read.status).toBe(200);
      expect(read.json.results[0]).toEqual({ found: true, value: 'known@example.com', type: 'email' });
      expect((await call(`${gw.adminUrl}/readyz`)).status).toBe(200);
    } finally {
      await lock.release();
    }

    const again = await signup(gw, 'first.signup@example.com');
    expect(again.status).toBe(200);
    expect(upstream.received).toHaveLength(1);
    const sent = JSON.parse(upstream.received[0]!.body.toString()).email as string;
    expect(sent).toMatch(/\.tok\.invalid$/);
    expect((await detokenize(gw, sent)).json.results[0]).toEqual({ found: true, value: 'first.signup@example.com', type: 'email' });
    expect((await tokenize(gw, 'second.signup@example.com')).status).toBe(200);
  });
});

describe('sqlite vault: the file goes away while the gateway runs', () => {
  async function expectRefusing(g: TestGateway, up: TestUpstream, token: string, reason: string): Promise<void> {
    const ready = await call(`${g.adminUrl}/readyz`);
    expect(ready.status).toBe(503);
    expect(ready.json.failing).toEqual(['vault']);
    expect(ready.json.reasons).toEqual({ vault: reason });

    const proxied = await signup(g, 'after.loss@example.com');
    expect(proxied.status).toBe(503);
    expect(proxied.json.error.code).toBe('VAULT_UNAVAILABLE');
    expect(proxied.text).not.toContain('after.loss');
    expect(up.received).toHaveLength(0);

    for (const res of [await tokenize(g, 'another.new@example.com'), await detokenize(g, token)]) {
      expect(res.status).toBe(503);
      expect(res.json.error.code).toBe('VAULT_UNAVAILABLE');
    }
  }

  it('deleted: /readyz goes red with the reason and requests needing the vault get 503', async () => {
    const { gw, upstream, vaultPath } = await start('2s');
    const before = await tokenize(gw, 'before.loss@example.com');
    expect((await call(`${gw.adminUrl}/readyz`)).status).toBe(200);
    rmSync(vaultPath);
    await expectRefusing(gw, upstream, before.json.results[0].token, REPLACED);
  });

  it('replaced by another file (a restored copy renamed over it): the same', async () => {
    const { gw, upstream, vaultPath } = await start('2s');
    const before = await tokenize(gw, 'before.loss@example.com');
    copyFileSync(vaultPath, `${vaultPath}.restored`);
    renameSync(`${vaultPath}.restored`, vaultPath);
    await expectRefusing(gw, upstream, before.json.results[0].token, REPLACED);
  });

  it('the SQLite worker crashes: readiness red and 503 at once, not after the timeout', async () => {
    // A one-minute timeout: a hang would show as this test timing out.
    const { gw, upstream } = await start('60s');
    const before = await tokenize(gw, 'before.loss@example.com');
    expect(crashSqliteWorkersForTests()).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 200));
    const started = performance.now();
    await expectRefusing(gw, upstream, before.json.results[0].token, 'vault store worker crashed');
    expect(performance.now() - started).toBeLessThan(5000);
  });
});
