/**
 * The compiled rule model: what the loader (rules/load.ts) produces from `rules/*.yaml` and what the
 * transform engine and the server run. Everything here is frozen and built once at start-up.
 */
import type { ClientMatcher } from '../auth/identity.js';
import type { ResignSpec, VerifySpec } from '../auth/signatures/types.js';
import type { Permission } from '../auth/principal.js';
import type { BodyCharset } from '../codecs/charset.js';
import type { CompiledSelector } from '../codecs/selector.js';
import type { TokenSpec, TokenType } from '../tokens/types.js';

/** What to do when a field cannot be acted on. 'refuse' (the default) fails the request; 'skip' leaves the field as it is. */
export type OnProblem = 'refuse' | 'skip';

export interface FieldPolicy {
  /** The selector matched nothing in the body. */
  readonly missing: OnProblem;
  /** The selector matched a non-string (number, object, ...). null counts as not a string. */
  readonly notString: OnProblem;
  /** detokenize: the value is not one of our tokens (keyed check fails). tokenize: the value is not of the token type. */
  readonly invalid: OnProblem;
  /** detokenize: the token is well-formed but the vault does not know it. */
  readonly unknownToken: OnProblem;
}

export type CompiledAction =
  | {
      readonly kind: 'tokenize';
      /** Candidate specs, tried in order: the first whose format accepts the value wins (e.g. [email, phone]). */
      readonly specs: readonly TokenSpec[];
      /** When no candidate accepts the value: 'refuse' (default), 'keep' the value, or tokenize with `fallback`. */
      readonly otherwise: 'refuse' | 'keep' | TokenSpec;
      /** How phones are written here (`phoneFormat:`); absent = e164. See ValueForm. */
      readonly form?: ValueForm;
    }
  | {
      readonly kind: 'detokenize';
      readonly namespace: string;
      readonly types: readonly TokenType[];
      /** How phones are written here (`phoneFormat:`) and prefixes kept in front (`keepPrefixes:`). */
      readonly form?: ValueForm;
    }
  | {
      /**
       * Free text (an SMS body, a mail subject or HTML): our own tokens found inside it are resolved in the
       * request's one detokenize call and written back in place, each escaped for where it lands.
       */
      readonly kind: 'detokenize-text';
      readonly namespace: string;
      /** Token types looked for, in order (default [email, opaque]; phone and digits only when listed). */
      readonly types: readonly TokenType[];
      /** How each resolved value is written into the text (the codec's own escaping applies on top). */
      readonly escape: TextEscape | EscapeBySibling;
    }
  | { readonly kind: 'redact' }
  | { readonly kind: 'mask'; readonly style: 'email' | 'phone' | 'generic' }
  | { readonly kind: 'hash'; readonly encoding: 'hex' | 'base64url'; readonly prefix: string }
  | {
      readonly kind: 'scan';
      /** What to look for in the free text (at least one). */
      readonly find: readonly ScanKind[];
      /** What each span found becomes: a token (email/phone spec), a mask, or `[redacted]`. */
      readonly then: 'tokenize' | 'mask' | 'redact';
      /** Token specs for `then: tokenize` (default options, the field's namespace). */
      readonly specs: { readonly email: TokenSpec; readonly phone: TokenSpec };
    }
  | {
      /** The value is itself a document (JSON in a string, a form in a field): decoded, transformed, re-encoded. */
      readonly kind: 'document';
      readonly document: CompiledDocument;
    };

/**
 * How a tokenized/detokenized value is written in the message, when it is not the token format's own form
 * (additive; absent means: as the format writes it).
 * - phoneFormat 'digits': a phone written as country code + number without '+' (WebEngage `toNumber`,
 *   WhatsApp `wa_id`). It is read as '+digits'; the token or value written back has no '+' either when the
 *   input had none. The vault always sees canonical '+' values and tokens.
 * - keepPrefixes: literal prefixes (`whatsapp:`) taken off before the value is acted on and put back in
 *   front of the result; a value without any of them is acted on whole.
 */
export interface ValueForm {
  readonly phoneFormat: 'e164' | 'digits';
  readonly keepPrefixes: readonly string[];
}

/**
 * How a value resolved inside text is written: `plain` as is; `html` with & < > " ' as entities (a name
 * never becomes markup); `url` percent-encoded like encodeURIComponent (a value inside an href/src or a
 * URL); `header` as is, but a value holding CR, LF or NUL is refused (a header or subject line would break).
 */
export type TextEscape = 'plain' | 'html' | 'url' | 'header';

/**
 * The escaping chosen per match by a sibling member of the matched value (json only): SendGrid's
 * `content[*].value` is HTML or plain text as its sibling `type` says. `sibling` is the field's selector
 * with its last key replaced by `by`. Sibling values are compared lower-cased, without parameters
 * (`text/html; charset=utf-8` is `text/html`); a missing, non-string or unlisted sibling gets `otherwise`.
 */
export interface EscapeBySibling {
  readonly by: string;
  readonly sibling: CompiledSelector;
  /** [normalized sibling value, escape], first match wins. */
  readonly cases: readonly (readonly [string, TextEscape])[];
  readonly otherwise: TextEscape;
}

/** A sibling value as EscapeBySibling compares it: before any ';', trimmed, lower-cased. */
export function siblingKey(value: string): string {
  const semi = value.indexOf(';');
  return (semi < 0 ? value : value.slice(0, semi)).trim().toLowerCase();
}

/** What the `scan` action detects in free text. */
export type ScanKind = 'email' | 'phone';

/** Where a field lives in an HTTP message. `query:NAME` and `header:NAME` selectors pick the non-body ones. */
export type FieldLocation = 'body' | 'query' | 'header';

export interface CompiledField {
  /**
   * body: the codec's selector (JSONPath subset for json; one key segment, the field name, for form and
   * multipart). query/header: one key segment with the parameter name (header names lower-cased);
   * `source` is the selector as written (`query:To`, `header:X-User-Email`).
   */
  readonly selector: CompiledSelector;
  /** Absent means 'body' (the only location inside nested documents). */
  readonly location?: FieldLocation;
  readonly action: CompiledAction;
  readonly policy: FieldPolicy;
  /** Where it was declared, for messages: `rules/clevertap.yaml:14:9`. */
  readonly origin: string;
}

/** A list of field rules and their selectors, in the same order (what a codec's scan() takes). */
export interface CompiledFieldList {
  readonly fields: readonly CompiledField[];
  readonly selectors: readonly CompiledSelector[];
}

/** Field rules over one document: a body, or a nested document inside a value. */
export interface CompiledDocument extends CompiledFieldList {
  /** Codec name: 'json', 'form', 'multipart', 'text'. */
  readonly codec: string;
}

export interface CompiledDirection extends CompiledDocument {
  /** Media types accepted for this codec (lower-case, no parameters), e.g. ['application/json']. */
  readonly contentTypes: readonly string[];
  /**
   * Body charsets accepted (`charsets:`, canonical names; codecs/charset.ts). Absent means ['utf-8'] (additive).
   * A body in another charset is transcoded to UTF-8 for the codec and back after the rewrite.
   */
  readonly charsets?: readonly BodyCharset[];
  // `fields`/`selectors` (from CompiledDocument) are the body's fields only; empty when the direction only
  // touches the query or headers (then the body is not read at all).
  /** `query:NAME` fields: query-string parameters (request side). */
  readonly query: CompiledFieldList;
  /** `header:NAME` fields: header values (request or response). */
  readonly headers: CompiledFieldList;
}

export interface CompiledUpstream {
  readonly name: string;
  /** Base URL after ${ENV} substitution, e.g. https://api.clevertap.com (no trailing slash). */
  readonly url: URL;
  readonly connectTimeoutMs: number;
  readonly headersTimeoutMs: number;
  readonly bodyTimeoutMs: number;
  /** Client certificate and trust for an https upstream (absolute paths, after ${ENV} substitution). */
  readonly tls?: UpstreamTls;
}

/** Upstream TLS material, as file paths: read (and re-read on reload) by proxy/upstream.ts. */
export interface UpstreamTls {
  /** Client certificate chain (PEM) presented to the upstream; set together with `key`. */
  readonly cert?: string;
  readonly key?: string;
  /** CA bundle (PEM) that replaces the system roots for this upstream. */
  readonly ca?: string;
  /** SNI and name checked against the upstream's certificate, when it differs from the URL host. */
  readonly servername?: string;
}

export interface CompiledRoute {
  /** `<file name>/<route id>`, e.g. `clevertap/upload`; unique across the rule set. */
  readonly id: string;
  readonly method: string;
  /** hono-style path pattern with named params: `/2010-04-01/Accounts/:sid/Messages.json`. */
  readonly path: string;
  readonly host: string | undefined;
  readonly upstream: CompiledUpstream;
  /** null when the direction passes through untouched. */
  readonly request: CompiledDirection | null;
  readonly response: CompiledDirection | null;
  readonly origin: string;
  /** Allowlist of mTLS client identities; undefined lets any client the listener accepts through. */
  readonly clients?: readonly ClientMatcher[];
  /** Caller authentication (`auth:`); undefined when the file writes none (allowed only without detokenize). */
  readonly auth?: RouteAuth;
  /** Provider signature checked on the raw request body before anything reads it (`verify:`, auth/signatures/). */
  readonly verify?: VerifySpec;
  /** Signature for the next hop over the final (rewritten) request (`resign:`); set only with `verify`. */
  readonly resign?: ResignSpec;
}

/**
 * A route's `auth:`. `none` is the explicit opt-out; `credentials` takes a bearer credential in
 * Proxy-Authorization (JWT from the named provider and/or an API key) holding every permission in `require`.
 */
export type RouteAuth =
  | { readonly kind: 'none' }
  | { readonly kind: 'credentials'; readonly jwt: string | null; readonly apiKey: boolean; readonly require: readonly Permission[] };

export interface CompiledRuleSet {
  readonly routes: readonly CompiledRoute[];
  readonly upstreams: ReadonlyMap<string, CompiledUpstream>;
  /** The files that were loaded, for /readyz and logs. */
  readonly files: readonly string[];
}
