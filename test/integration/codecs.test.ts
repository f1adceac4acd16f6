/**
 * The real gateway with the form and multipart codecs and Content-Encoding: a gzip JSON request and response,
 * a Twilio-style form, a multipart upload, and hostile compressed bodies (a bomb, too many codings), each
 * followed by a request that must still succeed.
 */
import { brotliCompressSync, gunzipSync, gzipSync } from 'node:zlib';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { postRaw } from '../helpers/http.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const rules = (upstream: string) => `
version: 1
upstreams:
  up: { url: "${upstream}" }
routes:
  - id: json
    match: { method: POST, path: /json }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.email, action: tokenize, type: email }
    response:
      codec: json
      fields:
        - { select: $.email, action: detokenize, type: email, missing: skip }
  - id: sms
    match: { method: POST, path: /sms }
    upstream: up
    request:
      codec: form
      fields:
        - { select: To, action: tokenize, type: phone }
        - { select: MediaUrl, action: redact, missing: skip }
  - id: upload
    match: { method: POST, path: /upload }
    upstream: up
    request:
      codec: multipart
      fields:
        - { select: To, action: tokenize, type: phone }
`;

let upstream: TestUpstream;
let gw: TestGateway;

beforeEach(async () => {
  upstream = await startUpstream();
  gw = await startTestGateway({ rules: { 'codecs.yaml': rules(upstream.url) }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
});

afterEach(async () => {
  await gw.close();
  await upstream.close();
});

const post = (path: string, body: string | Buffer, headers: Record<string, string>) => postRaw(gw.url + path, body, headers);

/** A plain JSON request through the same route: the gateway still serves after whatever came before. */
async function expectStillServing(): Promise<void> {
  const before = upstream.received.length;
  const res = await post('/json', '{"email":"c@d.co"}', { 'content-type': 'application/json' });
  expect(res.status).toBe(200);
  expect(upstream.received.length).toBe(before + 1);
}

describe('Content-Encoding', () => {
  it('decodes a gzip JSON request, tokenizes, re-encodes gzip; decodes and detokenizes the gzip response', async () => {
    const plain = '{"id":9007199254740993, "email":"a@b.co","note":"é 👋"}';
    // The upstream echoes what it got, still gzip-encoded.
    upstream.reply((req) => ({ headers: { 'content-encoding': 'gzip' }, body: req.body }));
    const res = await post('/json', gzipSync(plain), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
      'accept-encoding': 'gzip, zstd',
    });
    expect(res.status).toBe(200);

    const got = upstream.received[0]!;
    expect(got.headers['content-encoding']).toBe('gzip');
    expect(got.headers['accept-encoding']).toBe('gzip');
    expect(Number(got.headers['content-length'])).toBe(got.body.length);
    const sent = gunzipSync(got.body).toString();
    const token = JSON.parse(sent).email as string;
    expect(token).not.toBe('a@b.co');
    expect(sent).toBe(plain.replace('"a@b.co"', JSON.stringify(token)));

    expect(res.headers['content-encoding']).toBe('gzip');
    expect(gunzipSync(res.bytes).toString()).toBe(plain);
  });

  it('returns an unchanged compressed response byte for byte', async () => {
    const wire = gzipSync('{"email":"a@b.co"}');
    upstream.reply({ headers: { 'content-encoding': 'br' }, body: brotliCompressSync('{"other":1}') });
    const res = await post('/json', wire, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(200);
    expect(brotliCompressSync('{"other":1}').equals(res.bytes)).toBe(true);
  });

  it('refuses a decompression bomb with 413 and keeps serving', async () => {
    const bomb = gzipSync(Buffer.alloc(10 * 1024 * 1024, 0x20));
    const started = performance.now();
    const res = await post('/json', bomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' });
    expect(res.status).toBe(413);
    expect(res.json().error.code).toBe('BODY_TOO_LARGE');
    expect(performance.now() - started).toBeLessThan(2000);
    expect(upstream.received).toHaveLength(0);
    await expectStillServing();
  });

  it('refuses three stacked codings with 415 and a truncated stream with 400', async () => {
    const three = await post('/json', gzipSync(gzipSync(gzipSync('{}'))), {
      'content-type': 'application/json',
      'content-encoding': 'gzip, gzip, gzip',
    });
    expect([three.status, three.json().error.code]).toEqual([415, 'UNSUPPORTED_ENCODING']);
    const cut = await post('/json', gzipSync('{"email":"a@b.co"}').subarray(0, 15), {
      'content-type': 'application/json',
      'content-encoding': 'gzip',
    });
    expect([cut.status, cut.json().error.code]).toEqual([400, 'INVALID_ENCODING']);
    expect(cut.bytes.toString()).not.toContain('a@b.co');
    expect(upstream.received).toHaveLength(0);
    await expectStillServing();
  });

  it('answers 502 when the upstream sends a response bomb', async () => {
    upstream.reply({ headers: { 'content-encoding': 'gzip' }, body: gzipSync(Buffer.alloc(20 * 1024 * 1024, 0x20)) });
    const res = await post('/json', '{"email":"a@b.co"}', { 'content-type': 'application/json' });
    expect([res.status, res.json().error.code]).toEqual([502, 'UPSTREAM_RESPONSE_INVALID']);
    upstream.reply({});
    await expectStillServing();
  });
});

describe('form codec', () => {
  it('tokenizes To, removes every MediaUrl, and leaves every other pair byte-identical', async () => {
    const body = 'From=%2B15005550006&To=%2B14155551234&MediaUrl=https%3A%2F%2Fx.test%2Fa&Body=Hi+there%20%F0%9F%91%8B&MediaUrl=b';
    const res = await post('/sms', body, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(res.status).toBe(200);
    const sent = upstream.received[0]!.body.toString('latin1');
    const to = new URLSearchParams(sent).get('To')!;
    expect(to).not.toBe('+14155551234');
    expect(to.length).toBeGreaterThan(5);
    expect(sent).toBe(`From=%2B15005550006&To=${new URLSearchParams({ To: to }).toString().slice(3)}&Body=Hi+there%20%F0%9F%91%8B`);
  });

  it('refuses a malformed escape with 400 INVALID_FORM, no value echoed', async () => {
    const res = await post('/sms', 'To=%2B1415555%ZZ1234', { 'content-type': 'application/x-www-form-urlencoded' });
    expect([res.status, res.json().error.code]).toEqual([400, 'INVALID_FORM']);
    expect(res.bytes.toString()).not.toContain('1415555');
    expect(upstream.received).toHaveLength(0);
  });

  it('reads a gzip-encoded form', async () => {
    const res = await post('/sms', gzipSync('To=%2B14155551234'), {
      'content-type': 'application/x-www-form-urlencoded',
      'content-encoding': 'gzip',
    });
    expect(res.status).toBe(200);
    expect(gunzipSync(upstream.received[0]!.body).toString()).not.toContain('14155551234');
  });
});

describe('multipart codec', () => {
  const B = 'XyZ0123456789';
  const png = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff]);
  const multipart = (to: string) =>
    Buffer.concat([
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="To"\r\n\r\n${to}\r\n`),
      Buffer.from(`--${B}\r\nContent-Disposition: form-data; name="file"; filename="a.png"\r\nContent-Type: image/png\r\n\r\n`),
      png,
      Buffer.from(`\r\n--${B}--\r\n`),
    ]);

  it('tokenizes a text part and passes the file part through untouched', async () => {
    const res = await post('/upload', multipart('+14155551234'), { 'content-type': `multipart/form-data; boundary=${B}` });
    expect(res.status).toBe(200);
    const sent = upstream.received[0]!.body;
    const head = `--${B}\r\nContent-Disposition: form-data; name="To"\r\n\r\n`;
    expect(sent.subarray(0, head.length).toString()).toBe(head);
    const token = sent.subarray(head.length, sent.indexOf('\r\n', head.length)).toString();
    expect(token).not.toBe('+14155551234');
    expect(sent.equals(multipart(token))).toBe(true);
  });

  it('refuses a truncated body and a missing boundary with 400 INVALID_MULTIPART', async () => {
    const cut = multipart('+14155551234').subarray(0, 60);
    const a = await post('/upload', cut, { 'content-type': `multipart/form-data; boundary=${B}` });
    const b = await post('/upload', multipart('+14155551234'), { 'content-type': 'multipart/form-data' });
    for (const r of [a, b]) {
      expect([r.status, r.json().error.code]).toEqual([400, 'INVALID_MULTIPART']);
      expect(r.bytes.toString()).not.toContain('14155551234');
    }
    expect(upstream.received).toHaveLength(0);
  });
});
