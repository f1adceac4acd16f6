/**
 * The gateway's logger: pino, NDJSON to stdout (or a given destination, for tests).
 *
 * PII must never reach a log line, so this module logs only what is safe by construction: route ids,
 * path patterns (never the raw URL, which can carry an email in a path segment or query), statuses,
 * durations, error codes and JSON paths. Bodies are never logged. Header values that carry secrets are
 * redacted by path (compiled once by pino, see pino docs/redaction.md). Errors go through
 * `errorFields()`, which keeps the code and field path and drops `cause` messages from libraries that
 * might quote a value.
 */
import { pino, type DestinationStream, type Logger } from 'pino';
import { isGatewayError } from '../errors.js';

export type { Logger } from 'pino';

const REDACT_PATHS = [
  'headers.authorization',
  'headers.cookie',
  'headers["proxy-authorization"]',
  'headers["x-clevertap-passcode"]',
  'headers["x-api-key"]',
  '*.authorization',
];

/**
 * @example
 *   const log = createLogger({ level: 'info' });
 *   log.info({ route: 'clevertap/upload', status: 200, ms: 1.2 }, 'request');
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  return pino(
    {
      level: options.level,
      base: { service: 'pii-gateway' },
      redact: { paths: REDACT_PATHS, censor: '[redacted]' },
      timestamp: pino.stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
    },
    options.destination,
  );
}

/**
 * Safe fields for logging an error: the stable code, the status, the JSON path and the message of a
 * GatewayError (our messages never carry values); for anything else only its class name and errno-style
 * code, never its message (a driver or parser may quote the data it choked on).
 */
export function errorFields(err: unknown): Record<string, unknown> {
  if (isGatewayError(err)) {
    const cause = err.cause as { name?: unknown; code?: unknown } | undefined;
    return {
      code: err.code,
      status: err.status,
      field: err.field,
      msg: err.message,
      cause: cause ? { name: cause.name, code: cause.code } : undefined,
    };
  }
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return { code: 'INTERNAL', errName: e?.name, errCode: e?.code };
}
