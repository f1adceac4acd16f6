/**
 * The SQLite worker thread: owns the one better-sqlite3 connection of a SqliteStore (vault/sqlite.ts) and
 * answers its requests (vault/sqlite-wire.ts), so no SQLite call ever runs on the gateway's event loop.
 *
 * Why it looks like this:
 * - A statement that meets another connection's lock fails at once (busy_timeout 0, vault/sqlite-db.ts) and
 *   is retried on a timer with SQLite's own back-off schedule until the request's deadline. Between tries
 *   the worker answers other requests: reads go through a write lock in WAL mode, so a second process
 *   holding the write lock stalls only the writes, and only until their deadline.
 * - A request whose deadline has passed is never started (its caller already got 503), and a write checks
 *   the deadline again just before COMMIT and rolls back if it is (nearly) gone. So the only way a caller
 *   sees a timeout for a write that committed is a reply lost in the last few milliseconds: harmless,
 *   because deterministic tokens come out the same next time and nothing was forwarded on the 503.
 * - Every request first checks that the path still names the opened file (one stat, a few microseconds,
 *   off the main thread), and every write checks again after COMMIT, so nothing is answered from, or
 *   committed only to, a file that was deleted or replaced.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { FileReplacedError, SchemaTooNewError, SqliteDb } from './sqlite-db.js';
import { sharedNow, type Hello, type Reply, type Request, type WireError, type WorkerParams } from './sqlite-wire.js';

/** Sleeps between lock retries, ms: SQLite's own busy-handler schedule, then 50 ms steps. */
const BACKOFF_MS = [1, 2, 5, 10, 15, 20, 25, 25, 25, 50];
/** A write commits only if at least this much of its deadline is left for the answer to reach the caller. */
const COMMIT_MARGIN_MS = 5;

const TIMEOUT: WireError = { kind: 'timeout', message: 'deadline passed' };
const CLOSED: WireError = { kind: 'closed', message: 'vault store is closed' };

class DeadlinePassed extends Error {}

const port = parentPort;
if (port === null) throw new Error('sqlite-worker.ts runs as a worker thread only');
const params = workerData as WorkerParams;

let db: SqliteDb | undefined;
let closing = false;
/** Retry timers of requests waiting for a lock, by request id (cancelled by close). */
const waiting = new Map<number, NodeJS.Timeout>();

// No top-level await: under tsx (tests, development) this file is loaded through tsx's CommonJS hook.
void openDatabase().then((hello) => {
  port.postMessage(hello);
  if (hello.ok) port.on('message', onRequest);
  else port.close();
});

async function openDatabase(): Promise<Hello> {
  const deadline = sharedNow() + params.timeoutMs;
  let opened: SqliteDb;
  try {
    opened = new SqliteDb(params.path);
  } catch (err) {
    return { hello: true, ok: false, stage: 'open', error: toWire(err) };
  }
  for (let n = 0; ; n++) {
    try {
      opened.init(params.cacheSizeKiB);
      db = opened;
      return { hello: true, ok: true };
    } catch (err) {
      const delay = isBusy(err) ? retryDelay(n, deadline) : undefined;
      if (delay === undefined) {
        opened.close();
        return { hello: true, ok: false, stage: 'init', error: isBusy(err) ? TIMEOUT : toWire(err) };
      }
      await new Promise((resolve) => setTimeout(resolve, delay));
    }
  }
}

function onRequest(req: Request): void {
  if (req.op === 'crash') {
    setImmediate(() => {
      throw new Error('SQLite worker crashed (test hook)');
    });
    return;
  }
  if (req.op === 'close') {
    closing = true;
    for (const [id, timer] of waiting) {
      clearTimeout(timer);
      reply({ id, ok: false, error: CLOSED });
    }
    waiting.clear();
    try {
      db?.close();
      reply({ id: req.id, ok: true, result: null });
    } catch (err) {
      reply({ id: req.id, ok: false, error: toWire(err) });
    }
    port!.close();
    return;
  }
  attempt(req, 0);
}

function attempt(req: Request, n: number): void {
  waiting.delete(req.id);
  if (closing || db === undefined) return reply({ id: req.id, ok: false, error: CLOSED });
  // The caller has given up: never start late work (a late write would land after the caller's 503).
  if (sharedNow() >= req.deadline) return reply({ id: req.id, ok: false, error: TIMEOUT });
  try {
    db.checkIdentity();
    run(db, req);
  } catch (err) {
    const delay = isBusy(err) ? retryDelay(n, req.deadline) : undefined;
    if (delay !== undefined) waiting.set(req.id, setTimeout(attempt, delay, req, n + 1));
    else reply({ id: req.id, ok: false, error: isBusy(err) || err instanceof DeadlinePassed ? TIMEOUT : toWire(err) });
  }
}

function run(store: SqliteDb, req: Request): void {
  const beforeCommit = (): void => {
    if (sharedNow() > req.deadline - COMMIT_MARGIN_MS) throw new DeadlinePassed();
  };
  switch (req.op) {
    case 'findTokens': {
      const found = store.findTokens(req.json);
      return reply({ id: req.id, ok: true, result: found }, [found.index.buffer as ArrayBuffer]);
    }
    case 'findByTokens': {
      const rows = store.findByTokens(req.groups);
      return reply({ id: req.id, ok: true, result: rows }, [rows.blob, rows.ends.buffer as ArrayBuffer, rows.index.buffer as ArrayBuffer]);
    }
    case 'insert': {
      const outcomes = store.insert(req.rows, beforeCommit);
      // Committed: but if the file was unlinked meanwhile, the rows went to a file that is gone.
      store.checkIdentity();
      return reply({ id: req.id, ok: true, result: outcomes });
    }
    case 'delete': {
      const n = store.delete(req.keys, beforeCommit);
      store.checkIdentity();
      return reply({ id: req.id, ok: true, result: n });
    }
    case 'ping':
      store.ping();
      return reply({ id: req.id, ok: true, result: null });
    default:
      throw new Error('unknown SQLite worker request');
  }
}

function reply(message: Reply, transfer: ArrayBuffer[] = []): void {
  port!.postMessage(message, transfer);
}

/** Milliseconds to wait before try n + 1, or undefined when the deadline leaves no room for it. */
function retryDelay(n: number, deadline: number): number | undefined {
  const left = deadline - sharedNow();
  if (left <= 1) return undefined;
  return Math.min(BACKOFF_MS[Math.min(n, BACKOFF_MS.length - 1)]!, left - 1);
}

function sqliteCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && /^SQLITE_[A-Z_]+$/.test(code) ? code : undefined;
}

function isBusy(err: unknown): boolean {
  const code = sqliteCode(err);
  return code === 'SQLITE_BUSY' || (code?.startsWith('SQLITE_BUSY_') ?? false);
}

function toWire(err: unknown): WireError {
  if (err instanceof FileReplacedError) return { kind: 'replaced', message: err.message };
  if (err instanceof SchemaTooNewError) return { kind: 'schema', message: err.message };
  const code = sqliteCode(err);
  // SQLite codes and messages name conditions, tables and columns, never a value.
  if (code !== undefined) return { kind: 'sqlite', message: code, sqliteCode: code, detail: (err as Error).message };
  // A file-system error while creating the file or its directory (ENOTDIR, EACCES, ...).
  const errno = (err as { code?: unknown } | null)?.code;
  if (typeof errno === 'string' && /^E[A-Z]+$/.test(errno)) return { kind: 'system', message: errno, detail: errno };
  // Anything else is a bug; its message is not ours to vouch for, so only its class crosses.
  return { kind: 'internal', message: 'SQLite worker failed', detail: (err as Error | null)?.name ?? typeof err };
}
