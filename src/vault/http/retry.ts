/**
 * When to try a remote call again, how long to wait first, and when to stop trying at all.
 *
 * - Backoff is exponential with full jitter (a uniform delay in [0, min(cap, base * 2^n)), as in the AWS
 *   Architecture Blog's "Exponential Backoff And Jitter"): many gateways retrying at once spread out instead
 *   of hitting a recovering vault in waves.
 * - A `Retry-After` (seconds or an HTTP date, RFC 9110 section 10.2.3) on 429 or 503 replaces the backoff:
 *   the vault said when it can take us again. Every wait is capped by the call's deadline; a wait that
 *   would end past it fails the call now instead of sleeping into a certain timeout.
 * - The circuit breaker counts consecutive failed *calls* (not attempts): after `failures` of them it opens
 *   and calls fail fast for `openMs`, then exactly one call goes through as a probe; its success closes the
 *   circuit, its failure opens it for another `openMs`. While a vault is down, requests are refused in
 *   microseconds instead of each waiting out its retries.
 *
 * Everything here is pure (clock, randomness and sleep are parameters), so the unit tests drive it directly.
 */
import { GatewayError } from '../../errors.js';
import { Deadline, sleepWithin } from './deadline.js';

/** HTTP statuses worth another attempt: the vault is overloaded or a proxy in front of it could not reach it. */
const RETRYABLE_STATUS: ReadonlySet<number> = new Set([429, 502, 503, 504]);

export function isRetryableStatus(status: number): boolean {
  return RETRYABLE_STATUS.has(status);
}

/**
 * A failure that another attempt may cure (connect error, reset, 429, 502-504). `error` is what the call
 * fails with when no attempt is left; `retryAfterMs` is the remote's own Retry-After, when it sent one.
 */
export class Retryable extends Error {
  override readonly name = 'Retryable';
  constructor(
    readonly error: GatewayError,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

export interface BackoffOptions {
  /** First retry waits up to this long. */
  readonly baseMs: number;
  /** No single wait is longer than this. */
  readonly capMs: number;
}

export const DEFAULT_BACKOFF: BackoffOptions = Object.freeze({ baseMs: 100, capMs: 5_000 });

/**
 * Full-jitter delay before retry number `retry` (0 = the first retry).
 *
 * @example
 *   backoffDelay(0, DEFAULT_BACKOFF) // uniform in [0, 100)
 *   backoffDelay(3, DEFAULT_BACKOFF) // uniform in [0, 800)
 */
export function backoffDelay(retry: number, options: BackoffOptions = DEFAULT_BACKOFF, random: () => number = Math.random): number {
  const ceiling = Math.min(options.capMs, options.baseMs * 2 ** Math.min(retry, 30));
  return Math.floor(random() * ceiling);
}

/**
 * Milliseconds a `Retry-After` header asks for: delay-seconds (`120`) or an HTTP date, relative to `now`.
 * undefined when the header is absent or unreadable (then the backoff applies); 0 for a date in the past.
 *
 * @example
 *   parseRetryAfter('2', now) // 2000
 *   parseRetryAfter('Wed, 21 Oct 2015 07:28:00 GMT', Date.parse('Wed, 21 Oct 2015 07:27:58 GMT')) // 2000
 */
export function parseRetryAfter(header: string | string[] | undefined, now: number): number | undefined {
  const text = (Array.isArray(header) ? header[0] : header)?.trim();
  if (text === undefined || text === '') return undefined;
  if (/^\d{1,10}$/.test(text)) return Number(text) * 1000;
  // An IMF-fixdate (or the obsolete forms Date.parse also reads); anything else is ignored, not trusted.
  if (!/^[A-Za-z]{3},? /.test(text) && !/^[A-Za-z]+day, /.test(text)) return undefined;
  const at = Date.parse(text);
  return Number.isFinite(at) ? Math.max(0, at - now) : undefined;
}

export interface RetryOptions {
  /** Attempts after the first. */
  readonly retries: number;
  readonly backoff?: BackoffOptions;
  readonly random?: () => number;
  /** Waits within the deadline (tests may pass a recording one). */
  readonly sleep?: (ms: number, deadline: Deadline) => Promise<void>;
}

/**
 * Runs `attempt` until it returns, throws something other than `Retryable`, or runs out of attempts or of
 * time. The error of the last attempt is thrown, unwrapped. A wait that would end after the deadline is not
 * started: the call fails with the last attempt's error, saying it could not wait that long.
 *
 * @example
 *   const body = await retrying((n) => sendOnce(n), deadline, { retries: 3 });
 */
export async function retrying<T>(attempt: (n: number) => Promise<T>, deadline: Deadline, options: RetryOptions): Promise<T> {
  const sleep = options.sleep ?? sleepWithin;
  for (let n = 0; ; n++) {
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof Retryable)) throw err;
      if (n >= options.retries) {
        throw n === 0 ? err.error : new GatewayError('VAULT_UNAVAILABLE', `${err.error.message} (after ${n + 1} attempts)`, { cause: err.error.cause });
      }
      const wait = err.retryAfterMs ?? backoffDelay(n, options.backoff, options.random);
      if (wait >= deadline.remaining()) {
        const why = err.retryAfterMs === undefined ? 'no time is left for another attempt' : `it asked us to retry after ${Math.ceil(wait / 1000)} s, past the call's deadline`;
        throw new GatewayError('VAULT_UNAVAILABLE', `${err.error.message}; ${why}`, { cause: err.error.cause });
      }
      await sleep(wait, deadline);
    }
  }
}

export interface BreakerOptions {
  /** Consecutive failed calls that open the circuit. */
  readonly failures: number;
  /** How long it stays open before one probe may pass. */
  readonly openMs: number;
}

export type BreakerState = 'closed' | 'open' | 'half-open';

/** What admit() hands out: record the call's outcome with it. */
export interface BreakerTicket {
  readonly probe: boolean;
}

const NORMAL: BreakerTicket = Object.freeze({ probe: false });
const PROBE: BreakerTicket = Object.freeze({ probe: true });

/**
 * Circuit breaker over whole calls.
 *
 * @example
 *   const ticket = breaker.admit(); // throws VAULT_UNAVAILABLE 'remote vault circuit open' while open
 *   try { const r = await call(); breaker.record(ticket, true); return r; }
 *   catch (e) { breaker.record(ticket, false); throw e; }
 */
export class CircuitBreaker {
  #consecutive = 0;
  #openedAt = 0;
  #state: BreakerState = 'closed';
  #probing = false;

  constructor(
    private readonly options: BreakerOptions,
    private readonly now: () => number = Date.now,
  ) {}

  get state(): BreakerState {
    if (this.#state === 'open' && this.now() - this.#openedAt >= this.options.openMs) return 'half-open';
    return this.#state;
  }

  /** Lets a call through, or throws while the circuit is open (and while the one probe is in flight). */
  admit(): BreakerTicket {
    const state = this.state;
    if (state === 'closed') return NORMAL;
    if (state === 'half-open' && !this.#probing) {
      this.#probing = true;
      return PROBE;
    }
    const retryIn = Math.max(0, this.options.openMs - (this.now() - this.#openedAt));
    throw new GatewayError(
      'VAULT_UNAVAILABLE',
      state === 'half-open'
        ? 'remote vault circuit open: a probe call is in flight'
        : `remote vault circuit open after ${this.options.failures} consecutive failed calls; next probe in ${Math.ceil(retryIn / 1000)} s`,
    );
  }

  /** The outcome of an admitted call. `ok` means the remote answered as it should (or refused a value). */
  record(ticket: BreakerTicket, ok: boolean): void {
    if (ticket.probe) this.#probing = false;
    if (ok) {
      // Any good answer is evidence the vault works again, the probe's or a late one admitted before opening.
      this.#consecutive = 0;
      this.#state = 'closed';
      return;
    }
    if (this.#state === 'closed') {
      if (++this.#consecutive >= this.options.failures) this.#open();
    } else if (ticket.probe) {
      this.#open();
    }
  }

  #open(): void {
    this.#state = 'open';
    this.#openedAt = this.now();
  }
}
