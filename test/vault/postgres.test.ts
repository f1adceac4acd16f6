/**
 * PostgreSQL store: the conformance suite on a real server (test/helpers/postgres.ts), in a database of its
 * own. A "restart" closes the pool and opens a new one on the same database, so persistence is proven
 * through the server, not through anything this process kept.
 */
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { LocalVault } from '../../src/vault/local.js';
import { PostgresStore } from '../../src/vault/postgres.js';
import { usePostgresDatabase } from '../helpers/postgres.js';
import { vaultConformance } from './conformance.js';

const db = usePostgresDatabase();
const keyring = ephemeralKeyring();

vaultConformance('postgres', async () => {
  const store = await PostgresStore.open({ url: db.url, poolSize: 4, migrate: true, connectTimeoutMs: 10_000, timeoutMs: 30_000 });
  const vault = new LocalVault(store, keyring);
  return { vault, stop: () => vault.close() };
});
