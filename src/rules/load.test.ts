import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { isGatewayError } from '../errors.js';
import { compileRuleFile, isRulesError, loadRuleSet, type RuleIssue, RulesError } from './load.js';

let keyring: Keyring;
beforeAll(() => {
  keyring = ephemeralKeyring();
});

const tmpDirs: string[] = [];
afterEach(() => {
  for (const d of tmpDirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

/** A rules dir holding `files`. */
function rulesDir(files: Record<string, string>): string {
  const dir = mkdtempSync(path.join(tmpdir(), 'pii-rules-'));
  tmpDirs.push(dir);
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(dir, name), text);
  return dir;
}

/** `line:column` (1-based) of the `nth` occurrence of `needle` in `text`: where an issue should point. */
function at(text: string, needle: string, nth = 0): string {
  let i = -1;
  for (let k = 0; k <= nth; k++) {
    i = text.indexOf(needle, i + 1);
    if (i === -1) throw new Error(`needle ${needle} not found`);
  }
  const before = text.slice(0, i).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

function issuesOf(fn: () => unknown): RuleIssue[] {
  try {
    fn();
  } catch (err) {
    if (isRulesError(err)) return [...err.errors];
    throw err;
  }
  throw new Error('expected a RulesError');
}

/** Formatted issue lines for one file compiled from text. */
function problems(text: string, env: NodeJS.ProcessEnv = {}, file = 'rules/demo.yaml'): string[] {
  try {
    compileRuleFile(file, text, { keyring, env });
  } catch (err) {
    if (err instanceof RulesError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected a RulesError');
}

const head = `version: 1
upstreams:
  demo:
    url: https://api.example.com
routes:
`;

/** A file whose single route has these request fields (each a YAML flow mapping or block). */
function withFields(...fields: string[]): string {
  return `${head}  - id: upload
    match: { method: POST, path: /1/upload }
    upstream: demo
    request:
      fields:
${fields.map((f) => `        - ${f}`).join('\n')}
`;
}

const VALID = `# yaml-language-server: $schema=../schema/rules.schema.json
version: 1
namespace: clevertap
upstreams:
  clevertap:
    url: \${CT_URL:-https://api.clevertap.com/base/}
    timeouts: { connectMs: 1000 }
defaults: { notString: skip }
routes:
  - id: upload
    match: { method: POST, path: /1/upload, host: API.Example.com }
    upstream: clevertap
    auth: none
    policy: { missing: skip }
    request:
      codec: json
      fields:
        - select: $.d[*].identity
          action: tokenize
          type: [email, phone]
          otherwise: keep
        - select: $.d[*].profileData.Email
          action: tokenize
          type: email
          emailDomain: preserve
          missing: refuse
        - { select: $.id, action: tokenize, type: email, otherwise: opaque, prefix: cus_, namespace: crm }
        - { select: $..ip, action: redact }
        - { select: $.x, action: mask }
        - { select: $.y, action: hash }
    response:
      fields:
        - { select: $.to, action: detokenize, type: phone, unknownToken: skip }
        - { select: $.any, action: detokenize, namespace: other }
  - id: plain
    match: { method: GET, path: /1/profile/:id }
    upstream: clevertap
`;

describe('compileRuleFile: a valid file', () => {
  const compile = () => compileRuleFile('rules/clevertap.yaml', VALID, { keyring, env: {} });

  it('compiles routes, upstreams and directions', () => {
    const set = compile();
    expect(set.files).toEqual(['rules/clevertap.yaml']);
    expect(set.routes.map((r) => [r.id, r.method, r.path, r.host])).toEqual([
      ['clevertap/upload', 'POST', '/1/upload', 'api.example.com'],
      ['clevertap/plain', 'GET', '/1/profile/:id', undefined],
    ]);
    const upstream = set.upstreams.get('clevertap/clevertap')!;
    expect(upstream.url.href).toBe('https://api.clevertap.com/base');
    expect([upstream.connectTimeoutMs, upstream.headersTimeoutMs, upstream.bodyTimeoutMs]).toEqual([1000, 30000, 30000]);
    const [upload, plain] = set.routes;
    expect(upload!.upstream).toBe(upstream);
    expect(upload!.origin).toBe(`rules/clevertap.yaml:${at(VALID, 'id: upload')}`);
    expect(plain!.request).toBeNull();
    expect(plain!.response).toBeNull();
    const req = upload!.request!;
    expect(req.codec).toBe('json');
    expect(req.contentTypes).toEqual(['application/json', '+json']);
    expect(req.selectors.map((s) => s.source)).toEqual(['$.d[*].identity', '$.d[*].profileData.Email', '$.id', '$..ip', '$.x', '$.y']);
    expect(req.selectors).toEqual(req.fields.map((f) => f.selector));
    expect(req.fields[0]!.origin).toBe(`rules/clevertap.yaml:${at(VALID, 'select: $.d[*].identity')}`);
  });

  it('compiles actions with their defaults and token specs', () => {
    const [upload] = compile().routes;
    const actions = upload!.request!.fields.map((f) => f.action);
    const tok0 = actions[0] as Extract<(typeof actions)[0], { kind: 'tokenize' }>;
    expect(tok0.specs.map((s) => [s.type, s.namespace, s.random])).toEqual([
      ['email', 'clevertap', false],
      ['phone', 'clevertap', false],
    ]);
    expect(tok0.otherwise).toBe('keep');
    const tok1 = actions[1] as typeof tok0;
    expect(tok1.specs).toHaveLength(1);
    expect(tok1.specs[0]!.variant).not.toBe(tok0.specs[0]!.variant); // domain preserved vs tokenized
    expect(tok1.otherwise).toBe('refuse');
    const tok2 = actions[2] as typeof tok0;
    expect(tok2.specs[0]!.namespace).toBe('crm');
    expect(typeof tok2.otherwise === 'object' && [tok2.otherwise.type, tok2.otherwise.namespace]).toEqual(['opaque', 'crm']);
    expect(typeof tok2.otherwise === 'object' && tok2.otherwise.format.derive('x', 'crm', 0)).toMatch(/^cus_/);
    expect(actions.slice(3)).toEqual([{ kind: 'redact' }, { kind: 'mask', style: 'generic' }, { kind: 'hash', encoding: 'hex', prefix: 'h_' }]);
    expect(upload!.response!.fields.map((f) => f.action)).toEqual([
      { kind: 'detokenize', namespace: 'clevertap', types: ['phone'] },
      { kind: 'detokenize', namespace: 'other', types: ['email', 'phone', 'opaque', 'digits'] },
    ]);
  });

  it('merges policies field > route > file > refuse, keeping tokenize `otherwise` and `invalid` in step', () => {
    const [upload] = compile().routes;
    const policies = upload!.request!.fields.map((f) => f.policy);
    expect(policies[0]).toEqual({ missing: 'skip', notString: 'skip', invalid: 'skip', unknownToken: 'refuse' });
    expect(policies[1]).toEqual({ missing: 'refuse', notString: 'skip', invalid: 'refuse', unknownToken: 'refuse' });
    expect(upload!.response!.fields[0]!.policy).toEqual({ missing: 'skip', notString: 'skip', invalid: 'refuse', unknownToken: 'skip' });
  });

  it("derives a tokenize field's `otherwise` from an inherited `invalid: skip`", () => {
    const text = withFields('{ select: $.a, action: tokenize, type: email }').replace('    upstream: demo\n', '    upstream: demo\n    policy: { invalid: skip }\n');
    const field = compileRuleFile('rules/demo.yaml', text, { keyring, env: {} }).routes[0]!.request!.fields[0]!;
    expect(field.action).toMatchObject({ kind: 'tokenize', otherwise: 'keep' });
    expect(field.policy.invalid).toBe('skip');
  });

  it('is frozen', () => {
    const set = compile();
    const route = set.routes[0]!;
    expect(Object.isFrozen(set)).toBe(true);
    expect(Object.isFrozen(set.routes)).toBe(true);
    expect(Object.isFrozen(route)).toBe(true);
    expect(Object.isFrozen(route.request!.fields[0]!.policy)).toBe(true);
    expect(Object.isFrozen(route.request!.fields[0]!.selector.segments)).toBe(true);
    expect(Object.isFrozen(route.upstream)).toBe(true);
    expect(() => (set.upstreams as Map<string, unknown>).set('x', {})).toThrow(TypeError);
    expect(() => (set.upstreams as Map<string, unknown>).delete('clevertap/clevertap')).toThrow(TypeError);
    expect(set.upstreams.size).toBe(1);
  });

  it('substitutes the environment in upstream URLs', () => {
    const set = compileRuleFile('rules/clevertap.yaml', VALID, { keyring, env: { CT_URL: 'http://127.0.0.1:9999' } });
    expect(set.upstreams.get('clevertap/clevertap')!.url.href).toBe('http://127.0.0.1:9999/');
  });
});

describe('compileRuleFile: errors', () => {
  it('throws one RulesError with code RULES_INVALID', () => {
    let caught: unknown;
    try {
      compileRuleFile('rules/demo.yaml', 'version: 2\n', { keyring, env: {} });
    } catch (err) {
      caught = err;
    }
    expect(isGatewayError(caught)).toBe(true);
    expect(caught).toMatchObject({ code: 'RULES_INVALID', status: 500 });
    expect((caught as RulesError).errors).toEqual([
      { file: 'rules/demo.yaml', line: 1, column: 1, message: "missing required key 'upstreams'" },
      { file: 'rules/demo.yaml', line: 1, column: 1, message: "missing required key 'routes'" },
      { file: 'rules/demo.yaml', line: 1, column: 10, message: 'unsupported version 2 (expected 1)' },
    ]);
  });

  it('unknown action: names file:line:column, route, field and the expected values', () => {
    const text = withFields('select: $.d[*].Email\n          action: tokenise\n          type: email');
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'tokenise')}: route 'upload' field '$.d[*].Email': unknown action 'tokenise' (expected one of tokenize, detokenize, detokenize-text, redact, mask, hash, scan)`,
    ]);
  });

  it('misspelt keys: did you mean', () => {
    const text = withFields('{ select: $.a, acton: redact }', '{ select: $.b, action: mask, styel: email }').replace('upstream: demo', 'upsteam: demo');
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'upsteam')}: route 'upload': unknown key 'upsteam' (did you mean 'upstream'?)`,
      `rules/demo.yaml:${at(text, 'acton')}: route 'upload' field '$.a': unknown key 'acton' (did you mean 'action'?)`,
      `rules/demo.yaml:${at(text, 'styel')}: route 'upload' field '$.b': unknown key 'styel' (did you mean 'style'?)`,
    ]);
  });

  it('missing required keys and wrong types', () => {
    const text = `${head}  - id: upload\n    match: { path: /x }\n    upstream: demo\n    request: { fields: [ { select: $.a, action: tokenize } ] }\n  - id: two\n    match: { method: GET, path: /y }\n    upstream: [demo]\n`;
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, '{ path')}: route 'upload': missing required key 'method' in 'match' (one of GET, POST, PUT, PATCH, DELETE)`,
      `rules/demo.yaml:${at(text, '{ select')}: route 'upload' field '$.a': missing required key 'type' in 'fields[0]'`,
      `rules/demo.yaml:${at(text, '[demo]')}: route 'two': 'upstream' must be a string (got a list)`,
    ]);
  });

  it('unknown token type, in a single value and in a list', () => {
    const text = withFields('{ select: $.a, action: tokenize, type: emial }', '{ select: $.b, action: tokenize, type: [email, phnoe] }');
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'emial')}: route 'upload' field '$.a': unknown type 'emial' (expected one of email, phone, opaque, digits)`,
      `rules/demo.yaml:${at(text, 'phnoe')}: route 'upload' field '$.b': unknown type 'phnoe' (expected one of email, phone, opaque, digits)`,
    ]);
  });

  it('selector syntax: column is the node column plus the offset in the selector', () => {
    const text = withFields('{ select: "$.d[*].a b", action: redact }', '{ select: "$.x[?(@.a)]", action: redact }');
    const lines = problems(text);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^rules/demo.yaml:${at(text, ' b"')}: route 'upload' field '\\$\\.d\\[\\*\\]\\.a b': invalid selector: `));
    expect(lines[1]).toMatch(new RegExp(`^rules/demo.yaml:${at(text, '?(@')}: route 'upload' field .*: invalid selector: `));
  });

  it('unknown upstream and duplicate route id', () => {
    const text = `${head}  - id: a\n    match: { method: GET, path: /a }\n    upstream: dmeo\n  - id: a\n    match: { method: GET, path: /b }\n    upstream: nothing-like-it\n`;
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'dmeo')}: route 'a': unknown upstream 'dmeo' (did you mean 'demo'?)`,
      `rules/demo.yaml:${posAfter(text, '- id: a', 1, 6)}: route 'a': duplicate route id 'a' (first declared at line 6)`,
      `rules/demo.yaml:${at(text, 'nothing-like-it')}: route 'a': unknown upstream 'nothing-like-it' (declared in this file: demo)`,
    ]);
  });

  it('token options that do not apply to the type', () => {
    const text = withFields(
      '{ select: $.a, action: tokenize, type: phone, emailDomain: preserve }',
      '{ select: $.b, action: tokenize, type: email, prefix: cus_ }',
      '{ select: $.c, action: tokenize, type: [email, phone], emailDomain: preserve, otherwise: opaque, prefix: p_ }',
    );
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'emailDomain')}: route 'upload' field '$.a': 'emailDomain' applies to email tokens only, and this field tokenizes as phone`,
      `rules/demo.yaml:${at(text, 'prefix')}: route 'upload' field '$.b': 'prefix' applies to opaque tokens only, and this field tokenizes as email`,
    ]);
  });

  it('option values refused by createTokenSpec point at the option', () => {
    const text = withFields('{ select: $.a, action: tokenize, type: email, emailDomain: { sink: "not a domain" } }', '{ select: $.b, action: tokenize, type: opaque, prefix: "c us" }');
    const lines = problems(text);
    expect(lines).toHaveLength(2);
    expect(lines[0]).toMatch(new RegExp(`^rules/demo.yaml:${at(text, '"not a domain"')}: route 'upload' field '\\$\\.a': invalid email token options: emailDomain.sink must be a domain name`));
    expect(lines[1]).toMatch(new RegExp(`^rules/demo.yaml:${at(text, '"c us"')}: route 'upload' field '\\$\\.b': invalid opaque token options: prefix must be`));
  });

  it('detokenize with tokenize-only options, and options of other actions', () => {
    const text = withFields('{ select: $.a, action: detokenize, emailDomain: preserve, random: true }', '{ select: $.b, action: redact, style: email }');
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'emailDomain')}: route 'upload' field '$.a': 'emailDomain' is not an option of action 'detokenize' (it belongs to tokenize)`,
      `rules/demo.yaml:${at(text, 'random')}: route 'upload' field '$.a': 'random' is not an option of action 'detokenize' (it belongs to tokenize)`,
      `rules/demo.yaml:${at(text, 'style')}: route 'upload' field '$.b': 'style' is not an option of action 'redact' (it belongs to mask)`,
    ]);
  });

  it('otherwise and invalid together on a tokenize field; the same selector twice', () => {
    const text = withFields('{ select: $.a, action: tokenize, type: email, otherwise: keep, invalid: refuse }', '{ select: $.a, action: redact }');
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'invalid')}: route 'upload' field '$.a': set either 'otherwise' or 'invalid' on a tokenize field, not both ('otherwise: keep' is 'invalid: skip')`,
      `rules/demo.yaml:${at(text, '$.a', 1)}: route 'upload' field '$.a': selector already used by the field at line ${at(text, '$.a').split(':')[0]} of this request (one rule per field)`,
    ]);
  });

  it('enum values, patterns and numbers say what is expected', () => {
    const text = `version: 1\nnamespace: Tenant A\nupstreams:\n  Demo_1:\n    url: https://a.example\n    timeouts: { connectMs: 0 }\nroutes:\n  - id: Upload\n    match: { method: post, path: /a/, host: "a b" }\n    upstream: demo\n`;
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'Tenant A')}: invalid namespace 'Tenant A' (expected lower-case letters, digits, ., - and _ (at most 64), starting with a letter or digit)`,
      `rules/demo.yaml:${at(text, 'Demo_1')}: invalid upstream name 'Demo_1' (expected lower-case letters, digits, - and _, starting with a letter or digit)`,
      `rules/demo.yaml:${at(text, '0 }')}: upstream 'Demo_1': 'connectMs' must be from 1 to 600000 (got 0)`,
      `rules/demo.yaml:${at(text, 'Upload')}: route 'Upload': invalid route id 'Upload' (expected lower-case letters, digits, - and _, starting with a letter or digit)`,
      `rules/demo.yaml:${at(text, 'post')}: route 'Upload': unknown method 'post' (expected one of GET, POST, PUT, PATCH, DELETE)`,
      `rules/demo.yaml:${at(text, '/a/')}: route 'Upload': invalid path '/a/' (expected a path starting with /, segments of URL characters or :name parameters, optionally ending in /* (no trailing /))`,
      `rules/demo.yaml:${at(text, '"a b"')}: route 'Upload': invalid host 'a b' (expected a host name without port, e.g. api.example.com)`,
      `rules/demo.yaml:${at(text, 'demo\n')}: route 'Upload': unknown upstream 'demo' (declared in this file: Demo_1)`,
    ]);
  });

  it('YAML syntax errors and duplicate keys keep their line and column', () => {
    const dup = `${head}  - id: a\n    match: { method: GET, path: /a }\n    upstream: demo\n    upstream: demo\n`;
    expect(problems(dup)).toEqual([`rules/demo.yaml:${at(dup, 'upstream: demo', 1)}: duplicate key 'upstream' (keys must be unique)`]);
    const broken = `version: 1\nroutes: [\n  { id: a\n`;
    const lines = problems(broken);
    expect(lines.length).toBeGreaterThan(0);
    for (const l of lines) expect(l).toMatch(/^rules\/demo\.yaml:\d+:\d+: YAML: /);
    const flow = withFields('{ select: $.d[*].Email, action: redact }');
    const flowLines = problems(flow);
    expect(flowLines).toHaveLength(1);
    expect(flowLines[0]).toContain(`rules/demo.yaml:${at(flow, '[*]')}: YAML: `);
    expect(flowLines[0]).toMatch(/\(inside \{ \.\.\. \} quote selectors that contain \[ or \*: select: "\$\.d\[\*\]\.x"\) \(\d+ more YAML error\(s\) after it not shown\)$/);
    expect(problems('')).toEqual(['rules/demo.yaml:1:1: empty rule file (expected version, upstreams and routes)']);
    expect(problems('version: 1\n---\nversion: 1\n')).toEqual([
      "rules/demo.yaml:2:1: a rule file holds one YAML document (found a second one after '---')",
    ]);
  });

  it('upstream URLs: missing variable, bad scheme, credentials', () => {
    const text = `version: 1\nupstreams:\n  a:\n    url: https://\${CT_HOST}/v1\n  b:\n    url: ftp://files.example\n  c:\n    url: "https://user:pw@api.example"\nroutes:\n  - { id: r, match: { method: GET, path: /r }, upstream: a }\n`;
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, '${CT_HOST}')}: upstream 'a': url: environment variable 'CT_HOST' is not set (or empty) and has no default (write \${CT_HOST:-<default>} to give one)`,
      `rules/demo.yaml:${at(text, 'ftp://')}: upstream 'b': url scheme 'ftp' is not allowed (expected http or https)`,
      `rules/demo.yaml:${at(text, '"https://user')}: upstream 'c': url must not contain credentials (user:password@)`,
    ]);
    expect(() => compileRuleFile('rules/demo.yaml', text.replace(/\n {2}b:[\s\S]*?(?=routes:)/, '\n'), { keyring, env: { CT_HOST: 'h.example' } })).not.toThrow();
  });

  it('file names that cannot prefix route ids', () => {
    expect(problems(withFields('{ select: $.a, action: redact }'), {}, 'rules/Click Send.yaml')).toEqual([
      "rules/Click Send.yaml: file name 'Click Send' cannot name routes (expected lower-case letters, digits, - and _, starting with a letter or digit)",
    ]);
  });
});

describe('loadRuleSet', () => {
  const fileA = `${head}  - id: upload\n    match: { method: POST, path: /1/:kind }\n    upstream: demo\n`;

  it('loads every *.yaml file, skips *.test.yaml rule tests, prefixes ids with the file name', () => {
    const dir = rulesDir({
      'b.yaml': fileA.replace('/1/:kind', '/2/x'),
      'a.yaml': fileA,
      'a.test.yaml': 'this: is [not a rule file',
      'notes.txt': 'ignored',
    });
    const set = loadRuleSet(dir, { keyring, env: {} });
    expect(set.routes.map((r) => r.id)).toEqual(['a/upload', 'b/upload']);
    expect(set.files.map((f) => path.basename(f))).toEqual(['a.yaml', 'b.yaml']);
    expect([...set.upstreams.keys()]).toEqual(['a/demo', 'b/demo']);
  });

  it('reports the errors of all files, in file order', () => {
    const bad1 = withFields('{ select: $.a, action: tokenise }');
    const bad2 = `${head}  - id: x\n    match: { method: GET, path: /x }\n    upstream: nope\n`;
    const dir = rulesDir({ 'one.yaml': bad1, 'two.yaml': bad2 });
    const issues = issuesOf(() => loadRuleSet(dir, { keyring, env: {} }));
    expect(issues.map((i) => [path.basename(i.file), `${i.line}:${i.column}`, i.route, i.field])).toEqual([
      ['one.yaml', at(bad1, 'tokenise'), 'upload', '$.a'],
      ['two.yaml', at(bad2, 'nope'), 'x', undefined],
    ]);
  });

  it('refuses the same method+path+host in two files, naming both places', () => {
    const dir = rulesDir({ 'a.yaml': fileA, 'b.yaml': fileA.replace('/1/:kind', '/1/:type').replace('id: upload', 'id: other') });
    const issues = issuesOf(() => loadRuleSet(dir, { keyring, env: {} }));
    expect(issues).toHaveLength(1);
    expect(path.basename(issues[0]!.file)).toBe('b.yaml');
    expect(`${issues[0]!.line}:${issues[0]!.column}`).toBe(at(fileA, '{ method'));
    expect(issues[0]!.route).toBe('other');
    expect(issues[0]!.message).toBe(
      `POST /1/:type (any host) is already declared by route 'a/upload' at ${path.join(dir, 'a.yaml')}:${at(fileA, '{ method')}`,
    );
    // A host makes it a different route.
    const withHost = fileA.replace('/1/:kind }', '/1/:kind, host: a.example }').replace('id: upload', 'id: other');
    expect(() => loadRuleSet(rulesDir({ 'a.yaml': fileA, 'b.yaml': withHost }), { keyring, env: {} })).not.toThrow();
  });

  it('refuses an empty or missing rules directory', () => {
    const empty = rulesDir({ 'only.test.yaml': 'version: 1\n' });
    expect(issuesOf(() => loadRuleSet(empty, { keyring }))).toEqual([
      { file: empty, line: 0, column: 0, message: `no rule files found in ${empty} (expected *.yaml files)` },
    ]);
    const missing = path.join(empty, 'nope');
    expect(() => loadRuleSet(missing, { keyring })).toThrow(`${missing}: cannot read the rules directory ${missing} (ENOENT)`);
  });

  it('uses process.env when no env is given', () => {
    const dir = rulesDir({ 'a.yaml': fileA.replace('https://api.example.com', '${PII_RULES_TEST_URL}') });
    process.env.PII_RULES_TEST_URL = 'http://from-process.example';
    try {
      expect(loadRuleSet(dir, { keyring }).upstreams.get('a/demo')!.url.host).toBe('from-process.example');
    } finally {
      delete process.env.PII_RULES_TEST_URL;
    }
  });

  it('loads the shipped rule pack', () => {
    const shipped = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'rules');
    const set = loadRuleSet(shipped, { keyring, env: {} });
    expect(set.routes.length).toBeGreaterThan(0);
  });
});

/** `line:column` of `needle`'s `nth` occurrence, shifted `shift` characters right. */
function posAfter(text: string, needle: string, nth: number, shift: number): string {
  const [line, col] = at(text, needle, nth).split(':').map(Number);
  return `${line}:${col! + shift}`;
}

/** `line:column` moved `by` columns to the right. */
function shift(position: string, by: number): string {
  const [line, column] = position.split(':').map(Number);
  return `${line}:${column! + by}`;
}

/** A file whose single route has this request direction (YAML block under `request:`). */
function withRequest(direction: string, response = ''): string {
  return `${head}  - id: send
    match: { method: POST, path: /send }
    upstream: demo
    auth: none
    request:
${direction}
${response}`;
}

describe('compileRuleFile: locations, codecs, nested documents, scan', () => {
  const FORM = withRequest(`      codec: form
      fields:
        - { select: To, action: detokenize, type: phone }
        - select: ContentVariables
          codec: json
          fields:
            - { select: "$.1", action: detokenize, type: email }
            - select: $.raw
              codec: form
              fields: [{ select: Email, action: mask, style: email }]
        - { select: Body, action: scan }
        - { select: "query:Callback", action: hash }
        - { select: "header:X-User-Email", action: tokenize, type: email }`, `    response:
      fields:
        - { select: "$.reason", action: scan, find: [email], then: redact }
        - { select: "header:Location", action: redact, missing: skip }`);

  it('splits fields by location, compiles name selectors, nested documents and scan defaults', () => {
    const route = compileRuleFile('rules/twilio.yaml', FORM, { keyring, env: {} }).routes[0]!;
    const req = route.request!;
    expect(req.codec).toBe('form');
    expect(req.contentTypes).toEqual(['application/x-www-form-urlencoded']);
    expect(req.fields.map((f) => f.selector)).toEqual([
      { source: 'To', segments: [{ kind: 'key', key: 'To' }] },
      { source: 'ContentVariables', segments: [{ kind: 'key', key: 'ContentVariables' }] },
      { source: 'Body', segments: [{ kind: 'key', key: 'Body' }] },
    ]);
    expect(req.selectors).toEqual(req.fields.map((f) => f.selector));
    expect(req.query.fields.map((f) => [f.location, f.selector.source, f.selector.segments])).toEqual([
      ['query', 'query:Callback', [{ kind: 'key', key: 'Callback' }]],
    ]);
    expect(req.headers.fields.map((f) => [f.location, f.selector.source, f.selector.segments])).toEqual([
      ['header', 'header:X-User-Email', [{ kind: 'key', key: 'x-user-email' }]],
    ]);
    const nested = req.fields[1]!.action;
    expect(nested.kind).toBe('document');
    if (nested.kind !== 'document') return;
    expect(nested.document.codec).toBe('json');
    expect(nested.document.selectors.map((s) => s.source)).toEqual(['$.1', '$.raw']);
    const inner = nested.document.fields[1]!.action;
    expect(inner.kind === 'document' && inner.document.codec).toBe('form');
    const scan = req.fields[2]!.action;
    expect(scan).toMatchObject({ kind: 'scan', find: ['email', 'phone'], then: 'tokenize' });
    expect(scan.kind === 'scan' && [scan.specs.email.type, scan.specs.email.namespace, scan.specs.phone.type]).toEqual(['email', 'default', 'phone']);
    expect(route.response!.fields[0]!.action).toMatchObject({ kind: 'scan', find: ['email'], then: 'redact' });
    expect(route.response!.headers.fields[0]!.policy.missing).toBe('skip');
    expect(Object.isFrozen(nested.document.fields)).toBe(true);
  });

  it('multipart bodies take field names too', () => {
    const text = withRequest(`      codec: multipart
      fields: [{ select: email, action: tokenize, type: email }]`);
    const req = compileRuleFile('rules/demo.yaml', text, { keyring, env: {} }).routes[0]!.request!;
    expect(req.contentTypes).toEqual(['multipart/form-data']);
    expect(req.selectors[0]!.segments).toEqual([{ kind: 'key', key: 'email' }]);
  });

  it('location selector problems point at the selector', () => {
    const text = withRequest(
      `      fields:
        - { select: "query:", action: redact }
        - { select: "header:X User", action: redact }
        - { select: "header:x-a", action: redact }
        - { select: "header:X-A", action: redact }`,
      `    response:
      fields: [{ select: "query:to", action: redact }]`,
    );
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${shift(at(text, '"query:"'), 7)}: route 'send' field 'query:': expected a parameter name after 'query:'`,
      `rules/demo.yaml:${at(text, ' User"')}: route 'send' field 'header:X User': invalid header name: expected letters, digits and !#$%&'*+-.^_\`|~ (selector column 9)`,
      `rules/demo.yaml:${at(text, '"header:X-A"')}: route 'send' field 'header:X-A': selector already used by the field at line ${at(text, '"header:x-a"').split(':')[0]} of this request (one rule per field)`,
      `rules/demo.yaml:${at(text, '"query:to"')}: route 'send' field 'query:to': a response has no query string ('query:' selectors belong in request)`,
    ]);
  });

  it('form selectors are names; location prefixes are refused inside nested documents', () => {
    const text = withRequest(`      codec: form
      fields:
        - { select: $.To, action: redact }
        - select: Vars
          codec: json
          fields:
            - { select: "header:x", action: redact }
            - { select: "$.a[", action: redact }`);
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, '$.To')}: route 'send' field '$.To': form fields are selected by name, not JSONPath (expected e.g. 'To', got '$.To')`,
      `rules/demo.yaml:${at(text, '"header:x"')}: route 'send' field 'Vars > header:x': 'header:' selectors are for the message itself, not inside a nested document (expected a json selector)`,
      `rules/demo.yaml:${shift(at(text, '"$.a['), 5)}: route 'send' field 'Vars > $.a[': invalid selector: expected a quoted key ('...' or "..."), * or an index after '[' (selector column 5)`,
    ]);
  });

  it('nested document and scan shapes: what is missing or unknown', () => {
    const text = withRequest(`      fields:
        - { select: $.a, fields: [{ select: $.b, action: redact }] }
        - { select: $.c, codec: multipart, fields: [{ select: x, action: redact }] }
        - { select: $.d }
        - { select: $.e, action: scan, find: [email, ssn], then: hash }
        - { select: $.f, codec: json, action: redact, fields: [{ select: $.g, action: redact }] }`);
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, '{ select: $.a')}: route 'send' field '$.a': missing required key 'codec' in 'fields[0]' (one of json, form)`,
      `rules/demo.yaml:${at(text, 'multipart')}: route 'send' field '$.c': unknown codec 'multipart' (expected one of json, form)`,
      `rules/demo.yaml:${at(text, '{ select: $.d')}: route 'send' field '$.d': missing required key 'action' in 'fields[2]' (one of tokenize, detokenize, detokenize-text, redact, mask, hash, scan; or 'codec' and 'fields' for a nested document)`,
      `rules/demo.yaml:${at(text, 'ssn')}: route 'send' field '$.e': unknown find 'ssn' (expected one of email, phone)`,
      `rules/demo.yaml:${at(text, 'hash }')}: route 'send' field '$.e': unknown then 'hash' (expected one of tokenize, mask, redact)`,
      `rules/demo.yaml:${at(text, 'action: redact, fields')}: route 'send' field '$.f': 'action' does not apply to a nested document field (codec + fields); its fields say what happens inside`,
    ]);
  });
});
