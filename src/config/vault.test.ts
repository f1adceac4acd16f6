import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-config-vault-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
writeFileSync(join(dir, 'secret'), 's3cr3t-value\n');
writeFileSync(join(dir, 'empty'), '\n');
const cfg = (env: Record<string, string>) => () => loadConfig(env, dir);
const http = { PII_GATEWAY_VAULT: 'http', PII_GATEWAY_HTTP_VAULT_URL: 'https://vault.test:8443/base' };

describe('vault settings', () => {
  it('default to the embedded sqlite file, no TTL, no vaultless types', () => {
    const v = loadConfig({}, dir).vault;
    expect(v).toMatchObject({ backend: 'sqlite', sqlitePath: join(dir, 'data', 'vault.db'), timeoutMs: 5000, postgres: undefined, http: undefined, vaultlessTypes: [] });
    expect(v.cache).toEqual({ maxEntries: 100_000, maxBytes: 64 * 1024 * 1024, ttlMs: undefined });
  });

  it('bound the cache lifetime on shared backends by default, and let it be set or turned off', () => {
    expect(loadConfig({ PII_GATEWAY_VAULT: 'postgres' }, dir).vault.cache.ttlMs).toBe(300_000);
    expect(loadConfig(http, dir).vault.cache.ttlMs).toBe(300_000);
    expect(loadConfig({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_CACHE_TTL: '30s' }, dir).vault.cache.ttlMs).toBe(30_000);
    expect(loadConfig({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_CACHE_TTL: 'off' }, dir).vault.cache.ttlMs).toBeUndefined();
    expect(cfg({ PII_GATEWAY_CACHE_TTL: '2h' })).toThrow('PII_GATEWAY_CACHE_TTL');
    expect(cfg({ PII_GATEWAY_CACHE_TTL: '0s' })).toThrow("'auto' or 'off'");
  });

  it('read postgres settings with safe defaults, and refuse a URL of another kind', () => {
    const pg = loadConfig({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_URL: 'postgres://gw@db.test/vault' }, dir).vault.postgres;
    expect(pg).toEqual({ url: 'postgres://gw@db.test/vault', poolSize: 10, migrate: false, connectTimeoutMs: 5000 });
    expect(loadConfig({ PII_GATEWAY_VAULT: 'postgres' }, dir).vault.postgres?.url).toBeUndefined();
    expect(cfg({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_URL: 'mysql://db.test/vault' })).toThrow('postgres:// or postgresql://');
    expect(cfg({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_POOL_SIZE: '0' })).toThrow('PII_GATEWAY_POSTGRES_POOL_SIZE');
    expect(cfg({ PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_MIGRATE: 'yes' })).toThrow('one of true, false');
    expect(cfg({ PII_GATEWAY_VAULT: 'mongodb' })).toThrow('PII_GATEWAY_VAULT: expected one of sqlite, postgres, http, memory');
  });

  it('read http settings: OAuth2 client credentials with the secret from a file, never in the URL', () => {
    const h = loadConfig({
      ...http,
      PII_GATEWAY_HTTP_VAULT_TOKEN_URL: 'https://sso.test/realms/a/protocol/openid-connect/token',
      PII_GATEWAY_HTTP_VAULT_CLIENT_ID: 'gw',
      PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE: 'secret',
      PII_GATEWAY_HTTP_VAULT_BREAKER: '3/10s',
    }, dir).vault.http!;
    expect(h.url.href).toBe('https://vault.test:8443/base');
    expect(h.oauth).toMatchObject({ clientId: 'gw', clientSecret: 's3cr3t-value', scope: undefined });
    expect(h).toMatchObject({ protocol: 'pii-gateway', batchSize: 500, connections: 50, timeoutMs: 60_000, retries: 3, breaker: { failures: 3, openMs: 10_000 } });
  });

  it('refuse http settings that would leak or contradict each other, naming the variable', () => {
    expect(cfg({ PII_GATEWAY_VAULT: 'http' })).toThrow('PII_GATEWAY_HTTP_VAULT_URL: required');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_URL: 'http://vault.test/' })).toThrow('plain http is allowed only to loopback');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_URL: 'http://127.0.0.1:8081' })).not.toThrow();
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_URL: 'https://u:p@vault.test/' })).toThrow('must not carry credentials');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_URL: 'https://vault.test/?k=v' })).toThrow('query or fragment');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_CLIENT_ID: 'gw' })).toThrow('set PII_GATEWAY_HTTP_VAULT_TOKEN_URL as well');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_TOKEN_URL: 'https://sso.test/token', PII_GATEWAY_HTTP_VAULT_CLIENT_ID: 'gw' })).toThrow('PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE: required');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: 'missing' })).toThrow('cannot read the file (ENOENT)');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: 'empty' })).toThrow('the file is empty');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_PROTOCOL: 'soap' })).toThrow('pii-gateway, clevertap');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_BREAKER: '5' })).toThrow('failures/duration');
    expect(cfg({ ...http, PII_GATEWAY_HTTP_VAULT_CERT: 'c.pem' })).toThrow('set both the client certificate and its key');
  });

  it('never put a secret read from a file into an error message', () => {
    let message = '';
    try {
      loadConfig({ ...http, PII_GATEWAY_HTTP_VAULT_API_KEY_FILE: 'secret', PII_GATEWAY_HTTP_VAULT_TOKEN_URL: 'https://sso.test/t', PII_GATEWAY_HTTP_VAULT_CLIENT_ID: 'gw', PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE: 'secret' }, dir);
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('not both');
    expect(message).not.toContain('s3cr3t');
  });

  it('read vaultless types, refusing unknown ones', () => {
    expect(loadConfig({ PII_GATEWAY_VAULTLESS_TYPES: 'phone, digits,phone' }, dir).vault.vaultlessTypes).toEqual(['phone', 'digits']);
    expect(cfg({ PII_GATEWAY_VAULTLESS_TYPES: 'phone,ssn' })).toThrow("'ssn' is not a token type");
  });
});
