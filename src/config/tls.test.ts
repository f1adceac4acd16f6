import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';

const load = (env: Record<string, string>) => loadConfig(env, '/srv/gw');

describe('TLS settings', () => {
  it('are off by default (plain HTTP quick start)', () => {
    const c = load({});
    expect(c.tls.proxy).toBeNull();
    expect(c.tls.vaultApi).toBeNull();
    expect(c.tls.vaultApiClients).toEqual({ tokenize: null, detokenize: null });
  });
  it('auto client auth: required with a client CA, none without', () => {
    const c = load({ PII_GATEWAY_TLS_CERT: 'certs/server.crt', PII_GATEWAY_TLS_KEY: 'certs/server.key', PII_GATEWAY_TLS_CLIENT_CA: '/etc/ca.crt' });
    expect(c.tls.proxy).toEqual({ cert: '/srv/gw/certs/server.crt', key: '/srv/gw/certs/server.key', clientCa: '/etc/ca.crt', clientAuth: 'required' });
    const plain = load({ PII_GATEWAY_TLS_CERT: 'a.crt', PII_GATEWAY_TLS_KEY: 'a.key' });
    expect(plain.tls.proxy?.clientAuth).toBe('none');
    const optional = load({ PII_GATEWAY_TLS_CERT: 'a', PII_GATEWAY_TLS_KEY: 'b', PII_GATEWAY_TLS_CLIENT_CA: 'c', PII_GATEWAY_TLS_CLIENT_AUTH: 'optional' });
    expect(optional.tls.proxy?.clientAuth).toBe('optional');
  });
  it('refuses combinations that would silently weaken what was asked', () => {
    expect(() => load({ PII_GATEWAY_TLS_KEY: 'k' })).toThrow(/PII_GATEWAY_TLS_KEY: set PII_GATEWAY_TLS_CERT/);
    expect(() => load({ PII_GATEWAY_TLS_CERT: 'c' })).toThrow(/PII_GATEWAY_TLS_KEY: required/);
    expect(() => load({ PII_GATEWAY_TLS_CERT: 'c', PII_GATEWAY_TLS_KEY: 'k', PII_GATEWAY_TLS_CLIENT_AUTH: 'required' })).toThrow(
      /PII_GATEWAY_TLS_CLIENT_CA: required/,
    );
    expect(() => load({ PII_GATEWAY_VAULT_API_TLS_CLIENT_AUTH: 'maybe' })).toThrow(/one of auto, none, optional, required/);
    expect(() => load({ PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS: 'cn:dispatcher' })).toThrow(/needs client certificates/);
  });
  it('parses vault API allowlists', () => {
    const c = load({
      PII_GATEWAY_VAULT_API_TLS_CERT: 'c',
      PII_GATEWAY_VAULT_API_TLS_KEY: 'k',
      PII_GATEWAY_VAULT_API_TLS_CLIENT_CA: 'ca',
      PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS: 'cn:dispatcher, san:spiffe://acme.test/worker',
    });
    expect(c.tls.vaultApiClients.tokenize).toBeNull();
    expect(c.tls.vaultApiClients.detokenize).toEqual([
      { kind: 'cn', value: 'dispatcher' },
      { kind: 'san', value: 'spiffe://acme.test/worker' },
    ]);
    expect(Object.isFrozen(c.tls.vaultApiClients.detokenize)).toBe(true);
  });
});
