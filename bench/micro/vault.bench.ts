/**
 * The vault (src/vault via createVault, the gateway's own wiring): a batch of 500 tokens detokenized
 *   cold  = a freshly built vault on an existing sqlite file (empty LRU cache, new connection and
 *           statements; OS page cache warm), 20,000 rows in the file
 *   warm  = the same batch again on a vault whose cache holds it
 * and tokenize 500 known values warm, for comparison; the store round trip without the LRU (detokenize 500
 * with the cache off, tokenize 1,000 new values: derive, seal and one insert batch); and how long the main
 * thread is held at a stretch while those run (event-loop delay, the figure the SQLite worker is about).
 * See also bench/micro/vault-detokenize.ts (100,000 rows, LocalVault without cache).
 *   node --import tsx bench/micro/vault.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { createVault, type Vault } from '../../src/vault/index.js';
import { runMicro } from './lib.js';

const ROWS = 20_000;
const dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-micro-vault-'));
const sqlitePath = path.join(dir, 'vault.db');
const keyring = ephemeralKeyring();
const cache = { maxEntries: 100_000, maxBytes: 64 * 2 ** 20 };
const open = (): Promise<Vault> => createVault({ backend: 'sqlite', sqlitePath, keyring, cache });
const openUncached = (): Promise<Vault> => createVault({ backend: 'sqlite', sqlitePath, keyring, cache: { maxEntries: 0, maxBytes: 0 } });
const spec = createTokenSpec({ type: 'email', namespace: 'bench' }, keyring);

try {
  const loader = await open();
  const values = Array.from({ length: ROWS }, (_, i) => ({ spec, value: `user.${i}@example.com` }));
  const tokens: string[] = [];
  for (let i = 0; i < ROWS; i += 5000) tokens.push(...(await loader.tokenize(values.slice(i, i + 5000))));
  await loader.close();
  // 500 tokens spread over the file.
  const batch = Array.from({ length: 500 }, (_, i) => ({ namespace: 'bench', token: tokens[(i * 39) % ROWS]! }));
  const known = Array.from({ length: 500 }, (_, i) => values[(i * 39) % ROWS]!);

  let cold: Vault = await open();
  const warm = await open();
  await warm.detokenize(batch);
  await warm.tokenize(known);
  const store = await openUncached();
  let fresh = 0;
  const newValues = (): { spec: typeof spec; value: string }[] =>
    Array.from({ length: 1000 }, () => ({ spec, value: `new.${++fresh}@example.org` }));
  await runMicro('vault, 500-token batches, sqlite', [
    {
      name: 'detokenize 500, cold (fresh vault)',
      fn: async () => {
        const r = await cold.detokenize(batch);
        if (!r[499]!.found) throw new Error('not found');
      },
      opts: {
        beforeEach: async () => {
          cold = await open();
        },
        afterEach: async () => {
          await cold.close();
        },
      },
    },
    { name: 'detokenize 500, warm cache', fn: () => warm.detokenize(batch) },
    { name: 'tokenize 500 known values, warm cache', fn: () => warm.tokenize(known) },
    { name: 'detokenize 500, no cache (store round trip)', fn: () => store.detokenize(batch) },
    { name: 'tokenize 1,000 new values, no cache', fn: () => store.tokenize(newValues()) },
  ]);

  // How long the main thread is held at a stretch by those round trips: the event loop is given a turn
  // (setImmediate) between calls, so each recorded delay is the longest synchronous run within one call
  // (a synchronous store answers inside microtasks, which never let a timer or a socket in).
  const delay = monitorEventLoopDelay({ resolution: 1 });
  const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
  delay.enable();
  const started = performance.now();
  let rounds = 0;
  while (performance.now() - started < 2000) {
    await store.tokenize(newValues());
    await turn();
    await store.detokenize(batch);
    await turn();
    rounds++;
  }
  delay.disable();
  const ms = (ns: number): string => (ns / 1e6).toFixed(2);
  console.log(
    `event-loop delay over ${rounds} rounds of (tokenize 1,000 new + detokenize 500): ` +
      `p50 ${ms(delay.percentile(50))} ms, p99 ${ms(delay.percentile(99))} ms, max ${ms(delay.max)} ms\n`,
  );
  await store.close();
  await warm.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
