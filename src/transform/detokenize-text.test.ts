/**
 * The detokenize-text action in the engine: tokens found inside text, resolved in the request's one vault
 * call, written back escaped for their context; unknown tokens refused or kept; audit without values.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { parseDetokenizePolicy } from '../auth/detokenize-policy.js';
import { ReleaseGuardedVault } from '../auth/authenticate.js';
import { formCodec } from '../codecs/form.js';
import { jsonCodec } from '../codecs/json.js';
import type { Codec } from '../codecs/types.js';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import type { GatewayError } from '../errors.js';
import { compileRuleFile } from '../rules/load.js';
import type { CompiledDirection } from '../rules/types.js';
import { createTokenSpec } from '../tokens/index.js';
import type { TokenSpecInput } from '../tokens/types.js';
import type { DetokenizeItem, Vault } from '../vault/interface.js';
import { createVault } from '../vault/index.js';
import { transformMessage, type DetokenizeAuditEvent, type HttpMessage, type TransformDeps, type TransformStats } from './engine.js';

const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  ['json', jsonCodec as Codec],
  ['form', formCodec as Codec],
]);
const NS = 'demo';

let keyring: Keyring;
let vault: Vault;
beforeAll(async () => {
  keyring = ephemeralKeyring();
  vault = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 0, maxBytes: 0 } });
});

/** Counts detokenize calls and their items. */
function counting(inner: Vault) {
  const calls: number[] = [];
  const v: Vault = {
    tokenize: (items) => inner.tokenize(items),
    detokenize: (items: readonly DetokenizeItem[]) => {
      calls.push(items.length);
      return inner.detokenize(items);
    },
    delete: (items) => inner.delete(items),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
  return { vault: v, calls };
}

function deps(extra: Partial<TransformDeps> = {}): TransformDeps {
  return { vault, keyring, codecs: CODECS, maxDepth: 64, ...extra };
}

function direction(request: object): CompiledDirection {
  const file = {
    version: 1,
    namespace: NS,
    upstreams: { up: { url: 'https://up.example' } },
    routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', auth: 'none', request }],
  };
  const compiled = compileRuleFile('rules/t.yaml', JSON.stringify(file, null, 2), { keyring, env: {} });
  return compiled.routes[0]!.request!;
}

async function tok(input: Omit<TokenSpecInput, 'namespace'>, value: string): Promise<string> {
  const [t] = await vault.tokenize([{ spec: createTokenSpec({ ...input, namespace: NS }, keyring), value }]);
  return t!;
}

/** A well-formed token (keyed check passes) that the vault has never issued. */
function unissued(input: Omit<TokenSpecInput, 'namespace'>, value: string): string {
  const spec = createTokenSpec({ ...input, namespace: NS }, keyring);
  return spec.format.derive(spec.format.normalize(value), NS, 7);
}

const json = (body: unknown): HttpMessage => ({ body: Buffer.from(JSON.stringify(body)), query: '', headers: { 'content-type': 'application/json' } });
const parse = (out: { body: Buffer }) => JSON.parse(out.body.toString()) as Record<string, any>;

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('detokenize-text', () => {
  it('resolves every token of every listed type in several texts, with the whole-field detokenize, in ONE vault call', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann');
    const city = await tok({ type: 'opaque' }, 'Lisbon');
    const mail = await tok({ type: 'email' }, 'ann@example.com');
    const kept = await tok({ type: 'email', emailDomain: 'preserve' }, 'ann.lee@gmail.com');
    const phone = await tok({ type: 'phone' }, '+14155550123');
    const account = await tok({ type: 'digits' }, '4012888888881881');
    const to = await tok({ type: 'email' }, 'to@example.com');
    const dir = direction({
      fields: [
        { select: '$.to', action: 'detokenize', type: 'email' },
        { select: '$.body', action: 'detokenize-text', types: ['email', 'opaque', 'phone', 'digits'] },
        { select: '$.subject', action: 'detokenize-text' },
      ],
    });
    const { vault: v, calls } = counting(vault);
    const stats: TransformStats = { tokenized: 0, detokenized: 0, other: 0 };
    const out = await transformMessage(
      dir,
      json({
        to,
        body: `Hi ${name} from ${city}! Mail: ${mail}, ${kept}. Call ${phone}; account ${account}. Bye ${name}.`,
        subject: `${name}, your receipt (${mail})`,
      }),
      deps({ vault: v }),
      {},
      stats,
    );
    expect(calls).toEqual([10]);
    expect(stats.detokenized).toBe(10);
    expect(parse(out)).toEqual({
      to: 'to@example.com',
      body: 'Hi Ann from Lisbon! Mail: ann@example.com, ann.lee@gmail.com. Call +14155550123; account 4012888888881881. Bye Ann.',
      subject: 'Ann, your receipt (ann@example.com)',
    });
  });

  it('phone and digits tokens are left alone unless the rule lists them', async () => {
    const phone = await tok({ type: 'phone' }, '+14155550123');
    const account = await tok({ type: 'digits' }, '4012888888881881');
    const { vault: v, calls } = counting(vault);
    const body = `Call ${phone} about ${account}`;
    const out = await transformMessage(direction({ fields: [{ select: '$.body', action: 'detokenize-text' }] }), json({ body }), deps({ vault: v }));
    expect(calls).toEqual([]);
    expect(out.changed).toBe(false);
    const opted = await transformMessage(direction({ fields: [{ select: '$.body', action: 'detokenize-text', types: ['phone'] }] }), json({ body }), deps());
    expect(parse(opted).body).toBe(`Call +14155550123 about ${account}`);
  });

  it('html: a resolved name never becomes markup (Ann <Lee & Co>); the JSON codec escapes on top', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann <Lee & Co> "x"');
    const dir = direction({ fields: [{ select: '$.html', action: 'detokenize-text', escape: 'html' }] });
    const out = await transformMessage(dir, json({ html: `<p>Dear ${name},</p>` }), deps());
    expect(parse(out).html).toBe('<p>Dear Ann &lt;Lee &amp; Co&gt; &quot;x&quot;,</p>');
    expect(out.body.toString()).not.toMatch(/<Lee|& Co|"x"/);
  });

  it('url: a value inside an href is percent-encoded', async () => {
    const mail = await tok({ type: 'email' }, 'ann+news@example.com');
    const name = await tok({ type: 'opaque' }, "O'Brien & Sons");
    const dir = direction({ fields: [{ select: '$.link', action: 'detokenize-text', escape: 'url' }] });
    const out = await transformMessage(dir, json({ link: `https://x.example/unsub?e=${mail}&n=${name}` }), deps());
    expect(parse(out).link).toBe('https://x.example/unsub?e=ann%2Bnews%40example.com&n=O%27Brien%20%26%20Sons');
  });

  it('header: a value with CR/LF is refused naming the path, and nothing is written', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann\r\nBcc: everyone@example.com');
    const dir = direction({ fields: [{ select: '$.subject', action: 'detokenize-text', escape: 'header' }] });
    const err = await refusal(transformMessage(dir, json({ subject: `Hello ${name}` }), deps()));
    expect(err).toMatchObject({ code: 'INVALID_VALUE', status: 400, field: '$.subject' });
    expect(err.message).not.toContain('everyone');
    const ok = await tok({ type: 'opaque' }, 'Ann <Lee>');
    expect(parse(await transformMessage(dir, json({ subject: `Hello ${ok}` }), deps())).subject).toBe('Hello Ann <Lee>');
  });

  it('form bodies: the value is form-encoded by the codec (Twilio Body)', async () => {
    const name = await tok({ type: 'opaque' }, 'Zoë & Co');
    const dir = direction({ codec: 'form', fields: [{ select: 'Body', action: 'detokenize-text' }] });
    const body = `To=%2B1555&Body=${encodeURIComponent(`Hi ${name}, bye`)}`;
    const out = await transformMessage(dir, { body: Buffer.from(body), query: '', headers: { 'content-type': 'application/x-www-form-urlencoded' } }, deps());
    expect(new URLSearchParams(out.body.toString()).get('Body')).toBe('Hi Zoë & Co, bye');
    expect(out.body.toString()).toMatch(/^To=%2B1555&Body=/);
  });

  it('an unknown token is refused (UNKNOWN_TOKEN, the path), or kept as written with unknownToken: skip', async () => {
    const known = await tok({ type: 'opaque' }, 'Ann');
    const ghost = unissued({ type: 'opaque' }, 'Nobody');
    const text = `Hi ${known} and ${ghost}`;
    const refuse = direction({ fields: [{ select: '$.body', action: 'detokenize-text' }] });
    const err = await refusal(transformMessage(refuse, json({ body: text }), deps()));
    expect(err).toMatchObject({ code: 'UNKNOWN_TOKEN', status: 422, field: '$.body' });
    const skip = direction({ fields: [{ select: '$.body', action: 'detokenize-text', unknownToken: 'skip' }] });
    expect(parse(await transformMessage(skip, json({ body: text }), deps())).body).toBe(`Hi Ann and ${ghost}`);
  });

  it('altered tokens (upper-cased, truncated, URL-encoded) and tokens glued to words are not resolved; altered ones are counted', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann');
    const mail = await tok({ type: 'email' }, 'ann@example.com');
    const text = `${name.toUpperCase()} ${name.slice(0, -2)} ${mail.toUpperCase()} ${encodeURIComponent(mail).replace('@', '%40')} x${name} ${name}y`;
    const { vault: v, calls } = counting(vault);
    const stats: TransformStats = { tokenized: 0, detokenized: 0, other: 0 };
    const out = await transformMessage(direction({ fields: [{ select: '$.body', action: 'detokenize-text' }] }), json({ body: text }), deps({ vault: v }), {}, stats);
    expect(calls).toEqual([]);
    expect(out.changed).toBe(false);
    // the four altered ones, and `<token>y` (it starts like an opaque token and is not one)
    expect(stats.alteredTokens).toBe(5);
  });

  it('escape: { by: type } picks html or plain per element from its sibling (SendGrid content[])', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann <Lee & Co>');
    const dir = direction({
      fields: [{ select: '$.content[*].value', action: 'detokenize-text', escape: { by: 'type', plain: ['text/plain'], otherwise: 'html' } }],
    });
    const out = await transformMessage(
      dir,
      json({
        content: [
          { value: `Hi ${name}`, type: 'text/plain' },
          { type: 'text/html; charset=utf-8', value: `<b>Hi ${name}</b>` },
          { type: 'TEXT/PLAIN', value: `Hi ${name}` },
          { value: `Hi ${name}` },
        ],
      }),
      deps(),
    );
    expect(parse(out).content).toEqual([
      { value: 'Hi Ann <Lee & Co>', type: 'text/plain' },
      { type: 'text/html; charset=utf-8', value: '<b>Hi Ann &lt;Lee &amp; Co&gt;</b>' },
      { type: 'TEXT/PLAIN', value: 'Hi Ann <Lee & Co>' },
      { value: 'Hi Ann &lt;Lee &amp; Co&gt;' }, // no type: otherwise
    ]);
  });

  it('audits each resolved token with the field path and type, never the value or the token', async () => {
    const name = await tok({ type: 'opaque' }, 'Canary Zq7Name');
    const mail = await tok({ type: 'email' }, 'canary.zq7@canary-example.org');
    const events: DetokenizeAuditEvent[] = [];
    const audit = { detokenized: async (e: readonly DetokenizeAuditEvent[]) => void events.push(...e) };
    const dir = direction({ fields: [{ select: '$.msg.body', action: 'detokenize-text' }] });
    await transformMessage(dir, json({ msg: { body: `${name} <${mail}> ${name}` } }), deps({ audit }));
    expect(events.map((e) => [e.path, e.tokenType, e.found])).toEqual([
      ['$.msg.body', 'opaque', true],
      ['$.msg.body', 'email', true],
      ['$.msg.body', 'opaque', true],
    ]);
    const text = JSON.stringify(events);
    for (const leak of ['Canary', 'canary', 'Zq7', name, mail]) expect(text).not.toContain(leak);
  });

  it('purpose binding: a resolved type the policy does not allow toward the host is refused (403) and nothing is written', async () => {
    const name = await tok({ type: 'opaque' }, 'Ann');
    const policy = parseDetokenizePolicy('version: 1\ndestinations:\n  email: [up.example]\n', 'policy.yaml');
    const guarded = new ReleaseGuardedVault(vault, policy, 'request', 'up.example');
    const dir = direction({ fields: [{ select: '$.body', action: 'detokenize-text' }] });
    const err = await refusal(transformMessage(dir, json({ body: `Hi ${name}` }), deps({ vault: guarded })));
    expect(err).toMatchObject({ status: 403 });
  });
});

describe('detokenize-text rules', () => {
  const load = (field: object, codec = 'json') =>
    compileRuleFile(
      'rules/t.yaml',
      JSON.stringify({
        version: 1,
        upstreams: { up: { url: 'https://up.example' } },
        routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', request: { codec, fields: [field] } }],
      }),
      { keyring, env: {} },
    );

  it('needs auth: like detokenize (a route that resolves text tokens must say who may call it)', () => {
    expect(() => load({ select: '$.body', action: 'detokenize-text' })).toThrow(/this route detokenizes \(\$\.body/);
  });

  it('escape: { by } is for json fields ending in a key', () => {
    expect(() => load({ select: 'Body', action: 'detokenize-text', escape: { by: 'type', html: ['text/html'] } }, 'form')).toThrow(
      /escape: \{ by: \.\.\. \} needs a json body field/,
    );
  });

  it('defaults: types [email, opaque], escape plain', () => {
    const file = {
      version: 1,
      upstreams: { up: { url: 'https://up.example' } },
      routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', auth: 'none', request: { fields: [{ select: '$.b', action: 'detokenize-text' }] } }],
    };
    const action = compileRuleFile('rules/t.yaml', JSON.stringify(file), { keyring, env: {} }).routes[0]!.request!.fields[0]!.action;
    expect(action).toMatchObject({ kind: 'detokenize-text', types: ['email', 'opaque'], escape: 'plain', namespace: 'default' });
  });
});
