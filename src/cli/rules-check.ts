/**
 * `pii-gateway rules check [dir]`: compiles every rule file exactly as `start` would (with throw-away keys),
 * and prints each problem as file:line:column. Exit 0 when valid, 1 when not.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { ephemeralKeyring } from '../crypto/keyring.js';
import { loadRuleSet } from '../rules/load.js';
import { printStartupError } from './output.js';

const HELP = `Usage: pii-gateway rules check [dir]

Validates the rule files in dir (default: ./rules, or PII_GATEWAY_RULES_DIR). Upstream URLs are
resolved with the current environment, so run it with the same env as the gateway.
Exit status: 0 valid, 1 invalid.`;

export async function rulesCheckCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const dir = path.resolve(positionals[0] ?? process.env.PII_GATEWAY_RULES_DIR ?? 'rules');
  try {
    const set = loadRuleSet(dir, { keyring: ephemeralKeyring(), env: process.env });
    console.log(`ok: ${set.files.length} rule file(s), ${set.routes.length} route(s) in ${path.relative(process.cwd(), dir) || '.'}`);
    for (const r of set.routes) console.log(`  ${r.method.padEnd(6)} ${r.path}  -> ${r.upstream.name}  (${r.id})`);
    return 0;
  } catch (err) {
    printStartupError(err);
    return 1;
  }
}
