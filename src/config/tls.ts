/**
 * Listener TLS and client-certificate settings (the `PII_GATEWAY_*TLS*` rows of SETTINGS in index.ts).
 *
 * TLS is off unless a certificate is set, so the local quick start stays plain HTTP on loopback. Every
 * combination that would silently weaken what the operator asked for is refused at start-up instead:
 * a key or client CA without a certificate, a certificate without its key, client authentication without
 * a CA to verify against, an allowlist on a listener that cannot see client certificates.
 */
import path from 'node:path';
import { parseMatcherList, type ClientMatcher } from '../auth/identity.js';
import { GatewayError } from '../errors.js';

/** How a listener treats client certificates. */
export type ClientAuth = 'none' | 'optional' | 'required';

/** One TLS listener: absolute file paths, read (and re-read on reload) by server/tls.ts. */
export interface ListenerTlsConfig {
  readonly cert: string;
  readonly key: string;
  /** CA bundle client certificates must chain to; undefined with clientAuth 'none'. */
  readonly clientCa: string | undefined;
  /**
   * none: no client certificate is asked for. optional: asked for; a connection without one is accepted
   * (routes with `clients:` still refuse it), a presented certificate that does not verify is dropped.
   * required: the TLS handshake fails without a certificate that verifies.
   */
  readonly clientAuth: ClientAuth;
}

/** Allowlists for the vault API; null: any client the listener accepts. */
export interface VaultApiClientsConfig {
  readonly tokenize: readonly ClientMatcher[] | null;
  readonly detokenize: readonly ClientMatcher[] | null;
}

export interface TlsConfig {
  readonly proxy: ListenerTlsConfig | null;
  readonly vaultApi: ListenerTlsConfig | null;
  readonly vaultApiClients: VaultApiClientsConfig;
}

/** Rows appended to SETTINGS (index.ts). Kept here beside the code that reads them. */
export const TLS_SETTINGS = [
  ['PII_GATEWAY_TLS_CERT', '', 'Proxy listener TLS certificate chain (PEM file). Unset: plain HTTP. See docs/security.md#mtls.'],
  ['PII_GATEWAY_TLS_KEY', '', 'Private key (PEM file) of PII_GATEWAY_TLS_CERT.'],
  ['PII_GATEWAY_TLS_CLIENT_CA', '', 'CA bundle (PEM file) that proxy client certificates must chain to.'],
  ['PII_GATEWAY_TLS_CLIENT_AUTH', 'auto', 'Proxy client certificates: none, optional, required; auto = required when a client CA is set, else none.'],
  ['PII_GATEWAY_VAULT_API_TLS_CERT', '', 'Vault API listener TLS certificate chain (PEM file). Unset: plain HTTP.'],
  ['PII_GATEWAY_VAULT_API_TLS_KEY', '', 'Private key (PEM file) of PII_GATEWAY_VAULT_API_TLS_CERT.'],
  ['PII_GATEWAY_VAULT_API_TLS_CLIENT_CA', '', 'CA bundle (PEM file) that vault API client certificates must chain to.'],
  ['PII_GATEWAY_VAULT_API_TLS_CLIENT_AUTH', 'auto', 'Vault API client certificates: none, optional, required; auto as for the proxy.'],
  [
    'PII_GATEWAY_VAULT_API_TOKENIZE_CLIENTS',
    '',
    'Client identities allowed to tokenize on the vault API: comma-separated cn:NAME, san:URI-or-DNS, fingerprint:sha256:HEX. Unset: any client the listener accepts.',
  ],
  ['PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS', '', 'Client identities allowed to detokenize on the vault API (same syntax). Unset: any client the listener accepts.'],
] as const;

type Get = (name: (typeof TLS_SETTINGS)[number][0]) => string;

function invalid(name: string, expected: string): never {
  throw new GatewayError('CONFIG_INVALID', `${name}: ${expected}`);
}

function listenerTls(prefix: 'PII_GATEWAY_' | 'PII_GATEWAY_VAULT_API_', get: Get, cwd: string): ListenerTlsConfig | null {
  const name = (s: string) => `${prefix}${s}` as Parameters<Get>[0];
  const file = (s: string): string | undefined => {
    const v = get(name(s)).trim();
    return v === '' ? undefined : path.resolve(cwd, v);
  };
  const cert = file('TLS_CERT');
  const key = file('TLS_KEY');
  const clientCa = file('TLS_CLIENT_CA');
  const auth = get(name('TLS_CLIENT_AUTH'));
  if (!['auto', 'none', 'optional', 'required'].includes(auth)) invalid(name('TLS_CLIENT_AUTH'), 'expected one of auto, none, optional, required');
  if (cert === undefined) {
    const stray = [key && 'TLS_KEY', clientCa && 'TLS_CLIENT_CA', auth !== 'auto' && auth !== 'none' && 'TLS_CLIENT_AUTH'].filter(Boolean);
    if (stray.length > 0) invalid(name(stray[0] as string), `set ${name('TLS_CERT')} as well (TLS is off without a certificate)`);
    return null;
  }
  if (key === undefined) invalid(name('TLS_KEY'), `required when ${name('TLS_CERT')} is set`);
  const clientAuth: ClientAuth = auth === 'auto' ? (clientCa === undefined ? 'none' : 'required') : (auth as ClientAuth);
  if (clientAuth !== 'none' && clientCa === undefined) invalid(name('TLS_CLIENT_CA'), `required when ${name('TLS_CLIENT_AUTH')} is ${clientAuth}`);
  return { cert, key, clientCa: clientAuth === 'none' ? undefined : clientCa, clientAuth };
}

function allowlist(name: Parameters<Get>[0], get: Get): ClientMatcher[] | null {
  const text = get(name).trim();
  if (text === '') return null;
  try {
    const list = parseMatcherList(text);
    if (list.length === 0) invalid(name, 'expected at least one entry');
    return list;
  } catch (err) {
    if ((err as { name?: string }).name === 'GatewayError') throw err;
    return invalid(name, (err as Error).message);
  }
}

/** Reads the TLS settings through `get` (index.ts's env-or-default reader); relative paths resolve against `cwd`. */
export function loadTlsConfig(get: Get, cwd: string): TlsConfig {
  const proxy = listenerTls('PII_GATEWAY_', get, cwd);
  const vaultApi = listenerTls('PII_GATEWAY_VAULT_API_', get, cwd);
  const vaultApiClients = {
    tokenize: allowlist('PII_GATEWAY_VAULT_API_TOKENIZE_CLIENTS', get),
    detokenize: allowlist('PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS', get),
  };
  if ((vaultApiClients.tokenize || vaultApiClients.detokenize) && (vaultApi === null || vaultApi.clientAuth === 'none')) {
    invalid(
      vaultApiClients.tokenize ? 'PII_GATEWAY_VAULT_API_TOKENIZE_CLIENTS' : 'PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS',
      'needs client certificates on the vault API listener (set PII_GATEWAY_VAULT_API_TLS_CERT, _TLS_KEY and _TLS_CLIENT_CA)',
    );
  }
  return { proxy, vaultApi, vaultApiClients };
}
