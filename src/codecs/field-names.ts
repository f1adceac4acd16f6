/**
 * Selectors for flat, name-keyed bodies (form fields, multipart parts, query parameters): a selector there is
 * one field name, compiled by the rules loader to `[{ kind: 'key', key: NAME }]`. This module turns a selector
 * array into a name -> selector indexes table once (cached per array, so the hot path only does a lookup),
 * and formats the concrete path of a repeated field.
 */
import { GatewayError } from '../errors.js';
import type { CompiledSelector } from './selector.js';

/** name -> indexes into the selectors array, in selector order. Built with a null prototype. */
export type NameTable = Readonly<Record<string, readonly number[]>>;

const tables = new WeakMap<readonly CompiledSelector[], NameTable>();

/**
 * The field name a selector stands for in a flat body, or undefined when it has another shape (`[*]`, `..x`,
 * `a.b`, an index). The rules compiler can use this to refuse such selectors for form-like codecs at load.
 *
 * @example
 *   fieldNameOf({ source: 'To', segments: [{ kind: 'key', key: 'To' }] }) // 'To'
 */
export function fieldNameOf(selector: CompiledSelector): string | undefined {
  const segs = selector.segments;
  return segs.length === 1 && segs[0]!.kind === 'key' ? segs[0]!.key : undefined;
}

/**
 * Name table for `selectors`, built on first use and cached for the array's lifetime (compiled rules are
 * frozen and live as long as the rule set). Throws INTERNAL for a selector that is not a field name: the
 * rules loader must not let one through, and a codec must not silently match nothing.
 */
export function nameTable(selectors: readonly CompiledSelector[], codec: string): NameTable {
  let table = tables.get(selectors);
  if (table !== undefined) return table;
  const t: Record<string, number[]> = Object.create(null) as Record<string, number[]>;
  for (let i = 0; i < selectors.length; i++) {
    const name = fieldNameOf(selectors[i]!);
    if (name === undefined) {
      throw new GatewayError('INTERNAL', `selector ${selectors[i]!.source} is not a field name; the ${codec} codec selects fields by name`);
    }
    (t[name] ??= []).push(i);
  }
  table = Object.freeze(t);
  tables.set(selectors, table);
  return table;
}

/**
 * Concrete paths for matched fields: the bare name when the name occurs once in the body, `name[i]` (0-based
 * occurrence among that name's matched fields) when it is repeated, e.g. Twilio's `MediaUrl`.
 *
 * @param names   the matched field name per occurrence, in body order (one entry per field, not per selector)
 * @returns       the path per entry of `names`
 */
export function occurrencePaths(names: readonly string[]): string[] {
  const count: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const n of names) count[n] = (count[n] ?? 0) + 1;
  const seen: Record<string, number> = Object.create(null) as Record<string, number>;
  return names.map((n) => {
    if (count[n] === 1) return n;
    const i = seen[n] ?? 0;
    seen[n] = i + 1;
    return `${n}[${i}]`;
  });
}
