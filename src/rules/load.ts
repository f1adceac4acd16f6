/**
 * Loads `rules/*.yaml` into one frozen CompiledRuleSet, or refuses with every problem found.
 *
 * Start-up only (synchronous): read every rule file, parse it keeping node positions, validate it against
 * the schema, compile it, then check across files. Problems of all files are collected and thrown as one
 * RulesError, so a security team sees the whole list at once and a bad rule set never starts a gateway
 * or half-applies. `*.test.yaml` files are rule tests, not rules, and are skipped.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { LineCounter, parseDocument } from 'yaml';
import type { DetokenizePolicy } from '../auth/detokenize-policy.js';
import type { Keyring } from '../crypto/types.js';
import { detokenizePolicyIssues } from './check-detokenize.js';
import { compileFile, type RouteEntry } from './compile.js';
import { RuleSource, RulesError, type DocPath, type RuleIssue } from './issues.js';
import { ruleFileValidator, type RuleFileInput } from './schema.js';
import { schemaIssues } from './schema-errors.js';
import type { CompiledRoute, CompiledRuleSet, CompiledUpstream } from './types.js';

export { RulesError, isRulesError, formatIssue, type RuleIssue } from './issues.js';

export interface LoadOptions {
  /** Keys for token specs (token derivation and recognition). */
  readonly keyring: Keyring;
  /** Environment for `${VAR}` in upstream URLs. Default: process.env. */
  readonly env?: NodeJS.ProcessEnv;
  /**
   * Detokenize policy to check every detokenize field against (check-detokenize.ts). null: no policy is
   * configured, so proxy detokenization is refused; undefined (tooling, tests): not checked.
   */
  readonly detokenizePolicy?: DetokenizePolicy | null;
}

const RULE_FILE = /\.ya?ml$/;
const TEST_FILE = /\.test\.ya?ml$/;
const BASE_NAME = /^[a-z0-9][a-z0-9_-]*$/;

/** Names of the rule files in `dir` (sorted; `*.test.yaml` rule tests excluded). */
export function ruleFileNames(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((e) => e.isFile() && RULE_FILE.test(e.name) && !TEST_FILE.test(e.name))
    .map((e) => e.name)
    .sort();
}

/**
 * Loads and compiles every rule file in `dir`.
 *
 * @example
 *   const rules = loadRuleSet('rules', { keyring });
 *   rules.routes.map((r) => r.id); // ['clevertap/upload', 'twilio/send-sms']
 * @throws RulesError (code 'RULES_INVALID') listing every problem in every file.
 */
export function loadRuleSet(dir: string, options: LoadOptions): CompiledRuleSet {
  let names: string[];
  try {
    if (!statSync(dir).isDirectory()) throw new Error('not a directory');
    names = ruleFileNames(dir);
  } catch (err) {
    const reason = (err as NodeJS.ErrnoException).code ?? (err as Error).message;
    throw new RulesError([{ file: dir, line: 0, column: 0, message: `cannot read the rules directory ${dir} (${reason})` }]);
  }
  if (names.length === 0) {
    throw new RulesError([{ file: dir, line: 0, column: 0, message: `no rule files found in ${dir} (expected *.yaml files)` }]);
  }
  const files = names.map((name) => {
    const full = path.join(dir, name);
    return { file: displayPath(full), text: readFileSync(full, 'utf8') };
  });
  return compileSources(files, options);
}

/**
 * Compiles one rule file given as text (tests, `rules check` in the CLI). `fileName` is used in messages and
 * its base name prefixes route ids (`rules/clevertap.yaml` -> `clevertap/<id>`).
 * @throws RulesError listing every problem in the file.
 */
export function compileRuleFile(fileName: string, text: string, options: LoadOptions): CompiledRuleSet {
  return compileSources([{ file: fileName, text }], options);
}

function compileSources(files: readonly { file: string; text: string }[], options: LoadOptions): CompiledRuleSet {
  const issues: RuleIssue[] = [];
  const entries: RouteEntry[] = [];
  const upstreams = new Map<string, CompiledUpstream>();
  const env = options.env ?? process.env;

  for (const { file, text } of files) {
    const base = path.basename(file).replace(RULE_FILE, '');
    if (!BASE_NAME.test(base)) {
      issues.push({
        file,
        line: 0,
        column: 0,
        message: `file name '${base}' cannot name routes (expected lower-case letters, digits, - and _, starting with a letter or digit)`,
      });
      continue;
    }
    const parsed = parse(file, text, issues);
    if (parsed === undefined) continue;
    const { source, data } = parsed;

    const validate = ruleFileValidator();
    const bad: string[] = [];
    if (!validate(data)) {
      const errors = validate.errors ?? [];
      issues.push(...schemaIssues(source, data, errors));
      bad.push(...errors.map((e) => e.instancePath));
      // Without the top-level shape there is nothing to check further.
      if (!isRecord(data) || !isRecord(data.upstreams) || !Array.isArray(data.routes)) continue;
    }
    const valid = (at: DocPath): boolean => {
      const pointer = at.map((s) => `/${String(s).replace(/~/g, '~0').replace(/\//g, '~1')}`).join('');
      return !bad.some((p) => p === pointer || p.startsWith(`${pointer}/`));
    };
    const result = compileFile(data as RuleFileInput, { source, base, keyring: options.keyring, env, valid });
    issues.push(...result.issues);
    entries.push(...result.routes);
    for (const u of result.upstreams.values()) upstreams.set(u.name, u);
  }

  issues.push(...duplicateMatches(entries));
  if (options.detokenizePolicy !== undefined) issues.push(...detokenizePolicyIssues(entries.map((e) => e.route), options.detokenizePolicy));
  if (issues.length > 0) throw new RulesError(sortIssues(issues, files.map((f) => f.file)));

  return Object.freeze({
    routes: Object.freeze(entries.map((e) => e.route)),
    upstreams: frozenMap(upstreams),
    files: Object.freeze(files.map((f) => f.file)),
  });
}

function parse(file: string, text: string, issues: RuleIssue[]): { source: RuleSource; data: unknown } | undefined {
  const lines = new LineCounter();
  const doc = parseDocument(text, { lineCounter: lines, prettyErrors: false, uniqueKeys: true, strict: true });
  const source = new RuleSource(file, text, doc, lines);
  const problems = [...doc.errors, ...doc.warnings];
  // Duplicate keys stand alone; other syntax errors cascade, so only the first one is worth reading.
  const syntax = problems.filter((e) => e.code !== 'DUPLICATE_KEY');
  for (const e of problems) {
    if (e.code !== 'DUPLICATE_KEY' && e !== syntax[0]) continue;
    const at = source.position(e.pos[0]);
    let message: string;
    if (e.code === 'DUPLICATE_KEY') message = `duplicate key '${keyTextAt(text, e.pos[0])}' (keys must be unique)`;
    else if (e.code === 'MULTIPLE_DOCS') message = "a rule file holds one YAML document (found a second one after '---')";
    else message = `YAML: ${e.message.split('\n')[0] ?? e.code}${yamlHint(text.split('\n')[at.line - 1] ?? '')}`;
    if (e === syntax[0] && syntax.length > 1) message += ` (${syntax.length - 1} more YAML error(s) after it not shown)`;
    issues.push({ file, ...at, message });
  }
  if (problems.length > 0) return undefined;
  let data: unknown;
  try {
    data = doc.toJS({ maxAliasCount: 100 });
  } catch (err) {
    issues.push({ file, line: 1, column: 1, message: `YAML: ${(err as Error).message.split('\n')[0] ?? 'cannot be read'}` });
    return undefined;
  }
  if (data === null || data === undefined) {
    issues.push({ file, line: 1, column: 1, message: 'empty rule file (expected version, upstreams and routes)' });
    return undefined;
  }
  return { source, data };
}

/** The usual cause of a YAML error in rule files: an unquoted selector with [ or * inside { ... }. */
function yamlHint(line: string): string {
  return /\{[^}]*select:\s*\$[^\s"',]*[[*]/.test(line)
    ? ' (inside { ... } quote selectors that contain [ or *: select: "$.d[*].x")'
    : '';
}

/** The key written at `offset` (up to its `:`), for duplicate-key messages. */
function keyTextAt(text: string, offset: number): string {
  const rest = text.slice(offset);
  const quoted = /^("(?:[^"\\\n]|\\.)*"|'(?:[^'\n]|'')*')/.exec(rest);
  if (quoted) return quoted[1]!.slice(1, -1);
  return (/^[^\n]*?(?=:(?:\s|$))/.exec(rest)?.[0] ?? rest.split('\n')[0] ?? '').trim();
}

/** The same method + path + host in two routes (any files). Parameter names do not make paths differ. */
function duplicateMatches(entries: readonly RouteEntry[]): RuleIssue[] {
  const issues: RuleIssue[] = [];
  const first = new Map<string, RouteEntry>();
  for (const entry of entries) {
    const r = entry.route;
    const key = `${r.method} ${r.path.replace(/:[A-Za-z_][A-Za-z0-9_]*/g, ':')} ${r.host ?? ''}`;
    const prior = first.get(key);
    if (prior === undefined) {
      first.set(key, entry);
      continue;
    }
    issues.push({
      file: fileOf(r),
      ...entry.matchAt,
      route: entry.localId,
      message: `${describeMatch(r)} is already declared by route '${prior.route.id}' at ${fileOf(prior.route)}:${prior.matchAt.line}:${prior.matchAt.column}`,
    });
  }
  return issues;
}

function describeMatch(r: CompiledRoute): string {
  return `${r.method} ${r.path} ${r.host === undefined ? '(any host)' : `on host ${r.host}`}`;
}

function fileOf(r: CompiledRoute): string {
  return r.origin.replace(/:\d+:\d+$/, '');
}

function sortIssues(issues: RuleIssue[], order: readonly string[]): RuleIssue[] {
  const rank = (f: string) => {
    const i = order.indexOf(f);
    return i === -1 ? -1 : i;
  };
  return issues
    .map((issue, i) => ({ issue, i }))
    .sort((a, b) => rank(a.issue.file) - rank(b.issue.file) || a.issue.line - b.issue.line || a.issue.column - b.issue.column || a.i - b.i)
    .map((x) => x.issue);
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

/** `rules/x.yaml` relative to the working directory when the file is inside it, else as given. */
function displayPath(full: string): string {
  const rel = path.relative(process.cwd(), full);
  return rel !== '' && !rel.startsWith('..') && !path.isAbsolute(rel) ? rel : full;
}

/** A Map that refuses set/delete/clear, so the compiled set stays as loaded. */
function frozenMap<K, V>(source: Map<K, V>): ReadonlyMap<K, V> {
  const map = new Map(source);
  const refuse = (): never => {
    throw new TypeError('the compiled rule set is read-only');
  };
  Object.defineProperties(map, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(map);
}
