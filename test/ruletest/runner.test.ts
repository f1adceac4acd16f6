/**
 * The rule-test runner end to end: a small rule file and test file in a temporary directory, run through the
 * real pipeline (loader, proxy app on a socket, memory vault, stand-in upstream), and the CLI around it.
 */
import { mkdtempSync, rmSync, writeFileSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest';
import { rulesTestCommand } from '../../src/cli/rules-test.js';
import { runRuleTests, type RuleTestReport } from '../../src/ruletest/runner.js';

const RULES = `version: 1
namespace: demo
upstreams: { up: { url: "http://127.0.0.1:9/base" } }
routes:
  - id: upload
    match: { method: POST, path: /1/upload }
    upstream: up
    request:
      codec: json
      fields:
        - { select: "$.d[*].profileData.Email", action: tokenize, type: email, missing: skip }
        - { select: "$.d[*].profileData.Phone", action: tokenize, type: phone, missing: skip }
        - { select: "$.d[*].ip", action: redact, missing: skip }
        - { select: "$.d[*].profileData.Name", action: mask, missing: skip }
        - { select: "$.d[*].profileData.City", action: hash, missing: skip }
  - id: send
    match: { method: POST, path: /send }
    upstream: up
    auth: none
    request:
      fields:
        - { select: "$.to", action: detokenize, type: phone }
    response:
      fields:
        - { select: "$.to", action: tokenize, type: phone, missing: skip }
`;

const PASSING = `tests:
  - name: profile PII is tokenized, everything else untouched
    route: upload
    request:
      method: POST
      path: /1/upload?batch=1
      headers: { x-custom: abc }
      jsonFile: fixtures/upload.json
    upstream:
      method: POST
      path: /base/1/upload?batch=1
      headers: { x-custom: abc, content-type: application/json }
      json:
        $.d[0].profileData.Email: { token: email, of: jack@gmail.com }
        $.d[0].profileData.Phone: { token: phone, of: "+14155551234" }
        $.d[0].profileData.Name: { masked: true }
        $.d[0].profileData.City: { hashed: true }
        $.d[0].profileData.Gender: M
        $.d[0].ip: { absent: true }

  - name: dispatch resolves the token, and the answer is tokenized
    route: demo/send
    request:
      method: POST
      path: /send
      json: { "to": "{{token phone +14155551234}}", "body": "your code is 1234" }
    upstream:
      json:
        $.to: "+14155551234"
    respond:
      status: 201
      headers: { x-upstream: yes }
      json: { "to": "+15558675310", "sid": "SM1" }
    response:
      status: 201
      headers: { x-upstream: "yes" }
      json:
        $.to: { token: phone, of: "+15558675310" }

  - name: an Email that is a number is refused
    request:
      method: POST
      path: /1/upload
      json: { "d": [ { "profileData": { "Email": 42 } } ] }
    error: { status: 400, code: FIELD_NOT_STRING, field: "$.d[0].profileData.Email" }

  # No '+': never a phone token whatever the keys (the runner's keys are fresh each run, and a real +number
  # passes a fresh key set's 2 check digits 1 time in 100, which then is UNKNOWN_TOKEN instead).
  - name: an unknown token is refused
    request:
      method: POST
      path: /send
      json: { "to": "14155551234" }
    error: { code: NOT_A_TOKEN, field: $.to, message: expected a token }
`;

const FIXTURE = JSON.stringify({
  d: [{ type: 'profile', ip: '10.0.0.1', profileData: { Email: 'jack@gmail.com', Phone: '+14155551234', Name: 'Jack Montana', City: 'Oslo', Gender: 'M' } }],
});

const FAILING = `tests:
  - name: wrong expectations
    route: send
    request:
      method: POST
      path: /1/upload
      json: { "d": [ { "profileData": { "Email": "jack@gmail.com", "Phone": "+14155551234" } } ] }
    upstream:
      json:
        $.d[0].profileData.Email: jack@gmail.com
  - name: expects an error that does not happen
    request:
      method: POST
      path: /1/upload
      json: { "d": [ { "profileData": { "Email": "jack@gmail.com" } } ] }
    error: { code: INVALID_VALUE }
`;

let dir: string;

beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'ruletest-'));
  writeFileSync(path.join(dir, 'demo.yaml'), RULES);
  mkdirSync(path.join(dir, 'fixtures'));
  writeFileSync(path.join(dir, 'fixtures', 'upload.json'), FIXTURE);
});

afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
  vi.restoreAllMocks();
});

function byName(report: RuleTestReport, name: string) {
  const r = report.results.find((t) => t.name === name);
  if (!r) throw new Error(`no result named ${name}`);
  return r;
}

describe('runRuleTests', () => {
  it('passes tests whose expectations hold against the real pipeline', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), PASSING);
    const report = await runRuleTests(dir);
    expect(report.results.map((r) => [r.name, r.failures])).toEqual([
      ['profile PII is tokenized, everything else untouched', []],
      ['dispatch resolves the token, and the answer is tokenized', []],
      ['an Email that is a number is refused', []],
      ['an unknown token is refused', []],
    ]);
    expect(report).toMatchObject({ passed: 4, failed: 0 });
    expect(report.results[0]!.file).toBe('demo.test.yaml');
  });

  it('fails a wrong expectation with messages naming the path, what was expected and what came', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), FAILING);
    const report = await runRuleTests(dir);
    expect(report).toMatchObject({ passed: 0, failed: 2 });
    const wrong = byName(report, 'wrong expectations');
    expect(wrong.passed).toBe(false);
    expect(wrong.failures[0]).toMatch(/^upstream: \$\.d\[0\]\.profileData\.Email: expected "jack@gmail\.com", got "[a-z0-9]+@[a-z0-9]+\.tok\.invalid"$/);
    // Phone changed but the test did not list it: unchanged (the default with json:) catches it.
    expect(wrong.failures[1]).toMatch(/^upstream: \$\.d\[0\]\.profileData\.Phone: changed from "\+14155551234" to "\+1\d{10}" — not listed/);
    expect(wrong.failures[2]).toBe('expected route demo/send, got demo/upload');
    expect(wrong.failures).toHaveLength(3);

    const noError = byName(report, 'expects an error that does not happen');
    expect(noError.failures).toEqual([
      'the upstream was called, but the gateway should have refused the request before forwarding it',
      expect.stringMatching(/^expected the gateway to refuse with INVALID_VALUE, but it answered 200 /),
    ]);
  });

  it('reports an error expectation that names the wrong code or field', async () => {
    writeFileSync(
      path.join(dir, 'demo.test.yaml'),
      `tests:
  - name: wrong code
    request: { method: POST, path: /1/upload, json: { "d": [ { "profileData": { "Phone": true } } ] } }
    error: { code: INVALID_VALUE, field: "$.d[0].profileData.Email" }
`,
    );
    const report = await runRuleTests(dir);
    expect(report.results[0]!.failures).toEqual([
      'expected error code INVALID_VALUE, got FIELD_NOT_STRING (FIELD_NOT_STRING at $.d[0].profileData.Phone: $.d[0].profileData.Phone: expected a string, found boolean)',
      'expected error field $.d[0].profileData.Email, got $.d[0].profileData.Phone',
    ]);
  });

  it('runs only the tests the filter names', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), PASSING);
    const report = await runRuleTests(dir, { filter: 'REFUSED' });
    expect(report.results.map((r) => r.name)).toEqual(['an Email that is a number is refused', 'an unknown token is refused']);
  });

  it('refuses a test file with an unknown key, naming file, line and column', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), `tests:\n  - name: typo\n    request: { method: GET, path: /x }\n    upstrem: {}\n`);
    await expect(runRuleTests(dir)).rejects.toMatchObject({
      code: 'RULES_INVALID',
      errors: [expect.objectContaining({ line: 4, column: 5, message: expect.stringContaining("unknown key 'upstrem'") })],
    });
  });
});

describe('rulesTestCommand', () => {
  it('prints one line per test, failures indented, the summary, and returns 1 on failure', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), PASSING);
    writeFileSync(path.join(dir, 'other.test.yaml'), FAILING.replace('route: send', 'route: demo/send'));
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
    const code = await rulesTestCommand([dir]);
    expect(code).toBe(1);
    expect(lines[0]).toBe('✓ demo.test.yaml › profile PII is tokenized, everything else untouched');
    expect(lines).toContain('✗ other.test.yaml › wrong expectations');
    const i = lines.indexOf('✗ other.test.yaml › wrong expectations');
    expect(lines[i + 1]).toMatch(/^ {4}upstream: \$\.d\[0\]\.profileData\.Email: expected/);
    expect(lines[lines.length - 1]).toBe('4 passed, 2 failed');
  });

  it('returns 0 when every test passes', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), PASSING);
    const lines: string[] = [];
    vi.spyOn(console, 'log').mockImplementation((s: unknown) => void lines.push(String(s)));
    expect(await rulesTestCommand([dir, '--filter', 'dispatch'])).toBe(0);
    expect(lines).toEqual(['✓ demo.test.yaml › dispatch resolves the token, and the answer is tokenized', '1 passed, 0 failed']);
  });

  it('returns 2 on a bad test file or an unknown option', async () => {
    writeFileSync(path.join(dir, 'demo.test.yaml'), 'tests: []\n');
    const errors: string[] = [];
    vi.spyOn(console, 'error').mockImplementation((s: unknown) => void errors.push(String(s)));
    expect(await rulesTestCommand([dir])).toBe(2);
    expect(errors.join('\n')).toMatch(/demo\.test\.yaml:1:8: tests: expected a list of tests/);
    expect(await rulesTestCommand([dir, '--nope'])).toBe(2);
  });
});
