/**
 * Micro-benchmark of resolving tokens inside message text (`action: detokenize-text`): a 10 KB HTML mail
 * (SendGrid mail-send shape: subject, text/plain and text/html content) carrying 20 tokens (first name and
 * email tokens, repeated as a template renders them), through the real engine (transformMessage) and a
 * warm cached memory vault, so the figure is the engine's own cost: finding the tokens in one pass over the
 * text, the batched vault call, escaping for HTML, rebuilding the text and splicing the JSON.
 * Run: npx tsx bench/micro/text-tokens.bench.ts (also part of `npm run bench -- --micro`).
 */
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { CODECS } from '../../src/gateway.js';
import { compileRuleFile } from '../../src/rules/load.js';
import { transformMessage } from '../../src/transform/engine.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import { createVault } from '../../src/vault/index.js';
import { runMicro } from './lib.js';

const keyring = ephemeralKeyring();
const vault = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 10_000, maxBytes: 1 << 24 } });
const rules = compileRuleFile(
  'rules/bench.yaml',
  `version: 1
upstreams: { sg: { url: "https://api.sendgrid.com" } }
routes:
  - id: send
    match: { method: POST, path: /v3/mail/send }
    upstream: sg
    auth: none
    request:
      fields:
        - { select: "$.subject", action: detokenize-text, escape: header }
        - { select: "$.content[0].value", action: detokenize-text }
        - { select: "$.content[1].value", action: detokenize-text, escape: html }
`,
  { keyring, env: {} },
);
const direction = rules.routes[0]!.request!;

const people = ['Ann <Lee & Co>', 'Bob', 'Chandra', 'Dmitri', 'Eve'];
const opaque = createTokenSpec({ type: 'opaque' }, keyring);
const email = createTokenSpec({ type: 'email' }, keyring);
const names = await vault.tokenize(people.map((value) => ({ spec: opaque, value })));
const emails = await vault.tokenize(people.map((_, i) => ({ spec: email, value: `person.${i}@example.com` })));

// 20 tokens in all: one in the subject, one in the plain text, 18 in the HTML (3 per paragraph), padded to ~10 KB.
const para = (i: number): string =>
  `<p style="margin:0 0 12px;font-family:Helvetica,Arial,sans-serif">Hi ${names[i % 5]}, your order #${1000 + i} ships today. ` +
  `We will write to <a href="mailto:${emails[i % 5]}">${emails[i % 5]}</a> when it arrives. Lorem ipsum dolor sit amet, ` +
  'consectetur adipiscing elit, sed do eiusmod tempor incididunt ut labore et dolore magna aliqua.</p>\n';
let html = '<!doctype html><html><body><table width="600"><tr><td>\n';
for (let i = 0; i < 6; i++) html += para(i);
while (html.length < 10_000) html += '<p>Ut enim ad minim veniam, quis nostrud exercitation ullamco laboris nisi ut aliquip ex ea commodo.</p>\n';
html += '</td></tr></table></body></html>';
const body = Buffer.from(
  JSON.stringify({
    personalizations: [{ to: [{ email: emails[0] }] }],
    from: { email: 'shop@example.com' },
    subject: `Your order, ${names[0]}`,
    content: [
      { type: 'text/plain', value: `Hi ${names[0]}, your order ships today.` },
      { type: 'text/html', value: html },
    ],
  }),
);

await runMicro(`tokens inside text: ${(body.length / 1024).toFixed(1)} KB SendGrid HTML mail, 20 tokens in its text, warm cache`, [
  {
    name: 'transformMessage (find, one vault call, escape, rebuild, splice)',
    fn: async () => {
      const out = await transformMessage(direction, { body, query: '', headers: {} }, { vault, keyring, codecs: CODECS, maxDepth: 64 }, {});
      if (!out.changed) throw new Error('nothing was resolved');
    },
  },
]);
await vault.close();
