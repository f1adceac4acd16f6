/**
 * HMAC-SHA256 over a list of parts, framed so that part boundaries cannot be moved.
 *
 * Every keyed value in the gateway (tokens, check characters, vault fingerprints, the `hash` action) is an
 * HMAC over several fields: namespace, variant, value... Concatenating them naively would make
 * ('ab', 'c') and ('a', 'bc') collide, so each part is preceded by its byte length (4 bytes, big-endian).
 */
import { createHmac } from 'node:crypto';

// Reused for every length prefix: Hmac.update() consumes its input synchronously, so one buffer is enough.
const lengthPrefix = Buffer.allocUnsafe(4);

/**
 * HMAC-SHA256(key, len(p1) | p1 | len(p2) | p2 | ...), with each length a 4-byte big-endian byte count.
 * Strings are encoded as UTF-8.
 *
 * @example
 *   hmacSha256(keyring.fingerprintKey, namespace, variant, normalized).toString('hex');
 */
export function hmacSha256(key: Buffer, ...parts: (string | Buffer)[]): Buffer {
  const mac = createHmac('sha256', key);
  for (const part of parts) {
    lengthPrefix.writeUInt32BE(typeof part === 'string' ? Buffer.byteLength(part, 'utf8') : part.length, 0);
    mac.update(lengthPrefix);
    if (typeof part === 'string') mac.update(part, 'utf8');
    else mac.update(part);
  }
  return mac.digest();
}
