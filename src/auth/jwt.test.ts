import { describe, expect, it } from 'vitest';
import { claimValues, parseClaimPath } from './jwt.js';

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
