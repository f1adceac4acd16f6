/**
 * What goes over the wire to a remote vault, and what is accepted back: one mapping per API.
 *
 *   pii-gateway  POST /v1/tokenize, /v1/detokenize of another pii-gateway (docs/vault-api.md): every token
 *                type, namespaces, and the token options of a spec (TokenSpec.input), so the remote builds
 *                the very spec the rule asked for.
 *   clevertap    CleverTap's Token Vault API (/ct-vault/api/tokenization/tokens/batch, tokens/values/batch):
 *                one kind of token only, opaque strings in one namespace. Specs it cannot express are refused
 *                at call time, never silently tokenized as something else.
 *
 * Answers are checked strictly before anything is used: the shape, one result per item, a non-empty string
 * per token, the found/value/type of each detokenize result. A malformed answer is VAULT_UNAVAILABLE naming
 * the position (`results[3]`, counted in the caller's batch), never a value or a token. The remote's own
 * words are never repeated: only an error code that looks like one (`BATCH_TOO_LARGE`).
 *
 * Pure functions of their inputs: unit-tested beside this file.
 */
import type { HttpVaultProtocol } from '../../config/vault.js';
import { GatewayError } from '../../errors.js';
import { DEFAULT_NAMESPACE } from '../../tokens/index.js';
import { TOKEN_TYPES, type TokenType } from '../../tokens/types.js';
import type { DetokenizeItem, DetokenizeResult, TokenizeItem } from '../interface.js';

export interface WireRequest {
  /** Relative to the vault's base path, e.g. '/v1/tokenize'. */
  readonly path: string;
  readonly body: unknown;
}

export interface Protocol {
  readonly name: HttpVaultProtocol;
  /** Most items one remote call may carry (the API's own limit; the configured batch size may be lower). */
  readonly maxTokenize: number;
  readonly maxDetokenize: number;
  /** Throws GatewayError VAULT_UNAVAILABLE for items this API cannot express (before anything is sent). */
  checkTokenize(items: readonly TokenizeItem[]): void;
  checkDetokenize(items: readonly DetokenizeItem[]): void;
  tokenizeRequest(items: readonly TokenizeItem[]): WireRequest;
  /** `offset`: position of items[0] in the caller's batch, for messages. */
  tokenizeResults(json: unknown, items: readonly TokenizeItem[], offset: number): string[];
  detokenizeRequest(items: readonly DetokenizeItem[], purpose: string | undefined): WireRequest;
  detokenizeResults(json: unknown, items: readonly DetokenizeItem[], offset: number): DetokenizeResult[];
  /** Cheap requests that prove the vault answers and takes our credentials, tried in order (see ping in vault/http.ts). */
  pingRequests(purpose: string | undefined): readonly WireRequest[];
}

const NOT_FOUND: DetokenizeResult = Object.freeze({ found: false });
/** Token types whose tokens a vault hands back unchanged when asked to tokenize them (vault/local.ts). */
const PASS_THROUGH: ReadonlySet<string> = new Set(['email', 'opaque']);

function malformed(at: string, expected: string): GatewayError {
  return new GatewayError('VAULT_UNAVAILABLE', `remote vault answered malformed JSON at ${at}: expected ${expected}`);
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

/** The `results` array of an answer, with exactly `count` entries. */
function resultsOf(json: unknown, count: number, offset: number): unknown[] {
  if (!isObject(json)) throw malformed('$', 'an object with a results array');
  const results = json.results;
  if (!Array.isArray(results)) throw malformed('results', 'an array');
  if (results.length !== count) {
    const range = `items ${offset}..${offset + count - 1}`;
    throw new GatewayError('VAULT_UNAVAILABLE', `remote vault answered ${results.length} results for ${count} items (${range}); refused`);
  }
  return results;
}

/** The error code of a gateway-style error envelope `{"error":{"code":"BATCH_TOO_LARGE",...}}`, if it is one. */
export function remoteErrorCode(json: unknown): string | undefined {
  if (!isObject(json) || !isObject(json.error)) return undefined;
  const code = json.error.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : undefined;
}

/**
 * Fail closed on a remote that answers a value as its own token: it would forward PII where a rule said
 * tokens. A value may come back unchanged only when it is itself a token (email and opaque tokens pass
 * through a vault unchanged); `ownToken` tells.
 */
function checkNotTheValue(token: string, item: TokenizeItem, at: string, ownToken: (item: TokenizeItem) => boolean): void {
  if (token !== item.value && token !== item.spec.format.tryNormalize(item.value)) return;
  if (ownToken(item)) return;
  throw new GatewayError('VAULT_UNAVAILABLE', `remote vault answered the value itself as the token at ${at}; refused`);
}

function tokenAt(v: unknown, at: string): string {
  if (typeof v !== 'string' || v === '') throw malformed(at, 'a non-empty string token');
  return v;
}

/** The namespace most items use goes once at the top; the others per item. */
function commonNamespace(namespaces: readonly string[]): string {
  return namespaces[0] ?? DEFAULT_NAMESPACE;
}

const gatewayOwnToken = (item: TokenizeItem): boolean => PASS_THROUGH.has(item.spec.type) && item.spec.format.isToken(item.value);

/** Another pii-gateway's vault API (src/server/vault-api.ts). */
export const piiGatewayProtocol: Protocol = Object.freeze({
  name: 'pii-gateway' as const,
  // The remote's own limit is PII_GATEWAY_VAULT_API_MAX_BATCH (at least 500, default 10,000).
  maxTokenize: 10_000,
  maxDetokenize: 10_000,
  checkTokenize(): void {},
  checkDetokenize(): void {},

  tokenizeRequest(items: readonly TokenizeItem[]): WireRequest {
    const namespace = commonNamespace(items.map((i) => i.spec.namespace));
    return {
      path: '/v1/tokenize',
      body: {
        namespace,
        items: items.map(({ spec, value }) => {
          const { type, namespace: ns, random, emailDomain, emailSuffix, prefix } = spec.input;
          return {
            type,
            value,
            ...(ns !== undefined && ns !== namespace ? { namespace: ns } : {}),
            ...(random === true ? { random } : {}),
            ...(emailDomain !== undefined ? { emailDomain } : {}),
            ...(emailSuffix !== undefined ? { emailSuffix } : {}),
            ...(prefix !== undefined ? { prefix } : {}),
          };
        }),
      },
    };
  },

  tokenizeResults(json: unknown, items: readonly TokenizeItem[], offset: number): string[] {
    const results = resultsOf(json, items.length, offset);
    return results.map((r, i) => {
      const at = `results[${offset + i}]`;
      if (!isObject(r)) throw malformed(at, 'an object');
      if (r.error !== undefined) {
        // A per-item refusal fails the whole call: never a partly tokenized batch.
        const code = remoteErrorCode({ error: r.error });
        if (code === 'INVALID_VALUE') {
          throw new GatewayError('INVALID_VALUE', `the remote vault refused the value of items[${offset + i}]: not a valid ${items[i]!.spec.type}`);
        }
        throw new GatewayError('VAULT_UNAVAILABLE', `remote vault refused items[${offset + i}] (${code ?? 'no error code'})`);
      }
      const token = tokenAt(r.token, `${at}.token`);
      checkNotTheValue(token, items[i]!, at, gatewayOwnToken);
      return token;
    });
  },

  detokenizeRequest(items: readonly DetokenizeItem[], purpose: string | undefined): WireRequest {
    const namespace = commonNamespace(items.map((i) => i.namespace));
    return {
      path: '/v1/detokenize',
      body: {
        namespace,
        ...(purpose !== undefined ? { purpose } : {}),
        items: items.map(({ namespace: ns, token }) => (ns === namespace ? { token } : { token, namespace: ns })),
      },
    };
  },

  detokenizeResults(json: unknown, items: readonly DetokenizeItem[], offset: number): DetokenizeResult[] {
    const results = resultsOf(json, items.length, offset);
    return results.map((r, i) => {
      const at = `results[${offset + i}]`;
      if (!isObject(r)) throw malformed(at, 'an object');
      if (r.found === false) return NOT_FOUND;
      if (r.found !== true) throw malformed(`${at}.found`, 'true or false');
      if (typeof r.value !== 'string') throw malformed(`${at}.value`, 'a string');
      if (typeof r.type !== 'string' || !(TOKEN_TYPES as readonly string[]).includes(r.type)) {
        throw malformed(`${at}.type`, `one of ${TOKEN_TYPES.join(', ')}`);
      }
      return { found: true, value: r.value, type: r.type as TokenType };
    });
  },

  pingRequests(purpose: string | undefined): readonly WireRequest[] {
    // An empty detokenize proves the credentials hold the detokenize permission (and the purpose is
    // accepted); a caller with only the tokenize permission is proven by an empty tokenize instead.
    return [
      { path: '/v1/detokenize', body: { items: [], ...(purpose !== undefined ? { purpose } : {}) } },
      { path: '/v1/tokenize', body: { items: [] } },
    ];
  },
});

const CT = '/ct-vault/api/tokenization';

function clevertapRefusal(what: string): GatewayError {
  return new GatewayError(
    'VAULT_UNAVAILABLE',
    `the clevertap vault protocol stores only deterministic opaque tokens in namespace '${DEFAULT_NAMESPACE}': ${what}; use type opaque (no namespace, no random) in the rules, or PII_GATEWAY_HTTP_VAULT_PROTOCOL=pii-gateway (docs/fleet.md)`,
  );
}

/** CleverTap's tokens look like TKN_ followed by letters and digits (the gateway's CleverTap endpoints issue the same shape). */
const CLEVERTAP_TOKEN = /^TKN_[0-9A-Za-z]+$/;
const clevertapOwnToken = (item: TokenizeItem): boolean => CLEVERTAP_TOKEN.test(item.value) || gatewayOwnToken(item);

/** CleverTap's Token Vault API (docs/vault-api.md "CleverTap's Token Vault API"). */
export const clevertapProtocol: Protocol = Object.freeze({
  name: 'clevertap' as const,
  // CleverTap's documented batch limits.
  maxTokenize: 1_000,
  maxDetokenize: 10_000,

  checkTokenize(items: readonly TokenizeItem[]): void {
    items.forEach(({ spec }, i) => {
      if (spec.type !== 'opaque') throw clevertapRefusal(`items[${i}] asks for token type ${spec.type}`);
      if (spec.random) throw clevertapRefusal(`items[${i}] asks for a random token`);
      if (spec.namespace !== DEFAULT_NAMESPACE) throw clevertapRefusal(`items[${i}] asks for namespace '${spec.namespace}'`);
    });
  },

  checkDetokenize(items: readonly DetokenizeItem[]): void {
    items.forEach(({ namespace }, i) => {
      if (namespace !== DEFAULT_NAMESPACE) throw clevertapRefusal(`items[${i}] is in namespace '${namespace}'`);
    });
  },

  tokenizeRequest(items: readonly TokenizeItem[]): WireRequest {
    return { path: `${CT}/tokens/batch`, body: { values: items.map((i) => i.value) } };
  },

  tokenizeResults(json: unknown, items: readonly TokenizeItem[], offset: number): string[] {
    const results = resultsOf(json, items.length, offset);
    return results.map((r, i) => {
      const at = `results[${offset + i}]`;
      if (!isObject(r)) throw malformed(at, 'an object');
      const token = tokenAt(r.token, `${at}.token`);
      checkNotTheValue(token, items[i]!, at, clevertapOwnToken);
      return token;
    });
  },

  detokenizeRequest(items: readonly DetokenizeItem[], purpose: string | undefined): WireRequest {
    return {
      path: `${CT}/tokens/values/batch`,
      body: { tokens: items.map((i) => i.token), ...(purpose !== undefined ? { metadata: { purpose } } : {}) },
    };
  },

  detokenizeResults(json: unknown, items: readonly DetokenizeItem[], offset: number): DetokenizeResult[] {
    const results = resultsOf(json, items.length, offset);
    return results.map((r, i) => {
      const at = `results[${offset + i}]`;
      if (!isObject(r)) throw malformed(at, 'an object');
      // The answer repeats each token: a result for another token means the order is not ours.
      if (r.token !== undefined && r.token !== items[i]!.token) throw malformed(`${at}.token`, 'the token asked for at this position');
      if (r.exists === false) return NOT_FOUND;
      if (r.exists !== true) throw malformed(`${at}.exists`, 'true or false');
      if (typeof r.value !== 'string') throw malformed(`${at}.value`, 'a string');
      // The API knows one kind of token; the gateway's rules call it opaque.
      return { found: true, value: r.value, type: 'opaque' };
    });
  },

  pingRequests(purpose: string | undefined): readonly WireRequest[] {
    return [{ path: `${CT}/tokens/values/batch`, body: { tokens: [], ...(purpose !== undefined ? { metadata: { purpose } } : {}) } }];
  },
});

export function protocolFor(name: HttpVaultProtocol): Protocol {
  return name === 'clevertap' ? clevertapProtocol : piiGatewayProtocol;
}
