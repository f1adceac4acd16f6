/**
 * Starts the real gateway for a test: rules written to a temp dir, every listener on 127.0.0.1:0,
 * keys in env, and the vault chosen by the test (memory by default; sqlite in a temp dir on request).
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '../../src/config/index.js';
import { generateKeyFile } from '../../src/crypto/keyring.js';
import { startGateway, type Gateway, type GatewayOptions } from '../../src/gateway.js';
import { createLogSink, type LogSink } from './log-sink.js';

export interface TestGateway {
  readonly gw: Gateway;
  readonly logs: LogSink;
  readonly dir: string;
  /** Proxy base URL. */
  readonly url: string;
  readonly vaultUrl: string;
  readonly adminUrl: string;
  close(): Promise<void>;
}

export interface StartOptions extends Omit<GatewayOptions, 'logDestination'> {
  /** Rule files by name, e.g. { 'demo.yaml': '...' }. */
  rules: Record<string, string>;
  /** Extra PII_GATEWAY_* settings. */
  settings?: Record<string, string>;
  backend?: 'memory' | 'sqlite';
  /** Detokenize policy YAML (auth/detokenize-policy.ts), written beside the rules and named by PII_GATEWAY_DETOKENIZE_POLICY. */
  detokenizePolicy?: string;
}

export async function startTestGateway(options: StartOptions): Promise<TestGateway> {
  const dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-'));
  const rulesDir = path.join(dir, 'rules');
  (await import('node:fs')).mkdirSync(rulesDir);
  for (const [name, text] of Object.entries(options.rules)) writeFileSync(path.join(rulesDir, name), text);
  const policy: Record<string, string> = {};
  if (options.detokenizePolicy !== undefined) {
    writeFileSync(path.join(dir, 'detokenize-policy.yaml'), options.detokenizePolicy);
    policy.PII_GATEWAY_DETOKENIZE_POLICY = path.join(dir, 'detokenize-policy.yaml');
  }
  const config = loadConfig(
    {
      PII_GATEWAY_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_VAULT_API_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_RULES_DIR: rulesDir,
      PII_GATEWAY_DATA_DIR: path.join(dir, 'data'),
      PII_GATEWAY_VAULT: options.backend ?? 'memory',
      PII_GATEWAY_KEYS: JSON.stringify(generateKeyFile()),
      PII_GATEWAY_LOG_LEVEL: 'debug',
      ...policy,
      ...options.settings,
    },
    dir,
  );
  const logs = createLogSink();
  const { rules: _r, settings: _s, backend: _b, detokenizePolicy: _p, ...gwOptions } = options;
  const gw = await startGateway(config, { ...gwOptions, logDestination: logs.stream });
  return {
    gw,
    logs,
    dir,
    url: gw.proxy.url,
    vaultUrl: gw.vaultApi!.url,
    adminUrl: gw.admin.url,
    close: async () => {
      await gw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/**
 * A detokenize policy for tests whose upstreams are local: every token type may be resolved toward
 * 127.0.0.1 (request side) and into responses. Production policies list real hosts (docs/security.md).
 */
export const LOCAL_DETOKENIZE_POLICY = `version: 1
destinations: { email: [127.0.0.1], phone: [127.0.0.1], opaque: [127.0.0.1], digits: [127.0.0.1] }
responses: [email, phone, opaque, digits]
`;
