/**
 * What the subjects are given: rule files for the gateway routes and the request bodies.
 *
 * Bodies come from the project's fixtures (test/fixtures/providers), never from /work/shared. The
 * tokenizing route is the shipped rules/clevertap.yaml, unchanged; the passthrough and dispatch routes
 * are small rule files written here.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

export const ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const FIXTURES = path.join(ROOT, 'test/fixtures/providers');

/** The documented CleverTap upload (4 records; identity, Email, Phone, Name are PII), as sent. */
export function clevertapUpload(): string {
  return readFileSync(path.join(FIXTURES, 'clevertap-upload.json'), 'utf8');
}

/**
 * The same upload with every PII value made unique by a `{{n}}` mark (new values: each request makes
 * the vault derive and store new tokens in sqlite). The mark is replaced by digits only (a 4-digit run
 * prefix and a counter), so the phone stays a valid E.164 number of at most 14 digits.
 */
export function clevertapUploadTemplate(): string {
  return clevertapUpload()
    .replaceAll('jack@gmail.com', 'jack.{{n}}@gmail.com')
    .replace('Jack Montana', 'Jack Montana {{n}}')
    .replace('"+14155551234"', '"+44 20 {{n}}"');
}

/** Passthrough: one route, no request or response rules. */
export const PASSTHROUGH_RULES = `version: 1
upstreams:
  up: { url: "\${BENCH_UPSTREAM_URL}" }
routes:
  - id: upload
    match: { method: POST, path: /1/upload }
    upstream: up
`;

/** JSON dispatch: a SendGrid mail/send-shaped body whose recipient email and SMS phone are tokens. */
export const DISPATCH_JSON_RULES = `version: 1
upstreams:
  esp: { url: "\${BENCH_UPSTREAM_URL}" }
routes:
  - id: mail-send
    match: { method: POST, path: /v3/mail/send }
    upstream: esp
    auth: none   # the bench measures the transform; caller authentication is not under test
    request:
      codec: json
      fields:
        - { select: "$.personalizations[*].to[*].email", action: detokenize, type: email }
        - { select: "$.personalizations[*].custom_args.sms_to", action: detokenize, type: phone }
`;

export function dispatchJsonBody(emailToken: string, phoneToken: string): string {
  const body = JSON.parse(readFileSync(path.join(FIXTURES, 'sendgrid-mail-send.json'), 'utf8')) as {
    personalizations: { to: { email: string }[]; cc?: unknown; custom_args: Record<string, string> }[];
  };
  const p = body.personalizations[0]!;
  p.to[0]!.email = emailToken;
  delete p.cc;
  p.custom_args.sms_to = phoneToken;
  return JSON.stringify(body);
}

/** Twilio form dispatch; only used when src/codecs/form.ts exists. */
export const DISPATCH_FORM_RULES = `version: 1
upstreams:
  twilio: { url: "\${BENCH_UPSTREAM_URL}" }
routes:
  - id: messages-create
    match: { method: POST, path: /2010-04-01/Accounts/:sid/Messages.json }
    upstream: twilio
    auth: none
    request:
      codec: form
      fields:
        - { select: To, action: detokenize, type: phone }
`;

export function dispatchFormBody(phoneToken: string): string {
  const form = readFileSync(path.join(FIXTURES, 'twilio-messages-create.form'), 'utf8').trim();
  return form.replace(/^To=[^&]*/, `To=${encodeURIComponent(phoneToken)}`);
}

export function formCodecExists(): boolean {
  return existsSync(path.join(ROOT, 'src/codecs/form.ts'));
}

/**
 * Detokenize policy (docs/security.md): every token type may be resolved toward the bench's upstream
 * (127.0.0.1) and through the vault API for the purpose `bench`. Ignored by checkouts that predate it.
 */
export const DETOKENIZE_POLICY = `version: 1
destinations:
  email: ["127.0.0.1"]
  phone: ["127.0.0.1"]
  opaque: ["127.0.0.1"]
  digits: ["127.0.0.1"]
purposes:
  bench: { callers: ["*"], types: [email, phone, opaque, digits] }
`;

/**
 * Writes `files` into `<dir>/rules` (and the detokenize policy beside them) and returns the PII_GATEWAY_*
 * environment for a gateway subject.
 */
export function gatewayEnv(
  dir: string,
  files: Record<string, string>,
  extra: Record<string, string> = {},
): Record<string, string> {
  const rulesDir = path.join(dir, 'rules');
  mkdirSync(rulesDir, { recursive: true });
  for (const [name, text] of Object.entries(files)) writeFileSync(path.join(rulesDir, name), text);
  const policy = path.join(dir, 'detokenize-policy.yaml');
  writeFileSync(policy, DETOKENIZE_POLICY);
  return {
    PII_GATEWAY_DETOKENIZE_POLICY: policy,
    PII_GATEWAY_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_VAULT_API_LISTEN: '127.0.0.1:0',
    PII_GATEWAY_RULES_DIR: rulesDir,
    PII_GATEWAY_DATA_DIR: path.join(dir, 'data'),
    PII_GATEWAY_VAULT: 'sqlite',
    PII_GATEWAY_DEV_KEYS: 'true',
    PII_GATEWAY_LOG_LEVEL: 'info',
    NODE_ENV: 'production',
    ...extra,
  };
}

/** The shipped CleverTap rule file. */
export function clevertapRules(): string {
  return readFileSync(path.join(ROOT, 'rules/clevertap.yaml'), 'utf8');
}
