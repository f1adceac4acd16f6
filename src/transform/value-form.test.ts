/**
 * Value forms on tokenize/detokenize fields (rules/types.ts ValueForm): `phoneFormat: digits` (country code
 * and number without '+', as WebEngage and WhatsApp write phones) and `keepPrefixes` (Twilio's
 * `whatsapp:+1...`). The vault must only ever see canonical '+' values and tokens.
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formCodec } from '../codecs/form.js';
import { jsonCodec } from '../codecs/json.js';
import type { Codec } from '../codecs/types.js';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import type { GatewayError } from '../errors.js';
import { compileRuleFile, RulesError } from '../rules/load.js';
import type { CompiledDirection } from '../rules/types.js';
import type { DetokenizeItem, TokenizeItem, Vault } from '../vault/interface.js';
import { createVault } from '../vault/index.js';
import { transformBody, type TransformDeps } from './engine.js';

const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  ['json', jsonCodec as Codec],
  ['form', formCodec as Codec],
]);

let keyring: Keyring;
let vault: Vault;
/** Every token and value the vault was asked about. */
const seen = { tokenize: [] as string[], detokenize: [] as string[] };
beforeAll(async () => {
  keyring = ephemeralKeyring();
  const inner = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 0, maxBytes: 0 } });
  vault = {
    tokenize: (items: readonly TokenizeItem[]) => {
      seen.tokenize.push(...items.map((i) => i.value));
      return inner.tokenize(items);
    },
    detokenize: (items: readonly DetokenizeItem[]) => {
      seen.detokenize.push(...items.map((i) => i.token));
      return inner.detokenize(items);
    },
    delete: (items) => inner.delete(items),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
});

function deps(): TransformDeps {
  return { vault, keyring, codecs: CODECS, maxDepth: 64 };
}

function file(field: object, codec = 'json'): string {
  return JSON.stringify({
    version: 1,
    upstreams: { up: { url: 'https://up.example' } },
    routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', auth: 'none', request: { codec, fields: [field] } }],
  });
}

function direction(field: object, codec = 'json'): CompiledDirection {
  return compileRuleFile('rules/t.yaml', file(field, codec), { keyring, env: {} }).routes[0]!.request!;
}

async function run(field: object, body: string, codec = 'json'): Promise<string> {
  const ct = codec === 'json' ? 'application/json' : 'application/x-www-form-urlencoded';
  return (await transformBody(direction(field, codec), Buffer.from(body), deps(), undefined, ct)).toString();
}

async function refusal(p: Promise<unknown>): Promise<GatewayError> {
  try {
    await p;
  } catch (err) {
    return err as GatewayError;
  }
  throw new Error('expected a refusal');
}

const tokenizeDigits = { select: '$.to', action: 'tokenize', type: 'phone', phoneFormat: 'digits' };
const detokenizeDigits = { select: '$.to', action: 'detokenize', type: 'phone', phoneFormat: 'digits' };
const canonical = async (value: string): Promise<string> =>
  JSON.parse(await run({ select: '$.to', action: 'tokenize', type: 'phone' }, JSON.stringify({ to: value }))).to as string;

describe('phoneFormat: digits', () => {
  it('tokenize reads digits as international and writes the token without +; the vault sees +digits', async () => {
    seen.tokenize.length = 0;
    const out = JSON.parse(await run(tokenizeDigits, '{"to":"919999999999","x":1}')) as { to: string; x: number };
    const plus = await canonical('+919999999999');
    expect(plus.startsWith('+91')).toBe(true);
    expect(out.to).toBe(plus.slice(1));
    expect(out.x).toBe(1);
    expect(seen.tokenize[0]).toBe('+919999999999');
  });

  it('tokenize keeps the + form when the value has one', async () => {
    const out = JSON.parse(await run(tokenizeDigits, '{"to":"+919999999999"}')) as { to: string };
    expect(out.to).toBe(await canonical('+919999999999'));
  });

  it('detokenize accepts a token without +, asks the vault for the + token, and writes the value without +', async () => {
    const token = await canonical('+16505551234');
    seen.detokenize.length = 0;
    const out = await run(detokenizeDigits, JSON.stringify({ to: token.slice(1) }));
    expect(out).toBe('{"to":"16505551234"}');
    expect(seen.detokenize).toEqual([token]);
    // sent with '+', it comes back with '+'
    expect(await run(detokenizeDigits, JSON.stringify({ to: token }))).toBe('{"to":"+16505551234"}');
  });

  it('without phoneFormat, a digits value is not a phone and a digits token is not a token', async () => {
    const err = await refusal(run({ select: '$.to', action: 'tokenize', type: 'phone' }, '{"to":"919999999999"}'));
    expect(err.code).toBe('INVALID_VALUE');
    const token = await canonical('+16505551234');
    const err2 = await refusal(run({ select: '$.to', action: 'detokenize', type: 'phone' }, JSON.stringify({ to: token.slice(1) })));
    expect(err2.code).toBe('NOT_A_TOKEN');
  });

  it('digits that are no phone (unknown calling code) are refused, and a non-digit value is not made a phone', async () => {
    expect((await refusal(run(tokenizeDigits, '{"to":"999"}'))).code).toBe('INVALID_VALUE');
    expect((await refusal(run(tokenizeDigits, '{"to":"91-99999"}'))).code).toBe('INVALID_VALUE');
  });

  it('with [email, phone] candidates only the phone candidate reads digits', async () => {
    const field = { select: '$.to', action: 'tokenize', type: ['email', 'phone'], phoneFormat: 'digits', otherwise: 'keep' };
    const out = JSON.parse(await run(field, '{"to":"919999999999"}')) as { to: string };
    expect(out.to).toBe((await canonical('+919999999999')).slice(1));
    expect(await run(field, '{"to":"johndoe"}')).toBe('{"to":"johndoe"}');
  });

  it('is refused on a field that handles no phones', () => {
    expect(() => direction({ select: '$.to', action: 'tokenize', type: 'email', phoneFormat: 'digits' })).toThrow(RulesError);
    try {
      direction({ select: '$.to', action: 'detokenize', type: 'email', phoneFormat: 'digits' });
    } catch (err) {
      expect((err as RulesError).errors[0]!.message).toContain("'phoneFormat' applies to phone tokens only");
    }
  });
});

describe('keepPrefixes', () => {
  const detokenizeWa = { select: 'To', action: 'detokenize', type: 'phone', keepPrefixes: ['whatsapp:'] };

  it('detokenize: whatsapp:<token> becomes whatsapp:<number>; a bare token still resolves', async () => {
    const token = await canonical('+15558675310');
    seen.detokenize.length = 0;
    const out = await run(detokenizeWa, `To=${encodeURIComponent(`whatsapp:${token}`)}&Body=hi`, 'form');
    expect(out).toBe('To=whatsapp%3A%2B15558675310&Body=hi');
    expect(seen.detokenize).toEqual([token]);
    expect(await run(detokenizeWa, `To=${encodeURIComponent(token)}`, 'form')).toBe('To=%2B15558675310');
  });

  it('tokenize: whatsapp:+1... becomes whatsapp:<token>; the vault never sees the prefix', async () => {
    const token = await canonical('+15558675310');
    seen.tokenize.length = 0;
    const field = { select: 'From', action: 'tokenize', type: 'phone', keepPrefixes: ['whatsapp:'] };
    const out = new URLSearchParams(await run(field, 'From=whatsapp%3A%2B15558675310', 'form')).get('From');
    expect(out).toBe(`whatsapp:${token}`);
    expect(seen.tokenize).toEqual(['+15558675310']);
  });

  it('another prefix is part of the value (and so not a token)', async () => {
    const token = await canonical('+15558675310');
    const err = await refusal(run(detokenizeWa, `To=${encodeURIComponent(`messenger:${token}`)}`, 'form'));
    expect(err.code).toBe('NOT_A_TOKEN');
  });
});
