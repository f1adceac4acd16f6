import { describe, expect, it } from 'vitest';
import { claimValues, notAnAccessToken, parseClaimPath, tokenIdentity } from './jwt.js';

describe('permission claim paths', () => {
  it('reads dotted paths, bracketed keys with dots, scope strings and role arrays', () => {
    const payload = {
      scope: 'openid  detokenize profile',
      realm_access: { roles: ['tokenize', 7, 'offline_access'] },
      resource_access: { 'pii.gateway': { roles: ['detokenize'] } },
    };
    expect(claimValues(payload, parseClaimPath('scope'))).toEqual(['openid', 'detokenize', 'profile']);
    expect(claimValues(payload, parseClaimPath('realm_access.roles'))).toEqual(['tokenize', 'offline_access']);
    expect(claimValues(payload, parseClaimPath('resource_access["pii.gateway"].roles'))).toEqual(['detokenize']);
    expect(claimValues(payload, parseClaimPath('resource_access.missing.roles'))).toEqual([]);
    expect(claimValues(payload, parseClaimPath('realm_access.constructor'))).toEqual([]);
  });

  it('refuses paths it cannot read', () => {
    expect(() => parseClaimPath('a..b')).toThrow('PII_GATEWAY_JWT_PERMISSION_CLAIMS');
    expect(() => parseClaimPath('a.')).toThrow("ends with '.'");
    expect(() => parseClaimPath('a[0]')).toThrow('PII_GATEWAY_JWT_PERMISSION_CLAIMS');
  });
});

describe('access tokens only', () => {
  const both = ['at+jwt', 'jwt'];
  it('accepts the configured typ headers (case-insensitive, application/ prefix) and Keycloak Bearer tokens', () => {
    expect(notAnAccessToken('at+jwt', { client_id: 'c' }, both)).toBeUndefined();
    expect(notAnAccessToken('application/at+JWT', { client_id: 'c' }, both)).toBeUndefined();
    expect(notAnAccessToken('JWT', { typ: 'Bearer', azp: 'c' }, both)).toBeUndefined();
    expect(notAnAccessToken(undefined, {}, ['absent'])).toBeUndefined();
    // the default: a JWT-typed token counts only with Keycloak's typ: Bearer claim
    const byDefault = ['at+jwt', 'keycloak'];
    expect(notAnAccessToken('JWT', { typ: 'Bearer', azp: 'c' }, byDefault)).toBeUndefined();
    expect(notAnAccessToken('at+jwt', { client_id: 'c' }, byDefault)).toBeUndefined();
    expect(notAnAccessToken('JWT', { azp: 'c', sub: 'alice' }, byDefault)).toContain('PII_GATEWAY_JWT_TOKEN_TYPES');
    expect(notAnAccessToken(undefined, { typ: 'Bearer' }, byDefault)).toContain('no typ header');
  });

  it('refuses ID tokens by their claims whatever the header says, and other typ headers', () => {
    for (const claims of [{ nonce: 'n' }, { at_hash: 'x' }, { c_hash: 'x' }, { s_hash: 'x' }, { typ: 'ID' }]) {
      expect(notAnAccessToken('at+jwt', claims, both)).toMatch(/^an ID token is not an access token/);
      expect(notAnAccessToken('JWT', claims, both)).toMatch(/^an ID token is not an access token/);
    }
    expect(notAnAccessToken('JWT', { typ: 'Refresh' }, both)).toContain('typ claim');
    expect(notAnAccessToken('JWT', { typ: 7 }, both)).toContain('typ claim');
    expect(notAnAccessToken('JWT', {}, ['at+jwt'])).toContain('PII_GATEWAY_JWT_TOKEN_TYPES');
    expect(notAnAccessToken(undefined, {}, both)).toContain('no typ header');
    expect(notAnAccessToken(42, {}, both)).toContain('typ header');
    expect(notAnAccessToken('JWT', { nonce: 'secret-nonce' }, both)).not.toContain('secret-nonce');
  });
});

describe('the caller is the client', () => {
  it('names client-credentials tokens by their client, with no user', () => {
    expect(tokenIdentity({ client_id: 'disp', sub: 'disp' })).toEqual({ client: 'disp', user: undefined });
    expect(tokenIdentity({ azp: 'disp', client_id: 'other', sub: 'disp' })).toEqual({ client: 'disp', user: undefined });
    expect(tokenIdentity({ azp: 'disp' })).toEqual({ client: 'disp', user: undefined });
    // Keycloak service account (22+: client_id; older: clientId), Auth0 client credentials
    expect(tokenIdentity({ azp: 'disp', sub: 'uuid-1', preferred_username: 'service-account-disp', client_id: 'disp' })).toEqual({ client: 'disp', user: undefined });
    expect(tokenIdentity({ azp: 'disp', sub: 'uuid-1', preferred_username: 'service-account-disp', clientId: 'disp' })).toEqual({ client: 'disp', user: undefined });
    expect(tokenIdentity({ azp: 'disp', sub: 'disp@clients', gty: 'client-credentials' })).toEqual({ client: 'disp', user: undefined });
  });

  it("names a user's token after its client and keeps the user apart", () => {
    expect(tokenIdentity({ client_id: 'web', sub: 'clevertap-dispatcher' })).toEqual({ client: 'web', user: 'clevertap-dispatcher' });
    expect(tokenIdentity({ azp: 'web', sub: 'uuid-2', preferred_username: 'alice' })).toEqual({ client: 'web', user: 'uuid-2' });
    // no claim names a client: named by sub, but nothing proves it is not a user's token (fail closed)
    expect(tokenIdentity({ sub: 'clevertap-dispatcher' })).toEqual({ client: 'clevertap-dispatcher', user: 'clevertap-dispatcher' });
    expect(tokenIdentity({})).toEqual({ client: 'unknown', user: 'unknown' });
    // half a service-account shape is a user's token
    expect(tokenIdentity({ azp: 'disp', sub: 'uuid-2', preferred_username: 'service-account-disp' })).toEqual({ client: 'disp', user: 'uuid-2' });
    expect(tokenIdentity({ azp: 'disp', sub: 'uuid-2', client_id: 'disp' })).toEqual({ client: 'disp', user: 'uuid-2' });
    expect(tokenIdentity({ azp: 'disp', sub: 'disp@clients' })).toEqual({ client: 'disp', user: 'disp@clients' });
    expect(tokenIdentity({ azp: '', client_id: 'web', sub: 'alice' })).toEqual({ client: 'web', user: 'alice' });
    // Okta (cid), Entra ID v1 (appid): the client, not the user
    expect(tokenIdentity({ cid: 'web', sub: 'alice@example.com' })).toEqual({ client: 'web', user: 'alice@example.com' });
    expect(tokenIdentity({ cid: 'disp', sub: 'disp' })).toEqual({ client: 'disp', user: undefined });
    expect(tokenIdentity({ appid: 'app-1', sub: 'user-oid' })).toEqual({ client: 'app-1', user: 'user-oid' });
  });
});
