import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors.js';
import type { CompiledSelector } from './selector.js';
import { textCodec } from './text.js';

const OPTS = { maxDepth: 64 };
const WHOLE: CompiledSelector = { source: '$', segments: [] };

function refusal(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected a GatewayError');
}

describe('text codec', () => {
  it('reports the whole body as one string field at $', () => {
    const body = Buffer.from('<p>Hi tok_a, ✓ café</p>\r\n');
    const { matches } = textCodec.scan(body, [WHOLE], OPTS);
    expect(matches).toEqual([{ selector: 0, path: '$', kind: 'string', value: '<p>Hi tok_a, ✓ café</p>\r\n' }]);
    expect(textCodec.scan(body, [], OPTS).matches).toEqual([]);
  });

  it('keeps a UTF-8 byte order mark as part of the text', () => {
    const body = Buffer.from('\uFEFFHi', 'utf8');
    const result = textCodec.scan(body, [WHOLE], OPTS);
    expect(result.matches[0]!.value).toBe('\uFEFFHi');
    expect(textCodec.apply(body, result, [{ op: 'replace', value: '\uFEFFHo' }])).toEqual(Buffer.from('\uFEFFHo', 'utf8'));
  });

  it('writes a replacement as UTF-8', () => {
    const body = Buffer.from('Hi tok_a');
    const result = textCodec.scan(body, [WHOLE], OPTS);
    const out = textCodec.apply(body, result, [{ op: 'replace', value: 'Hi Łukasz <Lee & Co> 😀' }]);
    expect(out.toString('utf8')).toBe('Hi Łukasz <Lee & Co> 😀');
    expect(out.equals(Buffer.from('Hi Łukasz <Lee & Co> 😀', 'utf8'))).toBe(true);
  });

  it('returns the same Buffer when nothing changes (no edit, or the same text)', () => {
    const body = Buffer.from('Hi  there\n\n');
    const result = textCodec.scan(body, [WHOLE], OPTS);
    expect(textCodec.apply(body, result, [])).toBe(body);
    expect(textCodec.apply(body, result, [undefined])).toBe(body);
    expect(textCodec.apply(body, result, [{ op: 'replace', value: 'Hi  there\n\n' }])).toBe(body);
  });

  it('refuses a body that is not UTF-8, naming $ and no content', () => {
    for (const bytes of [[0x48, 0x69, 0xff], [0xc3, 0x28], [0xed, 0xa0, 0x80], [0xe2, 0x82]]) {
      const err = refusal(() => textCodec.scan(Buffer.from(bytes), [WHOLE], OPTS));
      expect([err.code, err.status, err.field]).toEqual(['INVALID_UTF8', 400, '$']);
    }
    // Validated even when no selector asks for the body.
    expect(refusal(() => textCodec.scan(Buffer.from([0xff]), [], OPTS)).code).toBe('INVALID_UTF8');
  });

  it('refuses selectors other than $ and removes as internal errors (the loader never lets them through)', () => {
    const field: CompiledSelector = { source: 'Body', segments: [{ kind: 'key', key: 'Body' }] };
    expect(refusal(() => textCodec.scan(Buffer.from('x'), [field], OPTS)).code).toBe('INTERNAL');
    const body = Buffer.from('x');
    const result = textCodec.scan(body, [WHOLE], OPTS);
    expect(refusal(() => textCodec.apply(body, result, [{ op: 'remove' }])).code).toBe('INTERNAL');
    expect(refusal(() => textCodec.apply(body, result, [{ op: 'replace', value: 'a\uD800b' }])).code).toBe('INTERNAL');
    expect(refusal(() => textCodec.apply(body, result, [undefined, { op: 'replace', value: 'y' }])).code).toBe('INTERNAL');
  });
});
