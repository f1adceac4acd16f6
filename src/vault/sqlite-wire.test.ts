/** The SQLite worker's message encodings: strings packed into one, blobs into one transferable buffer. */
import { describe, expect, it } from 'vitest';
import { blobAt, packBlobs, packStrings, unpackStrings } from './sqlite-wire.js';

describe('packStrings / unpackStrings', () => {
  it('joins by NUL and splits back, keeping empty strings and their count', () => {
    const strings = ['ns', 'tok_1', '', 'email', 'k1', '', ''];
    const packed = packStrings(strings);
    expect(packed).toEqual({ text: 'ns\0tok_1\0\0email\0k1\0\0', json: false, count: 7 });
    expect(unpackStrings(packed)).toEqual(strings);
  });

  it('falls back to JSON when a string holds a NUL, so nothing is split in the wrong place', () => {
    const strings = ['a\0b', 'c', 'ünïcode ✓'];
    const packed = packStrings(strings);
    expect(packed.json).toBe(true);
    expect(unpackStrings(packed)).toEqual(strings);
  });

  it('packs nothing as nothing', () => {
    expect(unpackStrings(packStrings([]))).toEqual([]);
  });

  it('refuses a text whose parts do not match the count', () => {
    expect(() => unpackStrings({ text: 'a\0b', json: false, count: 3 })).toThrow('malformed');
  });
});

describe('packBlobs / blobAt', () => {
  it('packs blobs (pooled Buffers included, empty ones too) into one fresh ArrayBuffer and views them back', () => {
    const blobs = [Buffer.from('first'), Buffer.alloc(0), Buffer.from([0, 1, 2, 255]), Buffer.from('x'.repeat(5000))];
    const packed = packBlobs(blobs);
    // Its own buffer, never a pool slab: it is transferred (detached) after posting.
    expect(packed.blob.byteLength).toBe(5 + 0 + 4 + 5000);
    expect(Array.from(packed.ends)).toEqual([5, 5, 9, 5009]);
    blobs.forEach((b, i) => expect(blobAt(packed, i).equals(b)).toBe(true));
    expect(Buffer.isBuffer(blobAt(packed, 0))).toBe(true);
  });
});
