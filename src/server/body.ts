/**
 * Reads a request body from the Node stream with a hard size limit.
 *
 * The limit holds for chunked bodies too: bytes are counted as they arrive, and reading stops at the first
 * byte past the limit (413). A declared Content-Length over the limit is refused before reading anything.
 * node:http itself refuses a request carrying both Transfer-Encoding and Content-Length (request
 * smuggling), so Content-Length is only trusted when it is the sole framing.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

const EMPTY = Buffer.alloc(0);

/**
 * @example
 *   const body = await readBody(c.env.incoming, 1024 * 1024);
 */
export function readBody(incoming: IncomingMessage, limit: number): Promise<Buffer> {
  const declared = incoming.headers['content-length'];
  if (declared !== undefined && Number(declared) > limit) {
    return Promise.reject(tooLarge(limit));
  }
  if (declared === '0' || (declared === undefined && incoming.headers['transfer-encoding'] === undefined)) {
    return Promise.resolve(EMPTY);
  }
  return new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer): void => {
      size += chunk.length;
      if (size > limit) {
        cleanup();
        incoming.pause();
        reject(tooLarge(limit));
        return;
      }
      chunks.push(chunk);
    };
    const onEnd = (): void => {
      cleanup();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (err: Error): void => {
      cleanup();
      reject(new GatewayError('BAD_REQUEST', 'the request body could not be read', { cause: err }));
    };
    const onAborted = (): void => {
      cleanup();
      reject(new GatewayError('BAD_REQUEST', 'the client closed the connection before the body ended'));
    };
    function cleanup(): void {
      incoming.off('data', onData);
      incoming.off('end', onEnd);
      incoming.off('error', onError);
      incoming.off('aborted', onAborted);
    }
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('aborted', onAborted);
  });
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('BODY_TOO_LARGE', `the request body exceeds the limit of ${limit} bytes`);
}
