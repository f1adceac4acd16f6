/** `codec: text` directions at load: the `$` selector, the actions refused, charsets. */
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
      codec: text
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

/** 1-based `line:column` of `needle` in `text`. */
function at(text: string, needle: string): string {
  const before = text.slice(0, text.indexOf(needle)).split('\n');
  return `${before.length}:${before[before.length - 1]!.length + 1}`;
}

describe('codec: text', () => {
  it('takes $ (the whole body), text/plain and text/html, and declared charsets', () => {
    const text = file(`      charsets: [utf-8, latin1]
      fields:
        - { select: $, action: scan, find: [email] }
        - { select: "header:X-Email", action: mask, style: email }`);
    const dir = compileRuleFile('rules/demo.yaml', text, { keyring, env: {} }).routes[0]!.request!;
    expect(dir.codec).toBe('text');
    expect(dir.contentTypes).toEqual(['text/plain', 'text/html']);
    expect(dir.charsets).toEqual(['utf-8', 'iso-8859-1']);
    expect(dir.selectors).toEqual([{ source: '$', segments: [] }]);
    expect(dir.fields[0]!.action).toMatchObject({ kind: 'scan', find: ['email'] });
    expect(dir.headers.fields.map((f) => f.selector.source)).toEqual(['header:X-Email']);
  });

  it('refuses any other selector, redact and a nested document, naming file:line', () => {
    const text = file(`      fields:
        - { select: Body, action: mask }
        - { select: $.body, action: hash }
        - { select: $, action: redact }`);
    expect(problems(text)).toEqual([
      `rules/demo.yaml:${at(text, 'Body')}: route 'r' field 'Body': a text body is one field, the whole body: select it with '$' (got 'Body'; query:NAME and header:NAME select outside the body)`,
      `rules/demo.yaml:${at(text, '$.body')}: route 'r' field '$.body': a text body is one field, the whole body: select it with '$' (got '$.body'; query:NAME and header:NAME select outside the body)`,
      `rules/demo.yaml:${at(text, 'redact')}: route 'r' field '$': redact would remove the whole text body; use mask, or scan with then: redact for PII inside the text`,
    ]);
    const nested = file(`      fields:
        - { select: $, codec: json, fields: [{ select: $.a, action: mask }] }`);
    expect(problems(nested)).toEqual([
      `rules/demo.yaml:${at(nested, 'codec: json')}: route 'r' field '$': a text body is not a container: to read the body as json or form, set the direction's codec instead of a nested document`,
    ]);
  });

  it('refuses escape: { by } (there is no sibling in a text body)', () => {
    const text = file(`      fields:
        - { select: $, action: detokenize-text, escape: { by: type, html: [text/html] } }`);
    expect(problems(text).join('\n')).toContain('escape: { by: ... } needs a json body field');
  });
});
