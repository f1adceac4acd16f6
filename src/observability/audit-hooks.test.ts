import { Hono } from 'hono';
import { describe, expect, it } from 'vitest';
import type { AuditEvent, AuditSink } from './audit.js';
import { callerOf, engineAuditHook } from './audit-hooks.js';

function memorySink(): AuditSink & { events: AuditEvent[] } {
  const events: AuditEvent[] = [];
  return { events, record: async (e) => void events.push(...e) };
}

describe('engineAuditHook', () => {
  it('maps engine events to records; the upstream host only on the request side', async () => {
    const sink = memorySink();
    const hook = engineAuditHook(sink, (id) => (id === 'p/send' ? 'api.provider.example' : null));
    const ev = { path: '$.to', tokenType: 'phone', found: true, tokenFingerprint: 'f'.repeat(32) };
    await hook.detokenized([ev, { ...ev, path: '$.cc', found: false }], { requestId: 'r1', routeId: 'p/send', side: 'request', caller: 'apikey:disp' });
    await hook.detokenized([ev], { requestId: 'r2', routeId: 'p/send', side: 'response' });
    expect(sink.events).toEqual([
      { event: 'detokenize', requestId: 'r1', caller: 'apikey:disp', route: 'p/send', upstream: 'api.provider.example', tokenType: 'phone', field: '$.to', count: 1, outcome: 'resolved', tokenFingerprint: 'f'.repeat(32) },
      { event: 'detokenize', requestId: 'r1', caller: 'apikey:disp', route: 'p/send', upstream: 'api.provider.example', tokenType: 'phone', field: '$.cc', count: 1, outcome: 'unknown', tokenFingerprint: 'f'.repeat(32) },
      { event: 'detokenize', requestId: 'r2', caller: null, route: 'p/send', upstream: null, tokenType: 'phone', field: '$.to', count: 1, outcome: 'resolved', tokenFingerprint: 'f'.repeat(32) },
    ]);
  });

  it('propagates a sink failure (the engine then refuses)', async () => {
    const hook = engineAuditHook({ record: () => Promise.reject(new Error('disk')) }, () => null);
    await expect(hook.detokenized([{ path: '$.a', tokenType: 'email', found: true, tokenFingerprint: 'x' }])).rejects.toThrow('disk');
  });
});

describe('callerOf', () => {
  const run = async (vars: Record<string, unknown>) => {
    const app = new Hono();
    app.get('/', (c) => {
      for (const [k, v] of Object.entries(vars)) c.set(k as never, v as never);
      return c.json({ caller: callerOf(c) });
    });
    return ((await (await app.request('/')).json()) as { caller: string | null }).caller;
  };

  it('names the principal and the mTLS client, or nobody', async () => {
    const fp = 'sha256:' + Array(32).fill('AB').join(':');
    expect(await run({})).toBeNull();
    expect(await run({ principal: { id: 'jwt:dispatcher' } })).toBe('jwt:dispatcher');
    expect(await run({ clientIdentity: { cn: 'disp', fingerprint: fp } })).toBe(`cn=disp ${fp}`);
    expect(await run({ principal: { id: 'apikey:ops' }, clientIdentity: { cn: undefined, fingerprint: fp } })).toBe(`apikey:ops ${fp}`);
  });
});
