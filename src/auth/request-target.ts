/**
 * Request-target hygiene, before any route is matched: the route that the auth guard checks must be the
 * route that handles the request *and* the resource the upstream serves.
 *
 * Why this is needed: @hono/node-server builds the request URL with WHATWG `new URL()`, which resolves
 * `..` and `%2e%2e` segments, and hono then matches on a decodeURI()'d path (which keeps `%2F` encoded);
 * the proxy forwards the *raw* target. So `/public/..%2Fadmin` matches a `/public/:x` route here while an
 * upstream that decodes `%2F` serves `/admin`; `/a/../b` matches `/b` here while the raw target is
 * forwarded. Rather than guess every upstream's normalization, targets that normalize differently
 * anywhere are refused with 400 INVALID_PATH:
 *
 * - not origin-form (`http://host/...` absolute-form, `*`), or a fragment;
 * - encoded `/`, `\`, `.` or `%` (`%2F`, `%5C`, `%2E`, `%25`), NUL, or a raw backslash;
 * - `.` / `..` segments (also with `;params`), and empty segments (`//`; a trailing `/` is allowed);
 * - a Host whose name ends with `.` (`api.twilio.com.` is the same host to DNS, not to a host-bound route),
 *   or more than one Host header.
 *
 * Case is not normalized: route paths match case-sensitively, so `/1/UPLOAD` matches no `/1/upload` route.
 */
import type { HttpBindings } from '@hono/node-server';
import type { MiddlewareHandler } from 'hono';
import { GatewayError } from '../errors.js';

const ENCODED_FORBIDDEN = /%(?:2f|5c|2e|25|00)/i;

/** Why `target` (the raw request-target) is refused, or undefined when it is fine. */
export function requestTargetProblem(target: string): string | undefined {
  if (!target.startsWith('/')) return 'the request target must be a path (origin-form)';
  if (target.includes('#')) return 'the request target must not contain a fragment';
  const q = target.indexOf('?');
  const path = q === -1 ? target : target.slice(0, q);
  if (path.includes('\\')) return 'the path must not contain a backslash';
  if (ENCODED_FORBIDDEN.test(path)) return 'the path must not contain encoded /, \\, ., % or NUL';
  const segments = path.split('/').slice(1);
  for (let i = 0; i < segments.length; i++) {
    const seg = segments[i]!;
    const bare = seg.split(';')[0]!;
    if (bare === '.' || bare === '..') return 'the path must not contain . or .. segments';
    if (seg === '' && i !== segments.length - 1) return 'the path must not contain empty segments (//)';
  }
  return undefined;
}

/** Why the Host header(s) of a request are refused, or undefined. `rawHeaders` as node gives them. */
export function hostProblem(rawHeaders: readonly string[]): string | undefined {
  let hosts = 0;
  let host = '';
  for (let i = 0; i < rawHeaders.length; i += 2) {
    if (rawHeaders[i]!.toLowerCase() === 'host') {
      hosts++;
      host = rawHeaders[i + 1] ?? '';
    }
  }
  if (hosts > 1) return 'more than one Host header';
  const name = host.startsWith('[') ? host.slice(0, host.indexOf(']') + 1) : host.replace(/:\d*$/, '');
  if (name.endsWith('.')) return 'the Host name must not end with a dot';
  return undefined;
}

/**
 * Middleware: refuses (400 INVALID_PATH) requests whose target or Host could be read differently by the
 * router, the guard and the upstream. Put it before every route.
 *
 * @example
 *   app.use(requestTargetGuard());
 */
export function requestTargetGuard(): MiddlewareHandler<{ Bindings: HttpBindings }> {
  return async function guardRequestTarget(c, next) {
    const incoming = (c.env as Partial<HttpBindings> | undefined)?.incoming;
    if (incoming !== undefined) {
      const problem = requestTargetProblem(incoming.url ?? '') ?? hostProblem(incoming.rawHeaders ?? []);
      if (problem !== undefined) throw new GatewayError('INVALID_PATH', problem);
    }
    await next();
  };
}
