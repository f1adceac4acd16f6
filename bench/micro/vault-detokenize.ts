/**
 * Micro benchmark of the vault hot path: 500-token batches against a 100,000-row sqlite vault.
 * Prints min and median over 30 rounds; asserts nothing. Run: npx tsx bench/micro/vault-detokenize.ts
 *
 *   cold   = a fresh SqliteStore connection (SQLite page cache empty, OS cache warm), through a cache miss
 *   steady = LocalVault over the same connection again (no LRU)
 *   warm   = CachedVault hits
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { CachedVault } from '../../src/vault/cached.js';
import { LocalVault } from '../../src/vault/local.js';
import { SqliteStore } from '../../src/vault/sqlite.js';

const ROWS = 100_000;
const BATCH = 500;
const ROUNDS = 30;

const dir = mkdtempSync(join(tmpdir(), 'pii-bench-vault-'));
const path = join(dir, 'vault.db');
const keyring = ephemeralKeyring();
const specs = (['email', 'phone', 'opaque', 'digits'] as const).map((type) => createTokenSpec({ type, namespace: 'bench' }, keyring));

function value(i: number): { spec: (typeof specs)[number]; value: string } {
  const spec = specs[i % 4]!;
  const n = String(i).padStart(7, '0');
  const raw =
    spec.type === 'email' ? `user.${n}@example${i % 13}.com`
    : spec.type === 'phone' ? `+4477${n}0`
    : spec.type === 'opaque' ? `Ada Lovelace ${n}`
    : `4${n}${n.slice(0, 3)}`;
  return { spec, value: raw };
}

const now = (): number => Number(process.hrtime.bigint()) / 1e6;
const stats = (xs: number[]): string => {
  const s = [...xs].sort((a, b) => a - b);
  return `min ${s[0]!.toFixed(2)} ms, median ${s[s.length >> 1]!.toFixed(2)} ms`;
};

try {
  const loader = new LocalVault(new SqliteStore(path), keyring);
  for (let b = 0; b < ROWS; b += 10_000) await loader.tokenize(Array.from({ length: 10_000 }, (_, i) => value(b + i)));
  await loader.close();

  const t: Record<string, number[]> = { cold: [], steady: [], warm: [], tokenizeMiss: [], tokenizeWarm: [] };
  for (let round = 0; round < ROUNDS; round++) {
    const items = Array.from({ length: BATCH }, (_, i) => value((round * 3301 + i * 197) % ROWS));
    const setup = new LocalVault(new SqliteStore(path), keyring);
    const keys = (await setup.tokenize(items)).map((token) => ({ namespace: 'bench', token }));
    await setup.close();

    const local = new LocalVault(new SqliteStore(path), keyring);
    const cached = new CachedVault(local, { maxEntries: 10_000, maxBytes: 16 << 20 });
    let s = now();
    await cached.detokenize(keys);
    t.cold!.push(now() - s);
    s = now();
    await cached.detokenize(keys);
    t.warm!.push(now() - s);
    s = now();
    await local.detokenize(keys);
    t.steady!.push(now() - s);
    s = now();
    await cached.tokenize(items);
    t.tokenizeMiss!.push(now() - s);
    s = now();
    await cached.tokenize(items);
    t.tokenizeWarm!.push(now() - s);
    await cached.close();
  }
  process.stdout.write(
    [
      `vault, ${BATCH}-item batches over ${ROWS} sqlite rows (${ROUNDS} rounds)`,
      `  detokenize cold sqlite:   ${stats(t.cold!)}`,
      `  detokenize steady sqlite: ${stats(t.steady!)}`,
      `  detokenize warm cache:    ${stats(t.warm!)}`,
      `  tokenize known, sqlite:   ${stats(t.tokenizeMiss!)}`,
      `  tokenize warm cache:      ${stats(t.tokenizeWarm!)}`,
      '',
    ].join('\n'),
  );
} finally {
  rmSync(dir, { recursive: true, force: true });
}
