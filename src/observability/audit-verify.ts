/**
 * Checks an audit trail written by audit.ts: every line parses, seq goes up by one, and each line's `prev`
 * is the SHA-256 of the line before it; a file starts with an `audit.genesis` line, and when several files
 * are given (oldest first, e.g. after rotation) each file's genesis chains to the previous file's last line.
 *
 * What this proves and what it cannot: an edit, a deletion or a reordering anywhere before the last line
 * breaks the chain. Cutting lines off the end, or rewriting the whole chain, needs an external anchor:
 * compare the reported head with one recorded elsewhere (the gateway logs the head on rotation and close).
 */
import { readFile } from 'node:fs/promises';
import { lineHash } from './audit.js';

export type VerifyResult =
  | {
      readonly ok: true;
      /** Lines checked, genesis lines included. */
      readonly records: number;
      readonly firstSeq: number;
      readonly lastSeq: number;
      /** Hash of the last line: compare with an anchor kept elsewhere. */
      readonly head: string;
    }
  | {
      readonly ok: false;
      readonly file: string;
      /** 1-based line number of the first line that does not verify. */
      readonly line: number;
      /** The seq expected at that line (null when the file has none to expect). */
      readonly seq: number | null;
      readonly reason: string;
    };

const HEX64 = /^[0-9a-f]{64}$/;

/**
 * Verifies one file, or several consecutive files of one trail (oldest first).
 *
 * @example
 *   const r = await verifyAuditFiles(['data/audit.log']);
 *   if (!r.ok) console.error(`${r.file}:${r.line}: ${r.reason}`);
 */
export async function verifyAuditFiles(files: readonly string[]): Promise<VerifyResult> {
  let expectedSeq: number | null = null;
  let prevHash: string | null = null;
  let firstSeq: number | null = null;
  let records = 0;
  for (const file of files) {
    const text = await readFile(file, 'utf8');
    if (text.length === 0) return broken(file, 1, expectedSeq, 'the file is empty (no genesis line)');
    const lines = text.split('\n');
    const torn = lines.pop() !== '';
    for (let i = 0; i < lines.length; i++) {
      const line = lines[i]!;
      let rec: { seq?: unknown; prev?: unknown; event?: unknown };
      try {
        rec = JSON.parse(line) as typeof rec;
      } catch {
        return broken(file, i + 1, expectedSeq, 'not a JSON record');
      }
      if (typeof rec !== 'object' || rec === null || !Number.isSafeInteger(rec.seq) || typeof rec.prev !== 'string' || !HEX64.test(rec.prev)) {
        return broken(file, i + 1, expectedSeq, 'missing or malformed seq/prev');
      }
      const seq = rec.seq as number;
      if (i === 0 && rec.event !== 'audit.genesis') {
        return broken(file, 1, expectedSeq, 'the first line is not an audit.genesis record (lines removed from the start?)');
      }
      if (i > 0 && rec.event === 'audit.genesis') {
        return broken(file, i + 1, expectedSeq, 'a genesis record in the middle of a file');
      }
      if (expectedSeq !== null && seq !== expectedSeq) {
        const why = seq > expectedSeq ? `seq ${seq} where ${expectedSeq} was expected: record(s) deleted` : `seq ${seq} where ${expectedSeq} was expected: records reordered or duplicated`;
        return broken(file, i + 1, expectedSeq, why);
      }
      if (prevHash !== null && rec.prev !== prevHash) {
        const why =
          i === 0
            ? 'the genesis line does not chain to the last line of the previous file'
            : `prev does not match the hash of line ${i}: that line was altered, or lines were removed or reordered`;
        return broken(file, i + 1, seq, why);
      }
      firstSeq ??= seq;
      expectedSeq = seq + 1;
      prevHash = lineHash(line);
      records++;
    }
    if (torn) return broken(file, lines.length + 1, expectedSeq, 'the file ends in a partial line (interrupted write?)');
  }
  if (firstSeq === null || expectedSeq === null || prevHash === null) return broken(files[0] ?? '', 1, null, 'no records');
  return { ok: true, records, firstSeq, lastSeq: expectedSeq - 1, head: prevHash };
}

function broken(file: string, line: number, seq: number | null, reason: string): VerifyResult {
  return { ok: false, file, line, seq, reason };
}
