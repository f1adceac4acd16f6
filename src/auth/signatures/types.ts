/**
 * Provider webhook signatures: the compiled specs a route carries (`verify:` and `resign:` in a rule file)
 * and the request view the schemes read.
 *
 * Secrets are `KeyObject`s (node:crypto), never strings: a KeyObject prints and serializes without its
 * material (`JSON.stringify` gives `{}`), so a compiled route that reaches a log or a debugger does not leak
 * a provider's auth token. They are built once, by rules/compile-signatures.ts, from environment variables.
 */
import type { KeyObject } from 'node:crypto';

/** Request headers as node:http gives them: lower-case names. */
export type HeaderValues = Readonly<Record<string, string | string[] | undefined>>;

/** What a scheme verifies or signs: the raw bytes and the request line's path and query as sent. */
export interface SignedRequest {
  readonly headers: HeaderValues;
  /** The body exactly as received (verify) or as it will be forwarded (resign). */
  readonly body: Buffer;
  /** `/path?query` as on the request line; only the query part is used (the URL is configured). */
  readonly pathAndQuery: string;
}

/** Generic HMAC digest and its text form. */
export type HmacAlgorithm = 'sha256' | 'sha512';
export type DigestEncoding = 'hex' | 'base64';

/** A signed-payload template (`{timestamp}.{body}`) split into literal bytes and the two placeholders. */
export type PayloadPart = Buffer | 'timestamp' | 'body';

/** Generic HMAC header scheme, shared by `verify` and `resign`. */
export interface HmacScheme {
  readonly scheme: 'hmac';
  readonly secret: KeyObject;
  /** Header name, lower-case. */
  readonly header: string;
  readonly algorithm: HmacAlgorithm;
  readonly encoding: DigestEncoding;
  /** Text before the digest in the header (`sha256=`), '' for none. */
  readonly prefix: string;
  /** Lower-case header carrying a unix timestamp (seconds) that the payload covers; absent: no timestamp. */
  readonly timestampHeader?: string;
  readonly payload: readonly PayloadPart[];
}

/** How a route checks the provider's signature on the raw request (`verify:`). */
export type VerifySpec =
  | {
      readonly scheme: 'twilio';
      readonly secret: KeyObject;
      /** The public URL the provider called, without query (the request's query is appended). */
      readonly url: string;
    }
  | {
      readonly scheme: 'sendgrid';
      /** ECDSA P-256 public key of the Signed Event Webhook. */
      readonly publicKey: KeyObject;
      readonly toleranceSeconds: number;
    }
  | { readonly scheme: 'meta'; readonly secret: KeyObject }
  | (HmacScheme & { readonly toleranceSeconds: number });

/** How a route signs the rewritten request for the next hop (`resign:`). */
export type ResignSpec =
  | {
      readonly scheme: 'twilio';
      readonly secret: KeyObject;
      /** The URL the next hop sees, without query (the forwarded query is appended). */
      readonly url: string;
    }
  | { readonly scheme: 'meta'; readonly secret: KeyObject }
  | HmacScheme
  | { readonly scheme: 'gateway-hmac'; readonly secret: KeyObject };

export type VerifyScheme = VerifySpec['scheme'];
export type ResignScheme = ResignSpec['scheme'];
