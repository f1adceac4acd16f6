import { describe, expect, it } from 'vitest';
import { parsePlaceholder, parseTestFile, type RuleTest } from './format.js';

const files: Record<string, string> = { '/rules/fixtures/a.json': '{"d":[{"Email":"{{token email a@b.co}}"}]}', '/rules/bad.json': '{' };
const options = {
  file: 'demo.test.yaml',
  baseDir: '/rules',
  readFile: (p: string): string => {
    const text = files[p];
    if (text === undefined) throw Object.assign(new Error('nope'), { code: 'ENOENT' });
    return text;
  },
};

function parseOne(yaml: string): RuleTest {
  const { file, issues } = parseTestFile(yaml, options);
  expect(issues).toEqual([]);
  return file.tests[0]!;
}

function problems(yaml: string): string[] {
  return parseTestFile(yaml, options).issues.map((i) => `${i.line}:${i.column} ${i.message}`);
}

describe('parsePlaceholder', () => {
  it('reads type, value (spaces allowed) and an optional ns=', () => {
    expect(parsePlaceholder('phone +14155551234')).toEqual({ type: 'phone', value: '+14155551234', namespace: undefined });
    expect(parsePlaceholder('opaque Jack Montana ns=crm')).toEqual({ type: 'opaque', value: 'Jack Montana', namespace: 'crm' });
    expect(parsePlaceholder('fone 1')).toMatch(/unknown token type 'fone'/);
    expect(parsePlaceholder('email')).toMatch(/needs a value/);
  });

  it('reads known=no last (a token the vault does not hold)', () => {
    expect(parsePlaceholder('opaque Nobody Here known=no')).toEqual({ type: 'opaque', value: 'Nobody Here', namespace: undefined, unknown: true });
    expect(parsePlaceholder('phone +919999999999 ns=crm form=digits known=no')).toMatchObject({ namespace: 'crm', digits: true, unknown: true });
  });

  it('reads form=digits on phone tokens only (the token written without +)', () => {
    expect(parsePlaceholder('phone +919999999999 form=digits')).toEqual({ type: 'phone', value: '+919999999999', namespace: undefined, digits: true });
    expect(parsePlaceholder('phone +919999999999 ns=crm form=digits')).toMatchObject({ namespace: 'crm', digits: true });
    expect(parsePlaceholder('email a@b.co form=digits')).toMatch(/only phone tokens have a digits form/);
  });
});

describe('parseTestFile', () => {
  it('fills defaults: json content-type, stand-in answer, unchanged with json', () => {
    const t = parseOne(`tests:
  - name: t
    request: { method: post, path: /1/upload, json: { a: 1 } }
    upstream:
      json: { $.a: 1 }
    response: { status: 200 }
`);
    expect(t.request).toEqual({ method: 'POST', path: '/1/upload', headers: { 'content-type': 'application/json' }, body: { kind: 'json', value: { a: 1 } } });
    expect(t.respond).toBeUndefined();
    expect(t.upstream?.unchanged).toBe(true);
    expect(t.upstream?.json[0]).toMatchObject({ selector: { source: '$.a' }, matcher: { kind: 'equals', value: 1 }, origin: 'demo.test.yaml:5:15' });
    expect(t.response?.unchanged).toBe(false);
  });

  it('reads every matcher form', () => {
    const t = parseOne(`tests:
  - name: t
    request: { method: GET, path: /x }
    response:
      headers: { X-A: { absent: true }, x-b: "1", x-c: 2 }
      json:
        $.a: { token: phone, of: "+14155551234", namespace: crm }
        $.b: { absent: true }
        $.c: { present: true }
        $.d: { masked: true }
        $.e: { hashed: true }
        $.f: { hashed: true, prefix: "sha_" }
        $.g: { equals: { x: 1 } }
        $.h: [1, 2]
        $.i: null
      unchanged: false
`);
    expect(t.response?.headers).toEqual([
      { name: 'x-a', matcher: { kind: 'absent' } },
      { name: 'x-b', matcher: { kind: 'equals', value: '1' } },
      { name: 'x-c', matcher: { kind: 'equals', value: '2' } },
    ]);
    expect(t.response?.json.map((f) => f.matcher)).toEqual([
      { kind: 'token', type: 'phone', of: '+14155551234', namespace: 'crm' },
      { kind: 'absent' },
      { kind: 'present' },
      { kind: 'masked' },
      { kind: 'hashed', prefix: 'h_' },
      { kind: 'hashed', prefix: 'sha_' },
      { kind: 'equals', value: { x: 1 } },
      { kind: 'equals', value: [1, 2] },
      { kind: 'equals', value: null },
    ]);
  });

  it('loads jsonFile relative to the test file, with placeholders checked', () => {
    const t = parseOne(`tests:
  - name: t
    request: { method: POST, path: /x, jsonFile: fixtures/a.json }
    respond: { status: 201, body: "ok" }
`);
    expect(t.request.body).toEqual({ kind: 'json', value: { d: [{ Email: '{{token email a@b.co}}' }] } });
    expect(t.respond).toEqual({ status: 201, headers: {}, body: { kind: 'raw', text: 'ok' } });
  });

  it('names file positions for every problem', () => {
    const found = problems(`tests:
  - name: t
    request: { method: FETCH, path: x, json: {}, body: "" }
    upstream: { json: { "$.a[": 1, $.b: { token: phone, prefix: x }, $.c: { absent: false } } }
    respond: { status: 700, jsonFile: bad.json }
    error: { code: NOPE }
  - name: t
    request: { method: GET, path: "/{{token phone}}" }
    unknown: 1
  - name: u
    request: { method: GET, path: /x }
    upstream: {}
    error: { code: INVALID_VALUE }
`);
    expect(found).toEqual([
      "3:24 test 't': request: method: expected one of GET, POST, PUT, PATCH, DELETE, HEAD, OPTIONS",
      "3:37 test 't': request: path: expected a path starting with '/' (e.g. /1/upload)",
      "3:50 test 't': request: give one of json, jsonFile or body, not json and body",
      `4:25 test 't': upstream: json: invalid selector "$.a[": expected a quoted key ('...' or "..."), * or an index after '[' at column 5 (see docs/selectors.md)`,
      "4:57 test 't': upstream: json: $.b: 'prefix' goes with hashed, not token",
      "4:85 test 't': upstream: json: $.c: absent: only 'true' is meaningful here",
      "5:24 test 't': respond: status: expected an HTTP status code (100-599)",
      expect.stringMatching(/^5:39 test 't': respond: jsonFile: bad\.json is not valid JSON \(/),
      "6:20 test 't': error: code: unknown error code 'NOPE' (see src/errors.ts, e.g. FIELD_NOT_STRING, INVALID_VALUE)",
      "7:5 duplicate test name 't' (names must be unique in a file)",
      "8:35 test 't': request: path: {{token phone ...}} needs a value after the type",
      "9:5 test: unknown key 'unknown' (expected one of: name, route, request, respond, upstream, response, error)",
      "12:5 test 'u': with 'error' the upstream must not be called; add 'respond' if the error comes from the response side",
    ]);
  });

  it('asks for quotes when YAML reads a value as a number', () => {
    expect(
      problems(`tests:
  - name: t
    request: { method: GET, path: /x }
    upstream: { json: { $.a: { token: phone, of: +14155551234 } } }
`),
    ).toEqual(["4:50 test 't': upstream: json: $.a: of: expected text; put the value in quotes (\"...\") so YAML does not read it as a number"]);
  });

  it('refuses an empty or missing test list', () => {
    expect(problems('tests: []\n')).toEqual(['1:8 tests: expected a list of tests (- name: ...)']);
    expect(problems('- a\n')).toEqual(['1:1 the test file: expected a mapping (key: value)']);
    expect(problems('tests:\n  - name: a\n    name: b\n')[0]).toMatch(/^3:5 /);
  });
});
