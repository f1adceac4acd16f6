/**
 * `pii-gateway tokenize` / `detokenize`: one-off use from a shell, against the same keys and vault the
 * gateway uses (so run it where the gateway's data dir and env are). Values come from arguments or, when
 * there are none, from stdin one per line; results go to stdout one per line, in order.
 */
import { createInterface } from 'node:readline';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/index.js';
import { isGatewayError } from '../errors.js';
import { loadKeys } from '../gateway.js';
import { createLogger } from '../observability/logger.js';
import { createTokenSpec } from '../tokens/index.js';
import { TOKEN_TYPES, type TokenType } from '../tokens/types.js';
import { createVault } from '../vault/index.js';
import type { Vault } from '../vault/interface.js';
import { printStartupError } from './output.js';

const TOKENIZE_HELP = `Usage: pii-gateway tokenize --type <${TOKEN_TYPES.join('|')}> [--namespace ns] [value ...]

Prints one token per value. Without values, reads them from stdin, one per line.
Uses the gateway's keys and vault (PII_GATEWAY_* settings); the gateway need not be running,
and the sqlite vault is safe to share with a running gateway (WAL mode).`;

const DETOKENIZE_HELP = `Usage: pii-gateway detokenize [--namespace ns] [token ...]

Prints one value per token (an empty line and exit status 1 for unknown tokens).
Without tokens, reads them from stdin, one per line.`;

async function readValues(positionals: string[]): Promise<string[]> {
  if (positionals.length > 0) return positionals;
  const lines: string[] = [];
  for await (const line of createInterface({ input: process.stdin, crlfDelay: Infinity })) {
    if (line !== '') lines.push(line);
  }
  return lines;
}

async function withVault<T>(fn: (vault: Vault, ctx: ReturnType<typeof setup>) => Promise<T>): Promise<T> {
  const ctx = setup();
  const vault = await createVault({ ...ctx.config.vault, keyring: ctx.keyring, cache: { maxEntries: 0, maxBytes: 0 } });
  try {
    return await fn(vault, ctx);
  } finally {
    await vault.close();
  }
}

function setup() {
  const config = loadConfig();
  // Logs of this one-off command go to stderr, so stdout carries only results.
  const log = createLogger({ level: 'warn', destination: process.stderr as never });
  return { config, keyring: loadKeys(config, log) };
}

export async function tokenizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { type: { type: 'string', short: 't' }, namespace: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(TOKENIZE_HELP);
    return 0;
  }
  if (!values.type || !TOKEN_TYPES.includes(values.type as TokenType)) {
    console.error(`pii-gateway tokenize: --type must be one of ${TOKEN_TYPES.join(', ')}\n\n${TOKENIZE_HELP}`);
    return 2;
  }
  try {
    const inputs = await readValues(positionals);
    return await withVault(async (vault, { keyring }) => {
      const spec = createTokenSpec({ type: values.type as TokenType, namespace: values.namespace ?? 'default' }, keyring);
      let failed = 0;
      const valid: string[] = [];
      const out: (string | null)[] = inputs.map((v, i) => {
        try {
          spec.format.normalize(v);
          valid.push(v);
          return '';
        } catch {
          failed++;
          console.error(`input ${i + 1}: not a valid ${spec.type}`);
          return null;
        }
      });
      const tokens = valid.length ? await vault.tokenize(valid.map((value) => ({ spec, value }))) : [];
      let j = 0;
      for (const o of out) console.log(o === null ? '' : tokens[j++]);
      return failed > 0 ? 1 : 0;
    });
  } catch (err) {
    printStartupError(err);
    return isGatewayError(err) && err.status < 500 ? 2 : 1;
  }
}

export async function detokenizeCommand(argv: string[]): Promise<number> {
  const { values, positionals } = parseArgs({
    args: argv,
    options: { namespace: { type: 'string', short: 'n' }, help: { type: 'boolean', short: 'h' } },
    allowPositionals: true,
  });
  if (values.help) {
    console.log(DETOKENIZE_HELP);
    return 0;
  }
  try {
    const tokens = await readValues(positionals);
    return await withVault(async (vault) => {
      const results = await vault.detokenize(tokens.map((token) => ({ namespace: values.namespace ?? 'default', token })));
      let missing = 0;
      results.forEach((r, i) => {
        if (r.found) console.log(r.value);
        else {
          missing++;
          console.log('');
          console.error(`input ${i + 1}: unknown token`);
        }
      });
      return missing > 0 ? 1 : 0;
    });
  } catch (err) {
    printStartupError(err);
    return 1;
  }
}
