import { describe, expect, it } from 'vitest';
import { compileSelector } from '../codecs/selector.js';
import type { FieldExpectation, Matcher } from './format.js';
import {
  checkHeaders,
  checkJson,
  checkValue,
  diffJson,
  jsonEqual,
  selectValues,
  selectorMatchesPath,
  show,
  type MatchContext,
} from './expect.js';

/** Fake keys and vault: a phone token is 'PT:' + digits, an email token 'ET:' + anything. */
const vault = new Map<string, string>([['PT:1415', '+14155551234']]);
const ctx: MatchContext = {
  isToken: (type, _ns, value) => value.startsWith(type === 'phone' ? 'PT:' : type === 'email' ? 'ET:' : 'OT:'),
  detokenize: async (_type, _ns, token) => vault.get(token),
  normalize: (type, raw) => (type === 'phone' ? raw.replace(/[\s()-]/g, '') : raw),
};
const none = { present: false, value: undefined };
const field = (select: string, matcher: Matcher): FieldExpectation => ({ selector: compileSelector(select), matcher, origin: 't:1:1' });

describe('selectValues', () => {
  const doc = { d: [{ p: { Email: 'a@b.co' } }, { p: { Email: 'c@d.co', x: { Email: 'deep' } } }], 'odd key': 1 };

  it('walks keys, indexes, wildcards and bracketed keys', () => {
    expect(selectValues(doc, compileSelector('$.d[*].p.Email'))).toEqual([
      { path: ['d', 0, 'p', 'Email'], value: 'a@b.co' },
      { path: ['d', 1, 'p', 'Email'], value: 'c@d.co' },
    ]);
    expect(selectValues(doc, compileSelector('$.d[1].p.Email')).map((f) => f.value)).toEqual(['c@d.co']);
    expect(selectValues(doc, compileSelector("$['odd key']")).map((f) => f.value)).toEqual([1]);
    expect(selectValues(doc, compileSelector('$.d[5].p'))).toEqual([]);
    expect(selectValues(doc, compileSelector('$.d.p'))).toEqual([]);
  });

  it('finds members at any depth with ..name', () => {
    expect(selectValues(doc, compileSelector('$..Email')).map((f) => f.value)).toEqual(['a@b.co', 'c@d.co', 'deep']);
  });
});

describe('selectorMatchesPath', () => {
  it('matches concrete paths exactly', () => {
    expect(selectorMatchesPath(compileSelector('$.d[*].Email'), ['d', 3, 'Email'])).toBe(true);
    expect(selectorMatchesPath(compileSelector('$.d[*].Email'), ['d', 3])).toBe(false);
    expect(selectorMatchesPath(compileSelector('$.d[0].Email'), ['d', 1, 'Email'])).toBe(false);
    expect(selectorMatchesPath(compileSelector('$..Email'), ['a', 0, 'b', 'Email'])).toBe(true);
    expect(selectorMatchesPath(compileSelector('$..Email'), ['Email'])).toBe(true);
    expect(selectorMatchesPath(compileSelector('$..Email'), ['Email', 'x'])).toBe(false);
    expect(selectorMatchesPath(compileSelector('$.d[0]'), ['d', '0'])).toBe(false);
  });
});

describe('checkValue', () => {
  it('equals compares JSON deeply', async () => {
    expect(await checkValue({ kind: 'equals', value: 'M' }, 'M', none, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'equals', value: { a: [1] } }, { a: [1] }, none, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'equals', value: 'M' }, 'F', none, ctx)).toBe('expected "M", got "F"');
    expect(await checkValue({ kind: 'equals', value: 1 }, '1', none, ctx)).toBe('expected 1, got "1"');
  });

  it('token checks the type, and with of: what the vault holds (raw or normalized)', async () => {
    expect(await checkValue({ kind: 'token', type: 'phone' }, 'PT:1415', none, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'token', type: 'email' }, 'PT:1415', none, ctx)).toBe('expected an email token, got "PT:1415"');
    expect(await checkValue({ kind: 'token', type: 'phone' }, 42, none, ctx)).toBe('expected a phone token, got 42');
    expect(await checkValue({ kind: 'token', type: 'phone', of: '+1 415-555-1234' }, 'PT:1415', none, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'token', type: 'phone', of: '+15550000000' }, 'PT:1415', none, ctx)).toBe(
      'expected a phone token of "+15550000000", but it stands for "+14155551234"',
    );
    expect(await checkValue({ kind: 'token', type: 'phone', of: '+1' }, 'PT:9', none, ctx)).toBe(
      'the phone token "PT:9" is not known to the vault',
    );
  });

  it('masked wants a star and a change', async () => {
    const input = { present: true, value: 'jack@gmail.com' };
    expect(await checkValue({ kind: 'masked' }, 'j***@gmail.com', input, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'masked' }, 'jack@gmail.com', input, ctx)).toMatch(/with '\*'/);
    expect(await checkValue({ kind: 'masked' }, 'a*b', { present: true, value: 'a*b' }, ctx)).toMatch(/unchanged/);
  });

  it('hashed wants the prefix and a digest', async () => {
    const hex = 'h_' + 'ab'.repeat(32);
    expect(await checkValue({ kind: 'hashed', prefix: 'h_' }, hex, { present: true, value: 'x' }, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'hashed', prefix: 'h_' }, 'h_' + 'A'.repeat(43), none, ctx)).toBeUndefined();
    expect(await checkValue({ kind: 'hashed', prefix: 'h_' }, 'x_' + 'ab'.repeat(32), none, ctx)).toMatch(/expected a hash/);
    expect(await checkValue({ kind: 'hashed', prefix: 'h_' }, 'h_abc', none, ctx)).toMatch(/expected a hash/);
  });
});

describe('checkJson', () => {
  const doc = { d: [{ Email: 'ET:x', Gender: 'M' }, { Email: 'plain@x.co', Gender: 'F' }] };

  it('reports each concrete path that fails', async () => {
    const failures = await checkJson([field('$.d[*].Email', { kind: 'token', type: 'email' })], doc, undefined, ctx);
    expect(failures).toEqual(['$.d[1].Email: expected an email token, got "plain@x.co"']);
  });

  it('absent passes on no match and fails on each match', async () => {
    expect(await checkJson([field('$.d[*].ip', { kind: 'absent' })], doc, undefined, ctx)).toEqual([]);
    expect(await checkJson([field('$.d[*].Gender', { kind: 'absent' })], doc, undefined, ctx)).toEqual([
      '$.d[0].Gender: expected no value, got "M"',
      '$.d[1].Gender: expected no value, got "F"',
    ]);
  });

  it('a selector with no match fails unless absent is expected', async () => {
    expect(await checkJson([field('$.d[0].Phone', { kind: 'token', type: 'phone' })], doc, undefined, ctx)).toEqual([
      '$.d[0].Phone: no value there (a phone token expected)',
    ]);
  });

  it('passes the input value at the same path to masked', async () => {
    const input = { d: [{ Email: 'j***@x.co' }] };
    const out = { d: [{ Email: 'j***@x.co' }] };
    expect(await checkJson([field('$.d[0].Email', { kind: 'masked' })], out, input, ctx)).toEqual([
      '$.d[0].Email: expected a masked value, but it is unchanged ("j***@x.co")',
    ]);
  });
});

describe('checkHeaders', () => {
  it('matches names case-insensitively and supports absent', async () => {
    const headers = { 'X-Custom': 'abc', 'set-cookie': ['a=1', 'b=2'] };
    expect(
      await checkHeaders(
        [
          { name: 'x-custom', matcher: { kind: 'equals', value: 'abc' } },
          { name: 'set-cookie', matcher: { kind: 'equals', value: 'a=1, b=2' } },
          { name: 'connection', matcher: { kind: 'absent' } },
        ],
        headers,
        ctx,
      ),
    ).toEqual([]);
    expect(await checkHeaders([{ name: 'x-other', matcher: { kind: 'present' } }], headers, ctx)).toEqual([
      'header x-other: missing (a present value expected)',
    ]);
    expect(await checkHeaders([{ name: 'x-custom', matcher: { kind: 'absent' } }], headers, ctx)).toEqual([
      'header x-custom: expected no value, got "abc"',
    ]);
  });
});

describe('diffJson', () => {
  it('ignores what the selectors cover, and everything below it', () => {
    const before = { d: [{ Email: 'a', Gender: 'M', p: { x: 1 } }] };
    const after = { d: [{ Email: 'tok', Gender: 'M', p: { x: 2 } }] };
    expect(diffJson(before, after, [compileSelector('$.d[*].Email'), compileSelector('$.d[0].p')])).toEqual([]);
    expect(diffJson(before, after, [compileSelector('$.d[*].Email')])).toEqual(['$.d[0].p.x: changed from 1 to 2']);
  });

  it('names removed and added members and array elements', () => {
    expect(diffJson({ a: 1, l: [1, 2] }, { b: 1, l: [1] }, [])).toEqual([
      '$.a: removed (was 1)',
      '$.l[1]: removed (was 2)',
      '$.b: added (1)',
    ]);
  });

  it('caps the number of messages', () => {
    const before = Object.fromEntries(Array.from({ length: 8 }, (_, i) => [`k${i}`, i]));
    const out = diffJson(before, {}, [], 3);
    expect(out).toHaveLength(4);
    expect(out[3]).toBe('... and 5 more difference(s)');
  });

  it('treats a type change as a change', () => {
    expect(diffJson({ a: [1] }, { a: { 0: 1 } }, [])).toEqual(['$.a: changed from [1] to {"0":1}']);
  });
});

describe('helpers', () => {
  it('jsonEqual ignores key order and tells arrays from objects', () => {
    expect(jsonEqual({ a: 1, b: [1, { c: 2 }] }, { b: [1, { c: 2 }], a: 1 })).toBe(true);
    expect(jsonEqual([], {})).toBe(false);
    expect(jsonEqual({ a: undefined }, { b: undefined })).toBe(false);
  });

  it('show truncates long values', () => {
    expect(show('x'.repeat(200))).toHaveLength(80);
    expect(show(undefined)).toBe('nothing');
  });
});
