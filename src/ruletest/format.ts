/**
 * Rule-test files (`rules/<name>.test.yaml`): the types and the parser.
 *
 * Security teams write these without TypeScript, so the parser is strict and precise in the way the rules
 * loader is: every problem names file:line:column and what was expected there; unknown keys are errors (a
 * typo such as `upstrem:` must not silently skip a check); every problem in every file is collected and
 * thrown as one RulesError. Selectors are compiled here, once, with the rule selector language.
 *
 * Token placeholders (`{{token phone +14155551234}}`) are validated here and resolved by the runner, which
 * owns the vault. Reference for the format: docs/rule-tests.md.
 */
import path from 'node:path';
import { isMap, isScalar, isSeq, LineCounter, parseDocument, type Document, type Node, type Pair, type Scalar, type YAMLMap } from 'yaml';
import { compileSelector, type CompiledSelector } from '../codecs/selector.js';
import { ERROR_STATUS, type ErrorCode } from '../errors.js';
import type { RuleIssue } from '../rules/issues.js';
import { TOKEN_TYPES, type TokenType } from '../tokens/types.js';

/** What a field (or header) must look like. Built from the YAML by `parseMatcher`. */
export type Matcher =
  | { readonly kind: 'equals'; readonly value: unknown }
  | { readonly kind: 'absent' }
  | { readonly kind: 'present' }
  /** A token of `type` (keyed check); with `of`, it also detokenizes (vault) to that value. */
  | { readonly kind: 'token'; readonly type: TokenType; readonly of?: string; readonly namespace?: string }
  /** Differs from the input value and contains '*'. */
  | { readonly kind: 'masked' }
  /** `prefix` followed by a 64-hex-digit or 43-character base64url digest, and differs from the input value. */
  | { readonly kind: 'hashed'; readonly prefix: string };

export interface FieldExpectation {
  readonly selector: CompiledSelector;
  readonly matcher: Matcher;
  /** `clevertap.test.yaml:12:9`, for messages. */
  readonly origin: string;
}

export interface HeaderExpectation {
  /** Lower-case header name. */
  readonly name: string;
  readonly matcher: Matcher;
}

/** A body as written in the test: `json:` / `jsonFile:` (serialized when sent) or `body:` (sent as written). */
export type BodySpec =
  | { readonly kind: 'none' }
  | { readonly kind: 'json'; readonly value: unknown }
  | { readonly kind: 'raw'; readonly text: string };

export interface RequestSpec {
  readonly method: string;
  /** Path and query, starting with '/'. */
  readonly path: string;
  /** Lower-case names. content-type defaults to application/json for a json body. */
  readonly headers: Readonly<Record<string, string>>;
  readonly body: BodySpec;
}

export interface RespondSpec {
  readonly status: number;
  readonly headers: Readonly<Record<string, string>>;
  readonly body: BodySpec;
}

/** Checks on one HTTP message: what the stand-in upstream received, or what the client got back. */
export interface MessageExpectation {
  readonly status: number | undefined;
  readonly method: string | undefined;
  readonly path: string | undefined;
  readonly headers: readonly HeaderExpectation[];
  readonly json: readonly FieldExpectation[];
  readonly body: string | undefined;
  /** Everything not named in `json` is deep-equal to the other side's JSON. Default: true when `json` is given. */
  readonly unchanged: boolean;
}

export interface ErrorExpectation {
  readonly code: ErrorCode;
  readonly status: number | undefined;
  readonly field: string | undefined;
  /** A substring of the envelope's message. */
  readonly message: string | undefined;
}

export interface RuleTest {
  /** Test file name relative to the rules directory, e.g. `clevertap.test.yaml`. */
  readonly file: string;
  readonly name: string;
  readonly line: number;
  /** Route id, as written (`upload` or `clevertap/upload`). */
  readonly route: string | undefined;
  readonly request: RequestSpec;
  /** Undefined when the test does not say: the stand-in answers 200 `{}`. */
  readonly respond: RespondSpec | undefined;
  readonly upstream: MessageExpectation | undefined;
  readonly response: MessageExpectation | undefined;
  readonly error: ErrorExpectation | undefined;
}

export interface RuleTestFile {
  readonly file: string;
  readonly tests: readonly RuleTest[];
}

/** A parsed `{{token TYPE VALUE [ns=NAMESPACE] [form=digits] [known=no]}}`. */
export interface TokenPlaceholder {
  readonly type: TokenType;
  readonly value: string;
  readonly namespace: string | undefined;
  /** `form=digits` (phone only): the token written without its '+', as a `phoneFormat: digits` field writes it. */
  readonly digits?: boolean;
  /** `known=no`: a well-formed token (its keyed check passes) that the test vault does not hold (unknown-token cases). */
  readonly unknown?: boolean;
}

/** Finds `{{token ...}}` placeholders (non-greedy, no nesting; `}}` ends one). */
export const PLACEHOLDER = /\{\{\s*token\s+([^}]*?)\s*\}\}/g;
const NAMESPACE_WORD = /^ns=([a-z0-9][a-z0-9._-]{0,63})$/;

/**
 * Parses the inside of a placeholder (`phone +14155551234 ns=clevertap`); a string is a problem.
 *
 * @example
 *   parsePlaceholder('phone +14155551234') // { type: 'phone', value: '+14155551234', namespace: undefined }
 */
export function parsePlaceholder(inner: string): TokenPlaceholder | string {
  const words = inner.trim().split(/\s+/);
  const type = words.shift() ?? '';
  if (!(TOKEN_TYPES as readonly string[]).includes(type)) {
    return `unknown token type '${type}' in {{token ...}} (expected one of ${TOKEN_TYPES.join(', ')})`;
  }
  let namespace: string | undefined;
  let digits = false;
  let unknown = false;
  if (words[words.length - 1] === 'known=no') {
    unknown = true;
    words.pop();
  }
  if (words[words.length - 1] === 'form=digits') {
    if (type !== 'phone') return `form=digits in {{token ${type} ...}}: only phone tokens have a digits form`;
    digits = true;
    words.pop();
  }
  const last = words[words.length - 1];
  const ns = last === undefined ? null : NAMESPACE_WORD.exec(last);
  if (ns) {
    namespace = ns[1];
    words.pop();
  }
  if (words.length === 0) return `{{token ${type} ...}} needs a value after the type`;
  return { type: type as TokenType, value: words.join(' '), namespace, ...(digits ? { digits } : {}), ...(unknown ? { unknown } : {}) };
}

/** Problems in the placeholders of a string, if any. */
function placeholderProblems(text: string): string[] {
  const out: string[] = [];
  const matches = [...text.matchAll(PLACEHOLDER)];
  for (const m of matches) {
    const p = parsePlaceholder(m[1] ?? '');
    if (typeof p === 'string') out.push(p);
  }
  const opened = text.match(/\{\{\s*token\b/g)?.length ?? 0;
  if (opened > matches.length) out.push("a '{{token' is not closed with '}}'");
  return out;
}

const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE', 'HEAD', 'OPTIONS'];
const MATCHER_KINDS = ['equals', 'absent', 'present', 'token', 'masked', 'hashed'] as const;

export interface ParseOptions {
  /** Name for messages, e.g. `clevertap.test.yaml`. */
  readonly file: string;
  /** Directory `jsonFile:` paths are relative to. */
  readonly baseDir: string;
  /** Reads a fixture file (utf-8); throws when it cannot. */
  readonly readFile: (absolutePath: string) => string;
}

/**
 * Parses one test file. Returns the tests, or the problems (never both partly: a file with a problem runs nothing).
 *
 * @example
 *   const { tests, issues } = parseTestFile(text, { file: 'demo.test.yaml', baseDir: dir, readFile });
 */
export function parseTestFile(text: string, options: ParseOptions): { file: RuleTestFile; issues: RuleIssue[] } {
  const p = new Parser(text, options);
  const tests = p.parseRoot();
  const issues = [...p.issues].sort((a, b) => a.line - b.line || a.column - b.column);
  return { file: { file: options.file, tests }, issues };
}

type Fields = Map<string, { key: Node; value: Node | null }>;

class Parser {
  readonly issues: RuleIssue[] = [];
  private readonly lines = new LineCounter();
  private readonly doc: Document.Parsed;

  constructor(
    private readonly text: string,
    private readonly options: ParseOptions,
  ) {
    this.doc = parseDocument(text, { lineCounter: this.lines, uniqueKeys: true, prettyErrors: false });
    for (const e of [...this.doc.errors, ...this.doc.warnings]) {
      this.issueAt(e.pos[0], e.message.split('\n')[0] ?? e.message);
    }
  }

  private issueAt(offset: number, message: string, route?: string): void {
    const { line, col } = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    this.issues.push({ file: this.options.file, line, column: col, message, ...(route === undefined ? {} : { route }) });
  }

  private issue(node: Node | null | undefined, message: string): void {
    this.issueAt(node?.range?.[0] ?? 0, message);
  }

  private origin(node: Node): string {
    const { line, col } = this.lines.linePos(node.range?.[0] ?? 0);
    return `${this.options.file}:${line}:${col}`;
  }

  parseRoot(): RuleTest[] {
    if (this.issues.length > 0) return [];
    const root = this.doc.contents as Node | null;
    const f = this.fields(root, 'the test file', ['tests'], ['tests']);
    if (!f) return [];
    const list = f.get('tests')?.value ?? null;
    if (!isSeq(list) || list.items.length === 0) {
      this.issue(list ?? f.get('tests')?.key, 'tests: expected a list of tests (- name: ...)');
      return [];
    }
    const names = new Set<string>();
    const tests: RuleTest[] = [];
    for (const item of list.items as Node[]) {
      const t = this.parseTest(item);
      if (!t) continue;
      if (names.has(t.name)) this.issue(item, `duplicate test name '${t.name}' (names must be unique in a file)`);
      names.add(t.name);
      tests.push(t);
    }
    return this.issues.length > 0 ? [] : tests;
  }

  /** A map's entries, checking required and allowed keys. */
  private fields(node: Node | null, what: string, allowed: readonly string[], required: readonly string[] = []): Fields | undefined {
    if (!isMap(node)) {
      this.issue(node, `${what}: expected a mapping (key: value)`);
      return undefined;
    }
    const out: Fields = new Map();
    for (const pair of (node as YAMLMap).items as Pair<Node, Node | null>[]) {
      const key = isScalar(pair.key) ? String((pair.key as Scalar).value) : undefined;
      if (key === undefined) {
        this.issue(pair.key, `${what}: keys must be plain text`);
        continue;
      }
      if (!allowed.includes(key)) {
        this.issue(pair.key, `${what}: unknown key '${key}' (expected one of: ${allowed.join(', ')})`);
        continue;
      }
      out.set(key, { key: pair.key, value: pair.value ?? null });
    }
    for (const r of required) {
      if (!out.has(r)) this.issue(node, `${what}: '${r}' is required`);
    }
    return out;
  }

  private str(node: Node | null, what: string): string | undefined {
    if (isScalar(node) && typeof node.value === 'string') return node.value;
    if (isScalar(node) && (typeof node.value === 'number' || typeof node.value === 'boolean')) {
      this.issue(node, `${what}: expected text; put the value in quotes ("...") so YAML does not read it as a ${typeof node.value}`);
      return undefined;
    }
    this.issue(node, `${what}: expected text`);
    return undefined;
  }

  private bool(node: Node | null, what: string): boolean | undefined {
    if (isScalar(node) && typeof node.value === 'boolean') return node.value;
    this.issue(node, `${what}: expected true or false`);
    return undefined;
  }

  private status(node: Node | null, what: string): number | undefined {
    if (isScalar(node) && Number.isInteger(node.value) && (node.value as number) >= 100 && (node.value as number) <= 599) {
      return node.value as number;
    }
    this.issue(node, `${what}: expected an HTTP status code (100-599)`);
    return undefined;
  }

  /** Any JSON-like value written in YAML, with placeholders checked in every string. */
  private jsonValue(node: Node | null, what: string): unknown {
    const value: unknown = node === null ? null : node.toJS(this.doc, { maxAliasCount: 100 });
    this.checkStrings(value, node, what);
    return value;
  }

  private checkStrings(value: unknown, node: Node | null, what: string): void {
    if (typeof value === 'string') {
      for (const p of placeholderProblems(value)) this.issue(node, `${what}: ${p}`);
    } else if (Array.isArray(value)) {
      for (const v of value) this.checkStrings(v, node, what);
    } else if (value !== null && typeof value === 'object') {
      for (const v of Object.values(value)) this.checkStrings(v, node, what);
    } else if (typeof value === 'number' && !Number.isFinite(value)) {
      this.issue(node, `${what}: ${value} is not a JSON number`);
    }
  }

  private parseTest(node: Node): RuleTest | undefined {
    const f = this.fields(node, 'test', ['name', 'route', 'request', 'respond', 'upstream', 'response', 'error'], ['name', 'request']);
    if (!f) return undefined;
    const nameNode = f.get('name')?.value ?? null;
    const name = !f.has('name') ? undefined : isScalar(nameNode) && typeof nameNode.value === 'number' ? String(nameNode.value) : this.str(nameNode, 'name');
    const where = name === undefined ? 'test' : `test '${name}'`;
    const route = f.has('route') ? this.str(f.get('route')!.value, `${where}: route`) : undefined;
    const request = f.has('request') ? this.parseRequest(f.get('request')!.value, `${where}: request`) : undefined;
    const respond = f.has('respond') ? this.parseRespond(f.get('respond')!.value, `${where}: respond`) : undefined;
    const upstream = f.has('upstream') ? this.parseExpectation(f.get('upstream')!.value, `${where}: upstream`, 'upstream') : undefined;
    const response = f.has('response') ? this.parseExpectation(f.get('response')!.value, `${where}: response`, 'response') : undefined;
    const error = f.has('error') ? this.parseError(f.get('error')!.value, `${where}: error`) : undefined;
    if (f.has('error') && f.has('response')) {
      this.issue(f.get('response')!.key, `${where}: 'error' and 'response' exclude each other (an error is the response)`);
    }
    if (f.has('error') && f.has('upstream') && !f.has('respond')) {
      this.issue(
        f.get('upstream')!.key,
        `${where}: with 'error' the upstream must not be called; add 'respond' if the error comes from the response side`,
      );
    }
    if (name === undefined || request === undefined) return undefined;
    return { file: this.options.file, name, line: this.lines.linePos(node.range?.[0] ?? 0).line, route, request, respond, upstream, response, error };
  }

  private parseHeaders(node: Node | null, what: string): Record<string, string> {
    const out: Record<string, string> = Object.create(null);
    if (!isMap(node)) {
      this.issue(node, `${what}: expected a mapping of header name: value`);
      return out;
    }
    for (const pair of node.items as Pair<Node, Node | null>[]) {
      const name = isScalar(pair.key) ? String(pair.key.value).toLowerCase() : '';
      const v = pair.value ?? null;
      const value = isScalar(v) && (typeof v.value === 'number' || typeof v.value === 'boolean') ? String(v.value) : this.str(v, `${what}: ${name}`);
      if (value === undefined) continue;
      for (const p of placeholderProblems(value)) this.issue(v, `${what}: ${name}: ${p}`);
      out[name] = value;
    }
    return out;
  }

  /** json | jsonFile | body: at most one. */
  private parseBody(f: Fields, what: string): BodySpec {
    const given = ['json', 'jsonFile', 'body'].filter((k) => f.has(k));
    if (given.length > 1) {
      this.issue(f.get(given[1]!)!.key, `${what}: give one of json, jsonFile or body, not ${given.join(' and ')}`);
      return { kind: 'none' };
    }
    if (f.has('json')) return { kind: 'json', value: this.jsonValue(f.get('json')!.value, `${what}: json`) };
    if (f.has('body')) {
      const node = f.get('body')!.value;
      const text = this.str(node, `${what}: body`) ?? '';
      for (const p of placeholderProblems(text)) this.issue(node, `${what}: body: ${p}`);
      return { kind: 'raw', text };
    }
    if (f.has('jsonFile')) {
      const node = f.get('jsonFile')!.value;
      const rel = this.str(node, `${what}: jsonFile`);
      if (rel === undefined) return { kind: 'none' };
      const abs = path.resolve(this.options.baseDir, rel);
      let text: string;
      try {
        text = this.options.readFile(abs);
      } catch (err) {
        this.issue(node, `${what}: jsonFile: cannot read ${rel} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
        return { kind: 'none' };
      }
      let value: unknown;
      try {
        value = JSON.parse(text);
      } catch (err) {
        this.issue(node, `${what}: jsonFile: ${rel} is not valid JSON (${(err as Error).message})`);
        return { kind: 'none' };
      }
      this.checkStrings(value, node, `${what}: jsonFile ${rel}`);
      return { kind: 'json', value };
    }
    return { kind: 'none' };
  }

  private parseRequest(node: Node | null, what: string): RequestSpec | undefined {
    const f = this.fields(node, what, ['method', 'path', 'headers', 'json', 'jsonFile', 'body'], ['method', 'path']);
    if (!f) return undefined;
    const methodNode = f.get('method')?.value ?? null;
    let method = f.has('method') ? this.str(methodNode, `${what}: method`) : undefined;
    if (method !== undefined) {
      method = method.toUpperCase();
      if (!METHODS.includes(method)) this.issue(methodNode, `${what}: method: expected one of ${METHODS.join(', ')}`);
    }
    const pathNode = f.get('path')?.value ?? null;
    const p = f.has('path') ? this.str(pathNode, `${what}: path`) : undefined;
    if (p !== undefined && !p.startsWith('/')) this.issue(pathNode, `${what}: path: expected a path starting with '/' (e.g. /1/upload)`);
    if (p !== undefined) for (const problem of placeholderProblems(p)) this.issue(pathNode, `${what}: path: ${problem}`);
    const headers = f.has('headers') ? this.parseHeaders(f.get('headers')!.value, `${what}: headers`) : Object.create(null);
    const body = this.parseBody(f, what);
    if (body.kind === 'json' && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    if (method === undefined || p === undefined) return undefined;
    return { method, path: p, headers, body };
  }

  private parseRespond(node: Node | null, what: string): RespondSpec | undefined {
    const f = this.fields(node, what, ['status', 'headers', 'json', 'jsonFile', 'body']);
    if (!f) return undefined;
    const status = f.has('status') ? this.status(f.get('status')!.value, `${what}: status`) : 200;
    const headers = f.has('headers') ? this.parseHeaders(f.get('headers')!.value, `${what}: headers`) : Object.create(null);
    let body = this.parseBody(f, what);
    if (body.kind === 'none') body = { kind: 'json', value: {} };
    if (body.kind === 'json' && headers['content-type'] === undefined) headers['content-type'] = 'application/json';
    return { status: status ?? 200, headers, body };
  }

  private parseExpectation(node: Node | null, what: string, side: 'upstream' | 'response'): MessageExpectation | undefined {
    const allowed = side === 'upstream' ? ['method', 'path', 'headers', 'json', 'body', 'unchanged'] : ['status', 'headers', 'json', 'body', 'unchanged'];
    const f = this.fields(node, what, allowed);
    if (!f) return undefined;
    const status = f.has('status') ? this.status(f.get('status')!.value, `${what}: status`) : undefined;
    const method = f.has('method') ? this.str(f.get('method')!.value, `${what}: method`)?.toUpperCase() : undefined;
    const p = f.has('path') ? this.str(f.get('path')!.value, `${what}: path`) : undefined;
    const headers: HeaderExpectation[] = [];
    if (f.has('headers')) {
      const h = f.get('headers')!.value;
      if (!isMap(h)) this.issue(h, `${what}: headers: expected a mapping of header name: value or matcher`);
      else {
        for (const pair of h.items as Pair<Node, Node | null>[]) {
          const name = isScalar(pair.key) ? String(pair.key.value).toLowerCase() : '';
          const v = pair.value ?? null;
          const matcher = isScalar(v) && typeof v.value === 'number' ? { kind: 'equals' as const, value: String(v.value) } : this.parseMatcher(v, `${what}: headers: ${name}`);
          if (matcher) headers.push({ name, matcher });
        }
      }
    }
    const json: FieldExpectation[] = [];
    if (f.has('json')) {
      const j = f.get('json')!.value;
      if (!isMap(j)) {
        this.issue(j, `${what}: json: expected a mapping of selector: expected value (e.g. $.d[0].Email: { token: email })`);
      } else {
        for (const pair of j.items as Pair<Node, Node | null>[]) {
          const source = isScalar(pair.key) ? String(pair.key.value) : '';
          let selector: CompiledSelector;
          try {
            selector = compileSelector(source);
          } catch (err) {
            this.issue(pair.key, `${what}: json: ${(err as Error).message} (see docs/selectors.md)`);
            continue;
          }
          const matcher = this.parseMatcher(pair.value ?? null, `${what}: json: ${source}`);
          if (matcher) json.push({ selector, matcher, origin: this.origin(pair.key) });
        }
      }
    }
    const bodyNode = f.get('body')?.value ?? null;
    const body = f.has('body') ? this.str(bodyNode, `${what}: body`) : undefined;
    if (body !== undefined) for (const problem of placeholderProblems(body)) this.issue(bodyNode, `${what}: body: ${problem}`);
    if (f.has('body') && f.has('json')) this.issue(f.get('body')!.key, `${what}: give json (field checks) or body (exact text), not both`);
    const unchanged = f.has('unchanged') ? this.bool(f.get('unchanged')!.value, `${what}: unchanged`) : undefined;
    return { status, method, path: p, headers, json, body, unchanged: unchanged ?? f.has('json') };
  }

  /** A plain value (equals) or one matcher mapping: { token: phone, of: "+1..." }, { absent: true }, ... */
  parseMatcher(node: Node | null, what: string): Matcher | undefined {
    if (!isMap(node)) return { kind: 'equals', value: this.jsonValue(node, what) };
    const f = this.fields(node, `${what} (a matcher; to compare with an object write equals: {...})`, [...MATCHER_KINDS, 'of', 'namespace', 'prefix']);
    if (!f) return undefined;
    const kinds = MATCHER_KINDS.filter((k) => f.has(k));
    if (kinds.length === 0 && f.size < (node as YAMLMap).items.length) return undefined; // an unknown key, reported
    if (kinds.length !== 1) {
      this.issue(node, `${what}: expected exactly one of ${MATCHER_KINDS.join(', ')}${kinds.length > 1 ? ` (found ${kinds.join(' and ')})` : ''}`);
      return undefined;
    }
    const kind = kinds[0]!;
    const only = (allowed: string[]): boolean => {
      let ok = true;
      for (const extra of ['of', 'namespace', 'prefix']) {
        if (f.has(extra) && !allowed.includes(extra)) {
          this.issue(f.get(extra)!.key, `${what}: '${extra}' goes with ${extra === 'prefix' ? 'hashed' : 'token'}, not ${kind}`);
          ok = false;
        }
      }
      return ok;
    };
    const value = f.get(kind)!.value;
    switch (kind) {
      case 'equals':
        return only([]) ? { kind, value: this.jsonValue(value, what) } : undefined;
      case 'absent':
      case 'present':
      case 'masked': {
        if (this.bool(value, `${what}: ${kind}`) !== true) {
          if (isScalar(value) && value.value === false) this.issue(value, `${what}: ${kind}: only 'true' is meaningful here`);
          return undefined;
        }
        return only([]) ? { kind } : undefined;
      }
      case 'hashed': {
        if (this.bool(value, `${what}: hashed`) !== true) return undefined;
        const prefix = f.has('prefix') ? this.str(f.get('prefix')!.value, `${what}: prefix`) : 'h_';
        return only(['prefix']) && prefix !== undefined ? { kind, prefix } : undefined;
      }
      case 'token': {
        const type = this.str(value, `${what}: token`);
        if (type !== undefined && !(TOKEN_TYPES as readonly string[]).includes(type)) {
          this.issue(value, `${what}: token: unknown token type '${type}' (expected one of ${TOKEN_TYPES.join(', ')})`);
          return undefined;
        }
        const of = f.has('of') ? this.str(f.get('of')!.value, `${what}: of`) : undefined;
        const namespace = f.has('namespace') ? this.str(f.get('namespace')!.value, `${what}: namespace`) : undefined;
        if (!only(['of', 'namespace']) || type === undefined) return undefined;
        return { kind, type: type as TokenType, ...(of === undefined ? {} : { of }), ...(namespace === undefined ? {} : { namespace }) };
      }
    }
  }

  private parseError(node: Node | null, what: string): ErrorExpectation | undefined {
    const f = this.fields(node, what, ['code', 'status', 'field', 'message'], ['code']);
    if (!f) return undefined;
    const codeNode = f.get('code')?.value ?? null;
    const code = f.has('code') ? this.str(codeNode, `${what}: code`) : undefined;
    if (code !== undefined && !(code in ERROR_STATUS)) {
      this.issue(codeNode, `${what}: code: unknown error code '${code}' (see src/errors.ts, e.g. FIELD_NOT_STRING, INVALID_VALUE)`);
      return undefined;
    }
    const status = f.has('status') ? this.status(f.get('status')!.value, `${what}: status`) : undefined;
    const field = f.has('field') ? this.str(f.get('field')!.value, `${what}: field`) : undefined;
    const message = f.has('message') ? this.str(f.get('message')!.value, `${what}: message`) : undefined;
    if (code === undefined) return undefined;
    return { code: code as ErrorCode, status, field, message };
  }
}
