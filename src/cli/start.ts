/**
 * `pii-gateway start`: runs the gateway until SIGINT/SIGTERM, then closes gracefully.
 */
import { parseArgs } from 'node:util';
import { loadConfig, SETTINGS } from '../config/index.js';
import { startGateway } from '../gateway.js';
import { printStartupError } from './output.js';

const HELP = `Usage: pii-gateway start

Runs the proxy, the vault API and the admin listener. Every setting comes from an environment variable:

${SETTINGS.map(([name, def, text]) => `  ${name.padEnd(34)} ${text}${def ? ` (default: ${def})` : ''}`).join('\n')}
`;

export async function startCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: { help: { type: 'boolean', short: 'h' } }, strict: true });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  let gateway;
  try {
    gateway = await startGateway(loadConfig());
  } catch (err) {
    printStartupError(err);
    return 1;
  }
  const gw = gateway;
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      gw.log.info({ signal }, 'shutting down');
      void gw.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
