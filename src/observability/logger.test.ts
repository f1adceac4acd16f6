import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { GatewayError } from '../errors.js';
import pino from 'pino';
import { accessLogger, createLogger, isoTime } from './logger.js';

const CANARY = 'canary.log7@canary-example.org';

function capture() {
  const lines: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
      cb();
    },
  });
  return { log: createLogger({ level: 'debug', destination: stream }), lines, parsed: () => lines.map((l) => JSON.parse(l)) };
}

describe('createLogger hygiene', () => {
  it('an Error logged directly keeps its class and code, never its message or stack', () => {
    const { log, lines, parsed } = capture();
    const err = Object.assign(new TypeError(`bad value ${CANARY}`), { code: 'ERR_X' });
    log.error(err);
    log.error(err, 'parse failed');
    log.warn({ err, route: 'r/send' }, 'with err key');
    log.warn({ error: new Error(CANARY) }, 'with error key');
    expect(lines).toHaveLength(4);
    for (const l of lines) expect(l).not.toContain(CANARY);
    const [a, b, c] = parsed();
    expect(a).toMatchObject({ code: 'INTERNAL', errName: 'TypeError', errCode: 'ERR_X', msg: 'error' });
    expect(b).toMatchObject({ errName: 'TypeError', msg: 'parse failed' });
    expect(c).toMatchObject({ route: 'r/send', err: { code: 'INTERNAL', errName: 'TypeError' } });
  });

  it('a GatewayError keeps code, field and our message; its cause keeps only name and code', () => {
    const { log, lines, parsed } = capture();
    const cause = Object.assign(new Error(`driver choked on ${CANARY}`), { code: 'SQLITE_BUSY' });
    log.error(new GatewayError('VAULT_UNAVAILABLE', 'the vault is unavailable', { cause }));
    expect(lines[0]).not.toContain(CANARY);
    expect(parsed()[0]).toMatchObject({ code: 'VAULT_UNAVAILABLE', msg: 'the vault is unavailable', cause: { code: 'SQLITE_BUSY' } });
  });

  it('censors secret headers and value-shaped keys', () => {
    const { log, lines, parsed } = capture();
    log.info({ headers: { authorization: 'Basic c2VjcmV0', cookie: 's=1', 'x-api-key': 'k' }, route: 'r' }, 'h');
    log.info({ value: CANARY, item: { token: 'TKN_abc', email: CANARY }, count: 2 }, 'v');
    for (const l of lines) {
      expect(l).not.toContain(CANARY);
      expect(l).not.toContain('c2VjcmV0');
      expect(l).not.toContain('TKN_abc');
    }
    const [h, v] = parsed();
    expect(h.headers).toEqual({ authorization: '[redacted]', cookie: '[redacted]', 'x-api-key': '[redacted]' });
    expect(v).toMatchObject({ value: '[redacted]', item: { token: '[redacted]', email: '[redacted]' }, count: 2 });
  });
});

describe('accessLogger', () => {
  const fields = {
    requestId: 'req-1',
    route: 'clevertap/upload',
    client: { cn: 'partner-a', fingerprint: 'ab:cd' },
    caller: 'key_1',
    method: 'POST',
    status: 200,
    ms: 1.25,
    tokenized: 4,
    detokenized: 0,
  };

  it('writes to the same destination, in order, the same line the redacting logger writes', () => {
    const { log, lines, parsed } = capture();
    log.info(fields, 'proxied');
    accessLogger(log).info(fields, 'proxied');
    log.warn({ route: 'r' }, 'after');
    expect(lines).toHaveLength(3);
    const [viaLog, viaAccess, after] = parsed();
    const { time: _t1, ...a } = viaLog;
    const { time: _t2, ...b } = viaAccess;
    expect(b).toEqual(a);
    expect(Object.keys(viaAccess)).toEqual(Object.keys(viaLog));
    expect(viaAccess).toMatchObject({ level: 'info', service: 'pii-gateway', ...fields, msg: 'proxied' });
    expect(typeof viaAccess.time).toBe('string');
    expect(after).toMatchObject({ level: 'warn', msg: 'after' });
  });

  it('is built once per logger and follows its level', () => {
    const lines: string[] = [];
    const stream = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(...chunk.toString('utf8').split('\n').filter(Boolean));
        cb();
      },
    });
    const log = createLogger({ level: 'warn', destination: stream });
    expect(accessLogger(log)).toBe(accessLogger(log));
    expect(accessLogger(log)).not.toBe(log);
    accessLogger(log).info(fields, 'proxied');
    expect(lines).toHaveLength(0);
  });

  it('for a logger createLogger did not build (a child), is that logger, redaction included', () => {
    const { log, lines } = capture();
    const child = log.child({ component: 'x' });
    expect(accessLogger(child)).toBe(child);
    (accessLogger(child) as unknown as typeof log).info({ value: CANARY }, 'oops');
    expect(lines[0]).not.toContain(CANARY);
  });
});

describe('isoTime', () => {
  it('writes what pino.stdTimeFunctions.isoTime writes, also when the millisecond changes or repeats', () => {
    const real = Date.now;
    try {
      for (const t of [0, 1_795_000_000_000, 1_795_000_000_000, 1_795_000_000_001, 1_795_000_000_999, 1_795_000_001_000, 253_402_300_799_999]) {
        Date.now = () => t;
        expect(isoTime()).toBe(pino.stdTimeFunctions.isoTime());
        expect(isoTime()).toBe(`,"time":"${new Date(t).toISOString()}"`);
      }
    } finally {
      Date.now = real;
    }
  });
});
