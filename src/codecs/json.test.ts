import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors.js';
import { jsonCodec, type JsonMatch } from './json.js';
import { compileSelector } from './selector.js';
import type { Edit } from './types.js';

const OPTS = { maxDepth: 64 };

function scan(body: string | Buffer, ...selectors: string[]): JsonMatch[] {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  return [...jsonCodec.scan(buf, selectors.map(compileSelector), OPTS).matches];
}

function found(body: string, ...selectors: string[]): [number, string][] {
  return scan(body, ...selectors).map((m) => [m.selector, m.path]);
}

/** Scans `body` with `selectors` and applies `edit` to every match. */
function edit(body: string, selectors: string[], e: Edit | ((m: JsonMatch) => Edit | undefined)): string {
  const buf = Buffer.from(body);
  const result = jsonCodec.scan(buf, selectors.map(compileSelector), OPTS);
  const edits = result.matches.map((m) => (typeof e === 'function' ? e(m) : e));
  return jsonCodec.apply(buf, result, edits).toString('utf8');
}

function refusal(body: string | Buffer, maxDepth = 64, ...selectors: string[]): GatewayError {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  try {
    jsonCodec.scan(buf, selectors.map(compileSelector), { maxDepth });
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected the body to be refused');
}

describe('matching', () => {
  const doc = JSON.stringify({
    d: [
      { type: 'profile', profileData: { Email: 'a@x.io', 'Customer Type': 'gold', 'MSG-sms': true } },
      { type: 'event', evtData: { email: 'b@x.io', nested: { email: 'c@x.io' } } },
    ],
    email: 'top@x.io',
  });

  it('child keys, indexes and wildcards give concrete paths in document order', () => {
    expect(found(doc, '$.d[*].profileData.Email')).toEqual([[0, '$.d[0].profileData.Email']]);
    expect(found(doc, "$.d[0].profileData['Customer Type']")).toEqual([[0, "$.d[0].profileData['Customer Type']"]]);
    expect(found(doc, '$.d[*].profileData.MSG-sms')).toEqual([[0, '$.d[0].profileData.MSG-sms']]);
    expect(found(doc, '$.d[1].type', '$.d[0].type')).toEqual([
      [1, '$.d[0].type'],
      [0, '$.d[1].type'],
    ]);
    expect(found(doc, '$.d[*].type')).toEqual([
      [0, '$.d[0].type'],
      [0, '$.d[1].type'],
    ]);
    expect(found(doc, '$.d[0].profileData[*]').map((f) => f[1])).toEqual([
      '$.d[0].profileData.Email',
      "$.d[0].profileData['Customer Type']",
      '$.d[0].profileData.MSG-sms',
    ]);
    expect(found(doc, '$.d[2]', '$.d.type', '$.d[0][0]', '$.email.x')).toEqual([]);
  });

  it('recursive descent finds members at any depth, not array elements or the root', () => {
    expect(found(doc, '$..email')).toEqual([
      [0, '$.d[1].evtData.email'],
      [0, '$.d[1].evtData.nested.email'],
      [0, '$.email'],
    ]);
    expect(found(doc, '$.d..email').map((f) => f[1])).toEqual(['$.d[1].evtData.email', '$.d[1].evtData.nested.email']);
    expect(found(doc, "$..['Customer Type']").map((f) => f[1])).toEqual(["$.d[0].profileData['Customer Type']"]);
    expect(found('{"a":{"a":{"a":1}}}', '$..a').map((f) => f[1])).toEqual(['$.a', '$.a.a', '$.a.a.a']);
    expect(found('{"a":{"b":{"a":{"b":1}}}}', '$..a..b').map((f) => f[1])).toEqual([
      '$.a.b',
      '$.a.b.a.b',
    ]);
    expect(found('{"x":[{"n":[1,{"n":2}]}]}', '$..n[*]').map((f) => f[1])).toEqual([
      '$.x[0].n[0]',
      '$.x[0].n[1]',
    ]);
  });

  it('top-level arrays, scalars and nested arrays', () => {
    expect(found('[[1,2],[3,[4,5]]]', '$[1][1][0]', '$[*][0]')).toEqual([
      [1, '$[0][0]'],
      [1, '$[1][0]'],
      [0, '$[1][1][0]'],
    ]);
    expect(found('"just a string"', '$.a')).toEqual([]);
    expect(found('  42  ', '$[0]')).toEqual([]);
    expect(found('[{"e":"x"},{"e":"y"}]', '$[*].e').map((f) => f[1])).toEqual(['$[0].e', '$[1].e']);
  });

  it('reports every selector that matches one value, and one match per selector', () => {
    const ms = scan('{"a":{"email":"x@y.z"}}', '$..email', '$.a.email', '$.a[*]', '$..email');
    expect(ms.map((m) => [m.selector, m.path, m.value])).toEqual([
      [0, '$.a.email', 'x@y.z'],
      [1, '$.a.email', 'x@y.z'],
      [2, '$.a.email', 'x@y.z'],
      [3, '$.a.email', 'x@y.z'],
    ]);
    expect(scan('{"a":{"a":1}}', '$..a..a')).toHaveLength(1);
  });

  it('gives kinds, decoded string values and byte offsets', () => {
    const body = '{"s":"caf\\u00e9 \\"q\\" \\/ \\ud83d\\ude00 é","n":-1.5e3,"t":true,"f":false,"z":null,"o":{},"a":[]}';
    const ms = scan(body, '$[*]');
    expect(ms.map((m) => [m.kind, m.value])).toEqual([
      ['string', 'café "q" / 😀 é'],
      ['number', undefined],
      ['boolean', undefined],
      ['boolean', undefined],
      ['null', undefined],
      ['object', undefined],
      ['array', undefined],
    ]);
    const buf = Buffer.from(body);
    expect(ms.map((m) => buf.toString('utf8', m.valueStart, m.valueEnd)).slice(1)).toEqual([
      '-1.5e3', 'true', 'false', 'null', '{}', '[]',
    ]);
    expect(buf.toString('utf8', ms[1]!.memberStart, ms[1]!.memberEnd)).toBe('"n":-1.5e3');
  });

  it('decodes every escape in matched strings', () => {
    const body = '["\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000 \\u001F \\uFFFF \\uD834\\uDD1E"]';
    expect(scan(body, '$[0]')[0]!.value).toBe('" \\ / \b \f \n \r \t \u0000 \u001f \uffff \ud834\udd1e');
    expect(scan(body, '$[0]')[0]!.value).toBe(JSON.parse(body)[0]);
  });

  it('matches keys written with escapes by their decoded name', () => {
    expect(found('{"\\u0045mail":"x","b\\/c":1}', '$.Email', "$['b/c']")).toEqual([
      [0, '$.Email'],
      [1, "$['b/c']"],
    ]);
  });
});

describe('byte-exactness', () => {
  const body =
    '{\r\n\t"big" :9007199254740993 , "f":1.0e+2,"neg":-0,\n "u":"\\u00e9\\/\\ud83d\\ude00",' +
    '  "z":"a@x.io"  ,"k":[ 1 ,2\t]}\n';

  it('leaves the body identical when nothing is edited', () => {
    const buf = Buffer.from(body);
    const result = jsonCodec.scan(buf, [compileSelector('$.z')], OPTS);
    expect(jsonCodec.apply(buf, result, []).equals(buf)).toBe(true);
    expect(jsonCodec.apply(buf, result, [undefined]).equals(buf)).toBe(true);
  });

  it('changes only the replaced value', () => {
    const out = edit(body, ['$.z'], { op: 'replace', value: 'tok_1' });
    expect(out).toBe(body.replace('"a@x.io"', '"tok_1"'));
  });

  it('replaces non-string values with strings when asked', () => {
    expect(edit(body, ['$.big', '$.k'], { op: 'replace', value: 'h' })).toBe(
      body.replace('9007199254740993', '"h"').replace('[ 1 ,2\t]', '"h"'),
    );
  });

  it('escapes what JSON requires in replacements, and nothing else', () => {
    const value = 'q"b\\s/é😀\n\t\u0001\u001f\u2028';
    const out = edit('{"a":"x"}', ['$.a'], { op: 'replace', value });
    expect(out).toBe('{"a":"q\\"b\\\\s/é😀\\n\\t\\u0001\\u001f\u2028"}');
    expect(JSON.parse(out)).toEqual({ a: value });
  });

  it('replacing a container and a value inside it: the outer edit wins', () => {
    const out = edit('{"a":{"b":"x"},"c":1}', ['$.a.b', '$.a'], (m) => ({ op: 'replace', value: `S${m.selector}` }));
    expect(out).toBe('{"a":"S1","c":1}');
  });
});

describe('removal', () => {
  const rm = (body: string, ...selectors: string[]): string => edit(body, selectors, { op: 'remove' });

  it('first, middle, last and only members keep the object valid', () => {
    const body = '{ "a": 1, "b": 2 ,"c" : 3 }';
    expect(rm(body, '$.a')).toBe('{ "b": 2 ,"c" : 3 }');
    expect(rm(body, '$.b')).toBe('{ "a": 1, "c" : 3 }');
    expect(rm(body, '$.c')).toBe('{ "a": 1, "b": 2 }');
    expect(rm('{ "only": {"x":[1]} }', '$.only')).toBe('{  }');
  });

  it('several members of one object, including all of them', () => {
    const body = '{"a":1,"b":2,"c":3,"d":4}';
    expect(rm(body, '$.a', '$.c')).toBe('{"b":2,"d":4}');
    expect(rm(body, '$.c', '$.d')).toBe('{"a":1,"b":2}');
    expect(rm(body, '$.b', '$.d')).toBe('{"a":1,"c":3}');
    expect(rm(body, '$.a', '$.b', '$.c')).toBe('{"d":4}');
    expect(rm(body, '$.b', '$.c', '$.d')).toBe('{"a":1}');
    expect(rm(body, '$[*]')).toBe('{}');
  });

  it('array elements', () => {
    expect(rm('[1, 2, 3]', '$[0]')).toBe('[2, 3]');
    expect(rm('[1, 2, 3]', '$[1]')).toBe('[1, 3]');
    expect(rm('[1, 2, 3]', '$[2]')).toBe('[1, 2]');
    expect(rm('[1, 2, 3]', '$[0]', '$[2]')).toBe('[2]');
    expect(rm('[1, 2, 3]', '$[*]')).toBe('[]');
    expect(rm('{"d":[{"e":"x","k":1},{"e":"y"}]}', '$.d[*].e')).toBe('{"d":[{"k":1},{}]}');
  });

  it('removal wins over edits inside what it removes; edits beside it are kept', () => {
    const body = '{"a":{"email":"x"},"b":"y","c":"z"}';
    const out = edit(body, ['$..email', '$.a', '$.c', '$.b'], (m) =>
      m.selector === 1 || m.selector === 3 ? { op: 'remove' } : { op: 'replace', value: 'T' },
    );
    expect(out).toBe('{"c":"T"}');
    const out2 = edit('[1,"x",2]', ['$[1]', '$[2]'], (m) =>
      m.selector === 0 ? { op: 'replace', value: 'T' } : { op: 'remove' },
    );
    expect(out2).toBe('[1,"T"]');
  });

  it('every subset of removals gives valid JSON with exactly those members gone', () => {
    const keys = ['a', 'b', 'c', 'd', 'e'];
    const body = '{ "a" :1 ,"b":[2], "c":{"x":3},\n"d":"4" , "e":5 }';
    for (let mask = 0; mask < 32; mask++) {
      const chosen = keys.filter((_, k) => mask & (1 << k));
      const out = chosen.length === 0 ? body : rm(body, ...chosen.map((k) => `$.${k}`));
      const want = JSON.parse(body) as Record<string, unknown>;
      for (const k of chosen) delete want[k];
      expect(JSON.parse(out)).toEqual(want);
    }
  });

  it('refuses to remove the top-level value', () => {
    const buf = Buffer.from('{"a":1}');
    const result = jsonCodec.scan(buf, [{ source: '$', segments: [] }], OPTS);
    expect(result.matches.map((m) => [m.path, m.container])).toEqual([['$', 'root']]);
    expect(() => jsonCodec.apply(buf, result, [{ op: 'remove' }])).toThrow(/top-level/);
  });
});

describe('refusals', () => {
  const CANARY = 'canary-7f3e@example.com';

  it.each([
    ['', 'INVALID_JSON', '$', /expected a value at byte 0/],
    ['   ', 'INVALID_JSON', '$', /at byte 3, found end of input/],
    ['{"a":1,}', 'INVALID_JSON', '$.a', /expected '"' to start a member name at byte 7/],
    ['[1,2,]', 'INVALID_JSON', '$[2]', /expected a value at byte 5/],
    ['{"a" 1}', 'INVALID_JSON', '$.a', /expected ':'/],
    ['{"a":1 "b":2}', 'INVALID_JSON', '$.a', /expected ',' or '}' at byte 7/],
    ['[1 2]', 'INVALID_JSON', '$[0]', /expected ',' or '\]'/],
    ['{"a":[1,{"b":tru}]}', 'INVALID_JSON', '$.a[1].b', /expected 'true' at byte 16/],
    ['{"a":01}', 'INVALID_JSON', '$.a', /expected ',' or '}' at byte 6/],
    ['1.', 'INVALID_JSON', '$', /a digit after the decimal point/],
    ['-', 'INVALID_JSON', '$', /expected a digit/],
    ['1e+', 'INVALID_JSON', '$', /a digit in the exponent/],
    ['+1', 'INVALID_JSON', '$', /expected a value/],
    ['.5', 'INVALID_JSON', '$', /expected a value/],
    ['NaN', 'INVALID_JSON', '$', /expected a value/],
    ['{"a":1}{}', 'INVALID_JSON', '$', /expected end of input at byte 7/],
    ["{'a':1}", 'INVALID_JSON', '$', /member name/],
    ['"a\tb"', 'INVALID_JSON', '$', /control characters must be escaped/],
    ['"\\x"', 'INVALID_JSON', '$', /an escape character/],
    ['"\\u12G4"', 'INVALID_JSON', '$', /a hex digit at byte 5/],
    ['"abc', 'INVALID_JSON', '$', /to close the string/],
    ['[1,\f2]', 'INVALID_JSON', '$[1]', /expected a value/],
    ['\u00a0[]', 'INVALID_JSON', '$', /expected a value at byte 0/],
    ['{"a":1,"a":2}', 'DUPLICATE_KEY', '$.a', /duplicate member name/],
    ['{"x":{"a":1,"\\u0061":2}}', 'DUPLICATE_KEY', '$.x.a', /duplicate/],
    ['["\\ud800"]', 'LONE_SURROGATE', '$[0]', /without a low surrogate/],
    ['{"k":"\\ud800\\u0041"}', 'LONE_SURROGATE', '$.k', /without a low surrogate/],
    ['{"k":"\\udc00"}', 'LONE_SURROGATE', '$.k', /unpaired low surrogate/],
    ['{"\\ud83d":1}', 'LONE_SURROGATE', '$', /surrogate/],
  ])('%j -> %s at %s', (body, code, field, message) => {
    const err = refusal(body);
    expect(err.code).toBe(code);
    expect(err.status).toBe(400);
    expect(err.field).toBe(field);
    expect(err.message).toMatch(message);
  });

  it('never puts a value in the message or field', () => {
    const bodies = [
      `{"email":"${CANARY}" "x":1}`,
      `{"email":"${CANARY}","email":"${CANARY}"}`,
      `{"email":"${CANARY}\\ud800"}`,
      `{"email":"${CANARY}\t"}`,
      `{"email":"${CANARY}`,
      `{"email":${CANARY}}`,
      `{"d":[["${CANARY}"]]}`,
    ];
    for (const body of bodies) {
      const err = refusal(body, 2, '$..email');
      expect(err.message).not.toContain('canary');
      expect(err.field ?? '').not.toContain('canary');
      expect(err.field).toMatch(/^\$/);
    }
  });

  it('refuses a leading byte order mark', () => {
    const err = refusal(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), Buffer.from('{}')]));
    expect([err.code, err.field]).toEqual(['INVALID_JSON', '$']);
    expect(err.message).toMatch(/byte order mark/);
  });

  it('refuses invalid UTF-8 and says where', () => {
    const bad = (bytes: number[], prefix = '{"a":["ok","', suffix = '"]}'): GatewayError =>
      refusal(Buffer.concat([Buffer.from(prefix), Buffer.from(bytes), Buffer.from(suffix)]));
    for (const bytes of [
      [0xff],
      [0xc0, 0xaf], // overlong '/'
      [0xe0, 0x80, 0xaf], // overlong
      [0xed, 0xa0, 0x80], // encoded surrogate
      [0xf4, 0x90, 0x80, 0x80], // above U+10FFFF
      [0xe2, 0x82], // truncated
      [0x80],
    ]) {
      const err = bad(bytes);
      expect([err.code, err.field]).toEqual(['INVALID_UTF8', '$.a[1]']);
      expect(err.message).toMatch(/at byte 12/);
    }
    expect(bad([0xff], '{"a":1,"', '":2}').code).toBe('INVALID_UTF8'); // in a key
    expect(bad([0xff], '[1,', ']').code).toBe('INVALID_UTF8'); // outside strings
    // valid multi-byte text in a body that fails isUtf8 elsewhere is still accepted up to the bad byte
    const err = refusal(Buffer.concat([Buffer.from('["é😀€", "'), Buffer.from([0xfe]), Buffer.from('"]')]));
    expect([err.code, err.field]).toEqual(['INVALID_UTF8', '$[1]']);
  });

  it('refuses nesting beyond maxDepth, and accepts it up to maxDepth', () => {
    expect(scan('[[[1]]]', '$[0][0][0]')).toHaveLength(1);
    expect(() => jsonCodec.scan(Buffer.from('[[[1]]]'), [], { maxDepth: 3 })).not.toThrow();
    const err = refusal('{"a":[[1]]}', 2);
    expect([err.code, err.field]).toEqual(['TOO_DEEP', '$.a[0]']);
    expect(refusal('[]', 0).code).toBe('TOO_DEEP');
    expect(() => jsonCodec.scan(Buffer.from('"x"'), [], { maxDepth: 0 })).not.toThrow();
  });

  it('refuses 100,000 nested arrays quickly, without recursion', () => {
    const deep = Buffer.from('['.repeat(100_000) + ']'.repeat(100_000));
    const err = refusal(deep, 64);
    expect(err.code).toBe('TOO_DEEP');
    expect(err.field).toBe('$' + '[0]'.repeat(64));
    // and with a huge limit the iterative scanner accepts it (no stack overflow)
    expect(() => jsonCodec.scan(deep, [compileSelector('$..x')], { maxDepth: 1_000_000 })).not.toThrow();
  });

  it('detects duplicates in large objects too (hashed beyond 16 members)', () => {
    const members = Array.from({ length: 40 }, (_, k) => `"k${k}":${k}`);
    expect(scan(`{${members.join(',')}}`, '$.k39')).toHaveLength(1);
    const dup = refusal(`{${members.join(',')},"k\\u0037":1}`);
    expect([dup.code, dup.field]).toEqual(['DUPLICATE_KEY', '$.k7']);
    const dupLate = refusal(`{${members.join(',')},"k39":1}`);
    expect(dupLate.code).toBe('DUPLICATE_KEY');
    // same names in different (nested or sibling) objects are fine
    expect(() => scan(`{"a":{${members.join(',')}},"b":{${members.join(',')}},"k1":{"k1":1}}`)).not.toThrow();
  });
});
