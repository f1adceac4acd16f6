/**
 * Prometheus metrics (prom-client), served on the admin listener at GET /metrics.
 *
 * One registry per gateway instance (never prom-client's global one), so tests can run several gateways.
 * Label values are only ever route ids (from rule files), vault API endpoint patterns, error codes,
 * upstream names, vault operations and status classes: all bounded sets chosen by the operator or by us.
 * Never a path, a header, a token or a value, so neither PII nor unbounded cardinality can get in.
 */
import type { Context, MiddlewareHandler } from 'hono';
import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';
import { isGatewayError } from '../errors.js';

/** Request latency buckets (seconds): a proxy adds milliseconds; upstreams take up to tens of seconds. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30];
const VAULT_BUCKETS = [0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1];
const BATCH_BUCKETS = [1, 2, 5, 10, 25, 50, 100, 500, 1000, 5000, 10000];

export type MetricsListener = 'proxy' | 'vault_api';

/** The gateway's metrics. Build once per gateway with {@link createMetrics}. */
export interface GatewayMetrics {
  readonly registry: Registry;
  readonly requests: Counter<'listener' | 'route' | 'status_class'>;
  readonly requestDuration: Histogram<'listener' | 'route'>;
  readonly vaultDuration: Histogram<'op' | 'outcome'>;
  readonly vaultBatchSize: Histogram<'op'>;
  readonly fields: Counter<'route' | 'action'>;
  /** detokenize-text: token-like strings a template filter altered (upper-cased, truncated, URL-encoded), left as written. */
  readonly alteredTokens: Counter<'route'>;
  readonly refusals: Counter<'listener' | 'code'>;
  readonly auditFailures: Counter<never>;
  readonly auditRecords: Counter<never>;
  readonly upstreamErrors: Counter<'upstream' | 'code'>;
}

/**
 * @example
 *   const metrics = createMetrics();
 *   metrics.fields.inc({ route: 'send', action: 'detokenized' }, 2);
 *   const text = await metrics.registry.metrics();
 */
export function createMetrics(options: { processMetrics?: boolean } = {}): GatewayMetrics {
  const registry = new Registry();
  const registers = [registry];
  if (options.processMetrics !== false) collectDefaultMetrics({ register: registry });
  return {
    registry,
    requests: new Counter({
      name: 'pii_gateway_requests_total',
      help: 'Requests answered, by listener, route id (vault API: endpoint pattern) and status class.',
      labelNames: ['listener', 'route', 'status_class'],
      registers,
    }),
    requestDuration: new Histogram({
      name: 'pii_gateway_request_duration_seconds',
      help: 'Time from request to response, by listener and route id.',
      labelNames: ['listener', 'route'],
      buckets: LATENCY_BUCKETS,
      registers,
    }),
    vaultDuration: new Histogram({
      name: 'pii_gateway_vault_call_duration_seconds',
      help: 'Duration of vault calls, by operation (tokenize, detokenize, delete, ping) and outcome (ok, error).',
      labelNames: ['op', 'outcome'],
      buckets: VAULT_BUCKETS,
      registers,
    }),
    vaultBatchSize: new Histogram({
      name: 'pii_gateway_vault_batch_size',
      help: 'Items per vault call, by operation.',
      labelNames: ['op'],
      buckets: BATCH_BUCKETS,
      registers,
    }),
    fields: new Counter({
      name: 'pii_gateway_fields_total',
      help: 'Fields transformed, by route id and action (tokenized, detokenized, other = mask/hash/redact).',
      labelNames: ['route', 'action'],
      registers,
    }),
    alteredTokens: new Counter({
      name: 'pii_gateway_altered_tokens_total',
      help: 'Token-like strings in message text that are not tokens (a template filter upper-cased, truncated or URL-encoded them), by route id: left as written.',
      labelNames: ['route'],
      registers,
    }),
    refusals: new Counter({
      name: 'pii_gateway_refusals_total',
      help: 'Requests refused or failed, by listener and stable error code.',
      labelNames: ['listener', 'code'],
      registers,
    }),
    auditFailures: new Counter({
      name: 'pii_gateway_audit_failures_total',
      help: 'Audit log writes (or opens) that failed; every one refused the operation it was auditing.',
      registers,
    }),
    auditRecords: new Counter({
      name: 'pii_gateway_audit_records_total',
      help: 'Audit records written.',
      registers,
    }),
    upstreamErrors: new Counter({
      name: 'pii_gateway_upstream_errors_total',
      help: 'Upstream failures (unreachable, timeout, invalid response), by upstream name and error code.',
      labelNames: ['upstream', 'code'],
      registers,
    }),
  };
}

/**
 * Hono middleware counting every request of a listener: status class, latency, and the error code of a
 * refusal (read from `c.error`, which hono sets when onError handled a throw). `routeOf` maps the context to
 * a bounded label (a route id or an endpoint pattern), never the raw path.
 *
 * @example
 *   app.use(requestMetrics(metrics, 'proxy', (c) => c.get('routeId') ?? 'unmatched'));
 */
export function requestMetrics(
  metrics: GatewayMetrics,
  listener: MetricsListener,
  routeOf: (c: Context) => string,
  onError?: (c: Context, code: string) => void,
): MiddlewareHandler {
  const count = (c: Context, started: number, status: number, error: unknown): void => {
    const route = routeOf(c);
    metrics.requests.inc({ listener, route, status_class: `${Math.floor(status / 100)}xx` });
    metrics.requestDuration.observe({ listener, route }, (performance.now() - started) / 1000);
    if (error !== undefined) {
      const code = isGatewayError(error) ? error.code : 'INTERNAL';
      metrics.refusals.inc({ listener, code });
      onError?.(c, code);
    }
  };
  return async function countRequest(c, next) {
    const started = performance.now();
    try {
      await next();
    } catch (err) {
      // A throw from the notFound handler skips onError at this level: hono handles it above us.
      count(c, started, isGatewayError(err) ? err.status : 500, err);
      throw err;
    }
    count(c, started, sentStatus(c) ?? c.res.status, c.error);
  };
}

/**
 * The status of a response a handler already wrote to the node response itself (the proxy routes do, and
 * return @hono/node-server's RESPONSE_ALREADY_SENT, whose own status says nothing); undefined otherwise.
 */
function sentStatus(c: Context): number | undefined {
  const outgoing = (c.env as { outgoing?: { headersSent?: boolean; statusCode?: number } } | undefined)?.outgoing;
  return outgoing?.headersSent === true ? outgoing.statusCode : undefined;
}
