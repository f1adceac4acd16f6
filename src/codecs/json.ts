/**
 * Byte-preserving JSON codec: the gateway's hot path.
 *
 * Why hand-written: JSON.parse + JSON.stringify would re-serialize the whole body (9007199254740993 loses
 * precision, `1.0e+2` becomes `100`, escapes, whitespace and key order may change, duplicate keys silently
 * collapse). Here `scan` validates RFC 8259 strictly in one pass over the Buffer (json-scanner.ts) and records the
 * byte offsets of matched values; `apply` splices replacements in and copies every other byte as it came.
 *
 * Refusals (GatewayError, status 400; `field` is the concrete path near the problem, never a value):
 *   INVALID_JSON    syntax (the message gives the byte offset and what was expected); also a leading UTF-8 BOM,
 *                   which RFC 8259 section 8.1 says senders MUST NOT add (JSON.parse refuses it too)
 *   DUPLICATE_KEY   the same member name twice in one object, compared after decoding escapes
 *   INVALID_UTF8    the body is not well-formed UTF-8 (checked with isUtf8 up front; located by the scan)
 *   LONE_SURROGATE  a \uD800-\uDBFF escape without a following \uDC00-\uDFFF escape, or a lone low surrogate
 *   TOO_DEEP        objects/arrays nested deeper than options.maxDepth
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';
import type { CompiledSelector } from './selector.js';
import type { Codec, Edit, ScanOptions, ScanResult } from './types.js';
import { compileAutomaton } from './json-automaton.js';
import { encodeJsonString } from './json-string.js';
import { scanJson, type JsonMatch } from './json-scanner.js';

export type { JsonMatch } from './json-scanner.js';

/** A span of the input replaced by `text` (undefined = deleted); `bytes` is text's UTF-8 length. */
interface Splice {
  start: number;
  end: number;
  text: string | undefined;
  bytes: number;
}

/** An edit with the span it covers in the input, for resolving nested edits (the outer one wins). */
interface Pending {
  readonly order: number;
  readonly match: JsonMatch;
  readonly edit: Edit;
  readonly start: number;
  readonly end: number;
}

function scan(body: Buffer, selectors: readonly CompiledSelector[], options: ScanOptions): ScanResult<JsonMatch> {
  const matches = scanJson(body, compileAutomaton(selectors), options.maxDepth, isUtf8(body));
  return { matches };
}

/**
 * Edits nested inside another edit's span are dropped: the outer edit wins (a removed member takes its contents
 * with it; a replaced object is replaced whole). On identical spans, a remove wins over a replace, then the
 * earlier match wins.
 */
function outermost(body: Buffer, scan: ScanResult<JsonMatch>, edits: readonly (Edit | undefined)[]): Pending[] {
  if (edits.length > scan.matches.length) {
    throw new GatewayError('INTERNAL', `got ${edits.length} edits for ${scan.matches.length} matches`);
  }
  const pending: Pending[] = [];
  for (let k = 0; k < edits.length; k++) {
    const edit = edits[k];
    if (edit === undefined) continue;
    const m = scan.matches[k]!;
    if (m.valueEnd < 0 || m.valueEnd > body.length) {
      throw new GatewayError('INTERNAL', 'scan result does not belong to this body', { field: m.path });
    }
    if (edit.op === 'remove') {
      if (m.container === 'root') {
        throw new GatewayError('INTERNAL', 'cannot remove the top-level value', { field: m.path });
      }
      pending.push({ order: k, match: m, edit, start: m.memberStart, end: m.memberEnd });
    } else {
      if (typeof edit.value !== 'string') {
        throw new GatewayError('INTERNAL', 'a replacement value must be a string', { field: m.path });
      }
      pending.push({ order: k, match: m, edit, start: m.valueStart, end: m.valueEnd });
    }
  }
  pending.sort(
    (x, y) =>
      x.start - y.start ||
      y.end - x.end ||
      (x.edit.op === 'remove' ? 0 : 1) - (y.edit.op === 'remove' ? 0 : 1) ||
      x.order - y.order,
  );
  const kept: Pending[] = [];
  let coveredTo = -1;
  for (const p of pending) {
    if (p.start < coveredTo) continue; // inside (or identical to) an edit already kept; spans are never empty
    kept.push(p);
    coveredTo = p.end;
  }
  return kept;
}

/**
 * The byte spans that remove members of one container (matches sorted by position) while keeping it valid:
 * a member followed by another loses itself and the separator after it, up to the next member; a trailing run
 * of removed members loses the separator before the run (back to the end of the last kept member); when all
 * members go, only the whitespace around them remains (`{ }`).
 */
function removalSpans(group: readonly JsonMatch[], out: Splice[]): void {
  let runStart = group.length;
  if (group[group.length - 1]!.nextSiblingStart === -1) {
    runStart = group.length - 1;
    while (runStart > 0 && group[runStart - 1]!.nextSiblingStart === group[runStart]!.memberStart) runStart--;
  }
  for (let k = 0; k < runStart; k++) {
    const m = group[k]!;
    out.push({ start: m.memberStart, end: m.nextSiblingStart, text: undefined, bytes: 0 });
  }
  if (runStart < group.length) {
    const first = group[runStart]!;
    const last = group[group.length - 1]!;
    const start = first.prevSiblingEnd === -1 ? first.memberStart : first.prevSiblingEnd;
    out.push({ start, end: last.memberEnd, text: undefined, bytes: 0 });
  }
}

function apply(body: Buffer, scan: ScanResult<JsonMatch>, edits: readonly (Edit | undefined)[]): Buffer {
  const kept = outermost(body, scan, edits);
  if (kept.length === 0) return body;
  const splices: Splice[] = [];
  // Removals grouped by container; within a group they stay sorted by position.
  const groups = new Map<number, JsonMatch[]>();
  for (const p of kept) {
    if (p.edit.op === 'replace') {
      const text = encodeJsonString(p.edit.value);
      splices.push({ start: p.start, end: p.end, text, bytes: Buffer.byteLength(text, 'utf8') });
    } else {
      const g = groups.get(p.match.containerStart);
      if (g === undefined) groups.set(p.match.containerStart, [p.match]);
      else g.push(p.match);
    }
  }
  for (const g of groups.values()) removalSpans(g, splices);
  splices.sort((x, y) => x.start - y.start);

  // One allocation for the output; unchanged runs are copied, replacements written in place.
  let size = body.length;
  for (const s of splices) size += s.bytes - (s.end - s.start);
  const out = Buffer.allocUnsafe(size);
  let from = 0;
  let to = 0;
  for (const s of splices) {
    to += body.copy(out, to, from, s.start);
    if (s.text !== undefined) to += out.write(s.text, to, s.bytes, 'utf8');
    from = s.end;
  }
  to += body.copy(out, to, from, body.length);
  if (to !== size) throw new GatewayError('INTERNAL', 'JSON splice size mismatch');
  return out;
}

/**
 * The JSON codec.
 *
 * @example
 *   const selectors = [compileSelector('$.d[*].email')];
 *   const result = jsonCodec.scan(body, selectors, { maxDepth: 64 });
 *   const edits = result.matches.map((m) => ({ op: 'replace', value: tokenize(m.value) }) as const);
 *   const out = jsonCodec.apply(body, result, edits); // every other byte of `body` unchanged
 */
export const jsonCodec: Codec<JsonMatch> = Object.freeze({ name: 'json', scan, apply });
