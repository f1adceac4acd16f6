/**
 * The PostgreSQL vault's schema: versioned migrations, the check a gateway makes before it serves, and the
 * connection settings both share.
 *
 * Two tables, so that each can be hash-partitioned on its own unique key (docs/fleet.md#postgresql):
 *   pii_gateway_tokens        (token, namespace) -> type, key id, sealed value, fingerprint (null: random)
 *   pii_gateway_fingerprints  fingerprint -> (namespace, token), deterministic tokens only
 * PostgreSQL requires a partitioned table's unique constraints to include the partition key; one table
 * with two unique keys could not be partitioned at all. The primary key leads with `token` (random) rather
 * than `namespace` (a handful of values) because distributed databases shard on the leading key column.
 *
 * Migrations, and why concurrent migrators are safe:
 * - Each version is a list of idempotent DDL statements (IF NOT EXISTS), run one by one outside any
 *   transaction, and only then recorded with `INSERT ... ON CONFLICT DO NOTHING` in pii_gateway_schema.
 *   The version row is written last, so a recorded version always means its tables exist; a migrator that
 *   dies half-way leaves the old version and the next run completes it.
 * - Two migrators at once run the same statements. IF NOT EXISTS makes the second a no-op; PostgreSQL can
 *   still fail one of two simultaneous CREATEs of the same table (23505 on its catalog, or 42P07), and that
 *   statement is simply retried, when it finds the table there.
 * - No advisory lock (CockroachDB has none) and no DDL inside a transaction after a write (CockroachDB
 *   refuses schema changes in a transaction that has written; its docs advise one schema change per
 *   statement, outside transactions). Every future migration must be written idempotently for this reason.
 * - A database whose version is newer than this code knows is refused, never "migrated" backwards.
 */
import pg from 'pg';
import { GatewayError } from '../errors.js';
import { MIGRATE_HINT, pgFailure, sqlState, type FailureContext } from './postgres-errors.js';

export const TOKENS_TABLE = 'pii_gateway_tokens';
export const FINGERPRINTS_TABLE = 'pii_gateway_fingerprints';
export const SCHEMA_TABLE = 'pii_gateway_schema';

/** Ordered migrations; index + 1 is the version. Never edit a shipped entry: append, and keep it idempotent. */
const MIGRATIONS: readonly (readonly string[])[] = [
  [
    `CREATE TABLE IF NOT EXISTS ${TOKENS_TABLE} (
       token       text        NOT NULL,
       namespace   text        NOT NULL,
       fingerprint bytea,
       type        text        NOT NULL,
       key_id      text        NOT NULL,
       sealed      bytea       NOT NULL,
       created_at  timestamptz NOT NULL DEFAULT now(),
       PRIMARY KEY (token, namespace)
     )`,
    `CREATE TABLE IF NOT EXISTS ${FINGERPRINTS_TABLE} (
       fingerprint bytea       NOT NULL PRIMARY KEY,
       namespace   text        NOT NULL,
       token       text        NOT NULL
     )`,
  ],
];

/** Newest schema version this code knows. */
export const POSTGRES_SCHEMA_VERSION = MIGRATIONS.length;

/** What a connection needs: PostgresVaultConfig's url and connect timeout. */
export interface PostgresConnectOptions {
  /** libpq-style URL; undefined: pg's defaults and the PG* variables. */
  readonly url: string | undefined;
  readonly connectTimeoutMs: number;
}

/**
 * A pg Client that closes its socket when connecting fails. pg leaves the socket open when it gives up on
 * its own side of the handshake (the server asks for a password and none is configured): the server then
 * holds a backend in authentication for up to a minute, and DROP DATABASE waits for it. Ending the client
 * on failure closes that backend at once.
 */
export class ClosingClient extends pg.Client {
  override connect(): Promise<pg.Client>;
  override connect(callback: (err: Error | null, client?: pg.Client) => void): void;
  override connect(callback?: (err: Error | null, client?: pg.Client) => void): Promise<pg.Client> | void {
    const close = (): void => void this.end().catch(() => {});
    if (callback === undefined) {
      return super.connect().catch((err: unknown) => {
        close();
        throw err;
      });
    }
    super.connect((err: Error | null) => {
      if (err) close();
      callback(err, this);
    });
  }
}

/** Connection settings shared by the store's pool and the migrator (statement timeouts are the caller's). */
export function connectionConfig(options: PostgresConnectOptions): pg.ClientConfig {
  return {
    ...(options.url === undefined ? {} : { connectionString: options.url }),
    connectionTimeoutMillis: options.connectTimeoutMs,
    keepAlive: true,
    application_name: 'pii-gateway',
  };
}

export interface MigrationResult {
  /** Schema version found before migrating (0: no vault tables yet). */
  readonly from: number;
  /** Schema version after migrating. */
  readonly to: number;
}

/** Anything that runs a query: a Client or a Pool. */
interface Queryable {
  query(text: string, values?: unknown[]): Promise<pg.QueryResult>;
}

/**
 * Creates or upgrades the vault schema; safe to run twice and from several processes at once.
 * Throws VAULT_UNAVAILABLE when the database cannot be reached or holds a newer schema.
 *
 * @example
 *   const { from, to } = await migratePostgres({ url: process.env.PII_GATEWAY_POSTGRES_URL, connectTimeoutMs: 5000 });
 */
export async function migratePostgres(options: PostgresConnectOptions): Promise<MigrationResult> {
  const ctx: FailureContext = { connectTimeoutMs: options.connectTimeoutMs };
  // No statement timeout: a future migration may build an index over billions of rows.
  const client = new ClosingClient(connectionConfig(options));
  // An error on an idle connection is emitted, not thrown; without a listener it would crash the process.
  client.on('error', () => {});
  try {
    await client.connect();
  } catch (err) {
    await client.end().catch(() => {});
    throw pgFailure(err, 'vault migration: connecting to PostgreSQL', ctx);
  }
  try {
    return await migrateWith(client, ctx);
  } finally {
    await client.end().catch(() => {});
  }
}

/** Runs the pending migrations over an open connection (also used by PostgresStore.open with migrate: true). */
export async function migrateWith(db: Queryable, ctx: FailureContext): Promise<MigrationResult> {
  await ddl(
    db,
    `CREATE TABLE IF NOT EXISTS ${SCHEMA_TABLE} (
       version    integer     NOT NULL PRIMARY KEY,
       applied_at timestamptz NOT NULL DEFAULT now()
     )`,
    ctx,
  );
  const from = await schemaVersion(db, ctx);
  refuseNewer(from);
  for (let v = from + 1; v <= MIGRATIONS.length; v++) {
    for (const statement of MIGRATIONS[v - 1]!) await ddl(db, statement, ctx);
    try {
      await db.query(`INSERT INTO ${SCHEMA_TABLE} (version) VALUES ($1) ON CONFLICT DO NOTHING`, [v]);
    } catch (err) {
      throw pgFailure(err, `vault migration to schema version ${v}`, ctx);
    }
  }
  return { from, to: await schemaVersion(db, ctx) };
}

/**
 * The schema version the database holds: 0 when there are no vault tables. Throws VAULT_UNAVAILABLE for
 * anything but a missing table.
 */
export async function schemaVersion(db: Queryable, ctx: FailureContext): Promise<number> {
  try {
    const res = await db.query(`SELECT max(version) AS v FROM ${SCHEMA_TABLE}`);
    const v = (res.rows[0] as { v: number | string | null } | undefined)?.v;
    return v === null || v === undefined ? 0 : Number(v);
  } catch (err) {
    if (sqlState(err) === '42P01') return 0;
    throw pgFailure(err, 'reading the vault schema version', ctx);
  }
}

/**
 * Refuses to serve from a schema that is missing, older or newer than this code (migrate: false).
 *
 * @example
 *   requireCurrentSchema(await schemaVersion(pool, ctx));
 */
export function requireCurrentSchema(version: number): void {
  refuseNewer(version);
  if (version === 0) {
    throw new GatewayError('VAULT_UNAVAILABLE', `the postgres vault schema is missing (this gateway needs version ${POSTGRES_SCHEMA_VERSION}): ${MIGRATE_HINT}`);
  }
  if (version < POSTGRES_SCHEMA_VERSION) {
    throw new GatewayError(
      'VAULT_UNAVAILABLE',
      `schema out of date: the postgres vault schema is version ${version}, this gateway needs ${POSTGRES_SCHEMA_VERSION}: ${MIGRATE_HINT}`,
    );
  }
}

function refuseNewer(version: number): void {
  if (version > POSTGRES_SCHEMA_VERSION) {
    throw new GatewayError(
      'VAULT_UNAVAILABLE',
      `the postgres vault schema is version ${version}, newer than this gateway supports (${POSTGRES_SCHEMA_VERSION}): upgrade the gateway`,
    );
  }
}

/** One idempotent DDL statement, retried when a concurrent migrator created the same object first. */
async function ddl(db: Queryable, statement: string, ctx: FailureContext): Promise<void> {
  for (let attempt = 1; ; attempt++) {
    try {
      await db.query(statement);
      return;
    } catch (err) {
      const state = sqlState(err);
      const raced = state === '23505' || state === '42P07' || state === '42710';
      if (raced && attempt < 3) continue;
      throw pgFailure(err, 'vault migration', ctx);
    }
  }
}
