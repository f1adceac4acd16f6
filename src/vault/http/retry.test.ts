import { describe, expect, it } from 'vitest';
import { rejectionOf } from '../../../test/helpers/errors.js';
import { GatewayError } from '../../errors.js';
import { Deadline } from './deadline.js';
import { backoffDelay, CircuitBreaker, isRetryableStatus, parseRetryAfter, Retryable, retrying } from './retry.js';

const timeout = () => new GatewayError('VAULT_UNAVAILABLE', 'timed out');


describe('backoffDelay', () => {
  it('is uniform in [0, min(cap, base * 2^n)) (full jitter)', () => {
    const opts = { baseMs: 100, capMs: 1000 };
    expect(backoffDelay(0, opts, () => 0)).toBe(0);
    expect(backoffDelay(0, opts, () => 0.999999)).toBe(99);
    expect(backoffDelay(2, opts, () => 0.5)).toBe(200);
    expect(backoffDelay(3, opts, () => 0.999999)).toBe(799);
    expect(backoffDelay(4, opts, () => 0.999999)).toBe(999); // capped
    expect(backoffDelay(1000, opts, () => 0.5)).toBe(500); // no overflow for large n
  });
});

describe('parseRetryAfter', () => {
  const now = Date.parse('Wed, 21 Oct 2015 07:27:58 GMT');
  it('reads delay-seconds and HTTP dates', () => {
    expect(parseRetryAfter('2', now)).toBe(2000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter(['3', '9'], now)).toBe(3000);
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', now)).toBe(2000);
    expect(parseRetryAfter('Wednesday, 21-Oct-15 07:28:00 GMT', now)).toBe(2000); // RFC 850, obsolete but allowed
    expect(parseRetryAfter('Wed, 21 Oct 2015 07:00:00 GMT', now)).toBe(0); // in the past
  });
  it('ignores what it cannot read', () => {
    for (const v of [undefined, '', '-1', '1.5', 'soon', '2015-10-21T07:28:00Z', 'Wed, 99 Foo 2015']) {
      expect(parseRetryAfter(v, now)).toBeUndefined();
    }
  });
});

describe('isRetryableStatus', () => {
  it('retries 429, 502, 503, 504 and nothing else', () => {
    const retryable = Array.from({ length: 500 }, (_, i) => i + 100).filter(isRetryableStatus);
    expect(retryable).toEqual([429, 502, 503, 504]);
  });
});

describe('retrying', () => {
  const fail = (message: string, retryAfterMs?: number) => new Retryable(new GatewayError('VAULT_UNAVAILABLE', message), retryAfterMs);

  it('retries Retryable failures up to `retries` times with the backoff, then throws the last error', async () => {
    const d = new Deadline(10_000, timeout);
    const waits: number[] = [];
    let n = 0;
    const err = await rejectionOf(
      retrying(
        async () => {
          n++;
          throw fail(`attempt ${n}`);
        },
        d,
        { retries: 3, backoff: { baseMs: 100, capMs: 1000 }, random: () => 0.5, sleep: async (ms) => void waits.push(ms) },
      ),
    );
    d.finish();
    expect(n).toBe(4);
    expect(waits).toEqual([50, 100, 200]);
    expect(err.message).toBe('attempt 4 (after 4 attempts)');
  });

  it('stops at once on anything that is not Retryable', async () => {
    const d = new Deadline(10_000, timeout);
    let n = 0;
    const err = await rejectionOf(
      retrying(
        async () => {
          n++;
          throw new GatewayError('VAULT_UNAVAILABLE', 'refused');
        },
        d,
        { retries: 3, sleep: async () => undefined },
      ),
    );
    d.finish();
    expect([n, err.message]).toEqual([1, 'refused']);
  });

  it('returns the first success and honours Retry-After instead of the backoff', async () => {
    const d = new Deadline(10_000, timeout);
    const waits: number[] = [];
    let n = 0;
    const v = await retrying(
      async () => {
        if (++n < 3) throw fail('busy', 1500);
        return 'ok';
      },
      d,
      { retries: 3, random: () => 0, sleep: async (ms) => void waits.push(ms) },
    );
    d.finish();
    expect([v, n, waits]).toEqual(['ok', 3, [1500, 1500]]);
  });

  it('fails now rather than wait past the deadline', async () => {
    const d = new Deadline(1000, timeout);
    const waits: number[] = [];
    const err = await rejectionOf(retrying(async () => Promise.reject(fail('busy', 5000)), d, { retries: 3, sleep: async (ms) => void waits.push(ms) }));
    d.finish();
    expect(waits).toEqual([]);
    expect(err.message).toContain("past the call's deadline");
  });

  it('really sleeps by default, and a deadline ends the sleep', async () => {
    const d = new Deadline(150, timeout);
    const started = Date.now();
    const err = await rejectionOf(retrying(async () => Promise.reject(fail('busy', 120)), d, { retries: 5 }));
    // 120 ms wait, second attempt fails, another 120 ms wait would pass the deadline: refused before sleeping.
    expect(Date.now() - started).toBeGreaterThanOrEqual(100);
    expect(Date.now() - started).toBeLessThan(2000);
    expect(err.message).toContain('busy');
    d.finish();
  });
});

describe('CircuitBreaker', () => {
  const clock = () => {
    let t = 1_000_000;
    return { now: () => t, advance: (ms: number) => void (t += ms) };
  };

  it('opens after N consecutive failed calls and fails fast while open', () => {
    const c = clock();
    const b = new CircuitBreaker({ failures: 3, openMs: 10_000 }, c.now);
    for (let i = 0; i < 2; i++) b.record(b.admit(), false);
    b.record(b.admit(), true); // a success resets the count
    for (let i = 0; i < 2; i++) b.record(b.admit(), false);
    expect(b.state).toBe('closed');
    b.record(b.admit(), false);
    expect(b.state).toBe('open');
    const err = (() => {
      try {
        b.admit();
      } catch (e) {
        return e as GatewayError;
      }
      throw new Error('admitted while open');
    })();
    expect(err.code).toBe('VAULT_UNAVAILABLE');
    expect(err.message).toContain('remote vault circuit open');
    expect(err.message).toContain('next probe in 10 s');
  });

  it('half-opens after openMs for exactly one probe; the probe decides', () => {
    const c = clock();
    const b = new CircuitBreaker({ failures: 1, openMs: 1000 }, c.now);
    b.record(b.admit(), false);
    c.advance(999);
    expect(() => b.admit()).toThrow(/circuit open/);
    c.advance(1);
    expect(b.state).toBe('half-open');
    const probe = b.admit();
    expect(probe.probe).toBe(true);
    expect(() => b.admit()).toThrow(/probe call is in flight/);
    b.record(probe, false); // failed probe: open again for another openMs
    expect(b.state).toBe('open');
    c.advance(1000);
    const second = b.admit();
    b.record(second, true);
    expect(b.state).toBe('closed');
    expect(b.admit().probe).toBe(false);
  });

  it('a late success of a call admitted before opening closes it; a late failure does not extend it', () => {
    const c = clock();
    const b = new CircuitBreaker({ failures: 1, openMs: 1000 }, c.now);
    const early = b.admit();
    const late = b.admit();
    b.record(b.admit(), false);
    expect(b.state).toBe('open');
    c.advance(600);
    b.record(late, false);
    c.advance(400);
    expect(b.state).toBe('half-open'); // still 1000 ms after the first opening
    b.record(early, true);
    expect(b.state).toBe('closed');
  });
});
