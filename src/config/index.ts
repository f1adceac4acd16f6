/**
 * Gateway configuration: every setting has a safe default and a `PII_GATEWAY_*` environment override.
 *
 * `loadConfig()` is the only place that reads the environment for settings; it validates everything up
 * front and returns a frozen object, so a typo fails at start-up with the variable's name, not at the
 * first request. The README's configuration table is generated from `SETTINGS` below (keep them together).
 */
import path from 'node:path';
import { GatewayError } from '../errors.js';
import { AUTH_SETTINGS, loadAuthConfig, type AuthConfig } from './auth.js';
import { loadTlsConfig, TLS_SETTINGS, type TlsConfig } from './tls.js';
import { loadVaultConfig, VAULT_SETTINGS, type VaultConfig } from './vault.js';

export type { ClientAuth, ListenerTlsConfig, TlsConfig, VaultApiClientsConfig } from './tls.js';
export type { AuthConfig, JwtConfig, VaultApiAuthMode } from './auth.js';
export type { HttpVaultConfig, HttpVaultProtocol, PostgresVaultConfig, VaultBackend, VaultConfig } from './vault.js';

export interface ListenAddress {
  readonly host: string;
  readonly port: number;
}

export interface GatewayConfig {
  readonly listen: ListenAddress;
  readonly adminListen: ListenAddress;
  /** null when the vault API is disabled. */
  readonly vaultApiListen: ListenAddress | null;
  readonly rulesDir: string;
  readonly dataDir: string;
  readonly keys: { readonly json: string | undefined; readonly file: string; readonly devKeys: boolean };
  /** Backend, timeouts, cache, vaultless types (config/vault.ts). */
  readonly vault: VaultConfig;
  readonly limits: {
    readonly requestBodyBytes: number;
    readonly responseBodyBytes: number;
    readonly jsonMaxDepth: number;
    readonly vaultApiMaxBatch: number;
    readonly vaultApiBodyBytes: number;
  };
  readonly upstreamConnections: number;
  /** Audit trail (observability/audit.ts): file, rotation size (0 = never), fdatasync per write. */
  readonly audit: { readonly file: string; readonly maxBytes: number; readonly fsync: boolean };
  readonly logLevel: string;
  /** Namespace the CleverTap-compatible vault endpoints tokenize into. */
  readonly vaultApiNamespace: string;
  /** Listener TLS / mTLS and vault API client allowlists (config/tls.ts). Both listeners are plain by default. */
  readonly tls: TlsConfig;
  /** Caller authentication (JWT, API keys) and the detokenize policy file (config/auth.ts). All off by default. */
  readonly auth: AuthConfig;
}

/** One row per setting: env name, default, description. Used by loadConfig and the README/--help text. */
export const SETTINGS = [
  ['PII_GATEWAY_LISTEN', '127.0.0.1:8080', 'Proxy listener (host:port).'],
  ['PII_GATEWAY_ADMIN_LISTEN', '127.0.0.1:9090', 'Admin listener: /healthz, /readyz.'],
  ['PII_GATEWAY_VAULT_API_LISTEN', '127.0.0.1:8081', "Vault API listener (/v1/tokenize, /v1/detokenize); 'off' disables it."],
  ['PII_GATEWAY_RULES_DIR', './rules', 'Directory of rule files (*.yaml; *.test.yaml are rule tests).'],
  ['PII_GATEWAY_DATA_DIR', './data', 'Where the embedded vault and dev keys live.'],
  ['PII_GATEWAY_AUDIT_FILE', '<data dir>/audit.log', 'Audit trail (hash-chained JSON lines, mode 0600). Detokenization is refused when it cannot be written.'],
  ['PII_GATEWAY_AUDIT_MAX_BYTES', '100mb', 'Rotate the audit file before it grows past this size (0 = never); rotated files are kept.'],
  ['PII_GATEWAY_AUDIT_FSYNC', 'false', 'fdatasync the audit file after each write (true survives power loss, at some latency).'],
  ['PII_GATEWAY_KEYS', '', 'Keys as JSON (wins over the key file). See docs/keys.md.'],
  ['PII_GATEWAY_KEYS_FILE', '<data dir>/keys.json', 'Key file (mode 0600).'],
  ['PII_GATEWAY_DEV_KEYS', 'auto', "Generate dev keys when none exist: auto (yes unless NODE_ENV=production), true, false."],
  ['PII_GATEWAY_BODY_LIMIT', '1mb', 'Largest request body the proxy reads (413 beyond it).'],
  ['PII_GATEWAY_RESPONSE_LIMIT', '10mb', 'Largest upstream response body read when a response rule applies.'],
  ['PII_GATEWAY_JSON_MAX_DEPTH', '64', 'Deepest JSON nesting accepted (400 TOO_DEEP beyond it).'],
  ['PII_GATEWAY_VAULT_API_MAX_BATCH', '10000', 'Most items per vault API call (at least 500).'],
  ['PII_GATEWAY_UPSTREAM_CONNECTIONS', '128', 'Keep-alive connections per upstream.'],
  ['PII_GATEWAY_VAULT_API_NAMESPACE', 'default', 'Token namespace of the CleverTap-compatible vault endpoints.'],
  ['PII_GATEWAY_LOG_LEVEL', 'info', 'pino log level: fatal, error, warn, info, debug, trace, silent.'],
  ...VAULT_SETTINGS,
  ...TLS_SETTINGS,
  ...AUTH_SETTINGS,
] as const;

type SettingName = (typeof SETTINGS)[number][0];

function invalid(name: string, expected: string): never {
  throw new GatewayError('CONFIG_INVALID', `${name}: expected ${expected}`);
}

export function parseListen(name: string, text: string): ListenAddress {
  const i = text.lastIndexOf(':');
  const host = i > 0 ? text.slice(0, i).replace(/^\[(.*)\]$/, '$1') : '';
  const port = Number(text.slice(i + 1));
  if (i <= 0 || host === '' || !Number.isInteger(port) || port < 0 || port > 65535) {
    invalid(name, "host:port, e.g. 127.0.0.1:8080 (port 0 picks a free port)");
  }
  return { host, port };
}

const SIZE_UNITS: Record<string, number> = { '': 1, b: 1, kb: 1024, mb: 1024 ** 2, gb: 1024 ** 3 };

export function parseSize(name: string, text: string): number {
  const m = /^(\d{1,12})\s*(b|kb|mb|gb)?$/i.exec(text.trim());
  if (!m) invalid(name, "a size such as 1048576, 512kb or 1mb");
  return Number(m[1]) * SIZE_UNITS[(m[2] ?? '').toLowerCase()]!;
}

function parseInteger(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) invalid(name, `an integer from ${min} to ${max}`);
  return n;
}

function parseChoice<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) invalid(name, `one of ${choices.join(', ')}`);
  return text as T;
}

/**
 * Builds the frozen configuration from an environment (default: process.env) and a working directory
 * against which relative paths resolve.
 *
 * @example
 *   const config = loadConfig({ PII_GATEWAY_LISTEN: '127.0.0.1:0' });
 */
export function loadConfig(env: NodeJS.ProcessEnv = process.env, cwd: string = process.cwd()): GatewayConfig {
  const get = (name: SettingName): string => {
    const fromEnv = env[name];
    if (fromEnv !== undefined && fromEnv !== '') return fromEnv;
    return SETTINGS.find((s) => s[0] === name)![1];
  };
  const dataDir = path.resolve(cwd, get('PII_GATEWAY_DATA_DIR'));
  const fromData = (name: SettingName, file: string): string => {
    const v = env[name];
    return v !== undefined && v !== '' ? path.resolve(cwd, v) : path.join(dataDir, file);
  };
  const vaultApi = get('PII_GATEWAY_VAULT_API_LISTEN');
  const devKeys = parseChoice('PII_GATEWAY_DEV_KEYS', get('PII_GATEWAY_DEV_KEYS'), ['auto', 'true', 'false'] as const);
  const maxBatch = parseInteger('PII_GATEWAY_VAULT_API_MAX_BATCH', get('PII_GATEWAY_VAULT_API_MAX_BATCH'), 500, 1_000_000);
  const logLevel = parseChoice('PII_GATEWAY_LOG_LEVEL', get('PII_GATEWAY_LOG_LEVEL'), [
    'fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent',
  ] as const);
  const config: GatewayConfig = {
    listen: parseListen('PII_GATEWAY_LISTEN', get('PII_GATEWAY_LISTEN')),
    adminListen: parseListen('PII_GATEWAY_ADMIN_LISTEN', get('PII_GATEWAY_ADMIN_LISTEN')),
    vaultApiListen: vaultApi === 'off' ? null : parseListen('PII_GATEWAY_VAULT_API_LISTEN', vaultApi),
    rulesDir: path.resolve(cwd, get('PII_GATEWAY_RULES_DIR')),
    dataDir,
    keys: {
      json: env.PII_GATEWAY_KEYS || undefined,
      file: fromData('PII_GATEWAY_KEYS_FILE', 'keys.json'),
      devKeys: devKeys === 'true' || (devKeys === 'auto' && env.NODE_ENV !== 'production'),
    },
    vault: loadVaultConfig(get, cwd, fromData('PII_GATEWAY_SQLITE_PATH', 'vault.db'), parseSize),
    limits: {
      requestBodyBytes: parseSize('PII_GATEWAY_BODY_LIMIT', get('PII_GATEWAY_BODY_LIMIT')),
      responseBodyBytes: parseSize('PII_GATEWAY_RESPONSE_LIMIT', get('PII_GATEWAY_RESPONSE_LIMIT')),
      jsonMaxDepth: parseInteger('PII_GATEWAY_JSON_MAX_DEPTH', get('PII_GATEWAY_JSON_MAX_DEPTH'), 1, 10_000),
      vaultApiMaxBatch: maxBatch,
      // room for maxBatch items of up to ~800 bytes each
      vaultApiBodyBytes: Math.max(1024 * 1024, maxBatch * 800),
    },
    upstreamConnections: parseInteger('PII_GATEWAY_UPSTREAM_CONNECTIONS', get('PII_GATEWAY_UPSTREAM_CONNECTIONS'), 1, 100_000),
    audit: {
      file: fromData('PII_GATEWAY_AUDIT_FILE', 'audit.log'),
      maxBytes: parseSize('PII_GATEWAY_AUDIT_MAX_BYTES', get('PII_GATEWAY_AUDIT_MAX_BYTES')),
      fsync: parseChoice('PII_GATEWAY_AUDIT_FSYNC', get('PII_GATEWAY_AUDIT_FSYNC'), ['true', 'false'] as const) === 'true',
    },
    logLevel,
    vaultApiNamespace: get('PII_GATEWAY_VAULT_API_NAMESPACE'),
    tls: loadTlsConfig(get, cwd),
    auth: loadAuthConfig(get, cwd),
  };
  return deepFreeze(config);
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object') {
    for (const v of Object.values(value)) deepFreeze(v);
    Object.freeze(value);
  }
  return value;
}
