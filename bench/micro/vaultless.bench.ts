/**
 * Vaultless tokens (src/vault/vaultless.ts over src/tokens/vaultless): a batch of 1,000 NEW values tokenized
 * and a batch of 500 tokens detokenized, per token type and mixed, beside the stored vault doing the same
 * (LocalVault over sqlite and over memory, no cache: every value new, every lookup cold), and the per-value
 * cost in microseconds. Vaultless work is CPU only (FF1 and AES-SIV in JavaScript); the stored vault's is
 * HMAC + AES-GCM + store I/O.
 *   node --import tsx bench/micro/vaultless.bench.ts
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec, withVaultlessTypes } from '../../src/tokens/index.js';
import type { TokenSpec, TokenType } from '../../src/tokens/types.js';
import type { TokenizeItem, Vault } from '../../src/vault/interface.js';
import { LocalVault } from '../../src/vault/local.js';
import { MemoryStore } from '../../src/vault/memory.js';
import { SqliteStore } from '../../src/vault/sqlite.js';
import { VaultlessVault } from '../../src/vault/vaultless.js';
import { runMicro, type MicroTask } from './lib.js';

const TYPES: TokenType[] = ['email', 'phone', 'opaque', 'digits'];
const keyring = withVaultlessTypes(ephemeralKeyring(), TYPES);
const spec: Record<TokenType, TokenSpec> = Object.fromEntries(TYPES.map((t) => [t, createTokenSpec({ type: t, namespace: 'bench' }, keyring)])) as never;

/** The i-th distinct value of a type (realistic lengths: a 24-character address, a UK mobile, a name, 16 digits). */
function value(type: TokenType, i: number): string {
  const n = String(i).padStart(8, '0');
  switch (type) {
    case 'email':
      return `user.${n}@example${i % 50}.com`;
    case 'phone':
      return `+447${n}${String(i % 10)}`;
    case 'opaque':
      return `Ada Lovelace ${n}`;
    case 'digits':
      return `4${n}${n.slice(1)}`;
  }
}

let counter = 0;
/** 1,000 values never tokenized before (so the stored vault inserts every one). */
const fresh = (types: readonly TokenType[]): TokenizeItem[] =>
  Array.from({ length: 1000 }, (_, i) => {
    const type = types[i % types.length]!;
    return { spec: spec[type], value: value(type, ++counter) };
  });

const dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-micro-vaultless-'));
try {
  const vaultless = new VaultlessVault(new LocalVault(new MemoryStore(), keyring), keyring, TYPES);
  const sqlite = new LocalVault(await SqliteStore.open(path.join(dir, 'vault.db'), { timeoutMs: 5000 }), keyring);
  const memory = new LocalVault(new MemoryStore(), keyring);
  const tasks: MicroTask[] = [];
  const add = (label: string, vault: Vault, types: readonly TokenType[]): Promise<void> =>
    vault.tokenize(fresh(types)).then((tokens) => {
      const batch = tokens.slice(0, 500).map((token) => ({ namespace: 'bench', token }));
      tasks.push(
        { name: `${label}: tokenize 1,000 new`, fn: () => vault.tokenize(fresh(types)) },
        {
          name: `${label}: detokenize 500`,
          fn: async () => {
            const r = await vault.detokenize(batch);
            if (!r[499]!.found) throw new Error('not found');
          },
        },
      );
    });
  for (const t of TYPES) await add(`vaultless ${t}`, vaultless, [t]);
  await add('vaultless mixed', vaultless, TYPES);
  await add('stored (sqlite, no cache) mixed', sqlite, TYPES);
  await add('stored (memory, no cache) mixed', memory, TYPES);
  const rows = await runMicro('vaultless vs stored tokens, 1,000-value tokenize and 500-token detokenize batches', tasks);
  console.log('Per value (mean / batch size):');
  for (const r of rows) console.log(`  ${r.name}: ${(r.meanUs / (r.name.includes('tokenize 1,000') && !r.name.includes('detokenize') ? 1000 : 500)).toFixed(1)} us`);
  await Promise.all([vaultless.close(), sqlite.close(), memory.close()]);
} finally {
  rmSync(dir, { recursive: true, force: true });
}
