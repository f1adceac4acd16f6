/**
 * PostgresStore beyond the conformance suite, on a real server: concurrent writers on separate pools,
 * the InsertOutcome contract against the reference store, migrations (twice, concurrently, refused when
 * missing, older or newer), and failures that must come out as VAULT_UNAVAILABLE naming the condition:
 * an unreachable port, a statement timeout, dropped tables, a server that kills idle connections.
 */
import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { isGatewayError } from '../../src/errors.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { InsertOutcome, StoredRow } from '../../src/vault/interface.js';
import { LocalVault } from '../../src/vault/local.js';
import { MemoryStore } from '../../src/vault/memory.js';
import { POSTGRES_SCHEMA_VERSION, PostgresStore, migratePostgres, type PostgresStoreOptions } from '../../src/vault/postgres.js';
import { admin, createTestDatabase, freePort, usePostgresDatabase } from '../helpers/postgres.js';
import { plainSamples } from './conformance.js';

const db = usePostgresDatabase();
const opened: PostgresStore[] = [];
afterAll(async () => {
  await Promise.all(opened.map((s) => s.close()));
});

const options = (url: string, extra: Partial<PostgresStoreOptions> = {}): PostgresStoreOptions => ({
  url,
  poolSize: 5,
  migrate: true,
  connectTimeoutMs: 5000,
  timeoutMs: 10_000,
  ...extra,
});

async function open(url = db.url, extra: Partial<PostgresStoreOptions> = {}): Promise<PostgresStore> {
  const store = await PostgresStore.open(options(url, extra));
  opened.push(store);
  return store;
}

/** A fresh database of its own for tests that need an empty one; dropped after the test. */
async function freshDatabase<T>(fn: (url: string) => Promise<T>): Promise<T> {
  const fresh = await createTestDatabase(db.server);
  try {
    return await fn(fresh.url);
  } finally {
    await fresh.drop();
  }
}

async function failure(p: Promise<unknown>): Promise<{ code: string; message: string }> {
  const err = await p.then(
    () => new Error('expected a failure'),
    (e: unknown) => e,
  );
  if (!isGatewayError(err)) throw err;
  return { code: err.code, message: err.message };
}

let rowCounter = 0;
function row(namespace: string, fingerprint: string | null, token = `tok_${++rowCounter}_${randomBytes(6).toString('hex')}`): StoredRow {
  return { namespace, token, fingerprint, type: 'opaque', keyId: 'k1', sealed: randomBytes(40) };
}
const fp = (): string => randomBytes(32).toString('hex');

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

function chunks<T>(items: readonly T[], size: number): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < items.length; i += size) out.push(items.slice(i, i + size));
  return out;
}

/**
 * Holds an EXCLUSIVE lock on the tokens table while `start()` launches writers, waits until at least
 * `waiting` of them are blocked on it, then releases: the writers then race for the same rows.
 */
async function raceBehindLock<T>(waiting: number, start: () => Promise<T>): Promise<T> {
  const lock = new pg.Client({ connectionString: db.url });
  lock.on('error', () => {});
  await lock.connect();
  try {
    await lock.query('BEGIN');
    await lock.query('LOCK TABLE pii_gateway_tokens IN EXCLUSIVE MODE');
    const result = start();
    result.catch(() => {});
    for (let i = 0; ; i++) {
      // Inside a transaction pg_stat_activity is a snapshot taken at first use: drop it every time.
      await lock.query('SELECT pg_stat_clear_snapshot()');
      const res = await lock.query(
        "SELECT count(*)::int AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'",
      );
      if (res.rows[0].n >= waiting) break;
      if (i > 500) throw new Error('the writers never queued behind the lock');
      await new Promise((r) => setTimeout(r, 10));
    }
    await lock.query('COMMIT');
    return await result;
  } finally {
    await lock.end();
  }
}

async function count(table: string, where = 'true', values: unknown[] = []): Promise<number> {
  return (await admin(db.url, `SELECT count(*)::int AS n FROM ${table} WHERE ${where}`, values)).rows[0].n;
}

describe('PostgresStore with concurrent writers on separate pools', () => {
  it('gives one token per fingerprint when two pools insert the same new rows at the same moment', async () => {
    const [a, b] = [await open(), await open()];
    const ns = `race-same-${Date.now()}`;
    const rows = Array.from({ length: 2000 }, () => row(ns, fp()));
    const insertAll = (store: PostgresStore) => Promise.all(chunks(shuffled(rows), 200).map((batch) => store.insert(batch).then((o) => ({ batch, o }))));
    const [ra, rb] = await raceBehindLock(4, () => Promise.all([insertAll(a), insertAll(b)]));
    const outcome = (results: typeof ra): Map<StoredRow, InsertOutcome> => {
      const m = new Map<StoredRow, InsertOutcome>();
      for (const { batch, o } of results) batch.forEach((r, i) => m.set(r, o[i]!));
      return m;
    };
    const [oa, ob] = [outcome(ra), outcome(rb)];
    let insertedByA = 0;
    for (const r of rows) {
      const pair = [oa.get(r)!, ob.get(r)!];
      // Exactly one writer stored the row; the other reports the winner's token (the same token here).
      expect(pair.map((o) => o.status).sort()).toEqual(['exists', 'inserted']);
      const exists = pair.find((o) => o.status === 'exists') as { token: string };
      expect(exists.token).toBe(r.token);
      if (pair[0]!.status === 'inserted') insertedByA++;
    }
    // Both pools really wrote (the race was a race), and nothing is stored twice.
    expect(insertedByA).toBeGreaterThan(0);
    expect(insertedByA).toBeLessThan(2000);
    expect(await count('pii_gateway_tokens', 'namespace = $1', [ns])).toBe(2000);
    expect(await count('pii_gateway_fingerprints', 'namespace = $1', [ns])).toBe(2000);
  });

  it('resolves two different tokens for one fingerprint to the winner, and removes the loser\'s row', async () => {
    const [a, b] = [await open(), await open()];
    const ns = `race-diff-${Date.now()}`;
    const fps = Array.from({ length: 1000 }, fp);
    const rowsA = fps.map((f) => row(ns, f));
    const rowsB = fps.map((f) => row(ns, f));
    const [oa, ob] = await raceBehindLock(2, () => Promise.all([a.insert(rowsA), b.insert(rowsB)]));
    const winners = new Map<string, string>();
    for (const r of (await admin(db.url, "SELECT encode(fingerprint, 'hex') AS f, token FROM pii_gateway_fingerprints WHERE namespace = $1", [ns])).rows) {
      winners.set(r.f, r.token);
    }
    expect(winners.size).toBe(1000);
    for (let i = 0; i < fps.length; i++) {
      const final = (o: InsertOutcome, own: StoredRow): string | undefined =>
        o.status === 'inserted' ? own.token : o.status === 'exists' ? o.token : undefined;
      const ta = final(oa[i]!, rowsA[i]!);
      const tb = final(ob[i]!, rowsB[i]!);
      expect(ta).toBe(winners.get(fps[i]!));
      expect(tb).toBe(ta);
    }
    // One token row per fingerprint: a loser's row would be a second copy of the value, unreachable by
    // any token anyone was given, and it would survive an erasure of the winner.
    expect(await count('pii_gateway_tokens', 'namespace = $1', [ns])).toBe(1000);
    expect(await count('pii_gateway_tokens t', 'namespace = $1 AND NOT EXISTS (SELECT 1 FROM pii_gateway_fingerprints f WHERE f.token = t.token AND f.namespace = t.namespace)', [ns])).toBe(0);
  });

  it('gives two LocalVaults on separate pools the same tokens for the same new values, each resolving on both', async () => {
    const keyring = ephemeralKeyring();
    const [va, vb] = [new LocalVault(await open(), keyring), new LocalVault(await open(), keyring)];
    const ns = `race-vault-${Date.now()}`;
    const types = ['email', 'phone', 'opaque', 'digits'] as const;
    const items = types.flatMap((type) => {
      const spec = createTokenSpec({ type, namespace: ns }, keyring);
      return plainSamples(spec, 500_000, 500).map((value) => ({ spec, value }));
    });
    const run = async (vault: LocalVault): Promise<Map<string, string>> => {
      const out = new Map<string, string>();
      await Promise.all(
        chunks(shuffled(items), 100).map(async (batch) => {
          const tokens = await vault.tokenize(batch);
          batch.forEach((it, i) => out.set(`${it.spec.type}:${it.value}`, tokens[i]!));
        }),
      );
      return out;
    };
    const [ta, tb] = await raceBehindLock(2, () => Promise.all([run(va), run(vb)]));
    expect(ta.size).toBe(2000);
    expect([...tb.entries()].filter(([k, t]) => ta.get(k) !== t)).toEqual([]);
    const keys = [...ta.values()].map((token) => ({ namespace: ns, token }));
    for (const vault of [va, vb]) {
      const found = await vault.detokenize(keys);
      expect(found.filter((r) => !r.found)).toEqual([]);
    }
  });
});

describe('PostgresStore insert outcomes', () => {
  it('answers exactly what MemoryStore answers for duplicates, taken tokens and random rows', async () => {
    const pgStore = await open();
    const mem = new MemoryStore();
    const ns = `outcomes-${Date.now()}`;
    const [f1, f2, f3, f4] = [fp(), fp(), fp(), fp()];
    const first = [row(ns, f1, 'tok_one'), row(ns, f2, 'tok_two'), row(ns, null, 'tok_random')];
    const second = [
      row(ns, f1, 'tok_one'), // same value, same token: exists
      row(ns, f1, 'tok_other'), // same value, another token: exists (the stored one)
      row(ns, f3, 'tok_two'), // new value whose token is held by f2: token-taken
      row(ns, null, 'tok_random'), // random token already used: token-taken
      row(ns, f4, 'tok_four'), // new: inserted
      row(ns, f4, 'tok_four_b'), // same new value again in the batch: exists (tok_four)
      row(ns, fp(), 'tok_four'), // another value wanting the token just taken in this batch: token-taken
      row(`${ns}-other`, fp(), 'tok_two'), // the same token in another namespace is free: inserted
    ];
    for (const batch of [first, second]) {
      expect(await pgStore.insert(batch)).toEqual(await mem.insert(batch));
    }
    expect(await pgStore.insert([])).toEqual([]);
    const found = await pgStore.findTokens([f1, f2, f3, f4, fp()]);
    expect(Object.fromEntries(found)).toEqual(Object.fromEntries(await mem.findTokens([f1, f2, f3, f4])));
    const keys = [...first, ...second].map((r) => ({ namespace: r.namespace, token: r.token }));
    const [pgRows, memRows] = [await pgStore.findByTokens(keys), await mem.findByTokens(keys)];
    expect([...pgRows.keys()].sort()).toEqual([...memRows.keys()].sort());
    for (const [k, r] of memRows) expect(pgRows.get(k)).toEqual(r);
    // Deleting a key twice in one call counts it once; the fingerprint goes with its token.
    const del = [{ namespace: ns, token: 'tok_one' }, { namespace: ns, token: 'tok_one' }, { namespace: ns, token: 'tok_none' }];
    expect(await pgStore.delete(del)).toBe(await mem.delete(del));
    expect((await pgStore.findTokens([f1])).size).toBe(0);
  });
});

describe('postgres vault migrations', () => {
  it('migrates a new database once; the second run is a no-op', async () => {
    await freshDatabase(async (url) => {
      expect(await migratePostgres({ url, connectTimeoutMs: 5000 })).toEqual({ from: 0, to: POSTGRES_SCHEMA_VERSION });
      expect(await migratePostgres({ url, connectTimeoutMs: 5000 })).toEqual({ from: POSTGRES_SCHEMA_VERSION, to: POSTGRES_SCHEMA_VERSION });
      expect((await admin(url, 'SELECT version FROM pii_gateway_schema ORDER BY version')).rows).toEqual([{ version: 1 }]);
    });
  });

  it('lets several migrators run at once', async () => {
    await freshDatabase(async (url) => {
      const results = await Promise.all(Array.from({ length: 6 }, () => migratePostgres({ url, connectTimeoutMs: 5000 })));
      for (const r of results) expect(r.to).toBe(POSTGRES_SCHEMA_VERSION);
      expect((await admin(url, 'SELECT count(*)::int AS n FROM pii_gateway_schema')).rows[0].n).toBe(POSTGRES_SCHEMA_VERSION);
      const store = await open(url, { migrate: false });
      await store.ping();
    });
  });

  it('refuses to open a database without the schema, naming the command that fixes it', async () => {
    await freshDatabase(async (url) => {
      const err = await failure(PostgresStore.open(options(url, { migrate: false })));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toContain('schema is missing');
      expect(err.message).toContain("run 'pii-gateway vault migrate' or set PII_GATEWAY_POSTGRES_MIGRATE=true");
      // Refusing created nothing.
      expect((await admin(url, "SELECT count(*)::int AS n FROM pg_tables WHERE tablename LIKE 'pii_gateway_%'")).rows[0].n).toBe(0);
    });
  });

  it('refuses an older schema and a newer one, and never migrates a newer one', async () => {
    await freshDatabase(async (url) => {
      await migratePostgres({ url, connectTimeoutMs: 5000 });
      await admin(url, 'DELETE FROM pii_gateway_schema');
      const older = await failure(PostgresStore.open(options(url, { migrate: false })));
      expect(older.message).toMatch(/schema is missing|schema out of date/);
      expect(older.message).toContain('pii-gateway vault migrate');
      await migratePostgres({ url, connectTimeoutMs: 5000 });

      const running = await open(url, { migrate: false });
      await admin(url, 'INSERT INTO pii_gateway_schema (version) VALUES ($1)', [POSTGRES_SCHEMA_VERSION + 1]);
      for (const attempt of [
        () => PostgresStore.open(options(url, { migrate: false })),
        () => PostgresStore.open(options(url, { migrate: true })),
        () => migratePostgres({ url, connectTimeoutMs: 5000 }),
      ]) {
        const err = await failure(attempt());
        expect(err.code).toBe('VAULT_UNAVAILABLE');
        expect(err.message).toContain(`version ${POSTGRES_SCHEMA_VERSION + 1}, newer than this gateway supports (${POSTGRES_SCHEMA_VERSION})`);
      }
      // A gateway already running keeps serving while a newer one migrates (rolling upgrade).
      await running.ping();
      await running.close();
    });
  });

  it('goes unready, naming the fix, when the vault tables disappear under a running store', async () => {
    await freshDatabase(async (url) => {
      const store = await open(url);
      await store.insert([row('gone', fp())]);
      await admin(url, 'DROP TABLE pii_gateway_tokens, pii_gateway_fingerprints, pii_gateway_schema');
      for (const call of [() => store.ping(), () => store.insert([row('gone', fp())]), () => store.findTokens([fp()])]) {
        const err = await failure(call());
        expect(err.code).toBe('VAULT_UNAVAILABLE');
        expect(err.message).toContain('pii-gateway vault migrate');
      }
    });
  });

  it('works unchanged on tables an operator created hash-partitioned before migrating', async () => {
    await freshDatabase(async (url) => {
      // docs/fleet.md#postgresql: partition each table on its own unique key.
      await admin(url, `CREATE TABLE pii_gateway_tokens (
          token text NOT NULL, namespace text NOT NULL, fingerprint bytea, type text NOT NULL, key_id text NOT NULL,
          sealed bytea NOT NULL, created_at timestamptz NOT NULL DEFAULT now(), PRIMARY KEY (token, namespace)
        ) PARTITION BY HASH (token)`);
      await admin(url, `CREATE TABLE pii_gateway_fingerprints (
          fingerprint bytea NOT NULL PRIMARY KEY, namespace text NOT NULL, token text NOT NULL
        ) PARTITION BY HASH (fingerprint)`);
      for (let i = 0; i < 4; i++) {
        await admin(url, `CREATE TABLE pii_gateway_tokens_p${i} PARTITION OF pii_gateway_tokens FOR VALUES WITH (MODULUS 4, REMAINDER ${i})`);
        await admin(url, `CREATE TABLE pii_gateway_fingerprints_p${i} PARTITION OF pii_gateway_fingerprints FOR VALUES WITH (MODULUS 4, REMAINDER ${i})`);
      }
      expect(await migratePostgres({ url, connectTimeoutMs: 5000 })).toEqual({ from: 0, to: POSTGRES_SCHEMA_VERSION });
      const keyring = ephemeralKeyring();
      const [va, vb] = [new LocalVault(await open(url), keyring), new LocalVault(await open(url), keyring)];
      const spec = createTokenSpec({ type: 'email', namespace: 'p' }, keyring);
      const items = plainSamples(spec, 0, 400).map((value) => ({ spec, value }));
      const [ta, tb] = await Promise.all([va.tokenize(items), vb.tokenize(shuffled(items)).then(() => vb.tokenize(items))]);
      expect(tb).toEqual(ta);
      const found = await vb.detokenize(ta.map((token) => ({ namespace: 'p', token })));
      expect(found.every((r, i) => r.found && r.value === items[i]!.value)).toBe(true);
      expect(await va.delete(ta.slice(0, 100).map((token) => ({ namespace: 'p', token })))).toBe(100);
      for (let i = 0; i < 4; i++) {
        const n = (await admin(url, `SELECT count(*)::int AS n FROM pii_gateway_tokens_p${i}`)).rows[0].n;
        expect(n).toBeGreaterThan(0);
      }
      expect((await admin(url, 'SELECT count(*)::int AS n FROM pii_gateway_fingerprints')).rows[0].n).toBe(300);
    });
  });
});

describe('PostgresStore failures', () => {
  it('reports an unreachable port as "connection refused", without the URL', async () => {
    const port = await freePort();
    const url = `postgres://vaultuser:S3cret-Canary@127.0.0.1:${port}/vault`;
    const started = Date.now();
    for (const migrate of [false, true]) {
      const err = await failure(PostgresStore.open(options(url, { migrate, connectTimeoutMs: 3000 })));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toContain('connection refused');
      expect(err.message).not.toMatch(/S3cret|vaultuser|127\.0\.0\.1|postgres:\/\//);
    }
    const mig = await failure(migratePostgres({ url, connectTimeoutMs: 3000 }));
    expect(mig.message).toContain('connection refused');
    // Refused connections fail at once; the bound is generous for a busy machine.
    expect(Date.now() - started).toBeLessThan(10_000);
  });

  it('reports a database that does not exist', async () => {
    const missing = new URL(db.url);
    missing.pathname = '/pii_test_does_not_exist';
    const err = await failure(PostgresStore.open(options(missing.toString())));
    expect(err.message).toContain('the database does not exist (SQLSTATE 3D000)');
  });

  it('gives up after the statement timeout with a message that says so', async () => {
    const store = await open(db.url, { timeoutMs: 300 });
    const lock = new pg.Client({ connectionString: db.url });
    await lock.connect();
    try {
      await lock.query('BEGIN');
      await lock.query('LOCK TABLE pii_gateway_fingerprints IN ACCESS EXCLUSIVE MODE');
      const started = Date.now();
      const err = await failure(store.findTokens([fp()]));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toBe('vault lookup failed: statement timeout: the database did not answer in time (SQLSTATE 57014)');
      // 300 ms configured; the bound only proves it did not wait for the lock (held until COMMIT below).
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      await lock.query('COMMIT');
      await lock.end();
    }
    await store.ping();
  });

  it('survives the server killing its idle connections, and reconnects', async () => {
    const store = await open(db.url, { poolSize: 3 });
    await Promise.all([store.findTokens([fp()]), store.findTokens([fp()]), store.findTokens([fp()])]);
    const killed = await admin(
      db.url,
      "SELECT count(pg_terminate_backend(pid))::int AS n FROM pg_stat_activity WHERE datname = current_database() AND application_name = 'pii-gateway' AND pid <> pg_backend_pid()",
    );
    expect(killed.rows[0].n).toBeGreaterThan(0);
    // Without the pool's error listener, the idle clients' errors would crash this process here.
    await new Promise((r) => setTimeout(r, 200));
    await store.ping();
    expect((await store.findTokens([fp()])).size).toBe(0);
  });
});
