/**
 * The gateway's logger: pino, NDJSON to stdout (or a given destination, for tests).
 *
 * PII must never reach a log line, so this module logs only what is safe by construction: route ids,
 * path patterns (never the raw URL, which can carry an email in a path segment or query), statuses,
 * durations, error codes and JSON paths. Bodies are never logged. Header values that carry secrets are
 * redacted by path (compiled once by pino, see pino docs/redaction.md). Errors go through
 * `errorFields()`, which keeps the code and field path and drops `cause` messages from libraries that
 * might quote a value; the logger enforces that even for a careless call: an Error logged directly or under
 * `err`/`error` is reduced to errorFields() (pino's default would print its message and stack), and
 * value-shaped keys (`value`, `token`, `body`, ...) are censored wherever they appear one level deep.
 */
import { pino, type DestinationStream, type Logger, type LoggerOptions } from 'pino';
import { isGatewayError } from '../errors.js';

export type { Logger } from 'pino';

const SECRET_HEADERS = ['authorization', 'cookie', '"set-cookie"', '"proxy-authorization"', '"x-clevertap-passcode"', '"x-api-key"'];
/** Keys that would hold a PII value or a token if someone logged one: censored at the top level and one down. */
const VALUE_KEYS = ['value', 'values', 'token', 'tokens', 'body', 'email', 'phone', 'query', 'url'];
const REDACT_PATHS = [
  ...SECRET_HEADERS.flatMap((h) => [h.startsWith('"') ? `headers[${h}]` : `headers.${h}`, h.startsWith('"') ? `*.headers[${h}]` : `*.headers.${h}`]),
  '*.authorization',
  ...VALUE_KEYS.flatMap((k) => [k, `*.${k}`]),
];

function isErrorLike(v: unknown): v is Error {
  return typeof v === 'object' && v !== null && typeof (v as Error).message === 'string' && typeof (v as Error).stack === 'string';
}

/** The options of both loggers; only the general one redacts. */
function loggerOptions(level: string, redact: boolean): LoggerOptions {
  return {
    level,
    base: { service: 'pii-gateway' },
    ...(redact ? { redact: { paths: REDACT_PATHS, censor: '[redacted]' } } : {}),
    // pino's std serializer would keep message and stack: a library's message can quote request bytes.
    serializers: { err: errorFields, error: errorFields },
    hooks: {
      logMethod(args, method) {
        // log.error(err) / log.error(err, 'msg'): pino would make err.message the line's msg.
        if (isErrorLike(args[0])) {
          const fields = errorFields(args[0]);
          if (typeof args[1] === 'string') return method.apply(this, [fields, args[1], ...args.slice(2)] as never);
          const { detail, ...rest } = fields; // our message becomes the line's msg
          return method.apply(this, [rest, typeof detail === 'string' ? detail : 'error'] as never);
        }
        return method.apply(this, args);
      },
    },
    timestamp: isoTime,
    formatters: { level: (label) => ({ level: label }) },
  };
}

let isoMs = Number.NaN;
let isoText = '';

/**
 * pino.stdTimeFunctions.isoTime with the same output (`,"time":"<ISO 8601>"` of Date.now()), the text reused
 * while the millisecond is the same: under load many lines share one, and toISOString() was ~2% of a
 * passthrough request's CPU.
 */
export function isoTime(): string {
  const now = Date.now();
  if (now !== isoMs) {
    isoMs = now;
    isoText = `,"time":"${new Date(now).toISOString()}"`;
  }
  return isoText;
}

/** The access logger of each logger createLogger() built. */
const accessLoggers = new WeakMap<Logger, AccessLogger>();

/**
 * @example
 *   const log = createLogger({ level: 'info' });
 *   log.info({ route: 'clevertap/upload', status: 200, ms: 1.2 }, 'request');
 */
export function createLogger(options: { level: string; destination?: DestinationStream }): Logger {
  const log = pino(loggerOptions(options.level, true), options.destination);
  // The very stream pino chose for `log` (stdout by default): one buffer, lines of both loggers in order.
  const stream = (log as unknown as Record<symbol, DestinationStream>)[pino.symbols.streamSym];
  accessLoggers.set(log, pino(loggerOptions(options.level, false), stream));
  return log;
}

/**
 * The fields of a per-request access line: ids, counts, statuses and durations only, none of which can
 * hold a value (the type admits nothing else). `client` is the mTLS CN and certificate fingerprint
 * (auth/identity.ts identityLogFields), `caller` a principal id.
 */
export interface AccessLogFields {
  readonly requestId: string;
  readonly route: string;
  readonly client?: { readonly cn: string | undefined; readonly fingerprint: string } | undefined;
  readonly caller?: string | undefined;
  readonly method: string;
  readonly status: number;
  readonly ms: number;
  readonly tokenized: number;
  readonly detokenized: number;
}

/** Writes access lines (info level), same shape and destination as the general logger. */
export interface AccessLogger {
  info(fields: AccessLogFields, msg: string): void;
}

/**
 * The logger for per-request access lines, built once with `log`: same level, base fields, format and
 * destination, but without pino's path redaction, which would walk every line for keys these lines
 * never have (it was a third of the CPU of a passthrough request). Its input type admits only
 * AccessLogFields. For a logger createLogger() did not build (a child, a test's own pino) it is `log`
 * itself, redaction included.
 *
 * @example
 *   const access = accessLogger(log); // at start-up
 *   access.info({ requestId, route: 'clevertap/upload', method: 'POST', status: 200, ms: 1.2, tokenized: 4, detokenized: 0 }, 'proxied');
 */
export function accessLogger(log: Logger): AccessLogger {
  return accessLoggers.get(log) ?? log;
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
      detail: err.message, // not `msg`: pino writes its own msg key, and a second one would make the line ambiguous JSON
      cause: cause ? { name: cause.name, code: cause.code } : undefined,
    };
  }
  const e = err as { name?: unknown; code?: unknown } | undefined;
  return { code: 'INTERNAL', errName: e?.name, errCode: e?.code };
}
