/**
 * Defends: "the vault file holds no plaintext". Tokenizes canary values, then searches the raw bytes of the
 * database file and its WAL (while open, and after close) for the canaries in every form we can think of.
 */
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { LocalVault } from '../../src/vault/local.js';
import { SqliteStore } from '../../src/vault/sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-canary-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const CANARIES = {
  email: 'Canary.Lovelace@Analytical-Engine.example',
  phone: '+44 20 7946 0958',
  opaque: 'Augusta Ada King-Noel',
} as const;

/** Every needle a canary could leave: as given, normalized, lower/upper case, digits only, hex, UTF-16. */
function needles(): Buffer[] {
  const strings = new Set<string>();
  for (const value of Object.values(CANARIES)) {
    const forms = [value, value.toLowerCase(), value.toUpperCase(), value.replace(/[^0-9+]/g, ''), value.replace(/\D/g, '')];
    for (const part of value.split(/[@ .-]/)) if (part.length >= 5) forms.push(part, part.toLowerCase());
    for (const f of forms) {
      if (f.length < 5) continue;
      strings.add(f);
      strings.add(Buffer.from(f).toString('hex'));
      strings.add(Buffer.from(f).toString('hex').toUpperCase());
      strings.add(Buffer.from(f).toString('base64').slice(0, -2));
    }
  }
  const out: Buffer[] = [];
  for (const s of strings) out.push(Buffer.from(s, 'utf8'), Buffer.from(s, 'utf16le'));
  return out;
}

function filesOf(path: string): string[] {
  return [path, `${path}-wal`, `${path}-journal`].filter((p) => existsSync(p));
}

function leaks(files: string[]): string[] {
  const found: string[] = [];
  for (const file of files) {
    const bytes = readFileSync(file);
    for (const needle of needles()) if (bytes.includes(needle)) found.push(`${file}: ${needle.toString('hex')}`);
  }
  return found;
}

describe('sqlite vault file', () => {
  it('contains no plaintext of tokenized values, in the main file or the WAL', async () => {
    const path = join(dir, 'vault.db');
    const keyring = ephemeralKeyring();
    const vault = new LocalVault(new SqliteStore(path), keyring);
    const items = (['email', 'phone', 'opaque'] as const).map((type) => ({
      spec: createTokenSpec({ type, namespace: 'leakcheck' }, keyring),
      value: CANARIES[type],
    }));
    const random = items.map((i) => ({ spec: createTokenSpec({ type: i.spec.type, namespace: 'leakcheck', random: true }, keyring), value: i.value }));
    const tokens = await vault.tokenize([...items, ...random]);
    const results = await vault.detokenize(tokens.map((token) => ({ namespace: 'leakcheck', token })));
    // The values really are in there (as ciphertext): the round trip works.
    expect(results.map((r) => r.found)).toEqual([true, true, true, true, true, true]);

    const whileOpen = filesOf(path);
    expect(whileOpen).toContain(`${path}-wal`);
    expect(leaks(whileOpen)).toEqual([]);

    await vault.close();
    const afterClose = filesOf(path);
    expect(afterClose).toContain(path);
    expect(leaks(afterClose)).toEqual([]);
    // The check can fail: the tokens themselves are in the file.
    expect(readFileSync(path).includes(Buffer.from(tokens[0]!))).toBe(true);
  });
});
