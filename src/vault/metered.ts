/**
 * A Vault decorator that reports each call's operation, batch size, duration and outcome to an observer
 * (metrics wrap the same interface as a decorator). It sees items only to count them. The observer is a
 * plain function, so vault/ does not depend on the metrics library; the gateway plugs prom-client in.
 */
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from './interface.js';

export type VaultOp = 'tokenize' | 'detokenize' | 'delete' | 'ping';

/** Called once per vault call, after it settles. */
export type VaultCallObserver = (op: VaultOp, items: number, seconds: number, ok: boolean) => void;

/**
 * @example
 *   const vault = new MeteredVault(inner, (op, n, s, ok) => metrics.vaultDuration.observe({ op, outcome: ok ? 'ok' : 'error' }, s));
 */
export class MeteredVault implements Vault {
  readonly #inner: Vault;
  readonly #observe: VaultCallObserver;

  constructor(inner: Vault, observe: VaultCallObserver) {
    this.#inner = inner;
    this.#observe = observe;
  }

  tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    return this.#time('tokenize', items.length, () => this.#inner.tokenize(items));
  }

  detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    return this.#time('detokenize', items.length, () => this.#inner.detokenize(items));
  }

  delete(items: readonly DeleteItem[]): Promise<number> {
    return this.#time('delete', items.length, () => this.#inner.delete(items));
  }

  ping(): Promise<void> {
    return this.#time('ping', 0, () => this.#inner.ping());
  }

  close(): Promise<void> {
    return this.#inner.close();
  }

  async #time<T>(op: VaultOp, items: number, call: () => Promise<T>): Promise<T> {
    const started = performance.now();
    try {
      const result = await call();
      this.#observe(op, items, (performance.now() - started) / 1000, true);
      return result;
    } catch (err) {
      this.#observe(op, items, (performance.now() - started) / 1000, false);
      throw err;
    }
  }
}
