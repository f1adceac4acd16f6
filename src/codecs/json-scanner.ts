/**
 * The JSON codec's scanner: one pass over the Buffer that validates RFC 8259 strictly and records byte offsets
 * of the values that compiled selectors match. See json.ts for the codec and its guarantees.
 *
 * Iterative (per-depth typed arrays, never recursion per nesting level), no allocation per byte, objects built only
 * for matched values. Selectors run as the NFA of json-automaton.ts: each open container holds its live states as
 * a slice of one stack, and a child's states are derived from its container's states and its key or index.
 */
import { GatewayError, type ErrorCode } from '../errors.js';
import { formatPath } from './selector.js';
import type { Match, ValueKind } from './types.js';
import * as automaton from './json-automaton.js';
import type { Automaton } from './json-automaton.js';
import { decodeJsonString, utf8SequenceLength } from './json-string.js';

/** A JSON match with the byte offsets `apply` (and callers who want them) need. */
export interface JsonMatch extends Match {
  /** First byte of the value (the opening quote of a string). */
  readonly valueStart: number;
  /** One past the last byte of the value. */
  readonly valueEnd: number;
  /** First byte of the member: the key's opening quote in an object, `valueStart` in an array or at the root. */
  readonly memberStart: number;
  /** One past the member's last byte (always `valueEnd`). */
  readonly memberEnd: number;
  /** What holds the value; `root` for the top-level value. */
  readonly container: 'object' | 'array' | 'root';
  /** Offset of the container's `{` or `[`; -1 for the root. */
  readonly containerStart: number;
  /** `valueEnd` of the previous member of the same container, or -1 when this is the first. */
  readonly prevSiblingEnd: number;
  /** `memberStart` of the next member of the same container, or -1 when this is the last. */
  readonly nextSiblingStart: number;
}

/** Mutable while the scan fills in what is only known later (ends, next sibling, decoded value). */
class MatchRecord implements JsonMatch {
  valueEnd = -1;
  memberEnd = -1;
  nextSiblingStart = -1;
  value: string | undefined = undefined;
  constructor(
    readonly selector: number,
    readonly path: string,
    readonly kind: ValueKind,
    readonly valueStart: number,
    readonly memberStart: number,
    readonly container: 'object' | 'array' | 'root',
    readonly containerStart: number,
    readonly prevSiblingEnd: number,
  ) {}
}

// Imported constants copied into module-local consts: some loaders (tsx, vitest) turn imported bindings into
// getter calls, which would cost a call per state per value in the hot loop.
const S_FINAL = automaton.S_FINAL;
const S_KEY = automaton.S_KEY;
const S_INDEX = automaton.S_INDEX;
const S_WILDCARD = automaton.S_WILDCARD;
const S_DESC = automaton.S_DESC;

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const C_OBJ = 1;
const C_ARR = 2;
/** Objects with more members than this detect duplicates with a Set instead of pairwise comparison. */
const LINEAR_KEYS = 16;

/** 1 for bytes that may stand unescaped in a string, once the body is known to be UTF-8. */
const STRING_PLAIN = new Uint8Array(256);
for (let c = 0x20; c < 256; c++) STRING_PLAIN[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;
/** The same for a body that failed isUtf8: non-ASCII bytes take the validating path. */
const STRING_PLAIN_ASCII = new Uint8Array(256);
for (let c = 0x20; c < 0x80; c++) STRING_PLAIN_ASCII[c] = c === QUOTE || c === BACKSLASH ? 0 : 1;
const WS = new Uint8Array(256);
WS[0x20] = WS[0x09] = WS[0x0a] = WS[0x0d] = 1;
/** Keys formatPath writes with a dot: [A-Za-z_$][A-Za-z0-9_$-]*. */
const IDENT_START = new Uint8Array(256);
const IDENT = new Uint8Array(256);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  IDENT_START[c] = /[A-Za-z_$]/.test(ch) ? 1 : 0;
  IDENT[c] = /[A-Za-z0-9_$-]/.test(ch) ? 1 : 0;
}
const DIGIT = new Uint8Array(256);
for (let c = 0x30; c <= 0x39; c++) DIGIT[c] = 1;

const TRUE = [0x74, 0x72, 0x75, 0x65];
const FALSE = [0x66, 0x61, 0x6c, 0x73, 0x65];
const NULL = [0x6e, 0x75, 0x6c, 0x6c];

function hexValue(c: number | undefined): number {
  if (c === undefined) return -1;
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

function kindOf(c: number | undefined): ValueKind {
  switch (c) {
    case QUOTE: return 'string';
    case 0x7b: return 'object';
    case 0x5b: return 'array';
    case 0x74: case 0x66: return 'boolean';
    case 0x6e: return 'null';
    default: return 'number';
  }
}

const growI32 = (a: Int32Array, cap: number): Int32Array<ArrayBuffer> => {
  const r = new Int32Array(cap);
  r.set(a);
  return r;
};
const growU8 = (a: Uint8Array, cap: number): Uint8Array<ArrayBuffer> => {
  const r = new Uint8Array(cap);
  r.set(a);
  return r;
};

/**
 * Scans `body` and returns the matches in document order (several selectors on one value: selector order).
 * Throws GatewayError INVALID_JSON / DUPLICATE_KEY / INVALID_UTF8 / LONE_SURROGATE / TOO_DEEP.
 */
export function scanJson(body: Buffer, automaton: Automaton, maxDepth: number, utf8Ok: boolean): JsonMatch[] {
  const s = new Scanner(body, automaton, maxDepth, utf8Ok);
  s.run();
  return s.matches;
}

/**
 * Per-depth arrays are indexed by container depth (1 = the top-level container); index 0 is the virtual holder
 * of the root value. They grow on demand, so a large maxDepth costs nothing up front.
 */
class Scanner {
  private readonly b: Buffer;
  private readonly n: number;
  private readonly a: Automaton;
  private readonly maxDepth: number;
  private readonly utf8Ok: boolean;
  private readonly plain: Uint8Array;
  readonly matches: MatchRecord[] = [];

  private depth = 0;
  private cap = 0;
  private ctype = new Uint8Array(0); // C_OBJ | C_ARR
  private cstart = new Int32Array(0); // offset of the '{' or '['
  private index = new Int32Array(0); // arrays: index of the current element (-1 before the first)
  private keyStart = new Int32Array(0); // objects: current key, inside the quotes (-1 before the first)
  private keyEnd = new Int32Array(0);
  private keyEsc = new Uint8Array(0); // current key has a backslash
  private memberCount = new Int32Array(0); // objects: members so far
  private keyBase = new Int32Array(0); // objects: first slot in the key stack
  private lastEnd = new Int32Array(0); // valueEnd of the previous member, -1 before the first
  private pendFirst = new Int32Array(0); // matches of the current member: first index, count
  private pendCount = new Int32Array(0);
  private frameStart = new Int32Array(0); // the container's live states: states[frameStart, frameEnd)
  private frameEnd = new Int32Array(0);
  private readonly keySets: (Set<string> | undefined)[] = [];
  private readonly pathCache: (string | undefined)[] = [];

  private states = new Int32Array(64);
  private readonly stamp: Int32Array; // per state: generation last added (dedupes a child's state set)
  private readonly selStamp: Int32Array; // per selector: generation last matched (one match per selector)
  private gen = 0;

  // Keys of the open objects that are still small, for duplicate detection.
  private ksStart = new Int32Array(64);
  private ksEnd = new Int32Array(64);
  private ksEsc = new Uint8Array(64);
  private ksTop = 0;

  /** Set by scanString: whether the string just scanned had a backslash. */
  private sawEscape = false;

  constructor(body: Buffer, automaton: Automaton, maxDepth: number, utf8Ok: boolean) {
    this.b = body;
    this.n = body.length;
    this.a = automaton;
    this.maxDepth = maxDepth;
    this.utf8Ok = utf8Ok;
    this.plain = utf8Ok ? STRING_PLAIN : STRING_PLAIN_ASCII;
    this.stamp = new Int32Array(automaton.count);
    this.selStamp = new Int32Array(automaton.selectorCount);
    this.grow(32);
  }

  private grow(min: number): void {
    const cap = Math.max(min, this.cap * 2);
    this.ctype = growU8(this.ctype, cap);
    this.cstart = growI32(this.cstart, cap);
    this.index = growI32(this.index, cap);
    this.keyStart = growI32(this.keyStart, cap);
    this.keyEnd = growI32(this.keyEnd, cap);
    this.keyEsc = growU8(this.keyEsc, cap);
    this.memberCount = growI32(this.memberCount, cap);
    this.keyBase = growI32(this.keyBase, cap);
    this.lastEnd = growI32(this.lastEnd, cap);
    this.pendFirst = growI32(this.pendFirst, cap);
    this.pendCount = growI32(this.pendCount, cap);
    this.frameStart = growI32(this.frameStart, cap);
    this.frameEnd = growI32(this.frameEnd, cap);
    this.cap = cap;
  }

  // ---- the driver -----------------------------------------------------------------------------------------------

  run(): void {
    const b = this.b;
    const n = this.n;
    if (n >= 3 && b[0] === 0xef && b[1] === 0xbb && b[2] === 0xbf) {
      this.fail('INVALID_JSON', 'invalid JSON: a byte order mark is not allowed (RFC 8259 section 8.1)');
    }
    // The root value's live states are the selectors' start states.
    const init = this.a.initial;
    for (let k = 0; k < init.length; k++) this.push(k, init[k]!);
    this.lastEnd[0] = -1;
    let i = this.ws(0);
    let vFrom = 0;
    let vTo = init.length;
    if (i < n) this.emit(0, vFrom, vTo, i, i);

    let depth = 0;
    let afterValue = false;
    for (;;) {
      if (!afterValue) {
        // Read a value at i; its live states are states[vFrom, vTo).
        if (i >= n) this.syntax(i, 'a value');
        const c = b[i]!;
        if (c === 0x7b || c === 0x5b) {
          if (depth >= this.maxDepth) {
            this.fail('TOO_DEEP', `nesting deeper than ${this.maxDepth} levels at byte ${i}`);
          }
          depth++;
          this.depth = depth;
          if (depth >= this.cap) this.grow(depth + 1);
          const isObj = c === 0x7b;
          this.ctype[depth] = isObj ? C_OBJ : C_ARR;
          this.cstart[depth] = i;
          this.index[depth] = -1;
          this.keyStart[depth] = -1;
          this.lastEnd[depth] = -1;
          this.pendCount[depth] = 0;
          this.frameStart[depth] = vFrom;
          this.frameEnd[depth] = vTo;
          if (vTo > vFrom) this.pathCache[depth] = undefined;
          if (isObj) {
            this.memberCount[depth] = 0;
            this.keyBase[depth] = this.ksTop;
          }
          i = this.ws(i + 1);
          if (i < n && b[i] === (isObj ? 0x7d : 0x5d)) {
            depth = this.close(depth, i);
            i++;
            afterValue = true;
            continue;
          }
          ({ i, vFrom, vTo } = this.member(depth, i));
          continue;
        }
        let end: number;
        if (c === QUOTE) {
          end = this.scanString(i);
          if (this.pendCount[depth]! > 0) this.fillString(depth, i + 1, end - 1);
        } else if (c === 0x2d || (c >= 0x30 && c <= 0x39)) {
          end = this.scanNumber(i);
        } else if (c === 0x74) {
          end = this.scanLiteral(i, TRUE);
        } else if (c === 0x66) {
          end = this.scanLiteral(i, FALSE);
        } else if (c === 0x6e) {
          end = this.scanLiteral(i, NULL);
        } else {
          return this.syntax(i, 'a value');
        }
        this.valueEnds(depth, end);
        i = end;
        afterValue = true;
        continue;
      }

      // After a value in the container at `depth`.
      i = this.ws(i);
      if (depth === 0) {
        if (i < n) this.syntax(i, 'end of input');
        return;
      }
      const c = i < n ? b[i] : -1;
      const isObj = this.ctype[depth] === C_OBJ;
      if (c === 0x2c) {
        ({ i, vFrom, vTo } = this.member(depth, this.ws(i + 1)));
        afterValue = false;
      } else if (c === (isObj ? 0x7d : 0x5d)) {
        depth = this.close(depth, i);
        i++;
      } else {
        this.syntax(i, isObj ? "',' or '}'" : "',' or ']'");
      }
    }
  }

  private readonly memberResult = { i: 0, vFrom: 0, vTo: 0 };

  /**
   * A member of the container at depth d starts at i (after any whitespace): reads the key and colon of an object
   * member, computes the value's live states and emits its matches. Returns where the value starts.
   */
  private member(d: number, i: number): { i: number; vFrom: number; vTo: number } {
    const b = this.b;
    const memberStart = i;
    this.memberBegins(d, memberStart);
    if (this.ctype[d] === C_OBJ) {
      if (i >= this.n || b[i] !== QUOTE) this.syntax(i, "'\"' to start a member name");
      const end = this.scanString(i);
      const esc = this.sawEscape ? 1 : 0;
      this.keyStart[d] = i + 1;
      this.keyEnd[d] = end - 1;
      this.keyEsc[d] = esc;
      this.addKey(d, i + 1, end - 1, esc);
      i = this.ws(end);
      if (i >= this.n || b[i] !== 0x3a) this.syntax(i, "':' after the member name");
      i = this.ws(i + 1);
    } else {
      this.index[d] = this.index[d]! + 1;
    }
    const r = this.memberResult;
    r.i = i;
    r.vFrom = this.frameEnd[d]!;
    r.vTo = this.childStates(d, r.vFrom);
    if (r.vTo > r.vFrom) this.emit(d, r.vFrom, r.vTo, i, memberStart);
    return r;
  }

  /** Closes the container at depth d (its closing bracket at i); returns the parent depth. */
  private close(d: number, i: number): number {
    if (this.ctype[d] === C_OBJ) this.ksTop = this.keyBase[d]!;
    this.pendCount[d] = 0;
    this.depth = d - 1;
    this.valueEnds(d - 1, i + 1);
    return d - 1;
  }

  // ---- selector states ------------------------------------------------------------------------------------------

  /** Pushes the live states of container d's current child, derived from the container's own; returns the top. */
  private childStates(d: number, top: number): number {
    const a = this.a;
    const from = this.frameStart[d]!;
    const to = this.frameEnd[d]!;
    if (from === to) return top;
    const isObj = this.ctype[d] === C_OBJ;
    const gen = ++this.gen;
    let out = top;
    for (let k = from; k < to; k++) {
      const s = this.states[k]!;
      let next = -1;
      switch (a.kind[s]) {
        case S_KEY:
          if (isObj && this.keyMatches(d, s)) next = a.next[s]!;
          break;
        case S_INDEX:
          if (!isObj && this.index[d] === a.index[s]) next = a.next[s]!;
          break;
        case S_WILDCARD:
          next = a.next[s]!;
          break;
        case S_DESC:
          if (this.stamp[s] !== gen) {
            this.stamp[s] = gen;
            out = this.push(out, s);
          }
          if (isObj && this.keyMatches(d, s)) next = a.next[s]!;
          break;
        default:
          break; // S_FINAL: the container itself was the match
      }
      if (next >= 0 && this.stamp[next] !== gen) {
        this.stamp[next] = gen;
        out = this.push(out, next);
      }
    }
    return out;
  }

  private keyMatches(d: number, s: number): boolean {
    if (this.keyEsc[d]) return this.keyAt(d) === this.a.keyStr[s];
    const kb = this.a.keyBytes[s]!;
    const ks = this.keyStart[d]!;
    const len = kb.length;
    if (this.keyEnd[d]! - ks !== len) return false;
    const b = this.b;
    for (let k = 0; k < len; k++) if (b[ks + k] !== kb[k]) return false;
    return true;
  }

  private push(out: number, s: number): number {
    if (out >= this.states.length) this.states = growI32(this.states, this.states.length * 2);
    this.states[out] = s;
    return out + 1;
  }

  /** One match per selector with a final state in states[from, to), for container d's current child. */
  private emit(d: number, from: number, to: number, valueStart: number, memberStart: number): void {
    const a = this.a;
    const gen = ++this.gen;
    const first = this.matches.length;
    let path: string | undefined;
    for (let k = from; k < to; k++) {
      const s = this.states[k]!;
      if (a.kind[s] !== S_FINAL) continue;
      const sel = a.selector[s]!;
      if (this.selStamp[sel] === gen) continue;
      this.selStamp[sel] = gen;
      path ??= this.childPath(d);
      const container = d === 0 ? 'root' : this.ctype[d] === C_OBJ ? 'object' : 'array';
      this.matches.push(
        new MatchRecord(
          sel, path, kindOf(this.b[valueStart]), valueStart, memberStart,
          container, d === 0 ? -1 : this.cstart[d]!, this.lastEnd[d]!,
        ),
      );
    }
    const count = this.matches.length - first;
    if (count > 1) {
      const sorted = this.matches.slice(first).sort((x, y) => x.selector - y.selector);
      for (let k = 0; k < count; k++) this.matches[first + k] = sorted[k]!;
    }
    this.pendFirst[d] = first;
    this.pendCount[d] = count;
  }

  /** A new member starts in container d: the previous member's matches learn where it starts. */
  private memberBegins(d: number, memberStart: number): void {
    const count = this.pendCount[d]!;
    if (count === 0) return;
    const first = this.pendFirst[d]!;
    for (let k = first; k < first + count; k++) this.matches[k]!.nextSiblingStart = memberStart;
    this.pendCount[d] = 0;
  }

  /** Container d's current member ended at `end`. */
  private valueEnds(d: number, end: number): void {
    this.lastEnd[d] = end;
    const count = this.pendCount[d]!;
    if (count === 0) return;
    const first = this.pendFirst[d]!;
    for (let k = first; k < first + count; k++) {
      const m = this.matches[k]!;
      m.valueEnd = end;
      m.memberEnd = end;
    }
  }

  /** Decodes a matched string value into the matches emitted for it. */
  private fillString(d: number, s: number, e: number): void {
    const value = this.sawEscape ? decodeJsonString(this.b, s, e) : this.b.toString('utf8', s, e);
    const first = this.pendFirst[d]!;
    const count = this.pendCount[d]!;
    for (let k = first; k < first + count; k++) this.matches[k]!.value = value;
  }

  /**
   * Path of container d's current child. Container paths are cached per depth while the container is open, so a
   * match costs one label formatting, not a walk from the root.
   */
  private childPath(d: number): string {
    if (d === 0) return '$';
    return this.containerPath(d) + this.label(d);
  }

  private containerPath(d: number): string {
    let k = d;
    while (k > 1 && this.pathCache[k] === undefined) k--; // iterative: documents may nest deeply
    let p = k === 1 ? '$' : this.pathCache[k]!;
    this.pathCache[k] = p;
    for (let j = k + 1; j <= d; j++) {
      p += this.label(j - 1);
      this.pathCache[j] = p;
    }
    return p;
  }

  /** `.key`, `['key']` or `[3]` for container d's current child. */
  private label(d: number): string {
    if (this.ctype[d] === C_ARR) return `[${this.index[d]!}]`;
    const s = this.keyStart[d]!;
    const e = this.keyEnd[d]!;
    if (!this.keyEsc[d] && e > s && IDENT_START[this.b[s]!] === 1) {
      let k = s + 1;
      while (k < e && IDENT[this.b[k]!] === 1) k++;
      if (k === e) return '.' + this.b.toString('latin1', s, e); // same as formatPath for identifier keys
    }
    return formatPath([this.keyAt(d)]).slice(1);
  }

  // ---- keys -----------------------------------------------------------------------------------------------------

  private keyAt(d: number): string {
    const s = this.keyStart[d]!;
    const e = this.keyEnd[d]!;
    return this.keyEsc[d] ? decodeJsonString(this.b, s, e) : this.b.toString('utf8', s, e);
  }

  /** Equal for equal decoded keys: the key's UTF-8 bytes as latin1 code units. */
  private canonicalKey(s: number, e: number, esc: number): string {
    if (!esc) return this.b.toString('latin1', s, e);
    return Buffer.from(decodeJsonString(this.b, s, e), 'utf8').toString('latin1');
  }

  private keysEqual(s1: number, e1: number, esc1: number, s2: number, e2: number, esc2: number): boolean {
    if (esc1 || esc2) return decodeJsonString(this.b, s1, e1) === decodeJsonString(this.b, s2, e2);
    const len = e1 - s1;
    if (len !== e2 - s2) return false;
    const b = this.b;
    for (let k = 0; k < len; k++) if (b[s1 + k] !== b[s2 + k]) return false;
    return true;
  }

  /** Records a member name of the object at depth d; refuses a duplicate (compared after decoding escapes). */
  private addKey(d: number, s: number, e: number, esc: number): void {
    const count = this.memberCount[d]!;
    this.memberCount[d] = count + 1;
    const base = this.keyBase[d]!;
    if (count < LINEAR_KEYS) {
      for (let k = base; k < base + count; k++) {
        if (this.keysEqual(this.ksStart[k]!, this.ksEnd[k]!, this.ksEsc[k]!, s, e, esc)) this.duplicate();
      }
      const top = base + count;
      if (top >= this.ksStart.length) {
        const cap = this.ksStart.length * 2;
        this.ksStart = growI32(this.ksStart, cap);
        this.ksEnd = growI32(this.ksEnd, cap);
        this.ksEsc = growU8(this.ksEsc, cap);
      }
      this.ksStart[top] = s;
      this.ksEnd[top] = e;
      this.ksEsc[top] = esc;
      this.ksTop = top + 1;
      return;
    }
    // A large object: pairwise comparison would be quadratic on hostile input, so hash canonical keys.
    let set = this.keySets[d];
    if (set === undefined) {
      set = new Set();
      this.keySets[d] = set;
    }
    if (count === LINEAR_KEYS) {
      set.clear();
      for (let k = base; k < base + LINEAR_KEYS; k++) {
        set.add(this.canonicalKey(this.ksStart[k]!, this.ksEnd[k]!, this.ksEsc[k]!));
      }
    }
    const key = this.canonicalKey(s, e, esc);
    if (set.has(key)) this.duplicate();
    set.add(key);
  }

  private duplicate(): never {
    return this.fail('DUPLICATE_KEY', 'duplicate member name in object');
  }

  // ---- lexing ---------------------------------------------------------------------------------------------------

  private ws(i: number): number {
    const b = this.b;
    const n = this.n;
    while (i < n && WS[b[i]!] === 1) i++;
    return i;
  }

  /** Validates the string whose opening quote is at i; returns the offset after its closing quote. */
  private scanString(i: number): number {
    const b = this.b;
    const n = this.n;
    const plain = this.plain;
    let esc = false;
    i++;
    for (;;) {
      while (i < n && plain[b[i]!] === 1) i++;
      if (i >= n) this.syntax(i, "'\"' to close the string");
      const c = b[i]!;
      if (c === QUOTE) {
        this.sawEscape = esc;
        return i + 1;
      }
      if (c === BACKSLASH) {
        esc = true;
        i = this.scanEscape(i);
      } else if (c < 0x20) {
        this.syntax(i, 'a string character (control characters must be escaped)');
      } else {
        // Only reached for non-ASCII bytes of a body that failed isUtf8.
        const len = utf8SequenceLength(b, i);
        if (len === 0) this.fail('INVALID_UTF8', `invalid UTF-8 byte sequence at byte ${i}`);
        i += len;
      }
    }
  }

  /** Validates the escape whose backslash is at i; returns the offset after it. */
  private scanEscape(i: number): number {
    const b = this.b;
    switch (b[i + 1]) {
      case 0x22: case 0x5c: case 0x2f: case 0x62: case 0x66: case 0x6e: case 0x72: case 0x74:
        return i + 2;
      case 0x75: {
        const u = this.hex4(i + 2);
        if (u >= 0xdc00 && u <= 0xdfff) this.fail('LONE_SURROGATE', `unpaired low surrogate escape at byte ${i}`);
        if (u < 0xd800 || u > 0xdbff) return i + 6;
        const paired = b[i + 6] === BACKSLASH && b[i + 7] === 0x75;
        const lo = paired ? this.hex4(i + 8) : -1;
        if (lo < 0xdc00 || lo > 0xdfff) {
          this.fail('LONE_SURROGATE', `high surrogate escape without a low surrogate after it at byte ${i}`);
        }
        return i + 12;
      }
      default:
        return this.syntax(i + 1, 'an escape character (one of " \\ / b f n r t u)');
    }
  }

  private hex4(i: number): number {
    let v = 0;
    for (let k = i; k < i + 4; k++) {
      const h = hexValue(this.b[k]);
      if (h < 0) this.syntax(k, 'a hex digit');
      v = (v << 4) | h;
    }
    return v;
  }

  /** Validates a number (RFC 8259 section 6) starting at i; returns the offset after it. Bytes are kept as-is. */
  private scanNumber(i: number): number {
    const b = this.b;
    const n = this.n;
    if (b[i] === 0x2d) i++;
    if (i < n && b[i] === 0x30) i++;
    else if (i < n && DIGIT[b[i]!] === 1) while (i < n && DIGIT[b[i]!] === 1) i++;
    else this.syntax(i, 'a digit');
    if (i < n && b[i] === 0x2e) {
      i++;
      if (!(i < n && DIGIT[b[i]!] === 1)) this.syntax(i, 'a digit after the decimal point');
      while (i < n && DIGIT[b[i]!] === 1) i++;
    }
    if (i < n && (b[i] === 0x65 || b[i] === 0x45)) {
      i++;
      if (i < n && (b[i] === 0x2b || b[i] === 0x2d)) i++;
      if (!(i < n && DIGIT[b[i]!] === 1)) this.syntax(i, 'a digit in the exponent');
      while (i < n && DIGIT[b[i]!] === 1) i++;
    }
    return i;
  }

  private scanLiteral(i: number, word: readonly number[]): number {
    for (let k = 0; k < word.length; k++) {
      if (this.b[i + k] !== word[k]) this.syntax(i + k, `'${String.fromCharCode(...word)}'`);
    }
    return i + word.length;
  }

  // ---- errors ---------------------------------------------------------------------------------------------------

  /** Concrete path of the value being read, or just read, at the current depth. Keys only, never values. */
  private currentPath(): string {
    const parts: (string | number)[] = [];
    for (let d = 1; d <= this.depth; d++) {
      if (this.ctype[d] === C_ARR) {
        if (this.index[d]! >= 0) parts.push(this.index[d]!);
      } else if (this.keyStart[d]! >= 0) {
        parts.push(this.keyAt(d));
      }
    }
    return formatPath(parts);
  }

  private fail(code: ErrorCode, message: string): never {
    throw new GatewayError(code, message, { field: this.currentPath() });
  }

  /** A syntax error at `at`; a non-UTF-8 byte there is reported as INVALID_UTF8 instead. */
  private syntax(at: number, expected: string): never {
    const b = this.b;
    if (at < this.n && b[at]! >= 0x80 && !this.utf8Ok && utf8SequenceLength(b, at) === 0) {
      this.fail('INVALID_UTF8', `invalid UTF-8 byte sequence at byte ${at}`);
    }
    const found = at >= this.n ? 'end of input' : 'another byte';
    return this.fail('INVALID_JSON', `invalid JSON: expected ${expected} at byte ${at}, found ${found}`);
  }
}
