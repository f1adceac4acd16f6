import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors.js';
import { encodeFormValue, formCodec, joinQuery, splitQuery, type FormMatch } from './form.js';
import type { CompiledSelector } from './selector.js';
import type { Edit } from './types.js';

const OPTS = { maxDepth: 64 };
const field = (name: string): CompiledSelector => ({ source: name, segments: [{ kind: 'key', key: name }] });

function scan(body: string | Buffer, ...names: string[]): FormMatch[] {
  const buf = typeof body === 'string' ? Buffer.from(body) : body;
  return [...formCodec.scan(buf, names.map(field), OPTS).matches];
}

function edit(body: string, names: string[], e: Edit | ((m: FormMatch) => Edit | undefined)): string {
  const buf = Buffer.from(body);
  const result = formCodec.scan(buf, names.map(field), OPTS);
  const edits = result.matches.map((m) => (typeof e === 'function' ? e(m) : e));
  return formCodec.apply(buf, result, edits).toString('latin1');
}

function refusal(body: string | Buffer, ...names: string[]): GatewayError {
  try {
    scan(body, ...names);
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected the body to be refused');
}

describe('form: parsing (WHATWG urlencoded rules)', () => {
  it('finds a field and decodes + and percent escapes', () => {
    const ms = scan('From=%2B15005550006&To=%2B1+415+555+1234&Body=Hello%20world', 'To', 'Body');
    expect(ms.map((m) => [m.selector, m.path, m.value])).toEqual([
      [0, 'To', '+1 415 555 1234'],
      [1, 'Body', 'Hello world'],
    ]);
  });

  it('matches every occurrence of a repeated field, with occurrence paths', () => {
    const ms = scan('MediaUrl=a&To=x&MediaUrl=b&MediaUrl=c', 'MediaUrl', 'To');
    expect(ms.map((m) => [m.path, m.value])).toEqual([
      ['MediaUrl[0]', 'a'],
      ['To', 'x'],
      ['MediaUrl[1]', 'b'],
      ['MediaUrl[2]', 'c'],
    ]);
  });

  it('treats the first = as the separator, a bare name as an empty value, and skips empty sequences', () => {
    expect(scan('a=b=c&&&x&a=', 'a', 'x').map((m) => [m.path, m.value, m.hasEquals])).toEqual([
      ['a[0]', 'b=c', true],
      ['x', '', false],
      ['a[1]', '', true],
    ]);
  });

  it('decodes percent-encoded and + names before matching', () => {
    expect(scan('Media%55rl=1&first+name=Ann', 'MediaUrl', 'first name').map((m) => m.value)).toEqual(['1', 'Ann']);
  });

  it('decodes unicode, raw or percent-encoded', () => {
    expect(scan('n=%C3%A9t%C3%A9&m=\u00e9t\u00e9 \u{1f600}', 'n', 'm').map((m) => m.value)).toEqual(['été', 'été \u{1f600}']);
  });

  it('reports several selectors on one field in selector order', () => {
    const ms = [...formCodec.scan(Buffer.from('To=1'), [field('To'), field('x'), field('To')], OPTS).matches];
    expect(ms.map((m) => m.selector)).toEqual([0, 2]);
  });

  it('reads a 100,000-character field', () => {
    const big = 'x'.repeat(50_000) + ' ' + '\u00e9'.repeat(49_999);
    const ms = scan('a=1&Body=' + encodeFormValue(big) + '&z=2', 'Body');
    expect(ms[0]!.value).toBe(big);
    expect(ms[0]!.value.length).toBe(100_000);
  });
});

describe('form: refusals (stable codes, no values in messages)', () => {
  const cases: [string, string | Buffer, string][] = [
    ['a % at the end', 'To=%2B1415555%', 'INVALID_FORM'],
    ['a % with one hex digit', 'To=12%4', 'INVALID_FORM'],
    ['a % with non-hex digits', 'To=secret%zzvalue', 'INVALID_FORM'],
    ['a bad escape in an unselected field', 'To=1&Body=secret%G1', 'INVALID_FORM'],
    ['a bad escape in a name', 'T%o=1', 'INVALID_FORM'],
    ['percent-encoded invalid UTF-8', 'To=secret%FF', 'INVALID_UTF8'],
    ['a truncated UTF-8 sequence', 'To=secret%C3', 'INVALID_UTF8'],
    ['an encoded surrogate', 'To=%ED%A0%80', 'INVALID_UTF8'],
    ['an overlong 2-byte sequence', 'To=secret%C0%AF', 'INVALID_UTF8'],
    ['an overlong 3-byte sequence', 'To=secret%E0%80%AF', 'INVALID_UTF8'],
    ['a code point above U+10FFFF', 'To=secret%F4%90%80%80', 'INVALID_UTF8'],
    ['a stray continuation byte', 'To=secret%80', 'INVALID_UTF8'],
    ['a lead byte without its continuation', 'To=secret%E2%82x', 'INVALID_UTF8'],
    ['a long value that is not UTF-8', 'To=secret' + 'a'.repeat(100) + '%FF', 'INVALID_UTF8'],
    ['raw invalid UTF-8', Buffer.from([0x54, 0x6f, 0x3d, 0x73, 0xff]), 'INVALID_UTF8'],
    ['invalid UTF-8 in an unselected field', 'x=%80&To=1', 'INVALID_UTF8'],
  ];
  for (const [name, body, code] of cases) {
    it(`refuses ${name} with ${code}`, () => {
      const err = refusal(body, 'To');
      expect(err.code).toBe(code);
      expect(err.status).toBe(400);
      expect(err.message).not.toContain('secret');
      expect(err.message).toMatch(/byte \d+/);
    });
  }

  it('names the selected field, never an unselected one', () => {
    expect(refusal('To=%FF', 'To').field).toBe('To');
    const err = refusal('Secret%20Name=%FF', 'To');
    expect(err.field).toBeUndefined();
    expect(err.message).not.toContain('Secret');
  });

  it('refuses a selector that is not a field name with INTERNAL', () => {
    const bad: CompiledSelector = { source: '$.a[*]', segments: [{ kind: 'key', key: 'a' }, { kind: 'wildcard' }] };
    try {
      formCodec.scan(Buffer.from('a=1'), [bad], OPTS);
      expect.unreachable();
    } catch (err) {
      expect((err as GatewayError).code).toBe('INTERNAL');
    }
  });
});

describe('form: apply (byte-preserving)', () => {
  it('re-encodes only the changed value; untouched pairs keep %20 and + as they came', () => {
    const body = 'A=x%20y&To=%2B14155551234&B=x+y&C=%7e%41';
    expect(edit(body, ['To'], { op: 'replace', value: 'tok 1+é&=' })).toBe(
      'A=x%20y&To=tok+1%2B%C3%A9%26%3D&B=x+y&C=%7e%41',
    );
  });

  it('leaves the body identical (same Buffer) when no edit is given', () => {
    const buf = Buffer.from('To=1&B=2');
    const r = formCodec.scan(buf, [field('To')], OPTS);
    expect(formCodec.apply(buf, r, [undefined])).toBe(buf);
  });

  it('adds = to a bare name', () => {
    expect(edit('To&B=2', ['To'], { op: 'replace', value: 'v' })).toBe('To=v&B=2');
  });

  it('replaces every occurrence of a repeated field independently', () => {
    const out = edit('MediaUrl=a&To=x&MediaUrl=b', ['MediaUrl'], (m) => ({ op: 'replace', value: m.path }));
    expect(out).toBe('MediaUrl=MediaUrl%5B0%5D&To=x&MediaUrl=MediaUrl%5B1%5D');
  });

  it.each([
    ['the first pair', 'To=1&a=2&b=3', 'a=2&b=3'],
    ['a middle pair', 'a=2&To=1&b=3', 'a=2&b=3'],
    ['the last pair', 'a=2&b=3&To=1', 'a=2&b=3'],
    ['the only pair', 'To=1', ''],
    ['a trailing run', 'a=2&To=1&To=3', 'a=2'],
    ['every pair', 'To=1&To=2', ''],
    ['pairs around a kept one', 'To=1&a=2&To=3', 'a=2'],
  ])('remove drops %s and one &', (_name, body, expected) => {
    expect(edit(body, ['To'], { op: 'remove' })).toBe(expected);
  });

  it('a remove wins over a replace on the same pair', () => {
    const buf = Buffer.from('a=1&To=2');
    const r = formCodec.scan(buf, [field('To'), field('To')], OPTS);
    expect(formCodec.apply(buf, r, [{ op: 'replace', value: 'x' }, { op: 'remove' }]).toString()).toBe('a=1');
  });

  it('writes a 100,000-character replacement', () => {
    const big = '\u00e9'.repeat(100_000);
    const out = edit('a=1&To=2&z=3', ['To'], { op: 'replace', value: big });
    expect(new URLSearchParams(out).get('To')).toBe(big);
    expect(out.startsWith('a=1&To=%C3%A9')).toBe(true);
    expect(out.endsWith('&z=3')).toBe(true);
  });

  it('refuses a replacement with a lone surrogate', () => {
    expect(() => edit('To=1', ['To'], { op: 'replace', value: 'a\ud800' })).toThrow(/well-formed/);
  });
});

describe('encodeFormValue', () => {
  it('matches URLSearchParams serialization', () => {
    for (const v of ['a b', "!'()~*-._", '+&=%#?/', '\u00e9\u{1f600}', '\r\n\t', '']) {
      expect(encodeFormValue(v)).toBe(new URLSearchParams({ v }).toString().slice(2));
    }
  });
});

describe('query strings through the form codec', () => {
  it('splits, rewrites and joins a request target byte for byte', () => {
    const { path, query } = splitQuery('/v1/send?to=%2B1415&x=%7e&to=2');
    expect(path).toBe('/v1/send');
    const r = formCodec.scan(query!, [field('to')], OPTS);
    expect(r.matches.map((m) => m.path)).toEqual(['to[0]', 'to[1]']);
    const out = formCodec.apply(query!, r, [{ op: 'replace', value: 'tok' }, undefined]);
    expect(joinQuery(path, out)).toBe('/v1/send?to=tok&x=%7e&to=2');
  });

  it('keeps non-ASCII bytes of a latin1 request target', () => {
    const { path, query } = splitQuery('/a?x=\u00c3\u00a9&to=1');
    expect(formCodec.scan(query!, [field('x')], OPTS).matches[0]!.value).toBe('é');
    expect(joinQuery(path, query)).toBe('/a?x=\u00c3\u00a9&to=1');
  });

  it('has no query without ?', () => {
    expect(splitQuery('/a')).toEqual({ path: '/a', query: null });
    expect(joinQuery('/a', null)).toBe('/a');
  });
});

describe('form: UTF-8 validation agrees with the platform', () => {
  it('accepts exactly what isUtf8 accepts, for every short percent-encoded byte sequence tried', async () => {
    const { isUtf8 } = await import('node:buffer');
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(
        fc.array(
          fc.constantFrom(0x41, 0x7f, 0x80, 0x8f, 0x90, 0x9f, 0xa0, 0xbf, 0xc0, 0xc1, 0xc2, 0xdf, 0xe0, 0xe1, 0xed, 0xee, 0xef, 0xf0, 0xf1, 0xf4, 0xf5, 0xff),
          { minLength: 1, maxLength: 8 },
        ),
        (bytes) => {
        const body = Buffer.from('To=' + [...bytes].map((b) => '%' + b.toString(16).padStart(2, '0')).join(''));
        let ok = true;
        try {
          formCodec.scan(body, [field('To')], OPTS);
        } catch {
          ok = false;
        }
        expect(ok).toBe(isUtf8(Buffer.from(bytes)));
        },
      ),
      { numRuns: 5000 },
    );
  });
});
