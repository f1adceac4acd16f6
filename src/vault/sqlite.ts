/**
 * VaultStore on a local SQLite file: the default for a single gateway instance. The connection lives in a
 * worker thread (vault/sqlite-worker.ts over vault/sqlite-db.ts); this class is its main-thread face.
 *
 * Why it looks like this:
 * - better-sqlite3 is synchronous. On the event loop, a lock held by another process (a second gateway,
 *   a CLI or a script on the same file) froze the whole gateway, /healthz included, for the busy timeout
 *   on every write. In a worker, the event loop only ever waits for a message; every call has a deadline
 *   (`timeoutMs`, PII_GATEWAY_VAULT_TIMEOUT) after which it fails with VAULT_UNAVAILABLE, the worker gives
 *   up at the same deadline, and a late answer is dropped.
 * - What the hop costs (bench/micro/vault.bench.ts, 20,000 rows, p50 of two runs interleaved old/new on
 *   the shared 2-core development machine): tokenize 1,000 new values 65 / 56 ms in-thread -> 59 / 50 ms
 *   (LocalVault's crypto dominates both); detokenize 500 without the cache 2.5 / 2.4 -> 2.6 / 2.5 ms;
 *   detokenize 500 on a freshly opened vault 4.0 / 3.9 -> 5.5 / 5.0 ms (the worker's code is not yet
 *   JIT-compiled on its first calls); an empty round trip (ping) 0.03 ms. The longest main-thread stretch
 *   while tokenize 1,000 + detokenize 500 run back to back fell from 152 / 86 ms to 25 / 26 ms; what is left
 *   is LocalVault's HMAC and AES, which stay on the main thread. The old argument (a batch holds the loop
 *   only about a millisecond, cheaper than a hop) held only while no other connection held a lock.
 * - What crosses threads is kept flat (vault/sqlite-wire.ts): sealed blobs packed into one transferred
 *   ArrayBuffer (1,000 rows: 0.49 ms to pack and post, 0.90 ms round trip, against 0.54 / 1.24 ms for
 *   structured clones of the StoredRow objects), row fields NUL-joined in one string (500 rows: about
 *   0.1 ms to send and receive, against 0.4 ms as string arrays), positions instead of echoed keys.
 * - `ping()` (readiness) and every call first compare the identity (dev + inode) of the opened file with
 *   what the path names now, in the worker: one stat, about 3 us against a 30 us round trip, so cheap
 *   enough for every call and no once-a-second window in which a lost file is still served. A deleted or
 *   replaced file makes everything fail with VAULT_UNAVAILABLE ("vault file was deleted or replaced since
 *   it was opened; restart the gateway") instead of answering from, or writing into, an unlinked inode
 *   whose contents vanish at the next start.
 * - A crashed or stuck worker fails every pending and later call (and ping, so readiness goes red); it is
 *   not restarted behind the operator's back.
 * - Any SQLite failure becomes GatewayError VAULT_UNAVAILABLE with the SQLite code in the message and the
 *   SQLite message as `cause`; no message ever carries a value (the store never sees plaintext anyway).
 */
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { GatewayError } from '../errors.js';
import {
  storeKey,
  type DeleteItem,
  type DetokenizeItem,
  type InsertOutcome,
  type StoredRow,
  type VaultStore,
} from './interface.js';
import {
  blobAt,
  packBlobs,
  packStrings,
  sharedNow,
  unpackStrings,
  type Hello,
  type Op,
  type PackedStrings,
  type Reply,
  type Request,
  type Results,
  type WireError,
  type WorkerParams,
} from './sqlite-wire.js';

export { SQLITE_SCHEMA_VERSION } from './sqlite-db.js';

export interface SqliteStoreOptions {
  /**
   * Deadline of every call, and the longest the opening may wait on a lock held by another connection.
   * Default 5000 ms (PII_GATEWAY_VAULT_TIMEOUT).
   */
  timeoutMs?: number;
  /**
   * SQLite page cache, in KiB. Default 32768 (32 MiB): big enough to keep the token and fingerprint
   * indexes of a few hundred thousand rows in memory, so lookups and inserts at random keys do not go back
   * to the file.
   */
  cacheSizeKiB?: number;
}

/** Time the worker thread itself may take to start (loading better-sqlite3, or tsx in development). */
const WORKER_START_ALLOWANCE_MS = 10_000;

interface Pending {
  readonly op: Op;
  readonly resolve: (result: unknown) => void;
  readonly reject: (err: GatewayError) => void;
  readonly timer: NodeJS.Timeout;
}

/** Stores whose worker is running, for the test hook below. */
const live = new Set<SqliteStore>();
let crashWorkers: (only?: SqliteStore) => number;

/**
 * SQLite-backed {@link VaultStore}, the connection in a worker thread.
 *
 * @example
 *   const store = await SqliteStore.open('/var/lib/pii-gateway/vault.db', { timeoutMs: 5000 });
 *   const vault = new LocalVault(store, keyring);
 */
export class SqliteStore implements VaultStore {
  readonly #path: string;
  readonly #timeoutMs: number;
  readonly #worker: Worker;
  readonly #ready: Promise<void>;
  readonly #pending = new Map<number, Pending>();
  #resolveReady!: () => void;
  #rejectReady!: (err: GatewayError) => void;
  #isReady = false;
  /** Set once the worker is gone for good (open failed, crashed, stopped): every call fails with it. */
  #failure: GatewayError | undefined;
  #closed = false;
  #closing: Promise<void> | undefined;
  #nextId = 0;

  static {
    crashWorkers = (only) => {
      const targets = only === undefined ? [...live] : [only].filter((s) => live.has(s));
      for (const store of targets) store.#worker.postMessage({ id: 0, deadline: 0, op: 'crash' } satisfies Request);
      return targets.length;
    };
  }

  /**
   * Opens (creating if needed) the database at `path`: resolves once the worker has opened and migrated it,
   * rejects with GatewayError VAULT_UNAVAILABLE (and the worker stopped) when it cannot.
   */
  static async open(path: string, options: SqliteStoreOptions = {}): Promise<SqliteStore> {
    const store = new SqliteStore(path, options);
    try {
      await store.#ready;
    } catch (err) {
      await store.close().catch(() => undefined);
      throw err;
    }
    return store;
  }

  /**
   * Starts the worker that opens `path` (`':memory:'`: a private in-memory database) and returns at once;
   * calls wait for the opening, and an opening that fails makes every call fail with its error. Prefer
   * {@link SqliteStore.open}, which reports that error itself.
   */
  constructor(path: string, options: SqliteStoreOptions = {}) {
    const timeoutMs = options.timeoutMs ?? 5000;
    if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) throw new TypeError('SqliteStore timeoutMs must be a positive number');
    this.#path = path;
    this.#timeoutMs = timeoutMs;
    this.#ready = new Promise<void>((resolve, reject) => {
      this.#resolveReady = resolve;
      this.#rejectReady = reject;
    });
    // Nobody may be waiting yet; the failure is kept in #failure and reported by every call.
    this.#ready.catch(() => undefined);
    const entry = workerEntry();
    const workerData: WorkerParams = { path, cacheSizeKiB: options.cacheSizeKiB ?? 32768, timeoutMs };
    this.#worker = new Worker(entry.script, { workerData, eval: entry.eval, name: 'pii-gateway-sqlite' });
    this.#worker.on('message', (message: Hello | Reply) => this.#onMessage(message));
    this.#worker.on('error', (err) => {
      const message = this.#isReady ? 'vault store worker crashed' : 'vault store worker failed to start';
      this.#fail(new GatewayError('VAULT_UNAVAILABLE', message, { cause: err }));
    });
    this.#worker.on('exit', (code) => {
      live.delete(this);
      this.#fail(
        this.#closed
          ? closedError()
          : new GatewayError('VAULT_UNAVAILABLE', `vault store worker stopped unexpectedly (exit code ${code})`),
      );
    });
    // A store that is never closed must not keep the process alive: pending calls hold it by their timers,
    // the opening by its start timer. (After the listeners: attaching a 'message' listener refs the port.)
    this.#worker.unref();
    const startTimer = setTimeout(() => {
      this.#fail(new GatewayError('VAULT_UNAVAILABLE', `vault store worker did not start within ${seconds(timeoutMs + WORKER_START_ALLOWANCE_MS)}`));
      void this.#worker.terminate();
    }, timeoutMs + WORKER_START_ALLOWANCE_MS);
    this.#ready.then(() => clearTimeout(startTimer), () => clearTimeout(startTimer));
    live.add(this);
  }

  async findTokens(fingerprints: readonly string[]): Promise<Map<string, string>> {
    this.#check();
    const out = new Map<string, string>();
    if (fingerprints.length === 0) return out;
    const r = await this.#call('findTokens', { json: JSON.stringify(fingerprints) });
    const tokens = unpack(r.tokens);
    if (tokens.length !== r.index.length) throw malformed();
    for (let i = 0; i < tokens.length; i++) {
      const fp = fingerprints[r.index[i]!];
      if (fp === undefined) throw malformed();
      out.set(fp, tokens[i]!);
    }
    return out;
  }

  async insert(rows: readonly StoredRow[]): Promise<InsertOutcome[]> {
    this.#check();
    if (rows.length === 0) return [];
    const fields = new Array<string>(rows.length * 5);
    for (let i = 0, k = 0; i < rows.length; i++, k += 5) {
      const r = rows[i]!;
      fields[k] = r.namespace;
      fields[k + 1] = r.token;
      // '' stands for null: a real fingerprint is never empty (hex of an HMAC).
      fields[k + 2] = r.fingerprint ?? '';
      fields[k + 3] = r.type;
      fields[k + 4] = r.keyId;
    }
    const packed = { fields: packStrings(fields), ...packBlobs(rows.map((r) => r.sealed)) };
    const wire = await this.#call('insert', { rows: packed }, [packed.blob, packed.ends.buffer as ArrayBuffer]);
    if (wire.length !== rows.length) throw malformed();
    return wire.map((o) => (o === 0 ? INSERTED : o === 1 ? TOKEN_TAKEN : { status: 'exists', token: o }));
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
    // The worker answers with positions in the groups flattened: namespace and token come from here.
    const groups: [string, string, number][] = [];
    const asked: [string, string][] = [];
    for (const [namespace, tokens] of tokensByNamespace) {
      groups.push([namespace, JSON.stringify(tokens), tokens.length]);
      for (const token of tokens) asked.push([namespace, token]);
    }
    const r = await this.#call('findByTokens', { groups });
    const f = unpack(r.fields);
    if (f.length !== r.index.length * 3 || r.ends.length !== r.index.length) throw malformed();
    for (let i = 0, k = 0; i < r.index.length; i++, k += 3) {
      const key = asked[r.index[i]!];
      if (key === undefined) throw malformed();
      const [namespace, token] = key;
      out.set(storeKey(namespace, token), {
        namespace,
        token,
        fingerprint: f[k] === '' ? null : f[k]!,
        type: f[k + 1]!,
        keyId: f[k + 2]!,
        sealed: blobAt(r, i),
      });
    }
    return out;
  }

  async delete(keys: readonly DeleteItem[]): Promise<number> {
    this.#check();
    if (keys.length === 0) return 0;
    const fields = new Array<string>(keys.length * 2);
    for (let i = 0; i < keys.length; i++) {
      fields[2 * i] = keys[i]!.namespace;
      fields[2 * i + 1] = keys[i]!.token;
    }
    return this.#call('delete', { keys: packStrings(fields) });
  }

  /** Resolves when the worker answers a read from the file, and the path still names the file it opened. */
  async ping(): Promise<void> {
    this.#check();
    await this.#call('ping', {});
  }

  /** Closes the database (checkpointing the WAL) and stops the worker. Idempotent. */
  close(): Promise<void> {
    if (this.#closing === undefined) {
      this.#closed = true;
      this.#closing = this.#shutdown();
    }
    return this.#closing;
  }

  async #shutdown(): Promise<void> {
    try {
      await this.#ready;
    } catch {
      // Never opened: nothing to close but the thread.
    }
    let error: GatewayError | undefined;
    if (this.#failure === undefined) {
      try {
        await this.#send('close', {});
      } catch (err) {
        error = err as GatewayError;
      }
    }
    live.delete(this);
    await this.#worker.terminate();
    if (error !== undefined) throw error;
  }

  #check(): void {
    if (this.#closed) throw closedError();
    if (this.#failure !== undefined) throw this.#failure;
  }

  async #call<K extends Op>(op: K, body: object, transfer: ArrayBuffer[] = []): Promise<Results[K]> {
    if (!this.#isReady) await this.#ready;
    this.#check();
    return this.#send(op, body, transfer);
  }

  #send<K extends Op>(op: K, body: object, transfer: ArrayBuffer[] = []): Promise<Results[K]> {
    return new Promise<Results[K]>((resolve, reject) => {
      const id = ++this.#nextId;
      const timer = setTimeout(() => {
        // The worker gives up at the same deadline; its late answer finds no entry and is dropped.
        this.#pending.delete(id);
        reject(timeoutError(this.#timeoutMs));
      }, this.#timeoutMs);
      this.#pending.set(id, { op, resolve: resolve as (r: unknown) => void, reject, timer });
      try {
        this.#worker.postMessage({ ...body, id, op, deadline: sharedNow() + this.#timeoutMs }, transfer);
      } catch (err) {
        clearTimeout(timer);
        this.#pending.delete(id);
        reject(new GatewayError('VAULT_UNAVAILABLE', 'vault request could not be sent to the store worker', { cause: err }));
      }
    });
  }

  #onMessage(message: Hello | Reply): void {
    if ('hello' in message) {
      if (message.ok) {
        this.#isReady = true;
        this.#resolveReady();
      } else {
        const verb = message.stage === 'open' ? 'cannot open' : 'cannot initialise';
        this.#fail(fromWire(message.error, `${verb} vault database at ${this.#path}`, this.#timeoutMs));
        void this.#worker.terminate();
      }
      return;
    }
    const pending = this.#pending.get(message.id);
    if (pending === undefined) return; // timed out already
    this.#pending.delete(message.id);
    clearTimeout(pending.timer);
    if (message.ok) pending.resolve(message.result);
    else pending.reject(fromWire(message.error, OP_FAILED[pending.op], this.#timeoutMs));
  }

  /** The worker is gone (or never came): fail what waits and everything that follows. */
  #fail(err: GatewayError): void {
    if (this.#failure === undefined) this.#failure = err;
    this.#rejectReady(this.#failure);
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      p.reject(this.#failure);
    }
    this.#pending.clear();
  }
}

/**
 * Test hook: the worker of `store` (default: of every running SqliteStore in this process, e.g. inside a
 * gateway started by the test) throws an uncaught exception, as a bug in it would. Returns how many.
 */
export function crashSqliteWorkersForTests(store?: SqliteStore): number {
  return crashWorkers(store);
}

const INSERTED: InsertOutcome = Object.freeze({ status: 'inserted' });
const TOKEN_TAKEN: InsertOutcome = Object.freeze({ status: 'token-taken' });

const OP_FAILED: Record<Op, string> = {
  findTokens: 'vault lookup failed',
  findByTokens: 'vault lookup failed',
  insert: 'vault insert failed',
  delete: 'vault delete failed',
  ping: 'vault ping failed',
  close: 'vault close failed',
  crash: 'vault store worker crashed',
};

function seconds(ms: number): string {
  return `${Number((ms / 1000).toFixed(3))}s`;
}

function timeoutError(timeoutMs: number): GatewayError {
  return new GatewayError('VAULT_UNAVAILABLE', `vault store did not answer within ${seconds(timeoutMs)} (locked by another process?)`);
}

function unpack(packed: PackedStrings): string[] {
  try {
    return unpackStrings(packed);
  } catch {
    throw malformed();
  }
}

function malformed(): GatewayError {
  return new GatewayError('VAULT_UNAVAILABLE', 'vault store worker returned a malformed result');
}

function closedError(): GatewayError {
  return new GatewayError('VAULT_UNAVAILABLE', 'vault store is closed');
}

function fromWire(error: WireError, context: string, timeoutMs: number): GatewayError {
  switch (error.kind) {
    case 'timeout':
      return context.startsWith('vault ') ? timeoutError(timeoutMs) : new GatewayError('VAULT_UNAVAILABLE', `${context}: ${timeoutError(timeoutMs).message}`);
    case 'closed':
      return closedError();
    case 'replaced':
      return new GatewayError('VAULT_UNAVAILABLE', error.message);
    case 'schema':
      return new GatewayError('VAULT_UNAVAILABLE', error.message);
    default: {
      const cause = Object.assign(new Error(error.detail ?? error.message), error.sqliteCode === undefined ? {} : { code: error.sqliteCode });
      return new GatewayError('VAULT_UNAVAILABLE', `${context} (${error.message})`, { cause });
    }
  }
}

/**
 * The worker script beside this module: the built .js; or, running from TypeScript sources (vitest, tsx),
 * the .ts through tsx's CommonJS hook. (On Node 20 neither `--import tsx` in a worker's execArgv nor tsx's
 * ESM register() inside the worker transforms the worker's own imports; the CommonJS hook does.)
 */
type WorkerEntry = { readonly script: URL | string; readonly eval: boolean };
let entry: WorkerEntry | undefined;
function workerEntry(): WorkerEntry {
  if (entry !== undefined) return entry;
  const js = new URL('./sqlite-worker.js', import.meta.url);
  if (existsSync(js)) return (entry = { script: js, eval: false });
  const ts = new URL('./sqlite-worker.ts', import.meta.url);
  if (!existsSync(ts)) throw new GatewayError('VAULT_UNAVAILABLE', 'SQLite worker script (sqlite-worker.js) is missing beside vault/sqlite');
  let tsxCjs: string;
  try {
    tsxCjs = createRequire(import.meta.url).resolve('tsx/cjs/api');
  } catch (err) {
    throw new GatewayError('VAULT_UNAVAILABLE', 'running from TypeScript sources needs tsx for the SQLite worker (or build with npm run build)', { cause: err });
  }
  const code = `require(${JSON.stringify(tsxCjs)}).register(); require(${JSON.stringify(fileURLToPath(ts))});`;
  return (entry = { script: code, eval: true });
}
