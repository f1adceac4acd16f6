/**
 * Field selectors: the documented JSONPath subset rule files use to point at fields.
 *
 *   $.a.b            child keys
 *   $['key with spaces'] / $["MSG-sms"]   bracketed keys (any characters; \\ and \' escapes)
 *   $.a[*]           every element of an array (or every member of an object)
 *   $.a[0]           one array element
 *   $..name          every member called `name` at any depth below
 *
 * Compiled once when rules load; the hot path only walks `segments`. Selectors never come from request data.
 * (Implementation: codecs/selector.ts; this header documents the contract.)
 */
export type Segment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'descendant'; readonly key: string };

export interface CompiledSelector {
  /** The selector as written in the rule file (for messages). */
  readonly source: string;
  readonly segments: readonly Segment[];
}

// ---------------------------------------------------------------------------------------------------------------
// Implementation. A hand-written parser (no regex over the whole source), so errors can name the exact column.
//
// Decisions:
//  - A dotted key (`.name`, `..name`) is one or more of [A-Za-z0-9_$-]; anything else needs brackets.
//  - Bracketed keys take '...' or "..." with the escapes \\ \' \" \/ \b \f \n \r \t \uXXXX.
//  - `.*` is accepted as a spelling of `[*]`.
//  - A bare `$` (the whole body) is refused: a rule must point at a field, and the root cannot be removed.
//  - Filters `[?...]`, slices `[0:2]`, unions `[0,1]`, negative indexes and recursive wildcards `..*` are refused.
//  - No whitespace anywhere outside quoted keys.
// ---------------------------------------------------------------------------------------------------------------

/**
 * A selector that does not follow the documented grammar. `offset` is the 0-based index into the source;
 * the message names the 1-based column and what was expected there.
 */
export class SelectorSyntaxError extends Error {
  override readonly name = 'SelectorSyntaxError';
  readonly offset: number;

  constructor(source: string, offset: number, expected: string) {
    super(`invalid selector ${JSON.stringify(source)}: ${expected} at column ${offset + 1}`);
    this.offset = offset;
  }
}

/** Largest array index a selector may name (keeps indexes exact and comparable as int32). */
const MAX_INDEX = 0x7fffffff;

function isDotKeyChar(c: number): boolean {
  return (
    (c >= 0x61 && c <= 0x7a) || // a-z
    (c >= 0x41 && c <= 0x5a) || // A-Z
    (c >= 0x30 && c <= 0x39) || // 0-9
    c === 0x5f || // _
    c === 0x24 || // $
    c === 0x2d // -
  );
}

function isDigit(c: number): boolean {
  return c >= 0x30 && c <= 0x39;
}

/**
 * Compiles a selector written in the documented JSONPath subset (see docs/selectors.md).
 *
 * @example
 *   compileSelector("$.d[*].profileData['Customer Type']").segments
 *   // [{kind:'key',key:'d'}, {kind:'wildcard'}, {kind:'key',key:'profileData'}, {kind:'key',key:'Customer Type'}]
 * @throws SelectorSyntaxError with the offset of the first problem.
 */
export function compileSelector(source: string): CompiledSelector {
  const fail = (offset: number, expected: string): never => {
    throw new SelectorSyntaxError(source, offset, expected);
  };
  if (source.charCodeAt(0) !== 0x24) fail(0, "expected '$'");
  const segments: Segment[] = [];
  const n = source.length;
  let i = 1;

  const readDotKey = (): string => {
    const start = i;
    while (i < n && isDotKeyChar(source.charCodeAt(i))) i++;
    if (i === start) {
      fail(start, "expected a key of [A-Za-z0-9_$-] (use ['...'] for other characters)");
    }
    return source.slice(start, i);
  };

  const readQuoted = (): string => {
    const quote = source.charCodeAt(i);
    i++;
    let out = '';
    let runStart = i;
    for (;;) {
      if (i >= n) return fail(i, `expected closing ${String.fromCharCode(quote)}`);
      const c = source.charCodeAt(i);
      if (c === quote) {
        out += source.slice(runStart, i);
        i++;
        return out;
      }
      if (c !== 0x5c) {
        i++;
        continue;
      }
      out += source.slice(runStart, i);
      const e = source.charCodeAt(i + 1);
      switch (e) {
        case 0x5c: out += '\\'; i += 2; break;
        case 0x27: out += "'"; i += 2; break;
        case 0x22: out += '"'; i += 2; break;
        case 0x2f: out += '/'; i += 2; break;
        case 0x62: out += '\b'; i += 2; break;
        case 0x66: out += '\f'; i += 2; break;
        case 0x6e: out += '\n'; i += 2; break;
        case 0x72: out += '\r'; i += 2; break;
        case 0x74: out += '\t'; i += 2; break;
        case 0x75: {
          const hex = source.slice(i + 2, i + 6);
          if (!/^[0-9A-Fa-f]{4}$/.test(hex)) fail(i + 2, 'expected 4 hex digits after \\u');
          out += String.fromCharCode(parseInt(hex, 16));
          i += 6;
          break;
        }
        default:
          fail(i + 1, "expected one of \\\\ \\' \\\" \\/ \\b \\f \\n \\r \\t \\uXXXX");
      }
      runStart = i;
    }
  };

  // After '[': a quoted key, '*' or an index; then ']'. Anything else is a construct we refuse by name.
  const readBracket = (bracketAt: number): Segment => {
    const c = source.charCodeAt(i);
    let seg: Segment;
    if (c === 0x27 || c === 0x22) {
      seg = { kind: 'key', key: readQuoted() };
    } else if (c === 0x2a) {
      i++;
      seg = { kind: 'wildcard' };
    } else if (isDigit(c)) {
      const start = i;
      while (i < n && isDigit(source.charCodeAt(i))) i++;
      const text = source.slice(start, i);
      if (text.length > 1 && text.charCodeAt(0) === 0x30) fail(start, 'expected an index without leading zeros');
      const index = Number(text);
      if (index > MAX_INDEX) fail(start, `expected an index of at most ${MAX_INDEX}`);
      seg = { kind: 'index', index };
    } else if (c === 0x3f) {
      return fail(i, 'filter expressions [?...] are not supported; expected a quoted key, * or an index');
    } else if (c === 0x2d) {
      return fail(i, 'negative indexes are not supported; expected an index >= 0');
    } else if (c === 0x3a) {
      return fail(i, 'slices [a:b] are not supported; expected a quoted key, * or an index');
    } else {
      return fail(i, "expected a quoted key ('...' or \"...\"), * or an index after '['");
    }
    const d = source.charCodeAt(i);
    if (d === 0x5d) {
      i++;
      return seg;
    }
    if (d === 0x3a) fail(i, `slices are not supported; expected ']' (closing the '[' of column ${bracketAt + 1})`);
    if (d === 0x2c) fail(i, `unions are not supported; expected ']' (closing the '[' of column ${bracketAt + 1})`);
    return fail(i, `expected ']' (closing the '[' of column ${bracketAt + 1})`);
  };

  while (i < n) {
    const c = source.charCodeAt(i);
    if (c === 0x2e) {
      if (source.charCodeAt(i + 1) === 0x2e) {
        // recursive descent: ..name or ..['name']
        i += 2;
        const d = source.charCodeAt(i);
        if (d === 0x5b) {
          const at = i;
          i++;
          const seg = readBracket(at);
          if (seg.kind !== 'key') {
            fail(at + 1, "recursive descent takes a member name only; expected ..name or ..['name']");
          }
          segments.push({ kind: 'descendant', key: (seg as { key: string }).key });
        } else if (d === 0x2a) {
          fail(i, "recursive wildcards (..*) are not supported; expected ..name or ..['name']");
        } else {
          segments.push({ kind: 'descendant', key: readDotKey() });
        }
      } else {
        i++;
        if (source.charCodeAt(i) === 0x2a) {
          i++;
          segments.push({ kind: 'wildcard' });
        } else {
          segments.push({ kind: 'key', key: readDotKey() });
        }
      }
    } else if (c === 0x5b) {
      const at = i;
      i++;
      segments.push(readBracket(at));
    } else {
      fail(i, "expected '.', '..' or '['");
    }
  }
  if (segments.length === 0) fail(n, "expected '.', '..' or '[' (a bare '$' selects nothing)");
  return Object.freeze({ source, segments: Object.freeze(segments) });
}

const PLAIN_KEY = /^[A-Za-z_$][A-Za-z0-9_$-]*$/;

function quoteKey(key: string): string {
  let out = "['";
  for (let i = 0; i < key.length; i++) {
    const c = key.charCodeAt(i);
    if (c === 0x27) out += "\\'";
    else if (c === 0x5c) out += '\\\\';
    else if (c < 0x20 || c === 0x7f) out += '\\u' + c.toString(16).padStart(4, '0');
    else out += key[i];
  }
  return out + "']";
}

/**
 * Formats a concrete location for messages and `GatewayError.field`. Keys that are plain identifiers use dots,
 * anything else is bracketed (and would compile back to the same path).
 *
 * @example
 *   formatPath(['d', 0, 'profileData', 'Customer Type']) // "$.d[0].profileData['Customer Type']"
 */
export function formatPath(parts: readonly (string | number)[]): string {
  let out = '$';
  for (const p of parts) {
    if (typeof p === 'number') out += `[${p}]`;
    else if (PLAIN_KEY.test(p)) out += '.' + p;
    else out += quoteKey(p);
  }
  return out;
}
