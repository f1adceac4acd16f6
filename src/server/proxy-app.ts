/**
 * The proxy listener's hono app: route match -> read body (bounded) -> request rules -> forward ->
 * response rules -> reply. `createProxyApp()` builds it and never listens (serve.ts does), so tests can
 * drive it with `app.request()` or a real socket alike.
 *
 * Only declared routes pass: anything else is 404 ROUTE_NOT_FOUND (fail closed). A rule that cannot be
 * applied refuses the request; nothing is forwarded with PII where a rule said tokens.
 */
import type { OutgoingHttpHeaders, ServerResponse } from 'node:http';
import type { HttpBindings } from '@hono/node-server';
import { RESPONSE_ALREADY_SENT } from '@hono/node-server/utils/response';
import { Hono, type Context, type MiddlewareHandler, type Next } from 'hono';
import { requestId } from 'hono/request-id';
import { randomUUID } from 'node:crypto';
import { NO_AUTHENTICATORS, principalOf, ReleaseGuardedVault, routeAuthGuard, routeUnavailable, type Authenticators, type PrincipalVariables } from '../auth/authenticate.js';
import type { DetokenizePolicy } from '../auth/detokenize-policy.js';
import { identityLogFields } from '../auth/identity.js';
import { clientGuard, clientIdentity, type ClientIdentityVariables } from '../auth/mtls.js';
import { routeSignatures } from '../auth/signatures/index.js';
import { requestTargetGuard } from '../auth/request-target.js';
import { bodyCharset, codecLocator, rewriteCharset, type BodyCharset } from '../codecs/charset.js';
import { acceptEncodingFor, rewriteEncoded } from '../codecs/content-encoding.js';
import { splitQuery } from '../codecs/form.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { callerOf } from '../observability/audit-hooks.js';
import { accessLogger, type Logger } from '../observability/logger.js';
import { requestMetrics, type GatewayMetrics } from '../observability/metrics.js';
import { charset, endToEndHeaders, mediaType } from '../proxy/headers.js';
import type { Upstream } from '../proxy/upstream.js';
import type { CompiledDirection, CompiledRoute, CompiledRuleSet } from '../rules/types.js';
import { transformMessage, withoutBody, type HeaderMap, type ResolvedPair, type TransformContext, type TransformDeps, type TransformedMessage, type TransformStats } from '../transform/engine.js';
import { readBody } from './body.js';
import { createEchoGuard, guardResponse, type EchoGuard } from './echo-guard.js';
import { errorHandler } from './errors.js';

export interface ProxyAppDeps {
  readonly rules: CompiledRuleSet;
  readonly upstreams: ReadonlyMap<string, Upstream>;
  readonly transform: TransformDeps;
  readonly log: Logger;
  readonly limits: { readonly requestBodyBytes: number; readonly responseBodyBytes: number };
  /** Request, field and upstream-error metrics (labels: route ids, codes, upstream names only). */
  readonly metrics?: GatewayMetrics;
  /** Bearer credential verifiers for routes with `auth:` (auth/authenticate.ts). Default: none configured. */
  readonly auth?: Authenticators;
  /**
   * Detokenize policy checked per request on every route that detokenizes (types not declared in the rule).
   * null: no policy (routes that detokenize are disabled); undefined: not checked (tests that build the app directly).
   */
  readonly detokenizePolicy?: DetokenizePolicy | null;
}

export type ProxyEnv = { Bindings: HttpBindings; Variables: { requestId: string; routeId: string } & ClientIdentityVariables & PrincipalVariables };

export function createProxyApp(deps: ProxyAppDeps): Hono<ProxyEnv> {
  const app = new Hono<ProxyEnv>();
  app.use(nodeRequestId());
  // Before routing: a target the router, the auth guard and the upstream could read differently is refused.
  app.use(requestTargetGuard());
  app.use(clientIdentity());
  const { metrics } = deps;
  if (metrics) {
    const upstreamOf = new Map(deps.rules.routes.map((r) => [r.id, r.upstream.name]));
    const routeOf = (c: Context) => (c.get('routeId' as never) as string | undefined) ?? 'unmatched';
    app.use(
      requestMetrics(metrics, 'proxy', routeOf, (c, code) => {
        const upstream = upstreamOf.get(routeOf(c));
        if (upstream !== undefined && code.startsWith('UPSTREAM_')) metrics.upstreamErrors.inc({ upstream, code });
      }),
    );
  }
  for (const route of deps.rules.routes) {
    const handler = routeHandler(route, deps);
    if (route.method === 'ANY') app.all(route.path, handler);
    else app.on(route.method, route.path, handler);
  }
  app.notFound((c) => {
    throw new GatewayError('ROUTE_NOT_FOUND', `no route is configured for ${c.req.method} on this path`);
  });
  app.onError(errorHandler(deps.log));
  return app;
}

const REQUEST_ID_LIMIT = 255;
const REQUEST_ID_INVALID = /[^\w\-=]/;

/**
 * hono's requestId() (same rules: the client's X-Request-Id when it is 1-255 characters of [A-Za-z0-9_=-],
 * else a random UUID; set as `requestId` and as the X-Request-Id response header) reading the header from
 * node's parsed headers: hono's reads it through the Web Request, whose Headers object is then built from
 * every raw header of the request for that one lookup. Without a node request (app.request() in tests) it
 * is hono's own middleware.
 */
function nodeRequestId(): MiddlewareHandler<ProxyEnv> {
  const fallback = requestId();
  return async function proxyRequestId(c, next) {
    const incoming = c.env?.incoming;
    if (incoming === undefined) return fallback(c, next);
    const raw = incoming.headers['x-request-id']; // node joins repeated lines with ', ' as Headers.get() does
    const given = Array.isArray(raw) ? raw.join(', ') : raw;
    const id = given === undefined || given === '' || given.length > REQUEST_ID_LIMIT || REQUEST_ID_INVALID.test(given) ? randomUUID() : given;
    c.set('requestId', id);
    c.header('X-Request-Id', id);
    await next();
  };
}

function routeHandler(route: CompiledRoute, deps: ProxyAppDeps) {
  const upstream = deps.upstreams.get(route.upstream.name);
  if (!upstream) throw new GatewayError('CONFIG_INVALID', `route ${route.id}: no upstream '${route.upstream.name}'`);
  const { log, limits } = deps;
  // The 'proxied' line holds ids, counts, status and duration only: no redaction pass (observability/logger.ts).
  const access = accessLogger(log);
  const checkClient = clientGuard(route.clients);
  const signatures = routeSignatures(route.verify, route.resign); // provider webhook signatures (route `verify:`/`resign:`)
  const unavailable = routeUnavailable(route, deps.auth ?? NO_AUTHENTICATORS, deps.detokenizePolicy);
  if (unavailable !== undefined) {
    log.warn({ route: route.id, origin: route.origin, reason: unavailable }, 'route disabled until configured');
    return async function disabledRoute(c: Context<ProxyEnv>, next: Next): Promise<void> {
      if (route.host !== undefined && hostOf(c.env.incoming.headers.host) !== route.host) return next();
      c.set('routeId', route.id);
      throw new GatewayError('ROUTE_NOT_FOUND', `route ${route.id} is disabled: ${unavailable}`);
    };
  }
  const checkAuth = routeAuthGuard(route, deps.auth ?? NO_AUTHENTICATORS);
  const requestDeps = releaseGuarded(deps, route, 'request');
  const responseDeps = releaseGuarded(deps, route, 'response');

  return async function proxyRoute(c: Context<ProxyEnv>, next: Next): Promise<Response | void> {
    const incoming = c.env.incoming;
    if (route.host !== undefined && hostOf(incoming.headers.host) !== route.host) return next();
    const started = performance.now();
    c.set('routeId', route.id);
    checkClient(c); // mTLS allowlist (route `clients:`), before a byte of the body is read
    await checkAuth(c); // bearer credential and permissions (route `auth:`), likewise
    const stats: TransformStats = { tokenized: 0, detokenized: 0, other: 0, alteredTokens: 0 };

    let body = await readBody(incoming, limits.requestBodyBytes);
    signatures.verify(incoming.headers, body, incoming.url ?? '/'); // on the raw bytes, before any decoding or rule
    let headers = endToEndHeaders(incoming.headers);
    let pathAndQuery = incoming.url ?? '/';
    const ctx = { requestId: c.get('requestId'), routeId: route.id, caller: callerOf(c) };
    // Every token the request side resolves, with its value: the echo guard's input (memory, this request only).
    let echo: EchoGuard | undefined;
    if (route.request) {
      if (route.request.fields.length > 0 && body.length > 0) checkRewritable(route.request, incoming.headers['content-type'], 'request');
      // Body, query string and headers in one transform: one vault round for all of them.
      const { path, query } = splitQuery(pathAndQuery);
      const queryText = query?.toString('latin1') ?? '';
      const resolved: ResolvedPair[] = [];
      stats.resolved = resolved;
      const out = await rewriteBody(route.request, body, queryText, headers, limits.requestBodyBytes, requestDeps, stats, 'request', ctx);
      stats.resolved = undefined;
      echo = resolved.length > 0 ? createEchoGuard(resolved) : undefined;
      body = out.body;
      headers = out.headers;
      if (out.query !== queryText) pathAndQuery = out.query === '' ? path : `${path}?${out.query}`;
    }

    headers['x-request-id'] = c.get('requestId');
    // Response rules and the echo guard need a body they can read: only offer the codings the gateway can
    // decode (the client's list, filtered; identity when none is left). The response is re-encoded as it came
    // (content-encoding.ts).
    if (route.response || echo) headers['accept-encoding'] = acceptEncodingFor(incoming.headers['accept-encoding']);

    pathAndQuery = signatures.resign(headers, body, pathAndQuery); // over the final body and headers, after the rewrite
    const res = await upstream.forward({
      method: incoming.method ?? 'GET',
      pathAndQuery,
      headers,
      body,
      maxResponseBytes: limits.responseBodyBytes,
    });

    let resBody = res.body;
    let resHeaders = endToEndHeaders(res.headers);
    if (echo) {
      // Before the response rules, success and error answers alike: what the request resolved goes back as
      // its token (server/echo-guard.ts). A request that resolved nothing keeps the answer's bytes.
      ({ body: resBody, headers: resHeaders } = await guardResponse(echo, resBody, resHeaders, limits.responseBodyBytes));
    }
    if (route.response) {
      // An empty response (204, 304, many errors) has no body fields to miss; its header fields still apply.
      const direction = resBody.length > 0 ? route.response : withoutBody(route.response);
      if (direction.fields.length > 0) checkRewritable(direction, res.headers['content-type'], 'response');
      // A field the rules tokenize again keeps a token the guard wrote (a phone token would be tokenized anew).
      const deps = echo === undefined ? responseDeps : { ...responseDeps, transform: { ...responseDeps.transform, keepTokens: echo.tokens } };
      const out = await rewriteBody(direction, resBody, '', resHeaders, limits.responseBodyBytes, deps, stats, 'response', ctx);
      resBody = out.body;
      resHeaders = out.headers;
    }
    access.info(
      {
        requestId: c.get('requestId'),
        route: route.id,
        client: identityLogFields(c.get('clientIdentity')),
        caller: principalOf(c)?.id,
        method: route.method,
        status: res.status,
        ms: Math.round((performance.now() - started) * 100) / 100,
        tokenized: stats.tokenized,
        detokenized: stats.detokenized,
      },
      'proxied',
    );
    if (deps.metrics) {
      if (stats.tokenized > 0) deps.metrics.fields.inc({ route: route.id, action: 'tokenized' }, stats.tokenized);
      if (stats.detokenized > 0) deps.metrics.fields.inc({ route: route.id, action: 'detokenized' }, stats.detokenized);
      if (stats.other > 0) deps.metrics.fields.inc({ route: route.id, action: 'other' }, stats.other);
      if (stats.alteredTokens) deps.metrics.alteredTokens.inc({ route: route.id }, stats.alteredTokens);
    }
    return reply(c, res.status, resHeaders, resBody);
  };
}

/**
 * Sends the upstream answer. On a node listener it is written straight to `c.env.outgoing` (no Web
 * Response, no Headers round trip) and RESPONSE_ALREADY_SENT tells @hono/node-server so; the headers are
 * the ones hono's `c.body()` + node-server produced: the request id first, the upstream's end-to-end
 * headers over it (lower-case; a list joined with ', ', set-cookie kept as separate lines; values with
 * leading/trailing whitespace trimmed as Headers does), the text/plain content type node-server adds when
 * there is none, and Content-Length of the body (none on HEAD). Node itself keeps HEAD, 204 and 304 bodiless. Without a
 * node response (app.request() in tests) it answers through c.body() as before.
 */
function reply(c: Context<ProxyEnv>, status: number, headers: HeaderMap, body: Buffer): Response {
  const outgoing = c.env?.outgoing as ServerResponse | undefined;
  if (outgoing === undefined) return c.body(body as unknown as ArrayBuffer, status as 200, headers);
  const out: OutgoingHttpHeaders = { 'x-request-id': c.get('requestId') };
  for (const name in headers) {
    const value = headers[name]!;
    if (typeof value === 'string') out[name] = trimOws(value);
    else out[name] = name === 'set-cookie' ? value.map(trimOws) : value.map(trimOws).join(', ');
  }
  out['content-type'] ??= 'text/plain; charset=UTF-8';
  // hono answers HEAD through a bodiless copy of the GET response, which node-server sent without one.
  if (c.env.incoming.method !== 'HEAD') out['Content-Length'] = body.byteLength;
  outgoing.writeHead(status, out);
  outgoing.end(body);
  return RESPONSE_ALREADY_SENT;
}

const EDGE_OWS = /^[\t\n\r ]|[\t\n\r ]$/;
const EDGE_OWS_ALL = /^[\t\n\r ]+|[\t\n\r ]+$/g;

/** Leading and trailing HTTP whitespace removed, as the Fetch Headers class normalizes a value. */
function trimOws(value: string): string {
  return EDGE_OWS.test(value) ? value.replace(EDGE_OWS_ALL, '') : value;
}

/**
 * Deps for one direction of one route whose vault refuses, per request, to release a token type the
 * detokenize policy does not allow where this direction sends it (auth/authenticate.ts ReleaseGuardedVault).
 */
function releaseGuarded(deps: ProxyAppDeps, route: CompiledRoute, side: 'request' | 'response'): ProxyAppDeps {
  if (deps.detokenizePolicy === undefined || (side === 'request' ? route.request : route.response) === null) return deps;
  const vault = new ReleaseGuardedVault(deps.transform.vault, deps.detokenizePolicy, side, route.upstream.url.hostname);
  return { ...deps, transform: { ...deps.transform, vault } };
}

/**
 * Runs a direction's rules over a message (body, query string, headers: one transform, one vault round).
 * For the body, a Content-Encoding (gzip, deflate, br, up to two stacked) is decoded
 * first, with the decoded size capped at `limit`, and the rewritten body re-encoded the same way; an unchanged
 * body keeps its original bytes (codecs/content-encoding.ts). Unknown codings: 415; corrupt: 400; a body that
 * decodes past the limit: 413. On responses the upstream broke the contract, so any of those is a 502.
 * Inside that, a body in a declared non-UTF-8 charset (checkRewritable let it through) is transcoded to UTF-8
 * for the codec and back (codecs/charset.ts); a new value the charset cannot hold is 422 on either side.
 */
async function rewriteBody(
  direction: CompiledDirection,
  body: Buffer,
  query: string,
  headers: HeaderMap,
  limit: number,
  deps: ProxyAppDeps,
  stats: TransformStats,
  side: 'request' | 'response',
  ctx: TransformContext,
): Promise<TransformedMessage> {
  let out: TransformedMessage | undefined;
  const run = async (plain: Buffer): Promise<Buffer> => {
    out = await transformMessage(direction, { body: plain, query, headers }, deps.transform, { ...ctx, side }, stats);
    return out.body;
  };
  // Only a body that rules read is decoded; otherwise it passes as it came (query/header rules still run).
  if (body.length === 0 || direction.fields.length === 0) {
    await run(body);
    return out!;
  }
  // checkRewritable already refused a charset the direction does not declare; without `charsets:` it is utf-8.
  const cs = direction.charsets === undefined ? 'utf-8' : (bodyCharset(charset(headers['content-type'])) ?? 'utf-8');
  const transcoded = cs === 'utf-8' ? run : (plain: Buffer) => rewriteCharset(plain, cs, run, locator(direction, deps));
  try {
    const encoded = await rewriteEncoded(body, headers['content-encoding'], limit, transcoded);
    return { ...out!, body: encoded };
  } catch (err) {
    if (side === 'response' && isGatewayError(err) && ENCODING_CODES.has(err.code)) {
      throw new GatewayError('UPSTREAM_RESPONSE_INVALID', `upstream response: ${err.message}`, { cause: err });
    }
    throw err;
  }
}

const ENCODING_CODES: ReadonlySet<string> = new Set(['UNSUPPORTED_ENCODING', 'INVALID_ENCODING', 'BODY_TOO_LARGE', 'INVALID_CHARSET']);

/** Names the field an UNREPRESENTABLE_VALUE refusal is about (runs only once a refusal is certain). */
function locator(direction: CompiledDirection, deps: ProxyAppDeps) {
  const codec = deps.transform.codecs.get(direction.codec);
  return codec === undefined ? undefined : codecLocator(codec, direction.selectors, { maxDepth: deps.transform.maxDepth });
}

const UTF8_ONLY: readonly BodyCharset[] = Object.freeze(['utf-8']);

/**
 * A body a rule must rewrite has to be in the rule's codec: another media type or charset is refused rather
 * than forwarded untouched (415 on requests; on responses the upstream broke the contract, so 502).
 */
function checkRewritable(
  direction: CompiledDirection,
  contentType: string | string[] | undefined,
  side: 'request' | 'response',
): void {
  const fail = (code: 'UNSUPPORTED_MEDIA_TYPE', message: string): never => {
    if (side === 'response') throw new GatewayError('UPSTREAM_RESPONSE_INVALID', `upstream response: ${message}`);
    throw new GatewayError(code, message);
  };
  const type = mediaType(contentType);
  if (type === undefined || !matchesMediaType(type, direction.contentTypes)) {
    fail('UNSUPPORTED_MEDIA_TYPE', `this route expects ${direction.contentTypes.join(' or ')}`);
  }
  // No charset parameter is UTF-8. The label is request data: only a charset the gateway knows is named back.
  const accepted = direction.charsets ?? UTF8_ONLY;
  const cs = bodyCharset(charset(contentType));
  if (cs === undefined) {
    fail(
      'UNSUPPORTED_MEDIA_TYPE',
      `the body's charset is not supported: this route's ${side} accepts ${accepted.join(', ')}; a rule can declare iso-8859-1 or us-ascii with 'charsets:' (codec json or text)`,
    );
  } else if (!accepted.includes(cs)) {
    fail(
      'UNSUPPORTED_MEDIA_TYPE',
      `the body's charset ${cs} is not declared for this route's ${side} (it accepts ${accepted.join(', ')}); declare it in the rule: ${side}: { charsets: [${[...accepted, cs].join(', ')}] }`,
    );
  }
}

/** Entries are exact media types, or a structured-syntax suffix such as '+json' (RFC 6839). */
export function matchesMediaType(type: string, accepted: readonly string[]): boolean {
  for (const a of accepted) {
    if (a.startsWith('+') ? type.endsWith(a) : type === a) return true;
  }
  return false;
}

function hostOf(host: string | undefined): string | undefined {
  if (host === undefined) return undefined;
  const h = host.toLowerCase();
  if (h.startsWith('[')) return h.slice(0, h.indexOf(']') + 1);
  const colon = h.indexOf(':');
  return colon === -1 ? h : h.slice(0, colon);
}
