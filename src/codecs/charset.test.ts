import { describe, expect, it } from 'vitest';
import { bodyCharset, codecLocator, fromUtf8, rewriteCharset, toUtf8 } from './charset.js';
import { jsonCodec } from './json.js';
import { compileSelector } from './selector.js';

const latin1 = (s: string) => Buffer.from(s, 'latin1');

describe('bodyCharset', () => {
  it('maps labels to canonical charsets; no label is utf-8; others are unknown', () => {
    expect(bodyCharset(undefined)).toBe('utf-8');
    expect(['utf8', 'latin1', 'iso_8859-1', 'l1', 'ascii', 'us-ascii'].map(bodyCharset)).toEqual([
      'utf-8',
      'iso-8859-1',
      'iso-8859-1',
      'iso-8859-1',
      'us-ascii',
      'us-ascii',
    ]);
    expect(bodyCharset('windows-1252')).toBeUndefined();
    expect(bodyCharset('shift_jis')).toBeUndefined();
    expect(bodyCharset('__proto__')).toBeUndefined();
  });
});

describe('toUtf8 / fromUtf8', () => {
  it('round-trips every latin1 byte, C1 range included', () => {
    const all = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    const utf8 = toUtf8(all, 'iso-8859-1');
    expect(utf8.toString('utf8')).toBe(String.fromCharCode(...all));
    expect(fromUtf8(utf8, 'iso-8859-1').equals(all)).toBe(true);
  });

  it('reads José from latin1 bytes and writes it back', () => {
    const utf8 = toUtf8(latin1('"José"'), 'iso-8859-1');
    expect(utf8.equals(Buffer.from('"José"', 'utf8'))).toBe(true);
    expect([...fromUtf8(utf8, 'iso-8859-1')]).toEqual([0x22, 0x4a, 0x6f, 0x73, 0xe9, 0x22]);
  });

  it('refuses an 8-bit byte in a us-ascii body, naming the offset only', () => {
    expect(() => toUtf8(latin1('{"a":"é"}'), 'us-ascii')).toThrow(expect.objectContaining({ code: 'INVALID_CHARSET', message: expect.stringContaining('offset 6') }));
    expect(toUtf8(Buffer.from('{"a":1}'), 'us-ascii').toString()).toBe('{"a":1}');
  });

  it('refuses a character the charset cannot hold, naming the field from locate()', () => {
    const utf8 = Buffer.from('{"n":"Łukasz"}');
    expect(() => fromUtf8(utf8, 'iso-8859-1', () => '$.n')).toThrow(
      expect.objectContaining({ code: 'UNREPRESENTABLE_VALUE', status: 422, field: '$.n', message: expect.not.stringContaining('ukasz') }),
    );
    expect(() => fromUtf8(Buffer.from('{"n":"é"}'), 'us-ascii')).toThrow(expect.objectContaining({ code: 'UNREPRESENTABLE_VALUE', field: undefined }));
  });
});

describe('rewriteCharset', () => {
  it('returns the original Buffer when nothing changed', async () => {
    const body = latin1('{"name":"José"}');
    expect(await rewriteCharset(body, 'iso-8859-1', async (b) => b)).toBe(body);
  });

  it('hands the codec UTF-8 and sends latin1 back, untouched bytes identical', async () => {
    const body = latin1('{"name":"José","note":"ñ\xa0ü"}');
    const out = await rewriteCharset(body, 'iso-8859-1', async (utf8) => {
      expect(utf8.toString('utf8')).toBe('{"name":"José","note":"ñ\u00a0ü"}');
      return Buffer.from(utf8.toString('utf8').replace('José', 'tok_1'));
    });
    expect(out.equals(latin1('{"name":"tok_1","note":"ñ\xa0ü"}'))).toBe(true);
  });

  it('names the changed field through a codec locator, not an untouched escape', async () => {
    const selectors = [compileSelector('$.a'), compileSelector('$.b')];
    const locate = codecLocator(jsonCodec, selectors, { maxDepth: 32 });
    const body = latin1('{"a":"\\u0141","b":"x"}'); // $.a holds Ł as an escape: representable bytes, untouched
    const run = rewriteCharset(body, 'iso-8859-1', async (utf8) => Buffer.from(utf8.toString().replace('"x"', '"Łx"')), locate);
    await expect(run).rejects.toMatchObject({ code: 'UNREPRESENTABLE_VALUE', field: '$.b' });
  });

  it('passes utf-8 straight through', async () => {
    const body = Buffer.from('{"n":"Łukasz"}');
    const out = await rewriteCharset(body, 'utf-8', async (b) => Buffer.concat([b, Buffer.from(' ')]));
    expect(out.toString()).toBe('{"n":"Łukasz"} ');
  });
});
