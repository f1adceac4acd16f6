/**
 * Environment substitution in rule files: `${VAR}` and `${VAR:-default}`, and nothing else.
 *
 * Only the values listed in ENV_EXPANDED are expanded (today: `upstreams.<name>.url` and `.tls.*`), so that a rule file
 * can point at a different upstream per environment without a `${...}` anywhere else changing meaning.
 * This is also where secret *names* will go later (e.g. an upstream credential named by `${CT_PASSCODE}`):
 * add the path to ENV_EXPANDED and document it in docs/rules.md; secrets themselves never live in rule files.
 *
 * Rules, shell-like but smaller:
 *  - NAME is [A-Za-z_][A-Za-z0-9_]*;
 *  - `${NAME}`: the variable's value; unset or empty is an error (fail closed, never an empty URL part);
 *  - `${NAME:-default}`: the default when the variable is unset or empty; the default is literal text
 *    (no nested `${`), up to the first `}`;
 *  - `$${` is a literal `${`; any other `$` is literal;
 *  - no other expansion: no `$NAME`, no `${NAME:=x}`, no command substitution.
 */

/** Rule-file values that are expanded, as paths with `*` for any map key. Nothing else is. */
export const ENV_EXPANDED: readonly string[] = Object.freeze([
  'upstreams.*.url',
  // upstream mTLS file paths and server name (rules/compile-tls.ts)
  'upstreams.*.tls.cert',
  'upstreams.*.tls.key',
  'upstreams.*.tls.ca',
  'upstreams.*.tls.servername',
  // provider signatures (rules/compile-signatures.ts): secrets must be exactly ${VAR}; urls and the public key may mix text
  'routes.*.verify.secret',
  'routes.*.verify.url',
  'routes.*.verify.publicKey',
  'routes.*.resign.secret',
  'routes.*.resign.url',
]);

/** A problem in a `${...}` reference; `offset` is the 0-based index of its `$` in the text. */
export interface EnvProblem {
  readonly offset: number;
  readonly variable: string | undefined;
  readonly message: string;
}

export type EnvResult =
  | { readonly ok: true; readonly value: string; readonly variables: readonly string[] }
  | { readonly ok: false; readonly problems: readonly EnvProblem[] };

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/**
 * Expands `${VAR}` / `${VAR:-default}` in `text` from `env`. Reports every problem, not only the first.
 * Problem messages name the variable, never its value.
 *
 * @example
 *   substituteEnv('${CT_URL:-https://api.clevertap.com}', {})  // { ok: true, value: 'https://api.clevertap.com', ... }
 *   substituteEnv('cost: $${x}', {})                            // { ok: true, value: 'cost: ${x}', ... }
 */
export function substituteEnv(text: string, env: Readonly<Record<string, string | undefined>>): EnvResult {
  let out = '';
  const problems: EnvProblem[] = [];
  const variables: string[] = [];
  let i = 0;
  while (i < text.length) {
    const dollar = text.indexOf('$', i);
    if (dollar === -1) {
      out += text.slice(i);
      break;
    }
    out += text.slice(i, dollar);
    if (text.startsWith('$${', dollar)) {
      out += '${';
      i = dollar + 3;
      continue;
    }
    if (!text.startsWith('${', dollar)) {
      out += '$';
      i = dollar + 1;
      continue;
    }
    const close = text.indexOf('}', dollar + 2);
    if (close === -1) {
      problems.push({ offset: dollar, variable: undefined, message: "unterminated '${' (expected ${NAME} or ${NAME:-default}; write $${ for a literal ${)" });
      break;
    }
    const body = text.slice(dollar + 2, close);
    const sep = body.indexOf(':-');
    const name = sep === -1 ? body : body.slice(0, sep);
    const fallback = sep === -1 ? undefined : body.slice(sep + 2);
    i = close + 1;
    if (!NAME.test(name) || (fallback !== undefined && fallback.includes('${'))) {
      problems.push({
        offset: dollar,
        variable: undefined,
        message: `invalid reference '\${${body}}' (expected \${NAME} or \${NAME:-default}, NAME of letters, digits and _; write $\${ for a literal \${)`,
      });
      continue;
    }
    variables.push(name);
    const value = Object.prototype.hasOwnProperty.call(env, name) ? env[name] : undefined;
    if (value !== undefined && value !== '') out += value;
    else if (fallback !== undefined) out += fallback;
    else
      problems.push({
        offset: dollar,
        variable: name,
        message: `environment variable '${name}' is not set (or empty) and has no default (write \${${name}:-<default>} to give one)`,
      });
  }
  return problems.length > 0 ? { ok: false, problems } : { ok: true, value: out, variables };
}
