import { createHmac } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { hmacSha256 } from './hmac.js';

const key = Buffer.alloc(32, 1);

describe('hmacSha256', () => {
  it('frames parts so boundaries cannot move', () => {
    expect(hmacSha256(key, 'ab', 'c').equals(hmacSha256(key, 'a', 'bc'))).toBe(false);
    expect(hmacSha256(key, 'abc').equals(hmacSha256(key, 'ab', 'c'))).toBe(false);
    expect(hmacSha256(key, '', 'a').equals(hmacSha256(key, 'a', ''))).toBe(false);
    expect(hmacSha256(key).equals(hmacSha256(key, ''))).toBe(false);
  });

  it('is HMAC-SHA256 over 4-byte big-endian length | bytes per part', () => {
    const expected = createHmac('sha256', key)
      .update(Buffer.from([0, 0, 0, 2]))
      .update('ab')
      .update(Buffer.from([0, 0, 0, 3]))
      .update(Buffer.from([1, 2, 3]))
      .update(Buffer.from([0, 0, 0, 2]))
      .update('é', 'utf8')
      .digest();
    expect(hmacSha256(key, 'ab', Buffer.from([1, 2, 3]), 'é').toString('hex')).toBe(expected.toString('hex'));
  });

  it('treats a string and its UTF-8 bytes alike, and depends on the key', () => {
    expect(hmacSha256(key, 'ü').equals(hmacSha256(key, Buffer.from('ü', 'utf8')))).toBe(true);
    expect(hmacSha256(key, 'x').equals(hmacSha256(Buffer.alloc(32, 2), 'x'))).toBe(false);
    expect(hmacSha256(key, 'x')).toHaveLength(32);
  });
});
