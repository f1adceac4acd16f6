/**
 * `pii-gateway start`: runs the gateway until SIGINT/SIGTERM, then closes gracefully.
 *
 * A crash must not print request data: Node's default report of an uncaught exception or unhandled
 * rejection prints the error's message and stack, and a library's message can quote the bytes it choked
 * on. So the start command replaces both with a handler that logs errorFields() only and exits non-zero.
 */
import { parseArgs } from 'node:util';
import { loadConfig, SETTINGS } from '../config/index.js';
import { startGateway, type Gateway } from '../gateway.js';
import { errorFields } from '../observability/logger.js';
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
  let gateway: Gateway | undefined;
  installCrashHandlers(() => gateway);
  try {
    gateway = await startGateway(loadConfig());
  } catch (err) {
    printStartupError(err);
    return 1;
  }
  const gw = gateway;
  // SIGHUP: re-read TLS certificates, keys and CA bundles (listeners and upstreams); failures keep the old ones.
  const reload = (): void => {
    gw.log.info({ signal: 'SIGHUP' }, 'reloading TLS certificates');
    void gw.reloadTls();
  };
  process.on('SIGHUP', reload);
  await new Promise<void>((resolve) => {
    const stop = (signal: string): void => {
      gw.log.info({ signal }, 'shutting down');
      process.off('SIGHUP', reload);
      void gw.close().then(resolve);
    };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}

/**
 * Logs a crash as code/class only (never message or stack) and exits 70 (EX_SOFTWARE). pino writes
 * stdout synchronously, so the line is out before the exit.
 */
export function installCrashHandlers(gateway: () => Gateway | undefined): void {
  const crash = (kind: 'uncaughtException' | 'unhandledRejection') => (err: unknown) => {
    const fields = { kind, ...errorFields(err) };
    const log = gateway()?.log;
    if (log) log.fatal(fields, 'pii-gateway crashed');
    else console.error(JSON.stringify({ level: 'fatal', msg: 'pii-gateway crashed', ...fields }));
    process.exit(70);
  };
  process.on('uncaughtException', crash('uncaughtException'));
  process.on('unhandledRejection', crash('unhandledRejection'));
}
