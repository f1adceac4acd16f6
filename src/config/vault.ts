/**
 * Vault settings (the `PII_GATEWAY_VAULT*`, `_SQLITE_*`, `_POSTGRES_*`, `_HTTP_VAULT_*`, `_CACHE_*` and
 * `_VAULTLESS_*` rows of SETTINGS in index.ts): which backend holds the token <-> PII mapping, how long a
 * vault call may take, and the cache in front of it.
 *
 * Backends (docs/fleet.md):
 *   sqlite    embedded file, one process (the default: `npm start` needs nothing else)
 *   postgres  one database shared by any number of gateways (PostgreSQL, or a wire-compatible database)
 *   http      the customer's own vault, or another pii-gateway, over its HTTP vault API
 *   memory    tests and demos: forgets everything on exit
 * `PII_GATEWAY_VAULTLESS_TYPES` makes some token types vaultless on top of any backend: their tokens are
 * keyed encryptions of the value, so no store is consulted for them at all.
 *
 * What is refused instead of silently weakened: an http vault without a URL, credentials over plain HTTP
 * to anything but loopback, a client secret without a token URL, a cache TTL on a shared vault that is
 * longer than an hour (an erased value would keep resolving on the other replicas for that long).
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { GatewayError } from '../errors.js';
import { TOKEN_TYPES, type TokenType } from '../tokens/types.js';
import { isLoopbackHost, parseDuration } from './auth.js';

export type VaultBackend = 'sqlite' | 'postgres' | 'http' | 'memory';
export const VAULT_BACKENDS: readonly VaultBackend[] = ['sqlite', 'postgres', 'http', 'memory'];

export interface PostgresVaultConfig {
  /** libpq-style URL; undefined: pg's defaults and the PG* variables (PGHOST, PGUSER, PGPASSWORD, ...). */
  readonly url: string | undefined;
  /** Connections per gateway process. */
  readonly poolSize: number;
  /** Apply pending schema migrations at start (else start refuses an out-of-date schema and says how to migrate). */
  readonly migrate: boolean;
  /** Longest wait for a new connection. */
  readonly connectTimeoutMs: number;
}

export type HttpVaultProtocol = 'pii-gateway' | 'clevertap';

export interface HttpVaultConfig {
  /** Base URL of the remote vault API, e.g. https://vault.internal:8081 (no query, no fragment). */
  readonly url: URL;
  /** pii-gateway: `/v1/tokenize` + `/v1/detokenize` (typed, namespaced). clevertap: CleverTap's Token Vault API. */
  readonly protocol: HttpVaultProtocol;
  /** OAuth2 client credentials (Keycloak-style token endpoint); undefined when no token URL is set. */
  readonly oauth: { readonly tokenUrl: URL; readonly clientId: string; readonly clientSecret: string; readonly scope: string | undefined } | undefined;
  /** A static bearer credential instead of OAuth2 (e.g. a pii-gateway API key). */
  readonly apiKey: string | undefined;
  /** Purpose stated on detokenize calls (the remote detokenize policy may require one). */
  readonly purpose: string | undefined;
  /** Items per remote call: larger batches are split. */
  readonly batchSize: number;
  /** Most concurrent connections to the remote vault (undici Pool). */
  readonly connections: number;
  /** Per remote call, retries included. */
  readonly timeoutMs: number;
  /** Retries after the first attempt, on connect errors, 429, 502, 503 and 504 only. */
  readonly retries: number;
  /** Consecutive failed calls that open the circuit breaker; how long it stays open before one probe. */
  readonly breaker: { readonly failures: number; readonly openMs: number };
  /** PEM files for TLS to the remote vault: CA bundle, and a client certificate + key for mTLS. */
  readonly tls: { readonly ca: string | undefined; readonly cert: string | undefined; readonly key: string | undefined };
}

export interface VaultConfig {
  readonly backend: VaultBackend;
  readonly sqlitePath: string;
  /** Longest a vault call may wait on its store (a locked SQLite file, a slow database) before 503 VAULT_UNAVAILABLE. */
  readonly timeoutMs: number;
  readonly cache: {
    readonly maxEntries: number;
    readonly maxBytes: number;
    /** undefined: entries live until evicted (one process owns the store, so it sees every delete). */
    readonly ttlMs: number | undefined;
  };
  /** Set when backend is postgres. */
  readonly postgres: PostgresVaultConfig | undefined;
  /** Set when backend is http. */
  readonly http: HttpVaultConfig | undefined;
  /** Token types whose tokens are keyed encryptions of the value, not stored mappings (vault/vaultless.ts). */
  readonly vaultlessTypes: readonly TokenType[];
}

/** Rows appended to SETTINGS (index.ts). Kept here beside the code that reads them. */
export const VAULT_SETTINGS = [
  ['PII_GATEWAY_VAULT', 'sqlite', 'Vault backend: sqlite (embedded, one process), postgres (shared by a fleet), http (the customer\'s vault or another gateway), memory (tests, demos: forgets on exit). See docs/fleet.md.'],
  ['PII_GATEWAY_SQLITE_PATH', '<data dir>/vault.db', 'SQLite vault file.'],
  ['PII_GATEWAY_VAULT_TIMEOUT', '5s', 'Longest a vault call waits on its store (a locked SQLite file, a slow database) before 503 VAULT_UNAVAILABLE.'],
  ['PII_GATEWAY_CACHE_MAX_ENTRIES', '100000', 'Vault cache size in entries (0 disables the cache).'],
  ['PII_GATEWAY_CACHE_MAX_BYTES', '64mb', 'Vault cache size bound in bytes.'],
  ['PII_GATEWAY_CACHE_TTL', 'auto', 'Vault cache entry lifetime: auto (5m for postgres and http, whose deletes other replicas make; unbounded for sqlite and memory), off, or a duration up to 1h.'],
  ['PII_GATEWAY_POSTGRES_URL', '', 'postgres backend: connection URL (postgres://user:pass@host:5432/db?sslmode=verify-full). Unset: the PG* variables (PGHOST, PGUSER, PGPASSWORD, PGDATABASE, ...).'],
  ['PII_GATEWAY_POSTGRES_POOL_SIZE', '10', 'postgres backend: connections per gateway process.'],
  ['PII_GATEWAY_POSTGRES_MIGRATE', 'false', "postgres backend: apply schema migrations at start (else run 'pii-gateway vault migrate' first; start refuses an out-of-date schema)."],
  ['PII_GATEWAY_POSTGRES_CONNECT_TIMEOUT', '5s', 'postgres backend: longest wait for a new connection.'],
  ['PII_GATEWAY_HTTP_VAULT_URL', '', 'http backend: base URL of the remote vault API (another gateway\'s vault API, or the customer\'s vault).'],
  ['PII_GATEWAY_HTTP_VAULT_PROTOCOL', 'pii-gateway', 'http backend: pii-gateway (/v1/tokenize, /v1/detokenize: every token type) or clevertap (CleverTap\'s Token Vault API: opaque tokens only).'],
  ['PII_GATEWAY_HTTP_VAULT_TOKEN_URL', '', 'http backend: OAuth2 token endpoint for client credentials (Keycloak: <issuer>/protocol/openid-connect/token).'],
  ['PII_GATEWAY_HTTP_VAULT_CLIENT_ID', '', 'http backend: OAuth2 client id.'],
  ['PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE', '', 'http backend: file holding the OAuth2 client secret (read at start).'],
  ['PII_GATEWAY_HTTP_VAULT_SCOPE', '', 'http backend: OAuth2 scope to request (space-separated).'],
  ['PII_GATEWAY_HTTP_VAULT_API_KEY_FILE', '', 'http backend: file holding a static bearer credential instead of OAuth2 (e.g. a pii-gateway API key).'],
  ['PII_GATEWAY_HTTP_VAULT_PURPOSE', '', 'http backend: purpose stated on detokenize calls (the remote policy may require one).'],
  ['PII_GATEWAY_HTTP_VAULT_BATCH', '500', 'http backend: items per remote call (larger batches are split; every part must succeed).'],
  ['PII_GATEWAY_HTTP_VAULT_CONNECTIONS', '50', 'http backend: most concurrent connections to the remote vault.'],
  ['PII_GATEWAY_HTTP_VAULT_TIMEOUT', '60s', 'http backend: longest one remote call may take, retries included.'],
  ['PII_GATEWAY_HTTP_VAULT_RETRIES', '3', 'http backend: retries on connect errors, 429 (Retry-After honoured), 502, 503, 504; never on other 4xx.'],
  ['PII_GATEWAY_HTTP_VAULT_BREAKER', '5/30s', 'http backend: consecutive failed calls that open the circuit breaker / how long it stays open before one probe.'],
  ['PII_GATEWAY_HTTP_VAULT_CA', '', 'http backend: PEM CA bundle to verify the remote vault (default: the system CAs).'],
  ['PII_GATEWAY_HTTP_VAULT_CERT', '', 'http backend: PEM client certificate for mTLS to the remote vault (with _KEY).'],
  ['PII_GATEWAY_HTTP_VAULT_KEY', '', 'http backend: PEM private key of that client certificate.'],
  ['PII_GATEWAY_VAULTLESS_TYPES', '', 'Token types made vaultless (keyed format-preserving encryption, no stored mapping), comma-separated from: email, phone, digits, opaque. See docs/fleet.md#vaultless-tokens.'],
] as const;

type Get = (name: (typeof VAULT_SETTINGS)[number][0]) => string;

function invalid(name: string, expected: string): never {
  throw new GatewayError('CONFIG_INVALID', `${name}: ${expected}`);
}

function integer(name: string, text: string, min: number, max: number): number {
  const n = Number(text);
  if (!/^\d+$/.test(text.trim()) || n < min || n > max) invalid(name, `expected an integer from ${min} to ${max}`);
  return n;
}

function choice<T extends string>(name: string, text: string, choices: readonly T[]): T {
  if (!(choices as readonly string[]).includes(text)) invalid(name, `expected one of ${choices.join(', ')}`);
  return text as T;
}

/** An http(s) URL without credentials, query or fragment; plain http only to loopback (credentials travel on it). */
function serviceUrl(name: string, text: string): URL {
  let url: URL;
  try {
    url = new URL(text);
  } catch {
    invalid(name, 'expected an absolute http(s) URL');
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') invalid(name, 'expected an http(s) URL');
  if (url.username !== '' || url.password !== '') invalid(name, 'must not carry credentials (use the _CLIENT_SECRET_FILE or _API_KEY_FILE settings)');
  if (url.search !== '' || url.hash !== '') invalid(name, 'must not have a query or fragment');
  if (url.protocol === 'http:' && !isLoopbackHost(url.hostname)) {
    invalid(name, 'plain http is allowed only to loopback (tokens, values and credentials travel on it): use https');
  }
  return url;
}

function secretFile(name: string, file: string, cwd: string): string {
  let text: string;
  try {
    text = readFileSync(path.resolve(cwd, file), 'utf8').trim();
  } catch (err) {
    invalid(name, `cannot read the file (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  if (text === '') invalid(name, 'the file is empty');
  return text;
}

function optionalPath(get: Get, name: Parameters<Get>[0], cwd: string): string | undefined {
  const v = get(name).trim();
  return v === '' ? undefined : path.resolve(cwd, v);
}

function loadPostgres(get: Get): PostgresVaultConfig {
  const url = get('PII_GATEWAY_POSTGRES_URL').trim();
  if (url !== '' && !/^postgres(ql)?:\/\//.test(url)) invalid('PII_GATEWAY_POSTGRES_URL', 'expected a postgres:// or postgresql:// URL');
  return {
    url: url === '' ? undefined : url,
    poolSize: integer('PII_GATEWAY_POSTGRES_POOL_SIZE', get('PII_GATEWAY_POSTGRES_POOL_SIZE'), 1, 1000),
    migrate: choice('PII_GATEWAY_POSTGRES_MIGRATE', get('PII_GATEWAY_POSTGRES_MIGRATE'), ['true', 'false'] as const) === 'true',
    connectTimeoutMs: parseDuration('PII_GATEWAY_POSTGRES_CONNECT_TIMEOUT', get('PII_GATEWAY_POSTGRES_CONNECT_TIMEOUT'), 600_000),
  };
}

function loadHttp(get: Get, cwd: string): HttpVaultConfig {
  const urlText = get('PII_GATEWAY_HTTP_VAULT_URL').trim();
  if (urlText === '') invalid('PII_GATEWAY_HTTP_VAULT_URL', 'required with PII_GATEWAY_VAULT=http');
  const url = serviceUrl('PII_GATEWAY_HTTP_VAULT_URL', urlText);
  const tokenUrlText = get('PII_GATEWAY_HTTP_VAULT_TOKEN_URL').trim();
  const clientId = get('PII_GATEWAY_HTTP_VAULT_CLIENT_ID').trim();
  const secretPath = get('PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE').trim();
  const apiKeyPath = get('PII_GATEWAY_HTTP_VAULT_API_KEY_FILE').trim();
  let oauth: HttpVaultConfig['oauth'];
  if (tokenUrlText !== '') {
    if (clientId === '') invalid('PII_GATEWAY_HTTP_VAULT_CLIENT_ID', 'required with PII_GATEWAY_HTTP_VAULT_TOKEN_URL');
    if (secretPath === '') invalid('PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE', 'required with PII_GATEWAY_HTTP_VAULT_TOKEN_URL');
    if (apiKeyPath !== '') invalid('PII_GATEWAY_HTTP_VAULT_API_KEY_FILE', 'set either OAuth2 client credentials or a static key, not both');
    const scope = get('PII_GATEWAY_HTTP_VAULT_SCOPE').trim();
    oauth = {
      tokenUrl: serviceUrl('PII_GATEWAY_HTTP_VAULT_TOKEN_URL', tokenUrlText),
      clientId,
      clientSecret: secretFile('PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE', secretPath, cwd),
      scope: scope === '' ? undefined : scope,
    };
  } else {
    const stray = [clientId && 'PII_GATEWAY_HTTP_VAULT_CLIENT_ID', secretPath && 'PII_GATEWAY_HTTP_VAULT_CLIENT_SECRET_FILE'].find(Boolean);
    if (stray) invalid(stray as string, 'set PII_GATEWAY_HTTP_VAULT_TOKEN_URL as well');
  }
  const breaker = /^(\d{1,4})\s*\/\s*(.+)$/.exec(get('PII_GATEWAY_HTTP_VAULT_BREAKER').trim());
  if (!breaker || Number(breaker[1]) < 1) invalid('PII_GATEWAY_HTTP_VAULT_BREAKER', 'expected failures/duration, e.g. 5/30s');
  const purpose = get('PII_GATEWAY_HTTP_VAULT_PURPOSE').trim();
  const cert = optionalPath(get, 'PII_GATEWAY_HTTP_VAULT_CERT', cwd);
  const key = optionalPath(get, 'PII_GATEWAY_HTTP_VAULT_KEY', cwd);
  if ((cert === undefined) !== (key === undefined)) invalid(cert === undefined ? 'PII_GATEWAY_HTTP_VAULT_CERT' : 'PII_GATEWAY_HTTP_VAULT_KEY', 'set both the client certificate and its key');
  return {
    url,
    protocol: choice('PII_GATEWAY_HTTP_VAULT_PROTOCOL', get('PII_GATEWAY_HTTP_VAULT_PROTOCOL'), ['pii-gateway', 'clevertap'] as const),
    oauth,
    apiKey: apiKeyPath === '' ? undefined : secretFile('PII_GATEWAY_HTTP_VAULT_API_KEY_FILE', apiKeyPath, cwd),
    purpose: purpose === '' ? undefined : purpose,
    batchSize: integer('PII_GATEWAY_HTTP_VAULT_BATCH', get('PII_GATEWAY_HTTP_VAULT_BATCH'), 1, 10_000),
    connections: integer('PII_GATEWAY_HTTP_VAULT_CONNECTIONS', get('PII_GATEWAY_HTTP_VAULT_CONNECTIONS'), 1, 10_000),
    timeoutMs: parseDuration('PII_GATEWAY_HTTP_VAULT_TIMEOUT', get('PII_GATEWAY_HTTP_VAULT_TIMEOUT'), 600_000),
    retries: integer('PII_GATEWAY_HTTP_VAULT_RETRIES', get('PII_GATEWAY_HTTP_VAULT_RETRIES'), 0, 10),
    breaker: { failures: Number(breaker[1]), openMs: parseDuration('PII_GATEWAY_HTTP_VAULT_BREAKER', breaker[2]!, 3_600_000) },
    tls: { ca: optionalPath(get, 'PII_GATEWAY_HTTP_VAULT_CA', cwd), cert, key },
  };
}

function vaultlessTypes(text: string): TokenType[] {
  const types = text.split(',').map((s) => s.trim()).filter((s) => s !== '');
  for (const t of types) {
    if (!(TOKEN_TYPES as readonly string[]).includes(t)) invalid('PII_GATEWAY_VAULTLESS_TYPES', `'${t}' is not a token type (expected ${TOKEN_TYPES.join(', ')})`);
  }
  return [...new Set(types)] as TokenType[];
}

/** Sizes go through index.ts's parseSize (one size syntax for every setting). */
export function loadVaultConfig(get: Get, cwd: string, sqlitePath: string, parseSize: (name: string, text: string) => number): VaultConfig {
  const backend = choice('PII_GATEWAY_VAULT', get('PII_GATEWAY_VAULT'), VAULT_BACKENDS);
  const shared = backend === 'postgres' || backend === 'http';
  const ttlText = get('PII_GATEWAY_CACHE_TTL').trim();
  let ttlMs: number | undefined;
  if (ttlText === 'auto') ttlMs = shared ? 300_000 : undefined;
  else if (ttlText === 'off') ttlMs = undefined;
  else {
    ttlMs = parseDuration('PII_GATEWAY_CACHE_TTL', ttlText, 3_600_000);
    if (ttlMs === 0) invalid('PII_GATEWAY_CACHE_TTL', "expected a positive duration, 'auto' or 'off' (PII_GATEWAY_CACHE_MAX_ENTRIES=0 turns the cache off)");
  }
  return {
    backend,
    sqlitePath,
    timeoutMs: parseDuration('PII_GATEWAY_VAULT_TIMEOUT', get('PII_GATEWAY_VAULT_TIMEOUT'), 600_000),
    cache: {
      maxEntries: integer('PII_GATEWAY_CACHE_MAX_ENTRIES', get('PII_GATEWAY_CACHE_MAX_ENTRIES'), 0, 100_000_000),
      maxBytes: parseSize('PII_GATEWAY_CACHE_MAX_BYTES', get('PII_GATEWAY_CACHE_MAX_BYTES')),
      ttlMs,
    },
    postgres: backend === 'postgres' ? loadPostgres(get) : undefined,
    http: backend === 'http' ? loadHttp(get, cwd) : undefined,
    vaultlessTypes: vaultlessTypes(get('PII_GATEWAY_VAULTLESS_TYPES')),
  };
}
