/** createVault wiring: which layers it builds for each option set. */
import { existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { createTokenSpec } from '../tokens/index.js';
import { CachedVault } from './cached.js';
import { createVault } from './index.js';
import { LocalVault } from './local.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-index-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('createVault', () => {
  const keyring = ephemeralKeyring();
  const spec = createTokenSpec({ type: 'opaque' }, keyring);

  it('builds sqlite -> LocalVault -> CachedVault and round-trips', async () => {
    const sqlitePath = join(dir, 'sub', 'vault.db');
    const vault = await createVault({ backend: 'sqlite', sqlitePath, keyring, cache: { maxEntries: 10, maxBytes: 1 << 16 } });
    expect(vault).toBeInstanceOf(CachedVault);
    expect(existsSync(sqlitePath)).toBe(true);
    const [token] = await vault.tokenize([{ spec, value: 'v' }]);
    expect(await vault.detokenize([{ namespace: 'default', token: token! }])).toEqual([
      { found: true, value: 'v', type: 'opaque' },
    ]);
    await vault.close();
  });

  it('skips the cache when maxEntries is 0, and needs no file for memory', async () => {
    const vault = await createVault({ backend: 'memory', sqlitePath: join(dir, 'unused.db'), keyring, cache: { maxEntries: 0, maxBytes: 0 } });
    expect(vault).toBeInstanceOf(LocalVault);
    expect(existsSync(join(dir, 'unused.db'))).toBe(false);
    await vault.ping();
    await vault.close();
  });

  it('reports an unopenable sqlite path as VAULT_UNAVAILABLE', async () => {
    const notADir = join(dir, 'plain-file');
    writeFileSync(notADir, 'x');
    await expect(
      createVault({ backend: 'sqlite', sqlitePath: join(notADir, 'vault.db'), keyring, cache: { maxEntries: 0, maxBytes: 0 } }),
    ).rejects.toThrow(expect.objectContaining({ code: 'VAULT_UNAVAILABLE' }));
  });
});
