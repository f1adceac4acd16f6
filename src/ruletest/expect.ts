/**
 * Matchers for rule tests: what a field, a header or a whole JSON document must look like.
 *
 * Pure: no I/O of its own. The two things that need keys or the vault (is this one of our tokens? what does
 * it detokenize to?) come in through `MatchContext`, which the runner builds over the test vault and unit
 * tests fake. Every check returns failure messages rather than throwing, so one run reports everything that
 * is wrong with a test. Messages quote test data (synthetic by convention), truncated.
 */
import { formatPath, type CompiledSelector, type Segment } from '../codecs/selector.js';
import type { TokenType } from '../tokens/types.js';
import type { FieldExpectation, HeaderExpectation, Matcher } from './format.js';

export interface MatchContext {
  /** Keyed check (no vault): `value` is a token of `type` in `namespace` (undefined: the test's default). */
  isToken(type: TokenType, namespace: string | undefined, value: string): boolean;
  /** The value a token stands for, or undefined when the vault does not know it. */
  detokenize(type: TokenType, namespace: string | undefined, token: string): Promise<string | undefined>;
  /** Canonical form of a raw value of `type` (what the vault stores), or undefined when it is not of that type. */
  normalize(type: TokenType, raw: string): string | undefined;
}

/** A location in a parsed JSON document: object keys are strings, array indexes numbers. */
export type JsonPath = readonly (string | number)[];

export interface Found {
  readonly path: JsonPath;
  readonly value: unknown;
}

/** 'a phone', 'an email', 'an opaque'. */
function a(type: string): string {
  return /^[aeiou]/.test(type) ? `an ${type}` : `a ${type}`;
}

/** Short printable form of a value for messages. */
export function show(value: unknown): string {
  if (value === undefined) return 'nothing';
  const text = JSON.stringify(value) ?? String(value);
  return text.length > 80 ? `${text.slice(0, 77)}...` : text;
}

/** Deep equality of JSON values (key order does not matter). */
export function jsonEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (typeof a !== 'object' || typeof b !== 'object' || a === null || b === null) return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a)) {
    const bb = b as unknown[];
    return a.length === bb.length && a.every((v, i) => jsonEqual(v, bb[i]));
  }
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.hasOwn(b, k) && jsonEqual((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k]));
}

function children(value: unknown): [string | number, unknown][] {
  if (Array.isArray(value)) return value.map((v, i) => [i, v]);
  if (value !== null && typeof value === 'object') return Object.entries(value);
  return [];
}

/**
 * Every value `selector` points at in a parsed document, with its concrete path, in document order.
 *
 * @example
 *   selectValues({ d: [{ Email: 'a@b.co' }] }, compileSelector('$.d[*].Email')) // [{ path: ['d', 0, 'Email'], value: 'a@b.co' }]
 */
export function selectValues(doc: unknown, selector: CompiledSelector): Found[] {
  let current: Found[] = [{ path: [], value: doc }];
  for (const seg of selector.segments) {
    const next: Found[] = [];
    for (const f of current) step(f, seg, next);
    current = next;
  }
  return current;
}

function step(f: Found, seg: Segment, out: Found[]): void {
  const v = f.value;
  switch (seg.kind) {
    case 'key':
      if (v !== null && typeof v === 'object' && !Array.isArray(v) && Object.hasOwn(v, seg.key)) {
        out.push({ path: [...f.path, seg.key], value: (v as Record<string, unknown>)[seg.key] });
      }
      return;
    case 'index':
      if (Array.isArray(v) && seg.index < v.length) out.push({ path: [...f.path, seg.index], value: v[seg.index] });
      return;
    case 'wildcard':
      for (const [k, child] of children(v)) out.push({ path: [...f.path, k], value: child });
      return;
    case 'descendant':
      for (const [k, child] of children(v)) {
        const p = [...f.path, k];
        if (k === seg.key && typeof k === 'string') out.push({ path: p, value: child });
        step({ path: p, value: child }, seg, out);
      }
      return;
  }
}

/** True when `selector` points exactly at `path` (in some document). */
export function selectorMatchesPath(selector: CompiledSelector, path: JsonPath): boolean {
  const segs = selector.segments;
  const go = (s: number, p: number): boolean => {
    if (s === segs.length) return p === path.length;
    if (p === path.length) return false;
    const seg = segs[s]!;
    const part = path[p]!;
    switch (seg.kind) {
      case 'key':
        return typeof part === 'string' && part === seg.key && go(s + 1, p + 1);
      case 'index':
        return part === seg.index && go(s + 1, p + 1);
      case 'wildcard':
        return go(s + 1, p + 1);
      case 'descendant':
        for (let q = p; q < path.length; q++) {
          if (path[q] === seg.key && go(s + 1, q + 1)) return true;
        }
        return false;
  }
  };
  return go(0, 0);
}

function valueAt(doc: unknown, path: JsonPath): { present: boolean; value: unknown } {
  let v = doc;
  for (const part of path) {
    if (typeof part === 'number' ? !Array.isArray(v) || part >= v.length : v === null || typeof v !== 'object' || Array.isArray(v) || !Object.hasOwn(v, part)) {
      return { present: false, value: undefined };
    }
    v = (v as Record<string | number, unknown>)[part];
  }
  return { present: true, value: v };
}

const HEX_DIGEST = /^[0-9a-f]{64}$/;
const B64URL_DIGEST = /^[A-Za-z0-9_-]{43}$/;

/**
 * Checks one present value. `input` is what the other side had at the same place (the request's value for
 * what the upstream received; the stand-in's answer for what the client got), when there was one.
 * Returns a failure message, or undefined when the value matches.
 */
export async function checkValue(
  matcher: Matcher,
  actual: unknown,
  input: { present: boolean; value: unknown },
  ctx: MatchContext,
): Promise<string | undefined> {
  switch (matcher.kind) {
    case 'equals':
      return jsonEqual(matcher.value, actual) ? undefined : `expected ${show(matcher.value)}, got ${show(actual)}`;
    case 'absent':
      return `expected no value, got ${show(actual)}`;
    case 'present':
      return undefined;
    case 'token': {
      if (typeof actual !== 'string' || !ctx.isToken(matcher.type, matcher.namespace, actual)) {
        return `expected ${a(matcher.type)} token, got ${show(actual)}`;
      }
      if (matcher.of === undefined) return undefined;
      const value = await ctx.detokenize(matcher.type, matcher.namespace, actual);
      if (value === undefined) return `the ${matcher.type} token ${show(actual)} is not known to the vault`;
      if (value === matcher.of || value === ctx.normalize(matcher.type, matcher.of)) return undefined;
      return `expected ${a(matcher.type)} token of ${show(matcher.of)}, but it stands for ${show(value)}`;
    }
    case 'masked':
      if (typeof actual !== 'string' || !actual.includes('*')) return `expected a masked value (with '*'), got ${show(actual)}`;
      if (input.present && input.value === actual) return `expected a masked value, but it is unchanged (${show(actual)})`;
      return undefined;
    case 'hashed': {
      const digest = typeof actual === 'string' && actual.startsWith(matcher.prefix) ? actual.slice(matcher.prefix.length) : undefined;
      if (digest === undefined || !(HEX_DIGEST.test(digest) || B64URL_DIGEST.test(digest))) {
        return `expected a hash ('${matcher.prefix}' then a hex or base64url digest), got ${show(actual)}`;
      }
      if (input.present && input.value === actual) return `expected a hashed value, but it is unchanged`;
      return undefined;
    }
  }
}

/**
 * Checks every `selector: matcher` line against a parsed document. `input` is the document the other side
 * had (undefined when it was not JSON); it supplies the "before" value for masked/hashed.
 *
 * @example
 *   await checkJson(test.upstream.json, received, sent, ctx) // ['$.d[0].Email: expected a email token, got "jack@gmail.com"']
 */
export async function checkJson(
  expectations: readonly FieldExpectation[],
  doc: unknown,
  input: unknown,
  ctx: MatchContext,
): Promise<string[]> {
  const failures: string[] = [];
  for (const e of expectations) {
    const found = selectValues(doc, e.selector);
    if (e.matcher.kind === 'absent') {
      for (const f of found) failures.push(`${formatPath(f.path)}: expected no value, got ${show(f.value)}`);
      continue;
    }
    if (found.length === 0) {
      failures.push(`${e.selector.source}: no value there (${describeMatcher(e.matcher)} expected)`);
      continue;
    }
    for (const f of found) {
      const before = input === undefined ? { present: false, value: undefined } : valueAt(input, f.path);
      const problem = await checkValue(e.matcher, f.value, before, ctx);
      if (problem !== undefined) failures.push(`${formatPath(f.path)}: ${problem}`);
    }
  }
  return failures;
}

/** Headers: names are matched case-insensitively; a repeated header is compared as its values joined with ', '. */
export async function checkHeaders(
  expectations: readonly HeaderExpectation[],
  headers: Readonly<Record<string, string | string[] | undefined>>,
  ctx: MatchContext,
): Promise<string[]> {
  const failures: string[] = [];
  const lower: Record<string, string> = Object.create(null);
  for (const [k, v] of Object.entries(headers)) if (v !== undefined) lower[k.toLowerCase()] = Array.isArray(v) ? v.join(', ') : v;
  for (const e of expectations) {
    const actual = lower[e.name];
    if (actual === undefined) {
      if (e.matcher.kind !== 'absent') failures.push(`header ${e.name}: missing (${describeMatcher(e.matcher)} expected)`);
      continue;
    }
    const problem = await checkValue(e.matcher, actual, { present: false, value: undefined }, ctx);
    if (problem !== undefined) failures.push(`header ${e.name}: ${problem}`);
  }
  return failures;
}

/** A few words on what a matcher wants, for "nothing there" messages. */
export function describeMatcher(m: Matcher): string {
  switch (m.kind) {
    case 'equals':
      return show(m.value);
    case 'token':
      return m.of === undefined ? `${a(m.type)} token` : `${a(m.type)} token of ${show(m.of)}`;
    case 'hashed':
      return 'a hash';
    default:
      return m.kind === 'absent' ? 'no value' : `${a(m.kind)} value`;
  }
}

/**
 * Differences between two documents outside the places `ignore` points at (and everything under them):
 * the `unchanged` check. At most `limit` messages, then a count of the rest.
 *
 * @example
 *   diffJson({ a: 1, b: 2 }, { a: 1, b: 3 }, []) // ['$.b: changed from 2 to 3']
 */
export function diffJson(before: unknown, after: unknown, ignore: readonly CompiledSelector[], limit = 5): string[] {
  const out: string[] = [];
  let more = 0;
  const report = (msg: string): void => {
    if (out.length < limit) out.push(msg);
    else more++;
  };
  const covered = (path: JsonPath): boolean => ignore.some((s) => selectorMatchesPath(s, path));
  const walk = (a: unknown, b: unknown, path: (string | number)[]): void => {
    if (path.length > 0 && covered(path)) return;
    const bothObjects = a !== null && b !== null && typeof a === 'object' && typeof b === 'object' && Array.isArray(a) === Array.isArray(b);
    if (!bothObjects) {
      if (!jsonEqual(a, b)) report(`${formatPath(path)}: changed from ${show(a)} to ${show(b)}`);
      return;
    }
    if (Array.isArray(a)) {
      const bb = b as unknown[];
      for (let i = 0; i < Math.max(a.length, bb.length); i++) {
        const p = [...path, i];
        if (covered(p)) continue;
        if (i >= bb.length) report(`${formatPath(p)}: removed (was ${show(a[i])})`);
        else if (i >= a.length) report(`${formatPath(p)}: added (${show(bb[i])})`);
        else walk(a[i], bb[i], p);
      }
      return;
    }
    const ao = a as Record<string, unknown>;
    const bo = b as Record<string, unknown>;
    for (const k of new Set([...Object.keys(ao), ...Object.keys(bo)])) {
      const p = [...path, k];
      if (covered(p)) continue;
      if (!Object.hasOwn(bo, k)) report(`${formatPath(p)}: removed (was ${show(ao[k])})`);
      else if (!Object.hasOwn(ao, k)) report(`${formatPath(p)}: added (${show(bo[k])})`);
      else walk(ao[k], bo[k], p);
    }
  };
  walk(before, after, []);
  if (more > 0) out.push(`... and ${more} more difference(s)`);
  return out;
}
