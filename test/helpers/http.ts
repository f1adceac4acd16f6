/**
 * Raw HTTP calls to a started gateway for the integration and security tests that care about exact bytes:
 * the body goes out as given (no JSON encoding, no default headers) and the response is read whole.
 */
import type { IncomingHttpHeaders } from 'node:http';
import { request } from 'undici';

/** A whole response: status, headers, the body bytes, and the body parsed as JSON on demand. */
export interface RawResponse<J> {
  readonly status: number;
  readonly headers: IncomingHttpHeaders;
  readonly bytes: Buffer;
  /** The body parsed as JSON (throws when it is not JSON). */
  json(): J;
}

/**
 * POSTs `body` to `url` with exactly `headers` and reads the whole response.
 *
 * @example
 *   const res = await postRaw<{ error: { code: string } }>(gw.url + '/hooks/x', form, { 'content-type': FORM });
 *   expect(res.json().error.code).toBe('SIGNATURE_MISSING');
 */
export async function postRaw<J = any>(url: string, body: string | Buffer, headers: Record<string, string>): Promise<RawResponse<J>> {
  const res = await request(url, { method: 'POST', body, headers });
  const bytes = Buffer.from(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, bytes, json: () => JSON.parse(bytes.toString()) as J };
}
