/** SQLite store: the conformance suite on a real file, reopened for every "restart". */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { LocalVault } from '../../src/vault/local.js';
import { SqliteStore } from '../../src/vault/sqlite.js';
import { vaultConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-sqlite-'));
const keyring = ephemeralKeyring();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

vaultConformance('sqlite', async () => {
  const vault = new LocalVault(new SqliteStore(join(dir, 'nested', 'vault.db')), keyring);
  return { vault, stop: () => vault.close() };
});
