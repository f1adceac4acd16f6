/**
 * The messages between SqliteStore (main thread, vault/sqlite.ts) and its worker (vault/sqlite-worker.ts).
 *
 * Why it looks like this:
 * - postMessage serializes on the sending thread and deserializes on the receiving one, so what crosses
 *   must be cheap to clone: a few flat strings (lookup keys as the JSON text `json_each` reads; row fields
 *   NUL-joined), typed arrays of positions, and the sealed blobs packed into ONE ArrayBuffer that is
 *   transferred, not copied. (Cloning a small Buffer copies the whole 8 KiB pool slab behind it, once per
 *   slab.) What the request already names (namespace, token, fingerprint) is not sent back: results
 *   carry positions in the request instead.
 * - Errors cross as a `kind` and a message without values (SQLite codes and fixed texts only); the main
 *   thread turns them into GatewayError VAULT_UNAVAILABLE.
 * - Each request carries an absolute deadline (ms on the shared wall clock: both threads read the same
 *   `performance.timeOrigin + performance.now()`), so the worker never starts work whose caller has given up.
 */
import { performance } from 'node:perf_hooks';

/** workerData of the SQLite worker. */
export interface WorkerParams {
  readonly path: string;
  readonly cacheSizeKiB: number;
  /** How long opening may wait on locks held by another connection. */
  readonly timeoutMs: number;
}

/**
 * Strings packed into ONE string: joined by NUL, or (if one of them holds a NUL, which gateway-made tokens,
 * fingerprints, types and key ids never do) as JSON. One flat string is a memcpy to clone; an array of
 * 2,500 short strings costs about 0.4 ms to send and receive, NUL-joined about 0.1 ms (measured).
 */
export interface PackedStrings {
  readonly text: string;
  readonly json: boolean;
  readonly count: number;
}

/** Rows to insert: per row namespace, token, fingerprint ('' for null), type, key id; sealed blobs back to back. */
export interface InsertRows {
  readonly fields: PackedStrings;
  readonly blob: ArrayBuffer;
  /** blob i ends at ends[i]. */
  readonly ends: Uint32Array;
}

/** Rows found by token: the position of each in the request (its groups flattened), then per row fingerprint ('' for null), type, key id. */
export interface FoundRows {
  readonly index: Uint32Array;
  readonly fields: PackedStrings;
  readonly blob: ArrayBuffer;
  readonly ends: Uint32Array;
}

export type Request =
  /** `json`: a JSON array of fingerprints. */
  | { readonly id: number; readonly deadline: number; readonly op: 'findTokens'; readonly json: string }
  /** One [namespace, JSON array of tokens, its length] per distinct namespace of the batch. */
  | { readonly id: number; readonly deadline: number; readonly op: 'findByTokens'; readonly groups: [string, string, number][] }
  | { readonly id: number; readonly deadline: number; readonly op: 'insert'; readonly rows: InsertRows }
  /** Per key namespace, token. */
  | { readonly id: number; readonly deadline: number; readonly op: 'delete'; readonly keys: PackedStrings }
  | { readonly id: number; readonly deadline: number; readonly op: 'ping' }
  | { readonly id: number; readonly deadline: number; readonly op: 'close' }
  /** Test hook: the worker throws an uncaught exception (a crash as a bug would cause it). */
  | { readonly id: number; readonly deadline: number; readonly op: 'crash' };

export type Op = Request['op'];

/**
 * What an insert reports per row: 0 inserted, 1 token taken (a collision), or the token that already holds
 * this fingerprint (another writer stored the value first).
 */
export type WireOutcome = 0 | 1 | string;

/** Results by op. */
export interface Results {
  /** For each fingerprint found: its position in the request, and its token. */
  findTokens: { readonly index: Uint32Array; readonly tokens: PackedStrings };
  findByTokens: FoundRows;
  insert: WireOutcome[];
  delete: number;
  ping: null;
  close: null;
  crash: null;
}

export type ErrorKind =
  /** An SQLite error; `sqliteCode` names it (SQLITE_BUSY, SQLITE_CORRUPT, ...). */
  | 'sqlite'
  /** The deadline passed (a lock held by another connection did not go away in time). */
  | 'timeout'
  /** The path no longer names the file the worker opened. */
  | 'replaced'
  /** The database was written by a newer version of the gateway. */
  | 'schema'
  /** A file-system error creating the file or its directory; `message` is the errno code (ENOTDIR, EACCES). */
  | 'system'
  /** The store is closing. */
  | 'closed'
  /** Anything else (a bug): the message is fixed, the cause stays in the worker. */
  | 'internal';

export interface WireError {
  readonly kind: ErrorKind;
  readonly message: string;
  readonly sqliteCode?: string;
  /** For the cause on the main thread: the SQLite message (names conditions and columns, never values). */
  readonly detail?: string;
}

export type Reply =
  | { readonly id: number; readonly ok: true; readonly result: unknown }
  | { readonly id: number; readonly ok: false; readonly error: WireError };

/** The worker's first message. `stage` says which step failed: opening the file or preparing the schema. */
export type Hello = { readonly hello: true; readonly ok: true } | { readonly hello: true; readonly ok: false; readonly stage: 'open' | 'init'; readonly error: WireError };

/** Milliseconds on a clock both threads share (performance.now() alone is per thread). */
export function sharedNow(): number {
  return performance.timeOrigin + performance.now();
}

export function packStrings(strings: readonly string[]): PackedStrings {
  let nul = false;
  for (const x of strings) {
    if (x.includes('\0')) {
      nul = true;
      break;
    }
  }
  return { text: nul ? JSON.stringify(strings) : strings.join('\0'), json: nul, count: strings.length };
}

export function unpackStrings(packed: PackedStrings): string[] {
  if (packed.count === 0) return [];
  const out = packed.json ? (JSON.parse(packed.text) as string[]) : packed.text.split('\0');
  if (out.length !== packed.count) throw new Error('malformed packed strings');
  return out;
}

/** Packs blobs into one fresh (never pooled: it is transferred) ArrayBuffer. */
export function packBlobs(blobs: readonly Uint8Array[]): { blob: ArrayBuffer; ends: Uint32Array } {
  let total = 0;
  for (const b of blobs) total += b.byteLength;
  const blob = new ArrayBuffer(total);
  const bytes = new Uint8Array(blob);
  const ends = new Uint32Array(blobs.length);
  let at = 0;
  for (let i = 0; i < blobs.length; i++) {
    bytes.set(blobs[i]!, at);
    at += blobs[i]!.byteLength;
    ends[i] = at;
  }
  return { blob, ends };
}

/** Blob i of a packed set, as a Buffer view (no copy). */
export function blobAt(packed: { readonly blob: ArrayBuffer; readonly ends: Uint32Array }, i: number): Buffer {
  const start = i === 0 ? 0 : packed.ends[i - 1]!;
  return Buffer.from(packed.blob, start, packed.ends[i]! - start);
}
