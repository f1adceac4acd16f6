/**
 * The real gateway with declared body charsets (`charsets:`, codecs/charset.ts): a latin1 JSON request is
 * tokenized and forwarded in latin1 with every other byte as it came, the latin1 response is detokenized
 * back; an undeclared charset is 415 with a message saying how to declare it; a detokenized value latin1
 * cannot hold is 422, naming the path and never the value.
 */
import { gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: legacy
    match: { method: POST, path: /legacy }
    upstream: up
    auth: none
    request:
      charsets: [utf-8, latin1, ascii]
      fields:
        - { select: $.name, action: tokenize, type: opaque }
    response:
      charsets: [latin1]
      fields:
        - { select: $.name, action: detokenize, type: opaque, missing: skip }
  - id: plain
    match: { method: POST, path: /plain }
    upstream: up
    request:
      fields:
        - { select: $.name, action: tokenize, type: opaque }
`;

const LATIN1_JSON = 'application/json; charset=ISO-8859-1';
const latin1 = (s: string) => Buffer.from(s, 'latin1');

let upstream: TestUpstream;
let gw: TestGateway;

beforeEach(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ rules: { 'charsets.yaml': rules(upstream.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

const post = (path: string, body: string | Buffer, headers: Record<string, string>) => postRaw(gw.url + path, body, headers);

describe('declared charsets', () => {
  it('tokenizes José in a latin1 request, forwards latin1 bytes, and detokenizes the latin1 echo', async () => {
    const text = '{"id":1, "name":"José","note":"Ça va, señor\xa0ñ"}';
    upstream.reply((req) => ({ headers: { 'content-type': LATIN1_JSON }, body: req.body }));
    const res = await post('/legacy', latin1(text), { 'content-type': LATIN1_JSON });
    expect(res.status).toBe(200);

    const got = upstream.received[0]!;
    expect(got.headers['content-type']).toBe(LATIN1_JSON);
    const token = JSON.parse(got.body.toString('latin1')).name as string;
    expect(token).toMatch(/^tok_[A-Za-z0-9_-]+$/);
    // Every byte but the value is as sent, still latin1 (é is 0xE9, never UTF-8's C3 A9).
    expect(got.body.equals(latin1(text.replace('José', token)))).toBe(true);
    expect(got.body.includes(Buffer.from([0xc3]))).toBe(false);
    expect(Number(got.headers['content-length'])).toBe(got.body.length);

    expect(res.bytes.equals(latin1(text))).toBe(true);
  });

  it('decodes gzip before transcoding and re-encodes after: the upstream gets gzip of latin1', async () => {
    const text = '{"name":"José","x":"ÿ"}';
    upstream.reply({ headers: { 'content-type': LATIN1_JSON }, body: latin1('{"ok":"sí"}') });
    const res = await post('/legacy', gzipSync(latin1(text)), { 'content-type': LATIN1_JSON, 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    const sent = gunzipSync(upstream.received[0]!.body);
    const token = JSON.parse(sent.toString('latin1')).name as string;
    expect(token).toMatch(/^tok_/);
    expect(sent.equals(latin1(text.replace('José', token)))).toBe(true);
  });

  it('returns an unchanged latin1 response byte for byte', async () => {
    const reply = latin1('{"note":"ñ\xe9\x80"}'); // \x80: a C1 control in ISO-8859-1, kept as is
    upstream.reply({ headers: { 'content-type': LATIN1_JSON }, body: reply });
    const res = await post('/legacy', '{"name":"a"}', { 'content-type': 'application/json' });
    expect(res.status).toBe(200);
    expect(res.bytes.equals(reply)).toBe(true);
  });

  it('refuses an undeclared charset with 415 saying how to declare it, and an unknown one without echoing it', async () => {
    const undeclared = await post('/plain', latin1('{"name":"José"}'), { 'content-type': LATIN1_JSON });
    expect([undeclared.status, undeclared.json().error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(undeclared.json().error.message).toBe(
      "the body's charset iso-8859-1 is not declared for this route's request (it accepts utf-8); declare it in the rule: request: { charsets: [utf-8, iso-8859-1] }",
    );
    const unknown = await post('/legacy', '{"name":"x"}', { 'content-type': 'application/json; charset=windows-1252' });
    expect([unknown.status, unknown.json().error.code]).toEqual([415, 'UNSUPPORTED_MEDIA_TYPE']);
    expect(unknown.json().error.message).toBe(
      "the body's charset is not supported: this route's request accepts utf-8, iso-8859-1, us-ascii; a rule can declare iso-8859-1 or us-ascii with 'charsets:' (codec json or text)",
    );
    expect(upstream.received).toHaveLength(0);
  });

  it('answers 502 when the upstream responds in a charset the response does not declare (unlabelled is utf-8)', async () => {
    // The response declares [latin1] only; the default reply is application/json without a charset.
    const res = await post('/legacy', '{"name":"a"}', { 'content-type': 'application/json' });
    expect([res.status, res.json().error.code]).toEqual([502, 'UPSTREAM_RESPONSE_INVALID']);
    expect(upstream.received).toHaveLength(1);
  });

  it('refuses a us-ascii body with an 8-bit byte (400 INVALID_CHARSET)', async () => {
    const res = await post('/legacy', latin1('{"name":"José"}'), { 'content-type': 'application/json; charset=us-ascii' });
    expect([res.status, res.json().error.code]).toEqual([400, 'INVALID_CHARSET']);
    expect(res.bytes.toString('latin1')).not.toContain('Jos');
    expect(upstream.received).toHaveLength(0);
  });

  it('refuses a detokenized value latin1 cannot hold with 422 naming the path, never the value', async () => {
    // Tokenized from UTF-8 (declared too), then the upstream echoes the token in a latin1 response.
    upstream.reply((req) => ({ headers: { 'content-type': LATIN1_JSON }, body: req.body }));
    const res = await post('/legacy', '{"name":"Łukasz"}', { 'content-type': 'application/json; charset=utf-8' });
    expect(upstream.received).toHaveLength(1);
    expect(upstream.received[0]!.body.toString()).not.toContain('ukasz');
    expect(res.status).toBe(422);
    expect(res.json().error).toMatchObject({ code: 'UNREPRESENTABLE_VALUE', field: '$.name' });
    expect(res.json().error.message).toBe("the new value of '$.name' has a character that iso-8859-1 cannot represent (the body's charset); the message was not sent");
    expect(res.bytes.toString()).not.toContain('ukasz');
    expect(gw.logs.lines.join('\n')).not.toContain('ukasz');
  });
});
