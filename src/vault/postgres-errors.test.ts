import { describe, expect, it } from 'vitest';
import { describePgError, isRetryable, pgFailure, sqlState } from './postgres-errors.js';
import { GatewayError } from '../errors.js';

/** A server error as pg builds it: SQLSTATE in `code`, a `severity`, and a message that may quote data. */
function serverError(code: string, message = 'value "Canary-Value-4711" violates something'): Error {
  return Object.assign(new Error(message), { code, severity: 'ERROR', detail: 'Key (token)=(Canary-Value-4711) already exists.' });
}

describe('pgFailure', () => {
  it('names the condition by SQLSTATE and never copies the server message or detail', () => {
    for (const [code, text] of [
      ['28P01', 'authentication failed (wrong password) (SQLSTATE 28P01)'],
      ['3D000', 'the database does not exist (SQLSTATE 3D000)'],
      ['57014', 'statement timeout: the database did not answer in time (SQLSTATE 57014)'],
      ['42P01', "schema out of date: a vault table is missing (run 'pii-gateway vault migrate' or set PII_GATEWAY_POSTGRES_MIGRATE=true) (SQLSTATE 42P01)"],
      ['08006', 'connection failure (SQLSTATE 08006)'],
      ['23505', 'SQLSTATE 23505'],
    ] as const) {
      const err = pgFailure(serverError(code), 'vault insert');
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toBe(`vault insert failed: ${text}`);
      expect(err.message).not.toContain('Canary');
      expect((err as { cause?: unknown }).cause).toBeInstanceOf(Error);
    }
  });

  it('names socket failures, also inside an AggregateError or a connect-timeout wrapper', () => {
    const refused = Object.assign(new Error('connect ECONNREFUSED 10.1.2.3:5432'), { code: 'ECONNREFUSED' });
    expect(describePgError(refused)).toMatch(/^connection refused/);
    expect(describePgError(new AggregateError([refused], 'x'))).toMatch(/^connection refused/);
    expect(describePgError(Object.assign(new Error('getaddrinfo ENOTFOUND db.internal'), { code: 'ENOTFOUND' }))).toBe('host not found');
    expect(describePgError(new Error('Connection terminated due to connection timeout', { cause: refused }), { connectTimeoutMs: 750 })).toBe(
      'connect timeout after 750 ms',
    );
    expect(describePgError(new Error('timeout exceeded when trying to connect'), { connectTimeoutMs: 5000 })).toMatch(/no connection within 5000 ms/);
    expect(describePgError(new Error('Query read timeout'), { queryTimeoutMs: 300 })).toBe('no answer from the database within 300 ms');
    // No address or host name from the socket error reaches the message.
    expect(pgFailure(refused, 'x').message).not.toContain('10.1.2.3');
  });

  it('says nothing of unknown errors but their class', () => {
    const odd = new Error('Canary-Value-4711 was in the way');
    expect(describePgError(odd)).toBe('unexpected error (Error)');
    expect(describePgError(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBe('connection closed by the server');
    expect(describePgError('a string')).toBe('unknown error');
  });

  it('passes GatewayErrors through and tells retryable states apart', () => {
    const mine = new GatewayError('VAULT_UNAVAILABLE', 'already explained');
    expect(pgFailure(mine, 'x')).toBe(mine);
    expect(isRetryable(serverError('40001'))).toBe(true);
    expect(isRetryable(serverError('40P01'))).toBe(true);
    expect(isRetryable(serverError('57014'))).toBe(false);
    // EPIPE has five capital letters but is not a SQLSTATE (no severity).
    expect(sqlState(Object.assign(new Error('x'), { code: 'EPIPE' }))).toBeUndefined();
  });
});
