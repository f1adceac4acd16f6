/**
 * Token formats: what a token of each type looks like, how it is derived, and how the gateway recognizes
 * its own tokens without asking the vault.
 *
 * A format never does I/O and never stores anything: the vault calls `derive()` and resolves collisions by
 * retrying with the next `attempt`. Formats are built once per distinct spec (at rule compile time) and
 * shared; the hot path only calls their methods.
 */
export type TokenType = 'email' | 'phone' | 'opaque' | 'digits';

export const TOKEN_TYPES: readonly TokenType[] = ['email', 'phone', 'opaque', 'digits'];

/** What a rule (or a vault API caller) asks for. Plain data: validated by the rules schema. */
export interface TokenSpecInput {
  type: TokenType;
  /** Token namespace (tenant/context). Same value + same namespace = same token. Default 'default'. */
  namespace?: string;
  /** A fresh token for every call instead of a deterministic one. Default false. */
  random?: boolean;
  /** email only: what happens to the domain. Default 'tokenize'. `{ sink }` replaces it with a fixed domain. */
  emailDomain?: 'tokenize' | 'preserve' | { sink: string };
  /** email only: suffix of tokenized domains. Default 'tok.invalid' (RFC 2606: never deliverable). */
  emailSuffix?: string;
  /** opaque only: prefix. Default 'tok_'. */
  prefix?: string;
}

/** A compiled, frozen token spec. Build with `createTokenSpec()` (tokens/index.ts). */
export interface TokenSpec {
  readonly type: TokenType;
  readonly namespace: string;
  readonly random: boolean;
  /**
   * Stable string naming everything that changes the token for a given value (type and its options, not the
   * namespace). The vault includes it in the value fingerprint, so 'email, domain preserved' and 'email,
   * domain tokenized' never share a row.
   */
  readonly variant: string;
  readonly format: TokenFormat;
  /**
   * The canonical input this spec stands for (frozen): type, namespace, random, and the options of the type
   * with their defaults filled in (email: emailDomain, plus emailSuffix when the domain is tokenized;
   * opaque: prefix). Equal specs have equal inputs, so a remote vault given this input builds the same spec
   * (vault/http/protocols.ts sends it to another gateway's /v1/tokenize).
   */
  readonly input: Readonly<TokenSpecInput>;
}

export interface TokenFormat {
  readonly type: TokenType;
  /**
   * Canonical form of a raw value (email: trimmed and lower-cased, see docs/tokens.md; phone: E.164 '+<digits>').
   * Throws GatewayError('INVALID_VALUE') when the value is not of this type. The message never
   * contains the value.
   */
  normalize(raw: string): string;
  /**
   * normalize() without the throw: the canonical form, or undefined when normalize() would throw. Same
   * validation code as normalize(); for hot paths that only test whether a value is of this type (choosing
   * a token type among candidates), where building and catching an error per miss costs microseconds.
   */
  tryNormalize(raw: string): string | undefined;
  /**
   * The token for a normalized value. Deterministic in (keys, namespace, normalized, attempt) unless
   * `entropy` is given (random tokens), in which case it is derived from those bytes instead.
   * Never returns a string equal to `normalized`.
   */
  derive(normalized: string, namespace: string, attempt: number, entropy?: Buffer): string;
  /** Keyed check: true when `candidate` has this format and its check characters verify. No vault call. */
  isToken(candidate: string): boolean;
}
