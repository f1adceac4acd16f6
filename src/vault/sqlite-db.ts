/**
 * The SQLite vault database itself (better-sqlite3, synchronous). Runs inside the SQLite worker only
 * (vault/sqlite-worker.ts); the main thread talks to it through SqliteStore (vault/sqlite.ts).
 *
 * Why it looks like this:
 * - WAL + synchronous=NORMAL: readers never block the writer, and a commit is durable against a process
 *   crash (an OS crash may lose the last transactions, never corrupt the file).
 * - busy_timeout is 0: SQLite never sleeps on a lock inside a statement. A statement that meets another
 *   connection's lock fails at once with SQLITE_BUSY and the worker retries it later, asynchronously, up
 *   to the call's deadline; meanwhile it keeps answering reads, which WAL lets through a held write lock.
 *   A synchronous busy wait would hold every other call queued behind the one that waits.
 * - Batch lookups pass all keys as one JSON array parameter and join against `json_each`, so a 10,000-key
 *   lookup is one prepared statement (per namespace) and one index probe per key, with no dynamic SQL.
 * - Writes are IMMEDIATE transactions: the write lock is taken up front, so the read-after-conflict in
 *   insert sees a stable snapshot. `beforeCommit` lets the caller abandon (roll back) a write whose
 *   deadline passed while it ran, so a caller that already got 503 leaves nothing behind.
 * - The file's identity (dev + inode) is taken when it is opened; `checkIdentity` compares it with what the
 *   path names now, so a deleted or replaced file is noticed instead of served (the open descriptor would
 *   keep working on the unlinked inode, and everything written there is lost at the next start).
 * - The file holds ciphertext and keyed fingerprints only; it is created 0600 in a directory made 0700.
 */
import { chmodSync, closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import Database from 'better-sqlite3';
import { blobAt, packBlobs, packStrings, unpackStrings, type FoundRows, type InsertRows, type PackedStrings, type WireOutcome } from './sqlite-wire.js';

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

/** The database was written by a newer gateway. */
export class SchemaTooNewError extends Error {}
/** The path no longer names the file that was opened. */
export class FileReplacedError extends Error {}

export const FILE_REPLACED_MESSAGE = 'vault file was deleted or replaced since it was opened; restart the gateway';

/** A row as the raw (array) lookup by token returns it: position in the JSON array, fingerprint, type, key_id, sealed. */
type RowTuple = [number, string | null, string, string, Buffer];

const INSERTED = 0;
const TOKEN_TAKEN = 1;

export class SqliteDb {
  readonly #path: string;
  readonly #db: Database.Database;
  /** dev:ino of the opened file; undefined for ':memory:'. */
  readonly #identity: string | undefined;
  #stmts: ReturnType<typeof prepare> | undefined;

  /**
   * Opens (creating if needed) the file; throws SQLite's error as is. Call {@link init} next (it may meet
   * another connection's lock: retry it).
   */
  constructor(path: string) {
    this.#path = path;
    if (path !== ':memory:') prepareFile(path);
    this.#db = new Database(path, { timeout: 0 });
    if (path === ':memory:') this.#identity = undefined;
    else {
      const identity = identityOf(path);
      if (identity === undefined) {
        this.#db.close();
        throw new FileReplacedError(FILE_REPLACED_MESSAGE);
      }
      this.#identity = identity;
    }
  }

  /** Pragmas, migrations, statements. Idempotent: after SQLITE_BUSY, call it again. */
  init(cacheSizeKiB: number): void {
    this.#db.pragma('busy_timeout = 0');
    this.#db.pragma('journal_mode = WAL');
    this.#db.pragma('synchronous = NORMAL');
    // Negative: a size in KiB rather than in pages.
    this.#db.pragma(`cache_size = ${-Math.trunc(cacheSizeKiB)}`);
    migrate(this.#db);
    this.#stmts = prepare(this.#db);
  }

  /** Throws FileReplacedError when the path no longer names the opened file (deleted, or another file). */
  checkIdentity(): void {
    if (this.#identity === undefined) return;
    if (identityOf(this.#path) !== this.#identity) throw new FileReplacedError(FILE_REPLACED_MESSAGE);
  }

  /** `json`: a JSON array of fingerprints. Positions in it of those found, and their tokens. */
  findTokens(json: string): { index: Uint32Array; tokens: PackedStrings } {
    const rows = this.#s.findTokens.all(json) as [number, string][];
    const index = new Uint32Array(rows.length);
    const tokens = new Array<string>(rows.length);
    for (let i = 0; i < rows.length; i++) [index[i], tokens[i]] = rows[i]!;
    return { index, tokens: packStrings(tokens) };
  }

  /** `groups`: [namespace, JSON array of tokens, its length]; positions count through the groups in order. */
  findByTokens(groups: readonly [string, string, number][]): FoundRows {
    const index: number[] = [];
    const fields: string[] = [];
    const sealed: Buffer[] = [];
    let offset = 0;
    for (const [ns, json, count] of groups) {
      for (const [key, fp, type, keyId, s] of this.#s.findByTokens.all(json, ns) as RowTuple[]) {
        index.push(offset + key);
        fields.push(fp ?? '', type, keyId);
        sealed.push(s);
      }
      offset += count;
    }
    return { index: Uint32Array.from(index), fields: packStrings(fields), ...packBlobs(sealed) };
  }

  /** One IMMEDIATE transaction; `beforeCommit` may throw to roll it back. */
  insert(rows: InsertRows, beforeCommit: () => void): WireOutcome[] {
    const s = this.#s;
    const f = unpackStrings(rows.fields);
    const n = rows.ends.length;
    if (f.length !== n * 5) throw new Error('malformed insert rows');
    return this.#db.transaction((): WireOutcome[] => {
      const now = Date.now();
      const outcomes = new Array<WireOutcome>(n);
      for (let i = 0, k = 0; i < n; i++, k += 5) {
        const fp = f[k + 2] === '' ? null : f[k + 2]!;
        const info = s.insert.run(f[k], f[k + 1], fp, f[k + 3], f[k + 4], blobAt(rows, i), now);
        if (info.changes === 1) {
          outcomes[i] = INSERTED;
          continue;
        }
        // A uniqueness conflict: on the fingerprint (someone stored this value first) or on the token.
        const existing = fp === null ? undefined : (s.tokenByFingerprint.get(fp) as string | undefined);
        outcomes[i] = existing === undefined ? TOKEN_TAKEN : existing;
      }
      beforeCommit();
      return outcomes;
    }).immediate();
  }

  /** `keys`: namespace, token per key. One IMMEDIATE transaction; `beforeCommit` may throw to roll it back. */
  delete(keys: PackedStrings, beforeCommit: () => void): number {
    const s = this.#s;
    const f = unpackStrings(keys);
    return this.#db.transaction((): number => {
      let n = 0;
      for (let k = 0; k + 1 < f.length; k += 2) n += s.delete.run(f[k], f[k + 1]).changes;
      beforeCommit();
      return n;
    }).immediate();
  }

  /** Reads from the file (not just `SELECT 1`, which never touches it), so a lock that blocks readers shows. */
  ping(): void {
    this.#s.ping.get();
  }

  close(): void {
    if (this.#db.open) this.#db.close();
  }

  get #s(): ReturnType<typeof prepare> {
    if (this.#stmts === undefined) throw new Error('SqliteDb used before init');
    return this.#stmts;
  }
}

function identityOf(path: string): string | undefined {
  const st = statSync(path, { bigint: true, throwIfNoEntry: false });
  return st === undefined ? undefined : `${st.dev}:${st.ino}`;
}

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
        `SELECT j.key, t.token FROM json_each(?) AS j
         CROSS JOIN tokens AS t ON t.fingerprint = j.value`,
      )
      .raw(),
    findByTokens: db
      .prepare(
        `SELECT j.key, t.fingerprint, t.type, t.key_id, t.sealed FROM json_each(?) AS j
         CROSS JOIN tokens AS t ON t.namespace = ? AND t.token = j.value`,
      )
      .raw(),
    delete: db.prepare('DELETE FROM tokens WHERE namespace = ? AND token = ?'),
    ping: db.prepare('SELECT MAX(version) FROM schema_migrations').pluck(),
  };
}

/**
 * Applies pending migrations in one IMMEDIATE transaction; refuses a database written by a newer version.
 * An up-to-date database is only read, so a start does not need the write lock (another process may hold it).
 */
function migrate(db: Database.Database): void {
  const version = (): number => {
    const exists = db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'").pluck().get();
    return exists === undefined ? 0 : ((db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0);
  };
  const check = (current: number): void => {
    if (current > MIGRATIONS.length) {
      throw new SchemaTooNewError(
        `vault database schema version ${current} is newer than this gateway supports (${MIGRATIONS.length})`,
      );
    }
  };
  const before = version();
  check(before);
  if (before === MIGRATIONS.length) return;
  db.transaction(() => {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
               version    INTEGER PRIMARY KEY,
               applied_at INTEGER NOT NULL
             )`);
    const current = version();
    check(current);
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
