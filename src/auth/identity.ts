/**
 * Client identities from verified TLS client certificates, and the matchers that allowlist them.
 *
 * Pure data and node:tls only (no hono, no undici), so rules/, config/ and server/ can all use it. An
 * identity exists only for a certificate the listener *verified* against its client CA (`socket.authorized`);
 * a presented but unverified certificate gives no identity. It is read once per TLS connection (cached per
 * socket) and requests on a keep-alive connection share it.
 *
 * Matching is exact, never a pattern: `cn` compares the subject CN (case-sensitive; a subject with several
 * CNs has no CN, so it matches no `cn` matcher), `san` compares a URI SAN exactly when it contains `://`
 * (SPIFFE IDs) and a DNS SAN case-insensitively otherwise, `fingerprint` compares the SHA-256 of the DER.
 */
import type { TLSSocket } from 'node:tls';

/** Who is on the other end of a verified mTLS connection. */
export interface ClientIdentity {
  /** Subject common name; undefined when absent or ambiguous (several CNs). */
  readonly cn: string | undefined;
  /** subjectAltName DNS entries, lower-case. */
  readonly dns: readonly string[];
  /** subjectAltName URI entries (e.g. spiffe://example.org/dispatcher), as written. */
  readonly uris: readonly string[];
  /** `sha256:AB:CD:...` (upper-case hex, colon-separated), the SHA-256 of the certificate's DER. */
  readonly fingerprint: string;
}

/** One allowlist entry (compiled). */
export type ClientMatcher =
  | { readonly kind: 'cn'; readonly value: string }
  | { readonly kind: 'san'; readonly value: string }
  | { readonly kind: 'fingerprint'; readonly value: string };

/** The matcher as written in a rule file: exactly one of the keys. */
export interface ClientMatcherInput {
  cn?: string;
  san?: string;
  fingerprint?: string;
}

const FINGERPRINT = /^sha256:(?:[0-9A-Fa-f]{2}(?::[0-9A-Fa-f]{2}){31}|[0-9A-Fa-f]{64})$/;
/** What a fingerprint must look like, for schema `pattern`s and messages. */
export const FINGERPRINT_PATTERN = FINGERPRINT.source;
export const FINGERPRINT_EXPECTED = "sha256: followed by 64 hex digits, with or without colons (openssl x509 -noout -fingerprint -sha256)";

/** `sha256:ab:cd...` or `sha256:abcd...` -> `sha256:AB:CD:...`; undefined when it is not a SHA-256 fingerprint. */
export function normalizeFingerprint(text: string): string | undefined {
  if (!FINGERPRINT.test(text)) return undefined;
  const hex = text.slice('sha256:'.length).replace(/:/g, '').toUpperCase();
  return `sha256:${hex.match(/../g)!.join(':')}`;
}

/**
 * Compiles one matcher as written (`{ cn }`, `{ san }` or `{ fingerprint }`). Returns a message instead of
 * throwing so callers (rule compiler, config) can report it their way.
 */
export function compileMatcher(input: ClientMatcherInput): ClientMatcher | { error: string } {
  const keys = Object.keys(input).filter((k) => (input as Record<string, unknown>)[k] !== undefined);
  if (keys.length !== 1) return { error: 'a client matcher has exactly one of cn, san, fingerprint' };
  if (input.cn !== undefined) {
    return input.cn === '' ? { error: 'cn: expected a non-empty common name' } : Object.freeze({ kind: 'cn', value: input.cn });
  }
  if (input.san !== undefined) {
    const san = input.san.includes('://') ? input.san : input.san.toLowerCase();
    return san === '' ? { error: 'san: expected a URI (spiffe://...) or a DNS name' } : Object.freeze({ kind: 'san', value: san });
  }
  const fp = normalizeFingerprint(input.fingerprint ?? '');
  return fp === undefined ? { error: `fingerprint: expected ${FINGERPRINT_EXPECTED}` } : Object.freeze({ kind: 'fingerprint', value: fp });
}

/**
 * Parses an allowlist written in one setting: comma-separated `cn:NAME`, `san:URI-or-DNS`, `fingerprint:sha256:..`.
 * Throws an Error naming the entry's position (never its value) when one is malformed.
 *
 * @example
 *   parseMatcherList('cn:dispatcher, san:spiffe://acme.test/worker')
 */
export function parseMatcherList(text: string): ClientMatcher[] {
  const out: ClientMatcher[] = [];
  text
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '')
    .forEach((entry, i) => {
      const colon = entry.indexOf(':');
      const kind = colon === -1 ? '' : entry.slice(0, colon).trim();
      if (kind !== 'cn' && kind !== 'san' && kind !== 'fingerprint') {
        throw new Error(`entry ${i + 1}: expected cn:<name>, san:<uri or dns> or fingerprint:sha256:<hex>`);
      }
      const m = compileMatcher({ [kind]: entry.slice(colon + 1).trim() });
      if ('error' in m) throw new Error(`entry ${i + 1}: ${m.error}`);
      out.push(m);
    });
  return out;
}

/** True when `identity` matches at least one matcher. A null identity matches nothing. */
export function matchesAny(identity: ClientIdentity | null, matchers: readonly ClientMatcher[]): boolean {
  if (identity === null) return false;
  for (const m of matchers) {
    switch (m.kind) {
      case 'cn':
        if (identity.cn === m.value) return true;
        break;
      case 'san':
        if (m.value.includes('://') ? identity.uris.includes(m.value) : identity.dns.includes(m.value)) return true;
        break;
      case 'fingerprint':
        if (identity.fingerprint === m.value) return true;
        break;
    }
  }
  return false;
}

const perSocket = new WeakMap<TLSSocket, ClientIdentity | null>();

/**
 * The verified client identity of a socket, or null (plain TCP, no certificate, or a certificate the
 * listener did not verify). Computed once per connection.
 */
export function identityOfSocket(socket: unknown): ClientIdentity | null {
  const tls = socket as TLSSocket;
  if (tls === null || typeof tls !== 'object' || tls.encrypted !== true) return null;
  const cached = perSocket.get(tls);
  if (cached !== undefined) return cached;
  let identity: ClientIdentity | null = null;
  if (tls.authorized === true) {
    const cert = tls.getPeerCertificate(false);
    if (cert && typeof cert.fingerprint256 === 'string' && cert.fingerprint256 !== '') {
      const cn = cert.subject?.CN as string | string[] | undefined;
      const sans = parseSubjectAltName(cert.subjectaltname ?? '');
      identity = Object.freeze({
        cn: typeof cn === 'string' ? cn : undefined,
        dns: Object.freeze(sans.filter((s) => s.type === 'DNS').map((s) => s.value.toLowerCase())),
        uris: Object.freeze(sans.filter((s) => s.type === 'URI').map((s) => s.value)),
        fingerprint: `sha256:${cert.fingerprint256.toUpperCase()}`,
      });
    }
  }
  perSocket.set(tls, identity);
  return identity;
}

/** What logs may carry about a client: CN and fingerprint only. */
export function identityLogFields(identity: ClientIdentity | null): { cn: string | undefined; fingerprint: string } | undefined {
  return identity === null ? undefined : { cn: identity.cn, fingerprint: identity.fingerprint };
}

/**
 * Parses Node's `subjectaltname` string: `DNS:a.example, URI:spiffe://x/y, IP Address:127.0.0.1`. Node
 * JSON-quotes a value that holds a separator or quote (`DNS:"a, b"`), so a crafted SAN cannot inject an
 * entry of another type.
 */
export function parseSubjectAltName(text: string): { type: string; value: string }[] {
  const out: { type: string; value: string }[] = [];
  let i = 0;
  while (i < text.length) {
    const colon = text.indexOf(':', i);
    if (colon === -1) break;
    const type = text.slice(i, colon);
    let value: string;
    let end: number;
    if (text[colon + 1] === '"') {
      let j = colon + 2;
      while (j < text.length && text[j] !== '"') j += text[j] === '\\' ? 2 : 1;
      try {
        value = JSON.parse(text.slice(colon + 1, j + 1)) as string;
      } catch {
        return out; // malformed: stop rather than guess
      }
      end = j + 1;
    } else {
      const comma = text.indexOf(', ', colon + 1);
      end = comma === -1 ? text.length : comma;
      value = text.slice(colon + 1, end);
    }
    out.push({ type, value });
    i = text.startsWith(', ', end) ? end + 2 : text.length;
  }
  return out;
}
