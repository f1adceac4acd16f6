/**
 * A route's `auth:` (caller authentication) and the rule that protects detokenization by default:
 * a route that detokenizes anything (body, query, header, nested document; request or response) must say
 * who may call it. Either `auth:` with credentials (the `detokenize` permission is then required unless
 * `require:` says otherwise), a `clients:` mTLS allowlist, or an explicit `auth: none`. A route that only
 * tokenizes, redacts, masks or hashes needs nothing (the quick start).
 *
 * Whether the named providers are configured is checked when the gateway starts (auth/authenticate.ts),
 * since rule files are checked without the gateway's settings too (`rules check`, rule tests).
 */
import type { Permission } from '../auth/principal.js';
import type { DocPath } from './issues.js';
import type { RouteInput } from './schema.js';
import type { CompiledDirection, CompiledField, RouteAuth } from './types.js';

type Report = (path: DocPath, message: string, offset?: number) => void;

/**
 * The first field of a direction (anywhere in it) that resolves tokens (detokenize or detokenize-text), for
 * messages; undefined when there is none.
 */
export function firstDetokenizeField(direction: CompiledDirection | null): CompiledField | undefined {
  if (direction === null) return undefined;
  const lists = [direction.fields, direction.query?.fields ?? [], direction.headers?.fields ?? []];
  for (const list of lists) {
    const found = firstIn(list);
    if (found) return found;
  }
  return undefined;
}

function firstIn(fields: readonly CompiledField[]): CompiledField | undefined {
  for (const f of fields) {
    if (f.action.kind === 'detokenize' || f.action.kind === 'detokenize-text') return f;
    if (f.action.kind === 'document') {
      const nested = firstIn(f.action.document.fields);
      if (nested) return nested;
    }
  }
  return undefined;
}

/**
 * Compiles `routes[i].auth`. Returns undefined when the route has none (and needs none), false when a
 * problem was reported.
 */
export function compileRouteAuth(
  route: RouteInput,
  routePath: DocPath,
  detokenizes: CompiledField | undefined,
  report: Report,
): RouteAuth | undefined | false {
  const input = route.auth;
  if (input === undefined) {
    if (detokenizes !== undefined && route.clients === undefined) {
      const line = /:(\d+):\d+$/.exec(detokenizes.origin)?.[1] ?? '?';
      report(
        [...routePath, 'id'],
        `this route detokenizes (${detokenizes.selector.source}, line ${line}) but says nothing about who may call it: ` +
          "add auth: { jwt: default } or auth: { apiKey: true } (callers then need the detokenize permission), an mTLS clients: allowlist, " +
          'or write auth: none to let any caller that reaches the listener resolve tokens (see docs/security.md)',
      );
      return false;
    }
    return undefined;
  }
  if (input === 'none') return Object.freeze({ kind: 'none' });
  if (input.jwt === undefined && input.apiKey !== true) {
    report([...routePath, 'auth'], "auth: expected jwt: default and/or apiKey: true (or write auth: none to opt out explicitly)");
    return false;
  }
  const require: readonly Permission[] = input.require ?? (detokenizes !== undefined ? ['detokenize'] : []);
  return Object.freeze({
    kind: 'credentials',
    jwt: input.jwt ?? null,
    apiKey: input.apiKey === true,
    require: Object.freeze([...require]),
  });
}
