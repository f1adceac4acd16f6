/**
 * A misbehaving remote vault on a real socket (node:http or node:https on 127.0.0.1:0): by default a
 * correct pii-gateway vault API plus CleverTap's two batch endpoints and an OAuth2 token endpoint at
 * /token, and for each request a test-chosen misbehaviour instead (slow, reset, 5xx, 429, garbage...).
 *
 * Something outside the product (a customer's vault) is stood in for by a real local server, as the
 * team guide asks: the client under test talks real HTTP to it.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';

export interface FakeRequest {
  readonly n: number;
  readonly path: string;
  readonly headers: IncomingMessage['headers'];
  readonly raw: string;
  /** Parsed JSON body (undefined when not JSON). */
  readonly body: any;
  readonly at: number;
}

/** Handles a request itself (return true), or leaves it to the default behaviour (return false/undefined). */
export type Behaviour = (req: FakeRequest, res: ServerResponse) => boolean | void | Promise<boolean | void>;

export interface FakeVault {
  readonly url: string;
  /** Every vault API request (not /token), in arrival order. */
  readonly requests: FakeRequest[];
  readonly tokenRequests: FakeRequest[];
  /** Most requests in flight at once (vault API only). */
  readonly maxInFlight: () => number;
  /** Bearer tokens the vault accepts when `requireAuth` is on; /token adds each token it issues. */
  readonly validTokens: Set<string>;
  requireAuth: boolean;
  /** Each response of the default vault API waits this long first (to make concurrency visible). */
  delayMs: number;
  behave(b: Behaviour | undefined): void;
  behaveToken(b: Behaviour | undefined): void;
  close(): Promise<void>;
}

/** The deterministic fake token of a value (never equal to it). */
export function fakeToken(namespace: string, type: string, value: string): string {
  const h = createHash('sha256').update(`${namespace}\0${type}\0${value}`).digest('hex').slice(0, 22);
  return type === 'email' ? `f${h}@fake.tok.invalid` : `tok_${h}`;
}

export function json(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): true {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(typeof body === 'string' ? body : JSON.stringify(body));
  return true;
}

export async function startFakeVault(options: { tls?: { cert: string; key: string; ca?: string; requestCert?: boolean } } = {}): Promise<FakeVault> {
  const requests: FakeRequest[] = [];
  const tokenRequests: FakeRequest[] = [];
  const store = new Map<string, { value: string; type: string }>();
  const validTokens = new Set<string>();
  let behaviour: Behaviour | undefined;
  let tokenBehaviour: Behaviour | undefined;
  let inFlight = 0;
  let maxInFlight = 0;
  let issued = 0;
  const sockets = new Set<Socket>();

  const fake: FakeVault = {
    url: '',
    requests,
    tokenRequests,
    maxInFlight: () => maxInFlight,
    validTokens,
    requireAuth: false,
    delayMs: 0,
    behave: (b) => void (behaviour = b),
    behaveToken: (b) => void (tokenBehaviour = b),
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };

  const defaultVault = async (req: FakeRequest, res: ServerResponse): Promise<void> => {
    if (fake.requireAuth) {
      const auth = req.headers.authorization ?? '';
      if (!auth.startsWith('Bearer ') || !validTokens.has(auth.slice(7))) {
        json(res, 401, { error: { code: 'AUTH_INVALID', message: 'bad token' } });
        return;
      }
    }
    if (fake.delayMs > 0) await new Promise((r) => setTimeout(r, fake.delayMs));
    const b = req.body ?? {};
    if (req.path === '/v1/tokenize') {
      const ns = b.namespace ?? 'default';
      json(res, 200, {
        results: (b.items as any[]).map((it) => {
          const namespace = it.namespace ?? ns;
          const token = it.random ? `tok_r${issued++}x${Math.random().toString(36).slice(2)}` : fakeToken(namespace, it.type, it.value);
          store.set(`${namespace}\0${token}`, { value: it.value, type: it.type });
          return { token };
        }),
      });
    } else if (req.path === '/v1/detokenize') {
      const ns = b.namespace ?? 'default';
      json(res, 200, {
        results: (b.items as any[]).map((it) => {
          const hit = store.get(`${it.namespace ?? ns}\0${it.token}`);
          return hit ? { found: true, value: hit.value, type: hit.type } : { found: false };
        }),
      });
    } else if (req.path === '/ct-vault/api/tokenization/tokens/batch') {
      json(res, 200, {
        results: (b.values as string[]).map((v) => {
          const token = `TKN_${createHash('sha256').update(v).digest('hex').slice(0, 22)}`;
          store.set(`ct\0${token}`, { value: v, type: 'opaque' });
          return { originalValue: v, token, exists: true, newlyCreated: false, dataType: 'string' };
        }),
      });
    } else if (req.path === '/ct-vault/api/tokenization/tokens/values/batch') {
      json(res, 200, {
        results: (b.tokens as string[]).map((t) => {
          const hit = store.get(`ct\0${t}`);
          return hit ? { token: t, value: hit.value, exists: true, dataType: 'string' } : { token: t, value: null, exists: false, dataType: null };
        }),
      });
    } else {
      json(res, 404, { error: { code: 'ROUTE_NOT_FOUND', message: 'no such endpoint' } });
    }
  };

  const defaultToken = (_req: FakeRequest, res: ServerResponse): void => {
    const token = `AT${++issued}.${Math.random().toString(36).slice(2)}`;
    validTokens.add(token);
    json(res, 200, { access_token: token, token_type: 'Bearer', expires_in: 3600 });
  };

  const handler = (incoming: IncomingMessage, res: ServerResponse): void => {
    const chunks: Buffer[] = [];
    incoming.on('data', (c: Buffer) => chunks.push(c));
    incoming.on('end', () => {
      const raw = Buffer.concat(chunks).toString('utf8');
      let body: unknown;
      try {
        body = JSON.parse(raw);
      } catch {
        body = undefined;
      }
      const path = (incoming.url ?? '').split('?')[0]!;
      const isToken = path.endsWith('/token');
      const list = isToken ? tokenRequests : requests;
      const req: FakeRequest = { n: list.length, path, headers: incoming.headers, raw, body, at: Date.now() };
      list.push(req);
      if (!isToken) {
        inFlight++;
        maxInFlight = Math.max(maxInFlight, inFlight);
        res.on('close', () => inFlight--);
      }
      void (async () => {
        const b = isToken ? tokenBehaviour : behaviour;
        if (b && (await b(req, res))) return;
        if (isToken) defaultToken(req, res);
        else await defaultVault(req, res);
      })();
    });
  };

  let server: Server;
  if (options.tls) {
    const t = options.tls;
    server = createHttpsServer(
      {
        cert: readFileSync(t.cert),
        key: readFileSync(t.key),
        ...(t.ca ? { ca: readFileSync(t.ca) } : {}),
        ...(t.requestCert ? { requestCert: true, rejectUnauthorized: true } : {}),
      },
      handler,
    );
  } else {
    server = createServer(handler);
  }
  server.on('connection', (s: Socket) => {
    sockets.add(s);
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  (fake as { url: string }).url = `${options.tls ? 'https' : 'http'}://127.0.0.1:${port}`;
  return fake;
}
