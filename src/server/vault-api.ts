/**
 * The vault API, on a listener of its own: batch tokenize/detokenize for apps that tokenize before sending
 * and dispatchers that resolve at send time, plus CleverTap's customer-hosted Token Vault API shape
 * (`/ct-vault/api/tokenization/...`, see docs/vault-api.md).
 *
 * Detokenization is the crown jewel: the `authorize` seam is called before every operation so that the
 * trust layer (mTLS identity, JWT scopes, purpose) can restrict it. Until that is configured the listener
 * binds to loopback by default.
 */
import type { HttpBindings } from '@hono/node-server';
import { Hono, type Context } from 'hono';
import { requestId } from 'hono/request-id';
import { clientIdentity, type ClientIdentityVariables } from '../auth/mtls.js';
import { GatewayError, isGatewayError } from '../errors.js';
import type { Keyring } from '../crypto/types.js';
import type { AuditSink } from '../observability/audit.js';
import { auditVaultApiDetokenize, callerOf } from '../observability/audit-hooks.js';
import { requestMetrics, type GatewayMetrics } from '../observability/metrics.js';
import type { Logger } from '../observability/logger.js';
import { createTokenSpec } from '../tokens/index.js';
import { TOKEN_TYPES, type TokenSpec, type TokenSpecInput, type TokenType } from '../tokens/types.js';
import type { DetokenizeResult, Vault } from '../vault/interface.js';
import { readBody } from './body.js';
import { errorHandler } from './errors.js';

export type VaultPermission = 'tokenize' | 'detokenize';

export interface VaultApiDeps {
  readonly vault: Vault;
  readonly keyring: Keyring;
  readonly log: Logger;
  readonly maxBatch: number;
  readonly bodyLimit: number;
  /** Namespace for requests that name none, and for the CleverTap-compatible endpoints. */
  readonly defaultNamespace: string;
  /** Throws a GatewayError to refuse. The trust layer plugs in here; default: allow (loopback listener). */
  readonly authorize?: (c: Context, permission: VaultPermission) => void | Promise<void>;
  /** Every detokenize result is recorded here before it is returned; a failed write refuses the call (503). */
  readonly audit: AuditSink;
  readonly metrics?: GatewayMetrics;
  /**
   * Release check after the lookup and before anything is audited or returned: the request's stated
   * purpose (`purpose`, or CleverTap's `metadata.purpose`) and the resolved token types, against the
   * detokenize policy (auth/authenticate.ts vaultApiReleaseCheck). Throws a GatewayError to refuse.
   */
  readonly release?: (c: Context, purpose: string | undefined, types: readonly string[]) => void | Promise<void>;
}

type VaultEnv = { Bindings: HttpBindings; Variables: { requestId: string } & ClientIdentityVariables };

/** CleverTap's documented batch limits. */
const CT_TOKENIZE_MAX = 1000;
const CT_DETOKENIZE_MAX = 10_000;
const CT = '/ct-vault/api/tokenization';
/** Endpoint patterns: the only route labels metrics and audit records use on this listener. */
const ENDPOINTS = new Set(['/v1/tokenize', '/v1/detokenize', `${CT}/getToken`, `${CT}/tokens/batch`, `${CT}/getRawValue`, `${CT}/tokens/values/batch`]);

export function createVaultApiApp(deps: VaultApiDeps): Hono<VaultEnv> {
  const app = new Hono<VaultEnv>();
  const authorize = deps.authorize ?? (() => undefined);
  app.use(requestId());
  app.use(clientIdentity());
  if (deps.metrics) {
    app.use(requestMetrics(deps.metrics, 'vault_api', (c) => (ENDPOINTS.has(c.req.path) ? c.req.path : 'unmatched')));
  }

  /** Release check, audit (fail closed), then count; `items` carry the path of each token in the request body. */
  const audited = async (c: Context<VaultEnv>, route: string, items: { namespace: string; token: string; field: string }[], results: DetokenizeResult[], purpose: string | undefined) => {
    await deps.release?.(c, purpose, results.flatMap((r) => (r.found ? [r.type] : [])));
    await auditVaultApiDetokenize(deps.audit, deps.keyring.fingerprintKey, { requestId: c.get('requestId'), caller: callerOf(c), route }, items, results);
    deps.metrics?.fields.inc({ route, action: 'detokenized' }, items.length);
  };

  const ctSpec = (): TokenSpec => createTokenSpec({ type: 'opaque', prefix: 'TKN_', namespace: deps.defaultNamespace }, deps.keyring);

  app.post('/v1/tokenize', async (c) => {
    await authorize(c, 'tokenize');
    const req = await readJson(c, deps.bodyLimit);
    const namespace = optionalString(req.namespace, 'namespace') ?? deps.defaultNamespace;
    const items = batch(req.items, 'items', deps.maxBatch);
    const specs = items.map((item, i) => {
      const o = object(item, `items[${i}]`);
      const type = o.type;
      if (typeof type !== 'string' || !TOKEN_TYPES.includes(type as TokenType)) {
        throw new GatewayError('BAD_REQUEST', `items[${i}].type: expected one of ${TOKEN_TYPES.join(', ')}`, { field: `items[${i}].type` });
      }
      return { spec: itemSpec(o, i, type as TokenType, namespace, deps.keyring), value: string(o.value, `items[${i}].value`) };
    });
    const results = await tokenizeEach(deps.vault, specs);
    deps.log.info({ requestId: c.get('requestId'), op: 'tokenize', count: items.length }, 'vault api');
    return c.json({ results });
  });

  app.post('/v1/detokenize', async (c) => {
    await authorize(c, 'detokenize');
    const req = await readJson(c, deps.bodyLimit);
    const namespace = optionalString(req.namespace, 'namespace') ?? deps.defaultNamespace;
    const items = batch(req.items, 'items', deps.maxBatch).map((item, i) => {
      const o = object(item, `items[${i}]`);
      return {
        namespace: optionalString(o.namespace, `items[${i}].namespace`) ?? namespace,
        token: string(o.token, `items[${i}].token`),
        field: `items[${i}].token`,
      };
    });
    const found = await deps.vault.detokenize(items);
    await audited(c, '/v1/detokenize', items, found, optionalString(req.purpose, 'purpose'));
    deps.log.info(
      { requestId: c.get('requestId'), op: 'detokenize', count: items.length, found: found.filter((r) => r.found).length },
      'vault api',
    );
    return c.json({ results: found.map((r) => (r.found ? { found: true, value: r.value, type: r.type } : { found: false })) });
  });

  // CleverTap-compatible Token Vault API (docs/vault-api.md).
  const ct = CT;
  app.post(`${ct}/getToken`, async (c) => {
    await authorize(c, 'tokenize');
    const req = await readJson(c, deps.bodyLimit);
    const value = string(req.value, 'value');
    const [token] = await deps.vault.tokenize([{ spec: ctSpec(), value }]);
    return c.json({ token, exists: true, newlyCreated: false, dataType: 'string' });
  });
  app.post(`${ct}/tokens/batch`, async (c) => {
    await authorize(c, 'tokenize');
    const req = await readJson(c, deps.bodyLimit);
    const values = batch(req.values, 'values', CT_TOKENIZE_MAX).map((v, i) => string(v, `values[${i}]`));
    const tokens = await deps.vault.tokenize(values.map((value) => ({ spec: ctSpec(), value })));
    return c.json({
      results: values.map((originalValue, i) => ({ originalValue, token: tokens[i], exists: true, newlyCreated: false, dataType: 'string' })),
      summary: { processedCount: values.length, existingCount: values.length, newlyCreatedCount: 0 },
    });
  });
  app.post(`${ct}/getRawValue`, async (c) => {
    await authorize(c, 'detokenize');
    const req = await readJson(c, deps.bodyLimit);
    const token = string(req.token, 'token');
    const item = { namespace: deps.defaultNamespace, token, field: 'token' };
    const found = await deps.vault.detokenize([item]);
    await audited(c, `${ct}/getRawValue`, [item], found, purposeOf(req));
    const r = found[0];
    return c.json(r?.found ? { value: r.value, exists: true, dataType: 'string' } : { value: null, exists: false, dataType: null });
  });
  app.post(`${ct}/tokens/values/batch`, async (c) => {
    await authorize(c, 'detokenize');
    const req = await readJson(c, deps.bodyLimit);
    const tokens = batch(req.tokens, 'tokens', Math.min(CT_DETOKENIZE_MAX, deps.maxBatch)).map((t, i) => string(t, `tokens[${i}]`));
    const items = tokens.map((token, i) => ({ namespace: deps.defaultNamespace, token, field: `tokens[${i}]` }));
    const found = await deps.vault.detokenize(items);
    await audited(c, `${ct}/tokens/values/batch`, items, found, purposeOf(req));
    const foundCount = found.filter((r) => r.found).length;
    return c.json({
      results: tokens.map((token, i) => {
        const r = found[i]!;
        return r.found ? { token, value: r.value, exists: true, dataType: 'string' } : { token, value: null, exists: false, dataType: null };
      }),
      summary: { processedCount: tokens.length, foundCount, notFoundCount: tokens.length - foundCount },
    });
  });

  app.notFound(() => {
    throw new GatewayError('ROUTE_NOT_FOUND', 'no such vault API endpoint');
  });
  app.onError(errorHandler(deps.log));
  return app;
}

/** Token options an item of /v1/tokenize may carry (TokenSpecInput minus type and namespace; docs/vault-api.md). */
const ITEM_OPTIONS = ['random', 'emailDomain', 'emailSuffix', 'prefix'] as const;

/**
 * The spec of one /v1/tokenize item: its type, namespace and optional token options, validated by
 * createTokenSpec exactly as a rule's would be. A bad option refuses the request (400 BAD_REQUEST) naming
 * `items[i].<option>`: an option error is the caller's programming error, not a bad value.
 */
function itemSpec(o: Record<string, unknown>, i: number, type: TokenType, namespace: string, keyring: Keyring): TokenSpec {
  const own = optionalString(o.namespace, `items[${i}].namespace`);
  const input: TokenSpecInput = { type, namespace: own ?? namespace };
  for (const name of ITEM_OPTIONS) if (o[name] !== undefined) (input as unknown as Record<string, unknown>)[name] = o[name];
  try {
    return createTokenSpec(input, keyring);
  } catch (err) {
    if (!isGatewayError(err) || err.code !== 'RULES_INVALID') throw err;
    // A bad request-level namespace is named as such; everything else is the item's.
    const field = err.field === 'namespace' && own === undefined ? 'namespace' : `items[${i}].${err.field ?? 'type'}`;
    throw new GatewayError('BAD_REQUEST', `${field}: ${err.message}`, { field });
  }
}

/** Per-item results: invalid values get an error entry; the valid ones go to the vault in one call. */
async function tokenizeEach(vault: Vault, items: { spec: TokenSpec; value: string }[]) {
  const results: ({ token: string } | { error: { code: string; message: string } })[] = new Array(items.length);
  const valid: { spec: TokenSpec; value: string }[] = [];
  const at: number[] = [];
  items.forEach((item, i) => {
    // tryNormalize: no error built and caught per invalid item (normalize() throws only INVALID_VALUE).
    if (item.spec.format.tryNormalize(item.value) !== undefined) {
      valid.push(item);
      at.push(i);
    } else {
      results[i] = { error: { code: 'INVALID_VALUE', message: `items[${i}].value is not a valid ${item.spec.type}` } };
    }
  });
  const tokens = valid.length > 0 ? await vault.tokenize(valid) : [];
  tokens.forEach((token, j) => (results[at[j]!] = { token }));
  return results;
}

async function readJson(c: Context<VaultEnv>, limit: number): Promise<Record<string, unknown>> {
  const body = await readBody(c.env.incoming, limit);
  let parsed: unknown;
  try {
    parsed = JSON.parse(body.toString('utf8'));
  } catch {
    throw new GatewayError('INVALID_JSON', 'the request body is not valid JSON');
  }
  return object(parsed, '$');
}

/** CleverTap's `metadata.purpose` (docs/vault-api.md): the purpose a detokenize call states. */
function purposeOf(req: Record<string, unknown>): string | undefined {
  if (req.metadata === undefined) return undefined;
  return optionalString(object(req.metadata, 'metadata').purpose, 'metadata.purpose');
}

function object(v: unknown, field: string): Record<string, unknown> {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) {
    throw new GatewayError('BAD_REQUEST', `${field}: expected an object`, { field });
  }
  return v as Record<string, unknown>;
}

function string(v: unknown, field: string): string {
  if (typeof v !== 'string') throw new GatewayError('FIELD_NOT_STRING', `${field}: expected a string`, { field });
  return v;
}

function optionalString(v: unknown, field: string): string | undefined {
  return v === undefined ? undefined : string(v, field);
}

function batch(v: unknown, field: string, max: number): unknown[] {
  if (!Array.isArray(v)) throw new GatewayError('BAD_REQUEST', `${field}: expected an array`, { field });
  if (v.length > max) throw new GatewayError('BATCH_TOO_LARGE', `${field}: at most ${max} items per call`, { field });
  return v;
}
