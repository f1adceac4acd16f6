/**
 * The vault (src/vault via createVault, the gateway's own wiring): a batch of 500 tokens detokenized
 *   cold  = a freshly built vault on an existing sqlite file (empty LRU cache, new connection and
 *           statements; OS page cache warm), 20,000 rows in the file
 *   warm  = the same batch again on a vault whose cache holds it
 * and tokenize 500 known values warm, for comparison. See also bench/micro/vault-detokenize.ts (100,000
 * rows, LocalVault without cache).
 *   node --import tsx bench/micro/vault.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
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
  ]);
  await warm.close();
} finally {
  rmSync(dir, { recursive: true, force: true });
}
