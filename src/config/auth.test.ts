import { describe, expect, it } from 'vitest';
import { loadConfig } from './index.js';

const base = { PII_GATEWAY_JWT_ISSUER: 'https://sso.test/realms/a', PII_GATEWAY_JWT_AUDIENCE: 'gw', PII_GATEWAY_JWT_JWKS_URL: 'https://sso.test/realms/a/protocol/openid-connect/certs' };

describe('auth settings', () => {
  it('are off by default', () => {
    expect(loadConfig({}, '/tmp').auth).toEqual({ jwt: null, apiKeysFile: undefined, vaultApi: 'auto', detokenizePolicyFile: undefined });
  });

  it('read a Keycloak setup with safe defaults', () => {
    const jwt = loadConfig(base, '/tmp').auth.jwt!;
    expect(jwt).toMatchObject({ issuer: base.PII_GATEWAY_JWT_ISSUER, audience: ['gw'], algorithms: ['RS256'], clockSkewSeconds: 30, requireNbf: false, jwksCooldownMs: 30_000 });
    expect(jwt.permissionClaims).toEqual(['scope', 'realm_access.roles']);
    expect(jwt.tokenTypes).toEqual(['at+jwt', 'keycloak']);
  });

  it('read PII_GATEWAY_JWT_TOKEN_TYPES normalized, and refuse anything but access token types', () => {
    const types = (v: string) => loadConfig({ ...base, PII_GATEWAY_JWT_TOKEN_TYPES: v }, '/tmp').auth.jwt!.tokenTypes;
    expect(types('at+jwt')).toEqual(['at+jwt']);
    expect(types(' application/AT+JWT , JWT, absent,jwt, Keycloak')).toEqual(['at+jwt', 'jwt', 'absent', 'keycloak']);
    expect(() => types(' , ')).toThrow('PII_GATEWAY_JWT_TOKEN_TYPES: expected at least one');
    expect(() => types('at+jwt,id_token+jwt')).toThrow("'id_token+jwt' is not accepted");
    expect(() => types('none')).toThrow('PII_GATEWAY_JWT_TOKEN_TYPES');
  });

  it('the issuer alone asks for OIDC discovery (https, or http to loopback); an explicit JWKS URL or keys file wins', () => {
    const alone = (issuer: string) => loadConfig({ PII_GATEWAY_JWT_ISSUER: issuer, PII_GATEWAY_JWT_AUDIENCE: 'gw' }, '/tmp').auth.jwt!;
    expect(alone('https://sso.test/realms/a')).toMatchObject({ jwksUrl: undefined, keysFile: undefined });
    expect(alone('https://sso.test/realms/a').discoveryUrl?.href).toBe('https://sso.test/realms/a/.well-known/openid-configuration');
    expect(alone('https://op.test/').discoveryUrl?.href).toBe('https://op.test/.well-known/openid-configuration');
    expect(alone('http://127.0.0.1:8080').discoveryUrl?.href).toBe('http://127.0.0.1:8080/.well-known/openid-configuration');
    expect(() => alone('http://sso.test/realms/a')).toThrow('PII_GATEWAY_JWT_ISSUER: without PII_GATEWAY_JWT_JWKS_URL or PII_GATEWAY_JWT_KEYS_FILE the issuer must be an https URL');
    expect(() => alone('acme-realm')).toThrow('PII_GATEWAY_JWT_ISSUER');
    expect(() => alone('https://sso.test/?tenant=a')).toThrow('no query or fragment');
    expect(loadConfig(base, '/tmp').auth.jwt!.discoveryUrl).toBeUndefined();
    // a non-URL issuer is still fine with explicit keys (the issuer is only compared then)
    expect(loadConfig({ ...base, PII_GATEWAY_JWT_ISSUER: 'acme-realm' }, '/tmp').auth.jwt!.discoveryUrl).toBeUndefined();
  });

  it("refuse 'none', HS*, plain-http JWKS beyond loopback, a missing audience, unbounded skew", () => {
    const cfg = (extra: Record<string, string>) => () => loadConfig({ ...base, ...extra }, '/tmp');
    expect(cfg({ PII_GATEWAY_JWT_ALGORITHMS: 'RS256,none' })).toThrow('unsigned and HMAC tokens are never accepted');
    expect(cfg({ PII_GATEWAY_JWT_ALGORITHMS: 'HS256' })).toThrow('unsigned and HMAC tokens are never accepted');
    expect(cfg({ PII_GATEWAY_JWT_JWKS_URL: 'http://sso.test/certs' })).toThrow('plain http only to loopback');
    expect(cfg({ PII_GATEWAY_JWT_JWKS_URL: 'http://127.0.0.1:8080/certs' })).not.toThrow();
    expect(cfg({ PII_GATEWAY_JWT_AUDIENCE: '' })).toThrow('PII_GATEWAY_JWT_AUDIENCE');
    expect(cfg({ PII_GATEWAY_JWT_CLOCK_SKEW: '1h' })).toThrow('duration');
    expect(cfg({ PII_GATEWAY_JWT_CLOCK_SKEW: '10m' })).toThrow('at most 300s');
    expect(cfg({ PII_GATEWAY_JWT_KEYS_FILE: 'k.pem' })).toThrow('at most one of');
    expect(() => loadConfig({ PII_GATEWAY_JWT_AUDIENCE: 'gw' }, '/tmp')).toThrow('set PII_GATEWAY_JWT_ISSUER as well');
    expect(() => loadConfig({ PII_GATEWAY_VAULT_API_AUTH: 'required' }, '/tmp')).toThrow('neither PII_GATEWAY_JWT_ISSUER nor PII_GATEWAY_API_KEYS_FILE');
  });
});
