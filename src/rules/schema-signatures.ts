/**
 * The rule-file schema for a route's provider signatures: `verify:` (check the provider's signature on the
 * raw request) and `resign:` (sign the rewritten request for the next hop). Kept apart from schema.ts,
 * which spreads these in, so the field and codec schema does not grow with them.
 *
 * Secrets are never written in a rule file: every `secret` must be exactly a `${VAR}` reference (no
 * default, which would be a secret in the file). See docs/rules.md#provider-signatures.
 */

export const VERIFY_SCHEMES = ['twilio', 'sendgrid', 'meta', 'hmac'] as const;
export const RESIGN_SCHEMES = ['twilio', 'meta', 'hmac', 'gateway-hmac'] as const;

/** `${NAME}` and nothing else. */
export const SECRET_REF_PATTERN = '^\\$\\{[A-Za-z_][A-Za-z0-9_]*\\}$';

const secret = {
  type: 'string',
  pattern: SECRET_REF_PATTERN,
  'x-expected': 'a ${VAR} reference to an environment variable (secrets never live in rule files; no :-default)',
  description: 'The secret, as ${VAR}: the name of the environment variable that holds it. A literal value is an error.',
} as const;

const url = { type: 'string', minLength: 1 } as const;

const headerName = {
  type: 'string',
  pattern: "^[A-Za-z0-9!#$%&'*+.^_`|~-]+$",
  'x-expected': 'an HTTP header name, e.g. X-Signature',
} as const;

const toleranceSeconds = {
  type: 'integer',
  minimum: 1,
  maximum: 86400,
  default: 300,
  description: 'Replay window: a signed timestamp further than this from the gateway clock (either way) is refused with 401 SIGNATURE_EXPIRED (default 300).',
} as const;

/** Generic HMAC keys shared by verify and resign. */
const hmacProperties = {
  scheme: { const: 'hmac', description: 'Generic HMAC over the raw body (or a template over a timestamp header and the body).' },
  secret,
  header: { ...headerName, description: 'Header carrying the signature, e.g. X-Signature.' },
  algorithm: { type: 'string', enum: ['sha256', 'sha512'], default: 'sha256', description: 'HMAC digest (default sha256).' },
  encoding: { type: 'string', enum: ['hex', 'base64'], default: 'hex', description: 'How the digest is written (default hex; hex compares case-insensitively).' },
  prefix: { type: 'string', maxLength: 32, default: '', description: "Text before the digest in the header, e.g. 'sha256=' (default none)." },
  timestampHeader: {
    ...headerName,
    description: 'Header carrying a unix timestamp (seconds) that the signature covers; enables the replay window. Needs {timestamp} in payload.',
  },
  payload: {
    type: 'string',
    minLength: 1,
    description:
      "What is signed: {body} (the raw body, default) and, with timestampHeader, {timestamp}; other text is literal. Default '{body}', or '{timestamp}.{body}' with timestampHeader.",
  },
} as const;

export const signatureDefinitions = {
  verify: {
    type: 'object',
    required: ['scheme'],
    description:
      "Check the provider's signature on the raw request before anything else reads the body: missing 401 SIGNATURE_MISSING, wrong 401 SIGNATURE_INVALID, outside the replay window 401 SIGNATURE_EXPIRED; nothing is forwarded. See docs/rules.md#provider-signatures.",
    properties: {
      scheme: { type: 'string', enum: [...VERIFY_SCHEMES], description: 'twilio | sendgrid | meta | hmac.' },
    },
    discriminator: { propertyName: 'scheme' },
    oneOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret', 'url'],
        properties: {
          scheme: { const: 'twilio', description: 'X-Twilio-Signature (HMAC-SHA1 over the URL and the form parameters, or bodySHA256).' },
          secret: { ...secret, description: 'The Twilio auth token, as ${VAR}.' },
          url: {
            ...url,
            description:
              'The public URL Twilio calls for this route, without query (the request query is appended): behind a load balancer the gateway cannot know it. ${VAR} substitution applies.',
          },
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'publicKey'],
        properties: {
          scheme: { const: 'sendgrid', description: 'SendGrid Signed Event Webhook (ECDSA P-256 over timestamp + body).' },
          publicKey: {
            type: 'string',
            minLength: 1,
            description: 'The verification key SendGrid shows for the webhook (base64 DER), or ${VAR}. It is public, so it may be written here.',
          },
          toleranceSeconds,
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret'],
        properties: {
          scheme: { const: 'meta', description: 'X-Hub-Signature-256 (WhatsApp Cloud API and other Meta webhooks).' },
          secret: { ...secret, description: 'The Meta app secret, as ${VAR}.' },
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret', 'header'],
        properties: { ...hmacProperties, toleranceSeconds },
      },
    ],
  },
  resign: {
    type: 'object',
    required: ['scheme'],
    description:
      'Sign the request for the next hop after the rewrite, over the final body (needs verify: the gateway only vouches for what it verified). The provider signature headers verify checked are removed. See docs/rules.md#provider-signatures.',
    properties: {
      scheme: { type: 'string', enum: [...RESIGN_SCHEMES], description: 'twilio | meta | hmac | gateway-hmac.' },
    },
    discriminator: { propertyName: 'scheme' },
    oneOf: [
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret', 'url'],
        properties: {
          scheme: { const: 'twilio', description: "X-Twilio-Signature with the next hop's auth token and URL (route verify must be twilio)." },
          secret: { ...secret, description: "The next hop's Twilio auth token, as ${VAR}." },
          url: { ...url, description: 'The URL the next hop validates against, without query (the forwarded query is appended). ${VAR} substitution applies.' },
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret'],
        properties: {
          scheme: { const: 'meta', description: "X-Hub-Signature-256 with the next hop's app secret." },
          secret: { ...secret, description: "The next hop's app secret, as ${VAR}." },
        },
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret', 'header'],
        properties: hmacProperties,
      },
      {
        type: 'object',
        additionalProperties: false,
        required: ['scheme', 'secret'],
        properties: {
          scheme: {
            const: 'gateway-hmac',
            description: "The gateway's own vouch: X-PII-Gateway-Signature: t=<unix>,v1=<hex HMAC-SHA256(secret, t.body)> (for SendGrid, or any provider).",
          },
          secret: { ...secret, description: 'Secret shared with the platform (at least 32 characters), as ${VAR}.' },
        },
      },
    ],
  },
} as const;

/** Route keys (spread into the route's properties in schema.ts). */
export const signatureRouteProperties = {
  verify: { $ref: '#/definitions/verify' },
  resign: { $ref: '#/definitions/resign' },
} as const;

/** Plain-data view of `verify:` / `resign:` once they passed the schema (what compile-signatures.ts reads). */
export interface HmacInput {
  scheme: 'hmac';
  secret: string;
  header: string;
  algorithm?: 'sha256' | 'sha512';
  encoding?: 'hex' | 'base64';
  prefix?: string;
  timestampHeader?: string;
  payload?: string;
}
export type VerifyInput =
  | { scheme: 'twilio'; secret: string; url: string }
  | { scheme: 'sendgrid'; publicKey: string; toleranceSeconds?: number }
  | { scheme: 'meta'; secret: string }
  | (HmacInput & { toleranceSeconds?: number });
export type ResignInput =
  | { scheme: 'twilio'; secret: string; url: string }
  | { scheme: 'meta'; secret: string }
  | HmacInput
  | { scheme: 'gateway-hmac'; secret: string };
