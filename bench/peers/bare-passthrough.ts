/**
 * Peer (3): the least a Node reverse proxy can do. node:http server + one undici Pool, reading the whole
 * request body, forwarding it, reading the whole response and writing it back. It buffers both bodies
 * like the gateway does, and drops hop-by-hop headers, so the gap to the gateway is framework and
 * transform overhead, not a different proxying model. Comparison code, not product code.
 */
import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Pool } from 'undici';
import { reportReady } from '../lib/proc.js';

const upstream = new URL(process.env.BENCH_UPSTREAM_URL ?? 'http://127.0.0.1:1');
const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });

const HOP_BY_HOP = new Set(['connection', 'keep-alive', 'proxy-connection', 'transfer-encoding', 'te', 'trailer', 'upgrade', 'host']);

function forwardable(headers: IncomingHttpHeaders | Record<string, string | string[] | undefined>): Record<string, string | string[]> {
  const out: Record<string, string | string[]> = {};
  for (const name in headers) {
    const v = headers[name];
    if (v !== undefined && !HOP_BY_HOP.has(name)) out[name] = v;
  }
  return out;
}

const server = createServer({ keepAliveTimeout: 65_000 }, (req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', async () => {
    try {
      const headers = forwardable(req.headers);
      headers.host = upstream.host;
      const up = await pool.request({
        method: req.method as 'POST',
        path: req.url ?? '/',
        headers,
        body: chunks.length === 0 ? null : chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks),
      });
      const body = Buffer.from(await up.body.arrayBuffer());
      const out = forwardable(up.headers);
      out['content-length'] = String(body.length);
      res.writeHead(up.statusCode, out);
      res.end(body);
    } catch {
      res.writeHead(502).end();
    }
  });
});
server.listen(0, '127.0.0.1', () => {
  reportReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
