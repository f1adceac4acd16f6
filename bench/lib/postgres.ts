/**
 * A PostgreSQL database for a benchmark run: PII_GATEWAY_BENCH_POSTGRES_URL when set (used as is, never
 * dropped), else a database of its own found or started exactly as the tests get theirs
 * (test/helpers/postgres.ts: PII_GATEWAY_TEST_POSTGRES_URL, the machine's server on 127.0.0.1:5432, or a
 * throwaway cluster from the system binaries), dropped (and the cluster stopped) by stop().
 */
import { createTestDatabase, postgresServer } from '../../test/helpers/postgres.js';

export interface BenchPostgres {
  readonly url: string;
  /** Where it runs: env, local or throwaway (printed beside the figures). */
  readonly kind: string;
  stop(): Promise<void>;
}

export async function benchPostgres(): Promise<BenchPostgres> {
  const given = process.env.PII_GATEWAY_BENCH_POSTGRES_URL;
  if (given) return { url: given, kind: 'env', stop: async () => undefined };
  const server = await postgresServer();
  const db = await createTestDatabase(server);
  return {
    url: db.url,
    kind: server.kind,
    stop: async () => {
      await db.drop();
      await server.stop();
    },
  };
}
