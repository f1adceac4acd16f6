/**
 * `header:NAME` fields: header values as a location the engine can scan and rewrite, like a tiny codec over a
 * header map instead of bytes.
 *
 * Names compare case-insensitively (RFC 9110 section 5.1); the map may hold one name in several spellings.
 * Each value of a repeated header (a string[] from node:http/undici) is its own match; a single header line
 * is one value even if it holds a comma-separated list (a rule that must act per list member is for a
 * scan action). Edits copy the map (the caller's object is never changed) and keep every other entry.
 *
 * A replacement must be a valid field value (RFC 9110 section 5.5): visible ASCII, space and tab. A
 * detokenized value with CR/LF would split the header (response splitting); a non-ASCII one would be
 * re-encoded differently by every HTTP stack. Both are refused, naming the header, never the value.
 */
import { GatewayError } from '../errors.js';
import type { CompiledSelector } from '../codecs/selector.js';
import type { Edit, Match } from '../codecs/types.js';

export type HeaderMap = Record<string, string | string[]>;

/** A header match: which map key and which element of a repeated header. */
export interface HeaderMatch extends Match {
  readonly kind: 'string';
  readonly value: string;
  readonly key: string;
  /** Index in a string[] value; -1 for a plain string. */
  readonly index: number;
}

/** Matches of header selectors (one key segment each, lower-case name), in selector order. */
export function scanHeaders(headers: HeaderMap, selectors: readonly CompiledSelector[]): HeaderMatch[] {
  const matches: HeaderMatch[] = [];
  if (selectors.length === 0) return matches;
  const keys = Object.keys(headers);
  selectors.forEach((selector, s) => {
    const seg = selector.segments[0];
    if (seg?.kind !== 'key') throw new GatewayError('INTERNAL', `header selector ${selector.source} is not a name`);
    for (const key of keys) {
      if (key.toLowerCase() !== seg.key) continue;
      const value = headers[key]!;
      if (typeof value === 'string') {
        matches.push({ selector: s, path: `header:${seg.key}`, kind: 'string', value, key, index: -1 });
      } else {
        value.forEach((v, index) =>
          matches.push({ selector: s, path: `header:${seg.key}[${index}]`, kind: 'string', value: v, key, index }),
        );
      }
    }
  });
  return matches;
}

/** A copy of `headers` with the edits applied (`edits[i]` belongs to `matches[i]`), or `headers` itself when there are none. */
export function applyHeaders(headers: HeaderMap, matches: readonly HeaderMatch[], edits: readonly (Edit | undefined)[]): HeaderMap {
  if (!edits.some((e) => e !== undefined)) return headers;
  const out: HeaderMap = { ...headers };
  const removed = new Map<string, Set<number>>();
  for (let i = 0; i < edits.length; i++) {
    const edit = edits[i];
    if (edit === undefined) continue;
    const m = matches[i]!;
    if (edit.op === 'remove') {
      let set = removed.get(m.key);
      if (set === undefined) removed.set(m.key, (set = new Set()));
      set.add(m.index);
      continue;
    }
    if (!isFieldValue(edit.value)) {
      throw new GatewayError('INVALID_VALUE', `${m.path}: the new value cannot be sent in a header (control or non-ASCII characters)`, {
        field: m.path,
      });
    }
    if (m.index === -1) out[m.key] = edit.value;
    else {
      const list = [...(out[m.key] as string[])];
      list[m.index] = edit.value;
      out[m.key] = list;
    }
  }
  for (const [key, indexes] of removed) {
    const value = out[key]!;
    if (typeof value === 'string' || indexes.has(-1)) {
      delete out[key];
      continue;
    }
    const kept = value.filter((_, i) => !indexes.has(i));
    if (kept.length === 0) delete out[key];
    else out[key] = kept;
  }
  return out;
}

/** RFC 9110 field-value restricted to ASCII: HTAB, SP and VCHAR. */
function isFieldValue(value: string): boolean {
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c !== 0x09 && (c < 0x20 || c > 0x7e)) return false;
  }
  return true;
}
