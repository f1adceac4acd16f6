import { beforeAll, describe, expect, it } from 'vitest';
import { formCodec } from '../codecs/form.js';
import { jsonCodec } from '../codecs/json.js';
import { multipartCodec } from '../codecs/multipart.js';
import type { Codec } from '../codecs/types.js';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import type { GatewayError } from '../errors.js';
import { compileRuleFile } from '../rules/load.js';
import type { CompiledDirection, CompiledRoute } from '../rules/types.js';
import type { DetokenizeItem, TokenizeItem, Vault } from '../vault/interface.js';
import { createVault } from '../vault/index.js';
import {
  auditFingerprint,
  REDACTED,
  transformBody,
  transformMessage,
  withoutBody,
  type DetokenizeAuditEvent,
  type HttpMessage,
  type TransformContext,
  type TransformDeps,
} from './engine.js';

const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  ['json', jsonCodec as Codec],
  ['form', formCodec as Codec],
  ['multipart', multipartCodec as Codec],
]);

const EMAIL = 'jack.montana@gmail.com';
const PHONE = '+14155550123';

let keyring: Keyring;
let vault: Vault;
beforeAll(async () => {
  keyring = ephemeralKeyring();
  vault = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 0, maxBytes: 0 } });
});

/** A vault wrapper that counts batched calls. */
function counting(inner: Vault) {
  const calls = { tokenize: [] as number[], detokenize: [] as number[] };
  const v: Vault = {
    tokenize: (items: readonly TokenizeItem[]) => {
      calls.tokenize.push(items.length);
      return inner.tokenize(items);
    },
    detokenize: (items: readonly DetokenizeItem[]) => {
      calls.detokenize.push(items.length);
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

/** Compiles one route whose directions are given as plain data (JSON is YAML). */
function route(request?: object, response?: object, namespace = 'demo'): CompiledRoute {
  const file = {
    version: 1,
    namespace,
    upstreams: { up: { url: 'https://up.example' } },
    routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', auth: 'none', ...(request ? { request } : {}), ...(response ? { response } : {}) }],
  };
  return compileRuleFile('rules/t.yaml', JSON.stringify(file, null, 2), { keyring, env: {} }).routes[0]!;
}

function msg(body: string, query = '', headers: Record<string, string | string[]> = {}): HttpMessage {
  return { body: Buffer.from(body), query, headers };
}

async function tokenOf(type: 'email' | 'phone', value: string, namespace = 'demo'): Promise<string> {
  const dir = route({ fields: [{ select: '$.v', action: 'tokenize', type }] }, undefined, namespace).request!;
  const out = await transformBody(dir, Buffer.from(JSON.stringify({ v: value })), deps());
  return (JSON.parse(out.toString()) as { v: string }).v;
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected a refusal');
}

describe('transformMessage: nested documents', () => {
  it('JSON in a JSON string: decoded, transformed, re-encoded in place; other bytes untouched', async () => {
    const dir = route({
      fields: [
        { select: '$.payload', codec: 'json', fields: [{ select: '$.user.email', action: 'tokenize', type: 'email' }] },
        { select: '$.to', action: 'tokenize', type: 'phone' },
      ],
    }).request!;
    const inner = `{"user": {"email": "${EMAIL}", "n": 1.0e+2}}`;
    const body = `{ "payload" : ${JSON.stringify(inner)}, "to":"${PHONE}", "x": 9007199254740993 }`;
    const out = await transformMessage(dir, msg(body), deps());
    const text = out.body.toString();
    expect(out.changed).toBe(true);
    expect(text).not.toContain('jack');
    expect(text).not.toContain('4155550123');
    expect(text).toContain('"x": 9007199254740993 }');
    const parsed = JSON.parse(text) as { payload: string; to: string };
    expect(parsed.payload).toBe(`{"user": {"email": "${await tokenOf('email', EMAIL)}", "n": 1.0e+2}}`);
    expect(parsed.to).toBe(await tokenOf('phone', PHONE));
  });

  it('a form with a JSON document in a field (Twilio ContentVariables), and the way back', async () => {
    const emailToken = await tokenOf('email', EMAIL);
    const phoneToken = await tokenOf('phone', PHONE);
    // platform -> provider: the gateway resolves the tokens the platform holds
    const dir = route({
      codec: 'form',
      fields: [
        { select: 'To', action: 'detokenize', type: 'phone' },
        { select: 'ContentVariables', codec: 'json', fields: [{ select: '$.1', action: 'detokenize', type: 'email' }] },
      ],
    }).request!;
    const vars = JSON.stringify({ 1: emailToken, 2: 'Friday' });
    const body = `To=${encodeURIComponent(phoneToken)}&From=%2B15005550006&ContentVariables=${encodeURIComponent(vars)}`;
    const out = await transformMessage(dir, msg(body, '', { 'content-type': 'application/x-www-form-urlencoded' }), deps());
    const form = new URLSearchParams(out.body.toString());
    expect(form.get('To')).toBe(PHONE);
    expect(JSON.parse(form.get('ContentVariables')!)).toEqual({ 1: EMAIL, 2: 'Friday' });
    expect(out.body.toString()).toContain('&From=%2B15005550006&'); // untouched pair, byte for byte
  });

  it('errors inside a nested document name the outer path and the inner one', async () => {
    const dir = route({
      codec: 'form',
      fields: [{ select: 'ContentVariables', codec: 'json', fields: [{ select: '$.1', action: 'tokenize', type: 'email' }] }],
    }).request!;
    const missing = await refusal(transformMessage(dir, msg('ContentVariables=%7B%222%22%3A%22x%22%7D'), deps()));
    expect(missing).toMatchObject({ code: 'FIELD_MISSING', field: 'ContentVariables$.1' });
    const notEmail = await refusal(transformMessage(dir, msg('ContentVariables=%7B%221%22%3A%22nope%22%7D'), deps()));
    expect(notEmail).toMatchObject({ code: 'INVALID_VALUE', field: "ContentVariables$['1']" });
    expect(notEmail.message).not.toContain('nope');
    const bad = await refusal(transformMessage(dir, msg('ContentVariables=%7B%221%22%3A'), deps()));
    expect(bad).toMatchObject({ code: 'INVALID_JSON' });
    expect(bad.field?.startsWith('ContentVariables')).toBe(true);
    expect(bad.message).toMatch(/^ContentVariables: not a valid json document: /);
  });

  it("a nested document that does not decode is left alone with 'invalid: skip'", async () => {
    const dir = route({
      fields: [{ select: '$.p', codec: 'json', invalid: 'skip', fields: [{ select: '$.e', action: 'tokenize', type: 'email' }] }],
    }).request!;
    const body = Buffer.from(`{"p":"not json ${EMAIL}"}`);
    const out = await transformMessage(dir, { body, query: '', headers: {} }, deps());
    expect(out.body).toBe(body);
    expect(out.changed).toBe(false);
  });

  it('a form inside a JSON string: inner paths are joined with &', async () => {
    const dir = route({
      fields: [{ select: '$.raw', codec: 'form', fields: [{ select: 'To', action: 'tokenize', type: 'phone' }] }],
    }).request!;
    const out = await transformMessage(dir, msg(JSON.stringify({ raw: `To=${encodeURIComponent(PHONE)}&A=1` })), deps());
    expect((JSON.parse(out.body.toString()) as { raw: string }).raw).toBe(`To=${encodeURIComponent(await tokenOf('phone', PHONE))}&A=1`);
    const missing = await refusal(transformMessage(dir, msg('{"raw":"A=1"}'), deps()));
    expect(missing).toMatchObject({ code: 'FIELD_MISSING', field: '$.raw&To' });
  });
});

describe('transformMessage: query string and headers', () => {
  it('query:NAME rewrites only that parameter (every occurrence), byte for byte elsewhere', async () => {
    const dir = route({ fields: [{ select: 'query:to', action: 'tokenize', type: 'phone' }] }).request!;
    const query = `a=%7e+x&to=${encodeURIComponent(PHONE)}&b&to=%2B442071838750&c=1`;
    const out = await transformMessage(dir, msg('', query), deps());
    const token = await tokenOf('phone', PHONE);
    const ukToken = await tokenOf('phone', '+442071838750');
    expect(out.query).toBe(`a=%7e+x&to=${encodeURIComponent(token)}&b&to=${encodeURIComponent(ukToken)}&c=1`);
    expect(out.body.length).toBe(0);
    expect(out.changed).toBe(true);
  });

  it('query: missing parameter, redact, and an unchanged query kept as the same string', async () => {
    const dir = route({ fields: [{ select: 'query:email', action: 'redact' }] }).request!;
    expect(await refusal(transformMessage(dir, msg('', 'a=1'), deps()))).toMatchObject({ code: 'FIELD_MISSING', field: 'query:email' });
    const out = await transformMessage(dir, msg('', `a=1&email=${encodeURIComponent(EMAIL)}&b=2`), deps());
    expect(out.query).toBe('a=1&b=2');
    const skip = route({ fields: [{ select: 'query:email', action: 'redact', missing: 'skip' }] }).request!;
    const q = 'a=1';
    const same = await transformMessage(skip, msg('', q), deps());
    expect(same).toMatchObject({ query: q, changed: false });
  });

  it('header:NAME matches any case; repeated headers are matched one by one; the input map is not changed', async () => {
    const dir = route({
      fields: [
        { select: 'header:X-User-Email', action: 'tokenize', type: 'email' },
        { select: 'header:x-debug', action: 'redact', missing: 'skip' },
      ],
    }).request!;
    const headers = { 'X-USER-EMAIL': EMAIL, 'x-debug': ['a', 'b'], accept: '*/*' };
    const out = await transformMessage(dir, msg('', '', headers), deps());
    expect(out.headers).toEqual({ 'X-USER-EMAIL': await tokenOf('email', EMAIL), accept: '*/*' });
    expect(headers['X-USER-EMAIL']).toBe(EMAIL);
    const missing = await refusal(transformMessage(dir, msg('', '', {}), deps()));
    expect(missing).toMatchObject({ code: 'FIELD_MISSING', field: 'header:X-User-Email' });
  });

  it('body fields are not read when the direction has none (no codec, no content-type check)', async () => {
    const dir = route({ fields: [{ select: 'header:x-id', action: 'hash' }] }).request!;
    const body = Buffer.from('not json at all');
    const out = await transformMessage(dir, { body, query: '', headers: { 'x-id': 'a' } }, deps());
    expect(out.body).toBe(body);
    expect(out.headers['x-id']).toMatch(/^h_[0-9a-f]{64}$/);
  });

  it('withoutBody keeps header fields and drops body fields', () => {
    const dir = route({ fields: [{ select: '$.a', action: 'redact' }, { select: 'header:x-a', action: 'redact' }] }).request!;
    const bare = withoutBody(dir);
    expect(bare.fields).toEqual([]);
    expect(bare.headers.fields.length).toBe(1);
    expect(withoutBody(dir)).toBe(bare);
  });
});

describe('transformMessage: scan action', () => {
  const body = `{"Body":"Hi, write to ${EMAIL} or call ${PHONE} today"}`;
  const scanRoute = (extra: object) => route({ fields: [{ select: '$.Body', action: 'scan', ...extra }] }).request!;
  const text = async (dir: CompiledDirection, extra: Partial<TransformDeps> = {}) =>
    (JSON.parse((await transformMessage(dir, msg(body), deps(extra))).body.toString()) as { Body: string }).Body;

  it('tokenizes every email and phone in free text with the file namespace (default)', async () => {
    expect(await text(scanRoute({}))).toBe(`Hi, write to ${await tokenOf('email', EMAIL)} or call ${await tokenOf('phone', PHONE)} today`);
  });

  it('find narrows what is looked for; then: mask and redact', async () => {
    expect(await text(scanRoute({ find: ['phone'], then: 'redact' }))).toBe(`Hi, write to ${EMAIL} or call ${REDACTED} today`);
    expect(await text(scanRoute({ then: 'mask' }))).toBe('Hi, write to j***@gmail.com or call +1*******123 today');
  });

  it('text without PII is left as it came', async () => {
    const dir = scanRoute({});
    const plain = Buffer.from('{"Body":"Reply STOP to stop"}');
    const out = await transformMessage(dir, { body: plain, query: '', headers: {} }, deps());
    expect(out.body).toBe(plain);
  });

  it('a span the token format refuses follows the invalid policy (stub detector)', async () => {
    const findPii = () => [{ start: 0, end: 3, kind: 'phone' as const }];
    const err = await refusal(transformMessage(scanRoute({}), msg(body), deps({ findPii })));
    expect(err).toMatchObject({ code: 'INVALID_VALUE', field: '$.Body' });
    expect(err.message).not.toContain('Hi,');
    expect(await text(scanRoute({ invalid: 'skip' }), { findPii })).toBe(`Hi, write to ${EMAIL} or call ${PHONE} today`);
  });
});

describe('transformMessage: one vault round', () => {
  it('top-level, query, header, nested and scanned fields make one tokenize and one detokenize call', async () => {
    const emailToken = await tokenOf('email', EMAIL);
    const phoneToken = await tokenOf('phone', PHONE);
    const dir = route({
      fields: [
        { select: '$.to', action: 'detokenize' },
        { select: '$.name', action: 'tokenize', type: 'opaque' },
        { select: '$.vars', codec: 'json', fields: [{ select: '$.email', action: 'detokenize' }, { select: '$.city', action: 'tokenize', type: 'opaque' }] },
        { select: '$.text', action: 'scan' },
        { select: 'query:phone', action: 'detokenize' },
        { select: 'header:x-email', action: 'tokenize', type: 'email' },
      ],
    }).request!;
    const body = JSON.stringify({ to: phoneToken, name: 'Jack', vars: JSON.stringify({ email: emailToken, city: 'Austin' }), text: `mail ${EMAIL}` });
    const { vault: v, calls } = counting(vault);
    const out = await transformMessage(dir, msg(body, `phone=${encodeURIComponent(phoneToken)}`, { 'x-email': 'ada@example.com' }), deps({ vault: v }));
    expect(calls).toEqual({ tokenize: [4], detokenize: [3] });
    const parsed = JSON.parse(out.body.toString()) as Record<string, string>;
    expect(parsed.to).toBe(PHONE);
    expect(JSON.parse(parsed.vars!)).toMatchObject({ email: EMAIL });
    expect(parsed.text).toBe(`mail ${emailToken}`);
    expect(out.query).toBe(`phone=${encodeURIComponent(PHONE)}`);
  });

  it('no vault call at all when nothing needs one', async () => {
    const { vault: v, calls } = counting(vault);
    const dir = route({ fields: [{ select: '$.a', action: 'mask' }] }).request!;
    await transformMessage(dir, msg('{"a":"x"}'), deps({ vault: v }));
    expect(calls).toEqual({ tokenize: [], detokenize: [] });
  });
});

describe('transformMessage: audit hook', () => {
  const ctx: TransformContext = { requestId: 'req-1', routeId: 't/r', side: 'request' };

  it('gets one event per detokenized field, with paths, types and fingerprints but no values or tokens', async () => {
    const emailToken = await tokenOf('email', EMAIL);
    const phoneToken = await tokenOf('phone', PHONE);
    const unknown = await tokenOf('email', 'someone@else.example', 'other'); // issued in another namespace
    const dir = route({
      codec: 'form',
      fields: [
        { select: 'To', action: 'detokenize' },
        { select: 'ContentVariables', codec: 'json', fields: [{ select: '$.1', action: 'detokenize', unknownToken: 'skip' }] },
        { select: 'header:x-cc', action: 'detokenize' },
      ],
    }).request!;
    const seen: { events: readonly DetokenizeAuditEvent[]; ctx: TransformContext | undefined }[] = [];
    const audit = { detokenized: async (events: readonly DetokenizeAuditEvent[], c?: TransformContext) => void seen.push({ events, ctx: c }) };
    const body = `To=${encodeURIComponent(phoneToken)}&ContentVariables=${encodeURIComponent(JSON.stringify({ 1: unknown }))}`;
    const out = await transformMessage(dir, msg(body, '', { 'x-cc': emailToken }), deps({ audit }), ctx);
    expect(seen.length).toBe(1);
    expect(seen[0]!.ctx).toEqual(ctx);
    expect(seen[0]!.events).toEqual([
      { path: 'To', tokenType: 'phone', found: true, tokenFingerprint: auditFingerprint(keyring.fingerprintKey, 'demo', phoneToken) },
      { path: "ContentVariables$['1']", tokenType: 'email', found: false, tokenFingerprint: auditFingerprint(keyring.fingerprintKey, 'demo', unknown) },
      { path: 'header:x-cc', tokenType: 'email', found: true, tokenFingerprint: auditFingerprint(keyring.fingerprintKey, 'demo', emailToken) },
    ]);
    expect(seen[0]!.events[0]!.tokenFingerprint).toMatch(/^[0-9a-f]{32}$/);
    const logged = JSON.stringify(seen);
    for (const secret of [EMAIL, PHONE, '4155550123', emailToken, phoneToken, unknown]) expect(logged).not.toContain(secret);
    expect(out.headers['x-cc']).toBe(EMAIL);
  });

  it('an audit failure refuses the transform: nothing resolved is released', async () => {
    const phoneToken = await tokenOf('phone', PHONE);
    const dir = route({ fields: [{ select: '$.to', action: 'detokenize' }] }).request!;
    const audit = { detokenized: () => Promise.reject(new Error('disk full')) };
    const err = await refusal(transformMessage(dir, msg(JSON.stringify({ to: phoneToken })), deps({ audit }), ctx));
    expect(err).toMatchObject({ name: 'GatewayError', code: 'INTERNAL' });
    expect(JSON.stringify(err)).not.toContain('4155550123');
  });

  it('is not called when nothing is detokenized', async () => {
    let called = 0;
    const audit = { detokenized: async () => void called++ };
    const dir = route({ fields: [{ select: '$.e', action: 'tokenize', type: 'email' }] }).request!;
    await transformMessage(dir, msg(JSON.stringify({ e: EMAIL })), deps({ audit }));
    expect(called).toBe(0);
  });
});

describe('transformBody', () => {
  it('returns the same Buffer when nothing changed and ignores query/header fields', async () => {
    const dir = route({ fields: [{ select: '$.a', action: 'mask', missing: 'skip' }, { select: 'query:x', action: 'redact' }] }).request!;
    const body = Buffer.from('{"b":1}');
    expect(await transformBody(dir, body, deps())).toBe(body);
  });

  it('an empty body has none of the fields: the missing policy decides', async () => {
    const dir = route({ fields: [{ select: '$.a', action: 'mask' }] }).request!;
    expect(await refusal(transformBody(dir, Buffer.alloc(0), deps()))).toMatchObject({ code: 'FIELD_MISSING', field: '$.a' });
  });
});
