/**
 * Compiles a route's `verify:` and `resign:` blocks into the specs auth/signatures/ runs. Kept apart from
 * compile.ts (which calls compileSignatures once per route) so the field compiler does not grow with it.
 *
 * What the schema cannot check is checked here: the `${VAR}` behind every secret is set (its value never
 * appears in a message), URLs are absolute http(s) without query, fragment or credentials, the SendGrid
 * key is an EC P-256 public key, an HMAC payload template covers the body (and the timestamp when there is
 * one), and `resign` comes with a `verify` (the gateway only vouches for what it verified).
 */
import { createSecretKey, type KeyObject } from 'node:crypto';
import { compilePayloadTemplate, coversTimestamp } from '../auth/signatures/hmac.js';
import { parseSendGridPublicKey } from '../auth/signatures/sendgrid.js';
import { DEFAULT_TOLERANCE_SECONDS } from '../auth/signatures/check.js';
import type { HmacScheme, PayloadPart, ResignSpec, VerifySpec } from '../auth/signatures/types.js';
import { substituteEnv } from './env.js';
import type { DocPath, RuleSource } from './issues.js';
import type { HmacInput } from './schema-signatures.js';
import type { RouteInput } from './schema.js';
import { httpUrlProblem } from './url-policy.js';

type Report = (path: DocPath, message: string, offset?: number) => void;

export interface SignatureContext {
  readonly source: RuleSource;
  readonly env: Readonly<Record<string, string | undefined>>;
  readonly valid: (path: DocPath) => boolean;
}

/** Minimum length of the secret the gateway signs its own vouch with (e.g. `openssl rand -hex 32`). */
export const GATEWAY_SECRET_MIN_LENGTH = 32;

/**
 * Returns the route's compiled `verify`/`resign` (either may be absent) to spread into the CompiledRoute.
 * Problems are reported, never thrown; the caller drops a route that got any.
 */
export function compileSignatures(
  route: RouteInput,
  routePath: DocPath,
  ctx: SignatureContext,
  report: Report,
): { verify?: VerifySpec; resign?: ResignSpec } {
  const out: { verify?: VerifySpec; resign?: ResignSpec } = {};
  const vPath: DocPath = [...routePath, 'verify'];
  const rPath: DocPath = [...routePath, 'resign'];
  if (route.verify !== undefined && ctx.valid(vPath)) {
    const v = compileVerify(route, vPath, ctx, report);
    if (v !== undefined) out.verify = v;
  }
  if (route.resign !== undefined && ctx.valid(rPath)) {
    if (route.verify === undefined) {
      report(rPath, 'resign needs verify on the same route: the gateway only vouches for a request whose provider signature it checked');
    } else if (route.resign.scheme === 'twilio' && route.verify.scheme !== 'twilio') {
      report([...rPath, 'scheme'], `resign scheme twilio needs verify scheme twilio (this route verifies ${route.verify.scheme}); use gateway-hmac`);
    } else {
      const r = compileResign(route, rPath, ctx, report);
      if (r !== undefined) out.resign = r;
    }
  }
  return out;
}

function compileVerify(route: RouteInput, at: DocPath, ctx: SignatureContext, report: Report): VerifySpec | undefined {
  const input = route.verify!;
  switch (input.scheme) {
    case 'twilio': {
      const secret = secretKey(input.secret, [...at, 'secret'], ctx, report);
      const url = publicUrl(input.url, [...at, 'url'], ctx, report);
      if (url !== undefined && /\/:|\*/.test(route.match.path)) {
        report([...at, 'url'], `twilio signs one fixed URL, and this route's path has parameters (${route.match.path}); declare one route per webhook URL`);
        return undefined;
      }
      return secret && url ? Object.freeze({ scheme: 'twilio', secret, url }) : undefined;
    }
    case 'sendgrid': {
      const text = expand(input.publicKey, [...at, 'publicKey'], 'publicKey', ctx, report);
      if (text === undefined) return undefined;
      try {
        const publicKey = parseSendGridPublicKey(text);
        return Object.freeze({ scheme: 'sendgrid', publicKey, toleranceSeconds: input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS });
      } catch (err) {
        report([...at, 'publicKey'], `sendgrid publicKey: ${(err as Error).message}`);
        return undefined;
      }
    }
    case 'meta': {
      const secret = secretKey(input.secret, [...at, 'secret'], ctx, report);
      return secret ? Object.freeze({ scheme: 'meta', secret }) : undefined;
    }
    case 'hmac': {
      const scheme = hmacScheme(input, at, ctx, report);
      return scheme ? Object.freeze({ ...scheme, toleranceSeconds: input.toleranceSeconds ?? DEFAULT_TOLERANCE_SECONDS }) : undefined;
    }
  }
}

function compileResign(route: RouteInput, at: DocPath, ctx: SignatureContext, report: Report): ResignSpec | undefined {
  const input = route.resign!;
  switch (input.scheme) {
    case 'twilio': {
      const secret = secretKey(input.secret, [...at, 'secret'], ctx, report);
      const url = publicUrl(input.url, [...at, 'url'], ctx, report);
      return secret && url ? Object.freeze({ scheme: 'twilio', secret, url }) : undefined;
    }
    case 'meta': {
      const secret = secretKey(input.secret, [...at, 'secret'], ctx, report);
      return secret ? Object.freeze({ scheme: 'meta', secret }) : undefined;
    }
    case 'hmac':
      return hmacScheme(input, at, ctx, report);
    case 'gateway-hmac': {
      const secret = secretKey(input.secret, [...at, 'secret'], ctx, report, GATEWAY_SECRET_MIN_LENGTH);
      return secret ? Object.freeze({ scheme: 'gateway-hmac', secret }) : undefined;
    }
  }
}

function hmacScheme(input: HmacInput, at: DocPath, ctx: SignatureContext, report: Report): HmacScheme | undefined {
  const secret = secretKey(input.secret, [...at, 'secret'], ctx, report);
  const header = input.header.toLowerCase();
  const timestampHeader = input.timestampHeader?.toLowerCase();
  const template = input.payload ?? (timestampHeader === undefined ? '{body}' : '{timestamp}.{body}');
  const parts = compilePayloadTemplate(template);
  let payload: readonly PayloadPart[] | undefined;
  if ('error' in parts) report([...at, 'payload'], parts.error);
  else if (timestampHeader !== undefined && !coversTimestamp(parts)) {
    report([...at, 'payload'], 'with timestampHeader the payload must contain {timestamp}, or the timestamp is not signed and the replay window means nothing');
  } else if (timestampHeader === undefined && coversTimestamp(parts)) {
    report([...at, 'payload'], 'the payload uses {timestamp}: set timestampHeader to the header that carries it');
  } else if (timestampHeader === header) {
    report([...at, 'timestampHeader'], 'timestampHeader must differ from header');
  } else payload = parts;
  if (secret === undefined || payload === undefined) return undefined;
  return Object.freeze({
    scheme: 'hmac',
    secret,
    header,
    algorithm: input.algorithm ?? 'sha256',
    encoding: input.encoding ?? 'hex',
    prefix: input.prefix ?? '',
    payload,
    ...(timestampHeader === undefined ? {} : { timestampHeader }),
  });
}

/** A secret from its `${VAR}` (the schema allows nothing else) as a KeyObject that never prints its value. */
function secretKey(ref: string, at: DocPath, ctx: SignatureContext, report: Report, minLength = 1): KeyObject | undefined {
  const value = expand(ref, at, 'secret', ctx, report);
  if (value === undefined) return undefined;
  if (value.length < minLength) {
    report(at, `the secret in ${ref} is shorter than ${minLength} characters (generate one with: openssl rand -hex 32)`);
    return undefined;
  }
  return createSecretKey(Buffer.from(value, 'utf8'));
}

function expand(text: string, at: DocPath, key: string, ctx: SignatureContext, report: Report): string | undefined {
  const expanded = substituteEnv(text, ctx.env);
  if (!expanded.ok) {
    for (const p of expanded.problems) report(at, `${key}: ${p.message}`, ctx.source.offsetInString(at, p.offset));
    return undefined;
  }
  return expanded.value;
}

/** An absolute http(s) URL without query, fragment or credentials (the query comes from the request). */
function publicUrl(text: string, at: DocPath, ctx: SignatureContext, report: Report): string | undefined {
  const value = expand(text, at, 'url', ctx, report);
  if (value === undefined) return undefined;
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    report(at, 'url is not an absolute URL (expected e.g. https://gateway.example.com/hooks/twilio/status)');
    return undefined;
  }
  const problem =
    httpUrlProblem(url) ??
    (value.includes('?') || value.includes('#') ? 'must not contain a query or fragment (the query of each request is appended to it)' : undefined);
  if (problem !== undefined) {
    report(at, `url ${problem}`);
    return undefined;
  }
  return value;
}
