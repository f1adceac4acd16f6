/**
 * Subjects (5)-(7): the real gateway in a process of its own, built only through the public entry points
 * (`loadConfig()` from PII_GATEWAY_* variables, `startGateway()`), exactly as `pii-gateway start` does.
 * Reports its listener URLs to the bench over IPC; on SIGTERM it closes gracefully and exits with 0, so a
 * `--cpu-prof` profile is written.
 */
import { loadConfig } from '../../src/config/index.js';
import { startGateway } from '../../src/gateway.js';
import { reportReady } from '../lib/proc.js';

const gw = await startGateway(loadConfig());
reportReady({ proxy: gw.proxy.url, admin: gw.admin.url, vaultApi: gw.vaultApi?.url ?? '' });
process.once('SIGTERM', () => {
  void gw.close().then(() => process.exit(0));
});
