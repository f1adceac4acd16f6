/**
 * Defends: "the PostgreSQL database alone reveals no PII". Tokenizes canary values (deterministic and
 * random tokens), then reads every cell of every table in the vault's schema as text, with bytea printed
 * both as hex and in escape format (where printable bytes appear as themselves), and searches for the
 * canaries in every form we can think of.
 */
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { LocalVault } from '../../src/vault/local.js';
import { PostgresStore } from '../../src/vault/postgres.js';
import { usePostgresDatabase } from '../helpers/postgres.js';

const db = usePostgresDatabase();

const CANARIES = {
  email: 'Canary.Lovelace@Analytical-Engine.example',
  phone: '+44 20 7946 0958',
  opaque: 'Augusta Ada King-Noel',
} as const;

/** Every needle a canary could leave: as given, normalized, lower/upper case, digits only, and as hex. */
function needles(): string[] {
  const out = new Set<string>();
  for (const value of Object.values(CANARIES)) {
    const forms = [value, value.toLowerCase(), value.toUpperCase(), value.replace(/[^0-9+]/g, ''), value.replace(/\D/g, '')];
    for (const part of value.split(/[@ .-]/)) if (part.length >= 5) forms.push(part, part.toLowerCase());
    for (const f of forms) {
      if (f.length < 5) continue;
      out.add(f);
      out.add(Buffer.from(f).toString('hex'));
      out.add(Buffer.from(f).toString('base64').slice(0, -2));
    }
  }
  return [...out];
}

/** Every row of every table in the current schema, as text, under the given bytea output format. */
async function dump(client: pg.Client, byteaOutput: 'hex' | 'escape'): Promise<string[]> {
  await client.query(`SET bytea_output = '${byteaOutput}'`);
  const tables = await client.query<{ t: string }>(
    "SELECT quote_ident(table_name) AS t FROM information_schema.tables WHERE table_schema = current_schema() AND table_type = 'BASE TABLE'",
  );
  const rows: string[] = [];
  for (const { t } of tables.rows) {
    const res = await client.query<{ r: string }>(`SELECT x::text AS r FROM ${t} AS x`);
    for (const { r } of res.rows) rows.push(`${t}: ${r}`);
  }
  return rows;
}

const clients: pg.Client[] = [];
afterAll(async () => {
  for (const c of clients) await c.end();
});

describe('postgres vault database', () => {
  it('holds no plaintext of tokenized values in any table cell', async () => {
    const keyring = ephemeralKeyring();
    const store = await PostgresStore.open({ url: db.url, poolSize: 2, migrate: true, connectTimeoutMs: 5000, timeoutMs: 10_000 });
    const vault = new LocalVault(store, keyring);
    const items = (['email', 'phone', 'opaque'] as const).flatMap((type) => [
      { spec: createTokenSpec({ type, namespace: 'leakcheck' }, keyring), value: CANARIES[type] },
      { spec: createTokenSpec({ type, namespace: 'leakcheck', random: true }, keyring), value: CANARIES[type] },
    ]);
    const tokens = await vault.tokenize(items);
    const results = await vault.detokenize(tokens.map((token) => ({ namespace: 'leakcheck', token })));
    // The values really are in there (as ciphertext): the round trip works.
    expect(results.map((r) => r.found)).toEqual([true, true, true, true, true, true]);
    await vault.close();

    const client = new pg.Client({ connectionString: db.url });
    clients.push(client);
    await client.connect();
    for (const format of ['hex', 'escape'] as const) {
      const rows = await dump(client, format);
      const text = rows.join('\n');
      // The check can fail: the tokens themselves are in the dump, and so is every table.
      for (const token of tokens) expect(text).toContain(token);
      expect(text).toContain('pii_gateway_fingerprints:');
      const leaks = needles().filter((n) => text.includes(n) || text.toLowerCase().includes(n.toLowerCase()));
      expect(leaks).toEqual([]);
    }
  });
});
