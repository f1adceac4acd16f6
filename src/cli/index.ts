/**
 * `pii-gateway` command line: one dispatcher, one module per command (the bin entry is main.ts). Commands print for humans on
 * stdout/stderr (console is allowed here only) and return an exit code; nothing else calls process.exit.
 */
import { apikeyCommand } from './apikey.js';
import { auditCommand } from './audit.js';
import { certsCommand } from './certs.js';
import { demoUpstreamCommand } from './demo-upstream.js';
import { keysCommand } from './keys.js';
import { rulesCheckCommand } from './rules-check.js';
import { rulesTestCommand } from './rules-test.js';
import { startCommand } from './start.js';
import { detokenizeCommand, tokenizeCommand } from './tokenize.js';
import { vaultCommand } from './vault.js';

const HELP = `pii-gateway: a PII tokenization gateway

Usage: pii-gateway <command> [options]

Commands:
  start                 Run the gateway (proxy, vault API, admin listeners) on the settings in PII_GATEWAY_* env vars
  rules check [dir]     Validate rule files (default ./rules); exit 1 with file:line:column messages
  rules test [dir]      Run the rule tests (*.test.yaml) beside the rules against the real pipeline
  tokenize              Tokenize values from arguments or stdin (one per line) with the configured keys and vault
  detokenize            Resolve tokens from arguments or stdin (one per line)
  vault migrate         Create or upgrade the PostgreSQL vault schema (PII_GATEWAY_VAULT=postgres)
  keys init [path]      Create a production key file (mode 0600); 'keys generate' prints one as JSON
  audit verify [file]   Check the audit trail's hash chain; exit 1 naming the first broken line
  apikey create         Create an API key (--name NAME --permissions detokenize): prints the key once and the hash line to store
  certs init [dir]      Create a dev CA, server and client certificates for mTLS (default ./certs; needs openssl)
  demo-upstream         A stand-in platform/provider for the README walkthrough: prints what it receives

Run 'pii-gateway <command> --help' for a command's options. Settings: README.md#configuration.
`;

export async function main(argv: string[]): Promise<number> {
  const [command, ...rest] = argv;
  switch (command) {
    case 'start':
      return startCommand(rest);
    case 'rules': {
      const [sub, ...args] = rest;
      if (sub === 'check') return rulesCheckCommand(args);
      if (sub === 'test') return rulesTestCommand(args);
      console.error(`pii-gateway rules: expected 'check' or 'test'\n\n${HELP}`);
      return 2;
    }
    case 'tokenize':
      return tokenizeCommand(rest);
    case 'detokenize':
      return detokenizeCommand(rest);
    case 'keys':
      return keysCommand(rest);
    case 'vault':
      return vaultCommand(rest);
    case 'audit':
      return auditCommand(rest);
    case 'apikey':
      return apikeyCommand(rest);
    case 'certs':
      return certsCommand(rest);
    case 'demo-upstream':
      return demoUpstreamCommand(rest);
    case undefined:
    case 'help':
    case '--help':
    case '-h':
      console.log(HELP);
      return 0;
    default:
      console.error(`pii-gateway: unknown command '${command}'\n\n${HELP}`);
      return 2;
  }
}

