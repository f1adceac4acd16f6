/**
 * Listeners: bind a hono app to a host:port and close it gracefully.
 *
 * Graceful close stops accepting, lets in-flight requests finish (bounded by a grace period), then drops
 * idle keep-alive sockets so shutdown does not wait on them.
 *
 * With a ListenerTlsConfig the listener is HTTPS (TLS 1.2+, client certificates as configured, see
 * server/tls.ts) and can swap its certificates in place: `reloadTls()` calls `server.setSecureContext()`,
 * which applies to new handshakes only, so connections and requests in flight are untouched.
 */
import type { Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import type { ListenAddress, ListenerTlsConfig } from '../config/index.js';
import { dropUnverifiedPeer, listenerServerOptions, readListenerMaterial, type TlsReloadable } from './tls.js';

export interface Listener {
  readonly server: Server;
  /** The bound address (port resolved when 0 was asked for). */
  readonly address: ListenAddress;
  readonly url: string;
  /** Present on a TLS listener: re-reads its certificate, key and client CA (see server/tls.ts). */
  readonly tls: TlsReloadable | undefined;
  close(graceMs?: number): Promise<void>;
}

/**
 * Binds `app` and resolves once listening; HTTPS when `tls` is given (`name` labels it in messages).
 * @throws GatewayError CONFIG_INVALID when the TLS files cannot be read or do not load.
 */
export function listen(
  // eslint-disable-next-line @typescript-eslint/no-explicit-any
  app: Hono<any>,
  address: ListenAddress,
  tls: ListenerTlsConfig | null = null,
  name = 'listener',
): Promise<Listener> {
  let server: Server;
  let reloadable: TlsReloadable | undefined;
  if (tls === null) {
    server = createAdaptorServer({ fetch: app.fetch }) as Server;
  } else {
    let material = readListenerMaterial(name, tls);
    const https = createAdaptorServer({
      fetch: app.fetch,
      createServer: createHttpsServer,
      serverOptions: listenerServerOptions(tls, material),
    }) as HttpsServer;
    if (tls.clientAuth === 'optional') https.on('secureConnection', dropUnverifiedPeer);
    server = https as unknown as Server;
    reloadable = {
      name,
      files: [tls.cert, tls.key, ...(tls.clientCa ? [tls.clientCa] : [])],
      reload: async () => {
        const next = readListenerMaterial(name, tls);
        if (next.digest === material.digest) return 'unchanged';
        https.setSecureContext(listenerServerOptions(tls, next)); // the whole set: omitted options would reset
        material = next;
        return 'reloaded';
      },
    };
  }
  server.keepAliveTimeout = 65_000; // longer than common load balancer idle timeouts
  server.headersTimeout = 66_000;
  server.requestTimeout = 120_000;
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(address.port, address.host, () => {
      server.off('error', reject);
      const bound = server.address() as AddressInfo;
      const host = bound.family === 'IPv6' ? `[${bound.address}]` : bound.address;
      resolve({
        server,
        address: { host: bound.address, port: bound.port },
        url: `${tls ? 'https' : 'http'}://${host}:${bound.port}`,
        tls: reloadable,
        close: (graceMs = 10_000) => closeServer(server, graceMs),
      });
    });
  });
}

function closeServer(server: Server, graceMs: number): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => server.closeAllConnections(), graceMs);
    timer.unref();
    server.close(() => {
      clearTimeout(timer);
      resolve();
    });
    server.closeIdleConnections();
  });
}
