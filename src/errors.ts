/**
 * One error type for the whole gateway, with a stable `code` that callers, clients and tests switch on.
 *
 * Messages and `field` must never carry a PII value: `field` is a JSON path or a field name
 * (`$.d[0].profileData.Email`, `To`), never what was found there. Modelled on undici's
 * `lib/core/errors.js` and jose's `util/errors.ts`: the code is the contract, the message is for humans.
 *
 * @example
 *   throw new GatewayError('FIELD_NOT_STRING', 'expected a string', { field: '$.d[0].Phone' });
 */

/** Stable error codes and the HTTP status each maps to. Add codes here; never rename one. */
export const ERROR_STATUS = {
  // 400: the request body or a value in it cannot be processed
  BAD_REQUEST: 400,
  INVALID_JSON: 400,
  DUPLICATE_KEY: 400,
  INVALID_UTF8: 400,
  LONE_SURROGATE: 400,
  TOO_DEEP: 400,
  FIELD_MISSING: 400,
  FIELD_NOT_STRING: 400,
  INVALID_VALUE: 400,
  NOT_A_TOKEN: 400,
  BATCH_TOO_LARGE: 400,
  INVALID_FORM: 400,
  INVALID_MULTIPART: 400,
  INVALID_ENCODING: 400,
  /** The body is not valid in the charset its Content-Type declares (a us-ascii body with an 8-bit byte; codecs/charset.ts). */
  INVALID_CHARSET: 400,
  /** The request target or Host could be read differently by the router, the auth guard and the upstream (auth/request-target.ts). */
  INVALID_PATH: 400,
  // 401 / 403: the client's TLS certificate is missing or not on the allowlist (src/auth/mtls.ts)
  CLIENT_CERT_REQUIRED: 401,
  CLIENT_NOT_ALLOWED: 403,
  // 401 / 403: bearer credentials (JWT, API key) missing or not valid; the caller lacks a permission or the
  // detokenize policy refuses the release (src/auth/)
  AUTH_REQUIRED: 401,
  AUTH_INVALID: 401,
  FORBIDDEN: 403,
  // 401: a provider webhook's signature is missing, wrong, or outside the replay window (src/auth/signatures/)
  SIGNATURE_MISSING: 401,
  SIGNATURE_INVALID: 401,
  SIGNATURE_EXPIRED: 401,
  // 404 / 405: nothing is configured here
  ROUTE_NOT_FOUND: 404,
  // 422: a well-formed token that the vault does not know
  UNKNOWN_TOKEN: 422,
  // 422: a rewritten value has a character the body's declared charset cannot represent (codecs/charset.ts)
  UNREPRESENTABLE_VALUE: 422,
  // 413 / 415: the body cannot be read or rewritten
  BODY_TOO_LARGE: 413,
  UNSUPPORTED_MEDIA_TYPE: 415,
  UNSUPPORTED_ENCODING: 415,
  // 5xx: the gateway or something behind it failed; bodies say nothing internal
  INTERNAL: 500,
  UPSTREAM_RESPONSE_INVALID: 502,
  UPSTREAM_UNAVAILABLE: 502,
  VAULT_UNAVAILABLE: 503,
  /** The audit trail cannot be written: detokenization and key/token administration are refused (fail closed). */
  AUDIT_UNAVAILABLE: 503,
  NOT_READY: 503,
  UPSTREAM_TIMEOUT: 504,
  // start-up and CLI errors (never sent over HTTP)
  CONFIG_INVALID: 500,
  RULES_INVALID: 500,
  KEYS_INVALID: 500,
  TOKEN_COLLISION: 500,
} as const;

export type ErrorCode = keyof typeof ERROR_STATUS;

export interface GatewayErrorOptions {
  /** HTTP status; defaults to the code's status in {@link ERROR_STATUS}. */
  status?: number;
  /** JSON path or field name the error is about. Never a value. */
  field?: string;
  cause?: unknown;
}

export class GatewayError extends Error {
  override readonly name = 'GatewayError';
  readonly code: ErrorCode;
  readonly status: number;
  readonly field: string | undefined;

  constructor(code: ErrorCode, message: string, options: GatewayErrorOptions = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.code = code;
    this.status = options.status ?? ERROR_STATUS[code];
    this.field = options.field;
  }
}

/**
 * True for any GatewayError, including one from another copy of this module
 * (checked by shape, not `instanceof`: two copies of a module must agree).
 */
export function isGatewayError(err: unknown): err is GatewayError {
  return (
    typeof err === 'object' &&
    err !== null &&
    (err as { name?: unknown }).name === 'GatewayError' &&
    typeof (err as { code?: unknown }).code === 'string' &&
    (err as { code: string }).code in ERROR_STATUS
  );
}
