/**
 * Body charsets other than UTF-8, for directions that declare them (`charsets:` in a rule file): the body is
 * transcoded to UTF-8 before the codec reads it and the rewritten body transcoded back after, the same
 * decode -> rules -> re-encode wrapper as content-encoding.ts. Pure (Buffer only, no HTTP).
 *
 * Only charsets Node can decode AND encode losslessly are supported:
 *   - utf-8: nothing to do;
 *   - iso-8859-1 (latin1): Buffer's 'latin1' maps byte N to U+00NN and back, a bijection, so every byte of
 *     the body survives the round trip. Bytes 0x80-0x9F are read as C1 controls, as ISO-8859-1 says (not as
 *     windows-1252's curly quotes and euro sign); they pass through unchanged either way;
 *   - us-ascii: a subset of UTF-8, so no transcoding; a byte >= 0x80 is refused (INVALID_CHARSET), since
 *     Buffer's 'ascii' decoder would silently drop its high bit and parsers disagree on such bytes.
 * windows-1252 is refused at load time: Node's TextDecoder reads it, but Buffer cannot write it back.
 *
 * An unchanged body keeps its original bytes (the same Buffer is returned). A rewritten value with a
 * character the charset cannot hold (a detokenized 'Łukasz' going back into latin1) is refused with 422
 * UNREPRESENTABLE_VALUE naming the field's path, never the value: it is never replaced with '?'.
 */
import { GatewayError } from '../errors.js';
import type { CompiledSelector } from './selector.js';
import type { Codec, ScanOptions } from './types.js';

/** The charsets a direction may declare, by canonical (IANA preferred MIME) name. */
export const BODY_CHARSETS = ['utf-8', 'iso-8859-1', 'us-ascii'] as const;
export type BodyCharset = (typeof BODY_CHARSETS)[number];

/** Labels a rule file may write (schema enum), each with its canonical charset. */
export const CHARSET_LABELS: Readonly<Record<string, BodyCharset>> = Object.freeze({
  'utf-8': 'utf-8',
  utf8: 'utf-8',
  'iso-8859-1': 'iso-8859-1',
  latin1: 'iso-8859-1',
  'us-ascii': 'us-ascii',
  ascii: 'us-ascii',
});

/** Labels recognised in a Content-Type's `charset` parameter (lower-cased): the rule labels plus IANA aliases. */
const HEADER_LABELS: Readonly<Record<string, BodyCharset>> = Object.freeze(
  Object.assign(Object.create(null) as Record<string, BodyCharset>, CHARSET_LABELS, {
    'iso8859-1': 'iso-8859-1',
    iso_8859_1: 'iso-8859-1',
    'iso_8859-1': 'iso-8859-1',
    'latin-1': 'iso-8859-1',
    l1: 'iso-8859-1',
    'iso-ir-100': 'iso-8859-1',
    cp819: 'iso-8859-1',
    ibm819: 'iso-8859-1',
    'ansi_x3.4-1968': 'us-ascii',
    'iso646-us': 'us-ascii',
  }),
);

/**
 * The canonical charset of a Content-Type `charset` label (already lower-cased), or undefined when the
 * gateway cannot transcode it. No label means UTF-8 (RFC 8259 section 8.1 for JSON).
 *
 * @example
 *   bodyCharset('latin1') // 'iso-8859-1'
 *   bodyCharset('windows-1252') // undefined
 */
export function bodyCharset(label: string | undefined): BodyCharset | undefined {
  if (label === undefined) return 'utf-8';
  return HEADER_LABELS[label];
}

/** Tells which field a rewrite made unrepresentable: its path, or undefined when it cannot tell. */
export type LocateField = (before: Buffer, after: Buffer, representable: (s: string) => boolean) => string | undefined;

/**
 * Runs `rewrite` over the body transcoded to UTF-8 and returns the bytes to send in `charset`: the original
 * `body` (same Buffer) when `rewrite` returns its input unchanged.
 *
 * @throws GatewayError INVALID_CHARSET (400) for a us-ascii body with an 8-bit byte; UNREPRESENTABLE_VALUE
 *   (422) when the rewritten body has a character `charset` cannot hold (`locate` names the field).
 * @example
 *   const out = await rewriteCharset(body, 'iso-8859-1', (utf8) => transform(utf8), locate);
 */
export async function rewriteCharset(
  body: Buffer,
  charset: BodyCharset,
  rewrite: (utf8: Buffer) => Promise<Buffer>,
  locate?: LocateField,
): Promise<Buffer> {
  if (charset === 'utf-8') return rewrite(body);
  const utf8 = toUtf8(body, charset);
  const out = await rewrite(utf8);
  if (out === utf8) return body;
  return fromUtf8(out, charset, (representable) => locate?.(utf8, out, representable));
}

/** The body as UTF-8 bytes. us-ascii is already UTF-8 (after checking every byte is 7-bit). */
export function toUtf8(body: Buffer, charset: BodyCharset): Buffer {
  switch (charset) {
    case 'utf-8':
      return body;
    case 'iso-8859-1':
      return Buffer.from(body.toString('latin1'), 'utf8');
    case 'us-ascii': {
      const at = body.findIndex((b) => b >= 0x80);
      if (at !== -1) throw new GatewayError('INVALID_CHARSET', `the body is not us-ascii as its Content-Type says (an 8-bit byte at offset ${at})`);
      return body;
    }
  }
}

/**
 * UTF-8 bytes written in `charset`. A character the charset cannot hold is refused (UNREPRESENTABLE_VALUE);
 * `locate` is asked which field holds it (the message then names that path).
 */
export function fromUtf8(utf8: Buffer, charset: BodyCharset, locate?: (representable: (s: string) => boolean) => string | undefined): Buffer {
  if (charset === 'utf-8') return utf8;
  const max = charset === 'iso-8859-1' ? 0xff : 0x7f;
  const text = charset === 'us-ascii' ? undefined : utf8.toString('utf8');
  const fits = text === undefined ? utf8.every((b) => b <= max) : fitsBelow(text, max);
  if (!fits) {
    const field = locate?.((s) => fitsBelow(s, max));
    const where = field === undefined ? 'a rewritten value' : `the new value of '${field}'`;
    throw new GatewayError(
      'UNREPRESENTABLE_VALUE',
      `${where} has a character that ${charset} cannot represent (the body's charset); the message was not sent`,
      field === undefined ? {} : { field },
    );
  }
  return text === undefined ? utf8 : Buffer.from(text, 'latin1');
}

function fitsBelow(s: string, max: number): boolean {
  for (let i = 0; i < s.length; i++) if (s.charCodeAt(i) > max) return false;
  return true;
}

/**
 * A LocateField for a codec: scans the body before and after the rewrite with the direction's selectors and
 * names the first field whose value changed into one the charset cannot hold (a nested document is named by
 * its outer path). Runs only when a refusal is already certain.
 */
export function codecLocator(codec: Codec, selectors: readonly CompiledSelector[], options: ScanOptions): LocateField {
  return (before, after, representable) => {
    try {
      const old = new Map<string, string | undefined>();
      for (const m of codec.scan(before, selectors, options).matches) old.set(m.path, m.value);
      for (const m of codec.scan(after, selectors, options).matches) {
        if (m.value !== undefined && !representable(m.value) && old.get(m.path) !== m.value) return m.path;
      }
    } catch {
      // The message still refuses; it only cannot name the field.
    }
    return undefined;
  };
}
