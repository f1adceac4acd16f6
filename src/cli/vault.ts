/**
 * `pii-gateway vault migrate`: creates or upgrades the PostgreSQL vault schema (vault/postgres-schema.ts).
 *
 * Run it once per deployment before starting gateways with migrate off (the default), from a job that has
 * DDL rights; the gateways themselves then need only SELECT, INSERT and DELETE. It reads the same
 * settings as `start` (PII_GATEWAY_VAULT=postgres, PII_GATEWAY_POSTGRES_URL or the PG* variables), is safe
 * to run again (it says the schema is already current) and to run from several places at once.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { GatewayError } from '../errors.js';
import { POSTGRES_SCHEMA_VERSION, migratePostgres } from '../vault/postgres.js';
import { printStartupError } from './output.js';

const HELP = `Usage: pii-gateway vault migrate

Creates or upgrades the PostgreSQL vault schema to version ${POSTGRES_SCHEMA_VERSION}, using the gateway's settings:
  PII_GATEWAY_VAULT=postgres (required), PII_GATEWAY_POSTGRES_URL (or PGHOST, PGUSER, PGPASSWORD, PGDATABASE, ...),
  PII_GATEWAY_POSTGRES_CONNECT_TIMEOUT.
Idempotent: a second run reports that the schema is already current. Safe to run from several hosts at once.
Refuses a database whose schema is newer than this gateway knows. Gateways can migrate at start instead
with PII_GATEWAY_POSTGRES_MIGRATE=true. See docs/fleet.md#postgresql.`;

export async function vaultCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true });
  } catch {
    console.error(`pii-gateway vault: unknown option\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals[0] !== 'migrate' || positionals.length > 1) {
    console.error(`pii-gateway vault: expected 'migrate'\n\n${HELP}`);
    return 2;
  }
  try {
    const { vault } = loadConfig();
    if (vault.backend !== 'postgres' || vault.postgres === undefined) {
      throw new GatewayError(
        'CONFIG_INVALID',
        `PII_GATEWAY_VAULT is '${vault.backend}': vault migrate is for the postgres backend (set PII_GATEWAY_VAULT=postgres; the sqlite vault migrates itself when opened)`,
      );
    }
    const { from, to } = await migratePostgres(vault.postgres);
    if (from === to) console.log(`vault schema already current (version ${to})`);
    else console.log(`vault schema migrated from version ${from} to ${to}`);
    return 0;
  } catch (err) {
    printStartupError(err);
    return 1;
  }
}
