/**
 * The text codec: a text/* body (text/plain, text/html) is ONE string field, the whole body, selected as `$`.
 * What a rule does with it is the engine's business (detokenize-text resolves tokens inside it, scan finds PII
 * in it, mask/hash/tokenize replace it whole); the codec only checks and hands over the text and splices back.
 *
 * Refusals (GatewayError, status 400): INVALID_UTF8 when the body is not well-formed UTF-8 (a body in a
 * charset declared with `charsets:` is transcoded to UTF-8 before the codec reads it; see codecs/charset.ts). A UTF-8 byte
 * order mark is part of the text and stays where it is.
 *
 * Selectors: only `$` (compiled to no segments). The rules loader refuses anything else at load; a codec
 * given another selector throws INTERNAL rather than silently matching nothing. `redact` (a remove edit)
 * is refused at load too: the body is not a field that can be left out; apply throws INTERNAL for one.
 *
 * `apply` writes the replacement as UTF-8. No edit, or a replacement equal to the text, returns the
 * original Buffer (same object, every byte as it came).
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';
import type { CompiledSelector } from './selector.js';
import type { Codec, Edit, Match, ScanOptions, ScanResult } from './types.js';

/** A UTF-16 surrogate not part of a pair (no UTF-8 for it). */
const LONE_SURROGATE = /\p{Cs}/u;

/** The path of the one field of a text body. */
export const TEXT_BODY_PATH = '$';

export interface TextMatch extends Match {
  readonly kind: 'string';
  readonly value: string;
}

/** True when `selector` is the whole-body selector `$` (no segments). */
export function isWholeBody(selector: CompiledSelector): boolean {
  return selector.segments.length === 0;
}

function scan(body: Buffer, selectors: readonly CompiledSelector[], _options?: ScanOptions): ScanResult<TextMatch> {
  for (const s of selectors) {
    if (!isWholeBody(s)) {
      throw new GatewayError('INTERNAL', `selector ${s.source} is not '$'; the text codec selects the whole body only`);
    }
  }
  if (!isUtf8(body)) {
    throw new GatewayError('INVALID_UTF8', 'the text body does not decode to valid UTF-8', { field: TEXT_BODY_PATH });
  }
  if (selectors.length === 0) return { matches: [] };
  const value = body.toString('utf8');
  const matches: TextMatch[] = selectors.map((_, selector) =>
    Object.freeze({ selector, path: TEXT_BODY_PATH, kind: 'string' as const, value }),
  );
  return { matches };
}

function apply(body: Buffer, scan: ScanResult<TextMatch>, edits: readonly (Edit | undefined)[]): Buffer {
  if (edits.length > scan.matches.length) {
    throw new GatewayError('INTERNAL', `got ${edits.length} edits for ${scan.matches.length} matches`);
  }
  // All matches are the same field: the first edit wins.
  const k = edits.findIndex((e) => e !== undefined);
  if (k === -1) return body;
  const edit = edits[k]!;
  if (edit.op === 'remove') throw new GatewayError('INTERNAL', 'a text body cannot be removed', { field: TEXT_BODY_PATH });
  if (typeof edit.value !== 'string') {
    throw new GatewayError('INTERNAL', 'a replacement value must be a string', { field: TEXT_BODY_PATH });
  }
  if (edit.value === scan.matches[k]!.value) return body;
  if (LONE_SURROGATE.test(edit.value)) throw new GatewayError('INTERNAL', 'a replacement value is not well-formed Unicode', { field: TEXT_BODY_PATH });
  return Buffer.from(edit.value, 'utf8');
}

/**
 * The text/* codec. `scan` ignores its options.
 *
 * @example
 *   const whole = { source: '$', segments: [] };
 *   const result = textCodec.scan(Buffer.from('Hi tok_x'), [whole], { maxDepth: 64 });
 *   result.matches[0].value // 'Hi tok_x'
 *   textCodec.apply(body, result, [{ op: 'replace', value: 'Hi Ann' }]).toString() // 'Hi Ann'
 */
export const textCodec: Codec<TextMatch> = Object.freeze({ name: 'text', scan, apply });
