/**
 * The primitives as vaultless tokens use them, proven against the standards' own vectors: NIST SP 800-38G
 * FF1 samples 1-9 (NIST's "FF1samples.pdf": AES-128/192/256, radix 10 and 36, with and without tweak) and
 * RFC 5297 appendix A (A.1 deterministic, A.2 nonce-based AES-SIV), then the limits and encodings.
 */
import { describe, expect, it } from 'vitest';
import {
  FF1_MIN_DIGITS,
  base32Decode,
  base32Encode,
  base32Length,
  base64urlDecode,
  base64urlEncode,
  ff1,
  ff1DigitsWithinClass,
  ff1DomainOk,
  framed,
  sivOpen,
  sivSeal,
  utf8,
  vaultlessKey,
} from './ciphers.js';

const hex = (s: string): Uint8Array => new Uint8Array(Buffer.from(s, 'hex'));
const toHex = (b: Uint8Array): string => Buffer.from(b).toString('hex');

const K128 = '2B7E151628AED2A6ABF7158809CF4F3C';
const K192 = '2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F';
const K256 = '2B7E151628AED2A6ABF7158809CF4F3CEF4359D8D580AA4F7F036D6F04FC6A94';
const T10 = '39383736353433323130';
const T36 = '3737373770717273373737';
const P10 = '0123456789';
const P36 = '0123456789abcdefghi';

// NIST SP 800-38G FF1 samples (FF1samples.pdf), in NIST's order.
const FF1_SAMPLES: { sample: number; key: string; radix: number; tweak: string; pt: string; ct: string }[] = [
  { sample: 1, key: K128, radix: 10, tweak: '', pt: P10, ct: '2433477484' },
  { sample: 2, key: K128, radix: 10, tweak: T10, pt: P10, ct: '6124200773' },
  { sample: 3, key: K128, radix: 36, tweak: T36, pt: P36, ct: 'a9tv40mll9kdu509eum' },
  { sample: 4, key: K192, radix: 10, tweak: '', pt: P10, ct: '2830668132' },
  { sample: 5, key: K192, radix: 10, tweak: T10, pt: P10, ct: '2496655549' },
  { sample: 6, key: K192, radix: 36, tweak: T36, pt: P36, ct: 'xbj3kv35jrawxv32ysr' },
  { sample: 7, key: K256, radix: 10, tweak: '', pt: P10, ct: '6657667009' },
  { sample: 8, key: K256, radix: 10, tweak: T10, pt: P10, ct: '1001623463' },
  { sample: 9, key: K256, radix: 36, tweak: T36, pt: P36, ct: 'xs8a0azh2avyalyzuwd' },
];

describe('FF1 (NIST SP 800-38G samples 1-9)', () => {
  for (const v of FF1_SAMPLES) {
    it(`sample ${v.sample}: AES-${(v.key.length / 2) * 8}, radix ${v.radix}, ${v.tweak === '' ? 'no tweak' : 'tweak'}`, () => {
      const cipher = ff1(v.radix, hex(v.key), hex(v.tweak));
      expect(cipher.encrypt(v.pt)).toBe(v.ct);
      expect(cipher.decrypt(v.ct)).toBe(v.pt);
    });
  }

  it('refuses a domain below 1,000,000 (NIST SP 800-38G Rev. 1) and characters outside the alphabet', () => {
    expect(FF1_MIN_DIGITS).toBe(6);
    expect(ff1DomainOk(10, 6)).toBe(true);
    expect(ff1DomainOk(10, 5)).toBe(false);
    expect(ff1DomainOk(36, 4)).toBe(true); // 36^4 = 1,679,616
    expect(ff1DomainOk(36, 3)).toBe(false); // 46,656
    const cipher = ff1(10, hex(K256), new Uint8Array());
    expect(() => cipher.encrypt('12345')).toThrow(/minimum domain/);
    expect(() => cipher.encrypt('12345a')).toThrow(/alphabet/);
    expect(cipher.decrypt(cipher.encrypt('123456'))).toBe('123456');
  });
});

describe('FF1 within the first-digit class (cycle walking)', () => {
  const key = hex(K256);
  it('keeps "starts with 0" as the input had it, and decrypts exactly', () => {
    for (let i = 0; i < 300; i++) {
      const tweak = utf8(`t${i}`);
      for (const input of [`0${String(i).padStart(7, '9')}`, `${1 + (i % 9)}${String(i * 7919).padStart(9, '0')}`]) {
        const out = ff1DigitsWithinClass(key, tweak, input, 'encrypt');
        expect(out).toHaveLength(input.length);
        expect(out.startsWith('0')).toBe(input.startsWith('0'));
        expect(ff1DigitsWithinClass(key, tweak, out, 'decrypt')).toBe(input);
      }
    }
  });

  it('is a bijection on each class (the 1,000 6-digit strings starting 000 map to distinct strings starting 0)', () => {
    const seen = new Set<string>();
    for (let n = 0; n < 1000; n++) {
      const input = `000${String(n).padStart(3, '0')}`;
      const out = ff1DigitsWithinClass(key, utf8('bijection'), input, 'encrypt');
      expect(out[0]).toBe('0');
      expect(ff1DigitsWithinClass(key, utf8('bijection'), out, 'decrypt')).toBe(input);
      seen.add(out);
    }
    expect(seen.size).toBe(1000);
  });

  it('differs from the plain permutation when the class would change (the walk is really taken)', () => {
    // Sample 7's plaintext starts with 0 and its ciphertext does not: within the class the walk goes on.
    const walked = ff1DigitsWithinClass(key, new Uint8Array(), P10, 'encrypt');
    expect(walked).not.toBe('6657667009');
    expect(walked[0]).toBe('0');
  });
});

describe('AES-SIV (RFC 5297 appendix A)', () => {
  it('A.1 deterministic authenticated encryption', () => {
    const key = hex('fffefdfcfbfaf9f8f7f6f5f4f3f2f1f0f0f1f2f3f4f5f6f7f8f9fafbfcfdfeff');
    const ad = [hex('101112131415161718191a1b1c1d1e1f2021222324252627')];
    const pt = hex('112233445566778899aabbccddee');
    const sealed = sivSeal(key, ad, pt);
    expect(toHex(sealed)).toBe('85632d07c6e8f37f950acd320a2ecc93' + '40c02b9690c4dc04daef7f6afe5c');
    expect(toHex(sivOpen(key, ad, sealed)!)).toBe(toHex(pt));
  });

  it('A.2 nonce-based authenticated encryption (two associated data, then the nonce)', () => {
    const key = hex('7f7e7d7c7b7a79787776757473727170404142434445464748494a4b4c4d4e4f');
    const ad = [
      hex('00112233445566778899aabbccddeeffdeaddadadeaddadaffeeddccbbaa99887766554433221100'),
      hex('102030405060708090a0'),
      hex('09f911029d74e35bd84156c5635688c0'),
    ];
    const pt = hex('7468697320697320736f6d6520706c61696e7465787420746f20656e6372797074207573696e67205349562d414553');
    const sealed = sivSeal(key, ad, pt);
    expect(toHex(sealed)).toBe(
      '7bdb6e3b432667eb06f4d14bff2fbd0f' +
        'cb900f2fddbe404326601965c889bf17dba77ceb094fa663b7a3f748ba8af829ea64ad544a272e9c485b62a3fd5c0d',
    );
    expect(toHex(sivOpen(key, ad, sealed)!)).toBe(toHex(pt));
  });

  it('opens nothing that was changed: a flipped bit, other associated data, another key, a truncation', () => {
    const key = vaultlessKey(Buffer.alloc(32, 1), 'test/siv', 64);
    const ad = [utf8('local'), utf8('ns')];
    const sealed = sivSeal(key, ad, utf8('ada.lovelace'));
    expect(new TextDecoder().decode(sivOpen(key, ad, sealed))).toBe('ada.lovelace');
    for (let i = 0; i < sealed.length; i++) {
      const bad = Uint8Array.from(sealed);
      bad[i]! ^= 1;
      expect(sivOpen(key, ad, bad)).toBeUndefined();
    }
    expect(sivOpen(key, [utf8('local'), utf8('ns2')], sealed)).toBeUndefined();
    expect(sivOpen(key, [utf8('localns')], sealed)).toBeUndefined();
    expect(sivOpen(vaultlessKey(Buffer.alloc(32, 2), 'test/siv', 64), ad, sealed)).toBeUndefined();
    expect(sivOpen(key, ad, sealed.subarray(0, 15))).toBeUndefined();
    expect(sivOpen(key, ad, sealed.subarray(0, sealed.length - 1))).toBeUndefined();
  });
});

describe('keys and encodings', () => {
  it('derives a distinct key per purpose and per token key', () => {
    const a = Buffer.alloc(32, 1);
    const keys = ['phone/ff1', 'phone/check', 'digits/ff1', 'email/siv'].map((p) => toHex(vaultlessKey(a, p, 32)));
    expect(new Set(keys).size).toBe(4);
    expect(toHex(vaultlessKey(a, 'phone/ff1', 32))).toBe(keys[0]);
    expect(toHex(vaultlessKey(Buffer.alloc(32, 2), 'phone/ff1', 32))).not.toBe(keys[0]);
    expect(vaultlessKey(a, 'email/siv', 64)).toHaveLength(64);
  });

  it('frames parts so boundaries cannot move', () => {
    expect(toHex(framed('ab', 'c'))).not.toBe(toHex(framed('a', 'bc')));
    expect(toHex(framed('ab'))).toBe('000000026162');
  });

  it('base32: RFC 4648 vectors (lower-case, unpadded), canonical decoding only', () => {
    const vectors: [string, string][] = [['', ''], ['f', 'my'], ['fo', 'mzxq'], ['foo', 'mzxw6'], ['foob', 'mzxw6yq'], ['fooba', 'mzxw6ytb'], ['foobar', 'mzxw6ytboi']];
    for (const [plain, encoded] of vectors) {
      expect(base32Encode(utf8(plain))).toBe(encoded);
      expect(Buffer.from(base32Decode(encoded)!).toString()).toBe(plain);
      expect(base32Length(plain.length)).toBe(encoded.length);
    }
    expect(base32Decode('mz')).toBeUndefined(); // 'my' is the canonical form of 'f': 'mz' has a stray bit
    expect(base32Decode('MZXQ')).toBeUndefined();
    expect(base32Decode('mzx')).toBeUndefined(); // impossible length
    expect(base32Decode('mzx1')).toBeUndefined();
    for (let n = 0; n < 64; n++) {
      const bytes = vaultlessKey(Buffer.alloc(32, n), 'test/b32', 1 + n);
      expect(toHex(base32Decode(base32Encode(bytes))!)).toBe(toHex(bytes));
    }
  });

  it('base64url: round trip, canonical decoding only', () => {
    const bytes = vaultlessKey(Buffer.alloc(32, 3), 'test/b64', 40);
    expect(toHex(base64urlDecode(base64urlEncode(bytes))!)).toBe(toHex(bytes));
    expect(base64urlDecode('a b')).toBeUndefined();
    expect(base64urlDecode('ab+/')).toBeUndefined();
    expect(base64urlDecode('ab==')).toBeUndefined();
    expect(base64urlDecode('ab')).toBeUndefined(); // 'aQ' is the canonical one-byte form starting with 'a'
  });
});
