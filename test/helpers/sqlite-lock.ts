/**
 * Holds a lock on an SQLite file from ANOTHER PROCESS (a `node -e` child with better-sqlite3), the way a
 * backup tool, a second gateway or a CLI on the same file would:
 *   write      `BEGIN EXCLUSIVE` on a WAL database: the write lock. Writers wait; readers go on (WAL).
 *   exclusive  `locking_mode=EXCLUSIVE` and a write: the whole file, readers included. Only obtainable
 *              while no other connection has the file open (an open WAL connection keeps a shared lock).
 * Resolves once the child holds the lock; `release()` commits and waits for the child to exit. If the test
 * process dies, the child's stdin closes and it lets go by itself.
 */
import { spawn } from 'node:child_process';
import { createRequire } from 'node:module';

export interface HeldLock {
  release(): Promise<void>;
}

const betterSqlite3 = createRequire(import.meta.url).resolve('better-sqlite3');

export async function holdSqliteLock(path: string, mode: 'write' | 'exclusive'): Promise<HeldLock> {
  const take =
    mode === 'write'
      ? "db.exec('BEGIN EXCLUSIVE');"
      : "db.pragma('locking_mode = EXCLUSIVE'); db.exec('BEGIN EXCLUSIVE'); db.exec('CREATE TABLE IF NOT EXISTS lock_probe (x)');";
  const script = `
    const Database = require(${JSON.stringify(betterSqlite3)});
    const db = new Database(${JSON.stringify(path)}, { timeout: 10000 });
    ${take}
    process.stdout.write('locked\\n');
    const release = () => { try { db.exec('COMMIT'); db.close(); } finally { process.exit(0); } };
    process.stdin.on('data', release);
    process.stdin.on('end', release);
  `;
  const child = spawn(process.execPath, ['-e', script], { stdio: ['pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.stdout.on('data', (d: Buffer) => {
      if (d.toString().includes('locked')) resolve();
    });
    child.once('exit', (code) => reject(new Error(`lock holder exited (${code}) before locking: ${stderr.trim()}`)));
  });
  return {
    release: async () => {
      child.stdin.end('release\n');
      await exited;
    },
  };
}
