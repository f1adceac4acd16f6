/**
 * The transform engine: runs one direction's compiled field rules over an HTTP message (body, query string,
 * headers), however deep the documents nest.
 *
 *   plan:     scan every location (body codec, query string, headers), recursing into nested documents
 *             (JSON in a string, a form in a field) and free text (scan action); decide per match (policy);
 *             collect every vault item with a back-reference to where its answer goes
 *   round:    ONE batched tokenize and ONE batched detokenize call, concurrently, whatever the nesting;
 *             then the audit hook (awaited) for the detokenized fields
 *   finalize: bottom-up: scanned texts are rebuilt, nested documents re-encoded into their parent value,
 *             then each top-level location is spliced by its codec
 *
 * It is the one place that decides what happens to a field, so the proxy, the rule-test runner and the
 * benchmarks all run exactly the same code. It knows nothing of HTTP servers. Every refusal is a
 * GatewayError that names the path (see docs/selectors.md, "Paths in messages") and never the value.
 */
import { formCodec } from '../codecs/form.js';
import { formatPath, type CompiledSelector } from '../codecs/selector.js';
import type { Codec, Edit, Match, ScanResult } from '../codecs/types.js';
import type { Keyring } from '../crypto/types.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { siblingKey, type CompiledAction, type CompiledDirection, type CompiledField, type CompiledFieldList, type OnProblem, type ScanKind, type TextEscape, type ValueForm } from '../rules/types.js';
import { findPii as realFindPii } from '../scan/index.js';
import { createTokenSpec } from '../tokens/index.js';
import type { TokenSpec } from '../tokens/types.js';
import type { DetokenizeItem, TokenizeItem, Vault } from '../vault/interface.js';
import { hashValue, maskValue } from './actions.js';
import { auditFingerprint, type AuditHook, type DetokenizeAuditEvent, type TransformContext } from './audit.js';
import { applyHeaders, scanHeaders, type HeaderMap } from './headers.js';
import { escapeText, findTokensInText } from './text-tokens.js';

export { auditFingerprint, AUDIT_FINGERPRINT_HEX } from './audit.js';
export type { AuditHook, DetokenizeAuditEvent, TransformContext } from './audit.js';
export type { HeaderMap } from './headers.js';

/** Free-text detector (src/scan): spans in order, non-overlapping, UTF-16 offsets. */
export type FindPii = (text: string, kinds: readonly ScanKind[]) => readonly { start: number; end: number; kind: ScanKind }[];

export interface TransformDeps {
  readonly vault: Vault;
  readonly keyring: Keyring;
  readonly codecs: ReadonlyMap<string, Codec>;
  readonly maxDepth: number;
  /** Told about every detokenized field before the values are written; a rejection fails the transform. */
  readonly audit?: AuditHook;
  /** The scan action's detector; default src/scan findPii (tests may pass another). */
  readonly findPii?: FindPii;
  /**
   * Tokens the gateway itself wrote into this message (the echo guard, server/echo-guard.ts): a value to
   * tokenize that is one of them, exactly as written, is kept as it is and never sent to the vault, so a
   * phone or digits token (which the vault would tokenize again as a raw number) reaches the caller as the
   * very token it sent. Per request, in memory only.
   */
  readonly keepTokens?: ReadonlySet<string>;
}

/** What a transform did, for metrics and audit (counts only, no values; `resolved` excepted, see there). */
export interface TransformStats {
  tokenized: number;
  detokenized: number;
  other: number;
  /**
   * When set, every token this transform resolved is pushed here with its value (the echo guard's input:
   * server/echo-guard.ts). Holds PII: the caller keeps it in memory for the one request and never logs it.
   */
  resolved?: ResolvedPair[];
  /** detokenize-text: token-like strings a template filter altered (upper-cased, truncated, URL-encoded), not resolved. */
  alteredTokens?: number;
}

/** One token resolved by a transform and the value it resolved to, both canonical (as the vault has them). */
export interface ResolvedPair {
  /** The canonical value ('+' phone, no kept prefix). */
  readonly value: string;
  /** The canonical token, as the vault was asked (a kept prefix and a digits phone's missing '+' are the value's form too). */
  readonly token: string;
  readonly type: string;
}

/** The parts of an HTTP message the rules can touch. `query` is the raw query string without '?' ('' for none). */
export interface HttpMessage {
  readonly body: Buffer;
  readonly query: string;
  readonly headers: HeaderMap;
}

/** The message after the rules: unchanged parts are the very same objects that came in. */
export interface TransformedMessage {
  readonly body: Buffer;
  readonly query: string;
  readonly headers: HeaderMap;
  /** True when any part differs from the input. */
  readonly changed: boolean;
}

/** The replacement text of the `scan` action's `then: redact`. */
export const REDACTED = '[redacted]';

const NO_FIELDS: CompiledFieldList = Object.freeze({ fields: Object.freeze([]), selectors: Object.freeze([]) });

/**
 * Applies `direction` to a message: body (with the direction's codec), query string and headers, with at
 * most one tokenize and one detokenize vault call in all.
 *
 * @example
 *   const out = await transformMessage(route.request, { body, query: 'To=%2B1415...', headers }, deps,
 *     { requestId, routeId: route.id, side: 'request' });
 *   if (out.changed) forward(out.body, out.query, out.headers);
 */
export async function transformMessage(
  direction: CompiledDirection,
  msg: HttpMessage,
  deps: TransformDeps,
  ctx: TransformContext = {},
  stats?: TransformStats,
): Promise<TransformedMessage> {
  const round = new Round(deps);

  // plan
  let body: DocPlan | undefined;
  if (direction.fields.length > 0) {
    if (msg.body.length === 0) {
      // An empty body has none of the fields: the `missing` policy decides.
      for (const field of direction.fields) refuseUnlessSkip(field.policy.missing, 'FIELD_MISSING', field.selector.source);
    } else {
      const codec = deps.codecs.get(direction.codec);
      if (!codec) throw new GatewayError('INTERNAL', `no codec named '${direction.codec}'`);
      const contentType = headerValue(msg.headers, 'content-type');
      body = round.planDocument(codec, msg.body, direction, TOP_BODY, undefined, contentType);
    }
  }
  let query: DocPlan | undefined;
  let queryBytes: Buffer | undefined;
  if (direction.query.fields.length > 0) {
    queryBytes = Buffer.from(msg.query, 'latin1');
    query = round.planDocument(formCodec as Codec, queryBytes, direction.query, TOP_QUERY, undefined);
  }
  let headers: HeaderPlan | undefined;
  if (direction.headers.fields.length > 0) {
    const matches = scanHeaders(msg.headers, direction.headers.selectors);
    checkMissing(direction.headers.fields, matches, TOP_HEADERS);
    headers = { matches, plan: round.planMatches(direction.headers.fields, matches, TOP_HEADERS) };
  }

  // one vault round (+ audit), then finalize bottom-up
  await round.run(ctx, stats?.resolved);
  if (stats) {
    stats.tokenized += round.tokenize.length;
    stats.detokenized += round.detokenize.length;
    stats.other += round.other;
    if (round.altered > 0) stats.alteredTokens = (stats.alteredTokens ?? 0) + round.altered;
  }
  const outBody = body ? finish(body) : msg.body;
  const outQuery = query ? finish(query) : queryBytes;
  const outHeaders = headers ? (finishEdits(headers.plan), applyHeaders(msg.headers, headers.matches, headers.plan.edits)) : msg.headers;
  const queryText = outQuery === queryBytes || outQuery === undefined ? msg.query : outQuery.toString('latin1');
  return {
    body: outBody,
    query: queryText,
    headers: outHeaders,
    changed: outBody !== msg.body || queryText !== msg.query || outHeaders !== msg.headers,
  };
}

/**
 * Applies the body fields of `direction` to `body` (query and header fields are not looked at). Returns the
 * original Buffer (same object) when nothing changed.
 *
 * @example
 *   const out = await transformBody(route.request, body, deps);
 */
export async function transformBody(
  direction: CompiledDirection,
  body: Buffer,
  deps: TransformDeps,
  stats?: TransformStats,
  contentType?: string,
): Promise<Buffer> {
  const bodyOnly: CompiledDirection = { ...direction, query: NO_FIELDS, headers: NO_FIELDS };
  const headers: HeaderMap = contentType === undefined ? {} : { 'content-type': contentType };
  return (await transformMessage(bodyOnly, { body, query: '', headers }, deps, {}, stats)).body;
}

const withoutBodyCache = new WeakMap<CompiledDirection, CompiledDirection>();

/**
 * `direction` without its body fields (query and header fields kept): for a message that has no body to
 * speak of, such as an empty upstream response (204, 304), where body fields are not "missing" but moot.
 */
export function withoutBody(direction: CompiledDirection): CompiledDirection {
  let out = withoutBodyCache.get(direction);
  if (out === undefined) {
    out = Object.freeze({ ...direction, ...NO_FIELDS });
    withoutBodyCache.set(direction, out);
  }
  return out;
}

// ---------------------------------------------------------------------------------------------------------------
// Plans

/** Edits of one set of matches, and the work that fills them in once the vault has answered. */
interface MatchPlan {
  readonly edits: (Edit | undefined)[];
  /** Run after the vault round, before the edits are applied: nested documents, scanned texts. */
  readonly finishers: (() => void)[];
}

/** A document (body, query string, nested value) scanned by a codec. */
interface DocPlan extends MatchPlan {
  readonly codec: Codec;
  readonly input: Buffer;
  readonly scan: ScanResult;
}

interface HeaderPlan {
  readonly matches: ReturnType<typeof scanHeaders>;
  readonly plan: MatchPlan;
}

/** How paths are written for one document: its matches, and its fields when missing. */
interface Naming {
  path(matchPath: string): string;
  missing(field: CompiledField): string;
}

const TOP_BODY: Naming = { path: (p) => p, missing: (f) => f.selector.source };
const TOP_QUERY: Naming = { path: (p) => `query:${p}`, missing: (f) => f.selector.source };
const TOP_HEADERS: Naming = { path: (p) => p, missing: (f) => f.selector.source };

/**
 * Paths inside a nested document follow the outer path directly: a JSON path starts with `$`
 * (`ContentVariables$.1`, `$.payload$.user.email`); a form field name is joined with `&` (`$.payload&To`).
 */
export function nestedPath(outer: string, inner: string): string {
  return inner.startsWith('$') ? outer + inner : `${outer}&${inner}`;
}

function nestedNaming(outer: string): Naming {
  return { path: (p) => nestedPath(outer, p), missing: (f) => nestedPath(outer, f.selector.source) };
}

function finishEdits(plan: MatchPlan): void {
  for (const f of plan.finishers) f();
}

/** Runs the finishers (children first, since a nested document's finisher finishes it), then the codec. */
function finish(doc: DocPlan): Buffer {
  finishEdits(doc);
  return doc.edits.some((e) => e !== undefined) ? doc.codec.apply(doc.input, doc.scan, doc.edits) : doc.input;
}

interface DetokenizeAt {
  readonly path: string;
  readonly field: CompiledField;
  readonly type: string;
  readonly set: (value: string) => void;
}

/** The vault items of one transform, and how to plan them. */
class Round {
  readonly tokenize: TokenizeItem[] = [];
  readonly tokenizeSet: ((token: string) => void)[] = [];
  readonly detokenize: DetokenizeItem[] = [];
  readonly detokenizeAt: DetokenizeAt[] = [];
  other = 0;
  /** detokenize-text: altered token-like strings seen (text-tokens.ts). */
  altered = 0;
  private readonly findPii: FindPii;

  constructor(private readonly deps: TransformDeps) {
    this.findPii = deps.findPii ?? realFindPii;
  }

  /**
   * Scans `input` with `codec` and plans every match. A scan failure (bad JSON, bad form) is re-thrown with
   * the outer path in front; for a nested document (`onInvalid` given) a 'skip' policy leaves the value as
   * it is and returns undefined.
   */
  planDocument(
    codec: Codec,
    input: Buffer,
    list: CompiledFieldList,
    naming: Naming,
    onInvalid: { policy: OnProblem; path: string } | undefined,
    contentType?: string,
  ): DocPlan | undefined {
    let scan: ScanResult;
    try {
      scan = codec.scan(input, scanSelectors(list), { maxDepth: this.deps.maxDepth, contentType });
    } catch (err) {
      if (onInvalid === undefined || !isGatewayError(err) || err.status !== 400) throw err;
      if (onInvalid.policy === 'skip') return undefined;
      const field = err.field === undefined ? onInvalid.path : naming.path(err.field);
      throw new GatewayError(err.code, `${onInvalid.path}: not a valid ${codec.name} document: ${err.message}`, { field, cause: err });
    }
    checkMissing(list.fields, scan.matches, naming);
    return { codec, input, scan, ...this.planMatches(list.fields, scan.matches, naming, scanSelectors(list)) };
  }

  /**
   * Decides what happens to each match; vault work is queued with a setter for its edit. `selectors` (json
   * documents) may go beyond `fields`: sibling selectors of `escape: { by }`, read here and never edited.
   */
  planMatches(fields: readonly CompiledField[], matches: readonly Match[], naming: Naming, selectors?: readonly CompiledSelector[]): MatchPlan {
    const edits: (Edit | undefined)[] = new Array(matches.length);
    const finishers: (() => void)[] = [];
    const siblings = selectors !== undefined && selectors.length > fields.length ? siblingValues(fields.length, matches, selectors) : undefined;
    for (let i = 0; i < matches.length; i++) {
      const m = matches[i]!;
      if (m.selector >= fields.length) continue; // a sibling read for escape: { by }
      const field = fields[m.selector]!;
      const path = naming.path(m.path);
      const action = field.action;
      const replace = (value: string): void => {
        edits[i] = { op: 'replace', value };
      };
      if (action.kind === 'redact') {
        edits[i] = { op: 'remove' };
        this.other++;
        continue;
      }
      if (m.kind !== 'string' || m.value === undefined) {
        refuseUnlessSkip(field.policy.notString, 'FIELD_NOT_STRING', path, `expected a string, found ${m.kind}`);
        continue;
      }
      const value = m.value;
      switch (action.kind) {
        case 'tokenize': {
          const read = readForm(action.form, value);
          const spec = chooseSpec(action, read.core, read.phone);
          if (spec === undefined) refuseUnlessSkip(field.policy.invalid, 'INVALID_VALUE', path, notOfTypeMessage(action));
          else if (spec !== null) {
            const input = spec.type === 'phone' ? read.phone : read.core;
            this.queueTokenize(spec, input, action.form === undefined ? replace : (token) => replace(writeForm(read, spec.type, token)));
          }
          break;
        }
        case 'detokenize': {
          const read = readForm(action.form, value);
          const spec = recognizers(action, this.deps.keyring).find((s) => s.format.isToken(s.type === 'phone' ? read.phone : read.core));
          if (spec === undefined) {
            refuseUnlessSkip(field.policy.invalid, 'NOT_A_TOKEN', path, 'expected a token issued by this gateway');
          } else {
            // The vault only ever sees canonical tokens ('+' phones, no kept prefix).
            this.detokenize.push({ namespace: action.namespace, token: spec.type === 'phone' ? read.phone : read.core });
            const set = action.form === undefined ? replace : (resolved: string) => replace(writeForm(read, spec.type, resolved));
            this.detokenizeAt.push({ path, field, type: spec.type, set });
          }
          break;
        }
        case 'detokenize-text': {
          const escape = typeof action.escape === 'string' ? action.escape : escapeBySibling(field, action.escape, m.path, siblings);
          this.planDetokenizeText(action, field, value, path, escape, replace, finishers);
          break;
        }
        case 'mask':
          replace(maskValue(value, action.style));
          this.other++;
          break;
        case 'hash':
          replace(hashValue(this.deps.keyring.hashKey, value, action.encoding, action.prefix));
          this.other++;
          break;
        case 'scan':
          this.planScan(action, field, value, path, replace, finishers);
          break;
        case 'document': {
          const codec = this.deps.codecs.get(action.document.codec);
          if (!codec) throw new GatewayError('INTERNAL', `no codec named '${action.document.codec}'`);
          const input = Buffer.from(value, 'utf8');
          const child = this.planDocument(codec, input, action.document, nestedNaming(path), { policy: field.policy.invalid, path });
          if (child !== undefined) {
            finishers.push(() => {
              const out = finish(child);
              if (out !== input) replace(out.toString('utf8'));
            });
          }
          break;
        }
      }
    }
    return { edits, finishers };
  }

  /** Free text: each span found becomes a token (queued), a mask or [redacted]; the text is rebuilt after the round. */
  private planScan(
    action: Extract<CompiledAction, { kind: 'scan' }>,
    field: CompiledField,
    text: string,
    path: string,
    replace: (value: string) => void,
    finishers: (() => void)[],
  ): void {
    const spans = this.findPii(text, action.find);
    if (spans.length === 0) return;
    const replacements: (string | undefined)[] = new Array(spans.length);
    spans.forEach((span, k) => {
      const found = text.slice(span.start, span.end);
      if (action.then === 'redact') replacements[k] = REDACTED;
      else if (action.then === 'mask') replacements[k] = maskValue(found, span.kind);
      else {
        const spec = action.specs[span.kind];
        if (accepts(spec, found)) this.queueTokenize(spec, found, (token) => (replacements[k] = token));
        else refuseUnlessSkip(field.policy.invalid, 'INVALID_VALUE', path, `a ${span.kind} found in the text is not a valid ${span.kind} value`);
      }
    });
    if (action.then !== 'tokenize') this.other += spans.length;
    finishers.push(() => {
      let out = '';
      let from = 0;
      spans.forEach((span, k) => {
        const r = replacements[k];
        if (r === undefined) return; // skipped by policy: the span stays
        out += text.slice(from, span.start) + r;
        from = span.end;
      });
      if (from > 0) replace(out + text.slice(from));
    });
  }

  /**
   * Free text with our tokens in it: each token found is queued in the one detokenize call (audited with
   * the field's path and the token's type); after the round the text is rebuilt with each value escaped
   * for `escape`. A token the vault does not know stays as written when the unknownToken policy skips it.
   */
  private planDetokenizeText(
    action: Extract<CompiledAction, { kind: 'detokenize-text' }>,
    field: CompiledField,
    text: string,
    path: string,
    escape: TextEscape,
    replace: (value: string) => void,
    finishers: (() => void)[],
  ): void {
    const found = findTokensInText(text, textRecognizers(action, this.deps.keyring));
    this.altered += found.altered;
    const tokens = found.tokens;
    if (tokens.length === 0) return;
    const values: (string | undefined)[] = new Array(tokens.length);
    tokens.forEach((t, k) => {
      this.detokenize.push({ namespace: action.namespace, token: text.slice(t.start, t.end) });
      this.detokenizeAt.push({ path, field, type: t.spec.type, set: (resolved) => (values[k] = escapeText(resolved, escape, path)) });
    });
    finishers.push(() => {
      let out = '';
      let from = 0;
      let changed = false;
      tokens.forEach((t, k) => {
        const v = values[k];
        if (v === undefined) return; // unknown, skipped by policy: the token stays as written
        out += text.slice(from, t.start) + v;
        from = t.end;
        changed = true;
      });
      if (changed) replace(out + text.slice(from));
    });
  }

  private queueTokenize(spec: TokenSpec, value: string, set: (token: string) => void): void {
    this.tokenize.push({ spec, value });
    this.tokenizeSet.push(set);
  }

  /**
   * The vault round: one tokenize and one detokenize call, concurrently; then the audit hook; then the setters.
   * Each token resolved is also pushed to `resolvedOut` (TransformStats.resolved) when given.
   */
  async run(ctx: TransformContext, resolvedOut?: ResolvedPair[]): Promise<void> {
    const { vault, audit, keyring, keepTokens } = this.deps;
    // Tokens the echo guard wrote stay as they are (TransformDeps.keepTokens): only the others go to the vault.
    let toVault = this.tokenize;
    let toVaultSet = this.tokenizeSet;
    if (keepTokens !== undefined && keepTokens.size > 0 && this.tokenize.length > 0) {
      toVault = [];
      toVaultSet = [];
      for (let j = 0; j < this.tokenize.length; j++) {
        const item = this.tokenize[j]!;
        if (keepTokens.has(item.value)) this.tokenizeSet[j]!(item.value);
        else {
          toVault.push(item);
          toVaultSet.push(this.tokenizeSet[j]!);
        }
      }
    }
    const [tokens, resolved] = await Promise.all([
      toVault.length > 0 ? vault.tokenize(toVault) : undefined,
      this.detokenize.length > 0 ? vault.detokenize(this.detokenize) : undefined,
    ]);
    if (tokens) {
      if (tokens.length !== toVault.length) throw new GatewayError('INTERNAL', 'the vault returned a different number of tokens');
      for (let j = 0; j < tokens.length; j++) toVaultSet[j]!(tokens[j]!);
    }
    if (!resolved) return;
    if (resolved.length !== this.detokenize.length) throw new GatewayError('INTERNAL', 'the vault returned a different number of results');
    if (audit) {
      const events: DetokenizeAuditEvent[] = resolved.map((r, j) => {
        const at = this.detokenizeAt[j]!;
        const item = this.detokenize[j]!;
        return {
          path: at.path,
          tokenType: r.found ? r.type : at.type,
          found: r.found,
          tokenFingerprint: auditFingerprint(keyring.fingerprintKey, item.namespace, item.token),
        };
      });
      try {
        await audit.detokenized(events, ctx);
      } catch (err) {
        // Fail closed: nothing resolved is released without its audit record.
        if (isGatewayError(err)) throw err;
        throw new GatewayError('INTERNAL', 'the audit record of detokenized fields could not be written', { cause: err });
      }
    }
    for (let j = 0; j < resolved.length; j++) {
      const r = resolved[j]!;
      const at = this.detokenizeAt[j]!;
      if (r.found) {
        at.set(r.value);
        resolvedOut?.push({ value: r.value, token: this.detokenize[j]!.token, type: r.type });
      } else refuseUnlessSkip(at.field.policy.unknownToken, 'UNKNOWN_TOKEN', at.path, 'token is not known to the vault');
    }
  }
}

// ---------------------------------------------------------------------------------------------------------------
// Helpers

function checkMissing(fields: readonly CompiledField[], matches: readonly Match[], naming: Naming): void {
  if (fields.every((f) => f.policy.missing === 'skip')) return;
  const seen = new Uint8Array(fields.length);
  for (const m of matches) seen[m.selector] = 1;
  for (let i = 0; i < fields.length; i++) {
    if (!seen[i]) refuseUnlessSkip(fields[i]!.policy.missing, 'FIELD_MISSING', naming.missing(fields[i]!));
  }
}

function refuseUnlessSkip(
  policy: OnProblem,
  code: 'FIELD_MISSING' | 'FIELD_NOT_STRING' | 'INVALID_VALUE' | 'NOT_A_TOKEN' | 'UNKNOWN_TOKEN',
  field: string,
  detail?: string,
): void {
  if (policy === 'skip') return;
  const what = code === 'FIELD_MISSING' ? `no field matches ${field}` : `${field}: ${detail}`;
  throw new GatewayError(code, what, { field });
}

/** First value of a header, by case-insensitive name. */
function headerValue(headers: HeaderMap, name: string): string | undefined {
  for (const key in headers) {
    if (key.toLowerCase() !== name) continue;
    const v = headers[key]!;
    return typeof v === 'string' ? v : v[0];
  }
  return undefined;
}

/**
 * The first candidate spec whose format accepts the value (phone specs are given `phone`, the value as a
 * phone is read under the field's phoneFormat); null = keep as is; undefined = refuse/skip by policy.
 */
function chooseSpec(action: Extract<CompiledAction, { kind: 'tokenize' }>, value: string, phone: string = value): TokenSpec | null | undefined {
  const of = (spec: TokenSpec): string => (spec.type === 'phone' ? phone : value);
  for (const spec of action.specs) if (accepts(spec, of(spec))) return spec;
  if (action.otherwise === 'keep') return null;
  if (action.otherwise === 'refuse') return undefined;
  return accepts(action.otherwise, of(action.otherwise)) ? action.otherwise : undefined;
}

/** A value read under a field's ValueForm: the prefix kept aside, the rest, and the rest as a phone. */
interface ReadValue {
  readonly prefix: string;
  readonly core: string;
  /** `core`, or '+' + core when phoneFormat is digits and core is all digits (the vault's canonical form). */
  readonly phone: string;
  /** True when '+' was added: phone tokens and values are written back without it. */
  readonly plusAdded: boolean;
}

const ALL_DIGITS = /^[0-9]+$/;

/** Reads `value` under `form` (rules/types.ts ValueForm). Without a form, the value is taken whole. */
function readForm(form: ValueForm | undefined, value: string): ReadValue {
  if (form === undefined) return { prefix: '', core: value, phone: value, plusAdded: false };
  const prefix = form.keepPrefixes.find((p) => value.startsWith(p)) ?? '';
  const core = value.slice(prefix.length);
  const plusAdded = form.phoneFormat === 'digits' && ALL_DIGITS.test(core);
  return { prefix, core, phone: plusAdded ? `+${core}` : core, plusAdded };
}

/** Writes a token or resolved value back in the form the value came in: the kept prefix, and no '+' for a digits phone. */
function writeForm(read: ReadValue, type: string, out: string): string {
  const body = read.plusAdded && type === 'phone' && out.startsWith('+') ? out.slice(1) : out;
  return read.prefix + body;
}

/** Whether the spec's format takes the value (no error built per miss: this runs per candidate type). */
function accepts(spec: TokenSpec, value: string): boolean {
  return spec.format.tryNormalize(value) !== undefined;
}

function notOfTypeMessage(action: Extract<CompiledAction, { kind: 'tokenize' }>): string {
  return `value is not a valid ${action.specs.map((s) => s.type).join(' or ')}`;
}

/** Specs per detokenize-text action (its types, its namespace), built once. */
const textRecognizerCache = new WeakMap<object, readonly TokenSpec[]>();
function textRecognizers(action: Extract<CompiledAction, { kind: 'detokenize-text' }>, keyring: Keyring): readonly TokenSpec[] {
  let specs = textRecognizerCache.get(action);
  if (!specs) {
    specs = action.types.map((type) => createTokenSpec({ type, namespace: action.namespace }, keyring));
    textRecognizerCache.set(action, specs);
  }
  return specs;
}

/** A list's selectors plus the sibling selectors its `escape: { by }` fields read (same array per list). */
const scanSelectorCache = new WeakMap<CompiledFieldList, readonly CompiledSelector[]>();
function scanSelectors(list: CompiledFieldList): readonly CompiledSelector[] {
  let out = scanSelectorCache.get(list);
  if (out === undefined) {
    const extra: CompiledSelector[] = [];
    for (const f of list.fields) {
      if (f.action.kind === 'detokenize-text' && typeof f.action.escape !== 'string') extra.push(f.action.escape.sibling);
    }
    out = extra.length === 0 ? list.selectors : Object.freeze([...list.selectors, ...extra]);
    scanSelectorCache.set(list, out);
  }
  return out;
}

/** `path` without its last member `key` (`$.content[1].value` -> `$.content[1]`), or undefined. */
function parentPath(path: string, key: string): string | undefined {
  const label = formatPath([key]).slice(1);
  return path.endsWith(label) ? path.slice(0, path.length - label.length) : undefined;
}

/** Sibling matches (selector index >= fieldCount) by parent path and key: the string value, or null. */
function siblingValues(fieldCount: number, matches: readonly Match[], selectors: readonly CompiledSelector[]): Map<string, string | null> {
  const out = new Map<string, string | null>();
  for (const m of matches) {
    if (m.selector < fieldCount) continue;
    const last = selectors[m.selector]!.segments.at(-1);
    if (last?.kind !== 'key') continue;
    const parent = parentPath(m.path, last.key);
    if (parent !== undefined) out.set(`${parent}\0${last.key}`, m.kind === 'string' && m.value !== undefined ? m.value : null);
  }
  return out;
}

/** The escape a sibling member chooses for the value at `path`; `otherwise` when it is missing, not a string or not listed. */
function escapeBySibling(
  field: CompiledField,
  escape: Exclude<Extract<CompiledAction, { kind: 'detokenize-text' }>['escape'], string>,
  path: string,
  siblings: Map<string, string | null> | undefined,
): TextEscape {
  const own = field.selector.segments.at(-1);
  const parent = own?.kind === 'key' ? parentPath(path, own.key) : undefined;
  const value = parent === undefined ? undefined : siblings?.get(`${parent}\0${escape.by}`);
  if (typeof value !== 'string') return escape.otherwise;
  const key = siblingKey(value);
  return escape.cases.find(([k]) => k === key)?.[1] ?? escape.otherwise;
}

/** Default-option specs per detokenize action, built once (createTokenSpec memoizes per keyring). */
const recognizerCache = new WeakMap<object, readonly TokenSpec[]>();
function recognizers(action: Extract<CompiledAction, { kind: 'detokenize' }>, keyring: Keyring): readonly TokenSpec[] {
  let specs = recognizerCache.get(action);
  if (!specs) {
    const types = action.types.length > 0 ? action.types : (['email', 'phone', 'opaque', 'digits'] as const);
    specs = types.map((type) => createTokenSpec({ type, namespace: action.namespace }, keyring));
    recognizerCache.set(action, specs);
  }
  return specs;
}
