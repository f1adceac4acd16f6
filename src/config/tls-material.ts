/**
 * Reading TLS material (PEM certificate, key, CA bundle files) for listeners and upstreams alike.
 *
 * One reader so both ends apply the same floor (TLS 1.2) and the same checks, and so a reload can tell
 * whether anything changed (a digest of the bytes). Errors name the file and its role, never its content.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext, type SecureContextOptions } from 'node:tls';
import { GatewayError } from '../errors.js';

/** Protocol floor for every TLS endpoint of the gateway (listeners and upstreams). */
export const MIN_TLS_VERSION = 'TLSv1.2' as const;

/** Bytes read from files plus a digest of them, to tell whether a reload changes anything. */
export interface TlsMaterial {
  readonly options: SecureContextOptions;
  readonly digest: string;
}

/**
 * Reads PEM files (named `role: path` in `files`) into secure-context options and proves they load
 * (`createSecureContext` rejects a key that does not match its certificate, or bytes that are not PEM).
 * @throws GatewayError CONFIG_INVALID naming the file and role, never the file's content.
 */
export function readTlsMaterial(
  what: string,
  files: { cert?: string | undefined; key?: string | undefined; ca?: string | undefined },
  extra: SecureContextOptions = {},
): TlsMaterial {
  const hash = createHash('sha256');
  const options: SecureContextOptions = { minVersion: MIN_TLS_VERSION, ...extra };
  for (const role of ['cert', 'key', 'ca'] as const) {
    const file = files[role];
    if (file === undefined) continue;
    let bytes: Buffer;
    try {
      bytes = readFileSync(file);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code ?? 'unreadable';
      throw new GatewayError('CONFIG_INVALID', `${what}: cannot read the ${role} file ${file} (${code})`);
    }
    hash.update(`${role}\0${bytes.length}\0`).update(bytes);
    options[role] = bytes;
  }
  try {
    createSecureContext(options);
  } catch (err) {
    const reason = (err as { code?: string }).code ?? 'invalid';
    throw new GatewayError('CONFIG_INVALID', `${what}: the certificate, key or CA files do not load (${reason}; PEM expected, key must match the certificate)`, {
      cause: err,
    });
  }
  return { options, digest: hash.digest('hex') };
}
