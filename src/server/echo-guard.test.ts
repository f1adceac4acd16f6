import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors.js';
import type { ResolvedPair } from '../transform/engine.js';
import { createEchoGuard, guardResponse, MIN_ECHO_CHARS, type EchoGuard } from './echo-guard.js';

const PHONE: ResolvedPair = { value: '+15558675310', token: '+15550104477', type: 'phone' };
const EMAIL: ResolvedPair = { value: 'ann.lee@example.com', token: 'u7Hq2@tok.invalid', type: 'email' };
const NAME: ResolvedPair = { value: 'Ann', token: 'tok_Ab3dEf6hIj9kLm2nOp5qRs', type: 'opaque' };

function guardOf(...pairs: ResolvedPair[]): EchoGuard {
  const g = createEchoGuard(pairs);
  if (g === undefined) throw new Error('no guard');
  return g;
}

const text = (g: EchoGuard, s: string, cs: 'utf-8' | 'iso-8859-1' = 'utf-8'): string => g.replaceBody(Buffer.from(s, 'utf8'), cs).toString('utf8');

describe('createEchoGuard', () => {
  it('replaces a value as is, in JSON and in a form, with its token', () => {
    const g = guardOf(PHONE, EMAIL);
    expect(text(g, '{"to":"+15558675310","cc":"ann.lee@example.com"}')).toBe('{"to":"+15550104477","cc":"u7Hq2@tok.invalid"}');
    expect(text(g, 'To=%2B15558675310&Cc=ann.lee%40example.com')).toBe('To=%2B15550104477&Cc=u7Hq2%40tok.invalid');
    expect(text(g, 'to=%2b15558675310')).toBe('to=%2b15550104477');
  });

  it('a phone number also without its +, and its token likewise; inside whatsapp: too', () => {
    const g = guardOf(PHONE);
    expect(text(g, '{"wa_id":"15558675310","to":"whatsapp:+15558675310"}')).toBe('{"wa_id":"15550104477","to":"whatsapp:+15550104477"}');
    expect(g.tokens.has('+15550104477')).toBe(true);
    expect(g.tokens.has('15550104477')).toBe(true);
  });

  it('JSON-escaped forms: quotes and backslashes, \\uXXXX (both cases), \\/', () => {
    const quoted: ResolvedPair = { value: 'Ann "Nan" O\\Lee', token: 'tok_Q1', type: 'opaque' };
    const accented: ResolvedPair = { value: 'Zoë Łukasz', token: 'tok_Z1', type: 'opaque' };
    const dated: ResolvedPair = { value: '19/08/1986', token: 'tok_D1', type: 'opaque' };
    const g = guardOf(quoted, accented, dated);
    expect(text(g, JSON.stringify({ a: quoted.value }))).toBe('{"a":"tok_Q1"}');
    expect(text(g, '{"a":"Zo\\u00eb \\u0141ukasz","b":"Zo\\u00EB \\u0141ukasz","c":"Zoë Łukasz"}')).toBe('{"a":"tok_Z1","b":"tok_Z1","c":"tok_Z1"}');
    expect(text(g, '{"d":"19\\/08\\/1986","e":"19/08/1986"}')).toBe('{"d":"tok_D1","e":"tok_D1"}');
    // JSON in a JSON string: escaped twice.
    const nested = JSON.stringify({ vars: JSON.stringify({ 1: quoted.value, 2: accented.value }) });
    expect(JSON.parse((JSON.parse(text(g, nested)) as { vars: string }).vars)).toEqual({ 1: 'tok_Q1', 2: 'tok_Z1' });
  });

  it('percent, form (+ for space) and HTML forms, also HTML inside JSON', () => {
    const g = guardOf({ value: "Ann <Lee & Co's>", token: 'tok_H1', type: 'opaque' });
    expect(text(g, 'a=Ann%20%3CLee%20%26%20Co\'s%3E&b=Ann+%3CLee+%26+Co%27s%3E')).toBe('a=tok_H1&b=tok_H1');
    expect(text(g, '<p>Ann &lt;Lee &amp; Co&#39;s&gt;</p><p>Ann &lt;Lee &amp; Co&#x27;s&gt;</p>')).toBe('<p>tok_H1</p><p>tok_H1</p>');
    expect(text(g, JSON.stringify({ html: '<b>Ann &lt;Lee &amp; Co&#39;s&gt;</b>' }))).toBe('{"html":"<b>tok_H1</b>"}');
  });

  it('overlapping values: leftmost-longest, non-overlapping, nothing written is looked at again', () => {
    const full: ResolvedPair = { value: 'Ann Lee', token: 'tok_F1', type: 'opaque' };
    const last: ResolvedPair = { value: 'Lee', token: 'tok_L1', type: 'opaque' };
    const g = guardOf(last, NAME, full);
    expect(text(g, 'Hi Ann Lee, Ann and Lee')).toBe(`Hi tok_F1, ${NAME.token} and tok_L1`);
    // A value that is inside another value's token is not replaced inside the written token.
    const inToken = guardOf({ value: 'abc', token: 'tok_x', type: 'opaque' }, { value: 'tok', token: 'tok_y', type: 'opaque' });
    expect(text(inToken, 'abc tok')).toBe('tok_x tok_y');
  });

  it(`values shorter than ${MIN_ECHO_CHARS} code points are not looked for (counted); three are`, () => {
    const g = createEchoGuard([{ value: 'Al', token: 'tok_A1', type: 'opaque' }]);
    expect(g?.short).toBe(1);
    expect(text(g!, 'Already, Al')).toBe('Already, Al');
    // Code points, not UTF-16 units: a two-emoji value is two characters (four units).
    expect(createEchoGuard([{ value: '😀😀', token: 'tok_E1', type: 'opaque' }])?.short).toBe(1);
    expect(text(guardOf({ value: '王小明', token: 'tok_W1', type: 'opaque' }), '王小明先生')).toBe('tok_W1先生');
  });

  it('an occurrence running on into an ASCII word or number is not an echo; an escape before it is not a word', () => {
    const g = guardOf(NAME, PHONE);
    expect(text(g, '"Annual","queued","Ann2","+155586753101"')).toBe(`"Annual","queued","${NAME.token}2","+155586753101"`);
    expect(text(g, '"Hi\\nAnn","Hi%20Ann","\\u00e9Ann"')).toBe(`"Hi\\n${NAME.token}","Hi%20${NAME.token}","\\u00e9${NAME.token}"`);
  });

  it('multibyte text around the values stays byte for byte; an unchanged body is the same Buffer', () => {
    const g = guardOf(NAME, { value: 'Zoë', token: 'tok_Z2', type: 'opaque' });
    const body = Buffer.from('{"body":"こんにちは Ann — Zoë 😀"}', 'utf8');
    expect(g.replaceBody(body, 'utf-8').toString('utf8')).toBe(`{"body":"こんにちは ${NAME.token} — tok_Z2 😀"}`);
    const none = Buffer.from('{"body":"こんにちは — 😀"}', 'utf8');
    expect(g.replaceBody(none, 'utf-8')).toBe(none);
  });

  it('an ISO-8859-1 body: the value in that charset', () => {
    const g = guardOf({ value: 'Zoë', token: 'tok_Z2', type: 'opaque' });
    const body = Buffer.from('{"n":"Zoë"}', 'latin1');
    expect(g.replaceBody(body, 'iso-8859-1').toString('latin1')).toBe('{"n":"tok_Z2"}');
    // Not in a UTF-8 body, where the same byte starts another character.
    const utf8 = Buffer.from('{"n":"Zo뭐"}', 'utf8');
    expect(g.replaceBody(utf8, 'utf-8')).toBe(utf8);
  });

  it('header values', () => {
    const g = guardOf(PHONE);
    expect(g.replaceHeader('/Messages?To=%2B15558675310')).toBe('/Messages?To=%2B15550104477');
    expect(g.replaceHeader('SM123')).toBe('SM123');
  });

  it('nothing to look for: no guard', () => {
    expect(createEchoGuard([])).toBeUndefined();
    expect(createEchoGuard([{ value: 'same', token: 'same', type: 'opaque' }])).toBeUndefined();
  });
});

describe('guardResponse', () => {
  it('decodes gzip, replaces, re-encodes; headers too', async () => {
    const g = guardOf(PHONE);
    const body = gzipSync('{"to":"+15558675310"}');
    const out = await guardResponse(g, body, { 'content-encoding': 'gzip', 'content-type': 'application/json', location: '/x/+15558675310' }, 1 << 20);
    const { gunzipSync } = await import('node:zlib');
    expect(gunzipSync(out.body).toString()).toBe('{"to":"+15550104477"}');
    expect(out.headers.location).toBe('/x/+15550104477');
  });

  it('an unchanged body keeps its bytes', async () => {
    const body = gzipSync('{"to":"someone else"}');
    const out = await guardResponse(guardOf(PHONE), body, { 'content-encoding': 'gzip' }, 1 << 20);
    expect(out.body).toBe(body);
  });

  it('fails closed: an unreadable coding or charset is 502 UPSTREAM_RESPONSE_INVALID', async () => {
    const g = guardOf(PHONE);
    const cases: Record<string, string>[] = [{ 'content-encoding': 'zstd' }, { 'content-type': 'text/plain; charset=shift_jis' }, { 'content-encoding': 'gzip' }];
    for (const headers of cases) {
      const err = await guardResponse(g, Buffer.from('+15558675310'), headers, 1 << 20).catch((e: unknown) => e);
      expect(isGatewayError(err) && err.code === 'UPSTREAM_RESPONSE_INVALID' && err.status === 502).toBe(true);
      expect(String((err as Error).message)).not.toContain('15558675310');
    }
  });
});
