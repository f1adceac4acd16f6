/**
 * Loading, validating and creating the gateway's keys.
 *
 * One root key (32 random bytes) yields every HMAC key by HKDF-SHA256 with a distinct label per purpose,
 * so the token key, the check key, the fingerprint key and the hash key are independent: leaking or
 * misusing one says nothing about the others. Encryption keys are separate random keys with ids so that
 * they can rotate (new rows use `activeKeyId`; old ids stay to open old rows).
 *
 * Keys come from PII_GATEWAY_KEYS (JSON) or from the file named by PII_GATEWAY_KEYS_FILE. A key file must
 * be private to its owner (mode 0600): a readable key file is refused rather than used. Error messages
 * name the field or the path that is wrong, never a secret.
 */
import { closeSync, constants, fstatSync, fsyncSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname } from 'node:path';
import { hkdfSync, randomBytes } from 'node:crypto';
import { GatewayError, isGatewayError } from '../errors.js';
import type { KeyFile, Keyring } from './types.js';

const KEY_BYTES = 32;

/** HKDF info labels, one per purpose. Never change one: it would change every token or fingerprint. */
export const HKDF_LABELS = Object.freeze({
  tokenKey: 'pii-gateway/token/v1',
  checkKey: 'pii-gateway/check/v1',
  fingerprintKey: 'pii-gateway/fingerprint/v1',
  hashKey: 'pii-gateway/hash/v1',
} as const);

const HOW_TO_CREATE =
  'set PII_GATEWAY_KEYS to the key JSON, or PII_GATEWAY_KEYS_FILE to a key file ' +
  '(create one with `pii-gateway keys init <path>`; `npm start` creates a development key file on first run)';

const KEY_FILE_FIELDS = new Set(['version', 'rootKey', 'activeKeyId', 'encryptionKeys']);

function invalid(message: string, field?: string): GatewayError {
  return new GatewayError('KEYS_INVALID', message, field === undefined ? {} : { field });
}

/** Key ids are names, not secrets: short, printable, safe in logs and in stored rows. */
function isValidKeyId(id: string): boolean {
  if (id.length === 0 || id.length > 64) return false;
  for (let i = 0; i < id.length; i++) {
    const c = id.charCodeAt(i);
    const ok =
      (c >= 48 && c <= 57) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 45 || c === 46 || c === 95;
    if (!ok) return false;
  }
  return true;
}

/** Strict base64 of exactly 32 bytes (44 characters, one '=' of padding). */
function decodeKey(value: unknown, field: string): Buffer {
  if (typeof value !== 'string') throw invalid(`${field} must be a string (base64 of ${KEY_BYTES} random bytes)`, field);
  const bytes = Buffer.from(value, 'base64');
  // Buffer.from() skips characters it does not know; re-encoding catches that and non-canonical padding.
  if (bytes.length !== KEY_BYTES || bytes.toString('base64') !== value) {
    throw invalid(
      `${field} must be standard base64 of ${KEY_BYTES} bytes (44 characters, e.g. from \`openssl rand -base64 32\`)`,
      field,
    );
  }
  return bytes;
}

function derive(rootKey: Buffer, label: string): Buffer {
  return Buffer.from(hkdfSync('sha256', rootKey, Buffer.alloc(0), label, KEY_BYTES));
}

/** A Map whose mutators throw, so a frozen keyring cannot be changed through `encryptionKeys` either. */
function readonlyMap(entries: [string, Buffer][]): ReadonlyMap<string, Buffer> {
  const map = new Map(entries);
  const refuse = (): never => {
    throw new TypeError('keyring encryptionKeys is read-only');
  };
  Object.defineProperties(map, { set: { value: refuse }, delete: { value: refuse }, clear: { value: refuse } });
  return Object.freeze(map);
}

/**
 * A fresh key file: random 32-byte root key and one random encryption key 'k1', active.
 *
 * @example
 *   writeKeyFile('/etc/pii-gateway/keys.json', generateKeyFile());
 */
export function generateKeyFile(): KeyFile {
  return {
    version: 1,
    rootKey: randomBytes(KEY_BYTES).toString('base64'),
    activeKeyId: 'k1',
    encryptionKeys: { k1: randomBytes(KEY_BYTES).toString('base64') },
  };
}

/**
 * Validates a key file and derives the keyring (frozen). Throws GatewayError('KEYS_INVALID') naming the
 * field at fault; the message never contains key material.
 *
 * @example
 *   const keyring = createKeyring(JSON.parse(process.env.PII_GATEWAY_KEYS!));
 */
export function createKeyring(file: KeyFile): Keyring {
  if (typeof file !== 'object' || file === null || Array.isArray(file)) {
    throw invalid('keys must be a JSON object with version, rootKey, activeKeyId and encryptionKeys');
  }
  for (const name of Object.keys(file)) {
    if (!KEY_FILE_FIELDS.has(name)) throw invalid(`unknown field "${name.slice(0, 64)}" in keys`, name.slice(0, 64));
  }
  if (file.version !== 1) throw invalid('version must be 1', 'version');
  const rootKey = decodeKey(file.rootKey, 'rootKey');

  const { encryptionKeys, activeKeyId } = file;
  if (typeof encryptionKeys !== 'object' || encryptionKeys === null || Array.isArray(encryptionKeys)) {
    throw invalid('encryptionKeys must be an object of key id -> base64 key', 'encryptionKeys');
  }
  const entries: [string, Buffer][] = [];
  for (const [id, value] of Object.entries(encryptionKeys)) {
    if (!isValidKeyId(id)) {
      throw invalid('encryptionKeys ids must be 1-64 characters of A-Z a-z 0-9 . _ -', 'encryptionKeys');
    }
    const key = decodeKey(value, `encryptionKeys.${id}`);
    if (key.equals(rootKey)) throw invalid(`encryptionKeys.${id} must differ from rootKey`, `encryptionKeys.${id}`);
    entries.push([id, key]);
  }
  if (entries.length === 0) throw invalid('encryptionKeys must hold at least one key', 'encryptionKeys');
  if (typeof activeKeyId !== 'string' || activeKeyId.length === 0) {
    throw invalid('activeKeyId must be the id of one of encryptionKeys', 'activeKeyId');
  }
  if (!entries.some(([id]) => id === activeKeyId)) {
    throw invalid(
      isValidKeyId(activeKeyId)
        ? `activeKeyId "${activeKeyId}" is not one of encryptionKeys`
        : 'activeKeyId is not one of encryptionKeys',
      'activeKeyId',
    );
  }

  return Object.freeze({
    tokenKey: derive(rootKey, HKDF_LABELS.tokenKey),
    checkKey: derive(rootKey, HKDF_LABELS.checkKey),
    fingerprintKey: derive(rootKey, HKDF_LABELS.fingerprintKey),
    hashKey: derive(rootKey, HKDF_LABELS.hashKey),
    activeKeyId,
    encryptionKeys: readonlyMap(entries),
  });
}

function parseKeys(text: string, source: string): Keyring {
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    // JSON.parse messages quote the input, which is key material: say only where the problem is.
    throw invalid(`${source} is not valid JSON`);
  }
  try {
    return createKeyring(parsed as KeyFile);
  } catch (err) {
    if (isGatewayError(err)) {
      throw new GatewayError('KEYS_INVALID', `${source}: ${err.message}`, err.field === undefined ? {} : { field: err.field });
    }
    throw err;
  }
}

/**
 * Loads the keyring from JSON (PII_GATEWAY_KEYS) or, when that is unset or blank, from a key file
 * (PII_GATEWAY_KEYS_FILE). A key file readable by group or others is refused. Throws
 * GatewayError('KEYS_INVALID') with a message saying what to do.
 *
 * @example
 *   const keyring = loadKeyring({ json: process.env.PII_GATEWAY_KEYS, file: process.env.PII_GATEWAY_KEYS_FILE });
 */
export function loadKeyring(source: { json?: string | undefined; file?: string | undefined }): Keyring {
  if (source.json !== undefined && source.json.trim() !== '') return parseKeys(source.json, 'PII_GATEWAY_KEYS');
  const path = source.file;
  if (path === undefined || path.trim() === '') throw invalid(`no keys configured: ${HOW_TO_CREATE}`);

  let fd: number;
  try {
    fd = openSync(path, constants.O_RDONLY);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') throw invalid(`key file ${path} does not exist: ${HOW_TO_CREATE}`);
    throw invalid(`key file ${path} cannot be opened (${code ?? 'error'})`);
  }
  try {
    // fstat on the open descriptor: the file checked is the file read.
    const stat = fstatSync(fd);
    if (!stat.isFile()) throw invalid(`key file ${path} is not a regular file`);
    if (process.platform !== 'win32' && (stat.mode & 0o077) !== 0) {
      const mode = (stat.mode & 0o777).toString(8).padStart(4, '0');
      throw invalid(`key file ${path} is readable by group or others (mode ${mode}); run: chmod 600 ${path}`);
    }
    return parseKeys(readFileSync(fd, 'utf8'), `key file ${path}`);
  } finally {
    closeSync(fd);
  }
}

/** Writes `file` to a new file at `path` (mode 0600); false when `path` already exists. */
function writeNewKeyFile(path: string, file: KeyFile): boolean {
  createKeyring(file);
  mkdirSync(dirname(path), { recursive: true, mode: 0o700 });
  let fd: number;
  try {
    fd = openSync(path, 'wx', 0o600);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'EEXIST') return false;
    throw invalid(`key file ${path} cannot be created (${code ?? 'error'})`);
  }
  try {
    writeSync(fd, `${JSON.stringify(file, null, 2)}\n`);
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
  return true;
}

/**
 * Writes a key file with mode 0600, creating its directory (0700) if needed. Never overwrites: an
 * existing file makes it throw GatewayError('KEYS_INVALID'). The file is validated before it is written.
 *
 * @example
 *   writeKeyFile('./.pii-gateway/keys.json', generateKeyFile());
 */
export function writeKeyFile(path: string, file: KeyFile): void {
  if (!writeNewKeyFile(path, file)) throw invalid(`key file ${path} already exists (refusing to overwrite keys)`);
}

/**
 * Creates a development key file at `path` unless one exists (used by `npm start` on a fresh clone).
 * An existing file is left alone, whatever it holds (loadKeyring() validates it).
 *
 * @example
 *   if (ensureDevKeyFile('.pii-gateway/keys.json').created) log.warn('created development keys');
 */
export function ensureDevKeyFile(path: string): { created: boolean } {
  return { created: writeNewKeyFile(path, generateKeyFile()) };
}

/**
 * Random in-memory keys, gone when the process ends: for tests and for `rules check`.
 *
 * @example
 *   const spec = createTokenSpec({ type: 'email' }, ephemeralKeyring());
 */
export function ephemeralKeyring(): Keyring {
  return createKeyring(generateKeyFile());
}
