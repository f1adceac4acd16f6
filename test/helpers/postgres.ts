/**
 * A real PostgreSQL server for tests, and a fresh database per test file.
 *
 * Where the server comes from, first match wins:
 *   1. PII_GATEWAY_TEST_POSTGRES_URL: a URL whose user may CREATE DATABASE (CI with a service container);
 *   2. the machine's server on 127.0.0.1:5432 as user postgres (a developer box, Debian's main cluster);
 *   3. a throwaway cluster from the system binaries (/usr/lib/postgresql/<v>/bin/initdb and pg_ctl), in a
 *      temp dir, on a free port, listening on 127.0.0.1 only, password-protected (scram-sha-256), stopped and
 *      removed when the test file ends. As root it runs as the `postgres` OS user (the server refuses root).
 *      A cluster whose test process was killed (no afterAll) is reaped by the next start.
 * PII_GATEWAY_TEST_POSTGRES=throwaway skips 1 and 2. Without any of them the helper throws an error that
 * says what is missing and how to install it: PostgreSQL tests never skip.
 *
 * Each test file (vitest runs each in its own fork) creates `pii_test_<pid>_<random>` and drops it at the
 * end, so parallel files never see each other's rows and nothing depends on what the server holds.
 */
import { execFile, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chownSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { afterAll, beforeAll } from 'vitest';

const run = promisify(execFile);

export interface PostgresServer {
  /** Admin URL (database `postgres`) of a user that may create databases. */
  readonly url: string;
  readonly kind: 'env' | 'local' | 'throwaway';
  /** The temp dir holding a throwaway cluster's data (removed by stop()). */
  readonly dir?: string;
  /** Stops and removes a throwaway cluster; a no-op for a server we did not start. */
  stop(): Promise<void>;
}

export interface TestDatabase {
  /** URL of the fresh database. */
  readonly url: string;
  readonly name: string;
  readonly server: PostgresServer;
}

export interface ServerOptions {
  /** Start a throwaway cluster even if another server is available (proves that path). */
  throwaway?: boolean;
}

/** The server tests use (see the header for the order). */
export async function postgresServer(options: ServerOptions = {}): Promise<PostgresServer> {
  const forced = options.throwaway === true || process.env.PII_GATEWAY_TEST_POSTGRES === 'throwaway';
  if (!forced) {
    const fromEnv = process.env.PII_GATEWAY_TEST_POSTGRES_URL?.trim();
    if (fromEnv) return { url: fromEnv, kind: 'env', stop: async () => {} };
    const local = 'postgres://postgres@127.0.0.1:5432/postgres';
    if (await canConnect(local)) return { url: local, kind: 'local', stop: async () => {} };
  }
  return startThrowawayCluster();
}

/** Whether `url` accepts a connection within two seconds. */
export async function canConnect(url: string): Promise<boolean> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
  client.on('error', () => {});
  try {
    await client.connect();
    await client.query('SELECT 1');
    return true;
  } catch {
    return false;
  } finally {
    await client.end().catch(() => {});
  }
}

export interface PostgresBinaries {
  readonly initdb: string;
  readonly pgCtl: string;
}

/**
 * initdb and pg_ctl of the newest PostgreSQL under `roots` (Debian/Ubuntu: /usr/lib/postgresql/<v>/bin),
 * else on PATH. Throws an error naming what is missing and how to install it.
 */
export function findPostgresBinaries(roots: readonly string[] = ['/usr/lib/postgresql']): PostgresBinaries {
  const candidates: string[] = [];
  for (const root of roots) {
    if (!existsSync(root)) continue;
    const versions = readdirSync(root).filter((v) => /^\d+(\.\d+)?$/.test(v)).sort((a, b) => Number(b) - Number(a));
    for (const v of versions) candidates.push(path.join(root, v, 'bin'));
  }
  if (roots.includes('/usr/lib/postgresql')) {
    for (const dir of (process.env.PATH ?? '').split(path.delimiter)) if (dir) candidates.push(dir);
  }
  for (const dir of candidates) {
    const initdb = path.join(dir, 'initdb');
    const pgCtl = path.join(dir, 'pg_ctl');
    if (existsSync(initdb) && existsSync(pgCtl)) return { initdb, pgCtl };
  }
  throw new Error(
    `PostgreSQL tests need a server: no PII_GATEWAY_TEST_POSTGRES_URL, nothing on 127.0.0.1:5432 for user postgres, ` +
      `and no initdb + pg_ctl in ${roots.map((r) => `${r}/<version>/bin`).join(', ')} or on PATH. ` +
      `Install the server binaries (Debian/Ubuntu: apt-get install postgresql), ` +
      `or set PII_GATEWAY_TEST_POSTGRES_URL to a server where this user may CREATE DATABASE.`,
  );
}

/** Stops every throwaway cluster still running if the test process exits without its afterAll. */
const running = new Set<() => void>();
process.once('exit', () => {
  for (const stopNow of running) stopNow();
});

/**
 * initdb + pg_ctl start in a temp dir on a free 127.0.0.1 port, scram-sha-256 with a random password.
 *
 * @example
 *   const server = await startThrowawayCluster();
 *   try { ... server.url ... } finally { await server.stop(); }
 */
export async function startThrowawayCluster(binaries: PostgresBinaries = findPostgresBinaries()): Promise<PostgresServer> {
  const root = process.getuid?.() === 0;
  reapOrphanedClusters(binaries, root);
  const dir = mkdtempSync(path.join(tmpdir(), 'pii-pg-'));
  writeFileSync(path.join(dir, OWNER_FILE), String(process.pid));
  let asUser: string[] = [];
  if (root) {
    // The server refuses to run as root: hand the directory to the postgres OS user.
    const id = spawnSync('id', ['-u', 'postgres'], { encoding: 'utf8' });
    const gid = spawnSync('id', ['-g', 'postgres'], { encoding: 'utf8' });
    if (id.status !== 0 || gid.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      throw new Error('running as root, a throwaway PostgreSQL cluster needs the `postgres` OS user (apt-get install postgresql creates it)');
    }
    chownSync(dir, Number(id.stdout.trim()), Number(gid.stdout.trim()));
    asUser = ['runuser', '-u', 'postgres', '--'];
  }
  const password = randomBytes(18).toString('base64url');
  const pwfile = path.join(dir, 'pwfile');
  writeFileSync(pwfile, password + '\n', { mode: 0o600 });
  if (root) spawnSync('chown', ['postgres:postgres', pwfile]);
  const data = path.join(dir, 'data');
  const exec = (bin: string, args: string[]) => (asUser.length ? run(asUser[0]!, [...asUser.slice(1), bin, ...args]) : run(bin, args));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  try {
    await exec(binaries.initdb, ['-D', data, '-U', 'postgres', '--auth=scram-sha-256', `--pwfile=${pwfile}`, '-E', 'UTF8', '--locale=C', '--no-sync']);
  } catch (err) {
    cleanup();
    throw new Error(`initdb failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
  }
  rmSync(pwfile, { force: true });
  for (let attempt = 1; ; attempt++) {
    const port = await freePort();
    const options = `-c listen_addresses=127.0.0.1 -p ${port} -c unix_socket_directories=${dir} -c fsync=off -c max_connections=200`;
    const entry = (): void => {
      const argv = [...asUser, binaries.pgCtl, '-D', data, '-m', 'immediate', 'stop'];
      spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
      cleanup();
    };
    try {
      running.add(entry);
      await exec(binaries.pgCtl, ['-D', data, '-l', path.join(dir, 'server.log'), '-w', '-t', '60', '-o', options, 'start']);
    } catch (err) {
      running.delete(entry);
      // Someone took the port between our probe and the server's bind: try another one.
      if (attempt < 3) continue;
      cleanup();
      throw new Error(`pg_ctl start failed: ${(err as { stderr?: string }).stderr ?? String(err)}`);
    }
    let stopped = false;
    return {
      url: `postgres://postgres:${encodeURIComponent(password)}@127.0.0.1:${port}/postgres`,
      kind: 'throwaway',
      dir,
      stop: async () => {
        if (stopped) return;
        stopped = true;
        try {
          await exec(binaries.pgCtl, ['-D', data, '-m', 'immediate', '-w', 'stop']);
        } finally {
          running.delete(entry);
          cleanup();
        }
      },
    };
  }
}

const OWNER_FILE = 'owner.pid';

/**
 * Stops and removes throwaway clusters whose test process is gone (a worker killed on a timeout never
 * runs its exit handler). Clusters of live processes, e.g. parallel test files, are left alone.
 */
function reapOrphanedClusters(binaries: PostgresBinaries, root: boolean): void {
  for (const name of readdirSync(tmpdir())) {
    if (!name.startsWith('pii-pg-')) continue;
    const dir = path.join(tmpdir(), name);
    let owner: number;
    try {
      owner = Number(readFileSync(path.join(dir, OWNER_FILE), 'utf8'));
    } catch {
      continue;
    }
    if (!Number.isInteger(owner) || owner <= 0 || isAlive(owner)) continue;
    const argv = [...(root ? ['runuser', '-u', 'postgres', '--'] : []), binaries.pgCtl, '-D', path.join(dir, 'data'), '-m', 'immediate', 'stop'];
    spawnSync(argv[0]!, argv.slice(1), { stdio: 'ignore' });
    rmSync(dir, { recursive: true, force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/** A port that was free a moment ago on 127.0.0.1. */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/** `url` with its database replaced. */
export function withDatabase(url: string, database: string): string {
  const u = new URL(url);
  u.pathname = '/' + encodeURIComponent(database);
  return u.toString();
}

/** Creates a fresh, uniquely named database on `server`. */
export async function createTestDatabase(server: PostgresServer): Promise<TestDatabase & { drop(): Promise<void> }> {
  const name = `pii_test_${process.pid}_${randomBytes(5).toString('hex')}`;
  await admin(server.url, `CREATE DATABASE ${name}`);
  const drop = async (): Promise<void> => {
    await admin(server.url, `DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
  };
  return {
    name,
    server,
    url: withDatabase(server.url, name),
    drop,
  };
}

/** Runs one statement on a short-lived admin connection. */
export async function admin(url: string, sql: string, values: unknown[] = []): Promise<pg.QueryResult> {
  const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 10_000 });
  client.on('error', () => {});
  await client.connect();
  try {
    return await client.query(sql, values);
  } finally {
    await client.end().catch(() => {});
  }
}

/**
 * Registers beforeAll/afterAll in the calling test file: a fresh database on the test server, dropped (and
 * a throwaway server stopped) afterwards. Read `.url` inside tests.
 *
 * @example
 *   const db = usePostgresDatabase();
 *   it('...', async () => { const store = await PostgresStore.open({ url: db.url, ... }); });
 */
export function usePostgresDatabase(options: ServerOptions = {}): TestDatabase {
  let current: (TestDatabase & { drop(): Promise<void> }) | undefined;
  beforeAll(async () => {
    const server = await postgresServer(options);
    try {
      current = await createTestDatabase(server);
    } catch (err) {
      await server.stop();
      throw err;
    }
  }, 120_000);
  afterAll(async () => {
    if (current === undefined) return;
    try {
      await current.drop();
    } finally {
      await current.server.stop();
    }
  }, 60_000);
  const need = (): TestDatabase & { drop(): Promise<void> } => {
    if (current === undefined) throw new Error('usePostgresDatabase: read .url inside a test, after beforeAll');
    return current;
  };
  return {
    get url() {
      return need().url;
    },
    get name() {
      return need().name;
    },
    get server() {
      return need().server;
    },
  };
}
