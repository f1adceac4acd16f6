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
  { keyring, erasure: false },
);

describe('HttpVault against a real remote gateway', () => {
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
