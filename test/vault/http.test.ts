/**
 * The HTTP vault client against a second, real pii-gateway process serving the vault API on a real SQLite
 * file: the conformance suite every backend passes, unchanged but for two declared differences (the
 * suite's specs use the remote's keys, since the remote derives the tokens; delete() is refused, since the
 * API has no erasure call).
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, generateKeyFile } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { HttpVault } from '../../src/vault/http.js';
import { httpVaultConfig } from '../helpers/http-vault.js';
import { startRemoteGateway, type RemoteGateway } from '../helpers/remote-gateway.js';
import { vaultConformance } from './conformance.js';

const keys = generateKeyFile();
const keyring = createKeyring(keys);
let remote: RemoteGateway;

beforeAll(async () => {
  remote = await startRemoteGateway({ backend: 'sqlite', keys });
}, 60_000);
afterAll(() => remote?.stop());

vaultConformance(
  'http',
  async () => {
    const vault = await HttpVault.open(httpVaultConfig(remote.vaultUrl));
    return { vault, stop: () => vault.close() };
  },
  { keyring, erasure: 'refuses' },
);

describe('HttpVault against a real remote gateway', () => {
  it('speaks the clevertap protocol to the remote\'s CleverTap endpoints (split at 1,000, type opaque back)', async () => {
    const vault = await HttpVault.open(httpVaultConfig(remote.vaultUrl, { protocol: 'clevertap', batchSize: 5000 }));
    try {
      const spec = createTokenSpec({ type: 'opaque' }, keyring);
      const values = Array.from({ length: 1500 }, (_, i) => `ct value ${i}`);
      const tokens = await vault.tokenize(values.map((value) => ({ spec, value })));
      expect(tokens.every((t) => /^TKN_[0-9A-Za-z]{22}$/.test(t))).toBe(true);
      expect(new Set(tokens).size).toBe(1500);
      // Same as the remote's own CleverTap endpoint gives.
      const direct = await fetch(`${remote.vaultUrl}/ct-vault/api/tokenization/getToken`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ value: values[7] }) });
      expect(((await direct.json()) as { token: string }).token).toBe(tokens[7]);
      const results = await vault.detokenize([...tokens, 'TKN_unknown0000000000000000'].map((token) => ({ namespace: 'default', token })));
      expect(results.slice(0, 1500)).toEqual(values.map((value) => ({ found: true, value, type: 'opaque' })));
      expect(results[1500]).toEqual({ found: false });
      // Its own tokens pass through (the remote's vault hands them back).
      expect(await vault.tokenize([{ spec, value: tokens[0]! }])).toEqual([tokens[0]]);
      await vault.ping();
      await expect(vault.tokenize([{ spec: createTokenSpec({ type: 'email' }, keyring), value: 'a@b.example' }])).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    } finally {
      await vault.close();
    }
  });

  it('keeps every mapping when the remote process itself restarts on its SQLite file', async () => {
    const vault = await HttpVault.open(httpVaultConfig(remote.vaultUrl));
    const spec = createTokenSpec({ type: 'email', namespace: 'restart' }, keyring);
    const [token] = await vault.tokenize([{ spec, value: 'restart.me@example.com' }]);
    await vault.close();

    const own = await startRemoteGateway({ backend: 'sqlite', keys });
    const port = new URL(own.vaultUrl).port;
    const v1 = await HttpVault.open(httpVaultConfig(own.vaultUrl));
    const [t1] = await v1.tokenize([{ spec, value: 'restart.me@example.com' }]);
    await own.stop({ keepDir: true });
    // Down: ping and calls fail with VAULT_UNAVAILABLE (connection refused, retried, then given up).
    await expect(v1.ping()).rejects.toMatchObject({ code: 'VAULT_UNAVAILABLE' });
    await v1.close();
    const again = await startRemoteGateway({ backend: 'sqlite', keys, dir: own.dir, settings: { PII_GATEWAY_VAULT_API_LISTEN: `127.0.0.1:${port}` } });
    try {
      const v2 = await HttpVault.open(httpVaultConfig(again.vaultUrl));
      expect(await v2.detokenize([{ namespace: 'restart', token: t1! }])).toEqual([{ found: true, value: 'restart.me@example.com', type: 'email' }]);
      await v2.ping();
      await v2.close();
    } finally {
      await again.stop();
    }
    expect(token).toBe(t1); // same keys, same token on any remote
  }, 90_000);
});
