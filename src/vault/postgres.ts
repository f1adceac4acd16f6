/**
 * VaultStore on PostgreSQL (`pg` 8 Pool): one database shared by any number of gateway processes.
 *
 * Why it looks like this:
 * - One statement per batch, whatever its size: every column travels as one array parameter and the
 *   statement `unnest`s them (lookups use `= ANY($1)`). A tokenize of new values costs one round trip
 *   (insert), plus one more only when some rows conflicted (reading the winners back).
 * - Same value, two gateways, same moment: both derive the same token (keys are shared), both insert;
 *   the primary key makes the second wait for the first and then skip (ON CONFLICT DO NOTHING), and the
 *   second reads the winner's token back from the fingerprint table. So both answer the same token, and
 *   a token is stored for a fingerprint only by the writer that also won the fingerprint row.
 * - Token row first, fingerprint row second, in one statement (data-modifying CTEs): a fingerprint row
 *   can only point at a token row that this statement inserted, never at a token that belongs to another
 *   value. If the token row went in but another writer won the fingerprint (possible only around a
 *   concurrent delete), the follow-up statement removes that orphan row, so erasure by token stays complete.
 * - Rows are inserted sorted by key, so two batches with the same keys lock them in the same order and
 *   cannot deadlock each other; a deadlock or serialization failure that happens anyway (a delete racing
 *   an insert; CockroachDB's optimistic transactions) rolls the one statement back and it is retried.
 * - No advisory locks, no LISTEN/NOTIFY, no functions: only SQL that CockroachDB and YugabyteDB document
 *   as supported (docs/fleet.md#postgresql lists what was checked).
 * - Statement timeout = the vault timeout, set as a connection parameter; a client-side read timeout a
 *   second later covers a server that stops answering altogether. Every failure becomes VAULT_UNAVAILABLE
 *   naming the condition (postgres-errors.ts), never a value. Idle-connection errors are absorbed: the
 *   pool drops that connection and the next call opens a new one.
 * - Sees only ciphertext and keyed fingerprints, like every store; the database alone reveals no PII.
 */
import pg from 'pg';
import type { PostgresVaultConfig } from '../config/vault.js';
import { GatewayError } from '../errors.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type InsertOutcome,
  type StoredRow,
  type VaultStore,
} from './interface.js';
import { isRetryable, pgFailure, type FailureContext } from './postgres-errors.js';
import {
  ClosingClient,
  FINGERPRINTS_TABLE,
  POSTGRES_SCHEMA_VERSION,
  TOKENS_TABLE,
  connectionConfig,
  migrateWith,
  requireCurrentSchema,
  schemaVersion,
} from './postgres-schema.js';

export { POSTGRES_SCHEMA_VERSION, migratePostgres, type MigrationResult } from './postgres-schema.js';

export interface PostgresStoreOptions extends PostgresVaultConfig {
  /** Longest one store call may take (statement timeout) before VAULT_UNAVAILABLE. */
  readonly timeoutMs: number;
}

/** Attempts of one statement that failed with a serialization failure or a deadlock. */
const MAX_ATTEMPTS = 4;
/** Margin of the client-side read timeout over the server's statement timeout. */
const READ_TIMEOUT_MARGIN_MS = 1000;

const INSERT_SQL = `
WITH input AS (
  SELECT * FROM unnest($1::text[], $2::text[], $3::bytea[], $4::text[], $5::text[], $6::bytea[])
    AS i(token, namespace, fingerprint, type, key_id, sealed)
),
tok AS (
  INSERT INTO ${TOKENS_TABLE} (token, namespace, fingerprint, type, key_id, sealed)
  SELECT token, namespace, fingerprint, type, key_id, sealed FROM input ORDER BY token, namespace
  ON CONFLICT DO NOTHING
  RETURNING token, namespace, fingerprint
),
fp AS (
  INSERT INTO ${FINGERPRINTS_TABLE} (fingerprint, namespace, token)
  SELECT fingerprint, namespace, token FROM tok WHERE fingerprint IS NOT NULL ORDER BY fingerprint
  ON CONFLICT DO NOTHING
  RETURNING fingerprint
)
SELECT 't' AS kind, token, namespace, NULL::bytea AS fingerprint FROM tok
UNION ALL
SELECT 'f', NULL, NULL, fingerprint FROM fp`;

/** Removes token rows whose fingerprint another writer won ($1-$3), and reads the winners ($4). */
const RESOLVE_SQL = `
WITH orphan AS (
  DELETE FROM ${TOKENS_TABLE}
  WHERE (token, namespace, fingerprint) IN (
    SELECT o.token, o.namespace, o.fingerprint
    FROM unnest($1::text[], $2::text[], $3::bytea[]) AS o(token, namespace, fingerprint)
    WHERE NOT EXISTS (
      SELECT 1 FROM ${FINGERPRINTS_TABLE} AS f
      WHERE f.fingerprint = o.fingerprint AND f.token = o.token AND f.namespace = o.namespace))
  RETURNING 1
)
SELECT fingerprint, token FROM ${FINGERPRINTS_TABLE} WHERE fingerprint = ANY($4::bytea[])`;

const FIND_TOKENS_SQL = `SELECT fingerprint, token FROM ${FINGERPRINTS_TABLE} WHERE fingerprint = ANY($1::bytea[])`;

/** A superset query (every requested token in every requested namespace), filtered to the exact keys here. */
const FIND_BY_TOKENS_SQL = `
SELECT token, namespace, fingerprint, type, key_id, sealed FROM ${TOKENS_TABLE}
WHERE token = ANY($1::text[]) AND namespace = ANY($2::text[])`;

const DELETE_SQL = `
WITH gone AS (
  DELETE FROM ${TOKENS_TABLE}
  WHERE (token, namespace) IN (SELECT * FROM unnest($1::text[], $2::text[]))
  RETURNING token, namespace, fingerprint
),
fp AS (
  DELETE FROM ${FINGERPRINTS_TABLE}
  WHERE (fingerprint, token, namespace) IN (SELECT fingerprint, token, namespace FROM gone)
  RETURNING 1
)
SELECT count(*) AS n FROM gone`;

const INSERTED: InsertOutcome = Object.freeze({ status: 'inserted' });
const TOKEN_TAKEN: InsertOutcome = Object.freeze({ status: 'token-taken' });

/**
 * PostgreSQL-backed {@link VaultStore}.
 *
 * @example
 *   const store = await PostgresStore.open({ url: 'postgres://pii@db:5432/vault', poolSize: 10, migrate: false,
 *     connectTimeoutMs: 5000, timeoutMs: 5000 });
 *   const vault = new LocalVault(store, keyring);
 */
export class PostgresStore implements VaultStore {
  readonly #pool: pg.Pool;
  readonly #ctx: FailureContext;
  #closed = false;

  /**
   * Connects, then applies pending migrations (`migrate: true`) or refuses a schema that is missing, older
   * or newer than this code. Throws VAULT_UNAVAILABLE naming the condition; nothing is left open then.
   */
  static async open(options: PostgresStoreOptions): Promise<PostgresStore> {
    const ctx: FailureContext = { connectTimeoutMs: options.connectTimeoutMs, queryTimeoutMs: options.timeoutMs };
    const pool = new pg.Pool({
      ...connectionConfig(options),
      Client: ClosingClient,
      max: options.poolSize,
      statement_timeout: options.timeoutMs,
      query_timeout: options.timeoutMs + READ_TIMEOUT_MARGIN_MS,
    });
    // A connection that dies while idle (server restart, failover, a proxy's idle cut) is emitted here;
    // the pool has already dropped it. Without a listener Node would crash the process.
    pool.on('error', () => {});
    try {
      if (options.migrate) {
        // Migrations run without the statement timeout (DDL may wait for locks held by running gateways).
        const client = await pool.connect().catch((err: unknown) => {
          throw pgFailure(err, 'connecting to the postgres vault', ctx);
        });
        try {
          await client.query('SET statement_timeout = 0');
          await migrateWith(client, ctx);
        } finally {
          // Not back into the pool: its session settings were changed.
          client.release(true);
        }
      } else {
        requireCurrentSchema(await schemaVersion(pool, ctx));
      }
    } catch (err) {
      await pool.end().catch(() => {});
      throw pgFailure(err, 'opening the postgres vault', ctx);
    }
    return new PostgresStore(pool, ctx);
  }

  private constructor(pool: pg.Pool, ctx: FailureContext) {
    this.#pool = pool;
    this.#ctx = ctx;
  }

  async findTokens(fingerprints: readonly string[]): Promise<Map<string, string>> {
    this.#check();
    const out = new Map<string, string>();
    if (fingerprints.length === 0) return out;
    const res = await this.#run('vault lookup', FIND_TOKENS_SQL, [fingerprints.map(fingerprintBytes)]);
    for (const [fp, token] of res.rows as [Buffer, string][]) out.set(fp.toString('hex'), token);
    return out;
  }

  async insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]> {
    this.#check();
    const outcomes = new Array<InsertOutcome>(rows.length);
    if (rows.length === 0) return outcomes;

    // Only the first row of a key or fingerprint goes to the database; later ones follow its outcome
    // (as MemoryStore processes rows in order: a later row finds the earlier one there).
    const send: number[] = [];
    const firstKey = new Map<string, number>();
    const firstFp = new Map<string, number>();
    const sameFp: [number, number][] = [];
    for (let i = 0; i < rows.length; i++) {
      const r = rows[i]!;
      const fpFirst = r.fingerprint === null ? undefined : firstFp.get(r.fingerprint);
      if (fpFirst !== undefined) {
        sameFp.push([i, fpFirst]);
        continue;
      }
      const key = storeKey(r.namespace, r.token);
      if (firstKey.has(key)) {
        outcomes[i] = TOKEN_TAKEN;
        continue;
      }
      firstKey.set(key, i);
      if (r.fingerprint !== null) firstFp.set(r.fingerprint, i);
      send.push(i);
    }

    const batch = send.map((i) => rows[i]!);
    const res = await this.#run('vault insert', INSERT_SQL, [
      batch.map((r) => r.token),
      batch.map((r) => r.namespace),
      batch.map((r) => (r.fingerprint === null ? null : fingerprintBytes(r.fingerprint))),
      batch.map((r) => r.type),
      batch.map((r) => r.keyId),
      batch.map((r) => r.sealed),
    ]);
    const tokenIn = new Set<string>();
    const fpIn = new Set<string>();
    for (const [kind, token, namespace, fp] of res.rows as [string, string | null, string | null, Buffer | null][]) {
      if (kind === 't') tokenIn.add(storeKey(namespace!, token!));
      else fpIn.add(fp!.toString('hex'));
    }

    const unresolved: number[] = [];
    const orphans: StoredRow[] = [];
    for (const i of send) {
      const r = rows[i]!;
      const inserted = tokenIn.has(storeKey(r.namespace, r.token));
      if (r.fingerprint === null) outcomes[i] = inserted ? INSERTED : TOKEN_TAKEN;
      else if (inserted && fpIn.has(r.fingerprint)) outcomes[i] = INSERTED;
      else {
        if (inserted) orphans.push(r);
        unresolved.push(i);
      }
    }
    if (unresolved.length > 0) {
      // A new statement, so a new snapshot: it sees the rows of the writers we waited for.
      const winners = await this.#run('vault insert', RESOLVE_SQL, [
        orphans.map((r) => r.token),
        orphans.map((r) => r.namespace),
        orphans.map((r) => fingerprintBytes(r.fingerprint!)),
        unresolved.map((i) => fingerprintBytes(rows[i]!.fingerprint!)),
      ]);
      const tokenOf = new Map<string, string>();
      for (const [fp, token] of winners.rows as [Buffer, string][]) tokenOf.set(fp.toString('hex'), token);
      for (const i of unresolved) {
        const token = tokenOf.get(rows[i]!.fingerprint!);
        // No winner: the token is held by another value (a collision); the caller derives the next one.
        outcomes[i] = token === undefined ? TOKEN_TAKEN : { status: 'exists', token };
      }
    }
    for (const [i, first] of sameFp) {
      const o = outcomes[first]!;
      outcomes[i] = o.status === 'inserted' ? { status: 'exists', token: rows[first]!.token } : o;
    }
    return outcomes;
  }

  async findByTokens(keys: readonly DetokenizeItem[]): Promise<Map<string, StoredRow>> {
    this.#check();
    const out = new Map<string, StoredRow>();
    if (keys.length === 0) return out;
    const wanted = new Set<string>();
    const tokens = new Set<string>();
    const namespaces = new Set<string>();
    for (const { namespace, token } of keys) {
      wanted.add(storeKey(namespace, token));
      tokens.add(token);
      namespaces.add(namespace);
    }
    const res = await this.#run('vault lookup', FIND_BY_TOKENS_SQL, [[...tokens], [...namespaces]]);
    for (const [token, namespace, fp, type, keyId, sealed] of res.rows as [string, string, Buffer | null, string, string, Buffer][]) {
      const key = storeKey(namespace, token);
      if (!wanted.has(key)) continue;
      out.set(key, { namespace, token, fingerprint: fp === null ? null : fp.toString('hex'), type, keyId, sealed });
    }
    return out;
  }

  async delete(keys: readonly DeleteItem[]): Promise<number> {
    this.#check();
    if (keys.length === 0) return 0;
    const unique = new Map<string, DeleteItem>();
    for (const k of keys) unique.set(storeKey(k.namespace, k.token), k);
    const items = [...unique.values()];
    const res = await this.#run('vault delete', DELETE_SQL, [items.map((k) => k.token), items.map((k) => k.namespace)]);
    return Number((res.rows[0] as [number | string] | undefined)?.[0] ?? 0);
  }

  /** Answers when the database does and holds the vault tables at this code's version or newer. */
  async ping(): Promise<void> {
    this.#check();
    const version = await schemaVersion({ query: (text) => this.#run('vault ping', text, [], false) }, this.#ctx);
    // A newer schema is fine here: during a rolling upgrade, migrations are additive.
    if (version < POSTGRES_SCHEMA_VERSION) requireCurrentSchema(version);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      await this.#pool.end();
    } catch (err) {
      throw pgFailure(err, 'closing the postgres vault', this.#ctx);
    }
  }

  /** One statement, retried while the database reports a serialization failure or deadlock. */
  async #run(what: string, text: string, values: unknown[], arrays = true): Promise<pg.QueryResult> {
    for (let attempt = 1; ; attempt++) {
      this.#check();
      try {
        if (arrays) return await this.#pool.query({ text, values, rowMode: 'array' } satisfies pg.QueryArrayConfig);
        return await this.#pool.query({ text, values } satisfies pg.QueryConfig);
      } catch (err) {
        if (isRetryable(err) && attempt < MAX_ATTEMPTS) {
          // Full jitter: two writers that collided should not collide again in lockstep.
          await new Promise((resolve) => setTimeout(resolve, Math.random() * 20 * attempt));
          continue;
        }
        throw pgFailure(err, what, this.#ctx);
      }
    }
  }

  #check(): void {
    if (this.#closed) throw new GatewayError('VAULT_UNAVAILABLE', 'vault store is closed');
  }
}

/** Keyed fingerprints are lowercase hex (LocalVault); stored as their 32 bytes. */
function fingerprintBytes(fp: string): Buffer {
  if (fp.length % 2 !== 0 || !/^[0-9a-f]*$/.test(fp)) throw new TypeError('fingerprint must be lowercase hex');
  return Buffer.from(fp, 'hex');
}
