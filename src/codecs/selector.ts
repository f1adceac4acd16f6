/**
 * Field selectors: the documented JSONPath subset rule files use to point at fields.
 *
 *   $.a.b            child keys
 *   $['key with spaces'] / $["MSG-sms"]   bracketed keys (any characters; \\ and \' escapes)
 *   $.a[*]           every element of an array (or every member of an object)
 *   $.a[0]           one array element
 *   $..name          every member called `name` at any depth below
 *
 * Compiled once when rules load; the hot path only walks `segments`. Selectors never come from request data.
 * (Implementation: codecs/selector.ts; this header documents the contract.)
 */
export type Segment =
  | { readonly kind: 'key'; readonly key: string }
  | { readonly kind: 'index'; readonly index: number }
  | { readonly kind: 'wildcard' }
  | { readonly kind: 'descendant'; readonly key: string };

export interface CompiledSelector {
  /** The selector as written in the rule file (for messages). */
  readonly source: string;
  readonly segments: readonly Segment[];
}
