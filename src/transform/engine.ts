/**
 * The transform engine: runs one direction's compiled field rules over a body.
 *
 *   scan (codec) -> decide per match (policy) -> one batched tokenize + one batched detokenize call
 *   -> edits -> splice (codec)
 *
 * It is the one place that decides what happens to a field, so the proxy, the rule-test runner and the
 * benchmarks all run exactly the same code. It knows nothing of HTTP. Every refusal is a GatewayError that
 * names the JSON path (or field name) and never the value.
 */
import { GatewayError } from '../errors.js';
import type { Codec, Edit, Match } from '../codecs/types.js';
import type { Keyring } from '../crypto/types.js';
import type { CompiledAction, CompiledDirection, CompiledField, OnProblem } from '../rules/types.js';
import type { TokenSpec } from '../tokens/types.js';
import { createTokenSpec } from '../tokens/index.js';
import type { DetokenizeItem, TokenizeItem, Vault } from '../vault/interface.js';
import { hashValue, maskValue } from './actions.js';

export interface TransformDeps {
  readonly vault: Vault;
  readonly keyring: Keyring;
  readonly codecs: ReadonlyMap<string, Codec>;
  readonly maxDepth: number;
}

/** What a transform did, for metrics and audit (counts only, no values). */
export interface TransformStats {
  tokenized: number;
  detokenized: number;
  other: number;
}

interface Pending {
  readonly matchIndex: number;
  readonly field: CompiledField;
  readonly path: string;
}

/**
 * Applies `direction` to `body`. Returns the original Buffer (same object) when nothing changed.
 *
 * @example
 *   const out = await transformBody(route.request, body, deps);
 */
export async function transformBody(
  direction: CompiledDirection,
  body: Buffer,
  deps: TransformDeps,
  stats?: TransformStats,
  /** The body's Content-Type header, for codecs that read a parameter of it (multipart: the boundary). */
  contentType?: string,
): Promise<Buffer> {
  const codec = deps.codecs.get(direction.codec);
  if (!codec) throw new GatewayError('INTERNAL', `no codec named '${direction.codec}'`);
  const { fields } = direction;

  if (body.length === 0) {
    // An empty body has none of the fields: the `missing` policy decides.
    for (const field of fields) refuseUnlessSkip(field.policy.missing, 'FIELD_MISSING', field.selector.source);
    return body;
  }

  const scan = codec.scan(body, direction.selectors, { maxDepth: deps.maxDepth, contentType });
  const { matches } = scan;
  checkMissing(fields, matches);

  const edits: (Edit | undefined)[] = new Array(matches.length);
  const toTokenize: TokenizeItem[] = [];
  const tokenizeAt: Pending[] = [];
  const toDetokenize: DetokenizeItem[] = [];
  const detokenizeAt: Pending[] = [];
  let other = 0;

  for (let i = 0; i < matches.length; i++) {
    const m = matches[i]!;
    const field = fields[m.selector]!;
    const action = field.action;
    if (action.kind === 'redact') {
      edits[i] = { op: 'remove' };
      other++;
      continue;
    }
    if (m.kind !== 'string' || m.value === undefined) {
      refuseUnlessSkip(field.policy.notString, 'FIELD_NOT_STRING', m.path, `expected a string, found ${m.kind}`);
      continue;
    }
    const value = m.value;
    switch (action.kind) {
      case 'tokenize': {
        const spec = chooseSpec(action, value);
        if (spec === undefined) {
          refuseUnlessSkip(field.policy.invalid, 'INVALID_VALUE', m.path, notOfTypeMessage(action));
        } else if (spec !== null) {
          toTokenize.push({ spec, value });
          tokenizeAt.push({ matchIndex: i, field, path: m.path });
        }
        break;
      }
      case 'detokenize': {
        if (!recognizers(action, deps.keyring).some((s) => s.format.isToken(value))) {
          refuseUnlessSkip(field.policy.invalid, 'NOT_A_TOKEN', m.path, 'expected a token issued by this gateway');
        } else {
          toDetokenize.push({ namespace: action.namespace, token: value });
          detokenizeAt.push({ matchIndex: i, field, path: m.path });
        }
        break;
      }
      case 'mask':
        edits[i] = { op: 'replace', value: maskValue(value, action.style) };
        other++;
        break;
      case 'hash':
        edits[i] = { op: 'replace', value: hashValue(deps.keyring.hashKey, value, action.encoding, action.prefix) };
        other++;
        break;
    }
  }

  // At most one batched call per kind, run concurrently.
  const [tokens, resolved] = await Promise.all([
    toTokenize.length > 0 ? deps.vault.tokenize(toTokenize) : undefined,
    toDetokenize.length > 0 ? deps.vault.detokenize(toDetokenize) : undefined,
  ]);
  if (tokens) {
    for (let j = 0; j < tokens.length; j++) edits[tokenizeAt[j]!.matchIndex] = { op: 'replace', value: tokens[j]! };
  }
  if (resolved) {
    for (let j = 0; j < resolved.length; j++) {
      const r = resolved[j]!;
      const at = detokenizeAt[j]!;
      if (r.found) edits[at.matchIndex] = { op: 'replace', value: r.value };
      else refuseUnlessSkip(at.field.policy.unknownToken, 'UNKNOWN_TOKEN', at.path, 'token is not known to the vault');
    }
  }
  if (stats) {
    stats.tokenized += toTokenize.length;
    stats.detokenized += resolved?.length ?? 0;
    stats.other += other;
  }
  return edits.some((e) => e !== undefined) ? codec.apply(body, scan, edits) : body;
}

function checkMissing(fields: readonly CompiledField[], matches: readonly Match[]): void {
  if (fields.every((f) => f.policy.missing === 'skip')) return;
  const seen = new Uint8Array(fields.length);
  for (const m of matches) seen[m.selector] = 1;
  for (let i = 0; i < fields.length; i++) {
    if (!seen[i]) refuseUnlessSkip(fields[i]!.policy.missing, 'FIELD_MISSING', fields[i]!.selector.source);
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

/** The first candidate spec whose format accepts the value; null = keep as is; undefined = refuse/skip by policy. */
function chooseSpec(action: Extract<CompiledAction, { kind: 'tokenize' }>, value: string): TokenSpec | null | undefined {
  for (const spec of action.specs) if (accepts(spec, value)) return spec;
  if (action.otherwise === 'keep') return null;
  if (action.otherwise === 'refuse') return undefined;
  return accepts(action.otherwise, value) ? action.otherwise : undefined;
}

function accepts(spec: TokenSpec, value: string): boolean {
  try {
    spec.format.normalize(value);
    return true;
  } catch {
    return false;
  }
}

function notOfTypeMessage(action: Extract<CompiledAction, { kind: 'tokenize' }>): string {
  return `value is not a valid ${action.specs.map((s) => s.type).join(' or ')}`;
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
