/**
 * Detokenize batches against the sqlite vault, through public entry points only: the gateway is started
 * in-process with `loadConfig()` + `startGateway()`, tokens are issued through its vault API
 * (`POST /v1/tokenize`), and batches are resolved with `gw.vault.detokenize()` (the vault directly, no
 * HTTP) and with `POST /v1/detokenize` (the vault API).
 *
 * Cold = a freshly started gateway on an existing sqlite file: empty LRU cache, new sqlite connection and
 * statements; the OS page cache is warm (the file was just written), so this is "cold process", not
 * "cold disk". Warm = the same batch again on the same gateway (every token in the LRU cache).
 */
import { performance } from 'node:perf_hooks';
import { request } from 'undici';
import { loadConfig } from '../../src/config/index.js';
import { startGateway, type Gateway } from '../../src/gateway.js';
import { percentile } from './load.js';
import { gatewayEnv, PASSTHROUGH_RULES, ROOT } from './scenario.js';

const SILENT = { write(): void {} };

export interface DetokPoint {
  readonly n: number;
  /** Median ms of `coldRuns` first calls, each on a freshly started gateway. */
  readonly coldMs: number;
  /** Median and p99 ms of `warmRuns` repeated calls (cache hits). */
  readonly warmMs: number;
  readonly warmP99Ms: number;
  /** Median ms of POST /v1/detokenize with n tokens (warm), client-measured, JSON both ways; null when skipped. */
  readonly apiMs: number | null;
}

async function start(dir: string): Promise<Gateway> {
  const env = gatewayEnv(dir, { 'bench.yaml': PASSTHROUGH_RULES }, {
    PII_GATEWAY_LOG_LEVEL: 'warn',
    PII_GATEWAY_VAULT_API_MAX_BATCH: '10000',
  });
  return startGateway(loadConfig(env, ROOT), { logDestination: SILENT, env: { BENCH_UPSTREAM_URL: 'http://127.0.0.1:9' } });
}

async function postJson(url: string, body: unknown): Promise<unknown> {
  const res = await request(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const text = await res.body.text();
  if (res.statusCode !== 200) throw new Error(`${url}: ${res.statusCode} ${text.slice(0, 200)}`);
  return JSON.parse(text);
}

/** Issues `count` email tokens (distinct values) through the vault API; returns them in order. */
async function issueTokens(gw: Gateway, count: number): Promise<string[]> {
  const tokens: string[] = [];
  for (let from = 0; from < count; from += 10_000) {
    const items = [];
    for (let i = from; i < Math.min(count, from + 10_000); i++) items.push({ type: 'email', value: `user.${i}@example.com` });
    const res = (await postJson(`${gw.vaultApi!.url}/v1/tokenize`, { items })) as { results: { token: string }[] };
    for (const r of res.results) tokens.push(r.token);
  }
  return tokens;
}

const median = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);

export async function detokenizeCurve(
  dir: string,
  sizes: readonly number[],
  opts: { coldRuns: number; warmRuns: number; api: boolean },
): Promise<DetokPoint[]> {
  const max = Math.max(...sizes);
  let gw = await start(dir);
  const tokens = await issueTokens(gw, max);
  await gw.close();

  const points: DetokPoint[] = [];
  for (const n of sizes) {
    const items = tokens.slice(0, n).map((token) => ({ namespace: 'default', token }));
    const cold: number[] = [];
    const warm: number[] = [];
    for (let r = 0; r < opts.coldRuns; r++) {
      gw = await start(dir);
      let t = performance.now();
      const first = await gw.vault.detokenize(items);
      cold.push(performance.now() - t);
      if (first.some((x) => !x.found)) throw new Error('a token issued by the vault API was not found');
      if (r === opts.coldRuns - 1) {
        for (let w = 0; w < opts.warmRuns; w++) {
          t = performance.now();
          await gw.vault.detokenize(items);
          warm.push(performance.now() - t);
        }
      }
      if (r < opts.coldRuns - 1) await gw.close();
    }
    let apiMs: number | null = null;
    if (opts.api) {
      const api: number[] = [];
      const body = { purpose: 'bench', items: tokens.slice(0, n).map((token) => ({ token })) };
      for (let w = 0; w < Math.max(5, Math.ceil(opts.warmRuns / 4)); w++) {
        const t = performance.now();
        await postJson(`${gw.vaultApi!.url}/v1/detokenize`, body);
        api.push(performance.now() - t);
      }
      apiMs = median(api.slice(1));
    }
    await gw.close();
    warm.sort((a, b) => a - b);
    points.push({ n, coldMs: median(cold), warmMs: percentile(warm, 50), warmP99Ms: percentile(warm, 99), apiMs });
  }
  return points;
}
