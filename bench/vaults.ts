/**
 * `npm run bench -- --vaults`: the vault backends side by side, in one run, on this machine.
 *
 * For each backend (sqlite file, PostgreSQL, another pii-gateway's vault API over HTTP, vaultless), built
 * through `createVault()` exactly as the gateway builds it:
 *   - tokenize 1,000 NEW values in one batch (every round new values: rows are written);
 *   - detokenize 500 tokens, cold: a freshly opened vault (empty LRU; the database's own page cache is
 *     warm, as it is in a running fleet), and warm: the same batch again through the LRU.
 * BENCH_VAULT_ROUNDS rounds (default 15; min, median and p90 reported). Then, with --routes (default on),
 * the CleverTap upload route's req/s with its vault on postgres vs sqlite (bench/run.ts subjects
 * gw-tok / gw-tok-new and their -pg twins, same settings as `npm run bench`).
 *
 * PostgreSQL: PII_GATEWAY_BENCH_POSTGRES_URL, else a throwaway database on the machine's server or a
 * throwaway cluster, exactly as the tests get theirs (test/helpers/postgres.ts); dropped at the end.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { loadConfig } from '../src/config/index.js';
import { generateKeyFile, loadKeyring } from '../src/crypto/keyring.js';
import { createTokenSpec } from '../src/tokens/index.js';
import type { TokenSpec } from '../src/tokens/types.js';
import { createVault, type Vault } from '../src/vault/index.js';
import { runnable } from './lib/build.js';
import { startNodeChild, type RunningProcess } from './lib/proc.js';
import { num, stamp, table, writeResult } from './lib/report.js';
import { gatewayEnv, PASSTHROUGH_RULES, ROOT } from './lib/scenario.js';
import { benchPostgres, type BenchPostgres } from './lib/postgres.js';

interface Backend {
  readonly name: string;
  /** Opens a vault on the same backing storage every time (cold = a new instance). */
  open(): Promise<Vault>;
  stop?(): Promise<void>;
}

interface Figures {
  readonly backend: string;
  readonly tokenizeNew1000: Stats;
  readonly detokenize500Cold: Stats;
  readonly detokenize500Warm: Stats;
  readonly failed?: string;
}

interface Stats {
  readonly minMs: number;
  readonly medianMs: number;
  readonly p90Ms: number;
}

const ROUNDS = Number(process.env.BENCH_VAULT_ROUNDS) || 15;
const CACHE = { maxEntries: 100_000, maxBytes: 64 * 2 ** 20 };

function stats(samples: number[]): Stats {
  const s = [...samples].sort((a, b) => a - b);
  const at = (q: number): number => s[Math.min(s.length - 1, Math.floor(q * s.length))]!;
  return { minMs: s[0]!, medianMs: at(0.5), p90Ms: at(0.9) };
}

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t0 = performance.now();
  const out = await fn();
  return [performance.now() - t0, out];
}

async function measure(backend: Backend, specs: { email: TokenSpec }, run: string): Promise<Figures> {
  const tokenizeMs: number[] = [];
  const coldMs: number[] = [];
  const warmMs: number[] = [];
  const writer = await backend.open();
  try {
    // Warm-up round (connections, prepared statements, JIT), not counted.
    await writer.tokenize(Array.from({ length: 1000 }, (_, i) => ({ spec: specs.email, value: `warm.${run}.${i}@example.com` })));
    for (let r = 0; r < ROUNDS; r++) {
      const items = Array.from({ length: 1000 }, (_, i) => ({ spec: specs.email, value: `new.${run}.${r}.${i}@example${i % 17}.com` }));
      const [ms, tokens] = await time(() => writer.tokenize(items));
      tokenizeMs.push(ms);
      const batch = tokens.slice(0, 500).map((token) => ({ namespace: specs.email.namespace, token }));
      const cold = await backend.open();
      try {
        const [c, res] = await time(() => cold.detokenize(batch));
        if (!res.every((x) => x.found)) throw new Error(`${backend.name}: a token did not resolve`);
        coldMs.push(c);
        const [w] = await time(() => cold.detokenize(batch));
        warmMs.push(w);
      } finally {
        await cold.close();
      }
    }
  } finally {
    await writer.close();
  }
  return { backend: backend.name, tokenizeNew1000: stats(tokenizeMs), detokenize500Cold: stats(coldMs), detokenize500Warm: stats(warmMs) };
}

async function remoteGateway(tmp: string, keysJson: string): Promise<RunningProcess> {
  const dir = path.join(tmp, 'remote');
  const env = { ...gatewayEnv(dir, { 'bench.yaml': PASSTHROUGH_RULES }), PII_GATEWAY_KEYS: keysJson, PII_GATEWAY_LOG_LEVEL: 'warn', BENCH_UPSTREAM_URL: 'http://127.0.0.1:9' };
  return startNodeChild({ script: await runnable(path.join(ROOT, 'bench/subjects/gateway.ts')), env, logFile: path.join(tmp, 'remote.log') });
}

export async function main(): Promise<void> {
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pii-bench-vaults-'));
  const keysJson = JSON.stringify(generateKeyFile());
  const keyring = loadKeyring({ json: keysJson, file: path.join(tmp, 'unused.json') });
  const specs = { email: createTokenSpec({ type: 'email', namespace: 'bench' }, keyring) };
  const run = Date.now().toString(36);
  let pg: BenchPostgres | undefined;
  let remote: RunningProcess | undefined;
  const results: Figures[] = [];
  try {
    const base = (env: Record<string, string>) => ({ ...loadConfig({ PII_GATEWAY_DATA_DIR: tmp, ...env }, tmp).vault, keyring, cache: CACHE });
    const backends: Backend[] = [
      { name: 'sqlite (file, worker thread)', open: () => createVault(base({ PII_GATEWAY_VAULT: 'sqlite' })) },
    ];
    try {
      pg = await benchPostgres();
      const url = pg.url;
      backends.push({ name: 'postgres (loopback)', open: () => createVault(base({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_URL: url, PII_GATEWAY_POSTGRES_MIGRATE: 'true' })) });
    } catch (err) {
      results.push(skipped('postgres (loopback)', err));
    }
    try {
      remote = await remoteGateway(tmp, keysJson);
      const url = remote.info.vaultApi!;
      backends.push({ name: 'http (another gateway, sqlite)', open: () => createVault(base({ PII_GATEWAY_VAULT: 'http', PII_GATEWAY_HTTP_VAULT_URL: url, PII_GATEWAY_HTTP_VAULT_PURPOSE: 'bench' })) });
    } catch (err) {
      results.push(skipped('http (another gateway, sqlite)', err));
    }
    backends.push({ name: 'vaultless (email via AES-SIV)', open: () => createVault(base({ PII_GATEWAY_VAULT: 'memory', PII_GATEWAY_VAULTLESS_TYPES: 'email' })) });

    for (const b of backends) {
      try {
        results.push(await measure(b, specs, run));
        console.error(`measured ${b.name}`);
      } catch (err) {
        results.push(skipped(b.name, err));
      }
    }
  } finally {
    await remote?.stop();
    await pg?.stop();
    rmSync(tmp, { recursive: true, force: true });
  }

  const ms = (s: Stats | undefined): string => (s ? `${num(s.minMs, 2)} / ${num(s.medianMs, 2)} / ${num(s.p90Ms, 2)}` : '-');
  const md = [
    `# Vault backends, ${new Date().toISOString()}`,
    '',
    `${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'cpu'}), node ${process.version}, ${ROUNDS} rounds, figures in ms: min / median / p90.`,
    'Cold = a freshly opened vault (empty LRU; the database page cache is warm). Loopback only.',
    '',
    table(
      ['backend', 'tokenize 1,000 new', 'detokenize 500 cold', 'detokenize 500 warm'],
      results.map((r) => [r.failed ? `${r.backend} (failed: ${r.failed})` : r.backend, ms(r.failed ? undefined : r.tokenizeNew1000), ms(r.failed ? undefined : r.detokenize500Cold), ms(r.failed ? undefined : r.detokenize500Warm)]),
    ),
    '',
  ].join('\n');
  console.log(md);
  const name = `${stamp()}-vaults`;
  writeResult(`${name}.json`, { results });
  console.log(`results: ${path.relative(ROOT, writeResult(`${name}.md`, md))}`);
}

function skipped(backend: string, err: unknown): Figures {
  const zero = { minMs: 0, medianMs: 0, p90Ms: 0 };
  return { backend, tokenizeNew1000: zero, detokenize500Cold: zero, detokenize500Warm: zero, failed: (err as Error).message.slice(0, 200) };
}
