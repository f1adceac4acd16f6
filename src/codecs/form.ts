/**
 * Byte-preserving application/x-www-form-urlencoded codec (Twilio, Vonage, Stripe, every HTML form).
 *
 * Parsing follows the WHATWG URL standard's urlencoded parser (https://url.spec.whatwg.org/#urlencoded-parsing):
 * split on '&' (empty sequences are skipped), the first '=' separates name from value (no '=' means an empty
 * value), '+' is a space, then percent-decoding. Two deliberate departures, both refusals rather than guesses:
 *   INVALID_FORM  a '%' not followed by two hex digits. WHATWG keeps such bytes literally, but other parsers
 *                 (PHP, Rails, Go) decode or reject them differently; a value that two parsers read differently
 *                 is how PII slips past a proxy, so the gateway refuses it.
 *   INVALID_UTF8  a decoded name or value that is not well-formed UTF-8 (WHATWG would substitute U+FFFD).
 * Every pair is validated, matched or not, so what the gateway forwards is what it understood.
 *
 * Selectors are field names (`select: To` compiles to `[{ kind: 'key', key: 'To' }]`). Every occurrence of a
 * repeated field is a match; Match.path is the name, or `name[i]` when the name occurs more than once.
 *
 * `apply` re-encodes only the changed values, with the application/x-www-form-urlencoded percent-encode set
 * (everything but ASCII alphanumerics and `*-._` is %XX, upper-case hex, over the UTF-8 bytes) and a space as
 * '+', which is what URLSearchParams and browsers emit (WHATWG urlencoded serializer). Untouched pairs keep their
 * original bytes, whether they spelled a space as %20 or '+', or escaped more than they had to.
 * A remove drops the pair and one '&' (the one after it; for a trailing run of removed pairs the one before).
 *
 * The same codec reads a URL query string: see splitQuery/joinQuery.
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';
import { nameTable, occurrencePaths, type NameTable } from './field-names.js';
import type { CompiledSelector } from './selector.js';
import type { Codec, Edit, Match, ScanOptions, ScanResult } from './types.js';

/** A form match with the byte offsets of its pair. */
export interface FormMatch extends Match {
  readonly kind: 'string';
  readonly value: string;
  /** First byte of the name. */
  readonly pairStart: number;
  /** One past the last byte of the value (the '&' after it, or the end of the body). */
  readonly pairEnd: number;
  /** First byte of the value (after '='); equals pairEnd when the pair has no '='. */
  readonly valueStart: number;
  /** False for a bare name such as `a` in `a&b=1`. */
  readonly hasEquals: boolean;
}

const AMP = 0x26;
const EQ = 0x3d;
const PLUS = 0x2b;
const PERCENT = 0x25;

const HEX = new Int8Array(256).fill(-1);
for (let c = 0; c < 10; c++) HEX[0x30 + c] = c;
for (let c = 0; c < 6; c++) HEX[0x41 + c] = HEX[0x61 + c] = 10 + c;

/** 1 for bytes the application/x-www-form-urlencoded percent-encode set leaves alone: ASCII alphanumerics and *-._ */
const FORM_SAFE = new Uint8Array(256);
for (let c = 0; c < 128; c++) FORM_SAFE[c] = /[A-Za-z0-9*\-._]/.test(String.fromCharCode(c)) ? 1 : 0;
const UPPER_HEX = '0123456789ABCDEF';

class Decoder {
  private scratch = Buffer.allocUnsafe(256);
  constructor(
    private readonly b: Buffer,
    private readonly rawUtf8: boolean,
  ) {}

  /**
   * Decodes b[s, e) ('+' -> space, %XX -> byte) and validates it. Returns the string when `want`, else ''.
   * `special`: the range holds a '%' or '+' (the caller's one pass over the pair found it).
   * `what` names the component for messages: only selected names (which come from the rules) are named;
   * other names are request data and are never echoed.
   */
  decode(s: number, e: number, special: boolean, want: boolean, what: string, field: string | undefined): string {
    const b = this.b;
    if (!special) {
      if (!this.rawUtf8 && !isUtf8(b.subarray(s, e))) throw badUtf8(s, what, field);
      return want ? b.toString('utf8', s, e) : '';
    }
    for (let i = s; i < e; i++) {
      if (b[i] === PERCENT) {
        if (i + 2 >= e || HEX[b[i + 1]!]! < 0 || HEX[b[i + 2]!]! < 0) throw badPercent(i, what, field);
        i += 2;
      }
    }
    if (this.scratch.length < e - s) this.scratch = Buffer.allocUnsafe(Math.max(e - s, this.scratch.length * 2));
    const out = this.scratch;
    let n = 0;
    let high = 0; // OR of the decoded bytes: below 0x80 means ASCII, valid UTF-8 without asking isUtf8
    for (let i = s; i < e; i++) {
      let c = b[i]!;
      if (c === PERCENT) {
        c = (HEX[b[i + 1]!]! << 4) | HEX[b[i + 2]!]!;
        i += 2;
      } else if (c === PLUS) {
        c = 0x20;
      }
      out[n++] = c;
      high |= c;
    }
    if (high >= 0x80 && !(n <= 64 ? shortUtf8(out, n) : isUtf8(out.subarray(0, n)))) throw badUtf8(s, what, field);
    return want ? out.toString(high >= 0x80 ? 'utf8' : 'latin1', 0, n) : '';
  }
}

/**
 * Well-formed UTF-8 (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF) for b[0, n). For short
 * values this loop is cheaper than a call into isUtf8; long ones go to isUtf8.
 */
function shortUtf8(b: Buffer, n: number): boolean {
  let i = 0;
  while (i < n) {
    const c = b[i]!;
    if (c < 0x80) {
      i++;
      continue;
    }
    let need: number;
    let lo = 0x80;
    let hi = 0xbf;
    if (c >= 0xc2 && c <= 0xdf) need = 1;
    else if (c >= 0xe0 && c <= 0xef) {
      need = 2;
      if (c === 0xe0) lo = 0xa0;
      else if (c === 0xed) hi = 0x9f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      need = 3;
      if (c === 0xf0) lo = 0x90;
      else if (c === 0xf4) hi = 0x8f;
    } else return false;
    if (i + need >= n) return false;
    const d = b[i + 1]!;
    if (d < lo || d > hi) return false;
    for (let k = 2; k <= need; k++) {
      const x = b[i + k]!;
      if (x < 0x80 || x > 0xbf) return false;
    }
    i += need + 1;
  }
  return true;
}

function badPercent(at: number, what: string, field: string | undefined): GatewayError {
  return new GatewayError('INVALID_FORM', `${what}: '%' at byte ${at} is not followed by two hex digits`, { field });
}

function badUtf8(at: number, what: string, field: string | undefined): GatewayError {
  return new GatewayError('INVALID_UTF8', `${what} (starting at byte ${at}) does not decode to valid UTF-8`, { field });
}

/** The selected names as UTF-8 bytes, by byte length, for matching undecoded names without making strings. */
class NameBytes {
  private readonly byLength = new Map<number, { bytes: Buffer; name: string }[]>();
  constructor(table: NameTable) {
    for (const name in table) {
      const bytes = Buffer.from(name, 'utf8');
      const list = this.byLength.get(bytes.length);
      if (list) list.push({ bytes, name });
      else this.byLength.set(bytes.length, [{ bytes, name }]);
    }
  }

  /** The selected name spelled exactly by b[s, e), if any. */
  match(b: Buffer, s: number, e: number): string | undefined {
    const list = this.byLength.get(e - s);
    if (list === undefined) return undefined;
    for (const { bytes, name } of list) {
      let k = 0;
      while (k < bytes.length && bytes[k] === b[s + k]) k++;
      if (k === bytes.length) return name;
    }
    return undefined;
  }
}

const bytesTables = new WeakMap<NameTable, NameBytes>();
function bytesTable(table: NameTable): NameBytes {
  let t = bytesTables.get(table);
  if (t === undefined) {
    t = new NameBytes(table);
    bytesTables.set(table, t);
  }
  return t;
}

interface Raw {
  selector: number;
  name: string;
  value: string;
  pairStart: number;
  pairEnd: number;
  valueStart: number;
  hasEquals: boolean;
  /** Index of the field among matched fields (for occurrence paths). */
  field: number;
}

function scan(body: Buffer, selectors: readonly CompiledSelector[], _options?: ScanOptions): ScanResult<FormMatch> {
  const table = nameTable(selectors, 'form');
  const rawUtf8 = isUtf8(body);
  const dec = new Decoder(body, rawUtf8);
  const byName = bytesTable(table);
  const raws: Raw[] = [];
  const fieldNames: string[] = [];
  const n = body.length;
  // One pass over the bytes finds each pair's end, its first '=', and whether name or value needs decoding.
  let i = 0;
  while (i <= n) {
    const s = i;
    let eq = -1;
    let nameSpecial = false;
    let valueSpecial = false;
    for (; i < n; i++) {
      const c = body[i]!;
      if (c === AMP) break;
      if (c === EQ) {
        if (eq === -1) eq = i;
      } else if (c === PERCENT || c === PLUS) {
        if (eq === -1) nameSpecial = true;
        else valueSpecial = true;
      }
    }
    const e = i;
    i++;
    if (e === s) continue; // empty sequence
    const nameEnd = eq === -1 ? e : eq;
    const valueStart = eq === -1 ? e : eq + 1;
    let name: string | undefined;
    if (nameSpecial) {
      name = dec.decode(s, nameEnd, true, true, 'a field name', undefined);
    } else {
      // Most names need no decoding: compare their bytes with the selected names' and make no string.
      name = byName.match(body, s, nameEnd);
      if (name === undefined && !rawUtf8) dec.decode(s, nameEnd, false, false, 'a field name', undefined);
    }
    const sel = name === undefined ? undefined : table[name];
    if (sel === undefined || name === undefined) {
      dec.decode(valueStart, e, valueSpecial, false, 'a field value', undefined);
      continue;
    }
    const value = dec.decode(valueStart, e, valueSpecial, true, `the value of field ${name}`, name);
    const field = fieldNames.length;
    fieldNames.push(name);
    for (const selector of sel) {
      raws.push({ selector, name, value, pairStart: s, pairEnd: e, valueStart, hasEquals: eq !== -1, field });
    }
  }
  const paths = occurrencePaths(fieldNames);
  const matches: FormMatch[] = raws.map((r) =>
    Object.freeze({
      selector: r.selector,
      path: paths[r.field]!,
      kind: 'string' as const,
      value: r.value,
      pairStart: r.pairStart,
      pairEnd: r.pairEnd,
      valueStart: r.valueStart,
      hasEquals: r.hasEquals,
    }),
  );
  return { matches };
}

/**
 * Percent-encodes `value` with the application/x-www-form-urlencoded percent-encode set, space as '+'
 * (the WHATWG urlencoded serializer). Throws INTERNAL for a string with a lone surrogate, which has no UTF-8.
 *
 * @example
 *   encodeFormValue('a b&c=é') // 'a+b%26c%3D%C3%A9'
 */
export function encodeFormValue(value: string): string {
  let plain = true;
  for (let i = 0; i < value.length; i++) {
    const c = value.charCodeAt(i);
    if (c >= 0x80 || FORM_SAFE[c] === 0) {
      plain = false;
      break;
    }
  }
  if (plain) return value;
  if (hasLoneSurrogate(value)) throw new GatewayError('INTERNAL', 'a replacement value is not well-formed Unicode');
  const bytes = Buffer.from(value, 'utf8');
  let out = '';
  for (const c of bytes) {
    if (FORM_SAFE[c] === 1) out += String.fromCharCode(c);
    else if (c === 0x20) out += '+';
    else out += '%' + UPPER_HEX[c >> 4]! + UPPER_HEX[c & 15]!;
  }
  return out;
}

function hasLoneSurrogate(s: string): boolean {
  for (let i = 0; i < s.length; i++) {
    const c = s.charCodeAt(i);
    if (c < 0xd800 || c > 0xdfff) continue;
    if (c >= 0xdc00) return true;
    const d = s.charCodeAt(i + 1);
    if (!(d >= 0xdc00 && d <= 0xdfff)) return true;
    i++;
  }
  return false;
}

interface Splice {
  start: number;
  end: number;
  text: string;
}

function apply(body: Buffer, scan: ScanResult<FormMatch>, edits: readonly (Edit | undefined)[]): Buffer {
  if (edits.length > scan.matches.length) {
    throw new GatewayError('INTERNAL', `got ${edits.length} edits for ${scan.matches.length} matches`);
  }
  // One edit per pair: a remove wins over a replace, then the earlier match wins.
  const byPair = new Map<number, { m: FormMatch; edit: Edit }>();
  for (let k = 0; k < edits.length; k++) {
    const edit = edits[k];
    if (edit === undefined) continue;
    const m = scan.matches[k]!;
    if (m.pairEnd > body.length || m.valueStart > m.pairEnd) {
      throw new GatewayError('INTERNAL', 'scan result does not belong to this body', { field: m.path });
    }
    if (edit.op === 'replace' && typeof edit.value !== 'string') {
      throw new GatewayError('INTERNAL', 'a replacement value must be a string', { field: m.path });
    }
    const prev = byPair.get(m.pairStart);
    if (prev === undefined || (edit.op === 'remove' && prev.edit.op !== 'remove')) byPair.set(m.pairStart, { m, edit });
  }
  if (byPair.size === 0) return body;
  const chosen = [...byPair.values()].sort((x, y) => x.m.pairStart - y.m.pairStart);

  const splices: Splice[] = [];
  // A trailing run of removed pairs (the last ends the body, each ends where the next begins minus '&') takes
  // the '&' before the run; every other removed pair takes the '&' after it.
  let runFrom = chosen.length;
  if (chosen[chosen.length - 1]!.edit.op === 'remove' && chosen[chosen.length - 1]!.m.pairEnd === body.length) {
    runFrom = chosen.length - 1;
    while (
      runFrom > 0 &&
      chosen[runFrom - 1]!.edit.op === 'remove' &&
      chosen[runFrom - 1]!.m.pairEnd + 1 === chosen[runFrom]!.m.pairStart
    ) {
      runFrom--;
    }
  }
  for (let k = 0; k < runFrom; k++) {
    const { m, edit } = chosen[k]!;
    if (edit.op === 'remove') {
      splices.push({ start: m.pairStart, end: m.pairEnd + 1, text: '' });
    } else {
      const text = encodeFormValue(edit.value);
      if (m.hasEquals) splices.push({ start: m.valueStart, end: m.pairEnd, text });
      else splices.push({ start: m.pairEnd, end: m.pairEnd, text: '=' + text });
    }
  }
  if (runFrom < chosen.length) {
    const first = chosen[runFrom]!.m.pairStart;
    splices.push({ start: first > 0 ? first - 1 : 0, end: body.length, text: '' });
  }

  // Replacement text is ASCII: one byte per character.
  let size = body.length;
  for (const sp of splices) size += sp.text.length - (sp.end - sp.start);
  const out = Buffer.allocUnsafe(size);
  let from = 0;
  let to = 0;
  for (const sp of splices) {
    to += body.copy(out, to, from, sp.start);
    to += out.write(sp.text, to, 'latin1');
    from = sp.end;
  }
  to += body.copy(out, to, from, body.length);
  if (to !== size) throw new GatewayError('INTERNAL', 'form splice size mismatch');
  return out;
}

/**
 * The application/x-www-form-urlencoded codec. `scan` ignores its options.
 *
 * @example
 *   const selectors = [{ source: 'To', segments: [{ kind: 'key', key: 'To' }] }];
 *   const result = formCodec.scan(Buffer.from('To=%2B14155551234&Body=hi'), selectors, { maxDepth: 64 });
 *   result.matches[0].value // '+14155551234'
 *   formCodec.apply(body, result, [{ op: 'replace', value: 'tok_1' }]).toString() // 'To=tok_1&Body=hi'
 */
export const formCodec: Codec<FormMatch> = Object.freeze({ name: 'form', scan, apply });

/**
 * Splits a request target (`/path?query`) into the path and the raw query bytes (without '?'), so the form
 * codec can scan and rewrite query parameters. Bytes are kept as they came: Node hands the request target over
 * as a latin1 string, one character per byte. `query` is null when there is no '?'.
 *
 * @example
 *   const { path, query } = splitQuery('/send?to=%2B1415&x=1');
 *   const result = formCodec.scan(query!, selectors, { maxDepth: 1 });
 *   const target = joinQuery(path, formCodec.apply(query!, result, edits));
 */
export function splitQuery(pathAndQuery: string): { path: string; query: Buffer | null } {
  const q = pathAndQuery.indexOf('?');
  if (q === -1) return { path: pathAndQuery, query: null };
  return { path: pathAndQuery.slice(0, q), query: Buffer.from(pathAndQuery.slice(q + 1), 'latin1') };
}

/** The inverse of splitQuery: `path?query` (the query as latin1, byte for byte); `path` alone when query is null. */
export function joinQuery(path: string, query: Buffer | null): string {
  return query === null ? path : `${path}?${query.toString('latin1')}`;
}
