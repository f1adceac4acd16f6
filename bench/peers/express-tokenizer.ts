/**
 * Peer (4), A COMPARISON, NOT PRODUCT CODE: the hand-written express middleware a team might write
 * instead of the gateway. It parses the JSON body (express.json), HMAC-SHA256-tokenizes
 * d[*].profileData.Email / Phone / Name in place, re-serializes with JSON.stringify and forwards with an
 * undici Pool. It has none of the gateway's guarantees (no byte preservation, no vault, so no
 * detokenization; no format-preserving tokens; no validation; no fail-closed rules); it is here to show
 * what the simple approach costs per request.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import express, { type NextFunction, type Request, type Response } from 'express';
import { Pool } from 'undici';
import { reportReady } from '../lib/proc.js';

const upstream = new URL(process.env.BENCH_UPSTREAM_URL ?? 'http://127.0.0.1:1');
const pool = new Pool(upstream.origin, { connections: 128, pipelining: 1, keepAliveTimeout: 30_000 });
const key = randomBytes(32);
const FIELDS = ['Email', 'Phone', 'Name'] as const;

function tokenize(value: string): string {
  return 'tok_' + createHmac('sha256', key).update(value).digest('base64url').slice(0, 24);
}

function tokenizeProfiles(req: Request, _res: Response, next: NextFunction): void {
  const records = (req.body as { d?: unknown } | undefined)?.d;
  if (Array.isArray(records)) {
    for (const r of records) {
      const p = (r as { profileData?: Record<string, unknown> }).profileData;
      if (!p || typeof p !== 'object') continue;
      for (const f of FIELDS) if (typeof p[f] === 'string') p[f] = tokenize(p[f] as string);
    }
  }
  next();
}

const app = express();
app.disable('x-powered-by');
app.disable('etag');
app.post('/1/upload', express.json({ limit: '1mb' }), tokenizeProfiles, async (req, res) => {
  try {
    const body = JSON.stringify(req.body);
    const up = await pool.request({
      method: 'POST',
      path: req.originalUrl,
      headers: { host: upstream.host, 'content-type': 'application/json', 'content-length': String(Buffer.byteLength(body)) },
      body,
    });
    const answer = Buffer.from(await up.body.arrayBuffer());
    res.status(up.statusCode).type('application/json').send(answer);
  } catch {
    res.sendStatus(502);
  }
});

const server = app.listen(0, '127.0.0.1', () => {
  reportReady({ url: `http://127.0.0.1:${(server.address() as AddressInfo).port}` });
});
server.keepAliveTimeout = 65_000;
process.once('SIGTERM', () => {
  server.closeAllConnections();
  server.close(() => void pool.close().then(() => process.exit(0)));
});
