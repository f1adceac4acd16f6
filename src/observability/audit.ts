/**
 * The audit trail: an append-only file of JSON lines, one per detokenized field and per key/token
 * administration event, chained by SHA-256 so that an edited, deleted or reordered line is detectable
 * (`pii-gateway audit verify`, see audit-verify.ts and docs/security.md#audit-trail).
 *
 * Records carry no PII and no token: only ids, JSON paths, token types, counts, outcomes and a keyed
 * fingerprint of the token (HMAC, truncated), which lets an investigator with the keys ask "was this token
 * released?" without the log itself linking anything to anyone.
 *
 * Line format (keys in this order; `prev` is the SHA-256 hex of the previous line's bytes, without its
 * newline; the first line of a file is an `audit.genesis` record whose `prev` is the chain's origin: random
 * for a new trail, the last line's hash of the previous file after a rotation):
 *
 *   {"seq":0,"prev":"<64 hex>","time":"...","event":"audit.genesis","version":1,"previousFile":null}
 *   {"seq":1,"prev":"<64 hex>","time":"...","event":"detokenize","requestId":"...","caller":null,
 *    "route":"send","upstream":"api.provider.example","tokenType":"phone","field":"$.to","count":1,
 *    "outcome":"resolved","tokenFingerprint":"<32 hex>"}
 *
 * Fail closed: `record()` resolves only once the bytes are written (and fsynced when asked); a failed
 * write rejects with AUDIT_UNAVAILABLE and the caller refuses what it was about to do. One process owns one
 * file: writes go through a single FileHandle opened O_APPEND, serialized by a queue; concurrent callers
 * are group-committed into one write.
 */
import { createHash, randomBytes } from 'node:crypto';
import { constants as fsc } from 'node:fs';
import { link, mkdir, open, unlink, type FileHandle } from 'node:fs/promises';
import path from 'node:path';
import { GatewayError } from '../errors.js';
import { errorFields, type Logger } from './logger.js';

/** What an audit record is about. */
export type AuditEventKind = 'detokenize' | 'vault.delete' | 'keys.generate';

/** One event, before the sink adds seq, prev and time. Every field is PII-free by construction. */
export interface AuditEvent {
  readonly event: AuditEventKind;
  readonly requestId: string | null;
  /** Authenticated caller identity (mTLS subject, JWT client, API key id), or null when none is configured. */
  readonly caller: string | null;
  /** Route id (proxy) or endpoint pattern (vault API), or the command for CLI/start-up events. */
  readonly route: string | null;
  /** Host the resolved value is released to (proxy request side), null otherwise. */
  readonly upstream: string | null;
  readonly tokenType: string | null;
  /** JSON path of the field (e.g. `$.to`, `items[3].token`), never its value. */
  readonly field: string | null;
  readonly count: number;
  /** detokenize: resolved | unknown; vault.delete: requested; keys.generate: generating. */
  readonly outcome: string;
  /** auditFingerprint() of the token; never the token or its value. */
  readonly tokenFingerprint: string | null;
}

/** The sink as its users see it (the engine adapter, the vault API, the gateway). */
export interface AuditSink {
  /** Resolves once every event is on disk; rejects with GatewayError AUDIT_UNAVAILABLE otherwise. */
  record(events: readonly AuditEvent[]): Promise<void>;
}

export interface AuditLogOptions {
  readonly file: string;
  /** Rotate before a write would take the file past this many bytes; 0 = never rotate. */
  readonly maxBytes: number;
  /** fdatasync after each write (survives a power loss, not only a process crash). */
  readonly fsync: boolean;
  readonly log?: Logger;
  /** Called once per failed write (metrics). */
  readonly onFailure?: () => void;
  /** Called with the number of records written (metrics). */
  readonly onWritten?: (records: number) => void;
}

/** Hex SHA-256 of one line's bytes (without its newline): the `prev` of the line after it. */
export function lineHash(line: string): string {
  return createHash('sha256').update(line, 'utf8').digest('hex');
}

/**
 * The keyed fingerprint of a token for audit records: HMAC-SHA256(fingerprintKey, 'audit', namespace,
 * token), first 32 hex characters. The transform engine owns it (it fingerprints the tokens it resolves);
 * re-exported here so the vault API and the deletion hook use the very same function.
 */
export { auditFingerprint } from '../transform/audit.js';

function unavailable(cause: unknown): GatewayError {
  return new GatewayError('AUDIT_UNAVAILABLE', 'the audit log cannot be written', { cause });
}

interface Queued {
  readonly events: readonly AuditEvent[];
  resolve(): void;
  reject(err: unknown): void;
}

/**
 * The file-backed sink. Opens lazily and again after a failure (re-reading the chain's head from the file),
 * so a disk that comes back is used again; until then every record() rejects.
 *
 * @example
 *   const audit = new AuditLog({ file: 'data/audit.log', maxBytes: 100 * 2 ** 20, fsync: false, log });
 *   await audit.record([{ event: 'detokenize', requestId, caller: null, route: 'send', ... }]);
 *   await audit.close();
 */
export class AuditLog implements AuditSink {
  readonly file: string;
  readonly #options: AuditLogOptions;
  #fh: FileHandle | null = null;
  #seq = -1;
  #head = '';
  #size = 0;
  #queue: Queued[] = [];
  #flushing: Promise<void> | null = null;
  #closed = false;
  #healthy = true;

  constructor(options: AuditLogOptions) {
    this.file = path.resolve(options.file);
    this.#options = options;
  }

  /** Opens the file now, so a start-up problem is logged at start-up. Never throws. */
  async open(): Promise<boolean> {
    try {
      await this.#ensureOpen();
      return true;
    } catch (err) {
      this.#fail(err, 'audit log cannot be opened');
      return false;
    }
  }

  /** False after a failed open or write, until a write succeeds again (readiness). */
  get healthy(): boolean {
    return this.#healthy;
  }

  /** Sequence number and hash of the last line written (null before the file is open). */
  get head(): { seq: number; hash: string } | null {
    return this.#seq < 0 ? null : { seq: this.#seq, hash: this.#head };
  }

  record(events: readonly AuditEvent[]): Promise<void> {
    if (this.#closed) return Promise.reject(unavailable(new Error('audit log closed')));
    if (events.length === 0) return Promise.resolve();
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ events, resolve, reject });
      this.#flushing ??= this.#flush();
    });
  }

  /** Waits for queued writes, then closes the file and logs the head (an external anchor for the chain). */
  async close(): Promise<void> {
    this.#closed = true;
    await this.#flushing;
    if (this.#fh) {
      await this.#fh.close().catch(() => undefined);
      this.#fh = null;
      this.#options.log?.info({ auditFile: this.file, seq: this.#seq, head: this.#head }, 'audit log closed');
    }
  }

  async #flush(): Promise<void> {
    while (this.#queue.length > 0) {
      const batch = this.#queue.splice(0);
      try {
        await this.#write(batch.flatMap((q) => q.events));
        this.#healthy = true;
        for (const q of batch) q.resolve();
      } catch (err) {
        this.#fail(err, 'audit write failed');
        const refusal = unavailable(err);
        for (const q of batch) q.reject(refusal);
      }
    }
    this.#flushing = null;
  }

  #fail(err: unknown, msg: string): void {
    this.#healthy = false;
    this.#options.onFailure?.();
    this.#options.log?.error({ auditFile: this.file, ...errorFields(err) }, msg);
    // Forget the handle: the next write reopens and re-reads the head, whatever this write left behind.
    const fh = this.#fh;
    this.#fh = null;
    void fh?.close().catch(() => undefined);
  }

  async #write(events: readonly AuditEvent[]): Promise<void> {
    const fh = await this.#ensureOpen();
    // Another process (a CLI command) may have appended since our last write: chain from its line.
    const { size } = await fh.stat();
    if (size !== this.#size) await this.#readHead(size);
    let chunk = this.#encode(events);
    const { maxBytes } = this.#options;
    if (maxBytes > 0 && this.#size + chunk.bytes > maxBytes && this.#size > 0) {
      await this.#rotate();
      chunk = this.#encode(events);
    }
    await this.#append(this.#fh!, chunk.text);
    this.#seq = chunk.seq;
    this.#head = chunk.head;
    this.#size += chunk.bytes;
    this.#options.onWritten?.(events.length);
  }

  /** Serializes events after the current head, without committing anything. */
  #encode(events: readonly AuditEvent[]): { text: string; bytes: number; seq: number; head: string } {
    let seq = this.#seq;
    let prev = this.#head;
    let text = '';
    const time = new Date().toISOString();
    for (const e of events) {
      seq++;
      const line = JSON.stringify({
        seq,
        prev,
        time,
        event: e.event,
        requestId: e.requestId,
        caller: e.caller,
        route: e.route,
        upstream: e.upstream,
        tokenType: e.tokenType,
        field: e.field,
        count: e.count,
        outcome: e.outcome,
        tokenFingerprint: e.tokenFingerprint,
      });
      prev = lineHash(line);
      text += line + '\n';
    }
    return { text, bytes: Buffer.byteLength(text), seq, head: prev };
  }

  async #append(fh: FileHandle, text: string): Promise<void> {
    const buf = Buffer.from(text, 'utf8');
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten;
    }
    if (this.#options.fsync) await fh.datasync();
  }

  async #ensureOpen(): Promise<FileHandle> {
    if (this.#fh) return this.#fh;
    await mkdir(path.dirname(this.file), { recursive: true, mode: 0o700 });
    const fh = await open(this.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT, 0o600);
    try {
      const st = await fh.stat();
      if (!st.isFile()) throw new Error('not a regular file');
      if ((st.mode & 0o777) !== 0o600) await fh.chmod(0o600);
      this.#fh = fh;
      if (st.size === 0) await this.#genesis(null, randomBytes(32).toString('hex'), 0);
      else await this.#readHead(st.size);
      return fh;
    } catch (err) {
      this.#fh = null;
      await fh.close().catch(() => undefined);
      throw err;
    }
  }

  /** Writes the first line of a file. */
  async #genesis(previousFile: string | null, prev: string, seq: number): Promise<void> {
    const line = JSON.stringify({ seq, prev, time: new Date().toISOString(), event: 'audit.genesis', version: 1, previousFile });
    await this.#append(this.#fh!, line + '\n');
    this.#seq = seq;
    this.#head = lineHash(line);
    this.#size = Buffer.byteLength(line) + 1;
  }

  /** Reads the last line of the file: its seq and hash become the head. A partial last line is refused. */
  async #readHead(size: number): Promise<void> {
    const last = await readLastLine(this.file, size);
    let seq: unknown;
    try {
      seq = (JSON.parse(last) as { seq?: unknown }).seq;
    } catch {
      seq = undefined;
    }
    if (!Number.isSafeInteger(seq)) {
      throw new GatewayError('AUDIT_UNAVAILABLE', 'the audit file does not end in a complete record; run `pii-gateway audit verify` and move it aside');
    }
    this.#seq = seq as number;
    this.#head = lineHash(last);
    this.#size = size;
  }

  /**
   * Size-based rotation: the full file is renamed to `<file>.<last seq, 12 digits>` (never overwriting),
   * and the new file's genesis line chains to the old file's last line and names it.
   */
  async #rotate(): Promise<void> {
    const rotated = `${this.file}.${String(this.#seq).padStart(12, '0')}`;
    await this.#fh!.close();
    this.#fh = null;
    await link(this.file, rotated); // fails with EEXIST rather than replacing an old file
    await unlink(this.file);
    const fh = await open(this.file, fsc.O_WRONLY | fsc.O_APPEND | fsc.O_CREAT | fsc.O_EXCL, 0o600);
    this.#fh = fh;
    await this.#genesis(path.basename(rotated), this.#head, this.#seq + 1);
    this.#options.log?.info({ auditFile: this.file, rotatedTo: rotated, seq: this.#seq, head: this.#head }, 'audit log rotated');
  }
}

/** The last complete line of a file of `size` bytes; throws if the file does not end with a newline. */
async function readLastLine(file: string, size: number): Promise<string> {
  const fh = await open(file, 'r');
  try {
    let want = Math.min(size, 64 * 1024);
    for (;;) {
      const buf = Buffer.alloc(want);
      await fh.read(buf, 0, want, size - want);
      if (buf[want - 1] !== 0x0a) throw new GatewayError('AUDIT_UNAVAILABLE', 'the audit file ends in a partial record');
      const start = buf.lastIndexOf(0x0a, want - 2);
      if (start !== -1 || want === size) return buf.subarray(start + 1, want - 1).toString('utf8');
      want = Math.min(size, want * 4);
    }
  } finally {
    await fh.close();
  }
}
