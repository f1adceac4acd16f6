/**
 * A PostgreSQL database for a benchmark run: PII_GATEWAY_BENCH_POSTGRES_URL when set (used as is, never
 * dropped), else a database of its own created on the machine's server (127.0.0.1:5432, user postgres)
 * and dropped by stop().
 */
import pg from 'pg';

export interface BenchPostgres {
  readonly url: string;
  stop(): Promise<void>;
}

export async function benchPostgres(): Promise<BenchPostgres> {
  const given = process.env.PII_GATEWAY_BENCH_POSTGRES_URL;
  if (given) return { url: given, stop: async () => undefined };
  const admin = 'postgres://postgres@127.0.0.1:5432/postgres';
  const name = `pii_bench_${Date.now().toString(36)}_${process.pid}`;
  const client = new pg.Client({ connectionString: admin });
  try {
    await client.connect();
  } catch (err) {
    throw new Error(`no PostgreSQL on 127.0.0.1:5432 as user postgres (${(err as Error).message}); set PII_GATEWAY_BENCH_POSTGRES_URL`);
  }
  await client.query(`CREATE DATABASE ${name}`);
  await client.end();
  return {
    url: `postgres://postgres@127.0.0.1:5432/${name}`,
    stop: async () => {
      const c = new pg.Client({ connectionString: admin });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
