/**
 * What the proxy writes back, byte for byte in its head: status line, header lines (compared as a sorted
 * set, Date excepted), body, for HEAD, 204, 304, 5xx, repeated and list-valued headers, a missing
 * Content-Type and an upstream X-Request-Id. Pins the semantics of the direct response write
 * (server/proxy-app.ts reply()) to what hono's c.body() + @hono/node-server produced before it.
 */
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let upstream: Server;
let gw: TestGateway;

/** Raw upstream answers per path (writeHead with arrays = repeated header lines). */
beforeAll(async () => {
  upstream = createServer((req, res) => {
    req.resume();
    req.on('end', () => {
      switch (req.url) {
        case '/cookies':
          res.writeHead(201, [
            ['set-cookie', 'a=1; Path=/'],
            ['set-cookie', 'b=2'],
            ['vary', 'accept'],
            ['vary', 'origin'],
            ['x-request-id', 'from-upstream'],
            ['x-pad', '  spaced  '],
          ].flat());
          res.end('hello');
          return;
        case '/no-type':
          res.writeHead(200);
          res.end('plain');
          return;
        case '/empty':
          res.writeHead(204, { 'x-e': '1' });
          res.end();
          return;
        case '/not-modified':
          res.writeHead(304, { etag: '"v1"' });
          res.end();
          return;
        case '/fail':
          res.writeHead(503, { 'content-type': 'application/json', 'retry-after': '5' });
          res.end('{"busy":true}');
          return;
        default:
          res.writeHead(200, { 'content-type': 'application/json', 'content-length': '11' });
          res.end(req.method === 'HEAD' ? undefined : '{"ok":true}');
      }
    });
  });
  await new Promise<void>((resolve) => upstream.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(upstream.address() as AddressInfo).port}`;
  gw = await startTestGateway({
    rules: { 'r.yaml': `version: 1\nupstreams:\n  up: { url: "${url}" }\nroutes:\n  - id: get\n    match: { method: GET, path: "/:p" }\n    upstream: up\n  - id: post\n    match: { method: POST, path: "/:p" }\n    upstream: up\n` },
  });
});
afterAll(async () => {
  await gw?.close();
  await new Promise<void>((resolve) => {
    upstream?.closeAllConnections();
    upstream?.close(() => resolve());
  });
});

/** One request on a fresh connection (Connection: close); the raw answer split into status, header lines, body. */
async function raw(method: string, path: string, requestId = 'rid-1'): Promise<{ status: string; headers: string[]; body: string }> {
  const { port } = new URL(gw.url);
  const text = await new Promise<string>((resolve, reject) => {
    const socket = connect(Number(port), '127.0.0.1');
    const chunks: Buffer[] = [];
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('end', () => resolve(Buffer.concat(chunks).toString('latin1')));
    socket.on('error', reject);
    socket.write(`${method} ${path} HTTP/1.1\r\nHost: localhost\r\nX-Request-Id: ${requestId}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`);
  });
  const end = text.indexOf('\r\n\r\n');
  const [status, ...lines] = text.slice(0, end).split('\r\n');
  return { status: status!, headers: lines.filter((l) => !/^date:/i.test(l)).sort(), body: text.slice(end + 4) };
}

describe('proxied response head and body', () => {
  it('keeps repeated set-cookie lines, joins other lists, trims values, lets the upstream request id win', async () => {
    expect(await raw('GET', '/cookies')).toEqual({
      status: 'HTTP/1.1 201 Created',
      headers: ['Connection: close', 'Content-Length: 5', 'set-cookie: a=1; Path=/', 'set-cookie: b=2', 'content-type: text/plain; charset=UTF-8', 'vary: accept, origin', 'x-pad: spaced', 'x-request-id: from-upstream'].sort(),
      body: 'hello',
    });
  });

  it('adds the text/plain content type node-server adds when the upstream sent none, and our request id', async () => {
    expect(await raw('GET', '/no-type')).toEqual({
      status: 'HTTP/1.1 200 OK',
      headers: ['Connection: close', 'Content-Length: 5', 'content-type: text/plain; charset=UTF-8', 'x-request-id: rid-1'].sort(),
      body: 'plain',
    });
  });

  it('answers HEAD (on a GET route) without a body or a Content-Length', async () => {
    expect(await raw('HEAD', '/json')).toEqual({
      status: 'HTTP/1.1 200 OK',
      headers: ['Connection: close', 'content-type: application/json', 'x-request-id: rid-1'].sort(),
      body: '',
    });
  });

  it('keeps 204 and 304 bodiless', async () => {
    expect(await raw('GET', '/empty')).toEqual({
      status: 'HTTP/1.1 204 No Content',
      headers: ['Connection: close', 'Content-Length: 0', 'content-type: text/plain; charset=UTF-8', 'x-e: 1', 'x-request-id: rid-1'].sort(),
      body: '',
    });
    expect(await raw('GET', '/not-modified')).toEqual({
      status: 'HTTP/1.1 304 Not Modified',
      headers: ['Connection: close', 'Content-Length: 0', 'content-type: text/plain; charset=UTF-8', 'etag: "v1"', 'x-request-id: rid-1'].sort(),
      body: '',
    });
  });

  it('keeps a well-formed client request id and replaces any other with a UUID', async () => {
    const uuid = /^x-request-id: [0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;
    const idOf = (r: { headers: string[] }) => r.headers.find((h) => h.startsWith('x-request-id: '));
    expect(idOf(await raw('GET', '/no-type', 'a-Z_0=9'))).toBe('x-request-id: a-Z_0=9');
    expect(idOf(await raw('GET', '/no-type', 'x'.repeat(255)))).toBe(`x-request-id: ${'x'.repeat(255)}`);
    for (const bad of ['has space', 'semi;colon', 'x'.repeat(256), 'one\r\nX-Request-Id: two']) {
      expect(idOf(await raw('GET', '/no-type', bad))).toMatch(uuid);
    }
  });

  it('passes an upstream 5xx through and counts it as 5xx in /metrics', async () => {
    expect(await raw('POST', '/fail')).toEqual({
      status: 'HTTP/1.1 503 Service Unavailable',
      headers: ['Connection: close', 'Content-Length: 13', 'content-type: application/json', 'retry-after: 5', 'x-request-id: rid-1'].sort(),
      body: '{"busy":true}',
    });
    const metrics = await (await request(gw.adminUrl + '/metrics')).body.text();
    expect(metrics).toMatch(/pii_gateway_requests_total\{listener="proxy",route="r\/post",status_class="5xx"\} 1\b/);
  });
});
