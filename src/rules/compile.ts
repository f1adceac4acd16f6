/**
 * Semantic compilation of one schema-valid rule file into frozen CompiledRoutes.
 *
 * The schema has already checked shapes; this checks what a schema cannot: selector syntax, upstream
 * references and URLs (after ${ENV} substitution), duplicate route ids and selectors, token options that do
 * not apply to the token type, and the options createTokenSpec() refuses. Every problem becomes a RuleIssue
 * at the offending node; nothing is thrown, so the loader can report all problems of all files at once.
 * Cross-file checks (the same method+path+host twice) are the loader's.
 */
import { CHARSET_LABELS, type BodyCharset } from '../codecs/charset.js';
import { compileSelector, type CompiledSelector } from '../codecs/selector.js';
import type { Keyring } from '../crypto/types.js';
import { isGatewayError } from '../errors.js';
import { createTokenSpec } from '../tokens/index.js';
import { TOKEN_TYPES, type TokenSpec, type TokenSpecInput, type TokenType } from '../tokens/types.js';
import { compileRouteAuth, firstDetokenizeField } from './compile-auth.js';
import { compileSignatures } from './compile-signatures.js';
import { compileClients, compileUpstreamTls } from './compile-tls.js';
import { CODEC_CONTENT_TYPES } from './content-type.js';
import { substituteEnv } from './env.js';
import type { DocPath, RuleIssue, RuleSource } from './issues.js';
import { LOCATION_PREFIXES, SCAN_KINDS, TEXT_DEFAULT_TYPES, TEXT_ESCAPES } from './schema.js';
import type { EscapeByInput, FieldInput, PolicyInput, RouteInput, RuleFileInput, TokenTypeInput, UpstreamInput } from './schema.js';
import { closest, context } from './schema-errors.js';
import { httpUrlProblem } from './url-policy.js';
import type {
  CompiledAction,
  CompiledDirection,
  CompiledDocument,
  CompiledField,
  CompiledFieldList,
  CompiledRoute,
  CompiledUpstream,
  EscapeBySibling,
  FieldLocation,
  FieldPolicy,
  TextEscape,
  ValueForm,
} from './types.js';
import { siblingKey } from './types.js';

export interface CompileContext {
  readonly source: RuleSource;
  /** File base name (`clevertap` for rules/clevertap.yaml): prefixes route ids and upstream names. */
  readonly base: string;
  readonly keyring: Keyring;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** False for a value at or under which the schema found a problem: such parts are not compiled. */
  readonly valid: (path: DocPath) => boolean;
}

/** A compiled route plus where its `match` was written, for the loader's cross-file duplicate check. */
export interface RouteEntry {
  readonly route: CompiledRoute;
  readonly localId: string;
  readonly matchAt: { readonly line: number; readonly column: number };
}

export interface FileResult {
  readonly routes: RouteEntry[];
  readonly upstreams: Map<string, CompiledUpstream>;
  readonly issues: RuleIssue[];
}

const DEFAULT_TIMEOUTS = { connectMs: 5000, headersMs: 30000, bodyMs: 30000 } as const;
const REFUSE_ALL: FieldPolicy = Object.freeze({ missing: 'refuse', notString: 'refuse', invalid: 'refuse', unknownToken: 'refuse' });

/**
 * Compiles one file. Parts that failed the schema (`ctx.valid(path)` false) are not compiled, but every
 * well-formed part is still checked, so one run reports as much as possible. Problems are returned as
 * issues, never thrown; routes are only returned when they compiled cleanly.
 */
export function compileFile(data: RuleFileInput, ctx: CompileContext): FileResult {
  const issues: RuleIssue[] = [];
  const report = (path: DocPath, message: string, offset = ctx.source.offsetOf(path)): void => {
    issues.push({ file: ctx.source.file, ...ctx.source.position(offset), ...context(data, path), message });
  };
  const origin = (path: DocPath): string => {
    const { line, column } = ctx.source.position(ctx.source.offsetOf(path));
    return `${ctx.source.file}:${line}:${column}`;
  };

  const upstreams = new Map<string, CompiledUpstream>();
  for (const [name, input] of Object.entries(data.upstreams)) {
    if (!ctx.valid(['upstreams', name])) continue;
    const compiled = compileUpstream(name, input, ['upstreams', name, 'url'], ctx, report);
    if (compiled !== undefined) upstreams.set(name, compiled);
  }

  const filePolicy = mergePolicy(REFUSE_ALL, ctx.valid(['defaults']) ? data.defaults : undefined);
  const namespace = ctx.valid(['namespace']) ? (data.namespace ?? 'default') : 'default';
  const routes: RouteEntry[] = [];
  const firstId = new Map<string, number>();

  data.routes.forEach((route, i) => {
    const path: DocPath = ['routes', i];
    if (!isObject(route)) return;
    const before = issues.length;
    if (typeof route.id === 'string' && ctx.valid([...path, 'id'])) {
      const line = ctx.source.position(ctx.source.offsetOf([...path, 'id'])).line;
      const seenAt = firstId.get(route.id);
      if (seenAt !== undefined) report([...path, 'id'], `duplicate route id '${route.id}' (first declared at line ${seenAt})`);
      else firstId.set(route.id, line);
    }
    if (typeof route.upstream === 'string' && ctx.valid([...path, 'upstream']) && !Object.hasOwn(data.upstreams, route.upstream)) {
      const declared = Object.keys(data.upstreams);
      const guess = closest(route.upstream, declared);
      report(
        [...path, 'upstream'],
        `unknown upstream '${route.upstream}' (${guess === undefined ? `declared in this file: ${declared.join(', ')}` : `did you mean '${guess}'?`})`,
      );
    }
    const routePolicy = mergePolicy(filePolicy, ctx.valid([...path, 'policy']) ? route.policy : undefined);
    const request = compileDirection(route, path, 'request', routePolicy, namespace);
    const response = compileDirection(route, path, 'response', routePolicy, namespace);
    const clients = ctx.valid([...path, 'clients']) ? compileClients(route.clients, [...path, 'clients'], report) : undefined;
    const detokenizes = firstDetokenizeField(request) ?? firstDetokenizeField(response);
    const auth = ctx.valid([...path, 'auth']) && ctx.valid([...path, 'clients']) ? compileRouteAuth(route, path, detokenizes, report) : undefined;
    const signatures = compileSignatures(route, path, ctx, report); // verify:, resign: (compile-signatures.ts)
    const upstream = upstreams.get(route.upstream);
    if (!ctx.valid(path) || upstream === undefined || issues.length !== before) return;

    routes.push({
      localId: route.id,
      matchAt: ctx.source.position(ctx.source.offsetOf([...path, 'match'])),
      route: Object.freeze({
        id: `${ctx.base}/${route.id}`,
        method: route.match.method,
        path: route.match.path,
        host: route.match.host?.toLowerCase(),
        upstream,
        request,
        response,
        origin: origin(path),
        ...(clients ? { clients } : {}),
        ...(auth ? { auth } : {}),
        ...signatures,
      }),
    });
  });

  function compileDirection(
    route: RouteInput,
    routePath: DocPath,
    dir: 'request' | 'response',
    policy: FieldPolicy,
    ns: string,
  ): CompiledDirection | null {
    const input = route[dir];
    if (!isObject(input) || !Array.isArray(input.fields)) return null;
    const codec = input.codec ?? 'json';
    const lists = compileFieldList(input.fields, [...routePath, dir, 'fields'], dir, codec, policy, ns, false);
    const charsets = compileCharsets(input.charsets, [...routePath, dir, 'charsets'], codec);
    return Object.freeze({
      codec,
      contentTypes: CODEC_CONTENT_TYPES[codec] ?? Object.freeze([]),
      ...(charsets ? { charsets } : {}),
      ...fieldList(lists.body),
      query: fieldList(lists.query),
      headers: fieldList(lists.header),
    });
  }

  /**
   * Compiles one `fields:` list (a direction's, or a nested document's when `nested`), split by location.
   * Selectors are read the way `codec` reads its documents; `query:`/`header:` only outside nested documents.
   */
  function compileFieldList(
    inputs: readonly FieldInput[],
    listPath: DocPath,
    dir: 'request' | 'response',
    codec: string,
    policy: FieldPolicy,
    ns: string,
    nested: boolean,
  ): Record<FieldLocation, CompiledField[]> {
    const out: Record<FieldLocation, CompiledField[]> = { body: [], query: [], header: [] };
    const selectorLines = new Map<string, number>();
    inputs.forEach((field, j) => {
      if (!isObject(field)) return;
      const fieldPath: DocPath = [...listPath, j];
      const selectPath = [...fieldPath, 'select'];
      let selected: { location: FieldLocation; selector: CompiledSelector } | undefined;
      if (typeof field.select === 'string' && ctx.valid(selectPath)) {
        selected = compileSelect(field.select, selectPath, codec, dir, nested);
        if (selected !== undefined) {
          // Header names compare case-insensitively; everything else as written.
          const first = selected.selector.segments[0];
          const key = selected.location === 'header' && first?.kind === 'key' ? `header:${first.key}` : field.select;
          const line = ctx.source.position(ctx.source.offsetOf(selectPath)).line;
          const dupLine = selectorLines.get(key);
          if (dupLine !== undefined) {
            const where = nested ? 'nested document' : dir;
            report(selectPath, `selector already used by the field at line ${dupLine} of this ${where} (one rule per field)`);
          }
          selectorLines.set(key, line);
        }
      }
      if (!ctx.valid(fieldPath)) return;
      const compiled = compileField(field, fieldPath, dir, policy, ns, { codec, selected });
      if (selected === undefined || compiled === undefined) return;
      const base = { selector: selected.selector, action: compiled.action, policy: compiled.policy, origin: origin(fieldPath) };
      out[selected.location].push(Object.freeze(selected.location === 'body' ? base : { ...base, location: selected.location }));
    });
    return out;
  }

  /**
   * A field's `select`: `query:NAME` / `header:NAME` anywhere but in a nested document; otherwise the
   * codec's selector (JSONPath subset for json, a plain field name for form and multipart).
   */
  function compileSelect(
    select: string,
    selectPath: DocPath,
    codec: string,
    dir: 'request' | 'response',
    nested: boolean,
  ): { location: FieldLocation; selector: CompiledSelector } | undefined {
    for (const prefix of LOCATION_PREFIXES) {
      if (!select.startsWith(prefix)) continue;
      const location = prefix === 'query:' ? 'query' : 'header';
      const name = select.slice(prefix.length);
      const nameAt = (i: number) => ctx.source.offsetInString(selectPath, prefix.length + i);
      if (nested) {
        report(selectPath, `'${prefix}' selectors are for the message itself, not inside a nested document (expected a ${codec} selector)`);
        return undefined;
      }
      if (location === 'query' && dir === 'response') {
        report(selectPath, "a response has no query string ('query:' selectors belong in request)");
        return undefined;
      }
      if (name.length === 0) {
        report(selectPath, `expected a ${location === 'query' ? 'parameter' : 'header'} name after '${prefix}'`, nameAt(0));
        return undefined;
      }
      const bad = location === 'header' ? firstNonTchar(name) : firstControl(name);
      if (bad !== -1) {
        const expected = location === 'header' ? "letters, digits and !#$%&'*+-.^_`|~" : 'no control characters';
        report(selectPath, `invalid ${location === 'header' ? 'header' : 'parameter'} name: expected ${expected} (selector column ${prefix.length + bad + 1})`, nameAt(bad));
        return undefined;
      }
      return { location, selector: nameSelector(select, location === 'header' ? name.toLowerCase() : name) };
    }
    if (codec === 'json') {
      const selector = compileFieldSelector(select, selectPath);
      return selector === undefined ? undefined : { location: 'body', selector };
    }
    if (codec === 'text') {
      // The body is one string field: the whole of it.
      if (select !== '$') {
        report(selectPath, `a text body is one field, the whole body: select it with '$' (got '${select}'; query:NAME and header:NAME select outside the body)`);
        return undefined;
      }
      return { location: 'body', selector: WHOLE_BODY };
    }
    // form and multipart: the field name as written.
    if (select.startsWith('$')) {
      report(selectPath, `${codec} fields are selected by name, not JSONPath (expected e.g. 'To', got '${select}')`);
      return undefined;
    }
    const bad = firstControl(select);
    if (bad !== -1) {
      report(selectPath, `invalid field name: expected no control characters (selector column ${bad + 1})`, ctx.source.offsetInString(selectPath, bad));
      return undefined;
    }
    return { location: 'body', selector: nameSelector(select, select) };
  }

  /**
   * A direction's `charsets:` as canonical names (codecs/charset.ts); undefined when absent or invalid (the
   * schema reported it). Only codecs json and text take a charset other than utf-8 (the whole body is
   * transcoded, and that is all they read): a form's percent-escapes and a multipart text part are read as
   * UTF-8 by their codecs, below any transcoding of the whole body.
   */
  function compileCharsets(labels: readonly string[] | undefined, path: DocPath, codec: string): readonly BodyCharset[] | undefined {
    if (labels === undefined || !ctx.valid(path)) return undefined;
    const out: BodyCharset[] = [];
    labels.forEach((label, i) => {
      const cs = CHARSET_LABELS[label]!;
      if (out.includes(cs)) report([...path, i], `'charsets' lists ${cs} twice ('${label}' is ${cs})`);
      else if (cs !== 'utf-8' && codec !== 'json' && codec !== 'text') {
        report(
          [...path, i],
          `charset ${cs} needs codec json or text: the ${codec} codec reads its values as UTF-8 (${codec === 'form' ? 'percent-escapes' : 'text parts'} are bytes below the body's charset), so only utf-8 is accepted here`,
        );
      } else out.push(cs);
    });
    return Object.freeze(out);
  }

  return { routes, upstreams, issues };

  function compileFieldSelector(select: string, selectPath: DocPath): CompiledSelector | undefined {
    try {
      return deepFreeze(compileSelector(select));
    } catch (err) {
      const offset = (err as { offset?: unknown }).offset;
      if ((err as { name?: unknown }).name !== 'SelectorSyntaxError' || typeof offset !== 'number') throw err;
      const raw = (err as Error).message;
      const prefix = `invalid selector ${JSON.stringify(select)}: `;
      const expected = (raw.startsWith(prefix) ? raw.slice(prefix.length) : raw).replace(/ at column \d+$/, '');
      report(selectPath, `invalid selector: ${expected} (selector column ${offset + 1})`, ctx.source.offsetInString(selectPath, offset));
      return undefined;
    }
  }

  function compileField(
    field: FieldInput,
    fieldPath: DocPath,
    dir: 'request' | 'response',
    inherited: FieldPolicy,
    fileNamespace: string,
    where: { codec: string; selected: { location: FieldLocation; selector: CompiledSelector } | undefined },
  ): { action: CompiledAction; policy: FieldPolicy } | undefined {
    let policy = mergePolicy(inherited, field);
    if (where.codec === 'text' && where.selected?.location === 'body') {
      // The whole body is the field: it cannot be left out, and a document inside it is another codec's body.
      if (field.fields !== undefined) {
        report([...fieldPath, 'codec'], "a text body is not a container: to read the body as json or form, set the direction's codec instead of a nested document", ctx.source.keyOffsetOf(fieldPath, 'codec'));
        return undefined;
      }
      if (field.action === 'redact') {
        report([...fieldPath, 'action'], "redact would remove the whole text body; use mask, or scan with then: redact for PII inside the text");
        return undefined;
      }
    }
    if (field.fields !== undefined) {
      // A nested document: its fields inherit the route policy (not this field's own overrides).
      const codec = field.codec ?? 'json';
      const lists = compileFieldList(field.fields, [...fieldPath, 'fields'], dir, codec, inherited, fileNamespace, true);
      if (lists.body.length !== field.fields.length) return undefined;
      const document: CompiledDocument = Object.freeze({ codec, ...fieldList(lists.body) });
      return { action: Object.freeze({ kind: 'document', document }), policy };
    }
    switch (field.action) {
      case 'scan': {
        const namespace = field.namespace ?? fileNamespace;
        const specs = Object.freeze({
          email: createTokenSpec({ type: 'email', namespace }, ctx.keyring),
          phone: createTokenSpec({ type: 'phone', namespace }, ctx.keyring),
        });
        const find = Object.freeze([...(field.find ?? SCAN_KINDS)]);
        return { action: Object.freeze({ kind: 'scan', find, then: field.then ?? 'tokenize', specs }), policy };
      }
      case 'redact':
        return { action: Object.freeze({ kind: 'redact' }), policy };
      case 'mask':
        return { action: Object.freeze({ kind: 'mask', style: field.style ?? 'generic' }), policy };
      case 'hash':
        return { action: Object.freeze({ kind: 'hash', encoding: field.encoding ?? 'hex', prefix: field.prefix ?? 'h_' }), policy };
      case 'detokenize': {
        const types = field.type === undefined ? TOKEN_TYPES : toList(field.type);
        const form = valueForm(field, fieldPath, types);
        if (form === false) return undefined;
        return {
          action: Object.freeze({
            kind: 'detokenize',
            namespace: field.namespace ?? fileNamespace,
            types: Object.freeze([...types]),
            ...(form ? { form } : {}),
          }),
          policy,
        };
      }
      case 'detokenize-text': {
        const escape = textEscape(field, fieldPath, where);
        if (escape === undefined) return undefined;
        return {
          action: Object.freeze({
            kind: 'detokenize-text',
            namespace: field.namespace ?? fileNamespace,
            types: Object.freeze([...(field.types ?? TEXT_DEFAULT_TYPES)]),
            escape,
          }),
          policy,
        };
      }
      case 'tokenize':
        break;
    }
    // tokenize
    const candidates = toList(field.type ?? []);
    const fallback = field.otherwise === undefined || field.otherwise === 'refuse' || field.otherwise === 'keep' ? undefined : field.otherwise;
    const all = fallback === undefined ? candidates : [...candidates, fallback];
    let ok = true;
    if (field.otherwise !== undefined && field.invalid !== undefined) {
      report(
        [...fieldPath, 'invalid'],
        "set either 'otherwise' or 'invalid' on a tokenize field, not both ('otherwise: keep' is 'invalid: skip')",
        ctx.source.keyOffsetOf(fieldPath, 'invalid'),
      );
      ok = false;
    }
    const needs: [keyof FieldInput, TokenType][] = [
      ['emailDomain', 'email'],
      ['emailSuffix', 'email'],
      ['prefix', 'opaque'],
    ];
    for (const [option, type] of needs) {
      if (field[option] !== undefined && !all.includes(type)) {
        report(
          [...fieldPath, option],
          `'${option}' applies to ${type} tokens only, and this field tokenizes as ${all.join(', ')}`,
          ctx.source.keyOffsetOf(fieldPath, option),
        );
        ok = false;
      }
    }
    const form = valueForm(field, fieldPath, all);
    if (!ok || form === false) return undefined;

    const namespace = field.namespace ?? fileNamespace;
    const spec = (type: TokenTypeInput): TokenSpec | undefined => {
      const input: TokenSpecInput = { type, namespace, random: field.random ?? false };
      if (type === 'email') {
        if (field.emailDomain !== undefined) input.emailDomain = field.emailDomain;
        if (field.emailSuffix !== undefined) input.emailSuffix = field.emailSuffix;
      }
      if (type === 'opaque' && field.prefix !== undefined) input.prefix = field.prefix;
      try {
        return createTokenSpec(input, ctx.keyring);
      } catch (err) {
        if (!isGatewayError(err) || err.code !== 'RULES_INVALID') throw err;
        // err.field names the option (`emailDomain.sink`, `prefix`, ...): point at it when it is in the file.
        const option = err.field?.split('.') ?? [];
        const at = option.length > 0 && option[0]! in field ? [...fieldPath, ...option] : [...fieldPath, 'type'];
        report(at, `invalid ${type} token options: ${err.message}`);
        return undefined;
      }
    };
    const specs = candidates.map(spec);
    const fallbackSpec = fallback === undefined ? undefined : spec(fallback);
    if (specs.some((s) => s === undefined) || (fallback !== undefined && fallbackSpec === undefined)) return undefined;

    let otherwise: 'refuse' | 'keep' | TokenSpec;
    if (fallbackSpec !== undefined) otherwise = fallbackSpec;
    else if (field.otherwise === 'keep' || field.otherwise === 'refuse') otherwise = field.otherwise;
    else otherwise = policy.invalid === 'skip' ? 'keep' : 'refuse';
    // Keep policy.invalid and `otherwise` telling the same story for the transform engine.
    if (otherwise === 'keep' || otherwise === 'refuse') policy = Object.freeze({ ...policy, invalid: otherwise === 'keep' ? 'skip' : 'refuse' });
    return {
      action: Object.freeze({ kind: 'tokenize', specs: Object.freeze(specs as TokenSpec[]), otherwise, ...(form ? { form } : {}) }),
      policy,
    };
  }

  /**
   * detokenize-text `escape:`: a fixed escape, or one chosen by a sibling member (json body or nested json
   * document, a selector ending in a key); undefined when a problem was reported.
   */
  function textEscape(
    field: FieldInput,
    fieldPath: DocPath,
    where: { codec: string; selected: { location: FieldLocation; selector: CompiledSelector } | undefined },
  ): TextEscape | EscapeBySibling | undefined {
    const input = field.escape ?? 'plain';
    if (typeof input === 'string') return input;
    const at: DocPath = [...fieldPath, 'escape'];
    const selector = where.selected?.selector;
    const last = selector?.segments[selector.segments.length - 1];
    if (where.codec !== 'json' || where.selected?.location !== 'body' || selector === undefined || last?.kind !== 'key') {
      if (where.selected !== undefined) {
        report(at, "escape: { by: ... } needs a json body field whose selector ends in a key (e.g. $.content[*].value), so that its sibling can be read");
      }
      return undefined;
    }
    const cases: (readonly [string, TextEscape])[] = [];
    for (const mode of TEXT_ESCAPES) {
      for (const value of input[mode as keyof EscapeByInput] as string[] | undefined ?? []) {
        const key = siblingKey(value);
        const dup = cases.find(([k]) => k === key);
        if (dup !== undefined) {
          report([...at, mode], `escape: '${value}' is listed twice (already under ${dup[1]})`);
          return undefined;
        }
        cases.push(Object.freeze([key, mode] as const));
      }
    }
    if (input.by === last.key) {
      report([...at, 'by'], `escape: by names the field itself ('${last.key}'); name its sibling, e.g. type`);
      return undefined;
    }
    const sibling = deepFreeze({
      source: `${selector.source} (sibling ${input.by})`,
      segments: [...selector.segments.slice(0, -1), { kind: 'key' as const, key: input.by }],
    });
    return Object.freeze({ by: input.by, sibling, cases: Object.freeze(cases), otherwise: input.otherwise ?? 'plain' });
  }

  /**
   * `phoneFormat` / `keepPrefixes` of a tokenize or detokenize field: undefined when neither changes
   * anything, false when a problem was reported (phoneFormat: digits on a field that handles no phones).
   */
  function valueForm(field: FieldInput, fieldPath: DocPath, types: readonly TokenTypeInput[]): ValueForm | undefined | false {
    const phoneFormat = field.phoneFormat ?? 'e164';
    if (phoneFormat === 'digits' && !types.includes('phone')) {
      report(
        [...fieldPath, 'phoneFormat'],
        `'phoneFormat' applies to phone tokens only, and this field handles ${types.join(', ')}`,
        ctx.source.keyOffsetOf(fieldPath, 'phoneFormat'),
      );
      return false;
    }
    const keepPrefixes = field.keepPrefixes ?? [];
    if (phoneFormat === 'e164' && keepPrefixes.length === 0) return undefined;
    return Object.freeze({ phoneFormat, keepPrefixes: Object.freeze([...keepPrefixes]) });
  }
}

function compileUpstream(
  name: string,
  input: UpstreamInput,
  urlPath: DocPath,
  ctx: CompileContext,
  report: (path: DocPath, message: string, offset?: number) => void,
): CompiledUpstream | undefined {
  const expanded = substituteEnv(input.url, ctx.env);
  if (!expanded.ok) {
    for (const p of expanded.problems) report(urlPath, `upstream '${name}': url: ${p.message}`, ctx.source.offsetInString(urlPath, p.offset));
    return undefined;
  }
  const via = expanded.variables.length === 0 ? '' : ` (after substituting ${expanded.variables.join(', ')})`;
  let url: URL;
  try {
    url = new URL(expanded.value);
  } catch {
    report(urlPath, `upstream '${name}': url is not an absolute URL${via} (expected e.g. https://api.example.com)`);
    return undefined;
  }
  const problem = httpUrlProblem(url) ?? (url.search !== '' || url.hash !== '' ? 'must not contain a query or fragment' : undefined);
  if (problem !== undefined) {
    report(urlPath, `upstream '${name}': url ${problem}${via}`);
    return undefined;
  }
  if (url.pathname.length > 1 && url.pathname.endsWith('/')) url.pathname = url.pathname.replace(/\/+$/, '');
  const tls = compileUpstreamTls(name, input.tls, url, ctx.source, ctx.env, report);
  if (tls === false) return undefined;
  const t = input.timeouts ?? {};
  return Object.freeze({
    name: `${ctx.base}/${name}`,
    url,
    connectTimeoutMs: t.connectMs ?? DEFAULT_TIMEOUTS.connectMs,
    headersTimeoutMs: t.headersMs ?? DEFAULT_TIMEOUTS.headersMs,
    bodyTimeoutMs: t.bodyMs ?? DEFAULT_TIMEOUTS.bodyMs,
    ...(tls ? { tls } : {}),
  });
}

function fieldList(fields: readonly CompiledField[]): CompiledFieldList {
  return Object.freeze({ fields: Object.freeze([...fields]), selectors: Object.freeze(fields.map((f) => f.selector)) });
}

/** `$` in a text direction: the whole body (no segments; codecs/text.ts). */
const WHOLE_BODY: CompiledSelector = Object.freeze({ source: '$', segments: Object.freeze([]) });

/** A selector for a name-addressed location (form/multipart field, query parameter, header): one key segment. */
function nameSelector(source: string, key: string): CompiledSelector {
  return Object.freeze({ source, segments: Object.freeze([Object.freeze({ kind: 'key' as const, key })]) });
}

const TCHAR = /^[A-Za-z0-9!#$%&'*+.^_`|~-]$/;

/** Index of the first character that is not an RFC 9110 tchar (header field names), or -1. */
function firstNonTchar(name: string): number {
  for (let i = 0; i < name.length; i++) if (!TCHAR.test(name[i]!)) return i;
  return -1;
}

/** Index of the first C0 control character or DEL, or -1. */
function firstControl(name: string): number {
  for (let i = 0; i < name.length; i++) {
    const c = name.charCodeAt(i);
    if (c < 0x20 || c === 0x7f) return i;
  }
  return -1;
}

function mergePolicy(base: FieldPolicy, over: PolicyInput | undefined): FieldPolicy {
  if (over === undefined) return base;
  return Object.freeze({
    missing: over.missing ?? base.missing,
    notString: over.notString ?? base.notString,
    invalid: over.invalid ?? base.invalid,
    unknownToken: over.unknownToken ?? base.unknownToken,
  });
}

function isObject(value: unknown): value is object {
  return value !== null && typeof value === 'object' && !Array.isArray(value);
}

function toList<T>(value: T | readonly T[]): readonly T[] {
  return Array.isArray(value) ? (value as readonly T[]) : [value as T];
}

/** Freezes plain data (objects and arrays) all the way down. */
export function deepFreeze<T>(value: T): T {
  if (value !== null && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value);
    for (const v of Object.values(value)) deepFreeze(v);
  }
  return value;
}
