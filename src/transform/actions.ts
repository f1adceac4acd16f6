/**
 * The vault-free rule actions: mask and hash. Pure functions, no I/O.
 *
 * hash is keyed HMAC-SHA256 with the keyring's hashKey: irreversible, and without the key a dictionary
 * attack on a phone number space is infeasible (an unsalted hash of a phone number is not, so we never
 * offer one). mask keeps just enough for a human to recognise the value in a support screen.
 */
import { createHmac } from 'node:crypto';

/**
 * @example
 *   maskValue('jack@gmail.com', 'email') // 'j***@gmail.com'
 *   maskValue('+14155551234', 'phone')   // '+1*******234'
 *   maskValue('Jack Montana', 'generic') // 'J***'
 */
export function maskValue(value: string, style: 'email' | 'phone' | 'generic'): string {
  if (style === 'email') {
    const at = value.lastIndexOf('@');
    if (at > 0) return value[0] + '***' + value.slice(at);
  }
  if (style === 'phone') {
    const digits = value.replace(/\D/g, '');
    if (digits.length >= 7) {
      const plus = value.trimStart().startsWith('+') ? '+' : '';
      return plus + digits.slice(0, 1) + '*'.repeat(digits.length - 4) + digits.slice(-3);
    }
  }
  // generic, and the fallback for values that do not look like their style: reveal one character only
  const first = String.fromCodePoint(value.codePointAt(0) ?? 42);
  return value.length === 0 ? '' : first + '***';
}

/**
 * @example
 *   hashValue(key, 'jack@gmail.com', 'hex', 'h_') // 'h_5f1c...' (64 hex digits)
 */
export function hashValue(key: Buffer, value: string, encoding: 'hex' | 'base64url', prefix: string): string {
  return prefix + createHmac('sha256', key).update(value, 'utf8').digest(encoding);
}
