/**
 * The conformance suite on the stack the gateway really runs, not on a bare backend: an SQLite file under
 * LocalVault, the LRU cache, the gateway's own decorators (metrics per call, audited deletes) and a proxy
 * route's release guard. A decorator that drops, reorders or rewrites results fails here like a backend would.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ReleaseGuardedVault } from '../../src/auth/authenticate.js';
import { parseDetokenizePolicy } from '../../src/auth/detokenize-policy.js';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { gatewayVault } from '../../src/gateway.js';
import { AuditLog } from '../../src/observability/audit.js';
import { createMetrics } from '../../src/observability/metrics.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { createVault } from '../../src/vault/index.js';
import { LOCAL_DETOKENIZE_POLICY } from '../helpers/gateway.js';
import { vaultConformance } from './conformance.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-composed-'));
const keyring = ephemeralKeyring();
const policy = parseDetokenizePolicy(LOCAL_DETOKENIZE_POLICY, 'test-policy.yaml');
/** Audit logs stay open until the end, as in the gateway (closed after the vault): stop() closes the vault only. */
const audits: AuditLog[] = [];
afterAll(async () => {
  await Promise.all(audits.map((a) => a.close()));
  rmSync(dir, { recursive: true, force: true });
});

async function composed(metrics = createMetrics(), auditFile = join(dir, 'audit.log')) {
  const audit = new AuditLog({ file: auditFile, maxBytes: 0, fsync: false });
  await audit.open();
  audits.push(audit);
  const base = await createVault({
    backend: 'sqlite',
    sqlitePath: join(dir, 'vault.db'),
    keyring,
    cache: { maxEntries: 10_000, maxBytes: 1 << 22, ttlMs: 60_000 },
  });
  const vault = new ReleaseGuardedVault(gatewayVault(base, metrics, audit, keyring), policy, 'request', '127.0.0.1');
  return {
    vault,
    stop: async () => {
      // The release guard does not own the vault (a route's view of it): close what the gateway closes.
      await base.close();
    },
  };
}

vaultConformance('composed (sqlite + cache + metrics + audited deletes + release guard)', () => composed());

describe('composed stack: the decorators do their own jobs too', () => {
  it('counts every call in the vault metrics and audits a delete before it happens', async () => {
    const metrics = createMetrics();
    const auditFile = join(dir, 'audit-own.log');
    const { vault, stop } = await composed(metrics, auditFile);
    const spec = createTokenSpec({ type: 'email', namespace: 'composed-own' }, keyring);
    const [token] = await vault.tokenize([{ spec, value: 'canary.composed@example.com' }]);
    await vault.detokenize([{ namespace: 'composed-own', token: token! }]);
    expect(await vault.delete([{ namespace: 'composed-own', token: token! }])).toBe(1);
    await stop();
    await audits.pop()!.close();
    const text = await metrics.registry.getSingleMetricAsString('pii_gateway_vault_call_duration_seconds');
    for (const op of ['tokenize', 'detokenize', 'delete']) expect(text).toContain(`op="${op}",outcome="ok"`);
    const audit = readFileSync(auditFile, 'utf8');
    expect(audit).toContain('"event":"vault.delete"');
    expect(audit).not.toContain('canary.composed');
    expect(audit).not.toContain(token!);
  });

  it('refuses to release a type the policy does not allow toward the host, after the lookup', async () => {
    const audit = new AuditLog({ file: join(dir, 'audit-guard.log'), maxBytes: 0, fsync: false });
    const base = await createVault({ backend: 'sqlite', sqlitePath: join(dir, 'vault.db'), keyring, cache: { maxEntries: 0, maxBytes: 0 } });
    const vault = new ReleaseGuardedVault(gatewayVault(base, createMetrics(), audit, keyring), policy, 'request', 'elsewhere.example');
    const spec = createTokenSpec({ type: 'phone', namespace: 'composed-guard' }, keyring);
    const [token] = await vault.tokenize([{ spec, value: '+447700900123' }]);
    await expect(vault.detokenize([{ namespace: 'composed-guard', token: token! }])).rejects.toMatchObject({ code: 'FORBIDDEN' });
    await base.close();
    await audit.close();
  });
});
