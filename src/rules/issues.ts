/**
 * Rule-file problems and where they are.
 *
 * Every problem found while loading rules (YAML syntax, schema, semantics, environment) becomes a RuleIssue
 * with the file, line and column of the YAML node it is about, so that a security team editing a rule file
 * is sent to the exact spot. The loader collects all issues of all files and throws one RulesError; a bad
 * rule set never half-applies. Messages carry rule-file text (keys, selectors, ids), never request data.
 */
import { isAlias, isMap, isScalar, isSeq, LineCounter, type Document, type Node, type Scalar } from 'yaml';
import { GatewayError } from '../errors.js';

/** One problem in a rule file. line/column are 1-based; 0 when the problem is about a file or directory as a whole. */
export interface RuleIssue {
  readonly file: string;
  readonly line: number;
  readonly column: number;
  /** Route id as written in the file (not prefixed), when the problem is inside a route. */
  readonly route?: string;
  /** The field's `select` text, when the problem is inside a field rule. */
  readonly field?: string;
  readonly message: string;
}

/**
 * `rules/clevertap.yaml:14:11: route 'upload' field '$.d[*].Email': unknown action 'tokenise' (...)`.
 * Without a position: `rules: no rule files found in rules`.
 */
export function formatIssue(issue: RuleIssue): string {
  const where = issue.line > 0 ? `${issue.file}:${issue.line}:${issue.column}` : issue.file;
  const context = [
    issue.route === undefined ? '' : `route '${issue.route}'`,
    issue.field === undefined ? '' : `field '${issue.field}'`,
  ]
    .filter((s) => s !== '')
    .join(' ');
  return `${where}: ${context === '' ? '' : `${context}: `}${issue.message}`;
}

/**
 * The rule set could not be loaded. `errors` lists every problem found (all files), sorted by file and
 * position; `message` has one formatted line per problem. Switch on `code`, not on the class.
 */
export class RulesError extends GatewayError {
  readonly errors: readonly RuleIssue[];

  constructor(errors: readonly RuleIssue[]) {
    super('RULES_INVALID', errors.map(formatIssue).join('\n'));
    this.errors = Object.freeze(errors.map((e) => Object.freeze({ ...e })));
  }
}

/** True for a RulesError (by shape: code plus issue list), also across module copies. */
export function isRulesError(err: unknown): err is RulesError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { code?: unknown }).code === 'RULES_INVALID' &&
    Array.isArray((err as { errors?: unknown }).errors)
  );
}

/** A path into the parsed document: map keys and sequence indexes. */
export type DocPath = readonly (string | number)[];

/** Where a node is: the node and, when reached through a map, the key node it hangs from. */
interface Located {
  readonly node: Node | null;
  readonly key: Node | null;
}

/**
 * A parsed rule file with the means to turn document paths and offsets into line:column.
 * Built once per file by the loader.
 */
export class RuleSource {
  readonly lines: LineCounter;

  constructor(
    readonly file: string,
    readonly text: string,
    readonly doc: Document.Parsed,
    lines: LineCounter,
  ) {
    this.lines = lines;
  }

  /** 1-based line and column of a character offset in the file. */
  position(offset: number): { line: number; column: number } {
    const { line, col } = this.lines.linePos(Math.max(0, Math.min(offset, this.text.length)));
    return { line, column: col };
  }

  /** Walks `path` from the document root, following aliases. Stops at the deepest node that exists. */
  locate(path: DocPath): Located {
    let node: Node | null = (this.doc.contents as Node | null) ?? null;
    let key: Node | null = null;
    for (const segment of path) {
      if (node !== null && isAlias(node)) node = (node.resolve(this.doc) as Node | undefined) ?? node;
      if (isMap(node)) {
        const pair = node.items.find((p) => isScalar(p.key) && String(p.key.value) === String(segment));
        if (pair === undefined) break;
        key = pair.key as Node;
        node = (pair.value as Node | null) ?? null;
        if (node === null) return { node: null, key };
      } else if (isSeq(node) && typeof segment === 'number') {
        const item = node.items[segment] as Node | undefined;
        if (item === undefined) break;
        key = null;
        node = item;
      } else {
        break;
      }
    }
    return { node, key };
  }

  /** Offset of the value at `path` (or of its key when the value is empty, or of the deepest existing node). */
  offsetOf(path: DocPath): number {
    const { node, key } = this.locate(path);
    return node?.range?.[0] ?? key?.range?.[0] ?? 0;
  }

  /** Offset of the key node of `key` inside the map at `path` (falls back to the map itself). */
  keyOffsetOf(path: DocPath, key: string): number {
    const inner = this.locate([...path, key]);
    if (inner.key !== null && inner.key.range) return inner.key.range[0];
    return this.offsetOf(path);
  }

  /**
   * Offset of character `index` of the string value at `path`. Exact for plain and quoted scalars written on
   * one line without escapes (the usual case for selectors and URLs); otherwise the start of the value.
   */
  offsetInString(path: DocPath, index: number): number {
    const { node } = this.locate(path);
    if (node === null || !isScalar(node) || !node.range) return this.offsetOf(path);
    const scalar = node as Scalar;
    const value = String(scalar.value);
    const start = node.range[0];
    const quoted = scalar.type === 'QUOTE_DOUBLE' || scalar.type === 'QUOTE_SINGLE' ? 1 : 0;
    if (this.text.slice(start + quoted, start + quoted + value.length) === value) return start + quoted + index;
    return start;
  }
}
