import { beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { compileRuleFile, RulesError } from './load.js';

let keyring: Keyring;
beforeAll(() => {
  keyring = ephemeralKeyring();
});

const SENDGRID_KEY = 'MFkwEwYHKoZIzj0CAQYIKoZIzj0DAQcDQgAEEDr2LjtURuePQzplybdC+u4CwrqDqBaWjcMMsTbhdbcwHBcepxo7yAQGhHPTnlvFYPAZFceEu/1FwCM/QmGUhA==';
const ENV = {
  TWILIO_AUTH_TOKEN: 'provider-token',
  PLATFORM_TWILIO_TOKEN: 'platform-token',
  PLATFORM_STATUS_URL: 'https://platform.example/twilio/status',
  VOUCH_SECRET: 'v'.repeat(32),
  META_APP_SECRET: 'app-secret',
  SG_KEY: SENDGRID_KEY,
};

/** One route with `extra` lines (indented 4) under it. */
function file(extra: string, path = '/hooks/twilio/status'): string {
  return `version: 1
upstreams:
  platform: { url: "https://platform.example" }
routes:
  - id: hook
    match: { method: POST, path: "${path}" }
    upstream: platform
${extra
  .split('\n')
  .map((l) => `    ${l}`)
  .join('\n')}
`;
}

function compile(text: string, env: Record<string, string> = ENV) {
  return compileRuleFile('rules/demo.yaml', text, { keyring, env });
}

function problems(text: string, env: Record<string, string> = ENV): string[] {
  try {
    compile(text, env);
  } catch (err) {
    if (err instanceof RulesError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected a RulesError');
}

describe('verify: / resign: compile', () => {
  it('twilio verify + twilio resign', () => {
    const set = compile(
      file(`verify: { scheme: twilio, secret: "\${TWILIO_AUTH_TOKEN}", url: "https://gateway.example.com/hooks/twilio/status" }
resign: { scheme: twilio, secret: "\${PLATFORM_TWILIO_TOKEN}", url: "\${PLATFORM_STATUS_URL}" }`),
    );
    const route = set.routes[0]!;
    expect(route.verify).toMatchObject({ scheme: 'twilio', url: 'https://gateway.example.com/hooks/twilio/status' });
    expect(route.resign).toMatchObject({ scheme: 'twilio', url: 'https://platform.example/twilio/status' });
    // The secret is a KeyObject: it does not serialize.
    expect(JSON.stringify(route.verify)).not.toContain('provider-token');
    expect(JSON.stringify(route.resign)).not.toContain('platform-token');
  });

  it('sendgrid (literal public key or ${VAR}), meta, hmac with defaults', () => {
    const sg = compile(file(`verify: { scheme: sendgrid, publicKey: "${SENDGRID_KEY}", toleranceSeconds: 120 }\nresign: { scheme: gateway-hmac, secret: "\${VOUCH_SECRET}" }`));
    expect(sg.routes[0]!.verify).toMatchObject({ scheme: 'sendgrid', toleranceSeconds: 120 });
    expect(sg.routes[0]!.resign).toMatchObject({ scheme: 'gateway-hmac' });
    expect(compile(file('verify: { scheme: sendgrid, publicKey: "${SG_KEY}" }')).routes[0]!.verify).toMatchObject({ toleranceSeconds: 300 });
    expect(compile(file('verify: { scheme: meta, secret: "${META_APP_SECRET}" }\nresign: { scheme: meta, secret: "${META_APP_SECRET}" }')).routes[0]!.resign).toMatchObject({
      scheme: 'meta',
    });
    const hmac = compile(file('verify: { scheme: hmac, secret: "${META_APP_SECRET}", header: X-Signature, timestampHeader: X-Timestamp }'));
    expect(hmac.routes[0]!.verify).toMatchObject({
      scheme: 'hmac',
      header: 'x-signature',
      timestampHeader: 'x-timestamp',
      algorithm: 'sha256',
      encoding: 'hex',
      prefix: '',
      toleranceSeconds: 300,
      payload: ['timestamp', Buffer.from('.'), 'body'],
    });
  });

  it('a literal secret, or a ${VAR:-default}, is an error', () => {
    expect(problems(file('verify: { scheme: meta, secret: hunter2 }'))).toEqual([
      expect.stringMatching(/^rules\/demo\.yaml:8:\d+: route 'hook': invalid secret \(value not shown\) \(expected a \$\{VAR\} reference/),
    ]);
    expect(problems(file('verify: { scheme: meta, secret: hunter2 }')).join('\n')).not.toContain('hunter2');
    expect(problems(file('verify: { scheme: meta, secret: "${X:-hunter2}" }'))[0]).toMatch(/expected a \$\{VAR\} reference/);
  });

  it('an unset variable is named (never a value)', () => {
    const lines = problems(file('verify: { scheme: twilio, secret: "${NOPE}", url: "https://gw.example/hooks/twilio/status" }'));
    expect(lines).toEqual([expect.stringContaining("environment variable 'NOPE' is not set")]);
  });

  it('resign needs verify; twilio resign needs twilio verify; gateway secret length', () => {
    expect(problems(file('resign: { scheme: gateway-hmac, secret: "${VOUCH_SECRET}" }'))[0]).toContain('resign needs verify');
    expect(problems(file('verify: { scheme: meta, secret: "${META_APP_SECRET}" }\nresign: { scheme: twilio, secret: "${PLATFORM_TWILIO_TOKEN}", url: "${PLATFORM_STATUS_URL}" }'))[0]).toContain(
      'needs verify scheme twilio',
    );
    const short = problems(file('verify: { scheme: meta, secret: "${META_APP_SECRET}" }\nresign: { scheme: gateway-hmac, secret: "${META_APP_SECRET}" }'));
    expect(short[0]).toContain('shorter than 32 characters');
    expect(short[0]).not.toContain('app-secret');
  });

  it('checks urls, keys, templates and fields per scheme', () => {
    const twilio = (url: string) => file(`verify: { scheme: twilio, secret: "\${TWILIO_AUTH_TOKEN}", url: "${url}" }`);
    expect(problems(twilio('https://gw.example/hooks?x=1'))[0]).toContain('must not contain a query');
    expect(problems(twilio('ftp://gw.example/hooks'))[0]).toContain("scheme 'ftp' is not allowed");
    expect(problems(twilio('/hooks'))[0]).toContain('not an absolute URL');
    expect(problems(file('verify: { scheme: twilio, secret: "${TWILIO_AUTH_TOKEN}", url: "https://gw.example/h" }', '/hooks/:tenant'))[0]).toContain('path has parameters');
    expect(problems(file('verify: { scheme: twilio, secret: "${TWILIO_AUTH_TOKEN}" }'))[0]).toMatch(/url/);
    expect(problems(file('verify: { scheme: sendgrid, publicKey: "AAAA" }'))[0]).toContain('sendgrid publicKey: expected the base64 DER');
    expect(problems(file('verify: { scheme: hmac, secret: "${META_APP_SECRET}", header: X-Sig, payload: "{timestamp}.{body}" }'))[0]).toContain('set timestampHeader');
    expect(problems(file('verify: { scheme: hmac, secret: "${META_APP_SECRET}", header: X-Sig, timestampHeader: X-T, payload: "{body}" }'))[0]).toContain(
      'must contain {timestamp}',
    );
    expect(problems(file('verify: { scheme: hmac, secret: "${META_APP_SECRET}", header: X-Sig, payload: "x" }'))[0]).toContain('{body} exactly once');
    expect(problems(file('verify: { scheme: meta, secret: "${META_APP_SECRET}", url: "https://x" }'))[0]).toContain("'url'");
    expect(problems(file('verify: { scheme: github, secret: "${META_APP_SECRET}" }'))[0]).toMatch(/scheme/);
  });
});
