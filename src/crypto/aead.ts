/**
 * AES-256-GCM sealing of vault values.
 *
 * The sealed form is self-contained: iv (12 bytes) | tag (16 bytes) | ciphertext. A fresh random iv per
 * call is safe for up to about 2^32 seals per key (NIST SP 800-38D), far beyond one key's life here; the
 * keyring's key ids let operators rotate before that. The AAD binds a ciphertext to its context (the
 * vault uses namespace NUL token), so a row moved to another token fails to open.
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';
import { GatewayError } from '../errors.js';

const IV_BYTES = 12;
const TAG_BYTES = 16;
const KEY_BYTES = 32;

function checkKey(key: Buffer): void {
  if (key.length !== KEY_BYTES) {
    throw new GatewayError('INTERNAL', `AES-256-GCM key must be ${KEY_BYTES} bytes, got ${key.length}`);
  }
}

/**
 * Encrypts and authenticates `plaintext` (strings as UTF-8) under a 32-byte key, binding `aad`.
 * Returns iv(12) | tag(16) | ciphertext.
 *
 * @example
 *   const sealed = seal(key, 'ada@example.com', Buffer.from(`${namespace}\0${token}`));
 */
export function seal(key: Buffer, plaintext: Buffer | string, aad: Buffer): Buffer {
  checkKey(key);
  const iv = randomBytes(IV_BYTES);
  const cipher = createCipheriv('aes-256-gcm', key, iv, { authTagLength: TAG_BYTES });
  cipher.setAAD(aad);
  const body = typeof plaintext === 'string' ? cipher.update(plaintext, 'utf8') : cipher.update(plaintext);
  const tail = cipher.final(); // empty for GCM, kept for correctness
  const tag = cipher.getAuthTag();
  return Buffer.concat([iv, tag, body, tail], IV_BYTES + TAG_BYTES + body.length + tail.length);
}

/**
 * Decrypts a value made by {@link seal}. Throws GatewayError('INTERNAL') when the value is truncated,
 * was tampered with, or the key or the AAD differ from the ones it was sealed with. Never returns
 * unauthenticated bytes.
 *
 * @example
 *   const value = open(key, row.sealed, Buffer.from(`${namespace}\0${token}`)).toString('utf8');
 */
export function open(key: Buffer, sealed: Buffer, aad: Buffer): Buffer {
  checkKey(key);
  if (sealed.length < IV_BYTES + TAG_BYTES) {
    throw new GatewayError('INTERNAL', 'sealed value is too short to be AES-256-GCM output');
  }
  const decipher = createDecipheriv('aes-256-gcm', key, sealed.subarray(0, IV_BYTES), { authTagLength: TAG_BYTES });
  decipher.setAuthTag(sealed.subarray(IV_BYTES, IV_BYTES + TAG_BYTES));
  decipher.setAAD(aad);
  try {
    const body = decipher.update(sealed.subarray(IV_BYTES + TAG_BYTES));
    const tail = decipher.final();
    return tail.length === 0 ? body : Buffer.concat([body, tail]);
  } catch (cause) {
    throw new GatewayError('INTERNAL', 'sealed value failed authentication (wrong key, wrong AAD or tampered)', { cause });
  }
}
