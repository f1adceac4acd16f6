/**
 * A pino destination that keeps every log line in memory, so tests can assert what reached the logs
 * (and, above all, what did not: canary PII values). Same idea as pino's own test/helper.js sink.
 */
import { Writable } from 'node:stream';

export interface LogSink {
  readonly stream: Writable;
  /** Raw NDJSON lines written so far. */
  readonly lines: string[];
  /** Parsed lines. */
  records(): Record<string, unknown>[];
}

export function createLogSink(): LogSink {
  const lines: string[] = [];
  let partial = '';
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      partial += chunk.toString('utf8');
      let nl: number;
      while ((nl = partial.indexOf('\n')) !== -1) {
        lines.push(partial.slice(0, nl));
        partial = partial.slice(nl + 1);
      }
      cb();
    },
  });
  return { stream, lines, records: () => lines.map((l) => JSON.parse(l) as Record<string, unknown>) };
}
