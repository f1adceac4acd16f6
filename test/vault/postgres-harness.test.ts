/**
 * The PostgreSQL test harness itself (test/helpers/postgres.ts), so the path CI falls back to is proven
 * on every machine: a throwaway cluster from the system binaries, password-protected, reachable only on
 * 127.0.0.1, gone after stop(); and a clear error when there are no binaries at all.
 * The wrong-password case of the store lives here because only this cluster is known to check passwords.
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { isGatewayError } from '../../src/errors.js';
import { PostgresStore } from '../../src/vault/postgres.js';
import { admin, canConnect, createTestDatabase, findPostgresBinaries, startThrowawayCluster, type PostgresServer } from '../helpers/postgres.js';

let server: PostgresServer;
beforeAll(async () => {
  server = await startThrowawayCluster();
}, 120_000);
afterAll(() => server?.stop(), 60_000);

const options = (url: string) => ({ url, poolSize: 2, migrate: true, connectTimeoutMs: 5000, timeoutMs: 5000 });

describe('throwaway PostgreSQL cluster', () => {
  it('starts from the system binaries on 127.0.0.1 and accepts its own password', async () => {
    expect(server.kind).toBe('throwaway');
    const url = new URL(server.url);
    expect(url.hostname).toBe('127.0.0.1');
    expect(url.port).not.toBe('5432');
    const res = await admin(server.url, "SELECT current_setting('listen_addresses') AS l, current_setting('password_encryption') AS p");
    expect(res.rows[0]).toEqual({ l: '127.0.0.1', p: 'scram-sha-256' });
  });

  it('gives each caller its own database', async () => {
    const a = await createTestDatabase(server);
    const b = await createTestDatabase(server);
    try {
      expect(a.name).not.toBe(b.name);
      expect(a.name).toMatch(/^pii_test_\d+_[0-9a-f]{10}$/);
      const store = await PostgresStore.open(options(a.url));
      await store.ping();
      await store.close();
    } finally {
      await a.drop();
      await b.drop();
    }
    const left = await admin(server.url, "SELECT count(*)::int AS n FROM pg_database WHERE datname = ANY($1)", [[a.name, b.name]]);
    expect(left.rows[0].n).toBe(0);
  });

  it('refuses a wrong password with VAULT_UNAVAILABLE "authentication failed", naming neither password nor URL', async () => {
    const db = await createTestDatabase(server);
    try {
      const wrong = new URL(db.url);
      const secret = 'Wrong-Pa55word-Canary';
      wrong.password = secret;
      const err = await PostgresStore.open(options(wrong.toString())).then(() => undefined, (e: unknown) => e);
      expect(isGatewayError(err)).toBe(true);
      if (!isGatewayError(err)) return;
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toContain('authentication failed');
      expect(err.message).toContain('28P01');
      expect(err.message).not.toContain(secret);
      expect(err.message).not.toContain(wrong.host);
      // No password at all: the server asks for one and the message says where to put it.
      const none = new URL(db.url);
      none.password = '';
      const err2 = await PostgresStore.open(options(none.toString())).then(() => undefined, (e: unknown) => e);
      expect(isGatewayError(err2) && err2.message).toMatch(/authentication failed .*PGPASSWORD/);
    } finally {
      await db.drop();
    }
  });

  it('is stopped and removed by stop()', async () => {
    const other = await startThrowawayCluster();
    expect(other.dir && existsSync(path.join(other.dir, 'data', 'PG_VERSION'))).toBe(true);
    expect(await canConnect(other.url)).toBe(true);
    await other.stop();
    expect(await canConnect(other.url)).toBe(false);
    expect(existsSync(other.dir!)).toBe(false);
  }, 120_000);
});

describe('throwaway clusters of a test process that died', () => {
  it('are stopped and removed by the next start', async () => {
    // A child starts a cluster and is killed with SIGKILL: no afterAll, no exit handler.
    const helper = new URL('../helpers/postgres.ts', import.meta.url).href;
    const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
    const child = spawn(process.execPath, ['--import', tsx, '--input-type=module', '-e',
      `const { startThrowawayCluster } = await import(${JSON.stringify(helper)});
       const s = await startThrowawayCluster();
       console.log(JSON.stringify({ dir: s.dir, url: s.url }));
       setInterval(() => {}, 1000);`]);
    const line = await new Promise<string>((resolve, reject) => {
      let out = '';
      child.stdout.on('data', (d: Buffer) => {
        out += d;
        if (out.includes('\n')) resolve(out.trim());
      });
      child.once('exit', (code) => reject(new Error(`helper exited ${code}`)));
    });
    const orphan = JSON.parse(line) as { dir: string; url: string };
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    expect(await canConnect(orphan.url)).toBe(true);
    const next = await startThrowawayCluster();
    try {
      expect(existsSync(orphan.dir)).toBe(false);
      expect(await canConnect(orphan.url)).toBe(false);
      // The live cluster of this file was left alone.
      expect(await canConnect(server.url)).toBe(true);
    } finally {
      await next.stop();
    }
  }, 120_000);
});

describe('findPostgresBinaries', () => {
  it('says what is missing and how to install it when there are no binaries', () => {
    const empty = mkdtempSync(path.join(tmpdir(), 'pii-nopg-'));
    try {
      expect(() => findPostgresBinaries([empty])).toThrow(/no initdb \+ pg_ctl in .*apt-get install postgresql.*PII_GATEWAY_TEST_POSTGRES_URL/);
    } finally {
      rmSync(empty, { recursive: true, force: true });
    }
  });

  it('finds the newest installed version on this machine', () => {
    const { initdb, pgCtl } = findPostgresBinaries();
    expect(existsSync(initdb) && existsSync(pgCtl)).toBe(true);
  });
});
