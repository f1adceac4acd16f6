/**
 * `pii-gateway vault migrate` as an operator runs it: a real child process against a real PostgreSQL
 * database, reading the same settings as `start`.
 */
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { POSTGRES_SCHEMA_VERSION } from '../../src/vault/postgres.js';
import { admin, freePort, usePostgresDatabase } from '../helpers/postgres.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const work = mkdtempSync(path.join(tmpdir(), 'pii-cli-vault-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const db = usePostgresDatabase();

function cli(args: string[], env: Record<string, string> = {}): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), ...args], {
      cwd: work,
      env: { ...process.env, PII_GATEWAY_DATA_DIR: path.join(work, 'data'), PII_GATEWAY_LOG_LEVEL: 'warn', ...env },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d));
    child.stderr.on('data', (d: Buffer) => (err += d));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code, out, err }));
  });
}

describe('pii-gateway vault migrate', () => {
  it('is listed in the help and has its own', async () => {
    expect((await cli(['--help'])).out).toContain('vault migrate');
    const help = await cli(['vault', '--help']);
    expect(help.code).toBe(0);
    expect(help.out).toContain('PII_GATEWAY_VAULT=postgres');
    expect((await cli(['vault'])).code).toBe(2);
    expect((await cli(['vault', 'upgrade'])).code).toBe(2);
  });

  it('migrates, then says the schema is already current', async () => {
    const env = { PII_GATEWAY_VAULT: 'postgres', PII_GATEWAY_POSTGRES_URL: db.url };
    const first = await cli(['vault', 'migrate'], env);
    expect(first.err).toBe('');
    expect(first.code).toBe(0);
    expect(first.out.trim()).toBe(`vault schema migrated from version 0 to ${POSTGRES_SCHEMA_VERSION}`);
    const second = await cli(['vault', 'migrate'], env);
    expect(second.code).toBe(0);
    expect(second.out.trim()).toBe(`vault schema already current (version ${POSTGRES_SCHEMA_VERSION})`);
    expect((await admin(db.url, 'SELECT count(*)::int AS n FROM pii_gateway_schema')).rows[0].n).toBe(POSTGRES_SCHEMA_VERSION);
  });

  it('refuses without PII_GATEWAY_VAULT=postgres, and names an unreachable server without its URL', async () => {
    const sqlite = await cli(['vault', 'migrate'], { PII_GATEWAY_VAULT: 'sqlite' });
    expect(sqlite.code).toBe(1);
    expect(sqlite.err).toContain("PII_GATEWAY_VAULT is 'sqlite'");
    const port = await freePort();
    const down = await cli(['vault', 'migrate'], {
      PII_GATEWAY_VAULT: 'postgres',
      PII_GATEWAY_POSTGRES_URL: `postgres://migrator:Hunter2-Canary@127.0.0.1:${port}/vault`,
    });
    expect(down.code).toBe(1);
    expect(down.err).toContain('VAULT_UNAVAILABLE');
    expect(down.err).toContain('connection refused');
    expect(down.err + down.out).not.toContain('Hunter2');
  });
});
