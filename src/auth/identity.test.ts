import { describe, expect, it } from 'vitest';
import { compileMatcher, matchesAny, normalizeFingerprint, parseMatcherList, parseSubjectAltName, type ClientIdentity } from './identity.js';

const FP = `sha256:${'AB:'.repeat(31)}CD`;
const id: ClientIdentity = { cn: 'dispatcher', dns: ['worker.internal'], uris: ['spiffe://acme.test/dispatcher'], fingerprint: FP };

describe('parseSubjectAltName', () => {
  it('splits typed entries', () => {
    expect(parseSubjectAltName('DNS:localhost, IP Address:127.0.0.1, URI:spiffe://x/y')).toEqual([
      { type: 'DNS', value: 'localhost' },
      { type: 'IP Address', value: '127.0.0.1' },
      { type: 'URI', value: 'spiffe://x/y' },
    ]);
  });
  it('reads JSON-quoted values as one entry (no injected DNS entry)', () => {
    expect(parseSubjectAltName('URI:"spiffe://x/a, DNS:evil.example", DNS:ok.example')).toEqual([
      { type: 'URI', value: 'spiffe://x/a, DNS:evil.example' },
      { type: 'DNS', value: 'ok.example' },
    ]);
  });
  it('is empty for an empty string', () => expect(parseSubjectAltName('')).toEqual([]));
});

describe('matchers', () => {
  it('normalizes fingerprints with or without colons, any case', () => {
    expect(normalizeFingerprint(`sha256:${'ab'.repeat(31)}cd`)).toBe(FP);
    expect(normalizeFingerprint(FP.toLowerCase())).toBe(FP);
    expect(normalizeFingerprint('sha1:AB')).toBeUndefined();
    expect(normalizeFingerprint(`sha256:${'AB:'.repeat(30)}CD`)).toBeUndefined();
  });
  it('matches cn exactly, san as URI or DNS, fingerprint', () => {
    const m = (input: object) => {
      const c = compileMatcher(input);
      if ('error' in c) throw new Error(c.error);
      return matchesAny(id, [c]);
    };
    expect(m({ cn: 'dispatcher' })).toBe(true);
    expect(m({ cn: 'Dispatcher' })).toBe(false);
    expect(m({ san: 'spiffe://acme.test/dispatcher' })).toBe(true);
    expect(m({ san: 'spiffe://acme.test/dispatcher/x' })).toBe(false);
    expect(m({ san: 'Worker.Internal' })).toBe(true);
    expect(m({ san: 'dispatcher' })).toBe(false); // a CN is not a DNS SAN
    expect(m({ fingerprint: `sha256:${'ab'.repeat(31)}cd` })).toBe(true);
    expect(m({ fingerprint: `sha256:${'ab'.repeat(32)}` })).toBe(false);
  });
  it('a null identity matches nothing; an identity without a CN matches no cn', () => {
    expect(matchesAny(null, [{ kind: 'cn', value: 'dispatcher' }])).toBe(false);
    expect(matchesAny({ ...id, cn: undefined }, [{ kind: 'cn', value: 'dispatcher' }])).toBe(false);
  });
  it('refuses matchers with none or several keys', () => {
    expect(compileMatcher({})).toHaveProperty('error');
    expect(compileMatcher({ cn: 'a', san: 'b' })).toHaveProperty('error');
  });
  it('parses a setting list and names the bad entry by position only', () => {
    expect(parseMatcherList(`cn:dispatcher, san:spiffe://a/b ,fingerprint:${FP}`)).toEqual([
      { kind: 'cn', value: 'dispatcher' },
      { kind: 'san', value: 'spiffe://a/b' },
      { kind: 'fingerprint', value: FP },
    ]);
    expect(() => parseMatcherList('cn:a, secret-value')).toThrow(/^entry 2: expected/);
    expect(() => parseMatcherList('cn:a, secret-value')).not.toThrow(/secret-value/);
  });
});
