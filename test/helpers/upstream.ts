/**
 * A real local upstream (platform or provider stand-in) on 127.0.0.1:0 that records every request it gets
 * and answers with a configurable reply.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  rawHeaders: string[];
  body: Buffer;
}

export interface Reply {
  status?: number;
  headers?: Record<string, string>;
  body?: string | Buffer;
}

export interface TestUpstream {
  readonly url: string;
  readonly received: Received[];
  /** Sets what the next requests get (default 200 application/json {"ok":true}). */
  reply(r: Reply | ((req: Received) => Reply)): void;
  close(): Promise<void>;
}

export async function startUpstream(): Promise<TestUpstream> {
  const received: Received[] = [];
  let replyWith: Reply | ((req: Received) => Reply) = {};
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const rec: Received = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        rawHeaders: req.rawHeaders,
        body: Buffer.concat(chunks),
      };
      received.push(rec);
      const r = typeof replyWith === 'function' ? replyWith(rec) : replyWith;
      res.writeHead(r.status ?? 200, { 'content-type': 'application/json', ...r.headers });
      res.end(r.body ?? '{"ok":true}');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    received,
    reply(r) {
      replyWith = r;
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}
