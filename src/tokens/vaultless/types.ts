/**
 * What a vaultless token scheme is: a keyed, deterministic, reversible map between normalized values of one
 * token type and token strings, per namespace. No store: `open()` recovers the value from the token alone.
 */
import type { TokenType } from '../types.js';

export interface VaultlessScheme {
  readonly type: TokenType;
  /**
   * The token of a normalized value (the spec's `format.normalize()` output) under the spec's `variant`, in
   * `namespace`. Deterministic. Throws GatewayError INVALID_VALUE when this value cannot be made a vaultless
   * token (too short for FF1, too long for the type's length limits); the message names the limit, never
   * the value.
   */
  encrypt(normalized: string, namespace: string, variant: string): string;
  /**
   * The normalized value behind a vaultless token of this type made in `namespace`, or undefined when
   * `candidate` is not one: wrong shape, a failed check (phone, digits) or a failed authentication (email,
   * opaque), or made in another namespace. Never throws, for any string.
   */
  open(namespace: string, candidate: string): string | undefined;
}
