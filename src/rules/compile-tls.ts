/**
 * The trust parts of a rule file: an upstream's `tls:` block (mutual TLS towards the upstream) and a
 * route's `clients:` allowlist (mutual TLS from the caller). Kept apart from compile.ts so the field and
 * codec compiler does not grow with them; compile.ts calls these two functions.
 *
 * File paths are resolved against the rule file's directory (so a rule pack carries its own relative
 * layout, whatever the working directory), after `${VAR}` substitution. The files themselves are read by
 * the upstream (proxy/upstream.ts) at start-up and on reload, not here: compiling stays free of I/O.
 */
import path from 'node:path';
import { compileMatcher, type ClientMatcher, type ClientMatcherInput } from '../auth/identity.js';
import { substituteEnv } from './env.js';
import type { DocPath, RuleSource } from './issues.js';
import type { UpstreamInput } from './schema.js';
import type { UpstreamTls } from './types.js';

type Report = (path: DocPath, message: string, offset?: number) => void;

/**
 * Compiles `upstreams.<name>.tls`. Returns undefined when there is none, false when a problem was reported.
 */
export function compileUpstreamTls(
  name: string,
  input: UpstreamInput['tls'],
  url: URL,
  source: RuleSource,
  env: Readonly<Record<string, string | undefined>>,
  report: Report,
): UpstreamTls | undefined | false {
  if (input === undefined) return undefined;
  const at: DocPath = ['upstreams', name, 'tls'];
  if (url.protocol !== 'https:') {
    report(at, `upstream '${name}': tls applies to https upstreams only (the url is ${url.protocol.slice(0, -1)})`);
    return false;
  }
  const out: { cert?: string; key?: string; ca?: string; servername?: string } = {};
  let ok = true;
  for (const key of ['cert', 'key', 'ca', 'servername'] as const) {
    const raw = input[key];
    if (raw === undefined) continue;
    const expanded = substituteEnv(raw, env);
    if (!expanded.ok) {
      for (const p of expanded.problems) report([...at, key], `upstream '${name}': tls.${key}: ${p.message}`, source.offsetInString([...at, key], p.offset));
      ok = false;
      continue;
    }
    out[key] = key === 'servername' ? expanded.value.toLowerCase() : path.resolve(path.dirname(source.file), expanded.value);
  }
  return ok ? Object.freeze(out) : false;
}

/** Compiles a route's `clients:`; undefined when absent, false when a problem was reported. */
export function compileClients(
  input: ClientMatcherInput[] | undefined,
  at: DocPath,
  report: Report,
): readonly ClientMatcher[] | undefined | false {
  if (input === undefined) return undefined;
  const out: ClientMatcher[] = [];
  let ok = true;
  input.forEach((entry, i) => {
    const m = compileMatcher(entry);
    if ('error' in m) {
      report([...at, i], m.error);
      ok = false;
    } else out.push(m);
  });
  return ok ? Object.freeze(out) : false;
}
