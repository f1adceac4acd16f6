/**
 * The rule-test stand-in for every upstream: a plain node:http server on 127.0.0.1:0 that records each
 * request it receives and answers with the current test's `respond`. Deliberately not the gateway's own
 * code, so a test sees exactly the bytes and headers the gateway put on the wire.
 */
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Received {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: string;
}

export interface Answer {
  status: number;
  headers: Record<string, string>;
  body: string;
}

/** The local stand-in for every upstream: records requests, answers with the current test's `respond`. */
export class StandIn {
  readonly received: Received[] = [];
  answer: Answer = { status: 200, headers: { 'content-type': 'application/json' }, body: '{}' };

  private constructor(
    private readonly server: Server,
    readonly url: string,
  ) {}

  static async start(): Promise<StandIn> {
    let self: StandIn | undefined;
    const server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', () => {
        const s = self!;
        s.received.push({ method: req.method ?? '', path: req.url ?? '', headers: req.headers, body: Buffer.concat(chunks).toString('utf8') });
        res.writeHead(s.answer.status, s.answer.headers);
        res.end(s.answer.body);
      });
    });
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(0, '127.0.0.1', () => resolve());
    });
    const { port } = server.address() as AddressInfo;
    self = new StandIn(server, `http://127.0.0.1:${port}`);
    return self;
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }
}
