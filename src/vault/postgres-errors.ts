/**
 * Turns whatever `pg` throws into GatewayError VAULT_UNAVAILABLE with a message that names the condition.
 *
 * Why it looks like this:
 * - A server error's own text can quote data ("invalid input syntax for type bytea: ..."; a unique
 *   violation's detail names the key), so no part of a pg or server message is ever copied. The message is
 *   built from constants, the SQLSTATE (a five-character class code, never data) and configured numbers.
 *   The original error stays as `cause` for a debugger; the logger prints only its name and code.
 * - The messages an operator needs most are the ones a new deployment hits first: connection refused,
 *   authentication failed, database missing, schema out of date (with the command that fixes it),
 *   statement timeout. Everything else is reported as its SQLSTATE or socket error code.
 * - Client-side failures of `pg` (pool and connect timeouts, a lost connection) have no code; they are
 *   recognised by their fixed English text, which is library text and never contains data.
 */
import { GatewayError, isGatewayError } from '../errors.js';

/** What `pg` and Node put on an error that this module reads; everything is optional. */
interface PgErrorShape {
  readonly code?: unknown;
  readonly severity?: unknown;
  readonly message?: unknown;
  readonly errors?: readonly unknown[];
  readonly cause?: unknown;
}

/** The command that creates or upgrades the schema, quoted in every "schema" message. */
export const MIGRATE_HINT = "run 'pii-gateway vault migrate' or set PII_GATEWAY_POSTGRES_MIGRATE=true";

/** SQLSTATEs with a name worth spelling out (PostgreSQL appendix A). */
const SQLSTATE_TEXT: Readonly<Record<string, string>> = {
  '28P01': 'authentication failed (wrong password)',
  '28000': 'authentication failed (the server does not accept this user, host or database: check pg_hba.conf)',
  '3D000': 'the database does not exist',
  '3F000': 'the schema does not exist',
  '42501': 'permission denied for the vault tables',
  '42P01': `schema out of date: a vault table is missing (${MIGRATE_HINT})`,
  '42703': `schema out of date: a vault column is missing (${MIGRATE_HINT})`,
  '57014': 'statement timeout: the database did not answer in time',
  '57P01': 'the database server is shutting down',
  '57P02': 'the database server is shutting down',
  '57P03': 'the database server is not accepting connections yet',
  '53300': 'too many connections to the database',
  '53100': 'the database is out of disk space',
  '53200': 'the database is out of memory',
  '25006': 'the database is read-only (a standby or a read-only transaction)',
  '40001': 'serialization failure (retries exhausted)',
  '40P01': 'deadlock detected (retries exhausted)',
  '55P03': 'lock not available',
};

/** Socket and TLS error codes Node puts on connection failures. */
const SOCKET_TEXT: Readonly<Record<string, string>> = {
  ECONNREFUSED: 'connection refused (is PostgreSQL listening on the configured host and port?)',
  ENOTFOUND: 'host not found',
  EAI_AGAIN: 'host name lookup failed',
  ETIMEDOUT: 'connection timed out',
  ECONNRESET: 'connection reset by the server',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  EPIPE: 'connection closed by the server',
  DEPTH_ZERO_SELF_SIGNED_CERT: 'TLS certificate verification failed (self-signed certificate)',
  SELF_SIGNED_CERT_IN_CHAIN: 'TLS certificate verification failed (self-signed certificate in chain)',
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: 'TLS certificate verification failed (unknown issuer)',
  CERT_HAS_EXPIRED: 'TLS certificate verification failed (certificate expired)',
  ERR_TLS_CERT_ALTNAME_INVALID: 'TLS certificate verification failed (host name mismatch)',
};

/** Fixed texts of pg / pg-pool client-side errors, matched by prefix. */
const CLIENT_TEXT: readonly [string, (ctx: FailureContext) => string][] = [
  ['timeout exceeded when trying to connect', (c) => `no connection within ${c.connectTimeoutMs ?? '?'} ms (pool busy or server not answering)`],
  ['Connection terminated due to connection timeout', (c) => `connect timeout after ${c.connectTimeoutMs ?? '?'} ms`],
  ['Query read timeout', (c) => `no answer from the database within ${c.queryTimeoutMs ?? '?'} ms`],
  ['Connection terminated unexpectedly', () => 'connection to the database lost'],
  ['Connection terminated', () => 'connection to the database closed'],
  ['Cannot use a pool after calling end on the pool', () => 'vault store is closed'],
  ['The server does not support SSL connections', () => 'the server does not support TLS (sslmode requires it)'],
  ['SASL:', () => 'authentication failed (the server asks for a password: put it in PII_GATEWAY_POSTGRES_URL or PGPASSWORD)'],
  ['client password must be a string', () => 'authentication failed (the server asks for a password: put it in PII_GATEWAY_POSTGRES_URL or PGPASSWORD)'],
  ['Invalid URL', () => 'PII_GATEWAY_POSTGRES_URL is not a valid connection URL'],
];

export interface FailureContext {
  readonly connectTimeoutMs?: number;
  readonly queryTimeoutMs?: number;
}

/** SQLSTATE of a server error, or undefined for anything else (a socket error code is not a SQLSTATE). */
export function sqlState(err: unknown): string | undefined {
  const e = err as PgErrorShape | null;
  if (e === null || typeof e !== 'object') return undefined;
  // pg's DatabaseError carries `severity`; Node's EPIPE also has five capital letters.
  return typeof e.code === 'string' && typeof e.severity === 'string' && /^[0-9A-Z]{5}$/.test(e.code) ? e.code : undefined;
}

/** The condition an error stands for, as a message fragment that never contains data. */
export function describePgError(err: unknown, ctx: FailureContext = {}): string {
  const state = sqlState(err);
  if (state !== undefined) {
    const text = SQLSTATE_TEXT[state];
    if (text !== undefined) return `${text} (SQLSTATE ${state})`;
    if (state.startsWith('08')) return `connection failure (SQLSTATE ${state})`;
    if (state.startsWith('28')) return `authentication failed (SQLSTATE ${state})`;
    return `SQLSTATE ${state}`;
  }
  const e = err as PgErrorShape | null;
  if (e === null || typeof e !== 'object') return 'unknown error';
  // Node's happy-eyeballs connect reports an AggregateError whose parts carry the socket codes.
  const code = typeof e.code === 'string' ? e.code : firstCode(e.errors);
  if (code !== undefined && SOCKET_TEXT[code] !== undefined) return SOCKET_TEXT[code]!;
  const message = typeof e.message === 'string' ? e.message : '';
  for (const [prefix, text] of CLIENT_TEXT) if (message.startsWith(prefix)) return text(ctx);
  // A connect timeout wraps the socket error that ended it.
  if (e.cause !== undefined && e.cause !== err) {
    const inner = describePgError(e.cause, ctx);
    if (inner !== 'unknown error') return inner;
  }
  if (code !== undefined && /^[A-Z][A-Z0-9_]{1,40}$/.test(code)) return `error ${code}`;
  return `unexpected error (${errorName(err)})`;
}

/**
 * Wraps `err` as VAULT_UNAVAILABLE: "<what> failed: <condition>". A GatewayError passes through unchanged.
 *
 * @example
 *   try { await pool.query(sql, params); } catch (err) { throw pgFailure(err, 'vault lookup', ctx); }
 */
export function pgFailure(err: unknown, what: string, ctx: FailureContext = {}): GatewayError {
  if (isGatewayError(err)) return err;
  return new GatewayError('VAULT_UNAVAILABLE', `${what} failed: ${describePgError(err, ctx)}`, { cause: err });
}

/** Whether a failed single statement was rolled back as a whole and may simply run again. */
export function isRetryable(err: unknown): boolean {
  const state = sqlState(err);
  return state === '40001' || state === '40P01';
}

function firstCode(errors: readonly unknown[] | undefined): string | undefined {
  if (!Array.isArray(errors)) return undefined;
  for (const inner of errors) {
    const code = (inner as PgErrorShape | null)?.code;
    if (typeof code === 'string') return code;
  }
  return undefined;
}

function errorName(err: unknown): string {
  const name = (err as { name?: unknown } | null)?.name;
  return typeof name === 'string' && /^[A-Za-z]{1,40}$/.test(name) ? name : 'Error';
}
