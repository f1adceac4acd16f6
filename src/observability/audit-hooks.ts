/**
 * Adapters from the audit sink (audit.ts) to the places that release or destroy PII: the transform
 * engine's detokenize hook (proxy routes), the vault API's detokenize endpoints, and vault deletions.
 * Each builds PII-free AuditEvents (paths, types, keyed token fingerprints) and awaits the sink, so a
 * failed write surfaces as AUDIT_UNAVAILABLE before anything is released (fail closed).
 */
import type { Context } from 'hono';
import type { AuditHook, DetokenizeAuditEvent, TransformContext } from '../transform/audit.js';
import type { DeleteItem, DetokenizeItem, DetokenizeResult, TokenizeItem, Vault } from '../vault/interface.js';
import { auditFingerprint, type AuditEvent, type AuditSink } from './audit.js';

/**
 * The engine's `audit` hook over a sink. `upstreamHostOf(routeId)` names where request-side values go; on
 * the response side the value goes back to the caller, so no upstream is recorded.
 *
 * @example
 *   const audit = engineAuditHook(sink, (id) => hosts.get(id) ?? null);
 *   await audit.detokenized(events, { requestId, routeId: 'send', side: 'request' });
 */
export function engineAuditHook(sink: AuditSink, upstreamHostOf: (routeId: string) => string | null): AuditHook {
  return {
    detokenized(events: readonly DetokenizeAuditEvent[], ctx: TransformContext = {}): Promise<void> {
      const upstream = ctx.side === 'request' && ctx.routeId !== undefined ? upstreamHostOf(ctx.routeId) : null;
      return sink.record(
        events.map((e) => ({
          event: 'detokenize',
          requestId: ctx.requestId ?? null,
          caller: ctx.caller ?? null,
          route: ctx.routeId ?? null,
          upstream,
          tokenType: e.tokenType,
          field: e.path,
          count: 1,
          outcome: e.found ? 'resolved' : 'unknown',
          tokenFingerprint: e.tokenFingerprint,
        })),
      );
    },
  };
}

/**
 * Records the vault API's detokenize results before they are returned: one record per item, with the item's
 * path in the request body (`items[3].token`), the type when found, and the token's fingerprint.
 */
export function auditVaultApiDetokenize(
  sink: AuditSink,
  fingerprintKey: Buffer,
  where: { requestId: string; caller: string | null; route: string },
  items: readonly (DetokenizeItem & { readonly field: string })[],
  results: readonly DetokenizeResult[],
): Promise<void> {
  return sink.record(
    items.map((item, i) => {
      const r = results[i];
      return {
        event: 'detokenize',
        requestId: where.requestId,
        caller: where.caller,
        route: where.route,
        upstream: null,
        tokenType: r?.found ? r.type : null,
        field: item.field,
        count: 1,
        outcome: r?.found ? 'resolved' : 'unknown',
        tokenFingerprint: auditFingerprint(fingerprintKey, item.namespace, item.token),
      } satisfies AuditEvent;
    }),
  );
}

/**
 * The caller identity for audit records, from what the trust layer puts on the context: the authenticated
 * principal (`principal.id`: `jwt:<client>` / `apikey:<name>`; never a JWT's user) and the verified mTLS client
 * (`clientIdentity`: `cn=<CN> <sha256 fingerprint>`), space-separated; null when there is neither.
 */
export function callerOf(c: Context): string | null {
  const parts: string[] = [];
  const principal = c.get('principal' as never) as { id?: unknown } | null | undefined;
  if (principal && typeof principal.id === 'string') parts.push(principal.id);
  const id = c.get('clientIdentity' as never) as { cn?: string; fingerprint?: string } | null | undefined;
  if (id && typeof id.fingerprint === 'string') parts.push(id.cn ? `cn=${id.cn} ${id.fingerprint}` : id.fingerprint);
  return parts.length > 0 ? parts.join(' ') : null;
}

/**
 * A Vault whose `delete` writes an audit record per item first and deletes nothing if that fails
 * (right-to-erasure requests are token administration). Other operations pass through.
 */
export class AuditedDeletesVault implements Vault {
  readonly #inner: Vault;
  readonly #sink: AuditSink;
  readonly #fingerprintKey: Buffer;

  constructor(inner: Vault, sink: AuditSink, fingerprintKey: Buffer) {
    this.#inner = inner;
    this.#sink = sink;
    this.#fingerprintKey = fingerprintKey;
  }

  tokenize(items: readonly TokenizeItem[]): Promise<string[]> {
    return this.#inner.tokenize(items);
  }

  detokenize(items: readonly DetokenizeItem[]): Promise<DetokenizeResult[]> {
    return this.#inner.detokenize(items);
  }

  async delete(items: readonly DeleteItem[]): Promise<number> {
    await this.#sink.record(
      items.map((item, i) => ({
        event: 'vault.delete',
        requestId: null,
        caller: null,
        route: null,
        upstream: null,
        tokenType: null,
        field: `items[${i}]`,
        count: 1,
        outcome: 'requested',
        tokenFingerprint: auditFingerprint(this.#fingerprintKey, item.namespace, item.token),
      })),
    );
    return this.#inner.delete(items);
  }

  ping(): Promise<void> {
    return this.#inner.ping();
  }

  close(): Promise<void> {
    return this.#inner.close();
  }
}
