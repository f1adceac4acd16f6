/**
 * TLS material for listeners, and reloading certificates without a restart.
 *
 * Listeners speak TLS 1.2 or 1.3 only (1.3 is preferred by normal negotiation). Certificates, keys and
 * CA bundles are files; `TlsReloader` re-reads them on SIGHUP (wired in cli/start.ts) and when their
 * directory changes (fs.watch, debounced: editors, `cp`, and Kubernetes secret volumes that swap a
 * `..data` symlink all produce bursts of events, and watching the directory survives files being
 * replaced rather than written in place). A reload that fails keeps what is running and logs an error;
 * material whose bytes did not change is not re-applied.
 */
import { constants } from 'node:crypto';
import { watch, type FSWatcher } from 'node:fs';
import type { ServerOptions as HttpsServerOptions } from 'node:https';
import path from 'node:path';
import type { TLSSocket } from 'node:tls';
import type { ListenerTlsConfig } from '../config/index.js';
import { readTlsMaterial, type TlsMaterial } from '../config/tls-material.js';
import type { Logger } from '../observability/logger.js';

export { MIN_TLS_VERSION, readTlsMaterial, type TlsMaterial } from '../config/tls-material.js';

/** https.createServer options for a listener: TLS 1.2+, and client certificates as configured. */
export function listenerServerOptions(config: ListenerTlsConfig, material: TlsMaterial): HttpsServerOptions {
  return {
    ...material.options,
    // No TLS 1.2 renegotiation: the client identity is read once per connection and must not change under it.
    secureOptions: constants.SSL_OP_NO_RENEGOTIATION,
    requestCert: config.clientAuth !== 'none',
    // 'optional' accepts a connection without a certificate; dropUnverifiedPeer() drops a bad one.
    rejectUnauthorized: config.clientAuth === 'required',
  };
}

/** Reads a listener's files (cert, key, client CA). */
export function readListenerMaterial(what: string, config: ListenerTlsConfig): TlsMaterial {
  return readTlsMaterial(what, { cert: config.cert, key: config.key, ca: config.clientCa });
}

/**
 * 'optional' client auth: a client that presents no certificate is let in (routes decide), but one that
 * presents a certificate which does not verify (unknown CA, expired) is disconnected, never treated as
 * anonymous: a forged or stale certificate is a stronger signal than none.
 */
export function dropUnverifiedPeer(socket: TLSSocket): void {
  if (socket.authorized) return;
  const peer = socket.getPeerCertificate();
  if (peer && Object.keys(peer).length > 0) socket.destroy();
}

/** Something whose TLS files can be re-read: a listener or an upstream pool. */
export interface TlsReloadable {
  /** For logs: 'proxy listener', "upstream 'clevertap/api'". */
  readonly name: string;
  /** Absolute paths of the files it reads. */
  readonly files: readonly string[];
  /** Re-reads its files; 'unchanged' when the bytes are the same. Throws (and keeps the old material) when they do not load. */
  reload(): Promise<'reloaded' | 'unchanged'>;
}

export interface ReloadResult {
  readonly reloaded: string[];
  readonly unchanged: string[];
  readonly failed: { name: string; code: string }[];
}

/**
 * Reloads a set of TlsReloadables on demand (`reload()`, e.g. on SIGHUP) and on file changes (`watch()`).
 *
 * @example
 *   const reloader = new TlsReloader([proxyListener, upstream], log);
 *   reloader.watch();
 *   process.on('SIGHUP', () => void reloader.reload());
 */
export class TlsReloader {
  private readonly watchers: FSWatcher[] = [];
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<ReloadResult> | undefined;
  private again = false;

  constructor(
    private readonly items: readonly TlsReloadable[],
    private readonly log: Logger,
  ) {}

  /** Reloads everything; a failure of one item does not stop the others. Calls made while one runs are coalesced into one more run. */
  reload(): Promise<ReloadResult> {
    if (this.running) {
      this.again = true;
      return this.running;
    }
    this.running = (async () => {
      let result: ReloadResult;
      do {
        this.again = false;
        result = await this.reloadOnce();
      } while (this.again);
      this.running = undefined;
      return result;
    })();
    return this.running;
  }

  private async reloadOnce(): Promise<ReloadResult> {
    const result: ReloadResult = { reloaded: [], unchanged: [], failed: [] };
    for (const item of this.items) {
      try {
        const outcome = await item.reload();
        result[outcome].push(item.name);
      } catch (err) {
        const code = (err as { code?: string }).code ?? 'INTERNAL';
        result.failed.push({ name: item.name, code });
        this.log.error({ tls: item.name, code, reason: (err as Error).message }, 'TLS reload failed; keeping the current certificates');
      }
    }
    if (result.reloaded.length > 0) this.log.info({ reloaded: result.reloaded }, 'TLS certificates reloaded');
    return result;
  }

  /** Watches the directories of every file; a burst of changes triggers one reload after `debounceMs` of quiet. */
  watch(debounceMs = 300): void {
    const byDir = new Map<string, Set<string>>();
    for (const item of this.items) {
      for (const file of item.files) {
        const dir = path.dirname(file);
        if (!byDir.has(dir)) byDir.set(dir, new Set());
        byDir.get(dir)!.add(path.basename(file));
      }
    }
    for (const [dir, names] of byDir) {
      try {
        const watcher = watch(dir, { persistent: false }, (_event, filename) => {
          const name = filename?.toString();
          // Our files, or a Kubernetes-style `..data` swap; ignore unrelated files in the same directory.
          if (name !== undefined && !names.has(name) && !name.startsWith('..')) return;
          clearTimeout(this.timer);
          this.timer = setTimeout(() => void this.reload(), debounceMs);
          this.timer.unref();
        });
        watcher.on('error', (err) => this.log.warn({ dir, errCode: (err as { code?: string }).code }, 'TLS file watch stopped; reload with SIGHUP'));
        this.watchers.push(watcher);
      } catch (err) {
        this.log.warn({ dir, errCode: (err as { code?: string }).code }, 'cannot watch TLS files; reload with SIGHUP');
      }
    }
  }

  close(): void {
    clearTimeout(this.timer);
    for (const w of this.watchers) w.close();
    this.watchers.length = 0;
  }
}
