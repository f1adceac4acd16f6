/**
 * The engine's side of the echo guard (server/echo-guard.ts): TransformStats.resolved reports each token the
 * transform resolved with its value, canonical (a digits phone's '+' and a kept prefix are not part of
 * either), without changing what the transform writes; TransformDeps.keepTokens keeps a token the guard wrote
 * when a rule tokenizes the field again (no vault call for it: a phone token would be tokenized anew).
 */
import { beforeAll, describe, expect, it } from 'vitest';
import { formCodec } from '../codecs/form.js';
import { jsonCodec } from '../codecs/json.js';
import type { Codec } from '../codecs/types.js';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { compileRuleFile } from '../rules/load.js';
import type { CompiledDirection } from '../rules/types.js';
import { createTokenSpec } from '../tokens/index.js';
import type { TokenizeItem, Vault } from '../vault/interface.js';
import { createVault } from '../vault/index.js';
import { transformBody, type ResolvedPair, type TransformDeps, type TransformStats } from './engine.js';

const CODECS: ReadonlyMap<string, Codec> = new Map<string, Codec>([
  ['json', jsonCodec as Codec],
  ['form', formCodec as Codec],
]);

let keyring: Keyring;
let vault: Vault;
const tokenizeAsked: string[] = [];
beforeAll(async () => {
  keyring = ephemeralKeyring();
  const inner = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 0, maxBytes: 0 } });
  vault = {
    tokenize: (items: readonly TokenizeItem[]) => {
      tokenizeAsked.push(...items.map((i) => i.value));
      return inner.tokenize(items);
    },
    detokenize: (items) => inner.detokenize(items),
    delete: (items) => inner.delete(items),
    ping: () => inner.ping(),
    close: () => inner.close(),
  };
});

function direction(side: 'request' | 'response', fields: object[], codec = 'json'): CompiledDirection {
  const text = JSON.stringify({
    version: 1,
    upstreams: { up: { url: 'https://up.example' } },
    routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'up', auth: 'none', [side]: { codec, fields } }],
  });
  return compileRuleFile('rules/t.yaml', text, { keyring, env: {} }).routes[0]![side]!;
}

const tokenOf = async (type: 'phone' | 'email' | 'opaque', value: string): Promise<string> =>
  (await vault.tokenize([{ spec: createTokenSpec({ type, namespace: 'default' }, keyring), value }]))[0]!;

describe('TransformStats.resolved', () => {
  it('canonical value -> canonical token for each resolved field; the message is written as without it', async () => {
    const phone = await tokenOf('phone', '+15558675310');
    const email = await tokenOf('email', 'ann@example.com');
    const dir = direction('request', [
      { select: 'To', action: 'detokenize', type: 'phone', keepPrefixes: ['whatsapp:'] },
      { select: 'Wa', action: 'detokenize', type: 'phone', phoneFormat: 'digits' },
      { select: 'Cc', action: 'detokenize', type: 'email' },
    ], 'form');
    const body = Buffer.from(new URLSearchParams({ To: `whatsapp:${phone}`, Wa: phone.slice(1), Cc: email }).toString());
    const deps: TransformDeps = { vault, keyring, codecs: CODECS, maxDepth: 64 };
    const without = await transformBody(dir, body, deps, undefined, 'application/x-www-form-urlencoded');
    const stats: TransformStats = { tokenized: 0, detokenized: 0, other: 0, resolved: [] };
    const out = await transformBody(dir, body, deps, stats, 'application/x-www-form-urlencoded');
    expect(out.toString()).toBe(without.toString());
    expect(out.toString()).toBe('To=whatsapp%3A%2B15558675310&Wa=15558675310&Cc=ann%40example.com');
    expect(stats.resolved).toEqual<ResolvedPair[]>([
      { value: '+15558675310', token: phone, type: 'phone' },
      { value: '+15558675310', token: phone, type: 'phone' },
      { value: 'ann@example.com', token: email, type: 'email' },
    ]);
  });
});

describe('TransformDeps.keepTokens', () => {
  it('a phone token the guard wrote is kept by a tokenize rule (and by scan), without a vault call; others are tokenized', async () => {
    const phone = await tokenOf('phone', '+15558675310');
    const dir = direction('response', [
      { select: '$.to', action: 'tokenize', type: 'phone', keepPrefixes: ['whatsapp:'] },
      { select: '$.body', action: 'scan' },
      { select: '$.from', action: 'tokenize', type: 'phone' },
    ]);
    const body = Buffer.from(JSON.stringify({ to: `whatsapp:${phone}`, body: `sent to ${phone}`, from: '+15017122661' }));
    tokenizeAsked.length = 0;
    const kept = await transformBody(dir, body, { vault, keyring, codecs: CODECS, maxDepth: 64, keepTokens: new Set([phone]) });
    const out = JSON.parse(kept.toString()) as Record<string, string>;
    expect(out.to).toBe(`whatsapp:${phone}`);
    expect(out.body).toBe(`sent to ${phone}`);
    expect(out.from).toBe(await tokenOf('phone', '+15017122661'));
    expect(tokenizeAsked).not.toContain(phone);
    // Without it the phone token is tokenized again as a number: a token of the token.
    const again = JSON.parse((await transformBody(dir, body, { vault, keyring, codecs: CODECS, maxDepth: 64 })).toString()) as Record<string, string>;
    expect(again.to).not.toBe(`whatsapp:${phone}`);
    expect(again.body).not.toBe(`sent to ${phone}`);
  });
});
