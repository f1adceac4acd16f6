/**
 * OIDC discovery for the JWT verifier (OpenID Connect Discovery 1.0): with PII_GATEWAY_JWT_ISSUER alone
 * (no JWKS URL, no keys file), the gateway reads `<issuer>/.well-known/openid-configuration` once at
 * start-up and takes its `jwks_uri`.
 *
 * Why each refusal holds:
 * - The document's `issuer` must equal the setting exactly (Discovery section 4.3): a document served for
 *   another issuer (a proxy, a misrouted path, a tenant mix-up) would otherwise hand over its keys.
 * - `jwks_uri` must be https, or http to loopback only, as the setting itself would have to be: keys
 *   fetched in clear text can be swapped.
 * - Redirects are refused, the fetch is bounded by the JWKS timeout, and any failure stops start-up with
 *   CONFIG_INVALID naming the URL and the cause: a gateway that started without keys would refuse every
 *   JWT while looking healthy.
 * - An explicit PII_GATEWAY_JWT_JWKS_URL or _KEYS_FILE wins: no discovery happens then (config/auth.ts).
 */
import { isLoopbackHost, type AuthConfig, type JwtConfig } from '../config/auth.js';
import { GatewayError } from '../errors.js';
import type { Logger } from '../observability/logger.js';

const MAX_DOCUMENT_BYTES = 256 * 1024;

/**
 * Fetches the discovery document and returns its checked `jwks_uri`.
 * @throws GatewayError CONFIG_INVALID naming PII_GATEWAY_JWT_ISSUER, the URL and why
 */
export async function discoverJwksUrl(issuer: string, discoveryUrl: URL, timeoutMs: number): Promise<URL> {
  const fail = (why: string): never => {
    throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_JWT_ISSUER: OIDC discovery at ${discoveryUrl.href} failed: ${why} (or set PII_GATEWAY_JWT_JWKS_URL)`);
  };
  let text: string;
  try {
    const res = await fetch(discoveryUrl, { redirect: 'error', signal: AbortSignal.timeout(timeoutMs), headers: { accept: 'application/json' } });
    if (res.status !== 200) fail(`HTTP ${res.status}`);
    text = await res.text();
  } catch (err) {
    if (err instanceof GatewayError) throw err;
    const cause = (err as { cause?: { code?: unknown; message?: unknown } }).cause;
    const why = typeof cause?.code === 'string' ? cause.code : (err as Error).name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : String((err as Error).message);
    return fail(why);
  }
  if (Buffer.byteLength(text) > MAX_DOCUMENT_BYTES) fail('the document is too large');
  let doc: unknown;
  try {
    doc = JSON.parse(text);
  } catch {
    return fail('the document is not JSON');
  }
  if (doc === null || typeof doc !== 'object' || Array.isArray(doc)) fail('the document is not a JSON object');
  const { issuer: docIssuer, jwks_uri: jwksUri } = doc as { issuer?: unknown; jwks_uri?: unknown };
  if (docIssuer !== issuer) fail(`its issuer ${typeof docIssuer === 'string' ? `'${docIssuer}'` : '(missing)'} is not '${issuer}'`);
  if (typeof jwksUri !== 'string') fail('it names no jwks_uri');
  let url: URL;
  try {
    url = new URL(jwksUri as string);
  } catch {
    return fail('its jwks_uri is not an absolute URL');
  }
  if (url.protocol !== 'https:' && !(url.protocol === 'http:' && isLoopbackHost(url.hostname))) {
    fail(`its jwks_uri ${url.href} is not https (plain http only to loopback): keys fetched in clear text can be swapped`);
  }
  return url;
}

/**
 * The auth settings with the JWKS URL filled in from discovery when the settings ask for it; unchanged
 * otherwise. Start-up only.
 * @throws GatewayError CONFIG_INVALID
 */
export async function resolveJwtDiscovery(config: AuthConfig, log?: Logger): Promise<AuthConfig> {
  const jwt = config.jwt;
  if (jwt === null || jwt.discoveryUrl === undefined || jwt.jwksUrl !== undefined || jwt.keysFile !== undefined) return config;
  const jwksUrl = await discoverJwksUrl(jwt.issuer, jwt.discoveryUrl, jwt.jwksTimeoutMs);
  log?.info({ discovery: jwt.discoveryUrl.href, jwksUrl: jwksUrl.href }, 'JWT keys: JWKS URL from OIDC discovery');
  const resolved: JwtConfig = { ...jwt, jwksUrl };
  return { ...config, jwt: resolved };
}
