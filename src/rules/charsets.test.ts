/** A direction's `charsets:` (codecs/charset.ts): labels, defaults, and what load refuses. */
import { beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { compileRuleFile, RulesError } from './load.js';

let keyring: Keyring;
beforeAll(() => {
  keyring = ephemeralKeyring();
});

const file = (request: string) => `version: 1
upstreams:
  up: { url: https://a.example }
routes:
  - id: r
    match: { method: POST, path: /r }
    upstream: up
    request:
${request}
`;

function problems(text: string): string[] {
  try {
    compileRuleFile('rules/demo.yaml', text, { keyring, env: {} });
  } catch (err) {
    if (err instanceof RulesError) return err.message.split('\n');
    throw err;
  }
  throw new Error('expected a RulesError');
}

describe('charsets', () => {
  it('is absent by default (utf-8) and maps labels to canonical names', () => {
    const plain = compileRuleFile('rules/demo.yaml', file('      fields: [{ select: $.a, action: redact }]'), { keyring, env: {} });
    expect(plain.routes[0]!.request!.charsets).toBeUndefined();
    const text = file('      charsets: [utf8, latin1, ascii]\n      fields: [{ select: $.a, action: redact }]');
    const dir = compileRuleFile('rules/demo.yaml', text, { keyring, env: {} }).routes[0]!.request!;
    expect(dir.charsets).toEqual(['utf-8', 'iso-8859-1', 'us-ascii']);
    expect(Object.isFrozen(dir.charsets)).toBe(true);
  });

  it('refuses windows-1252 and unknown labels in the schema, listing what is accepted', () => {
    const text = file('      charsets: [windows-1252]\n      fields: [{ select: $.a, action: redact }]');
    expect(problems(text)).toEqual([
      "rules/demo.yaml:9:18: route 'r': invalid value 'windows-1252' for 'charsets[0]' (expected one of utf-8, utf8, iso-8859-1, latin1, us-ascii, ascii; " +
        'the gateway writes a rewritten body back in its charset, so only charsets Node can encode losslessly are supported: windows-1252 and others can be read but not written back (docs/codecs.md#charsets))',
    ]);
  });

  it('refuses the same charset twice under two labels', () => {
    const text = file('      charsets: [latin1, iso-8859-1]\n      fields: [{ select: $.a, action: redact }]');
    expect(problems(text)).toEqual(["rules/demo.yaml:9:26: route 'r': 'charsets' lists iso-8859-1 twice ('iso-8859-1' is iso-8859-1)"]);
  });

  it('refuses a non-utf-8 charset on form and multipart directions; utf-8 is fine there', () => {
    const form = file('      codec: form\n      charsets: [utf-8, latin1]\n      fields: [{ select: To, action: redact }]');
    expect(problems(form)).toEqual([
      "rules/demo.yaml:10:25: route 'r': charset iso-8859-1 needs codec json or text: the form codec reads its values as UTF-8 (percent-escapes are bytes below the body's charset), so only utf-8 is accepted here",
    ]);
    const multipart = file('      codec: multipart\n      charsets: [ascii]\n      fields: [{ select: To, action: redact }]');
    expect(problems(multipart)[0]).toContain('charset us-ascii needs codec json or text: the multipart codec');
    const ok = file('      codec: form\n      charsets: [utf8]\n      fields: [{ select: To, action: redact }]');
    expect(compileRuleFile('rules/demo.yaml', ok, { keyring, env: {} }).routes[0]!.request!.charsets).toEqual(['utf-8']);
  });
});
