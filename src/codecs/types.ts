/**
 * A codec finds the values that selectors point at in a body and puts replacements back, leaving every
 * other byte as it came. Codecs are pure (no I/O, no hono/undici) and are given compiled selectors.
 */
import type { CompiledSelector } from './selector.js';

/** `file`: a multipart part that is not a UTF-8 text field (a file upload or another media type); never decoded. */
export type ValueKind = 'string' | 'number' | 'boolean' | 'null' | 'object' | 'array' | 'file';

export interface Match {
  /** Index into the selectors array passed to scan(). */
  readonly selector: number;
  /** Concrete location for error messages, e.g. `$.d[0].profileData.Email` or `To`. Never a value. */
  readonly path: string;
  readonly kind: ValueKind;
  /** Decoded string value when kind === 'string'. */
  readonly value: string | undefined;
}

export interface ScanResult<M extends Match = Match> {
  readonly matches: readonly M[];
}

export type Edit =
  /** Replace the matched value with this string value (encoded as the codec requires). */
  | { readonly op: 'replace'; readonly value: string }
  /** Remove the field (object member / form field / array element) entirely. */
  | { readonly op: 'remove' };

export interface ScanOptions {
  /** Maximum nesting depth of objects/arrays; deeper documents are refused with TOO_DEEP. */
  readonly maxDepth: number;
  /**
   * The body's Content-Type header as received (parameters included). Codecs that need a parameter read it
   * here: multipart takes its `boundary`. Others ignore it.
   */
  readonly contentType?: string;
}

export interface Codec<M extends Match = Match> {
  readonly name: string;
  /** Validates the whole body and returns the matches. Throws GatewayError (400 codes) on bad input. */
  scan(body: Buffer, selectors: readonly CompiledSelector[], options: ScanOptions): ScanResult<M>;
  /** New body with the edits applied; `edits[i]` belongs to `scan.matches[i]` (undefined = untouched). */
  apply(body: Buffer, scan: ScanResult<M>, edits: readonly (Edit | undefined)[]): Buffer;
}
