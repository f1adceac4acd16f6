import { describe, expect, it } from 'vitest';
import { GatewayError } from '../../errors.js';
import { Deadline, sleepWithin, within } from './deadline.js';

const timeout = () => new GatewayError('VAULT_UNAVAILABLE', 'timed out');

describe('Deadline', () => {
  it('aborts its signal with the timeout error on time, and counts down', async () => {
    const d = new Deadline(50, timeout);
    expect(d.remaining()).toBeGreaterThan(0);
    expect(d.done).toBe(false);
    await new Promise((r) => setTimeout(r, 80));
    expect(d.done).toBe(true);
    expect(d.remaining()).toBe(0);
    expect((d.reason as GatewayError).message).toBe('timed out');
  });

  it('cancel() aborts with the first reason only; finish() stops the timer', async () => {
    const d = new Deadline(30, timeout);
    const first = new GatewayError('VAULT_UNAVAILABLE', 'part 2 failed');
    d.cancel(first);
    d.cancel(new GatewayError('VAULT_UNAVAILABLE', 'later'));
    expect(d.reason).toBe(first);
    const f = new Deadline(30, timeout);
    f.finish();
    await new Promise((r) => setTimeout(r, 50));
    expect(f.done).toBe(false);
  });

  it('within() rejects at the deadline while the shared promise goes on for others', async () => {
    const d = new Deadline(30, timeout);
    let resolve!: (v: string) => void;
    const shared = new Promise<string>((r) => (resolve = r));
    await expect(within(shared, d)).rejects.toThrow('timed out');
    resolve('late');
    expect(await shared).toBe('late');
    const ok = new Deadline(1000, timeout);
    expect(await within(Promise.resolve('v'), ok)).toBe('v');
    ok.finish();
  });

  it('sleepWithin() resolves after the wait, or rejects as soon as the call is cancelled', async () => {
    const d = new Deadline(1000, timeout);
    const started = Date.now();
    await sleepWithin(20, d);
    expect(Date.now() - started).toBeGreaterThanOrEqual(15);
    const sleeping = sleepWithin(10_000, d);
    d.cancel(new GatewayError('VAULT_UNAVAILABLE', 'cancelled'));
    await expect(sleeping).rejects.toThrow('cancelled');
    await expect(sleepWithin(1, d)).rejects.toThrow('cancelled');
    d.finish();
  });
});
