import fc from 'fast-check';
import { brotliCompressSync, deflateRawSync, deflateSync, gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors.js';
import {
  acceptEncodingFor,
  decodeContent,
  encodeContent,
  parseContentEncoding,
  rewriteEncoded,
} from './content-encoding.js';

const PLAIN = Buffer.from(JSON.stringify({ d: [{ profileData: { Email: 'a@b.co', Name: 'Ann é 👋' } }] }).repeat(20));
const MB = 1024 * 1024;

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected a refusal');
}

describe('parseContentEncoding', () => {
  it.each([
    [undefined, []],
    ['', []],
    ['identity', []],
    ['GZIP', ['gzip']],
    ['x-gzip', ['gzip']],
    ['gzip, br', ['gzip', 'br']],
    [['deflate', 'identity, br'], ['deflate', 'br']],
  ])('reads %j', (h, expected) => expect(parseContentEncoding(h as string)).toEqual(expected));

  it.each([['compress'], ['zstd'], ['gzip, br, gzip'], ['gzip, gzip, gzip']])('refuses %s with 415', (h) => {
    expect(() => parseContentEncoding(h)).toThrow(expect.objectContaining({ code: 'UNSUPPORTED_ENCODING', status: 415 }));
  });
});

describe('decodeContent / encodeContent round trips', () => {
  const cases: [string, Buffer, string[]][] = [
    ['gzip', gzipSync(PLAIN), ['gzip']],
    ['deflate (zlib)', deflateSync(PLAIN), ['deflate']],
    ['deflate (raw)', deflateRawSync(PLAIN), ['deflate-raw']],
    ['br', brotliCompressSync(PLAIN), ['br']],
    ['gzip, br', brotliCompressSync(gzipSync(PLAIN)), ['gzip', 'br']],
    ['deflate, gzip', gzipSync(deflateRawSync(PLAIN)), ['deflate-raw', 'gzip']],
  ];
  for (const [header, wire, codings] of cases) {
    it(`decodes and re-encodes ${header}`, async () => {
      const d = await decodeContent(wire, header.replace(' (zlib)', '').replace(' (raw)', ''), MB);
      expect(d.body.equals(PLAIN)).toBe(true);
      expect(d.codings).toEqual(codings);
      const again = await encodeContent(d.body, d.codings);
      const back = await decodeContent(again, header.replace(' (zlib)', '').replace(' (raw)', ''), MB);
      expect(back.body.equals(PLAIN)).toBe(true);
      expect(back.codings).toEqual(codings);
    });
  }

  it('passes an unencoded body through as the same Buffer', async () => {
    const d = await decodeContent(PLAIN, undefined, 10);
    expect(d.body).toBe(PLAIN);
    expect(d.codings).toEqual([]);
  });
});

describe('decodeContent refusals', () => {
  it('refuses a truncated gzip stream with 400 INVALID_ENCODING', async () => {
    const wire = gzipSync(PLAIN);
    const err = await refusal(decodeContent(wire.subarray(0, wire.length - 12), 'gzip', MB));
    expect([err.code, err.status]).toEqual(['INVALID_ENCODING', 400]);
    expect(err.message).not.toContain('a@b.co');
  });

  it.each([
    ['gzip', Buffer.from('not gzip at all')],
    ['br', Buffer.from([0xff, 0xff, 0xff, 0xff])],
    ['deflate', Buffer.from([0x78, 0x9c, 0xff, 0xff, 0x00])],
  ])('refuses corrupt %s with INVALID_ENCODING', async (h, wire) => {
    expect((await refusal(decodeContent(wire, h, MB))).code).toBe('INVALID_ENCODING');
  });

  it('stops a decompression bomb at the limit with 413, quickly', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * MB));
    expect(bomb.length).toBeLessThan(20 * 1024);
    const started = performance.now();
    const err = await refusal(decodeContent(bomb, 'gzip', MB));
    expect([err.code, err.status]).toEqual(['BODY_TOO_LARGE', 413]);
    expect(performance.now() - started).toBeLessThan(500);
  });

  it('caps every stage of a stack, brotli too', async () => {
    const bomb = gzipSync(brotliCompressSync(Buffer.alloc(4 * MB)));
    expect((await refusal(decodeContent(bomb, 'br, gzip', MB))).code).toBe('BODY_TOO_LARGE');
    expect((await refusal(decodeContent(brotliCompressSync(Buffer.alloc(2 * MB)), 'br', MB))).code).toBe('BODY_TOO_LARGE');
  });

  it('refuses 3 stacked codings with 415 before decoding anything', async () => {
    const wire = gzipSync(gzipSync(gzipSync(PLAIN)));
    const err = await refusal(decodeContent(wire, 'gzip, gzip, gzip', MB));
    expect([err.code, err.status]).toEqual(['UNSUPPORTED_ENCODING', 415]);
  });
});

describe('rewriteEncoded', () => {
  it('returns the original compressed bytes when nothing changes', async () => {
    const wire = gzipSync(PLAIN);
    expect(await rewriteEncoded(wire, 'gzip', MB, async (b) => b)).toBe(wire);
  });

  it('re-encodes a rewrite with the same codings', async () => {
    const wire = brotliCompressSync(gzipSync(PLAIN));
    const out = await rewriteEncoded(wire, 'gzip, br', MB, async (b) => Buffer.from(b.toString().replaceAll('a@b.co', 'tok')));
    const d = await decodeContent(out, 'gzip, br', MB);
    expect(d.body.toString()).toBe(PLAIN.toString().replaceAll('a@b.co', 'tok'));
  });

  it('rewrites an unencoded body directly', async () => {
    expect((await rewriteEncoded(PLAIN, 'identity', MB, async () => Buffer.from('x'))).toString()).toBe('x');
  });
});

describe('acceptEncodingFor', () => {
  it.each([
    [undefined, 'identity'],
    ['zstd', 'identity'],
    ['gzip, deflate, br, zstd', 'gzip, deflate, br'],
    ['zstd, br;q=1.0, gzip;q=0.8, *;q=0.1', 'br;q=1.0, gzip;q=0.8'],
    [['gzip', 'compress'], 'gzip'],
  ])('%j -> %s', (h, expected) => expect(acceptEncodingFor(h as string)).toBe(expected));
});

describe('content-encoding properties', () => {
  it('decode(encode(x)) === x for any bytes and any stack of up to two codings', async () => {
    const coding = fc.constantFrom('gzip' as const, 'deflate' as const, 'deflate-raw' as const, 'br' as const);
    await fc.assert(
      fc.asyncProperty(fc.uint8Array({ maxLength: 2048 }), fc.array(coding, { maxLength: 2 }), async (bytes, codings) => {
        const plain = Buffer.from(bytes);
        const wire = await encodeContent(plain, codings);
        const header = codings.map((c) => (c === 'deflate-raw' ? 'deflate' : c)).join(', ');
        const d = await decodeContent(wire, header, MB);
        expect(d.body.equals(plain)).toBe(true);
        expect(d.codings).toEqual(codings);
      }),
      { numRuns: 200 },
    );
  });
});
