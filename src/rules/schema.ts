/**
 * The JSON Schema of a rule file (`rules/*.yaml`): the one schema the loader validates with.
 *
 * It is also what editors see: `scripts/gen-schema.ts` writes it to `schema/rules.schema.json` (a test fails
 * when the two differ), and rule files point at it with `# yaml-language-server: $schema=...`. So every
 * property carries a description and every closed set is an `enum`/`const` (autocomplete), and every object
 * is closed (`additionalProperties: false`) so that a typo such as `acton:` is an error, not a silently
 * ignored key.
 *
 * Draft-07, the draft editors support best. Two keywords beyond it:
 * - `discriminator` (OpenAPI; ajv's `discriminator: true` option) picks the `fields[]` branch by `action`,
 *   so an error names the one action that was meant instead of listing every branch's complaints;
 * - `x-expected` is an annotation (no validation) that load.ts uses to say what a `pattern` expects.
 *
 * Semantic checks that a schema cannot express (selector syntax, upstream references, duplicate routes,
 * token options per type) live in compile.ts.
 */
import { Ajv, type ValidateFunction } from 'ajv';
import { CHARSET_LABELS } from '../codecs/charset.js';
import { FINGERPRINT_EXPECTED, FINGERPRINT_PATTERN, type ClientMatcherInput } from '../auth/identity.js';
import { signatureDefinitions, signatureRouteProperties, type ResignInput, type VerifyInput } from './schema-signatures.js';

/** Codec names a direction may use. Add new ones here and in content-type.ts. */
export const CODEC_NAMES = ['json', 'form', 'multipart', 'text'] as const;
/**
 * Codecs a nested document may use (multipart needs a boundary from a Content-Type, which a value has not;
 * text would be the value itself, which the field's own action already sees).
 */
export const NESTED_CODEC_NAMES = ['json', 'form'] as const;
export const ACTIONS = ['tokenize', 'detokenize', 'detokenize-text', 'redact', 'mask', 'hash', 'scan'] as const;
/** How detokenize-text writes a resolved value into its text (rules/types.ts TextEscape). */
export const TEXT_ESCAPES = ['plain', 'html', 'url', 'header'] as const;
/** Token types detokenize-text looks for when `types` is not written (phone and digits are opt-in). */
export const TEXT_DEFAULT_TYPES = ['email', 'opaque'] as const;
/** What the scan action can find in free text. */
export const SCAN_KINDS = ['email', 'phone'] as const;
/** Selector prefixes for fields outside the body. */
export const LOCATION_PREFIXES = ['query:', 'header:'] as const;
/** A route names exactly one method; there is deliberately no catch-all (see docs/rules.md). */
export const METHODS = ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'] as const;
export const POLICY_KEYS = ['missing', 'notString', 'invalid', 'unknownToken'] as const;
/** Mirrors PERMISSIONS in auth/principal.ts (kept literal so the schema stays `as const`). */
export const PERMISSION_NAMES = ['tokenize', 'detokenize'] as const;
/** Mirrors TOKEN_TYPES in tokens/types.ts (a test checks they agree). Kept literal so the schema stays `as const`. */
export const SCHEMA_TOKEN_TYPES = ['email', 'phone', 'opaque', 'digits'] as const;

const ID_PATTERN = '^[a-z0-9][a-z0-9_-]*$';
const ID_EXPECTED = 'lower-case letters, digits, - and _, starting with a letter or digit';
const onProblem = {
  type: 'string',
  enum: ['refuse', 'skip'],
} as const;

/** Per-field policy overrides; which ones a field accepts depends on its action. */
const missing = {
  ...onProblem,
  description: 'The selector matched nothing in the body. refuse (default): fail the request; skip: carry on.',
} as const;
const notString = {
  ...onProblem,
  description:
    'The selector matched a non-string (number, object, array, boolean or null). refuse (default) | skip (leave it as it is).',
} as const;
const invalid = {
  ...onProblem,
  description:
    'tokenize: the value is not of the token type (same as `otherwise: refuse|keep`; set one, not both). detokenize: the value is not one of our tokens. refuse (default) | skip.',
} as const;
const unknownToken = {
  ...onProblem,
  description: 'detokenize only: a well-formed token that the vault does not know. refuse (default) | skip.',
} as const;

const select = {
  type: 'string',
  minLength: 1,
  description:
    'Selector of the field(s) this rule acts on. json bodies: $.a.b, $["odd key"], $.list[*], $.list[0], $..anywhere; form and multipart bodies: the field name (To). Anywhere but inside a nested document: query:NAME (query-string parameter) or header:NAME (header, any case). See docs/selectors.md.',
} as const;

/** tokenize/detokenize: how values are written in the message (types.ts ValueForm; docs/rules.md#value-forms). */
const phoneFormat = {
  type: 'string',
  enum: ['e164', 'digits'],
  default: 'e164',
  description:
    "phone values: e164 (default, '+' and digits) or digits (country code + number without '+', as WebEngage and WhatsApp write them). With digits, a value without '+' is read as international, and the token (tokenize) or value (detokenize) is written back without '+' too.",
} as const;
const keepPrefixes = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'string', minLength: 1, maxLength: 32 },
  description:
    "Literal prefixes such as 'whatsapp:' taken off the value before it is tokenized or detokenized and put back in front of the result (Twilio's whatsapp:+1...). A value without any of them is acted on whole.",
} as const;

/** detokenize-text `escape: { by: ... }`: sibling values (media types, lower-case) that select one escape. */
const escapeCases = {
  type: 'array',
  minItems: 1,
  uniqueItems: true,
  items: { type: 'string', minLength: 1 },
  description: 'Sibling values (compared lower-cased, parameters after ; ignored) that select this escape.',
} as const;

const namespaceSchema = {
  type: 'string',
  pattern: '^[a-z0-9][a-z0-9._-]{0,63}$',
  'x-expected': 'lower-case letters, digits, ., - and _ (at most 64), starting with a letter or digit',
} as const;

export const rulesSchema = {
  $schema: 'http://json-schema.org/draft-07/schema#',
  title: 'pii-gateway rule file',
  description:
    'One file per integration: the upstreams it talks to and, per route, which fields are tokenized, detokenized, redacted, masked or hashed. Reference: docs/rules.md.',
  type: 'object',
  additionalProperties: false,
  required: ['version', 'upstreams', 'routes'],
  properties: {
    version: { const: 1, description: 'Rule file format version. Always 1.' },
    namespace: {
      ...namespaceSchema,
      default: 'default',
      description:
        "Token namespace for the whole file (default 'default'). The same value in the same namespace always gives the same token; different namespaces give unrelated tokens.",
    },
    upstreams: {
      type: 'object',
      minProperties: 1,
      description: 'Upstreams this file forwards to, by name. Routes refer to them with `upstream: <name>`.',
      propertyNames: { pattern: ID_PATTERN, 'x-expected': ID_EXPECTED },
      additionalProperties: { $ref: '#/definitions/upstream' },
    },
    defaults: {
      $ref: '#/definitions/policy',
      description: 'File-wide policy defaults for every field (each route and field may override). Every policy defaults to refuse.',
    },
    routes: {
      type: 'array',
      minItems: 1,
      description: 'The routes this file handles. A request that matches no route of any file is refused (404).',
      items: { $ref: '#/definitions/route' },
    },
  },
  definitions: {
    ...signatureDefinitions,
    upstream: {
      type: 'object',
      additionalProperties: false,
      required: ['url'],
      properties: {
        url: {
          type: 'string',
          minLength: 1,
          description:
            'Base URL (http or https), e.g. https://api.clevertap.com. ${VAR} and ${VAR:-default} are replaced from the environment ($${ is a literal ${). No credentials, query or fragment.',
        },
        timeouts: {
          type: 'object',
          additionalProperties: false,
          description: 'Upstream timeouts in milliseconds.',
          properties: {
            connectMs: { type: 'integer', minimum: 1, maximum: 600000, default: 5000, description: 'TCP/TLS connect timeout (default 5000).' },
            headersMs: { type: 'integer', minimum: 1, maximum: 600000, default: 30000, description: 'Time to receive the response headers (default 30000).' },
            bodyMs: { type: 'integer', minimum: 1, maximum: 600000, default: 30000, description: 'Maximum time between two chunks of the response body (default 30000).' },
          },
        },
        tls: {
          type: 'object',
          additionalProperties: false,
          minProperties: 1,
          dependencies: { cert: ['key'], key: ['cert'] },
          description:
            'https upstreams only: the client certificate the gateway presents (mutual TLS) and the CA its certificate must chain to. PEM file paths, relative to this rule file; ${VAR} substitution as in url. Re-read on SIGHUP and when the files change. See docs/security.md#mtls.',
          properties: {
            cert: { type: 'string', minLength: 1, description: 'Client certificate chain (PEM file) presented to the upstream. Needs key.' },
            key: { type: 'string', minLength: 1, description: 'Private key (PEM file) of cert. Keep it mode 0600.' },
            ca: {
              type: 'string',
              minLength: 1,
              description: 'CA bundle (PEM file) the upstream certificate must chain to. Replaces the system roots for this upstream (omitted: system roots).',
            },
            servername: {
              type: 'string',
              pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$',
              'x-expected': 'a host name, e.g. api.internal.example',
              description: 'TLS server name (SNI) sent and checked against the upstream certificate, when it differs from the url host.',
            },
          },
        },
      },
    },
    clientMatcher: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      maxProperties: 1,
      description: 'One allowed client identity: exactly one of cn, san, fingerprint (exact matches, no wildcards).',
      properties: {
        cn: { type: 'string', minLength: 1, description: 'Subject common name of the client certificate (case-sensitive), e.g. dispatcher.' },
        san: {
          type: 'string',
          minLength: 1,
          description: 'A subjectAltName of the client certificate: a URI such as spiffe://example.org/dispatcher (exact), or a DNS name (case-insensitive).',
        },
        fingerprint: {
          type: 'string',
          pattern: FINGERPRINT_PATTERN,
          'x-expected': FINGERPRINT_EXPECTED,
          description: 'SHA-256 fingerprint of the client certificate: sha256:AB:CD:... (openssl x509 -noout -fingerprint -sha256 -in client.crt).',
        },
      },
    },
    policy: {
      type: 'object',
      additionalProperties: false,
      description: 'What to do when a field cannot be acted on. Every policy defaults to refuse (fail closed); skip is an explicit opt-in.',
      properties: {
        missing,
        notString,
        invalid: { ...onProblem, description: 'tokenize: the value is not of the token type; detokenize: not one of our tokens. refuse (default) | skip.' },
        unknownToken,
      },
    },
    route: {
      type: 'object',
      additionalProperties: false,
      required: ['id', 'match', 'upstream'],
      properties: {
        id: {
          type: 'string',
          pattern: ID_PATTERN,
          'x-expected': ID_EXPECTED,
          description: 'Route id, unique in the file. The gateway names the route <file name>/<id> in logs and metrics.',
        },
        match: {
          type: 'object',
          additionalProperties: false,
          required: ['method', 'path'],
          description: 'Which requests this route handles.',
          properties: {
            method: { type: 'string', enum: [...METHODS], description: 'HTTP method (required, upper-case). One route per method.' },
            path: {
              type: 'string',
              pattern: "^/$|^(?:/(?:[A-Za-z0-9._~!$&'()+,;=@%-][A-Za-z0-9._~!$&'()+,;=@%:-]*|:[A-Za-z_][A-Za-z0-9_]*))+(?:/\\*)?$|^/\\*$",
              'x-expected':
                'a path starting with /, segments of URL characters or :name parameters, optionally ending in /* (no trailing /)',
              description: 'Path pattern, hono style: /2010-04-01/Accounts/:sid/Messages.json; a trailing /* matches any rest.',
            },
            host: {
              type: 'string',
              pattern: '^[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*$',
              'x-expected': 'a host name without port, e.g. api.example.com',
              description: 'Only requests whose Host is this name (optional; compared case-insensitively, port ignored). Without it the route matches any host.',
            },
          },
        },
        upstream: {
          type: 'string',
          pattern: ID_PATTERN,
          'x-expected': ID_EXPECTED,
          description: 'Name of an upstream declared in this file.',
        },
        policy: {
          $ref: '#/definitions/policy',
          description: 'Policy defaults for this route’s fields (override the file defaults; each field may override).',
        },
        request: {
          $ref: '#/definitions/direction',
          description: 'What to do with the request body. Omitted: the request body passes through untouched.',
        },
        response: {
          $ref: '#/definitions/direction',
          description: 'What to do with the response body. Omitted: the response body passes through untouched.',
        },
        clients: {
          type: 'array',
          minItems: 1,
          description:
            'mTLS allowlist: only clients whose verified certificate matches one entry may use this route (401 CLIENT_CERT_REQUIRED without a certificate, 403 CLIENT_NOT_ALLOWED otherwise), checked before the body is read. Omitted: any client the listener accepts.',
          items: { $ref: '#/definitions/clientMatcher' },
        },
        auth: {
          description:
            "Caller authentication, checked before the body is read: a bearer credential in Proxy-Authorization (never forwarded). { jwt: default } and/or { apiKey: true }, with require: [tokenize, detokenize] (default: [detokenize] when the route detokenizes, else []). 'none' opts out explicitly. A route that detokenizes must have auth or clients. See docs/security.md#authentication-jwt-api-keys.",
          anyOf: [
            { type: 'string', const: 'none', description: 'No caller authentication (explicit; required to detokenize without auth or clients).' },
            { $ref: '#/definitions/routeAuth' },
          ],
        },
        ...signatureRouteProperties, // verify:, resign: (schema-signatures.ts)
      },
    },
    routeAuth: {
      type: 'object',
      additionalProperties: false,
      minProperties: 1,
      properties: {
        jwt: { type: 'string', enum: ['default'], description: 'Accept a JWT bearer token from this provider (configured by PII_GATEWAY_JWT_* settings).' },
        apiKey: { type: 'boolean', description: 'Accept an API key (PII_GATEWAY_API_KEYS_FILE) as the bearer credential.' },
        require: {
          type: 'array',
          uniqueItems: true,
          items: { type: 'string', enum: [...PERMISSION_NAMES] },
          description: 'Permissions the caller must hold (default: [detokenize] when the route detokenizes, else []). Writing it overrides the default.',
        },
      },
    },
    direction: {
      type: 'object',
      additionalProperties: false,
      required: ['fields'],
      properties: {
        codec: {
          type: 'string',
          enum: [...CODEC_NAMES],
          default: 'json',
          description:
            'How the body is read (default json: application/json and any +json media type; form: application/x-www-form-urlencoded; multipart: multipart/form-data; text: text/plain and text/html as one string field, `select: $`).',
        },
        charsets: {
          type: 'array',
          minItems: 1,
          uniqueItems: true,
          default: ['utf-8'],
          items: { type: 'string', enum: Object.keys(CHARSET_LABELS) },
          description:
            "Body charsets accepted (default [utf-8]; no charset parameter counts as utf-8): utf-8 (utf8), iso-8859-1 (latin1), us-ascii (ascii). A body in another declared charset is transcoded to UTF-8 for the rules and back after; a new value the charset cannot hold is refused (422 UNREPRESENTABLE_VALUE). codec json or text. windows-1252 is not supported (the gateway could read it but not write it back). See docs/codecs.md#charsets.",
        },
        fields: {
          type: 'array',
          minItems: 1,
          description:
            'Field rules, applied in order (body fields, query:NAME and header:NAME fields). To pass a message through untouched, omit the direction instead.',
          items: { $ref: '#/definitions/field' },
        },
      },
    },
    tokenTypes: {
      description: 'One token type or a list of candidates tried in order.',
      anyOf: [
        { $ref: '#/definitions/tokenType' },
        { type: 'array', minItems: 1, uniqueItems: true, items: { $ref: '#/definitions/tokenType' } },
      ],
    },
    tokenType: {
      type: 'string',
      enum: [...SCHEMA_TOKEN_TYPES],
      description: 'email: looks like an email; phone: E.164-like; opaque: tok_... string; digits: a string of digits.',
    },
    field: {
      description:
        'One field rule: a selector and an action; or a selector, a codec and nested fields (the value is a document of its own).',
      if: { type: 'object', required: ['fields'], properties: { fields: {} } },
      then: { $ref: '#/definitions/documentField' },
      else: { $ref: '#/definitions/actionField' },
    },
    documentField: {
      type: 'object',
      additionalProperties: false,
      required: ['select', 'codec', 'fields'],
      description:
        'A string value that holds a document (JSON in a JSON string, JSON in a form field, a form in a header...): decoded with `codec`, transformed with `fields`, re-encoded in place.',
      properties: {
        select,
        codec: {
          type: 'string',
          enum: [...NESTED_CODEC_NAMES],
          description: 'How the value is decoded: json or form (application/x-www-form-urlencoded text).',
        },
        fields: {
          type: 'array',
          minItems: 1,
          description: 'Field rules for the nested document, with selectors of its codec (no query: or header: here).',
          items: { $ref: '#/definitions/field' },
        },
        missing,
        notString,
        invalid: {
          ...onProblem,
          description: 'The value is not a valid document of `codec`. refuse (default) | skip (leave it as it is, unseen).',
        },
      },
    },
    actionField: {
      type: 'object',
      required: ['select', 'action'],
      description: 'One field rule: a selector and an action.',
      properties: {
        select,
        action: { type: 'string', enum: [...ACTIONS], description: 'What to do with the selected value(s).' },
      },
      discriminator: { propertyName: 'action' },
      oneOf: [
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action', 'type'],
          properties: {
            select,
            action: { const: 'tokenize', description: 'Replace the value with a token (reversible through the vault).' },
            type: {
              $ref: '#/definitions/tokenTypes',
              description: 'Token type, or a list of candidate types tried in order (the first that accepts the value wins).',
            },
            otherwise: {
              type: 'string',
              enum: ['refuse', 'keep', ...SCHEMA_TOKEN_TYPES],
              description:
                'When no candidate type accepts the value: refuse (default), keep the value as it is, or tokenize it with this fallback type (e.g. opaque).',
            },
            random: { type: 'boolean', default: false, description: 'A fresh token on every call instead of the same token for the same value (default false).' },
            namespace: { ...namespaceSchema, description: 'Token namespace for this field (default: the file namespace).' },
            prefix: { type: 'string', maxLength: 32, description: "opaque only: token prefix (default 'tok_'), e.g. 'cus_'." },
            emailDomain: {
              description: 'email only: tokenize (default) the domain, preserve it, or replace it with { sink: <domain> }.',
              anyOf: [
                { type: 'string', enum: ['tokenize', 'preserve'] },
                {
                  type: 'object',
                  additionalProperties: false,
                  required: ['sink'],
                  properties: { sink: { type: 'string', minLength: 1, description: 'Domain every tokenized address gets, e.g. example.invalid.' } },
                },
              ],
            },
            emailSuffix: { type: 'string', minLength: 1, description: "email only: suffix of tokenized domains (default 'tok.invalid', never deliverable)." },
            phoneFormat,
            keepPrefixes,
            missing,
            notString,
            invalid,
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: { const: 'detokenize', description: 'Replace one of our tokens with the original value from the vault.' },
            type: {
              $ref: '#/definitions/tokenTypes',
              description: 'Token type(s) expected here (default: any type). A token of another type is invalid.',
            },
            namespace: { ...namespaceSchema, description: 'Namespace the tokens were issued in (default: the file namespace).' },
            phoneFormat,
            keepPrefixes,
            missing,
            notString,
            invalid,
            unknownToken,
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: {
              const: 'detokenize-text',
              description:
                'Free text (an SMS body, a subject, HTML): find our own tokens inside it, resolve them in the one vault call and write the values in place, escaped for where they land. See docs/rules.md#detokenize-text.',
            },
            types: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              default: [...TEXT_DEFAULT_TYPES],
              items: { $ref: '#/definitions/tokenType' },
              description:
                'Token types looked for (default [email, opaque]). phone and digits only when listed: a random number of the token shape passes their check 1 time in 100 (docs/tokens.md).',
            },
            escape: {
              description:
                "How each resolved value is written: plain (default, as is), html (& < > \" ' as entities), url (percent-encoded, for a value inside an href/src or a URL), header (refused if it holds CR, LF or NUL). Or { by: <sibling key>, html: [values], plain: [...], url: [...], header: [...], otherwise: <escape> }: chosen per value by a sibling member (json only), e.g. SendGrid content[*].type. The codec's own escaping (JSON string, form) always applies on top.",
              anyOf: [
                { type: 'string', enum: [...TEXT_ESCAPES] },
                {
                  type: 'object',
                  additionalProperties: false,
                  required: ['by'],
                  properties: {
                    by: { type: 'string', minLength: 1, description: 'Key of the sibling member that says the context, e.g. type.' },
                    plain: escapeCases,
                    html: escapeCases,
                    url: escapeCases,
                    header: escapeCases,
                    otherwise: {
                      type: 'string',
                      enum: [...TEXT_ESCAPES],
                      default: 'plain',
                      description: 'Escape for a sibling value not listed, missing or not a string (default plain).',
                    },
                  },
                },
              ],
            },
            namespace: { ...namespaceSchema, description: 'Namespace the tokens were issued in (default: the file namespace).' },
            missing,
            notString,
            unknownToken: {
              ...onProblem,
              description:
                'A token found in the text that the vault does not know. refuse (default: nothing is sent) | skip (the token stays in the text as written).',
            },
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: { const: 'redact', description: 'Remove the field entirely (whatever kind of value it holds).' },
            missing,
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: { const: 'mask', description: 'Replace the value with a masked form (irreversible), e.g. j***@example.com.' },
            style: {
              type: 'string',
              enum: ['email', 'phone', 'generic'],
              default: 'generic',
              description: 'How to mask (default generic). A value that does not look like its style is masked as generic.',
            },
            missing,
            notString,
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: { const: 'hash', description: 'Replace the value with a keyed HMAC-SHA256 (irreversible, stable).' },
            encoding: { type: 'string', enum: ['hex', 'base64url'], default: 'hex', description: 'Digest encoding (default hex).' },
            prefix: { type: 'string', maxLength: 32, default: 'h_', description: "Prepended to the digest (default 'h_')." },
            missing,
            notString,
          },
        },
        {
          type: 'object',
          additionalProperties: false,
          required: ['select', 'action'],
          properties: {
            select,
            action: {
              const: 'scan',
              description: 'Free text (an SMS body, a bounce reason): find emails and phone numbers inside it and replace each one.',
            },
            find: {
              type: 'array',
              minItems: 1,
              uniqueItems: true,
              default: [...SCAN_KINDS],
              items: { type: 'string', enum: [...SCAN_KINDS] },
              description: 'What to look for (default [email, phone]).',
            },
            then: {
              type: 'string',
              enum: ['tokenize', 'mask', 'redact'],
              default: 'tokenize',
              description: 'What each span found becomes: a token (default), a masked form, or the text [redacted].',
            },
            namespace: { ...namespaceSchema, description: 'Token namespace for then: tokenize (default: the file namespace).' },
            missing,
            notString,
            invalid: {
              ...onProblem,
              description:
                'then: tokenize and a span the token type does not accept (a phone number without + or 00). refuse (default) | skip (leave that span).',
            },
          },
        },
      ],
    },
  },
} as const;

/** Plain-data view of a rule file once it passed the schema (what compile.ts reads). */
export type OnProblemInput = 'refuse' | 'skip';
export interface PolicyInput {
  missing?: OnProblemInput;
  notString?: OnProblemInput;
  invalid?: OnProblemInput;
  unknownToken?: OnProblemInput;
}
export type TokenTypeInput = (typeof SCHEMA_TOKEN_TYPES)[number];
export interface FieldInput extends PolicyInput {
  select: string;
  /** Absent on a nested document field (which has codec + fields instead). */
  action: (typeof ACTIONS)[number];
  /** Nested document field only. */
  codec?: (typeof NESTED_CODEC_NAMES)[number];
  fields?: FieldInput[];
  /** scan only. */
  find?: (typeof SCAN_KINDS)[number][];
  then?: 'tokenize' | 'mask' | 'redact';
  type?: TokenTypeInput | TokenTypeInput[];
  otherwise?: 'refuse' | 'keep' | TokenTypeInput;
  random?: boolean;
  namespace?: string;
  prefix?: string;
  emailDomain?: 'tokenize' | 'preserve' | { sink: string };
  emailSuffix?: string;
  phoneFormat?: 'e164' | 'digits';
  keepPrefixes?: string[];
  /** detokenize-text only. */
  types?: TokenTypeInput[];
  escape?: (typeof TEXT_ESCAPES)[number] | EscapeByInput;
  style?: 'email' | 'phone' | 'generic';
  encoding?: 'hex' | 'base64url';
}
export interface EscapeByInput {
  by: string;
  plain?: string[];
  html?: string[];
  url?: string[];
  header?: string[];
  otherwise?: (typeof TEXT_ESCAPES)[number];
}
export interface DirectionInput {
  codec?: (typeof CODEC_NAMES)[number];
  /** Labels as written (utf-8, latin1, ...); compile.ts maps them to canonical charsets. */
  charsets?: string[];
  fields: FieldInput[];
}
export interface RouteInput {
  id: string;
  match: { method: (typeof METHODS)[number]; path: string; host?: string };
  upstream: string;
  policy?: PolicyInput;
  request?: DirectionInput;
  response?: DirectionInput;
  clients?: ClientMatcherInput[];
  auth?: 'none' | { jwt?: 'default'; apiKey?: boolean; require?: (typeof PERMISSION_NAMES)[number][] };
  verify?: VerifyInput;
  resign?: ResignInput;
}
export interface UpstreamInput {
  url: string;
  timeouts?: { connectMs?: number; headersMs?: number; bodyMs?: number };
  tls?: { cert?: string; key?: string; ca?: string; servername?: string };
}
export interface RuleFileInput {
  version: 1;
  namespace?: string;
  upstreams: Record<string, UpstreamInput>;
  defaults?: PolicyInput;
  routes: RouteInput[];
}

let compiled: ValidateFunction<RuleFileInput> | undefined;

/**
 * The schema compiled once (lazily, on first use) with ajv: all errors, strict mode, discriminator support.
 * Returns ajv's validate function; `validate.errors` holds the raw errors after a failed call.
 */
export function ruleFileValidator(): ValidateFunction<RuleFileInput> {
  if (compiled === undefined) {
    const ajv = new Ajv({ allErrors: true, strict: true, discriminator: true, verbose: true });
    ajv.addKeyword({ keyword: 'x-expected', schemaType: 'string' });
    compiled = ajv.compile<RuleFileInput>(rulesSchema);
  }
  return compiled;
}

/** The published form of the schema (schema/rules.schema.json): what scripts/gen-schema.ts writes. */
export function schemaJson(): string {
  return `${JSON.stringify(rulesSchema, null, 2)}\n`;
}
