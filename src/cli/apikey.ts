/**
 * `pii-gateway apikey create --name NAME --permissions detokenize[,tokenize]`: a new API key, printed once.
 *
 * The key goes to its owner (stdout, first line) and is never stored; the second line is what the
 * gateway keeps: name, permissions and the key's SHA-256, to append to PII_GATEWAY_API_KEYS_FILE. The
 * gateway re-reads that file when it changes, so adding or deleting a line takes effect without a
 * restart. Why a plain SHA-256 is enough for these keys: src/auth/api-keys.ts.
 */
import { parseArgs } from 'node:util';
import { apiKeyLine, checkNameAndPermissions, generateApiKey } from '../auth/api-keys.js';

const HELP = `Usage:
  pii-gateway apikey create --name NAME --permissions tokenize|detokenize[,...]

Prints a new API key once (give it to its owner; it cannot be shown again) and the line to append to the
file named by PII_GATEWAY_API_KEYS_FILE (only the key's SHA-256 is stored). Revoke a key by deleting its
line. Callers send it as 'Authorization: Bearer <key>' (vault API) or 'Proxy-Authorization: Bearer <key>'
(proxy routes with auth: { apiKey: true }). See docs/security.md#authentication-jwt-api-keys.`;

export async function apikeyCommand(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      options: { name: { type: 'string' }, permissions: { type: 'string' }, help: { type: 'boolean', short: 'h' } },
      allowPositionals: true,
    });
  } catch (err) {
    console.error(`pii-gateway apikey: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  const { values, positionals } = parsed;
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals[0] !== 'create' || positionals.length !== 1) {
    console.error(`pii-gateway apikey: expected 'create'\n\n${HELP}`);
    return 2;
  }
  if (values.name === undefined || values.permissions === undefined) {
    console.error(`pii-gateway apikey create: --name and --permissions are required\n\n${HELP}`);
    return 2;
  }
  const checked = checkNameAndPermissions(values.name, values.permissions);
  if ('error' in checked) {
    console.error(`pii-gateway apikey create: ${checked.error}`);
    return 2;
  }
  const key = generateApiKey();
  console.log(key);
  console.log(apiKeyLine(values.name, checked.permissions, key));
  console.error(
    `The first line is the API key for '${values.name}': give it to its owner now, it is not stored and cannot be shown again.\n` +
      'Append the second line to the file named by PII_GATEWAY_API_KEYS_FILE (the gateway picks it up within a second).',
  );
  return 0;
}
