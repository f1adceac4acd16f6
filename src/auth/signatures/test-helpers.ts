/**
 * Shared setup for the signature unit tests beside this file: the error-code catcher, secret keys and the
 * provider fixtures under test/fixtures/providers. Test-only (excluded from the build in tsconfig.build.json).
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';

/** Runs `fn` and returns the `code` of what it threw, or undefined when it did not throw. */
export function codeOf(fn: () => void): string | undefined {
  try {
    fn();
  } catch (err) {
    return (err as { code?: string }).code;
  }
  return undefined;
}

/** A secret KeyObject from a UTF-8 string, as the rule loader builds one from a secret reference. */
export function secretKey(secret: string): KeyObject {
  return createSecretKey(Buffer.from(secret, 'utf8'));
}

/** The raw bytes of test/fixtures/providers/<name>. */
export function providerFixture(name: string): Buffer {
  return readFileSync(new URL(`../../../test/fixtures/providers/${name}`, import.meta.url));
}

/** test/fixtures/providers/<name> parsed as JSON (the caller states the shape). */
export function providerJsonFixture<T>(name: string): T {
  return JSON.parse(providerFixture(name).toString('utf8')) as T;
}
