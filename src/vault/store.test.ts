/**
 * VaultStore semantics, identical for the reference MemoryStore and SqliteStore: InsertOutcome rules,
 * batch lookups, delete counts, closed-store errors. Plus what only SQLite has: file mode, migrations,
 * reopening, error wrapping.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors.js';
import { storeKey, type StoredRow, type VaultStore } from './interface.js';
import { MemoryStore } from './memory.js';
import { SQLITE_SCHEMA_VERSION, SqliteStore } from './sqlite.js';

const dir = mkdtempSync(join(tmpdir(), 'pii-vault-store-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
let fileCounter = 0;

function row(token: string, fingerprint: string | null, namespace = 'ns', sealed = Buffer.from([1, 2, 3])): StoredRow {
  return { namespace, token, fingerprint, type: 'opaque', keyId: 'k1', sealed };
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  return p.then(
    () => 'resolved',
    (e: unknown) => (isGatewayError(e) ? e.code : String(e)),
  );
}

const stores: [string, () => VaultStore][] = [
  ['memory', () => new MemoryStore()],
  ['sqlite', () => new SqliteStore(join(dir, `store-${++fileCounter}.db`))],
];

for (const [name, make] of stores) {
  describe(`VaultStore semantics: ${name}`, () => {
    let store: VaultStore;
    afterEach(async () => {
      await store.close();
    });

    it('reports inserted / exists / token-taken per row, in order, within one batch', async () => {
      store = make();
      const outcomes = await store.insert([
        row('t1', 'fp1'),
        row('t2', 'fp1'), // same fingerprint as row 0: exists with t1
        row('t1', 'fp2'), // token taken by fp1
        row('t1', 'fp2', 'other-ns'), // same token, other namespace: fine
        row('t3', null),
        row('t3', null), // random rows never "exist"; the token is taken
        row('t4', null),
      ]);
      expect(outcomes).toEqual([
        { status: 'inserted' },
        { status: 'exists', token: 't1' },
        { status: 'token-taken' },
        { status: 'inserted' },
        { status: 'inserted' },
        { status: 'token-taken' },
        { status: 'inserted' },
      ]);
      // Fingerprint wins over token: a row whose fingerprint and token both exist reports 'exists'.
      expect(await store.insert([row('t1', 'fp1'), row('t9', 'fp1'), row('t3', 'fp3')])).toEqual([
        { status: 'exists', token: 't1' },
        { status: 'exists', token: 't1' },
        { status: 'token-taken' },
      ]);
      expect(await store.insert([])).toEqual([]);
    });

    it('finds tokens by fingerprint and rows by (namespace, token)', async () => {
      store = make();
      const sealed = Buffer.from('sealed-bytes');
      await store.insert([row('t1', 'fp1', 'a', sealed), row('t2', null, 'a'), row('t1', 'fp2', 'b')]);
      const tokens = await store.findTokens(['fp1', 'fpX', 'fp2', 'fp1']);
      expect([...tokens.entries()].sort()).toEqual([
        ['fp1', 't1'],
        ['fp2', 't1'],
      ]);
      const rows = await store.findByTokens([
        { namespace: 'a', token: 't1' },
        { namespace: 'a', token: 't2' },
        { namespace: 'b', token: 't2' },
        { namespace: 'a', token: 't1' },
      ]);
      expect([...rows.keys()].sort()).toEqual([storeKey('a', 't1'), storeKey('a', 't2')]);
      expect(rows.get(storeKey('a', 't1'))).toEqual({
        namespace: 'a',
        token: 't1',
        fingerprint: 'fp1',
        type: 'opaque',
        keyId: 'k1',
        sealed,
      });
      expect(rows.get(storeKey('a', 't2'))?.fingerprint).toBeNull();
      expect((await store.findTokens([])).size).toBe(0);
      expect((await store.findByTokens([])).size).toBe(0);
    });

    it('keeps numeric-looking tokens as text', async () => {
      store = make();
      await store.insert([row('0012', 'fpd')]);
      const rows = await store.findByTokens([{ namespace: 'ns', token: '0012' }, { namespace: 'ns', token: '12' }]);
      expect([...rows.keys()]).toEqual([storeKey('ns', '0012')]);
      expect((await store.findTokens(['fpd'])).get('fpd')).toBe('0012');
    });

    it('deletes rows and frees both their token and their fingerprint', async () => {
      store = make();
      await store.insert([row('t1', 'fp1'), row('t2', 'fp2')]);
      expect(
        await store.delete([
          { namespace: 'ns', token: 't1' },
          { namespace: 'ns', token: 't1' },
          { namespace: 'ns', token: 'nope' },
        ]),
      ).toBe(1);
      expect((await store.findTokens(['fp1', 'fp2'])).size).toBe(1);
      expect(await store.insert([row('t1', 'fp9'), row('t5', 'fp1')])).toEqual([
        { status: 'inserted' },
        { status: 'inserted' },
      ]);
    });

    it('answers 10,000-key batches', async () => {
      store = make();
      const rows = Array.from({ length: 10_000 }, (_, i) => row(`t${i}`, `fp${i}`));
      expect((await store.insert(rows)).every((o) => o.status === 'inserted')).toBe(true);
      const fps = rows.map((r) => r.fingerprint!);
      expect((await store.findTokens(fps)).size).toBe(10_000);
      expect((await store.findByTokens(rows)).size).toBe(10_000);
      expect(await store.delete(rows)).toBe(10_000);
    });

    it('rejects every call with VAULT_UNAVAILABLE once closed', async () => {
      store = make();
      await store.ping();
      await store.close();
      expect(await codeOf(store.findTokens(['fp']))).toBe('VAULT_UNAVAILABLE');
      expect(await codeOf(store.insert([row('t', 'fp')]))).toBe('VAULT_UNAVAILABLE');
      expect(await codeOf(store.findByTokens([{ namespace: 'ns', token: 't' }]))).toBe('VAULT_UNAVAILABLE');
      expect(await codeOf(store.delete([{ namespace: 'ns', token: 't' }]))).toBe('VAULT_UNAVAILABLE');
      expect(await codeOf(store.ping())).toBe('VAULT_UNAVAILABLE');
    });
  });
}

describe('SqliteStore specifics', () => {
  it('creates the parent directory and a 0600 file, in WAL mode, with a recorded schema version', async () => {
    const path = join(dir, 'deep', 'er', 'vault.db');
    const store = new SqliteStore(path);
    await store.insert([row('t1', 'fp1')]);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    expect(statSync(join(dir, 'deep', 'er')).mode & 0o077).toBe(0);
    await store.close();
    const db = new Database(path, { readonly: true });
    expect(db.pragma('journal_mode', { simple: true })).toBe('wal');
    expect(db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('keeps rows across reopen and does not re-run migrations', async () => {
    const path = join(dir, 'reopen.db');
    const first = new SqliteStore(path);
    await first.insert([row('t1', 'fp1')]);
    await first.close();
    const second = new SqliteStore(path);
    expect((await second.findTokens(['fp1'])).get('fp1')).toBe('t1');
    await second.close();
    const db = new Database(path, { readonly: true });
    expect(db.prepare('SELECT COUNT(*) FROM schema_migrations').pluck().get()).toBe(SQLITE_SCHEMA_VERSION);
    db.close();
  });

  it('refuses a database from a newer schema with VAULT_UNAVAILABLE', async () => {
    const path = join(dir, 'future.db');
    await (await SqliteStore.open(path)).close();
    const db = new Database(path);
    db.prepare('INSERT INTO schema_migrations (version, applied_at) VALUES (?, ?)').run(SQLITE_SCHEMA_VERSION + 1, 0);
    db.close();
    await expect(SqliteStore.open(path)).rejects.toMatchObject({
      code: 'VAULT_UNAVAILABLE',
      message: `vault database schema version ${SQLITE_SCHEMA_VERSION + 1} is newer than this gateway supports (${SQLITE_SCHEMA_VERSION})`,
    });
    // The constructor reports the same failure from every call.
    const store = new SqliteStore(path);
    expect(await codeOf(store.findTokens(['fp']))).toBe('VAULT_UNAVAILABLE');
    await store.close();
  });

  it('wraps an unreadable file as VAULT_UNAVAILABLE with the cause kept', async () => {
    const path = join(dir, 'garbage.db');
    writeFileSync(path, Buffer.alloc(8192, 0x41));
    const caught: unknown = await SqliteStore.open(path).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(isGatewayError(caught) && caught.code).toBe('VAULT_UNAVAILABLE');
    expect((caught as Error).message).toBe(`cannot initialise vault database at ${path} (SQLITE_NOTADB)`);
    expect((caught as Error).cause).toMatchObject({ code: 'SQLITE_NOTADB' });
    expect(readFileSync(path).subarray(0, 4).toString()).toBe('AAAA');
  });

  it('carries fields through the worker intact, a NUL inside one included', async () => {
    const store = await SqliteStore.open(join(dir, 'nul.db'));
    const odd: StoredRow = { namespace: 'n\0s', token: 't\0k', fingerprint: 'f\0p', type: 'opaque', keyId: 'key\0id', sealed: Buffer.from([0, 0, 7]) };
    expect(await store.insert([odd, row('t2', null, 'n\0s')])).toEqual([{ status: 'inserted' }, { status: 'inserted' }]);
    expect(await store.findTokens(['f\0p'])).toEqual(new Map([['f\0p', 't\0k']]));
    const rows = await store.findByTokens([{ namespace: 'n\0s', token: 't\0k' }, { namespace: 'n\0s', token: 't2' }]);
    expect(rows.get(storeKey('n\0s', 't\0k'))).toEqual(odd);
    expect(rows.get(storeKey('n\0s', 't2'))?.fingerprint).toBeNull();
    expect(await store.delete([{ namespace: 'n\0s', token: 't\0k' }])).toBe(1);
    await store.close();
  });

  it('shares one file between two connections (another process) without losing rows', async () => {
    const path = join(dir, 'shared.db');
    const a = new SqliteStore(path);
    const b = new SqliteStore(path);
    expect(await a.insert([row('t1', 'fp1')])).toEqual([{ status: 'inserted' }]);
    expect(await b.insert([row('t2', 'fp1'), row('t1', 'fp2')])).toEqual([
      { status: 'exists', token: 't1' },
      { status: 'token-taken' },
    ]);
    await a.close();
    await b.close();
  });
});
