/**
 * Turns ajv's validation errors into RuleIssues a security engineer can act on.
 *
 * Raw ajv output is written for schema authors ("must NOT have additional properties", one error per
 * anyOf branch). Here each error is pointed at the YAML node it is about (the key for unknown keys, the
 * value otherwise), given its route/field context, and reworded: unknown keys get a "did you mean",
 * enums list what is accepted, patterns say what they expect (the schema's `x-expected` annotation).
 * Branch noise from `anyOf` is pruned to the branch that matches the kind of value written.
 */
import type { ErrorObject } from 'ajv';
import type { RuleIssue, RuleSource, DocPath } from './issues.js';
import { rulesSchema } from './schema.js';

type SchemaObject = Record<string, unknown>;

const WRAPPERS = new Set(['anyOf', 'oneOf', 'discriminator', 'propertyNames', 'if']);
/** Keys whose enum errors read "unknown <key> 'x'"; others read "invalid value 'x' for '<key>'". */
const NAMED_ENUMS = new Set(['action', 'type', 'codec', 'style', 'encoding', 'method', 'otherwise', 'then', 'find']);
const PATTERN_LABELS: Record<string, string> = { id: 'route id', upstream: 'upstream name' };
/** Said after an enum error under these keys: why the closed set is what it is. */
const ENUM_HINTS: Record<string, string> = {
  charsets:
    '; the gateway writes a rewritten body back in its charset, so only charsets Node can encode losslessly are supported: windows-1252 and others can be read but not written back (docs/codecs.md#charsets)',
};

/** Options each action accepts, read from the schema's field branches (for "belongs to tokenize" hints). */
const ACTION_KEYS: ReadonlyMap<string, ReadonlySet<string>> = new Map(
  rulesSchema.definitions.actionField.oneOf.map((branch) => [
    branch.properties.action.const,
    new Set(Object.keys(branch.properties)),
  ]),
);

/** Maps ajv errors for one file to issues. `data` is the document as plain data (what ajv validated). */
export function schemaIssues(source: RuleSource, data: unknown, errors: readonly ErrorObject[]): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const seen = new Set<string>();
  for (const e of prune(errors)) {
    const path = toDocPath(data, e.instancePath);
    const { offset, message } = describe(source, data, path, e);
    const { line, column } = source.position(offset);
    const issue = { file: source.file, line, column, ...context(data, path), message };
    const key = `${line}:${column}:${message}`;
    if (!seen.has(key)) {
      seen.add(key);
      issues.push(issue);
    }
  }
  return issues;
}

/**
 * Route id and field selector around `path`, when they are readable. Inside a nested document the field is
 * named outer to inner: `ContentVariables > $.1`.
 */
export function context(data: unknown, path: DocPath): { route?: string; field?: string } {
  if (path[0] !== 'routes' || typeof path[1] !== 'number') return {};
  const route = at(data, path.slice(0, 2));
  const out: { route?: string; field?: string } = {};
  const id = at(route, ['id']);
  if (typeof id === 'string') out.route = id;
  if ((path[2] === 'request' || path[2] === 'response') && path[3] === 'fields' && typeof path[4] === 'number') {
    const names: string[] = [];
    let end = 5;
    while (end <= path.length) {
      const select = at(data, [...path.slice(0, end), 'select']);
      if (typeof select !== 'string') break;
      names.push(select);
      if (path[end] !== 'fields' || typeof path[end + 1] !== 'number') break;
      end += 2;
    }
    if (names.length > 0) out.field = names.join(' > ');
  }
  return out;
}

/** Value at `path` in plain data, or undefined. */
export function at(data: unknown, path: DocPath): unknown {
  let cur = data;
  for (const seg of path) {
    if (cur === null || typeof cur !== 'object') return undefined;
    cur = (cur as Record<string | number, unknown>)[seg];
  }
  return cur;
}

function toDocPath(data: unknown, pointer: string): DocPath {
  if (pointer === '') return [];
  const out: (string | number)[] = [];
  let cur = data;
  for (const raw of pointer.slice(1).split('/')) {
    const seg = raw.replace(/~1/g, '/').replace(/~0/g, '~');
    const step = Array.isArray(cur) ? Number(seg) : seg;
    out.push(step);
    cur = cur !== null && typeof cur === 'object' ? (cur as Record<string | number, unknown>)[step] : undefined;
  }
  return out;
}

function prune(errors: readonly ErrorObject[]): ErrorObject[] {
  const under = (e: ErrorObject, p: string) => e.instancePath.startsWith(`${p}/`);
  const branchSites = new Set(errors.filter((e) => e.keyword === 'anyOf' || e.keyword === 'oneOf').map((e) => e.instancePath));
  let kept = errors.filter((e) => {
    const p = e.instancePath;
    if (WRAPPERS.has(e.keyword) || !branchSites.has(p)) return true;
    // Inside an anyOf: a container value with errors deeper down took the container branch; report those.
    if (errors.some((o) => under(o, p))) return false;
    const others = errors.filter((o) => o !== e && o.instancePath === p && !WRAPPERS.has(o.keyword));
    if (e.keyword === 'type' && others.some((o) => o.keyword !== 'type')) return false;
    const scalar = e.data === null || typeof e.data !== 'object';
    if (e.keyword === 'enum' && !scalar && others.some((o) => o.keyword !== 'enum' && o.keyword !== 'type')) return false;
    return true;
  });
  // Wrapper errors only when nothing more specific was said about that value.
  kept = kept.filter(
    (e) => !WRAPPERS.has(e.keyword) || !kept.some((o) => !WRAPPERS.has(o.keyword) && (o.instancePath === e.instancePath || under(o, e.instancePath))),
  );
  // "must be a string" says more than "must be one of ..." for the same value.
  return kept.filter((e) => e.keyword !== 'enum' || !kept.some((o) => o.keyword === 'type' && o.instancePath === e.instancePath));
}

function keyName(path: DocPath): string {
  const last = path[path.length - 1];
  if (typeof last === 'number') return `${keyName(path.slice(0, -1))}[${last}]`;
  return last ?? 'file';
}

function baseKey(path: DocPath): string {
  for (let i = path.length - 1; i >= 0; i--) if (typeof path[i] === 'string') return path[i] as string;
  return 'file';
}

function show(value: unknown): string {
  return typeof value === 'string' ? `'${value}'` : JSON.stringify(value) ?? String(value);
}

function kindOf(value: unknown): string {
  if (value === null || value === undefined) return 'nothing';
  if (Array.isArray(value)) return 'a list';
  if (typeof value === 'object') return 'a mapping';
  return `${typeof value} ${show(value)}`;
}

const TYPE_WORDS: Record<string, string> = {
  string: 'a string',
  integer: 'a whole number',
  number: 'a number',
  boolean: 'true or false',
  object: 'a mapping (key: value)',
  array: 'a list',
};

function describe(source: RuleSource, data: unknown, path: DocPath, e: ErrorObject): { offset: number; message: string } {
  const parent = (e.parentSchema ?? {}) as SchemaObject;
  const key = keyName(path);
  const prefix = path[0] === 'upstreams' && typeof path[1] === 'string' && path.length > 1 ? `upstream '${path[1]}': ` : '';
  const value = { offset: source.offsetOf(path) };
  const params = e.params as Record<string, unknown>;

  if (e.propertyName !== undefined) {
    const label = path[0] === 'upstreams' && path.length === 1 ? 'upstream name' : 'key';
    return {
      offset: source.keyOffsetOf(path, e.propertyName),
      message: `invalid ${label} '${e.propertyName}' (expected ${String(parent['x-expected'] ?? e.message)})`,
    };
  }
  switch (e.keyword) {
    case 'additionalProperties': {
      const extra = String(params.additionalProperty);
      return { offset: source.keyOffsetOf(path, extra), message: prefix + unknownKey(extra, parent, e.data) };
    }
    case 'required': {
      const missing = String(params.missingProperty);
      const known = Object.keys((parent.properties as SchemaObject | undefined) ?? {});
      // `acton: mask` is a misspelt `action`, not a missing one: say so at the misspelt key.
      const typo = Object.keys((e.data as SchemaObject | null) ?? {}).find((k) => !known.includes(k) && closest(k, [missing]) !== undefined);
      if (typo !== undefined) {
        return { offset: source.keyOffsetOf(path, typo), message: `${prefix}unknown key '${typo}' (did you mean '${missing}'?)` };
      }
      const spec = (parent.properties as Record<string, SchemaObject> | undefined)?.[missing];
      let hint = Array.isArray(spec?.enum) ? ` (one of ${spec.enum.join(', ')})` : '';
      if (missing === 'action' && baseKey(path) === 'fields') hint = `${hint.slice(0, -1)}; or 'codec' and 'fields' for a nested document)`;
      const where = path.length === 0 ? '' : ` in '${key}'`;
      return { ...value, message: `${prefix}missing required key '${missing}'${where}${hint}` };
    }
    case 'enum': {
      const allowed = (params.allowedValues as unknown[]).join(', ');
      const name = baseKey(path);
      const message = NAMED_ENUMS.has(name)
        ? `unknown ${name} ${show(e.data)} (expected one of ${allowed})`
        : `invalid value ${show(e.data)} for '${key}' (expected one of ${allowed}${ENUM_HINTS[name] ?? ''})`;
      return { ...value, message: prefix + message };
    }
    case 'const':
      return key === 'version'
        ? { ...value, message: `unsupported version ${show(e.data)} (expected ${show(params.allowedValue)})` }
        : { ...value, message: `${prefix}'${key}' must be ${show(params.allowedValue)}` };
    case 'type': {
      const want = String(params.type)
        .split(',')
        .map((t) => TYPE_WORDS[t] ?? t)
        .join(' or ');
      return { ...value, message: `${prefix}'${key}' must be ${want} (got ${kindOf(e.data)})` };
    }
    case 'pattern': {
      const label = PATTERN_LABELS[baseKey(path)] ?? baseKey(path);
      // A literal secret written where a ${VAR} belongs is not repeated into logs.
      const shown = label === 'secret' ? '(value not shown)' : show(e.data);
      return { ...value, message: `${prefix}invalid ${label} ${shown} (expected ${String(parent['x-expected'] ?? `to match ${String(params.pattern)}`)})` };
    }
    case 'minItems':
    case 'minProperties':
    case 'minLength':
      return { ...value, message: `${prefix}'${key}' must not be empty` };
    case 'maxLength':
      return { ...value, message: `${prefix}'${key}' is too long (at most ${String(params.limit)} characters)` };
    case 'minimum':
    case 'maximum':
      return {
        ...value,
        message: `${prefix}'${key}' must be from ${String(parent.minimum)} to ${String(parent.maximum)} (got ${show(e.data)})`,
      };
    case 'uniqueItems':
      return {
        ...value,
        message: `${prefix}'${key}' lists ${show((e.data as unknown[])[Number(params.j)])} twice`,
      };
    case 'discriminator':
      return { ...value, message: `${prefix}'action' must be one of ${[...ACTION_KEYS.keys()].join(', ')}` };
    default:
      return { ...value, message: `${prefix}'${key}' ${e.message ?? 'is invalid'}` };
  }
}

function unknownKey(extra: string, parent: SchemaObject, objectData: unknown): string {
  const action = at(objectData, ['action']);
  const nested = at(objectData, ['fields']) !== undefined;
  const ownKey = Object.hasOwn((parent.properties as SchemaObject | undefined) ?? {}, extra);
  const actionKey = [...ACTION_KEYS.values()].some((keys) => keys.has(extra));
  if (nested && (extra === 'action' || (actionKey && !ownKey))) {
    return `'${extra}' does not apply to a nested document field (codec + fields); its fields say what happens inside`;
  }
  if (typeof action === 'string' && ACTION_KEYS.has(action)) {
    const owners = [...ACTION_KEYS].filter(([, keys]) => keys.has(extra)).map(([name]) => name);
    if (owners.length > 0) return `'${extra}' is not an option of action '${action}' (it belongs to ${owners.join(', ')})`;
  }
  const allowed = Object.keys((parent.properties as SchemaObject | undefined) ?? {});
  const guess = closest(extra, allowed);
  return guess === undefined
    ? `unknown key '${extra}' (expected one of ${allowed.join(', ')})`
    : `unknown key '${extra}' (did you mean '${guess}'?)`;
}

/** The allowed key nearest to `word` (edit distance at most 2, or same letters ignoring case), if any. */
export function closest(word: string, candidates: readonly string[]): string | undefined {
  let best: string | undefined;
  let bestDistance = Infinity;
  for (const c of candidates) {
    const d = c.toLowerCase() === word.toLowerCase() ? 0 : distance(word, c);
    if (d < bestDistance) {
      best = c;
      bestDistance = d;
    }
  }
  return bestDistance <= Math.min(2, Math.max(1, Math.floor(word.length / 3))) ? best : undefined;
}

/** Edit distance counting a swap of two neighbours as one edit (optimal string alignment), so `acton`/`action` and `styel`/`style` are 1 apart. */
function distance(a: string, b: string): number {
  const d: number[][] = Array.from({ length: a.length + 1 }, (_, i) => Array.from({ length: b.length + 1 }, (_, j) => (i === 0 ? j : j === 0 ? i : 0)));
  for (let i = 1; i <= a.length; i++) {
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1] === b[j - 1] ? 0 : 1;
      let best = Math.min(d[i - 1]![j]! + 1, d[i]![j - 1]! + 1, d[i - 1]![j - 1]! + cost);
      if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) best = Math.min(best, d[i - 2]![j - 2]! + 1);
      d[i]![j] = best;
    }
  }
  return d[a.length]![b.length]!;
}
