/** HttpVaultConfig for tests: the defaults of config/vault.ts, a loopback URL, and whatever the test overrides. */
import type { HttpVaultConfig } from '../../src/config/vault.js';

export function httpVaultConfig(url: string, overrides: Partial<HttpVaultConfig> = {}): HttpVaultConfig {
  return {
    url: new URL(url),
    protocol: 'pii-gateway',
    oauth: undefined,
    apiKey: undefined,
    purpose: undefined,
    batchSize: 500,
    connections: 50,
    timeoutMs: 60_000,
    retries: 3,
    breaker: { failures: 5, openMs: 30_000 },
    tls: { ca: undefined, cert: undefined, key: undefined },
    ...overrides,
  };
}
