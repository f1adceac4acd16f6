/**
 * Listeners: bind a hono app to a host:port and close it gracefully.
 *
 * Graceful close stops accepting, lets in-flight requests finish (bounded by a grace period), then drops
 * idle keep-alive sockets so shutdown does not wait on them.
 */
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createAdaptorServer } from '@hono/node-server';
import type { Hono } from 'hono';
import type { ListenAddress } from '../config/index.js';

export interface Listener {
  readonly server: Server;
  /** The bound address (port resolved when 0 was asked for). */
  readonly address: ListenAddress;
  readonly url: string;
  close(graceMs?: number): Promise<void>;
}

/** Binds `app` and resolves once listening. */
// eslint-disable-next-line @typescript-eslint/no-explicit-any
export function listen(app: Hono<any>, address: ListenAddress): Promise<Listener> {
  const server = createAdaptorServer({ fetch: app.fetch }) as Server;
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
        url: `http://${host}:${bound.port}`,
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
