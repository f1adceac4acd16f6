import type { IncomingMessage } from 'node:http';
import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { isGatewayError } from '../errors.js';
import { readBody } from './body.js';

/** A Readable posing as an IncomingMessage with the given headers; chunks are pushed by the test. */
function incoming(headers: Record<string, string>): IncomingMessage & Readable {
  const r = new Readable({ read() {} }) as IncomingMessage & Readable;
  (r as { headers: Record<string, string> }).headers = headers;
  return r;
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  if (!isGatewayError(err)) throw new Error(`expected a GatewayError, got ${String(err)}`);
  return err.code;
}

const EVENTS = ['data', 'end', 'error', 'aborted'] as const;
function listeners(r: Readable): number {
  return EVENTS.reduce((n, e) => n + r.listenerCount(e), 0);
}

describe('readBody', () => {
  it('returns one chunk as is and concatenates several; leaves no listener behind', async () => {
    const one = incoming({ 'content-length': '5' });
    const chunk = Buffer.from('hello');
    one.push(chunk);
    one.push(null);
    const a = await readBody(one, 100);
    expect(a).toBe(chunk);
    expect(listeners(one)).toBe(0);

    const many = incoming({ 'transfer-encoding': 'chunked' });
    const p = readBody(many, 100);
    many.push(Buffer.from('ab'));
    many.push(Buffer.from('cd'));
    many.push(Buffer.from('e'));
    many.push(null);
    expect((await p).toString()).toBe('abcde');
    expect(listeners(many)).toBe(0);
  });

  it('answers an empty body without reading when nothing frames one', async () => {
    const r = incoming({});
    expect((await readBody(r, 10)).length).toBe(0);
    expect((await readBody(incoming({ 'content-length': '0' }), 10)).length).toBe(0);
    expect(listeners(r)).toBe(0);
  });

  it('refuses a declared Content-Length over the limit before reading a byte', async () => {
    const r = incoming({ 'content-length': '11' });
    r.push(Buffer.alloc(11));
    expect(await codeOf(readBody(r, 10))).toBe('BODY_TOO_LARGE');
    expect(listeners(r)).toBe(0);
    expect(r.readableLength).toBe(11); // untouched
  });

  it('counts chunked bytes and stops at the first byte past the limit', async () => {
    const r = incoming({ 'transfer-encoding': 'chunked' });
    const p = readBody(r, 10);
    r.push(Buffer.alloc(6));
    r.push(Buffer.alloc(5));
    expect(await codeOf(p)).toBe('BODY_TOO_LARGE');
    expect(listeners(r)).toBe(0);
    expect(r.isPaused()).toBe(true);
    // Exactly at the limit passes.
    const ok = incoming({ 'transfer-encoding': 'chunked' });
    const q = readBody(ok, 10);
    ok.push(Buffer.alloc(6));
    ok.push(Buffer.alloc(4));
    ok.push(null);
    expect((await q).length).toBe(10);
  });

  it('a client abort or a stream error is BAD_REQUEST', async () => {
    const aborted = incoming({ 'content-length': '10' });
    const p = readBody(aborted, 100);
    aborted.push(Buffer.alloc(3));
    aborted.emit('aborted');
    expect(await codeOf(p)).toBe('BAD_REQUEST');
    expect(listeners(aborted)).toBe(0);

    const failed = incoming({ 'content-length': '10' });
    const q = readBody(failed, 100);
    failed.destroy(new Error('socket hang up'));
    expect(await codeOf(q)).toBe('BAD_REQUEST');
  });

  it('reads many bodies from distinct streams concurrently without mixing them', async () => {
    const streams = Array.from({ length: 20 }, () => incoming({ 'transfer-encoding': 'chunked' }));
    const reads = streams.map((s) => readBody(s, 1000));
    for (let round = 0; round < 3; round++) streams.forEach((s, i) => s.push(Buffer.from(`${i}:${round};`)));
    streams.forEach((s) => s.push(null));
    const bodies = await Promise.all(reads);
    bodies.forEach((b, i) => expect(b.toString()).toBe(`${i}:0;${i}:1;${i}:2;`));
  });
});
