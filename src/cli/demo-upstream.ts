/**
 * `pii-gateway demo-upstream`: a stand-in for the platform and the providers in the README walkthrough.
 *
 * It prints every request it receives (method, path, body), so you can see what a platform or a provider
 * would store, and answers like the real peer would for the shipped routes: CleverTap's upload reply,
 * Twilio's 201 message echoing `To` (so the response rule can tokenize it), and `{"ok":true}` otherwise.
 * It is a demo tool: it prints what it receives, which on the dispatch side is real PII by design.
 */
import { createServer, type IncomingMessage } from 'node:http';
import { parseArgs } from 'node:util';

const HELP = `Usage: pii-gateway demo-upstream [--port 8089] [--host 127.0.0.1]

Prints what it receives, then answers like the platform or provider would. Point the shipped rule
packs at it with CLEVERTAP_URL, TWILIO_URL and WEBENGAGE_DISPATCH_URL (see README walkthrough).`;

async function readAll(req: IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  for await (const c of req) chunks.push(c as Buffer);
  return Buffer.concat(chunks);
}

export function demoReply(method: string, url: string, body: Buffer): { status: number; json: unknown } {
  const path = url.split('?')[0] ?? '/';
  if (method === 'POST' && path === '/1/upload') {
    let processed = 0;
    try {
      processed = (JSON.parse(body.toString('utf8')) as { d?: unknown[] }).d?.length ?? 0;
    } catch {
      /* a demo: count stays 0 */
    }
    return { status: 200, json: { status: 'success', processed, unprocessed: [] } };
  }
  const twilio = /^\/2010-04-01\/Accounts\/([^/]+)\/Messages\.json$/.exec(path);
  if (method === 'POST' && twilio) {
    const text = body.toString('utf8');
    const form = new URLSearchParams(text.startsWith('{') ? '' : text);
    const json = text.startsWith('{') ? (JSON.parse(text) as Record<string, string>) : undefined;
    return {
      status: 201,
      json: {
        sid: 'SM3044f2ab1e5a4b1f8c9f0f1e2d3c4b5a',
        account_sid: twilio[1],
        to: json?.To ?? form.get('To'),
        from: json?.From ?? form.get('From'),
        body: json?.Body ?? form.get('Body'),
        status: 'queued',
      },
    };
  }
  return { status: 200, json: { ok: true } };
}

export async function demoUpstreamCommand(argv: string[]): Promise<number> {
  const { values } = parseArgs({
    args: argv,
    options: { port: { type: 'string', default: '8089' }, host: { type: 'string', default: '127.0.0.1' }, help: { type: 'boolean', short: 'h' } },
  });
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  const server = createServer((req, res) => {
    void readAll(req).then((body) => {
      console.log(`\n<- ${req.method} ${req.url}`);
      if (body.length > 0) console.log(body.toString('utf8'));
      const reply = demoReply(req.method ?? 'GET', req.url ?? '/', body);
      const out = JSON.stringify(reply.json);
      console.log(`-> ${reply.status} ${out}`);
      res.writeHead(reply.status, { 'content-type': 'application/json' }).end(out);
    });
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(Number(values.port), values.host, resolve);
  });
  console.log(`demo upstream listening on http://${values.host}:${values.port} (Ctrl-C to stop)`);
  await new Promise<void>((resolve) => {
    const stop = (): void => void server.close(() => resolve());
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
  });
  return 0;
}
