/**
 * Property tests for the JSON codec against JSON.parse and a naive reference matcher.
 */
import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { prng } from '../../test/helpers/prng.js';
import { isGatewayError } from '../errors.js';
import { jsonCodec } from './json.js';
import { compileSelector, formatPath, type Segment } from './selector.js';

type Json = null | boolean | number | string | Json[] | { [k: string]: Json };
type PathPart = string | number;

const WS = [' ', '\t', '\n', '\r', '  ', '\r\n'];
const SHORT: Record<string, string> = {
  '"': '\\"', '\\': '\\\\', '/': '\\/', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t',
};

/** JSON text for `v` with random whitespace, random optional escapes in strings and odd number spellings. */
function serialize(v: Json, rnd: () => number): string {
  const ws = (): string => (rnd() < 0.3 ? WS[Math.floor(rnd() * WS.length)]! : '');
  const str = (s: string): string => {
    let out = '"';
    for (const ch of s) {
      const cp = ch.codePointAt(0)!;
      if (ch === '"' || ch === '\\' || cp < 0x20 || rnd() < 0.1) {
        const short = SHORT[ch];
        if (short !== undefined && rnd() < 0.7) out += short;
        else for (let k = 0; k < ch.length; k++) out += '\\u' + ch.charCodeAt(k).toString(16).padStart(4, '0');
      } else {
        out += ch;
      }
    }
    return out + '"';
  };
  const num = (n: number): string => {
    const s = JSON.stringify(n);
    if (/^-?\d+$/.test(s) && rnd() < 0.3) return s + (rnd() < 0.5 ? '.0e0' : 'E+00');
    return s;
  };
  const go = (x: Json): string => {
    if (x === null || typeof x === 'boolean') return JSON.stringify(x);
    if (typeof x === 'number') return num(x);
    if (typeof x === 'string') return str(x);
    if (Array.isArray(x)) return '[' + ws() + x.map((e) => go(e) + ws()).join(',' + ws()) + ']';
    const keys = Object.keys(x);
    return '{' + ws() + keys.map((k) => str(k) + ws() + ':' + ws() + go(x[k]!) + ws()).join(',' + ws()) + '}';
  };
  return ws() + go(v) + ws();
}

/** Every path in `v` except the root, in document order (the order `serialize` writes members). */
function allPaths(v: Json, prefix: PathPart[] = [], out: PathPart[][] = []): PathPart[][] {
  if (v === null || typeof v !== 'object') return out;
  const entries: [PathPart, Json][] = Array.isArray(v) ? v.map((e, k) => [k, e]) : Object.keys(v).map((k) => [k, v[k]!]);
  for (const [k, child] of entries) {
    const p = [...prefix, k];
    out.push(p);
    allPaths(child, p, out);
  }
  return out;
}

/** Naive reference semantics of a compiled selector against one concrete path. */
function refMatches(segs: readonly Segment[], path: readonly PathPart[]): boolean {
  const go = (s: number, p: number): boolean => {
    if (s === segs.length) return p === path.length;
    if (p === path.length) return false;
    const seg = segs[s]!;
    const part = path[p]!;
    switch (seg.kind) {
      case 'key': return typeof part === 'string' && part === seg.key && go(s + 1, p + 1);
      case 'index': return part === seg.index && go(s + 1, p + 1);
      case 'wildcard': return go(s + 1, p + 1);
      case 'descendant':
        return (typeof part === 'string' && part === seg.key && go(s + 1, p + 1)) || go(s, p + 1);
    }
  };
  return go(0, 0);
}

function getAt(root: Json, path: readonly PathPart[]): Json {
  let cur = root;
  for (const k of path) cur = (cur as Record<string, Json>)[k as string]!;
  return cur;
}

function setAt(root: Json, path: readonly PathPart[], value: Json): Json {
  if (path.length === 0) return value;
  let cur = root as Record<string, Json>;
  for (const k of path.slice(0, -1)) cur = cur[k as string] as Record<string, Json>;
  // defineProperty, not assignment: a "__proto__" member must stay an own property
  Object.defineProperty(cur, path[path.length - 1]!, { value, enumerable: true, writable: true, configurable: true });
  return root;
}

const jsonDoc = fc.jsonValue({ maxDepth: 4, stringUnit: 'grapheme' }) as fc.Arbitrary<Json>;
const replacement = fc.string({ unit: 'grapheme', maxLength: 12 });

describe('json codec properties', () => {
  it('replacing existing paths changes exactly those values and no other byte', () => {
    fc.assert(
      fc.property(jsonDoc, fc.integer(), fc.infiniteStream(fc.tuple(fc.double({ min: 0, max: 1 }), replacement)), (doc, seed, choices) => {
        const text = serialize(doc, prng(seed));
        const body = Buffer.from(text, 'utf8');
        const paths = allPaths(doc);
        if (paths.length === 0) return;
        const it = choices[Symbol.iterator]();
        const chosen = paths.filter(() => it.next().value![0] < 0.3);
        const values = chosen.map(() => it.next().value![1]);
        const selectors = chosen.map((p) => compileSelector(formatPath(p)));
        const result = jsonCodec.scan(body, selectors, { maxDepth: 16 });

        // each exact-path selector matches once, at its path
        expect(result.matches.map((m) => m.selector).sort((x, y) => x - y)).toEqual(chosen.map((_, k) => k));
        for (const m of result.matches) {
          expect(m.path).toBe(formatPath(chosen[m.selector]!));
          const original = getAt(doc, chosen[m.selector]!);
          expect(m.value).toBe(typeof original === 'string' ? original : undefined);
        }

        const edits = result.matches.map((m) => ({ op: 'replace' as const, value: values[m.selector]! }));
        const out = jsonCodec.apply(body, result, edits);

        // parsed: the original with those values replaced (outer replacements win over inner ones)
        let expected = JSON.parse(text) as Json;
        const order = chosen.map((p, k) => [p, k] as const).sort((x, y) => y[0].length - x[0].length);
        for (const [p, k] of order) expected = setAt(expected, p, values[k]!);
        expect(JSON.parse(out.toString('utf8'))).toEqual(expected);

        // bytes: identical outside the outermost replaced spans
        const spans = result.matches
          .map((m) => [m.valueStart, m.valueEnd, values[m.selector]!] as const)
          .sort((x, y) => x[0] - y[0] || y[1] - x[1]);
        let inAt = 0;
        let outAt = 0;
        for (const [s, e, v] of spans) {
          if (s < inAt) continue; // nested in a span already replaced
          expect(out.subarray(outAt, outAt + (s - inAt)).equals(body.subarray(inAt, s))).toBe(true);
          outAt += s - inAt;
          const lit = Buffer.from(JSON.stringify(v), 'utf8');
          expect(out.subarray(outAt, outAt + lit.length).equals(lit)).toBe(true);
          outAt += lit.length;
          inAt = e;
        }
        expect(out.subarray(outAt).equals(body.subarray(inAt))).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('random removals and replacements keep the document valid and do exactly what was asked', () => {
    fc.assert(
      fc.property(jsonDoc, fc.integer(), fc.infiniteStream(fc.nat({ max: 9 })), (doc, seed, choices) => {
        const text = serialize(doc, prng(seed));
        const body = Buffer.from(text, 'utf8');
        const it = choices[Symbol.iterator]();
        // 0-2: remove, 3-4: replace, else untouched
        const chosen = allPaths(doc)
          .map((p) => [p, it.next().value!] as const)
          .filter(([, c]) => c < 5)
          .map(([p, c]) => ({ path: p, op: c < 3 ? ('remove' as const) : ('replace' as const) }));
        const selectors = chosen.map((c) => compileSelector(formatPath(c.path)));
        const result = jsonCodec.scan(body, selectors, { maxDepth: 16 });
        const edits = result.matches.map((m) => {
          const c = chosen[m.selector]!;
          return c.op === 'remove' ? { op: 'remove' as const } : { op: 'replace' as const, value: `R${m.selector}` };
        });
        const out = jsonCodec.apply(body, result, edits).toString('utf8');

        // Deeper edits first (an outer edit overrides them); siblings in one array from the highest index down.
        let expected = JSON.parse(text) as Json;
        const order = chosen
          .map((c, k) => ({ ...c, k }))
          .sort((x, y) => {
            if (x.path.length !== y.path.length) return y.path.length - x.path.length;
            for (let j = 0; j < x.path.length; j++) {
              const a = x.path[j]!;
              const b = y.path[j]!;
              if (a !== b) return typeof a === 'number' && typeof b === 'number' ? b - a : String(b) < String(a) ? -1 : 1;
            }
            return 0;
          });
        for (const c of order) {
          if (c.op === 'replace') {
            expected = setAt(expected, c.path, `R${c.k}`);
            continue;
          }
          const parent = getAt(expected, c.path.slice(0, -1)) as Json[] | Record<string, Json>;
          const last = c.path[c.path.length - 1]!;
          if (Array.isArray(parent)) parent.splice(last as number, 1);
          else delete parent[last];
        }
        expect(JSON.parse(out)).toEqual(expected);
      }),
      { numRuns: 300 },
    );
  });

  it('matches what a naive reference matcher says, in document order', () => {
    const keyOf = (doc: Json): fc.Arbitrary<string> => {
      const keys = allPaths(doc).flatMap((p) => p.filter((k): k is string => typeof k === 'string'));
      return keys.length > 0 ? fc.oneof(fc.constantFrom(...keys), fc.string({ maxLength: 2 })) : fc.string({ maxLength: 2 });
    };
    const segment = (doc: Json): fc.Arbitrary<Segment> =>
      fc.oneof(
        keyOf(doc).map((key) => ({ kind: 'key' as const, key })),
        keyOf(doc).map((key) => ({ kind: 'descendant' as const, key })),
        fc.nat({ max: 3 }).map((index) => ({ kind: 'index' as const, index })),
        fc.constant({ kind: 'wildcard' as const }),
      );
    const arb = jsonDoc.chain((doc) =>
      fc.tuple(fc.constant(doc), fc.array(fc.array(segment(doc), { minLength: 1, maxLength: 4 }), { minLength: 1, maxLength: 4 })),
    );
    fc.assert(
      fc.property(arb, fc.integer(), ([doc, segLists], seed) => {
        const body = Buffer.from(serialize(doc, prng(seed)));
        const selectors = segLists.map((segments) => ({ source: 'generated', segments }));
        const got = jsonCodec.scan(body, selectors, { maxDepth: 16 }).matches.map((m) => `${m.selector} ${m.path}`);
        const want: string[] = [];
        for (const p of allPaths(doc)) {
          selectors.forEach((s, k) => {
            if (refMatches(s.segments, p)) want.push(`${k} ${formatPath(p)}`);
          });
        }
        expect(got).toEqual(want);
      }),
      { numRuns: 300 },
    );
  });

  it('accepts exactly what JSON.parse accepts, except duplicate keys and lone surrogates', () => {
    const tokens = ['{', '}', '[', ']', ',', ':', '"', '"a"', '"\\u00e9"', '"\\ud800"', '\\', '1', '-', '0', '.',
      'e', '+', 'true', 'nul', 'null', ' ', '\n', '\t', '\u00a0', '\u0001', '/', 'u', 'é'];
    const mutated = fc
      .tuple(fc.json({ maxDepth: 3, stringUnit: 'binary' }), fc.nat(), fc.constantFrom(...tokens), fc.boolean())
      .map(([j, at, tok, del]) => {
        const k = at % (j.length + 1);
        return del ? j.slice(0, k) + j.slice(k + 1) : j.slice(0, k) + tok + j.slice(k);
      });
    const soup = fc.array(fc.constantFrom(...tokens), { maxLength: 12 }).map((t) => t.join(''));
    const input = fc.oneof(fc.json({ maxDepth: 3, stringUnit: 'binary' }), mutated, soup);
    fc.assert(
      fc.property(input, (text) => {
        let parsed = true;
        try {
          JSON.parse(text);
        } catch {
          parsed = false;
        }
        let code: string | undefined;
        try {
          jsonCodec.scan(Buffer.from(text, 'utf8'), [], { maxDepth: 1000 });
        } catch (err) {
          if (!isGatewayError(err)) throw err;
          code = err.code;
        }
        if (!parsed) {
          expect(code).toBeDefined();
        } else if (code !== undefined) {
          expect(['DUPLICATE_KEY', 'LONE_SURROGATE']).toContain(code);
          if (code === 'LONE_SURROGATE') expect(text).toMatch(/\\u[dD][89a-fA-F]/);
        }
      }),
      { numRuns: 3000 },
    );
  });
});
