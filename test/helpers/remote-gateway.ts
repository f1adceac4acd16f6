/**
 * A second, real pii-gateway as a child process (`node --import tsx src/cli/main.ts start`): the remote vault
 * that an HttpVault, or a first gateway with PII_GATEWAY_VAULT=http, uses as its store.
 *
 * Every listener binds 127.0.0.1:0; the bound URLs come from its NDJSON 'pii-gateway listening' line on
 * stdout. Its environment is built from scratch for PII_GATEWAY_* (the test runner's own settings never
 * leak in). Every stdout/stderr line is kept, so tests can scan the remote's logs for canaries too.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { generateKeyFile } from '../../src/crypto/keyring.js';
import type { KeyFile } from '../../src/crypto/types.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;

const MINIMAL_RULES = `
version: 1
upstreams: { up: { url: "http://127.0.0.1:9" } }
routes:
  - { id: pass, match: { method: POST, path: /x }, upstream: up }
`;

export interface RemoteGatewayOptions {
  backend: 'memory' | 'sqlite';
  /** Key material (default: fresh). Pass the same keys to a process restarted on the same data. */
  keys?: KeyFile;
  /** Working directory (default: a new temp dir, removed by stop()). Reuse it to restart on the same sqlite file. */
  dir?: string;
  /** Extra PII_GATEWAY_* settings. */
  settings?: Record<string, string>;
}

export interface RemoteGateway {
  readonly keys: KeyFile;
  readonly dir: string;
  readonly vaultUrl: string;
  readonly proxyUrl: string;
  readonly adminUrl: string;
  /** Every line the process wrote to stdout and stderr so far. */
  readonly output: string[];
  readonly child: ChildProcess;
  /** SIGTERM and wait for the exit; `keepDir` keeps the working directory for a restart. */
  stop(options?: { keepDir?: boolean }): Promise<void>;
}

/** Starts the remote and resolves once it is listening (rejects with its output if it exits first). */
export async function startRemoteGateway(options: RemoteGatewayOptions): Promise<RemoteGateway> {
  const ownDir = options.dir === undefined;
  const dir = options.dir ?? mkdtempSync(path.join(tmpdir(), 'pii-remote-'));
  const rulesDir = path.join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  writeFileSync(path.join(rulesDir, 'r.yaml'), MINIMAL_RULES);
  const keys = options.keys ?? generateKeyFile();
  const env: NodeJS.ProcessEnv = {};
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PII_GATEWAY_')) env[k] = v;
  Object.assign(env, {
    PII_GATEWAY_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_VAULT_API_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_RULES_DIR: rulesDir,
    PII_GATEWAY_DATA_DIR: path.join(dir, 'data'),
    PII_GATEWAY_VAULT: options.backend,
    PII_GATEWAY_KEYS: JSON.stringify(keys),
    PII_GATEWAY_DEV_KEYS: 'false',
    PII_GATEWAY_LOG_LEVEL: 'info',
    ...options.settings,
  });
  const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), 'start'], { cwd: dir, env, stdio: ['ignore', 'pipe', 'pipe'] });
  const output: string[] = [];
  createInterface({ input: child.stderr! }).on('line', (l) => output.push(l));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));

  const listening = await new Promise<Record<string, unknown>>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`remote gateway did not start within 30 s:\n${output.join('\n')}`)), 30_000);
    createInterface({ input: child.stdout! }).on('line', (line) => {
      output.push(line);
      let rec: Record<string, unknown>;
      try {
        rec = JSON.parse(line) as Record<string, unknown>;
      } catch {
        return;
      }
      if (rec.msg === 'pii-gateway listening') {
        clearTimeout(timer);
        resolve(rec);
      }
    });
    void exited.then(() => {
      clearTimeout(timer);
      reject(new Error(`remote gateway exited with ${child.exitCode} before listening:\n${output.join('\n')}`));
    });
  });

  return {
    keys,
    dir,
    vaultUrl: String(listening.vaultApi),
    proxyUrl: String(listening.proxy),
    adminUrl: String(listening.admin),
    output,
    child,
    async stop(stopOptions = {}) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        await exited;
        clearTimeout(killer);
      }
      if (ownDir && !stopOptions.keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}
