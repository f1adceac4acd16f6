/**
 * Purpose-bound detokenization: the central policy, owned by security, that says where each token type may
 * be turned back into PII. Rule authors decide *which* fields are detokenized; this file decides *toward
 * whom*, so a rule change alone cannot send phone numbers to a new host.
 *
 *   # PII_GATEWAY_DETOKENIZE_POLICY=/etc/pii-gateway/detokenize-policy.yaml
 *   version: 1
 *   destinations:              # proxy, request side: upstream hosts each type may be resolved toward
 *     phone: [api.twilio.com, "*.infobip.com"]
 *     email: [api.sendgrid.com]
 *   responses: [phone]         # proxy, response side: types that may be resolved back to an authenticated caller
 *   purposes:                  # vault API: a stated purpose, who may state it, and what it resolves
 *     sms_dispatch: { callers: ["jwt:clevertap-dispatcher", "apikey:dispatcher", "cn:dispatcher"], types: [phone] }
 *     agent_lookup: { callers: ["jwt:support-console"], types: [email], users: true }  # users' tokens through that client too
 *
 * A user-delegated JWT (a user's token obtained through a client, Principal.user) is named after its client
 * but is refused for detokenization unless the purpose says `users: true`.
 * Host patterns: an exact host name or IP (case-insensitive, no port), or `*.example.com` for any host
 * *under* example.com (not example.com itself). Everything not listed is refused. Pure data and checks;
 * the rule loader applies it at load time (file:line errors) and the proxy / vault API at request time.
 */
import { readFileSync } from 'node:fs';
import { parseDocument } from 'yaml';
import { GatewayError } from '../errors.js';
import { TOKEN_TYPES } from '../tokens/types.js';

export interface PurposeGrant {
  /** Caller names (`jwt:<client>`, `apikey:<name>`, `cn:<mTLS CN>`), or `*` for any caller the vault API accepted. */
  readonly callers: readonly string[];
  readonly types: ReadonlySet<string>;
  /** Whether user-delegated JWTs through a listed client may detokenize for this purpose (default false). */
  readonly users: boolean;
}

export interface DetokenizePolicy {
  readonly file: string;
  /** Token type -> host patterns (lower-case; `*.` prefix for subdomains). */
  readonly destinations: ReadonlyMap<string, readonly string[]>;
  readonly responses: ReadonlySet<string>;
  /**
   * Vault API purposes; null when the file has no `purposes:` key, which leaves the vault API bound by the
   * detokenize permission only (the gateway warns at start-up). `purposes: {}` refuses every vault API detokenize.
   */
  readonly purposes: ReadonlyMap<string, PurposeGrant> | null;
}

const HOST = /^(?:\*\.)?(?:[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)(?:\.[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?)*$|^\[[0-9a-f:.]+\]$/;
const PURPOSE = /^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$/;

/**
 * Reads and validates the policy file.
 * @throws GatewayError CONFIG_INVALID naming the file and what is wrong
 */
export function loadDetokenizePolicy(file: string): DetokenizePolicy {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    throw new GatewayError('CONFIG_INVALID', `PII_GATEWAY_DETOKENIZE_POLICY: cannot read ${file} (${(err as NodeJS.ErrnoException).code ?? 'error'})`);
  }
  return parseDetokenizePolicy(text, file);
}

/** Parses policy text (tests, `loadDetokenizePolicy`). */
export function parseDetokenizePolicy(text: string, file: string): DetokenizePolicy {
  const bad = (what: string): never => {
    throw new GatewayError('CONFIG_INVALID', `detokenize policy ${file}: ${what}`);
  };
  const doc = parseDocument(text, { uniqueKeys: true, strict: true });
  if (doc.errors.length > 0) bad(`YAML: ${doc.errors[0]!.message.split('\n')[0]}`);
  const data = doc.toJS({ maxAliasCount: 0 }) as unknown;
  if (!isRecord(data)) return bad('expected a mapping with version, destinations, responses, purposes');
  for (const key of Object.keys(data)) {
    if (!['version', 'destinations', 'responses', 'purposes'].includes(key)) bad(`unknown key '${key}' (expected version, destinations, responses, purposes)`);
  }
  if (data.version !== 1) bad('version: expected 1');
  const type = (t: unknown, where: string): string => {
    if (typeof t !== 'string' || !(TOKEN_TYPES as readonly string[]).includes(t)) bad(`${where}: expected a token type (${TOKEN_TYPES.join(', ')})`);
    return t as string;
  };
  const strings = (v: unknown, where: string): string[] => {
    if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) bad(`${where}: expected a list of strings`);
    return v as string[];
  };

  const destinations = new Map<string, readonly string[]>();
  if (data.destinations !== undefined && data.destinations !== null) {
    if (!isRecord(data.destinations)) bad('destinations: expected a mapping of token type to host list');
    for (const [t, hosts] of Object.entries(data.destinations as Record<string, unknown>)) {
      type(t, `destinations.${t}`);
      const list = strings(hosts, `destinations.${t}`).map((h) => h.toLowerCase().replace(/\.$/, ''));
      for (const h of list) if (!HOST.test(h)) bad(`destinations.${t}: '${h}' is not a host name, IP or *.domain pattern (no scheme, port or path)`);
      destinations.set(t, Object.freeze(list));
    }
  }
  const responses = new Set<string>();
  if (data.responses !== undefined && data.responses !== null) {
    for (const t of strings(data.responses, 'responses')) responses.add(type(t, 'responses'));
  }
  let purposes: Map<string, PurposeGrant> | null = null;
  if (data.purposes !== undefined) {
    purposes = new Map();
    if (data.purposes === null) data.purposes = {};
    if (!isRecord(data.purposes)) bad('purposes: expected a mapping of purpose name to { callers, types }');
    for (const [name, grant] of Object.entries(data.purposes as Record<string, unknown>)) {
      if (!PURPOSE.test(name)) bad(`purposes: '${name}' is not a purpose name (letters, digits, ., _, :, -)`);
      if (!isRecord(grant)) return bad(`purposes.${name}: expected { callers, types }`);
      for (const key of Object.keys(grant)) if (key !== 'callers' && key !== 'types' && key !== 'users') bad(`purposes.${name}: unknown key '${key}' (expected callers, types, users)`);
      if (grant.users !== undefined && typeof grant.users !== 'boolean') bad(`purposes.${name}.users: expected true or false`);
      const callers = strings(grant.callers, `purposes.${name}.callers`);
      if (callers.length === 0) bad(`purposes.${name}.callers: expected at least one caller`);
      const types = strings(grant.types, `purposes.${name}.types`).map((t) => type(t, `purposes.${name}.types`));
      if (types.length === 0) bad(`purposes.${name}.types: expected at least one token type`);
      purposes.set(name, Object.freeze({ callers: Object.freeze(callers), types: new Set(types), users: grant.users === true }));
    }
  }
  return Object.freeze({ file, destinations, responses, purposes });
}

/** `host` as a URL gives it (lower-case, IPv6 in brackets), matched against one pattern. */
function hostMatches(pattern: string, host: string): boolean {
  const h = host.toLowerCase().replace(/\.$/, '');
  if (pattern.startsWith('*.')) return h.endsWith(pattern.slice(1)) && h.length > pattern.length - 1;
  return h === pattern;
}

/** True when tokens of `type` may be resolved toward `host`. */
export function allowedToward(policy: DetokenizePolicy, type: string, host: string): boolean {
  return (policy.destinations.get(type) ?? []).some((p) => hostMatches(p, host));
}

/**
 * Request-time check for a proxy route: every resolved type must be allowed toward the route's upstream
 * host (request side) or back to the caller (response side).
 * @throws GatewayError FORBIDDEN; nothing resolved is released
 */
export function checkRelease(policy: DetokenizePolicy | null, side: 'request' | 'response', host: string, types: readonly string[]): void {
  for (const t of types) {
    const ok = policy !== null && (side === 'request' ? allowedToward(policy, t, host) : policy.responses.has(t));
    if (!ok) {
      const toward = side === 'request' ? 'toward this route\'s upstream' : 'into responses';
      throw new GatewayError('FORBIDDEN', `the detokenize policy does not allow ${t} tokens to be resolved ${toward}`);
    }
  }
}

/** The refusal of a user-delegated JWT where detokenization is not opened to users. */
export const USER_TOKEN_REFUSED =
  "a user's token (issued to a user through a client) may not detokenize: only the client's own (client-credentials) token may, unless the detokenize policy allows users for the purpose (users: true)";

/**
 * Vault API: `purpose` must be in the policy, one of `callers` must be listed for it (or `*`), every
 * resolved type must be one the purpose allows, and a user-delegated token (`userToken`) needs `users: true`.
 * @throws GatewayError BAD_REQUEST (no purpose) or FORBIDDEN
 */
export function checkPurpose(
  policy: DetokenizePolicy & { purposes: ReadonlyMap<string, PurposeGrant> },
  purpose: string | undefined,
  callers: readonly string[],
  types: readonly string[],
  userToken = false,
): void {
  if (purpose === undefined || purpose === '') {
    throw new GatewayError('BAD_REQUEST', 'a purpose is required to detokenize (the detokenize policy binds resolution to a purpose)', { field: 'purpose' });
  }
  const grant = policy.purposes.get(purpose);
  if (grant === undefined) throw new GatewayError('FORBIDDEN', 'this purpose is not in the detokenize policy', { field: 'purpose' });
  if (!grant.callers.includes('*') && !callers.some((c) => grant.callers.includes(c))) {
    throw new GatewayError('FORBIDDEN', 'this caller may not detokenize for this purpose');
  }
  if (userToken && !grant.users) throw new GatewayError('FORBIDDEN', USER_TOKEN_REFUSED);
  for (const t of types) {
    if (!grant.types.has(t)) throw new GatewayError('FORBIDDEN', `this purpose does not allow ${t} tokens to be resolved`);
  }
}

function isRecord(v: unknown): v is Record<string, unknown> {
  return v !== null && typeof v === 'object' && !Array.isArray(v);
}
