/**
 * `codec: text` on a real gateway: the whole text/html or text/plain body is one string field. Tokens in it
 * resolve toward a local upstream (HTML-escaped for text/html), an unknown token refuses the send (422,
 * nothing forwarded), and a declared latin1 body goes through the charset layer unchanged.
 */
import { request } from 'undici';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenType } from '../../src/tokens/types.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const NAME = 'Ann <Lee & Co>';
const EMAIL = 'ann.text-codec@canary-example.org';

const rules = (upstream: string) => `
version: 1
upstreams:
  mail: { url: "${upstream}" }
routes:
  - id: html
    match: { method: POST, path: /html }
    upstream: mail
    auth: none
    request:
      codec: text
      fields:
        - { select: $, action: detokenize-text, escape: html }
  - id: plain
    match: { method: POST, path: /plain }
    upstream: mail
    auth: none
    request:
      codec: text
      charsets: [utf-8, latin1]
      fields:
        - { select: $, action: detokenize-text }
`;

let up: TestUpstream;
let gw: TestGateway;
beforeAll(async () => {
  up = await startUpstream();
  gw = await startTestGateway({ rules: { 'mail.yaml': rules(up.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});
afterAll(async () => {
  await gw?.close();
  await up.close();
});
afterEach(() => {
  up.received.length = 0;
});

async function post(path: string, body: string | Buffer, contentType: string) {
  const res = await request(gw.url + path, { method: 'POST', body, headers: { 'content-type': contentType } });
  return { status: res.statusCode, text: await res.body.text() };
}

async function tokenOf(type: TokenType, value: string): Promise<string> {
  const [t] = await gw.gw.vault.tokenize([{ spec: createTokenSpec({ type, namespace: 'default' }, gw.gw.keyring), value }]);
  return t!;
}

describe('codec: text through the gateway', () => {
  it('a text/html body: the name token arrives HTML-escaped, the rest byte for byte', async () => {
    const name = await tokenOf('opaque', NAME);
    const res = await post('/html', `<p>Dear ${name},</p>\r\n<p>é ✓</p>`, 'text/html; charset=utf-8');
    expect(res.status).toBe(200);
    expect(up.received).toHaveLength(1);
    expect(up.received[0]!.body.toString('utf8')).toBe('<p>Dear Ann &lt;Lee &amp; Co&gt;,</p>\r\n<p>é ✓</p>');
    expect(up.received[0]!.headers['content-type']).toBe('text/html; charset=utf-8');
  });

  it('an unknown token in the body is refused with 422 and nothing is forwarded', async () => {
    const name = await tokenOf('opaque', NAME);
    const spec = createTokenSpec({ type: 'opaque', namespace: 'default' }, gw.gw.keyring);
    const ghost = spec.format.derive(spec.format.normalize('Nobody Known'), 'default', 7); // passes the keyed check, never issued
    const res = await post('/html', `<p>${name} and ${ghost}</p>`, 'text/html');
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'UNKNOWN_TOKEN', field: '$' } });
    expect(res.text).not.toContain('Ann');
    expect(up.received).toHaveLength(0);
  });

  it('a text/plain body: the email token resolves as is (no escaping)', async () => {
    const mail = await tokenOf('email', EMAIL);
    const name = await tokenOf('opaque', NAME);
    const res = await post('/plain', `We wrote to ${mail}, ${name}.\n`, 'text/plain');
    expect(res.status).toBe(200);
    expect(up.received[0]!.body.toString('utf8')).toBe(`We wrote to ${EMAIL}, ${NAME}.\n`);
  });

  it('a body without tokens is forwarded with its bytes; a body that is not UTF-8 is refused (400)', async () => {
    const body = Buffer.from('Hi there,\r\n  no tokens here \u00e9\n', 'utf8');
    expect((await post('/plain', body, 'text/plain')).status).toBe(200);
    expect(up.received[0]!.body.equals(body)).toBe(true);
    const bad = await post('/html', Buffer.from([0x3c, 0x70, 0x3e, 0xff]), 'text/html');
    expect(bad.status).toBe(400);
    expect(JSON.parse(bad.text)).toMatchObject({ error: { code: 'INVALID_UTF8' } });
    expect(up.received).toHaveLength(1);
  });

  it('a declared latin1 text/plain body is transcoded for the rule and back', async () => {
    const mail = await tokenOf('email', EMAIL);
    const res = await post('/plain', Buffer.from(`Caf\u00e9: ${mail}`, 'latin1'), 'text/plain; charset=iso-8859-1');
    expect(res.status).toBe(200);
    expect(up.received[0]!.body.equals(Buffer.from(`Caf\u00e9: ${EMAIL}`, 'latin1'))).toBe(true);
  });

  it('a resolved value latin1 cannot hold is refused with 422 naming $, never the value', async () => {
    const name = await tokenOf('opaque', 'Łukasz Canary');
    const res = await post('/plain', Buffer.from(`Caf\u00e9 ${name}`, 'latin1'), 'text/plain; charset=latin1');
    expect(res.status).toBe(422);
    expect(JSON.parse(res.text)).toMatchObject({ error: { code: 'UNREPRESENTABLE_VALUE', field: '$' } });
    expect(res.text).not.toContain('ukasz');
    expect(up.received).toHaveLength(0);
  });

  it('another media type is refused (415)', async () => {
    const res = await post('/plain', '{"a":1}', 'application/json');
    expect(res.status).toBe(415);
    expect(up.received).toHaveLength(0);
  });
});
