import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { open, seal } from './aead.js';

const key = randomBytes(32);
const aad = Buffer.from('default\0tok_abc');

function expectGatewayError(fn: () => unknown, code: string): void {
  try {
    fn();
  } catch (err) {
    expect((err as { code?: string }).code).toBe(code);
    return;
  }
  throw new Error('expected a GatewayError');
}

describe('seal / open', () => {
  it('round-trips strings and buffers', () => {
    expect(open(key, seal(key, 'ada@example.com', aad), aad).toString('utf8')).toBe('ada@example.com');
    const bytes = randomBytes(1000);
    expect(open(key, seal(key, bytes, aad), aad).equals(bytes)).toBe(true);
    expect(open(key, seal(key, '', aad), aad)).toHaveLength(0);
  });

  it('lays out iv(12) | tag(16) | ciphertext with a fresh iv each time', () => {
    const a = seal(key, 'hello', aad);
    const b = seal(key, 'hello', aad);
    expect(a).toHaveLength(12 + 16 + 5);
    expect(a.subarray(0, 12).equals(b.subarray(0, 12))).toBe(false);
    expect(a.equals(b)).toBe(false);
  });

  it('detects tampering with any part', () => {
    const sealed = seal(key, 'ada@example.com', aad);
    for (const index of [0, 11, 12, 27, 28, sealed.length - 1]) {
      const bad = Buffer.from(sealed);
      bad[index]! ^= 1;
      expectGatewayError(() => open(key, bad, aad), 'INTERNAL');
    }
    expectGatewayError(() => open(key, sealed.subarray(0, sealed.length - 1), aad), 'INTERNAL');
    expectGatewayError(() => open(key, sealed.subarray(0, 20), aad), 'INTERNAL');
  });

  it('binds the AAD and the key', () => {
    const sealed = seal(key, 'ada@example.com', aad);
    expectGatewayError(() => open(key, sealed, Buffer.from('default\0tok_abd')), 'INTERNAL');
    expectGatewayError(() => open(key, sealed, Buffer.alloc(0)), 'INTERNAL');
    expectGatewayError(() => open(randomBytes(32), sealed, aad), 'INTERNAL');
  });

  it('refuses keys that are not 32 bytes', () => {
    expectGatewayError(() => seal(randomBytes(16), 'x', aad), 'INTERNAL');
    expectGatewayError(() => open(randomBytes(16), seal(key, 'x', aad), aad), 'INTERNAL');
  });
});
