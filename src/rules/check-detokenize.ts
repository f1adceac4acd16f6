/**
 * Load-time check of every detokenize and detokenize-text field against the detokenize policy (auth/detokenize-policy.ts):
 * a rule that would resolve a token type toward a host the policy does not list is refused with the
 * field's file:line, before the gateway starts.
 *
 * - request side: each declared type must be allowed toward the route's upstream host; a field with no
 *   declared type must have at least one type allowed there (the rest is refused per request); the
 *   upstream must be https unless it is loopback (PII in clear text on the network is refused);
 * - response side: each declared type must be in the policy's `responses`.
 * - no policy at all: every detokenize field is refused (proxy detokenization needs a policy).
 */
import { allowedToward, type DetokenizePolicy } from '../auth/detokenize-policy.js';
import { TOKEN_TYPES } from '../tokens/types.js';
import type { RuleIssue } from './issues.js';
import type { CompiledDirection, CompiledField, CompiledRoute } from './types.js';

function detokenizeFields(direction: CompiledDirection | null): CompiledField[] {
  if (direction === null) return [];
  const out: CompiledField[] = [];
  const walk = (fields: readonly CompiledField[]) => {
    for (const f of fields) {
      if (f.action.kind === 'detokenize' || f.action.kind === 'detokenize-text') out.push(f);
      else if (f.action.kind === 'document') walk(f.action.document.fields);
    }
  };
  walk(direction.fields);
  walk(direction.query?.fields ?? []);
  walk(direction.headers?.fields ?? []);
  return out;
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(hostname);
}

function issueAt(route: CompiledRoute, field: CompiledField, message: string): RuleIssue {
  const m = /^(.*):(\d+):(\d+)$/.exec(field.origin);
  return {
    file: m?.[1] ?? field.origin,
    line: m ? Number(m[2]) : 0,
    column: m ? Number(m[3]) : 0,
    route: route.id.slice(route.id.indexOf('/') + 1),
    field: field.selector.source,
    message,
  };
}

/** Every policy violation of `routes`, as rule issues at the offending field. */
export function detokenizePolicyIssues(routes: readonly CompiledRoute[], policy: DetokenizePolicy | null): RuleIssue[] {
  const issues: RuleIssue[] = [];
  for (const route of routes) {
    const host = route.upstream.url.hostname;
    for (const [side, direction] of [['request', route.request], ['response', route.response]] as const) {
      for (const field of detokenizeFields(direction)) {
        if (field.action.kind !== 'detokenize' && field.action.kind !== 'detokenize-text') continue;
        if (policy === null) {
          issues.push(issueAt(route, field, 'detokenize needs a detokenize policy, and none is configured: set PII_GATEWAY_DETOKENIZE_POLICY to a policy file that allows this type toward this upstream (docs/security.md#purpose-bound-detokenization)'));
          continue;
        }
        // detokenize-text always has its types (default [email, opaque]): each must be allowed.
        const declared =
          field.action.kind === 'detokenize' && field.action.types.length === TOKEN_TYPES.length ? undefined : field.action.types;
        if (side === 'request') {
          if (route.upstream.url.protocol !== 'https:' && !isLoopback(host)) {
            issues.push(issueAt(route, field, `detokenized values would travel in clear text: upstream '${route.upstream.name}' is http and not loopback (use https)`));
            continue;
          }
          const types = declared ?? TOKEN_TYPES;
          const refused = types.filter((t) => !allowedToward(policy, t, host));
          if (declared !== undefined && refused.length > 0) {
            issues.push(issueAt(route, field, `the detokenize policy (${policy.file}) does not allow ${refused.join(', ')} tokens to be resolved toward ${host}`));
          } else if (declared === undefined && refused.length === types.length) {
            issues.push(issueAt(route, field, `the detokenize policy (${policy.file}) allows no token type toward ${host}`));
          }
        } else {
          const types = declared ?? TOKEN_TYPES;
          const refused = types.filter((t) => !policy.responses.has(t));
          if ((declared !== undefined && refused.length > 0) || refused.length === types.length) {
            issues.push(issueAt(route, field, `the detokenize policy (${policy.file}) does not allow ${refused.join(', ')} tokens to be resolved into responses (list them under responses:)`));
          }
        }
      }
    }
  }
  return issues;
}
