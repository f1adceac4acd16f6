/**
 * SQLite store: the conformance suite on a real file, reopened for every "restart"; then what only the
 * embedded file has to prove, against real files and a real second process holding SQLite locks:
 *   - a write lock held elsewhere costs a write its deadline (503), never the event loop, and reads go on;
 *   - a file held whole by another process fails the opening within the timeout;
 *   - a deleted, replaced or moved file is noticed by ping and refused by every call;
 *   - a crashed worker fails pending and later calls at once, never hangs them.
 */
import { copyFileSync, mkdtempSync, renameSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { isGatewayError } from '../../src/errors.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { LocalVault } from '../../src/vault/local.js';
import { crashSqliteWorkersForTests, SqliteStore } from '../../src/vault/sqlite.js';
import { holdSqliteLock } from '../helpers/sqlite-lock.js';
import { vaultConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-sqlite-'));
const keyring = ephemeralKeyring();
afterAll(() => rmSync(dir, { recursive: true, force: true }));

vaultConformance('sqlite', async () => {
  const vault = new LocalVault(new SqliteStore(join(dir, 'nested', 'vault.db')), keyring);
  return { vault, stop: () => vault.close() };
});

const NS = 'sqlite-specific';
const spec = createTokenSpec({ type: 'email', namespace: NS }, keyring);
const item = (value: string) => ({ spec, value });
const REPLACED = 'vault file was deleted or replaced since it was opened; restart the gateway';
const TIMED_OUT = 'vault store did not answer within 0.5s (locked by another process?)';

/** Settles to the error (or 'resolved'), so a rejection can be inspected without try/catch. */
function outcome(p: Promise<unknown>): Promise<unknown> {
  return p.then(
    () => 'resolved',
    (e: unknown) => e,
  );
}

/** The longest the event loop went without running a 5 ms interval, from now until stop(). */
function stallMeter(): { stop(): number } {
  let last = performance.now();
  let worst = 0;
  const timer = setInterval(() => {
    const now = performance.now();
    worst = Math.max(worst, now - last);
    last = now;
  }, 5);
  return {
    stop: () => {
      clearInterval(timer);
      return Math.max(worst, performance.now() - last);
    },
  };
}

describe('sqlite store: another process holds a lock', () => {
  it('fails a write with VAULT_UNAVAILABLE at its deadline while reads, ping and the event loop go on; recovers on release', async () => {
    const path = join(dir, 'write-locked.db');
    const vault = new LocalVault(await SqliteStore.open(path, { timeoutMs: 500 }), keyring);
    const [known] = await vault.tokenize([item('known@example.com')]);
    const lock = await holdSqliteLock(path, 'write');
    let written: string | undefined;
    try {
      const stalls = stallMeter();
      const started = performance.now();
      let writeSettled = false;
      const write = outcome(vault.tokenize([item('new.during.lock@example.com')])).finally(() => (writeSettled = true));

      // While the write waits for the lock: a read answers (WAL lets it through), and before the write
      // gives up, i.e. it is not queued behind it. Same for ping: readiness stays green, reads work.
      expect(await vault.detokenize([{ namespace: NS, token: known! }])).toEqual([{ found: true, value: 'known@example.com', type: 'email' }]);
      await vault.ping();
      expect(writeSettled).toBe(false);

      const err = await write;
      const elapsed = performance.now() - started;
      expect(isGatewayError(err) && { code: err.code, message: err.message }).toEqual({ code: 'VAULT_UNAVAILABLE', message: TIMED_OUT });
      expect((err as Error).message).not.toContain('new.during.lock');
      // Within the configured timeout plus generous slack for a loaded machine (the issue: "within a
      // configurable timeout"); and not before it (it did wait for the lock).
      expect(elapsed).toBeGreaterThanOrEqual(450);
      expect(elapsed).toBeLessThan(500 + 2000);
      // The event loop was never held: the old synchronous store stalled it for the whole busy timeout.
      // The issue asks /healthz under 50 ms; 200 ms allows for a loaded 2-core machine.
      expect(stalls.stop()).toBeLessThan(200);
    } finally {
      await lock.release();
    }
    // Released: the same value tokenizes now, and the timed-out attempt left nothing half-done.
    [written] = await vault.tokenize([item('new.during.lock@example.com')]);
    expect(await vault.detokenize([{ namespace: NS, token: written! }])).toEqual([
      { found: true, value: 'new.during.lock@example.com', type: 'email' },
    ]);
    await vault.close();
  });

  it('refuses to open, within the timeout, a file another process holds whole', async () => {
    const path = join(dir, 'held-whole.db');
    await (await SqliteStore.open(path)).close();
    const lock = await holdSqliteLock(path, 'exclusive');
    try {
      const started = performance.now();
      const err = await outcome(SqliteStore.open(path, { timeoutMs: 500 }));
      expect(isGatewayError(err) && { code: err.code, message: err.message }).toEqual({
        code: 'VAULT_UNAVAILABLE',
        message: `cannot initialise vault database at ${path}: ${TIMED_OUT}`,
      });
      // The timeout, plus starting a worker thread (tsx compiles it under vitest) on a loaded machine.
      expect(performance.now() - started).toBeLessThan(500 + 5000);
    } finally {
      await lock.release();
    }
    const store = await SqliteStore.open(path, { timeoutMs: 500 });
    await store.ping();
    await store.close();
  });
});

describe('sqlite store: the file is deleted or replaced while open', () => {
  async function openWithRow(name: string) {
    const path = join(dir, name);
    const vault = new LocalVault(await SqliteStore.open(path, { timeoutMs: 2000 }), keyring);
    const [token] = await vault.tokenize([item('before@example.com')]);
    await vault.ping();
    return { path, vault, token: token! };
  }

  async function expectRefused(vault: LocalVault, token: string): Promise<void> {
    for (const call of [
      () => vault.ping(),
      () => vault.tokenize([item('before@example.com')]),
      () => vault.tokenize([item('after@example.com')]),
      () => vault.detokenize([{ namespace: NS, token }]),
      () => vault.delete([{ namespace: NS, token }]),
    ]) {
      const err = await outcome(call());
      expect(isGatewayError(err) && { code: err.code, message: err.message }).toEqual({ code: 'VAULT_UNAVAILABLE', message: REPLACED });
    }
  }

  it('deleted (rm vault.db): ping fails with the reason and every call is refused', async () => {
    const { path, vault, token } = await openWithRow('deleted.db');
    rmSync(path);
    await expectRefused(vault, token);
    await vault.close();
  });

  it('replaced (a copy renamed over it, as a restore would): ping fails with the reason and every call is refused', async () => {
    const { path, vault, token } = await openWithRow('replaced.db');
    copyFileSync(path, `${path}.restored`);
    renameSync(`${path}.restored`, path);
    await expectRefused(vault, token);
    await vault.close();
  });

  it('moved away is refused; moved back (the same file) is served again', async () => {
    const { path, vault, token } = await openWithRow('moved.db');
    renameSync(path, `${path}.away`);
    await expectRefused(vault, token);
    renameSync(`${path}.away`, path);
    await vault.ping();
    expect(await vault.detokenize([{ namespace: NS, token }])).toEqual([{ found: true, value: 'before@example.com', type: 'email' }]);
    await vault.close();
  });
});

describe('sqlite store: the worker crashes', () => {
  it('fails the pending call, later calls and ping at once (long before any deadline), and still closes', async () => {
    const path = join(dir, 'crash.db');
    // A deadline of a minute: if a call waited for it, this test would time out instead of passing.
    const store = await SqliteStore.open(path, { timeoutMs: 60_000 });
    const vault = new LocalVault(store, keyring);
    await vault.tokenize([item('before@example.com')]);
    // A call that is in flight when the worker dies: a write waiting for another process's lock.
    const lock = await holdSqliteLock(path, 'write');
    try {
      const pending = outcome(vault.tokenize([item('pending@example.com')]));
      await new Promise((resolve) => setTimeout(resolve, 100));
      const started = performance.now();
      expect(crashSqliteWorkersForTests(store)).toBe(1);
      const err = await pending;
      expect(isGatewayError(err) && { code: err.code, message: err.message }).toEqual({ code: 'VAULT_UNAVAILABLE', message: 'vault store worker crashed' });
      expect(performance.now() - started).toBeLessThan(5000);
      for (const call of [() => vault.ping(), () => vault.tokenize([item('later@example.com')]), () => vault.detokenize([{ namespace: NS, token: 'x' }])]) {
        expect(await outcome(call())).toMatchObject({ code: 'VAULT_UNAVAILABLE', message: 'vault store worker crashed' });
      }
    } finally {
      await lock.release();
    }
    await vault.close();
    expect(await outcome(vault.ping())).toMatchObject({ code: 'VAULT_UNAVAILABLE' });
  });
});
