/**
 * `pii-gateway keys init [path]` and `keys generate`: create production key material.
 *
 * init writes a new key file with mode 0600 and never overwrites one (losing the token key changes every
 * token; losing an encryption key loses the values it sealed). generate prints the same JSON to stdout, for
 * a secret manager that injects it as PII_GATEWAY_KEYS.
 */
import { existsSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { generateKeyFile, writeKeyFile } from '../crypto/keyring.js';
import { AuditLog } from '../observability/audit.js';

const HELP = `Usage:
  pii-gateway keys init [path]   Write a new key file (default: PII_GATEWAY_KEYS_FILE, i.e. ./data/keys.json), mode 0600.
                                 Refuses to overwrite an existing file.
  pii-gateway keys generate      Print a new key set as JSON on stdout (for PII_GATEWAY_KEYS via a secret manager).

Back the keys up where your other production secrets live: without them, tokens cannot be resolved.
See docs/keys.md.`;

export async function keysCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  const [sub, target] = positionals;
  if (values.help || sub === undefined) {
    console.log(HELP);
    return values.help ? 0 : 2;
  }
  if (sub === 'generate') {
    console.log(JSON.stringify(generateKeyFile()));
    return 0;
  }
  if (sub === 'init') {
    const config = loadConfig();
    const file = target ? path.resolve(target) : config.keys.file;
    if (existsSync(file)) {
      console.error(`pii-gateway keys init: ${file} already exists; refusing to overwrite keys`);
      return 1;
    }
    // Key generation is key administration: recorded in the audit trail first, refused if it cannot be.
    const audit = new AuditLog({ ...config.audit });
    try {
      await audit.record([
        { event: 'keys.generate', requestId: null, caller: null, route: 'cli keys init', upstream: null, tokenType: null, field: null, count: 1, outcome: 'generating', tokenFingerprint: null },
      ]);
    } catch {
      console.error(`pii-gateway keys init: cannot write the audit log ${audit.file}; no keys were generated (PII_GATEWAY_AUDIT_FILE)`);
      return 1;
    } finally {
      await audit.close();
    }
    try {
      writeKeyFile(file, generateKeyFile());
    } catch (err) {
      if ((err as { code?: string }).code === 'EEXIST') {
        console.error(`pii-gateway keys init: ${file} already exists; refusing to overwrite keys`);
        return 1;
      }
      throw err;
    }
    console.log(`wrote ${file} (mode 0600). Set PII_GATEWAY_KEYS_FILE=${file} and PII_GATEWAY_DEV_KEYS=false in production.`);
    return 0;
  }
  console.error(`pii-gateway keys: unknown subcommand '${sub}'\n\n${HELP}`);
  return 2;
}
