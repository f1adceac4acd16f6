/**
 * API keys: random 256-bit secrets shown once to their owner; the gateway keeps only their SHA-256.
 *
 * Why SHA-256 and not bcrypt/scrypt/argon2: slow hashes exist to make guessing *low-entropy* secrets
 * (passwords) expensive. A key here is 32 bytes from the CSPRNG, so a leaked hash file gives an attacker a
 * 2^256 preimage search whatever the hash speed; a slow hash would add nothing but ~100 ms of CPU per
 * request, which is a denial-of-service lever. Keys are only accepted in their generated shape
 * (`pgk_` + 43 base64url characters), so a human-chosen weak key can never be presented.
 *
 * Comparison: the presented key's digest is compared with every stored digest with timingSafeEqual and no
 * early exit, so timing reveals neither which entry matched nor how much of a digest did.
 *
 * File format (one key per line, what `pii-gateway apikey create` prints; `#` comments):
 *
 *   dispatcher detokenize sha256:9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08
 *   crm-sync   tokenize,detokenize sha256:...
 *
 * Revoking a key is deleting (or commenting out) its line: the file is re-read when its size or mtime
 * changes (checked at most once a second); a file that no longer parses refuses every key (fail closed).
 */
import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';
import { PERMISSIONS, type Permission, type Principal } from './principal.js';

export const API_KEY_PREFIX = 'pgk_';
const API_KEY_SHAPE = /^pgk_[A-Za-z0-9_-]{43}$/;
const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const LINE = /^(\S+)\s+(\S+)\s+sha256:([0-9a-f]{64})$/;

/** A stored key: name, permissions and the SHA-256 of the key. */
export interface ApiKeyEntry {
  readonly name: string;
  readonly permissions: readonly Permission[];
  readonly digest: Buffer;
}

/** True for a string in the shape `generateApiKey` produces (used to tell API keys from JWTs). */
export function looksLikeApiKey(credential: string): boolean {
  return credential.startsWith(API_KEY_PREFIX);
}

/** A new key: `pgk_` + 32 random bytes, base64url. */
export function generateApiKey(): string {
  return API_KEY_PREFIX + randomBytes(32).toString('base64url');
}

export function hashApiKey(key: string): Buffer {
  return createHash('sha256').update(key, 'utf8').digest();
}

/**
 * The line to store for `key`.
 * @example
 *   apiKeyLine('dispatcher', ['detokenize'], key) // 'dispatcher detokenize sha256:...'
 */
export function apiKeyLine(name: string, permissions: readonly Permission[], key: string): string {
  return `${name} ${permissions.join(',')} sha256:${hashApiKey(key).toString('hex')}`;
}

/** Checks a name and a comma-separated permission list; returns a message instead of throwing. */
export function checkNameAndPermissions(name: string, permissions: string): { permissions: Permission[] } | { error: string } {
  if (!NAME.test(name)) return { error: `name: expected letters, digits, ., - and _ (at most 64), got '${name}'` };
  const perms = permissions.split(',').map((p) => p.trim()).filter((p) => p !== '');
  if (perms.length === 0) return { error: `permissions: expected some of ${PERMISSIONS.join(', ')}` };
  for (const p of perms) {
    if (!(PERMISSIONS as readonly string[]).includes(p)) return { error: `permissions: unknown permission '${p}' (expected ${PERMISSIONS.join(', ')})` };
  }
  return { permissions: [...new Set(perms)] as Permission[] };
}

/**
 * Parses an API key file. Errors name the line number, never its content beyond the name.
 * @throws GatewayError CONFIG_INVALID
 */
export function parseApiKeyFile(text: string, file: string): ApiKeyEntry[] {
  const entries: ApiKeyEntry[] = [];
  const names = new Set<string>();
  text.split('\n').forEach((raw, i) => {
    const line = raw.replace(/#.*$/, '').trim();
    if (line === '') return;
    const m = LINE.exec(line);
    const where = `${file}:${i + 1}`;
    if (!m) throw new GatewayError('CONFIG_INVALID', `${where}: expected '<name> <permissions> sha256:<64 hex digits>'`);
    const checked = checkNameAndPermissions(m[1]!, m[2]!);
    if ('error' in checked) throw new GatewayError('CONFIG_INVALID', `${where}: ${checked.error}`);
    if (names.has(m[1]!)) throw new GatewayError('CONFIG_INVALID', `${where}: duplicate key name '${m[1]}'`);
    names.add(m[1]!);
    entries.push(Object.freeze({ name: m[1]!, permissions: Object.freeze(checked.permissions), digest: Buffer.from(m[3]!, 'hex') }));
  });
  return entries;
}

/** Finds the entry for `key` comparing digests in constant time over the whole list. */
export function matchApiKey(entries: readonly ApiKeyEntry[], key: string): ApiKeyEntry | undefined {
  // Shape check first: only generated keys are ever valid, and it bounds the hashing work.
  if (!API_KEY_SHAPE.test(key)) return undefined;
  const digest = hashApiKey(key);
  let found: ApiKeyEntry | undefined;
  for (const e of entries) {
    if (timingSafeEqual(e.digest, digest) && found === undefined) found = e;
  }
  return found;
}

/** The API key file, re-read when it changes. Built once at start-up. */
export class ApiKeyStore {
  readonly #file: string;
  readonly #log: Logger | undefined;
  #entries: readonly ApiKeyEntry[] = [];
  #stamp = '';
  #checkedAt = 0;
  #broken = false;

  /** Reads the file now; a missing or malformed file at start-up is an error (CONFIG_INVALID). */
  constructor(file: string, log?: Logger) {
    this.#file = file;
    this.#log = log;
    this.#reload(true);
  }

  /** Number of keys currently accepted. */
  get size(): number {
    return this.#broken ? 0 : this.#entries.length;
  }

  /**
   * The caller for `key`, or throws AUTH_INVALID. The message is the same for an unknown, revoked or
   * malformed key (and never echoes it).
   */
  authenticate(key: string): Principal {
    this.#maybeReload();
    const entry = this.#broken ? undefined : matchApiKey(this.#entries, key);
    if (entry === undefined) throw new GatewayError('AUTH_INVALID', 'the API key is not valid');
    return Object.freeze({ kind: 'apikey', id: `apikey:${entry.name}`, permissions: new Set(entry.permissions) });
  }

  #maybeReload(): void {
    const now = Date.now();
    if (now - this.#checkedAt < 1000) return;
    this.#checkedAt = now;
    this.#reload(false);
  }

  #reload(initial: boolean): void {
    try {
      const st = statSync(this.#file);
      const stamp = `${st.size}:${st.mtimeMs}:${st.ino}`;
      if (!initial && stamp === this.#stamp && !this.#broken) return;
      const entries = parseApiKeyFile(readFileSync(this.#file, 'utf8'), this.#file);
      this.#entries = Object.freeze(entries);
      this.#stamp = stamp;
      if (!initial) this.#log?.info({ apiKeys: entries.length }, 'API key file reloaded');
      this.#broken = false;
    } catch (err) {
      if (initial) {
        if (isGatewayError(err)) throw err;
        throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_API_KEYS_FILE: cannot read ${this.#file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
      }
      if (!this.#broken) this.#log?.error({ file: this.#file, code: (err as { code?: string }).code }, 'API key file unreadable: every API key is refused until it is fixed');
      this.#broken = true;
    }
  }
}
