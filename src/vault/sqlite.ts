/**
 * VaultStore on a local SQLite file (better-sqlite3): the default for a single gateway instance.
 *
 * Why it looks like this:
 * - better-sqlite3 is synchronous; a batch is one short transaction, so the event loop is held for
 *   about a millisecond per few thousand rows, which is cheaper than a worker hop at these sizes.
 * - WAL + synchronous=NORMAL: readers never block the writer, and a commit is durable against a process
 *   crash (an OS crash may lose the last transactions, never corrupt the file).
 * - Batch lookups pass all keys as one JSON array parameter and join against `json_each`, so a 10,000-key
 *   lookup is one prepared statement (per namespace) and one index probe per key, with no dynamic SQL.
 * - The file holds ciphertext and keyed fingerprints only; it is created 0600 in a directory made 0700.
 * - Any SQLite failure becomes GatewayError VAULT_UNAVAILABLE; the original error is kept as `cause`,
 *   and no message ever carries a value (the store never sees plaintext anyway).
 */
import { chmodSync, closeSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { GatewayError, isGatewayError } from '../errors.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type InsertOutcome,
  type StoredRow,
  type VaultStore,
} from './interface.js';

export interface SqliteStoreOptions {
  /** How long a writer waits for another connection's lock before failing. Default 5000 ms. */
  busyTimeoutMs?: number;
  /**
   * SQLite page cache per connection, in KiB. Default 32768 (32 MiB): big enough to keep the token and
   * fingerprint indexes of a few hundred thousand rows in memory, so lookups and inserts at random keys
   * do not go back to the file.
   */
  cacheSizeKiB?: number;
}

/** Ordered schema migrations; index + 1 is the version. Never edit a shipped entry: append. */
const MIGRATIONS: readonly string[] = [
  `CREATE TABLE tokens (
     namespace   TEXT    NOT NULL,
     token       TEXT    NOT NULL,
     fingerprint TEXT    UNIQUE,
     type        TEXT    NOT NULL,
     key_id      TEXT    NOT NULL,
     sealed      BLOB    NOT NULL,
     created_at  INTEGER NOT NULL,
     PRIMARY KEY (namespace, token)
   ) WITHOUT ROWID`,
];

/** Newest schema version this code knows. */
export const SQLITE_SCHEMA_VERSION = MIGRATIONS.length;

/** A tokens row as the raw (array) lookup returns it: token, fingerprint, type, key_id, sealed. */
type RowTuple = [string, string | null, string, string, Buffer];

/**
 * SQLite-backed {@link VaultStore}.
 *
 * @example
 *   const store = new SqliteStore('/var/lib/pii-gateway/vault.db');
 *   const vault = new LocalVault(store, keyring);
 */
export class SqliteStore implements VaultStore {
  readonly #db: Database.Database;
  readonly #stmts: ReturnType<typeof prepare>;
  readonly #insertBatch: (rows: readonly StoredRow[]) => InsertOutcome[];
  readonly #deleteBatch: (keys: readonly DeleteItem[]) => number;
  #closed = false;

  /**
   * Opens (creating if needed) the database at `path`; `timeoutMs` bounds how long a call waits on a lock
   * held by another connection.
   */
  static async open(path: string, options: { timeoutMs?: number } = {}): Promise<SqliteStore> {
    return new SqliteStore(path, options.timeoutMs === undefined ? {} : { busyTimeoutMs: options.timeoutMs });
  }

  /** Opens (creating if needed) the database at `path`; `':memory:'` gives a private in-memory database. */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const busyTimeoutMs = options.busyTimeoutMs ?? 5000;
    const cacheSizeKiB = options.cacheSizeKiB ?? 32768;
    try {
      if (path !== ':memory:') prepareFile(path);
      this.#db = new Database(path, { timeout: busyTimeoutMs });
    } catch (err) {
      throw wrap(err, 'cannot open vault database');
    }
    try {
      this.#db.pragma('journal_mode = WAL');
      this.#db.pragma('synchronous = NORMAL');
      this.#db.pragma(`busy_timeout = ${Math.trunc(busyTimeoutMs)}`);
      // Negative: a size in KiB rather than in pages.
      this.#db.pragma(`cache_size = ${-Math.trunc(cacheSizeKiB)}`);
      migrate(this.#db);
      this.#stmts = prepare(this.#db);
    } catch (err) {
      this.#db.close();
      throw wrap(err, 'cannot initialise vault database');
    }

    const s = this.#stmts;
    // IMMEDIATE: take the write lock up front, so the read-after-conflict below sees a stable snapshot and
    // a concurrent writer makes us wait (busy_timeout) rather than fail with SQLITE_BUSY_SNAPSHOT.
    this.#insertBatch = this.#db.transaction((rows: readonly StoredRow[]): InsertOutcome[] => {
      const now = Date.now();
      const outcomes: InsertOutcome[] = new Array(rows.length);
      for (let i = 0; i < rows.length; i++) {
        const r = rows[i]!;
        const info = s.insert.run(r.namespace, r.token, r.fingerprint, r.type, r.keyId, r.sealed, now);
        if (info.changes === 1) {
          outcomes[i] = INSERTED;
          continue;
        }
        // A uniqueness conflict: on the fingerprint (someone stored this value first) or on the token.
        const existing = r.fingerprint === null ? undefined : (s.tokenByFingerprint.get(r.fingerprint) as string | undefined);
        outcomes[i] = existing === undefined ? TOKEN_TAKEN : { status: 'exists', token: existing };
      }
      return outcomes;
    }).immediate;
    this.#deleteBatch = this.#db.transaction((keys: readonly DeleteItem[]): number => {
      let n = 0;
      for (const k of keys) n += s.delete.run(k.namespace, k.token).changes;
      return n;
    }).immediate;
  }

  async findTokens(fingerprints: readonly string[]): Promise<Map<string, string>> {
    this.#check();
    const out = new Map<string, string>();
    if (fingerprints.length === 0) return out;
    try {
      const rows = this.#stmts.findTokens.all(JSON.stringify(fingerprints)) as [string, string][];
      for (const [fp, token] of rows) out.set(fp, token);
    } catch (err) {
      throw wrap(err, 'vault lookup failed');
    }
    return out;
  }

  async insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]> {
    this.#check();
    if (rows.length === 0) return [];
    try {
      return this.#insertBatch(rows);
    } catch (err) {
      throw wrap(err, 'vault insert failed');
    }
  }

  async findByTokens(keys: readonly DetokenizeItem[]): Promise<Map<string, StoredRow>> {
    this.#check();
    const out = new Map<string, StoredRow>();
    if (keys.length === 0) return out;
    // One statement per distinct namespace (a batch nearly always has one): comparing the namespace to a
    // parameter instead of extracting it from JSON per key makes the lookup about a fifth cheaper.
    const tokensByNamespace = new Map<string, string[]>();
    for (const { namespace, token } of keys) {
      const list = tokensByNamespace.get(namespace);
      if (list === undefined) tokensByNamespace.set(namespace, [token]);
      else list.push(token);
    }
    try {
      for (const [namespace, tokens] of tokensByNamespace) {
        const rows = this.#stmts.findByTokens.all(JSON.stringify(tokens), namespace) as RowTuple[];
        for (const [token, fingerprint, type, keyId, sealed] of rows) {
          out.set(storeKey(namespace, token), { namespace, token, fingerprint, type, keyId, sealed });
        }
      }
    } catch (err) {
      throw wrap(err, 'vault lookup failed');
    }
    return out;
  }

  async delete(keys: readonly DeleteItem[]): Promise<number> {
    this.#check();
    if (keys.length === 0) return 0;
    try {
      return this.#deleteBatch(keys);
    } catch (err) {
      throw wrap(err, 'vault delete failed');
    }
  }

  async ping(): Promise<void> {
    this.#check();
    try {
      this.#stmts.ping.get();
    } catch (err) {
      throw wrap(err, 'vault ping failed');
    }
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    try {
      this.#db.close();
    } catch (err) {
      throw wrap(err, 'vault close failed');
    }
  }

  #check(): void {
    if (this.#closed) throw new GatewayError('VAULT_UNAVAILABLE', 'vault store is closed');
  }
}

const INSERTED: InsertOutcome = Object.freeze({ status: 'inserted' });
const TOKEN_TAKEN: InsertOutcome = Object.freeze({ status: 'token-taken' });

function prepare(db: Database.Database) {
  return {
    // ON CONFLICT DO NOTHING covers both unique constraints (PK and fingerprint) and nothing else, so a
    // NOT NULL violation (a bug) still throws instead of being mistaken for a collision.
    insert: db.prepare(
      `INSERT INTO tokens (namespace, token, fingerprint, type, key_id, sealed, created_at)
       VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT DO NOTHING`,
    ),
    tokenByFingerprint: db.prepare('SELECT token FROM tokens WHERE fingerprint = ?').pluck(),
    findTokens: db
      .prepare(
        `SELECT t.fingerprint, t.token FROM json_each(?) AS j
         CROSS JOIN tokens AS t ON t.fingerprint = j.value`,
      )
      .raw(),
    findByTokens: db
      .prepare(
        `SELECT t.token, t.fingerprint, t.type, t.key_id, t.sealed FROM json_each(?) AS j
         CROSS JOIN tokens AS t ON t.namespace = ? AND t.token = j.value`,
      )
      .raw(),
    delete: db.prepare('DELETE FROM tokens WHERE namespace = ? AND token = ?'),
    ping: db.prepare('SELECT 1'),
  };
}

/** Applies pending migrations in one transaction; refuses a database written by a newer version. */
function migrate(db: Database.Database): void {
  db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
             version    INTEGER PRIMARY KEY,
             applied_at INTEGER NOT NULL
           )`);
  db.transaction(() => {
    const current = (db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
    if (current > MIGRATIONS.length) {
      throw new GatewayError(
        'VAULT_UNAVAILABLE',
        `vault database schema version ${current} is newer than this gateway supports (${MIGRATIONS.length})`,
      );
    }
    const record = db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)');
    for (let v = current + 1; v <= MIGRATIONS.length; v++) {
      db.exec(MIGRATIONS[v - 1]!);
      record.run(v, Date.now());
    }
  }).immediate();
}

/** Creates the parent directory (0700) and the file (0600) before SQLite opens it. */
function prepareFile(path: string): void {
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  // SQLite creates -wal and -shm with the main file's permissions, so fixing this one is enough.
  closeSync(openSync(path, 'a', 0o600));
  chmodSync(path, 0o600);
}

function wrap(err: unknown, message: string): GatewayError {
  if (isGatewayError(err)) return err;
  // SQLite codes (SQLITE_BUSY, SQLITE_CORRUPT, ...) name a condition, never a value.
  const code = (err as { code?: unknown } | null)?.code;
  const suffix = typeof code === 'string' && /^SQLITE_[A-Z_]+$/.test(code) ? ` (${code})` : '';
  return new GatewayError('VAULT_UNAVAILABLE', message + suffix, { cause: err });
}
