/**
 * One deadline per Vault call: every remote request of the call (its batch parts, their retries, the OAuth2
 * token fetch it waits for) shares one AbortSignal and one instant, so the call as a whole ends within
 * `timeoutMs` however many parts and retries it takes.
 *
 * Why a signal and not undici's per-request timeouts alone: headersTimeout/bodyTimeout restart per request
 * and undici runs them on coarse timers (its "fast timers" tick every ~500 ms above one second), while the
 * signal fires once, on time, and aborts whatever is in flight (undici rejects with the signal's reason).
 * `cancel(reason)` aborts the call early: the first failed part stops its siblings (no half-done call keeps
 * the pool busy).
 */
import { setMaxListeners } from 'node:events';
import { GatewayError } from '../../errors.js';

export class Deadline {
  readonly #controller = new AbortController();
  readonly #timer: NodeJS.Timeout;
  /** Epoch milliseconds at which the call times out. */
  readonly at: number;

  /**
   * @param timeoutMs how long the call may take
   * @param timeoutError the error every pending request rejects with at the deadline (no value in it)
   * @example
   *   const d = new Deadline(60_000, () => new GatewayError('VAULT_UNAVAILABLE', 'remote vault did not answer in time'));
   *   try { await pool.request({ ..., signal: d.signal }); } finally { d.finish(); }
   */
  constructor(
    readonly timeoutMs: number,
    timeoutError: () => GatewayError,
    now: number = Date.now(),
  ) {
    this.at = now + timeoutMs;
    // Every part in flight (up to `connections`) and every waiter listens: not a leak, no warning wanted.
    setMaxListeners(0, this.#controller.signal);
    this.#timer = setTimeout(() => this.#controller.abort(timeoutError()), timeoutMs);
  }

  get signal(): AbortSignal {
    return this.#controller.signal;
  }

  /** Milliseconds left (0 once passed). */
  remaining(now: number = Date.now()): number {
    return Math.max(0, this.at - now);
  }

  /** True once the deadline passed or the call was cancelled. */
  get done(): boolean {
    return this.#controller.signal.aborted;
  }

  /** The error the call ends with once done: the timeout error or the cancel reason. */
  get reason(): unknown {
    return this.#controller.signal.reason;
  }

  /** Aborts everything in flight for this call with `reason` (first failure wins; later calls do nothing). */
  cancel(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason);
  }

  /** Releases the timer. Call when the call settles (success or failure). */
  finish(): void {
    clearTimeout(this.#timer);
  }
}

/**
 * Resolves after `ms`, or rejects with the deadline's reason as soon as it is done (a backoff never
 * outlives its call).
 */
export function sleepWithin(ms: number, deadline: Deadline): Promise<void> {
  if (deadline.done) return Promise.reject(deadline.reason);
  return new Promise<void>((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer);
      reject(deadline.reason);
    };
    const timer = setTimeout(() => {
      deadline.signal.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    deadline.signal.addEventListener('abort', onAbort, { once: true });
  });
}

/** `promise`, or the deadline's reason if the deadline comes first (the promise keeps running for others). */
export function within<T>(promise: Promise<T>, deadline: Deadline): Promise<T> {
  if (deadline.done) return Promise.reject(deadline.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = (): void => reject(deadline.reason);
    deadline.signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (v) => {
        deadline.signal.removeEventListener('abort', onAbort);
        resolve(v);
      },
      (e: unknown) => {
        deadline.signal.removeEventListener('abort', onAbort);
        reject(e);
      },
    );
  });
}
