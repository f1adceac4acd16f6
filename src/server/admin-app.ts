/**
 * The admin listener: liveness and readiness, for orchestrators. Bound to loopback by default.
 *
 * /healthz says the process serves; /readyz says it can do its job: rules loaded, keys present, vault
 * answering. A 503 names the failing checks and, for GatewayErrors, why (never a secret or a value).
 * /metrics serves the gateway's Prometheus registry (observability/metrics.ts), whose labels are ids and
 * codes only.
 */
import { Hono } from 'hono';
import type { Registry } from 'prom-client';
import { isGatewayError } from '../errors.js';

export interface ReadinessCheck {
  readonly name: string;
  /** Resolves when ready; a rejection (or thrown error) makes the gateway not ready. */
  check(): Promise<void> | void;
}

export function createAdminApp(checks: readonly ReadinessCheck[], options: { metrics?: Registry } = {}): Hono {
  const app = new Hono();
  const registry = options.metrics;
  if (registry) {
    app.get('/metrics', async (c) => c.body(await registry.metrics(), 200, { 'content-type': registry.contentType }));
  }
  app.get('/healthz', (c) => c.json({ status: 'ok' }));
  app.get('/readyz', async (c) => {
    const failing: string[] = [];
    // Why a check fails, for the operator: GatewayError messages only (their contract: no values, no
    // secrets); any other error is named by its check alone.
    const reasons: Record<string, string> = {};
    await Promise.all(
      checks.map(async (chk) => {
        try {
          await chk.check();
        } catch (err) {
          failing.push(chk.name);
          if (isGatewayError(err)) reasons[chk.name] = err.message;
        }
      }),
    );
    return failing.length === 0
      ? c.json({ status: 'ready', checks: checks.map((k) => k.name) })
      : c.json({ status: 'not ready', failing, reasons }, 503);
  });
  app.notFound((c) => c.json({ error: { code: 'ROUTE_NOT_FOUND', message: 'no such admin endpoint', requestId: '' } }, 404));
  // hono's default onError prints the error with console.error; nothing here should ever reach a console.
  app.onError((_err, c) => c.json({ error: { code: 'INTERNAL', message: 'internal error', requestId: '' } }, 500));
  return app;
}
