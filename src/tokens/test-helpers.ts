/**
 * Shared setup for the token-format unit tests beside this file (and the scanners' tests, which tokenize with
 * the same formats): a keyring with fixed keys, a seeded generator, and the error catcher. Fixed keys and
 * seeds keep the statistical and known-answer assertions reproducible. Test-only (excluded from the build in
 * tsconfig.build.json).
 */
import { createKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';

/** A keyring with fixed keys (root key 32 x 0x07, encryption key k1 32 x 0x09): the same tokens on every run. */
/** A key set from fixed bytes; another `rootByte` gives another key set that is just as reproducible. */
export function fixedKeyring(rootByte = 7): Keyring {
  return createKeyring({
    version: 1,
    rootKey: Buffer.alloc(32, rootByte).toString('base64'),
    activeKeyId: 'k1',
    encryptionKeys: { k1: Buffer.alloc(32, 9).toString('base64') },
  });
}

/** A seeded uniform generator in [0, 1) (mulberry32, test/helpers/prng.ts), so random-looking inputs are reproducible. */
export { prng as rng } from '../../test/helpers/prng.js';

/** `n` characters drawn from `alphabet` with `r`. */
export function pick(r: () => number, alphabet: string, n: number): string {
  let s = '';
  for (let i = 0; i < n; i++) s += alphabet[Math.floor(r() * alphabet.length)];
  return s;
}

/** What `fn` threw (code, message, field); fails the test when it does not throw. */
export function errorOf(fn: () => unknown): { code?: string; message: string; field?: string } {
  try {
    fn();
  } catch (err) {
    return err as { code?: string; message: string; field?: string };
  }
  throw new Error('expected an error');
}
