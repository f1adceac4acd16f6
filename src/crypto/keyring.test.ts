import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { GatewayError } from '../errors.js';
import {
  createKeyring,
  ensureDevKeyFile,
  ephemeralKeyring,
  generateKeyFile,
  loadKeyring,
  writeKeyFile,
} from './keyring.js';
import type { KeyFile } from './types.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'pii-gateway-keys-'));
});
afterEach(() => {
  rmSync(dir, { recursive: true, force: true });
});

function caught(fn: () => unknown): GatewayError {
  try {
    fn();
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected an error');
}

/** Every secret of a key file, to assert none leaks into a message. */
function secrets(file: KeyFile): string[] {
  return [file.rootKey, ...Object.values(file.encryptionKeys)];
}

describe('generateKeyFile / createKeyring', () => {
  it('generates a valid file with one active key k1', () => {
    const file = generateKeyFile();
    expect(file.version).toBe(1);
    expect(file.activeKeyId).toBe('k1');
    expect(Object.keys(file.encryptionKeys)).toEqual(['k1']);
    expect(Buffer.from(file.rootKey, 'base64')).toHaveLength(32);
    expect(generateKeyFile().rootKey).not.toBe(file.rootKey);
  });

  it('derives four distinct 32-byte HMAC keys, stable for one root key', () => {
    const file = generateKeyFile();
    const a = createKeyring(file);
    const keys = [a.tokenKey, a.checkKey, a.fingerprintKey, a.hashKey];
    for (const k of keys) expect(k).toHaveLength(32);
    expect(new Set(keys.map((k) => k.toString('hex'))).size).toBe(4);
    expect(keys.some((k) => k.equals(Buffer.from(file.rootKey, 'base64')))).toBe(false);
    const b = createKeyring(file);
    expect(b.tokenKey.equals(a.tokenKey)).toBe(true);
    expect(b.hashKey.equals(a.hashKey)).toBe(true);
    expect(createKeyring(generateKeyFile()).tokenKey.equals(a.tokenKey)).toBe(false);
  });

  it('exposes encryption keys by id and cannot be modified', () => {
    const file = generateKeyFile();
    file.encryptionKeys.k0 = Buffer.alloc(32, 5).toString('base64');
    const ring = createKeyring(file);
    expect(ring.activeKeyId).toBe('k1');
    expect(ring.encryptionKeys.get('k0')?.equals(Buffer.alloc(32, 5))).toBe(true);
    expect(ring.encryptionKeys.get('k1')).toHaveLength(32);
    expect(Object.isFrozen(ring)).toBe(true);
    expect(() => ((ring as { activeKeyId: string }).activeKeyId = 'k0')).toThrow(TypeError);
    expect(() => (ring.encryptionKeys as Map<string, Buffer>).set('k2', Buffer.alloc(32))).toThrow(TypeError);
    expect(() => (ring.encryptionKeys as Map<string, Buffer>).delete('k1')).toThrow(TypeError);
    expect(ring.encryptionKeys.size).toBe(2);
  });

  const cases: [string, (f: KeyFile) => void, string][] = [
    ['bad base64 root key', (f) => (f.rootKey = 'not base64!'), 'rootKey'],
    ['short root key', (f) => (f.rootKey = Buffer.alloc(16, 1).toString('base64')), 'rootKey'],
    ['unpadded root key', (f) => (f.rootKey = f.rootKey.replace(/=$/, '')), 'rootKey'],
    ['bad encryption key', (f) => (f.encryptionKeys.k1 = f.encryptionKeys.k1!.slice(2)), 'encryptionKeys.k1'],
    ['missing active key', (f) => (f.activeKeyId = 'k9'), 'activeKeyId'],
    ['no encryption keys', (f) => (f.encryptionKeys = {}), 'encryptionKeys'],
    ['wrong version', (f) => ((f as { version: number }).version = 2), 'version'],
    ['unknown field', (f) => ((f as unknown as Record<string, string>).rootkey = 'x'), 'rootkey'],
    ['encryption key equal to root key', (f) => (f.encryptionKeys.k1 = f.rootKey), 'encryptionKeys.k1'],
  ];
  for (const [name, mutate, field] of cases) {
    it(`refuses ${name} with KEYS_INVALID naming ${field}, never a secret`, () => {
      const file = generateKeyFile();
      mutate(file);
      const err = caught(() => createKeyring(file));
      expect(err.code).toBe('KEYS_INVALID');
      expect(err.field).toBe(field);
      expect(err.message).toContain(field);
      for (const secret of secrets(file)) expect(err.message).not.toContain(secret.slice(0, 12));
    });
  }
});

describe('writeKeyFile / loadKeyring', () => {
  it('round-trips through a 0600 file in a new directory', () => {
    const path = join(dir, 'nested', 'keys.json');
    const file = generateKeyFile();
    writeKeyFile(path, file);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(file);
    const ring = loadKeyring({ file: path });
    expect(ring.tokenKey.equals(createKeyring(file).tokenKey)).toBe(true);
    expect(ring.encryptionKeys.get('k1')?.toString('base64')).toBe(file.encryptionKeys.k1);
  });

  it('never overwrites an existing file', () => {
    const path = join(dir, 'keys.json');
    const first = generateKeyFile();
    writeKeyFile(path, first);
    const err = caught(() => writeKeyFile(path, generateKeyFile()));
    expect(err.code).toBe('KEYS_INVALID');
    expect(err.message).toContain('already exists');
    expect(JSON.parse(readFileSync(path, 'utf8'))).toEqual(first);
  });

  it('refuses a key file readable by group or others, saying chmod 600', () => {
    const path = join(dir, 'keys.json');
    writeKeyFile(path, generateKeyFile());
    for (const mode of [0o644, 0o640, 0o604]) {
      chmodSync(path, mode);
      const err = caught(() => loadKeyring({ file: path }));
      expect(err.code).toBe('KEYS_INVALID');
      expect(err.message).toContain(`chmod 600 ${path}`);
    }
    chmodSync(path, 0o400);
    expect(loadKeyring({ file: path }).activeKeyId).toBe('k1');
  });

  it('prefers JSON over the file, ignoring blank JSON', () => {
    const path = join(dir, 'keys.json');
    const onDisk = generateKeyFile();
    writeKeyFile(path, onDisk);
    const inEnv = generateKeyFile();
    const fromJson = loadKeyring({ json: JSON.stringify(inEnv), file: path });
    expect(fromJson.tokenKey.equals(createKeyring(inEnv).tokenKey)).toBe(true);
    const fromFile = loadKeyring({ json: '  ', file: path });
    expect(fromFile.tokenKey.equals(createKeyring(onDisk).tokenKey)).toBe(true);
  });

  it('says how to create keys when none are configured or the file is missing', () => {
    for (const source of [{}, { json: '', file: '' }, { file: join(dir, 'missing.json') }]) {
      const err = caught(() => loadKeyring(source));
      expect(err.code).toBe('KEYS_INVALID');
      expect(err.message).toContain('PII_GATEWAY_KEYS_FILE');
      expect(err.message).toContain('keys init');
    }
  });

  it('reports invalid JSON and invalid fields without echoing key material', () => {
    const file = generateKeyFile();
    const broken = JSON.stringify(file).slice(0, -3);
    const err = caught(() => loadKeyring({ json: broken }));
    expect(err.code).toBe('KEYS_INVALID');
    expect(err.message).toBe('PII_GATEWAY_KEYS is not valid JSON');
    expect(err.cause).toBeUndefined();

    const path = join(dir, 'keys.json');
    writeFileSync(path, JSON.stringify({ ...file, activeKeyId: 'nope' }), { mode: 0o600 });
    const err2 = caught(() => loadKeyring({ file: path }));
    expect(err2.message).toBe(`key file ${path}: activeKeyId "nope" is not one of encryptionKeys`);
    expect(err2.field).toBe('activeKeyId');
  });

  it('ensureDevKeyFile creates once and then leaves the file alone', () => {
    const path = join(dir, 'dev', 'keys.json');
    expect(ensureDevKeyFile(path)).toEqual({ created: true });
    const before = readFileSync(path, 'utf8');
    expect(ensureDevKeyFile(path)).toEqual({ created: false });
    expect(readFileSync(path, 'utf8')).toBe(before);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(loadKeyring({ file: path }).activeKeyId).toBe('k1');
  });

  it('ephemeralKeyring gives fresh keys each time', () => {
    expect(ephemeralKeyring().tokenKey.equals(ephemeralKeyring().tokenKey)).toBe(false);
  });
});
