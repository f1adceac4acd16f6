/**
 * Reads a request body from the Node stream with a hard size limit.
 *
 * The limit holds for chunked bodies too: bytes are counted as they arrive, and reading stops at the first
 * byte past the limit (413). A declared Content-Length over the limit is refused before reading anything.
 * node:http itself refuses a request carrying both Transfer-Encoding and Content-Length (request
 * smuggling), so Content-Length is only trusted when it is the sole framing.
 *
 * Per request this allocates one small state object, the promise (and its executor) and the chunks: the
 * stream listeners are module-level functions that find the state on the stream (`this`), not closures.
 */
import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

const EMPTY = Buffer.alloc(0);
const READER = Symbol('pii-gateway.bodyReader');

/** The state of one body being read. */
class BodyReader {
  readonly chunks: Buffer[] = [];
  size = 0;
  constructor(
    readonly limit: number,
    readonly resolve: (body: Buffer) => void,
    readonly reject: (err: GatewayError) => void,
  ) {}
}

type Reading = IncomingMessage & { [READER]?: BodyReader | undefined };

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
    (incoming as Reading)[READER] = new BodyReader(limit, resolve, reject);
    incoming.on('data', onData);
    incoming.on('end', onEnd);
    incoming.on('error', onError);
    incoming.on('aborted', onAborted);
  });
}

// Listeners: node calls them with the stream as `this`.

function onData(this: Reading, chunk: Buffer): void {
  const r = this[READER]!;
  r.size += chunk.length;
  if (r.size > r.limit) {
    finish(this);
    this.pause();
    r.reject(tooLarge(r.limit));
    return;
  }
  r.chunks.push(chunk);
}

function onEnd(this: Reading): void {
  const r = finish(this);
  r.resolve(r.chunks.length === 1 ? r.chunks[0]! : Buffer.concat(r.chunks, r.size));
}

function onError(this: Reading, err: Error): void {
  finish(this).reject(new GatewayError('BAD_REQUEST', 'the request body could not be read', { cause: err }));
}

function onAborted(this: Reading): void {
  finish(this).reject(new GatewayError('BAD_REQUEST', 'the client closed the connection before the body ended'));
}

/** Detaches the listeners and the state; returns the state. */
function finish(incoming: Reading): BodyReader {
  const r = incoming[READER]!;
  incoming[READER] = undefined;
  incoming.off('data', onData);
  incoming.off('end', onEnd);
  incoming.off('error', onError);
  incoming.off('aborted', onAborted);
  return r;
}

function tooLarge(limit: number): GatewayError {
  return new GatewayError('BODY_TOO_LARGE', `the request body exceeds the limit of ${limit} bytes`);
}
