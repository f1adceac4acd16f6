/**
 * `pii-gateway audit verify [file ...]`: checks the audit trail's hash chain (observability/audit-verify.ts).
 * Prints OK with the record count and the head hash, or the first line that does not verify; exit 1 then.
 */
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { verifyAuditFiles } from '../observability/audit-verify.js';

const HELP = `Usage: pii-gateway audit verify [file ...]

Verifies the audit trail's hash chain: every line parses, seq increases by one, and each line's 'prev' is
the SHA-256 of the line before it. Default file: PII_GATEWAY_AUDIT_FILE (./data/audit.log).
After rotation, give the files oldest first (audit.log.000000001234 audit.log) to check they chain.

Prints 'OK: <n> records, seq <first>..<last>, head <sha256>' and exits 0, or names the first broken
file:line and seq and exits 1. Compare the head with one recorded elsewhere (the gateway logs it on
rotation and shutdown): cutting lines off the end is only visible that way.`;

export async function auditCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
    strict: true,
  });
  const [sub, ...files] = positionals;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (sub !== 'verify') {
    console.error(`pii-gateway audit: expected 'verify'\n\n${HELP}`);
    return 2;
  }
  const targets = files.length > 0 ? files : [loadConfig().audit.file];
  let result;
  try {
    result = await verifyAuditFiles(targets);
  } catch (err) {
    const e = err as { code?: string; path?: string };
    console.error(`pii-gateway audit verify: cannot read ${e.path ?? targets.join(', ')} (${e.code ?? 'error'})`);
    return 1;
  }
  if (result.ok) {
    console.log(`OK: ${result.records} records, seq ${result.firstSeq}..${result.lastSeq}, head ${result.head}`);
    return 0;
  }
  console.error(`BROKEN: ${result.file}:${result.line}${result.seq === null ? '' : ` (seq ${result.seq})`}: ${result.reason}`);
  return 1;
}
