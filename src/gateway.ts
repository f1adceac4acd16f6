/**
 * Wiring only: config -> keys -> rules -> vault -> upstreams -> apps -> listeners. Nothing else builds
 * long-lived objects; everything built here is closed by `close()`.
 *
 * @example
 *   const gw = await startGateway(loadConfig());
 *   // ... gw.proxy.url, gw.admin.url, gw.vaultApi?.url
 *   await gw.close();
 */
import { existsSync } from 'node:fs';
import type { DestinationStream } from 'pino';
import { resolveJwtDiscovery } from './auth/oidc-discovery.js';
import { buildAuthenticators, chainAuthorizers, vaultApiCredentials, vaultApiReleaseCheck, type Authenticators } from './auth/authenticate.js';
import { loadDetokenizePolicy, type DetokenizePolicy } from './auth/detokenize-policy.js';
import { assertRouteClientsServable, vaultApiAuthorizer } from './auth/mtls.js';
import { formCodec } from './codecs/form.js';
import { jsonCodec } from './codecs/json.js';
import { multipartCodec } from './codecs/multipart.js';
import { textCodec } from './codecs/text.js';
import type { Codec } from './codecs/types.js';
import type { GatewayConfig } from './config/index.js';
import { ensureDevKeyFile, loadKeyring } from './crypto/keyring.js';
import type { Keyring } from './crypto/types.js';
import { AuditLog } from './observability/audit.js';
import { AuditedDeletesVault, engineAuditHook } from './observability/audit-hooks.js';
import { createLogger, type Logger } from './observability/logger.js';
import { createMetrics, type GatewayMetrics } from './observability/metrics.js';
import { Upstream } from './proxy/upstream.js';
import { loadRuleSet } from './rules/load.js';
import type { CompiledRuleSet } from './rules/types.js';
import { createAdminApp } from './server/admin-app.js';
import { createProxyApp } from './server/proxy-app.js';
import { listen, type Listener } from './server/serve.js';
import { TlsReloader, type ReloadResult, type TlsReloadable } from './server/tls.js';
import { createVaultApiApp, type VaultApiDeps } from './server/vault-api.js';
import { withVaultlessTypes } from './tokens/index.js';
import type { Vault } from './vault/interface.js';
import { createVault } from './vault/index.js';
import { MeteredVault } from './vault/metered.js';

export interface GatewayOptions {
  /** Log destination (tests pass a sink; default stdout). */
  readonly logDestination?: DestinationStream;
  /** Use this vault instead of building one from config (tests, benchmarks). */
  readonly vault?: Vault;
  /** Environment for ${VAR} substitution in rule files (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
  readonly authorizeVaultApi?: VaultApiDeps['authorize'];
}

export interface Gateway {
  readonly proxy: Listener;
  readonly admin: Listener;
  readonly vaultApi: Listener | null;
  readonly vault: Vault;
  readonly keyring: Keyring;
  readonly rules: CompiledRuleSet;
  readonly log: Logger;
  /** Re-reads listener and upstream certificates, keys and CA bundles (SIGHUP; also done on file change). */
  reloadTls(): Promise<ReloadResult>;
  /** This gateway's Prometheus registry and metrics (served on the admin listener at /metrics). */
  readonly metrics: GatewayMetrics;
  readonly audit: AuditLog;
  close(): Promise<void>;
}

/** The codecs the engine can run, by rule-file name. */
export const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  ['json', jsonCodec as Codec],
  ['form', formCodec as Codec],
  ['multipart', multipartCodec as Codec],
  ['text', textCodec as Codec],
]);

/**
 * Loads keys the way `start` does: env JSON, else the key file, generating dev keys first when allowed; marked
 * with PII_GATEWAY_VAULTLESS_TYPES (withVaultlessTypes).
 */
export function loadKeys(config: GatewayConfig, log: Logger): Keyring {
  if (config.keys.json === undefined && !existsSync(config.keys.file)) {
    if (config.keys.devKeys) {
      ensureDevKeyFile(config.keys.file);
      log.warn(
        { keyFile: config.keys.file },
        'DEVELOPMENT KEYS GENERATED. Fine for trying the gateway; production must supply its own keys ' +
          '(PII_GATEWAY_KEYS or PII_GATEWAY_KEYS_FILE, and PII_GATEWAY_DEV_KEYS=false). See docs/keys.md.',
      );
    }
  }
  // Marked with the vaultless types, so every token spec built from it recognizes vaultless tokens (tokens/vaultless).
  return withVaultlessTypes(loadKeyring({ json: config.keys.json, file: config.keys.file }), config.vault.vaultlessTypes);
}

/**
 * The decorators the gateway puts over the vault createVault() built: metrics per call, and an audit record
 * before every delete. Proxy routes add a release guard per direction (server/proxy-app.ts). The one
 * assembly the conformance suite also runs (test/vault/composed.test.ts).
 */
export function gatewayVault(base: Vault, metrics: GatewayMetrics, audit: AuditLog, keyring: Keyring): Vault {
  return new AuditedDeletesVault(
    new MeteredVault(base, (op, items, seconds, ok) => {
      metrics.vaultDuration.observe({ op, outcome: ok ? 'ok' : 'error' }, seconds);
      if (op !== 'ping') metrics.vaultBatchSize.observe({ op }, items);
    }),
    audit,
    keyring.fingerprintKey,
  );
}

export async function startGateway(config: GatewayConfig, options: GatewayOptions = {}): Promise<Gateway> {
  const log = createLogger({ level: config.logLevel, destination: options.logDestination });
  const metrics = createMetrics();
  const audit = new AuditLog({
    ...config.audit,
    log,
    onFailure: () => metrics.auditFailures.inc(),
    onWritten: (n) => metrics.auditRecords.inc(n),
  });
  await audit.open();
  let keyring: Keyring;
  let rules: CompiledRuleSet;
  let authenticators: Authenticators;
  let detokenizePolicy: DetokenizePolicy | null;
  try {
    if (config.keys.json === undefined && config.keys.devKeys && !existsSync(config.keys.file)) {
      // Key generation is key administration: recorded first, and refused when it cannot be recorded.
      await audit.record([
        { event: 'keys.generate', requestId: null, caller: null, route: 'start', upstream: null, tokenType: null, field: null, count: 1, outcome: 'generating', tokenFingerprint: null },
      ]);
    }
    keyring = loadKeys(config, log);
    authenticators = buildAuthenticators(await resolveJwtDiscovery(config.auth, log), log);
    detokenizePolicy = config.auth.detokenizePolicyFile === undefined ? null : loadDetokenizePolicy(config.auth.detokenizePolicyFile);
    // A rule that contradicts the policy is a load error; without a policy, detokenizing routes stay disabled (proxy-app).
    rules = loadRuleSet(config.rulesDir, { keyring, env: options.env ?? process.env, detokenizePolicy: detokenizePolicy ?? undefined });
    if (detokenizePolicy !== null && detokenizePolicy.purposes === null) {
      log.warn({ policy: detokenizePolicy.file }, 'the detokenize policy has no purposes: the vault API detokenizes for any caller with the detokenize permission, whatever the purpose');
    }
    assertRouteClientsServable(rules.routes, config.tls.proxy);
  } catch (err) {
    await audit.close();
    throw err;
  }
  let baseVault: Vault;
  try {
    baseVault = options.vault ?? (await createVault({ ...config.vault, keyring }));
  } catch (err) {
    await audit.close();
    throw err;
  }
  const vault = gatewayVault(baseVault, metrics, audit, keyring);

  const upstreams = new Map<string, Upstream>();
  const opened: Listener[] = [];
  // From here on, anything that fails (an upstream's TLS files, a route that cannot be served, a port in use)
  // closes what was already built: listeners, pools, the vault and the audit log.
  try {
    for (const u of rules.upstreams.values()) upstreams.set(u.name, new Upstream(u, config.upstreamConnections));

    const upstreamHosts = new Map(rules.routes.map((r) => [r.id, r.upstream.url.host]));
    const transform = {
      vault,
      keyring,
      codecs: CODECS,
      maxDepth: config.limits.jsonMaxDepth,
      audit: engineAuditHook(audit, (routeId) => upstreamHosts.get(routeId) ?? null),
    };
    const proxyApp = createProxyApp({ rules, upstreams, transform, log, limits: config.limits, metrics, auth: authenticators, detokenizePolicy });
    const adminApp = createAdminApp([
      {
        name: 'rules',
        check: () => {
          if (rules.routes.length === 0) throw new Error('no routes loaded');
        },
      },
      {
        name: 'keys',
        check: () => {
          if (!keyring.encryptionKeys.has(keyring.activeKeyId)) throw new Error('active key missing');
        },
      },
      { name: 'vault', check: () => vault.ping() },
      {
        name: 'audit',
        check: () => {
          if (!audit.healthy) throw new Error('audit log not writable');
        },
      },
    ], { metrics: metrics.registry });

    const proxy = await listen(proxyApp, config.listen, config.tls.proxy, 'proxy listener');
    opened.push(proxy);
    const admin = await listen(adminApp, config.adminListen);
    opened.push(admin);
    let vaultApi: Listener | null = null;
    if (config.vaultApiListen) {
      const vaultApp = createVaultApiApp({
        vault,
        keyring,
        log,
        maxBatch: config.limits.vaultApiMaxBatch,
        bodyLimit: config.limits.vaultApiBodyBytes,
        defaultNamespace: config.vaultApiNamespace,
        // mTLS allowlist first, then bearer credentials and permissions, then the caller's own seam.
        authorize: vaultApiAuthorizer(
          config.tls.vaultApiClients,
          chainAuthorizers(vaultApiCredentials(config.auth, config.vaultApiListen, config.tls.vaultApiClients.detokenize, authenticators), options.authorizeVaultApi),
        ),
        release: vaultApiReleaseCheck(detokenizePolicy),
        audit,
        metrics,
      });
      vaultApi = await listen(vaultApp, config.vaultApiListen, config.tls.vaultApi, 'vault API listener');
      opened.push(vaultApi);
    }
    const reloadable: TlsReloadable[] = [proxy.tls, vaultApi?.tls].filter((t): t is TlsReloadable => t !== undefined);
    for (const u of upstreams.values()) {
      if (u.tlsFiles.length > 0) reloadable.push({ name: `upstream '${u.name}'`, files: u.tlsFiles, reload: () => u.reloadTls() });
    }
    const tlsReloader = new TlsReloader(reloadable, log);
    tlsReloader.watch();
    log.info(
      {
        proxy: proxy.url,
        admin: admin.url,
        vaultApi: vaultApi?.url ?? 'off',
        routes: rules.routes.length,
        ruleFiles: rules.files.length,
        vault: options.vault ? 'custom' : config.vault.backend,
      },
      'pii-gateway listening',
    );
    let closing: Promise<void> | undefined;
    return {
      proxy,
      admin,
      vaultApi,
      vault,
      keyring,
      rules,
      log,
      metrics,
      audit,
      reloadTls: () => tlsReloader.reload(),
      close: () =>
        (closing ??= (async () => {
          tlsReloader.close();
          await Promise.all(opened.map((l) => l.close()));
          await Promise.all([...upstreams.values()].map((u) => u.close()));
          if (!options.vault) await vault.close();
          await audit.close();
          log.info('pii-gateway stopped');
        })()),
    };
  } catch (err) {
    await Promise.all(opened.map((l) => l.close(0)));
    await Promise.all([...upstreams.values()].map((u) => u.close()));
    if (!options.vault) await vault.close();
    await audit.close();
    throw err;
  }
}
