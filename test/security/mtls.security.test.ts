/**
 * mTLS end to end, with real TLS handshakes: client certificates on the proxy and vault API listeners
 * (required / optional, wrong CA, expired, per-route allowlists), mTLS towards an upstream that requires
 * a client certificate, and certificate reload without a restart while a request is in flight.
 *
 * Certificates are generated in beforeAll with the same code as `pii-gateway certs init` (openssl CLI).
 */
import { X509Certificate } from 'node:crypto';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, renameSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { request as httpsRequest, createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { connect as tlsConnect, type ConnectionOptions, type TLSSocket } from 'node:tls';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { certsInit, createCa, issueCert, type CertFiles } from '../../src/cli/certs.js';
import { startTestGateway, type TestGateway } from '../helpers/gateway.js';

let dir: string;
let ca: CertFiles;
let dispatcher: CertFiles;
let worker: CertFiles;
let rogue: CertFiles;
let expired: CertFiles;
let server2: CertFiles;
let gwClient2: CertFiles;
/** Files the gateway reads, so tests can replace them. */
let listenerDir: string;
let upClientDir: string;

interface Upstream {
  server: HttpsServer;
  url: string;
  hits: { path: string; clientCn: string | undefined }[];
  /** Resolves the next /slow request's wait. */
  slow: { arrived: Promise<void>; release: () => void };
}
let upstream: Upstream;

function newSlow(): Upstream['slow'] {
  let arrivedResolve!: () => void;
  let release!: () => void;
  const arrived = new Promise<void>((r) => (arrivedResolve = r));
  const released = new Promise<void>((r) => (release = r));
  const slow = { arrived, release, released, arrivedResolve };
  return slow as unknown as Upstream['slow'];
}

async function startHttpsUpstream(): Promise<Upstream> {
  const hits: Upstream['hits'] = [];
  const up = { hits, slow: newSlow() } as Upstream;
  const server = createHttpsServer(
    {
      cert: readFileSync(path.join(dir, 'upstream.crt')),
      key: readFileSync(path.join(dir, 'upstream.key')),
      ca: readFileSync(ca.cert),
      requestCert: true,
      rejectUnauthorized: true,
      minVersion: 'TLSv1.2',
    },
    (req, res) => {
      const socket = req.socket as TLSSocket;
      const clientCn = socket.getPeerCertificate().subject?.CN as string | undefined;
      hits.push({ path: req.url ?? '', clientCn });
      req.resume();
      req.on('end', async () => {
        if (req.url === '/slow') {
          const slow = up.slow as unknown as { arrivedResolve: () => void; released: Promise<void> };
          slow.arrivedResolve();
          await slow.released;
        }
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify({ path: req.url, clientCn }));
      });
    },
  );
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  up.server = server;
  up.url = `https://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return up;
}

interface CallResult {
  status: number;
  json: Record<string, any>;
}

/** One request on a fresh TLS connection, presenting `client` (or no certificate). */
function call(base: string, urlPath: string, client: CertFiles | null, body = '{}'): Promise<CallResult> {
  return new Promise((resolve, reject) => {
    const req = httpsRequest(
      base + urlPath,
      {
        method: 'POST',
        agent: false,
        ca: readFileSync(ca.cert),
        ...(client ? { cert: readFileSync(client.cert), key: readFileSync(client.key) } : {}),
        headers: { 'content-type': 'application/json' },
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          resolve({ status: res.statusCode ?? 0, json: text ? (JSON.parse(text) as Record<string, any>) : {} });
        });
        res.on('error', reject);
      },
    );
    req.on('error', reject);
    req.end(body);
  });
}

/** Options for a raw TLS connection to the listener at `base` as the dispatcher (trusting our CA, SNI localhost). */
function dispatcherTls(base: string, extra: ConnectionOptions = {}): ConnectionOptions {
  const u = new URL(base);
  return {
    host: u.hostname,
    port: Number(u.port),
    ca: readFileSync(ca.cert),
    cert: readFileSync(dispatcher.cert),
    key: readFileSync(dispatcher.key),
    servername: 'localhost',
    ...extra,
  };
}

/** The CN of the certificate the listener presents on a new handshake. */
function serverCn(base: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = tlsConnect(dispatcherTls(base), () => {
      const cn = socket.getPeerCertificate().subject.CN as string;
      socket.end();
      resolve(cn);
    });
    socket.on('error', reject);
  });
}

function fingerprintOf(files: CertFiles): string {
  return `sha256:${new X509Certificate(readFileSync(files.cert)).fingerprint256}`;
}

const rules = (clients: string) => `
version: 1
upstreams:
  up:
    url: "${upstream.url}"
    tls: { cert: "${upClientDir}/client.crt", key: "${upClientDir}/client.key", ca: "${ca.cert}" }
  up-nocert:
    url: "${upstream.url}"
    tls: { ca: "${ca.cert}" }
routes:
  - id: dispatch
    match: { method: POST, path: /dispatch }
    upstream: up
    clients: ${clients}
  - id: worker-only
    match: { method: POST, path: /worker }
    upstream: up
    clients: [ { san: "spiffe://acme.test/worker" } ]
  - id: open
    match: { method: POST, path: /open }
    upstream: up
  - id: slow
    match: { method: POST, path: /slow }
    upstream: up
  - id: nocert
    match: { method: POST, path: /nocert }
    upstream: up-nocert
`;

const tlsSettings = (extra: Record<string, string> = {}) => ({
  PII_GATEWAY_TLS_CERT: path.join(listenerDir, 'tls.crt'),
  PII_GATEWAY_TLS_KEY: path.join(listenerDir, 'tls.key'),
  PII_GATEWAY_TLS_CLIENT_CA: ca.cert,
  ...extra,
});

function copyPair(from: CertFiles, toDir: string, base: string): void {
  // write-then-rename, as a deployment tool would, so a reader never sees half a file
  for (const [src, ext] of [[from.cert, 'crt'], [from.key, 'key']] as const) {
    const tmp = path.join(toDir, `.${base}.${ext}.tmp`);
    copyFileSync(src, tmp);
    renameSync(tmp, path.join(toDir, `${base}.${ext}`));
  }
}

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'pii-gw-mtls-'));
  const init = certsInit(path.join(dir, 'pki'));
  ca = init.ca;
  dispatcher = init.client;
  const pki = path.join(dir, 'pki');
  worker = issueCert(pki, 'worker', ca, { cn: 'worker', usage: 'client', uris: ['spiffe://acme.test/worker'] });
  const otherCa = createCa(pki, 'other-ca', 'other CA');
  rogue = issueCert(pki, 'rogue', otherCa, { cn: 'dispatcher', usage: 'client' });
  expired = issueCert(pki, 'expired', ca, {
    cn: 'dispatcher',
    usage: 'client',
    validity: { notBefore: new Date('2020-01-01T00:00:00Z'), notAfter: new Date('2020-01-02T00:00:00Z') },
  });
  server2 = issueCert(pki, 'server2', ca, { cn: 'localhost-2', usage: 'server', dns: ['localhost'], ips: ['127.0.0.1'] });
  const gwClient = issueCert(pki, 'gw-client', ca, { cn: 'pii-gateway', usage: 'client' });
  gwClient2 = issueCert(pki, 'gw-client2', ca, { cn: 'pii-gateway-2', usage: 'client' });
  const up = issueCert(pki, 'upstream', ca, { cn: 'upstream', usage: 'server', dns: ['localhost'], ips: ['127.0.0.1'] });
  copyFileSync(up.cert, path.join(dir, 'upstream.crt'));
  copyFileSync(up.key, path.join(dir, 'upstream.key'));

  listenerDir = path.join(dir, 'listener');
  upClientDir = path.join(dir, 'upstream-client');
  mkdirSync(listenerDir);
  mkdirSync(upClientDir);
  copyPair(init.server, listenerDir, 'tls');
  copyPair(gwClient, upClientDir, 'client');
  upstream = await startHttpsUpstream();
}, 60_000);

afterAll(async () => {
  upstream?.server.closeAllConnections();
  await new Promise((r) => upstream?.server.close(r));
  rmSync(dir, { recursive: true, force: true });
});

describe('certs init', () => {
  it('writes keys mode 0600 and refuses to overwrite', () => {
    expect(statSync(dispatcher.key).mode & 0o777).toBe(0o600);
    expect(statSync(ca.key).mode & 0o777).toBe(0o600);
    expect(() => certsInit(path.join(dir, 'pki'))).toThrow(/refusing to overwrite/);
    const cert = new X509Certificate(readFileSync(dispatcher.cert));
    expect(cert.subject).toBe('CN=dispatcher');
    expect(cert.verify(new X509Certificate(readFileSync(ca.cert)).publicKey)).toBe(true);
  });
});

describe('proxy listener, client certificates required', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ rules: { 'mtls.yaml': rules('[ { cn: dispatcher } ]') }, settings: tlsSettings() });
  });
  afterAll(() => gw?.close());

  it('the allowed client gets through, and the upstream sees the gateway’s client certificate', async () => {
    const before = upstream.hits.length;
    const r = await call(gw.url, '/dispatch', dispatcher);
    expect(r.status).toBe(200);
    expect(r.json).toEqual({ path: '/dispatch', clientCn: 'pii-gateway' });
    expect(upstream.hits.length).toBe(before + 1);
  });

  it('logs the client as CN and fingerprint only', async () => {
    await call(gw.url, '/dispatch', dispatcher);
    const rec = gw.logs.records().find((l) => l.msg === 'proxied' && l.route === 'mtls/dispatch');
    expect(rec?.client).toEqual({ cn: 'dispatcher', fingerprint: fingerprintOf(dispatcher) });
  });

  it('no client certificate: the handshake is refused', async () => {
    const before = upstream.hits.length;
    await expect(call(gw.url, '/open', null)).rejects.toThrow();
    expect(upstream.hits.length).toBe(before);
  });

  it('a certificate from another CA: the handshake fails', async () => {
    await expect(call(gw.url, '/dispatch', rogue)).rejects.toMatchObject({ code: expect.stringMatching(/UNKNOWN_CA|ECONNRESET|EPIPE/) });
  });

  it('an expired certificate (right CA, right CN): refused', async () => {
    await expect(call(gw.url, '/dispatch', expired)).rejects.toMatchObject({
      code: expect.stringMatching(/CERTIFICATE_EXPIRED|ECONNRESET|EPIPE/),
    });
  });

  it('a valid certificate on a route that does not list it: 403 CLIENT_NOT_ALLOWED, nothing forwarded', async () => {
    const before = upstream.hits.length;
    const r = await call(gw.url, '/worker', dispatcher, '{"email":"canary@example.com"}');
    expect(r.status).toBe(403);
    expect(r.json.error.code).toBe('CLIENT_NOT_ALLOWED');
    expect(upstream.hits.length).toBe(before);
    const refused = gw.logs.records().find((l) => l.msg === 'request refused' && l.route === 'mtls/worker-only');
    expect(refused?.client).toEqual({ cn: 'dispatcher', fingerprint: fingerprintOf(dispatcher) });
  });

  it('a SPIFFE URI SAN matcher admits the worker', async () => {
    const r = await call(gw.url, '/worker', worker);
    expect(r.status).toBe(200);
    expect((await call(gw.url, '/dispatch', worker)).status).toBe(403);
  });

  it('upstream mTLS fails closed without a client certificate (502)', async () => {
    const r = await call(gw.url, '/nocert', dispatcher);
    expect(r.status).toBe(502);
    expect(r.json.error.code).toBe('UPSTREAM_UNAVAILABLE');
  });
});

describe('allowlist changes', () => {
  it('an identity removed from the allowlist gets 403; a fingerprint matcher admits exactly that certificate', async () => {
    const gw = await startTestGateway({
      rules: { 'mtls.yaml': rules(`[ { cn: someone-else }, { fingerprint: "${fingerprintOf(worker)}" } ]`) },
      settings: tlsSettings(),
    });
    try {
      const r = await call(gw.url, '/dispatch', dispatcher);
      expect(r.status).toBe(403);
      expect(r.json.error.code).toBe('CLIENT_NOT_ALLOWED');
      expect((await call(gw.url, '/dispatch', worker)).status).toBe(200);
    } finally {
      await gw.close();
    }
  });

  it('a route with clients: on a listener without client certificates does not start', async () => {
    await expect(startTestGateway({ rules: { 'mtls.yaml': rules('[ { cn: dispatcher } ]') } })).rejects.toMatchObject({
      code: 'CONFIG_INVALID',
    });
  });
});

describe('proxy listener, client certificates optional', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({
      rules: { 'mtls.yaml': rules('[ { cn: dispatcher } ]') },
      settings: tlsSettings({ PII_GATEWAY_TLS_CLIENT_AUTH: 'optional' }),
    });
  });
  afterAll(() => gw?.close());

  it('no certificate: open routes work, restricted routes answer 401 CLIENT_CERT_REQUIRED', async () => {
    expect((await call(gw.url, '/open', null)).status).toBe(200);
    const r = await call(gw.url, '/dispatch', null);
    expect(r.status).toBe(401);
    expect(r.json.error.code).toBe('CLIENT_CERT_REQUIRED');
    expect((await call(gw.url, '/dispatch', dispatcher)).status).toBe(200);
  });

  it('a presented certificate that does not verify is dropped, not treated as anonymous', async () => {
    await expect(call(gw.url, '/open', rogue)).rejects.toThrow();
    await expect(call(gw.url, '/open', expired)).rejects.toThrow();
  });
});

describe('vault API allowlists', () => {
  it('detokenize only for the allowed identity; tokenize for any verified client', async () => {
    const gw = await startTestGateway({
      rules: { 'mtls.yaml': rules('[ { cn: dispatcher } ]') },
      settings: tlsSettings({
        PII_GATEWAY_VAULT_API_TLS_CERT: path.join(listenerDir, 'tls.crt'),
        PII_GATEWAY_VAULT_API_TLS_KEY: path.join(listenerDir, 'tls.key'),
        PII_GATEWAY_VAULT_API_TLS_CLIENT_CA: ca.cert,
        PII_GATEWAY_VAULT_API_DETOKENIZE_CLIENTS: 'cn:dispatcher',
      }),
    });
    try {
      const tok = await call(gw.vaultUrl, '/v1/tokenize', worker, JSON.stringify({ items: [{ type: 'email', value: 'a@example.com' }] }));
      expect(tok.status).toBe(200);
      const token = tok.json.results[0].token as string;
      const body = JSON.stringify({ items: [{ token }] });
      const denied = await call(gw.vaultUrl, '/v1/detokenize', worker, body);
      expect(denied.status).toBe(403);
      expect(denied.json.error.code).toBe('CLIENT_NOT_ALLOWED');
      const ok = await call(gw.vaultUrl, '/v1/detokenize', dispatcher, body);
      expect(ok.status).toBe(200);
      expect(ok.json.results[0]).toMatchObject({ found: true, value: 'a@example.com' });
      await expect(call(gw.vaultUrl, '/v1/detokenize', null, body)).rejects.toThrow();
    } finally {
      await gw.close();
    }
  });
});

describe('reload without restart', () => {
  let gw: TestGateway;
  beforeAll(async () => {
    gw = await startTestGateway({ rules: { 'mtls.yaml': rules('[ { cn: dispatcher } ]') }, settings: tlsSettings() });
  });
  afterAll(() => gw?.close());

  it('new handshakes get the new listener certificate while an in-flight request completes', async () => {
    expect(await serverCn(gw.url)).toBe('localhost');
    upstream.slow = newSlow();
    const inFlight = call(gw.url, '/slow', dispatcher);
    await upstream.slow.arrived;

    copyPair(server2, listenerDir, 'tls');
    const result = await gw.gw.reloadTls();
    expect(result.failed).toEqual([]);
    expect(await serverCn(gw.url)).toBe('localhost-2');

    upstream.slow.release();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.json.path).toBe('/slow');
  });

  it('after a reload the listener still refuses TLS renegotiation and keeps TLS 1.2 as the floor', async () => {
    const u = new URL(gw.url);
    const renegotiated = await new Promise<Error | null>((resolve, reject) => {
      const socket = tlsConnect(dispatcherTls(gw.url, { maxVersion: 'TLSv1.2' }), () => {
        expect(socket.getProtocol()).toBe('TLSv1.2');
        socket.renegotiate({}, (err) => {
          socket.destroy();
          resolve(err ?? null);
        });
      });
      socket.on('error', (err) => resolve(err));
      setTimeout(() => reject(new Error('no answer to renegotiation')), 5000).unref();
    });
    expect(renegotiated).not.toBeNull();
    const old = await new Promise<Error | null>((resolve) => {
      const socket = tlsConnect({ host: u.hostname, port: Number(u.port), ca: readFileSync(ca.cert), maxVersion: 'TLSv1.1', minVersion: 'TLSv1' }, () => {
        socket.destroy();
        resolve(null);
      });
      socket.on('error', (err) => resolve(err));
    });
    expect(old).not.toBeNull();
  });

  it('a bad new certificate keeps the old one and logs an error', async () => {
    const good = readFileSync(path.join(listenerDir, 'tls.crt'));
    writeFileSync(path.join(listenerDir, 'tls.crt'), '-----BEGIN CERTIFICATE-----\nnot a certificate\n-----END CERTIFICATE-----\n');
    try {
      const result = await gw.gw.reloadTls();
      expect(result.failed).toEqual([{ name: 'proxy listener', code: 'CONFIG_INVALID' }]);
      expect(await serverCn(gw.url)).toBe('localhost-2');
      expect((await call(gw.url, '/dispatch', dispatcher)).status).toBe(200);
      expect(gw.logs.records().some((l) => l.level === 'error' && l.tls === 'proxy listener')).toBe(true);
    } finally {
      writeFileSync(path.join(listenerDir, 'tls.crt'), good);
    }
  });

  it('a file change alone is picked up (fs.watch, debounced)', async () => {
    expect(await serverCn(gw.url)).toBe('localhost-2');
    const init = { cert: path.join(dir, 'pki', 'server.crt'), key: path.join(dir, 'pki', 'server.key') };
    copyPair(init, listenerDir, 'tls');
    const deadline = Date.now() + 5000;
    let cn = await serverCn(gw.url);
    while (cn !== 'localhost' && Date.now() < deadline) {
      await new Promise((r) => setTimeout(r, 100));
      cn = await serverCn(gw.url);
    }
    expect(cn).toBe('localhost');
  });

  it('upstream client certificate: a new pool for new requests, the in-flight one finishes on the old', async () => {
    upstream.slow = newSlow();
    const inFlight = call(gw.url, '/slow', dispatcher);
    await upstream.slow.arrived;

    copyPair(gwClient2, upClientDir, 'client');
    const result = await gw.gw.reloadTls();
    expect(result.failed).toEqual([]);
    const next = await call(gw.url, '/open', dispatcher);
    expect(next.json.clientCn).toBe('pii-gateway-2');

    upstream.slow.release();
    const r = await inFlight;
    expect(r.status).toBe(200);
    expect(r.json.clientCn).toBe('pii-gateway');
  });
});
