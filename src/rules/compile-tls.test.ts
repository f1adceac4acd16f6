import path from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { compileRuleFile, isRulesError, type RuleIssue } from './load.js';

let keyring: Keyring;
beforeAll(() => {
  keyring = ephemeralKeyring();
});

const file = (upstream: string, route = '') => `version: 1
upstreams:
  up:
${upstream}
routes:
  - id: r
    match: { method: POST, path: /x }
    upstream: up
${route}`;

function issues(text: string, env: Record<string, string> = {}): RuleIssue[] {
  try {
    compileRuleFile('/etc/gw/rules/t.yaml', text, { keyring, env });
  } catch (err) {
    if (isRulesError(err)) return [...err.errors];
    throw err;
  }
  return [];
}

describe('upstream tls', () => {
  it('resolves paths against the rule file directory, after ${VAR} substitution', () => {
    const rules = compileRuleFile(
      '/etc/gw/rules/t.yaml',
      file('    url: https://u.example\n    tls: { cert: ../certs/c.crt, key: "${KEY:-/k/c.key}", ca: "${CA}", servername: U.Internal }'),
      { keyring, env: { CA: 'ca.pem' } },
    );
    expect(rules.upstreams.get('t/up')?.tls).toEqual({
      cert: path.resolve('/etc/gw/certs/c.crt'),
      key: '/k/c.key',
      ca: path.resolve('/etc/gw/rules/ca.pem'),
      servername: 'u.internal',
    });
  });
  it('refuses tls on an http upstream, a cert without its key, and an unset variable', () => {
    expect(issues(file('    url: http://u.example\n    tls: { ca: ca.pem }'))[0]?.message).toMatch(/tls applies to https upstreams only/);
    expect(issues(file('    url: https://u.example\n    tls: { cert: c.crt }')).length).toBeGreaterThan(0);
    expect(issues(file('    url: https://u.example\n    tls: { ca: "${NOPE}" }'))[0]?.message).toMatch(/tls\.ca: environment variable 'NOPE' is not set/);
  });
});

describe('route clients', () => {
  it('compiles matchers (fingerprints normalized)', () => {
    const fp = 'ab'.repeat(32);
    const rules = compileRuleFile(
      't.yaml',
      file('    url: https://u.example', `    clients: [ { cn: dispatcher }, { san: "spiffe://a/b" }, { fingerprint: "sha256:${fp}" } ]`),
      { keyring },
    );
    expect(rules.routes[0]?.clients).toEqual([
      { kind: 'cn', value: 'dispatcher' },
      { kind: 'san', value: 'spiffe://a/b' },
      { kind: 'fingerprint', value: `sha256:${'AB:'.repeat(31)}AB` },
    ]);
  });
  it('refuses empty lists, two keys in one entry and malformed fingerprints', () => {
    expect(issues(file('    url: https://u.example', '    clients: []')).length).toBeGreaterThan(0);
    expect(issues(file('    url: https://u.example', '    clients: [ { cn: a, san: b } ]')).length).toBeGreaterThan(0);
    const bad = issues(file('    url: https://u.example', '    clients: [ { fingerprint: "sha1:AB" } ]'));
    expect(bad[0]?.message).toMatch(/sha256/);
  });
  it('a route without clients has none', () => {
    expect(compileRuleFile('t.yaml', file('    url: https://u.example'), { keyring }).routes[0]?.clients).toBeUndefined();
  });
});
