/**
 * Load generators.
 *
 * Saturation: wrk (`-t1 -c50 --latency`, a Lua script that posts the body and prints a JSON summary from
 * wrk's `done()` hook) when installed, otherwise autocannon (same connections and duration, in-process,
 * so less able to saturate a fast subject: the report says which one ran).
 *
 * Fixed rate: wrk2 is not packaged by Debian, so `fixedRate()` is a small open-loop undici client: every
 * millisecond it sends the requests that are due by the clock (rate x elapsed), on a pool of keep-alive
 * connections, whether or not earlier ones have answered. Latency is timed from the moment each request is
 * handed to undici to the end of its response body (performance.now(), sub-microsecond), so timer jitter
 * does not count; the latency from the request's *scheduled* time (coordinated-omission corrected) is
 * reported beside it, and the achieved rate says whether the client kept up.
 */
import { spawn, spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';

/** A request body: fixed, or made fresh per request from a template whose `{{n}}` marks are replaced by a counter. */
export type BodySpec = { readonly fixed: string } | { readonly template: string };

export interface LoadTarget {
  readonly url: string; // origin, e.g. http://127.0.0.1:1234
  readonly path: string;
  readonly contentType: string;
  readonly body: BodySpec;
}

export interface SaturationResult {
  readonly tool: 'wrk' | 'autocannon';
  readonly requests: number;
  readonly seconds: number;
  readonly rps: number;
  /** Latency percentiles in ms. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly max: number;
  /** Non-2xx/3xx responses plus socket errors and timeouts. */
  readonly errors: number;
}

export function findWrk(): string | null {
  const r = spawnSync('sh', ['-c', 'command -v wrk'], { encoding: 'utf8' });
  return r.status === 0 && r.stdout.trim() !== '' ? r.stdout.trim() : null;
}

export function wrkVersion(bin: string): string {
  const r = spawnSync(bin, ['-v'], { encoding: 'utf8' });
  return /wrk\s+(\S+)/.exec(r.stdout + r.stderr)?.[1] ?? 'unknown';
}

function luaString(s: string): string {
  let eq = '=';
  while (s.includes(`]${eq}]`)) eq += '=';
  return `[${eq}[${s}]${eq}]`;
}

/** The wrk Lua script: POST the body (fresh per request for templates) and print a JSON summary. */
export function wrkScript(target: LoadTarget, prefix: string): string {
  const head = `wrk.method = "POST"\nwrk.headers["Content-Type"] = ${luaString(target.contentType)}\n`;
  let body: string;
  if ('fixed' in target.body) {
    body = `wrk.body = ${luaString(target.body.fixed)}\n`;
  } else {
    const parts = target.body.template.split('{{n}}').map(luaString).join(',\n');
    body = `local parts = {${parts}}
local n = 0
request = function()
  n = n + 1
  local s = ${luaString(prefix)} .. tostring(n)
  local buf = {}
  for i = 1, #parts - 1 do buf[#buf + 1] = parts[i]; buf[#buf + 1] = s end
  buf[#buf + 1] = parts[#parts]
  return wrk.format(nil, nil, nil, table.concat(buf))
end
`;
  }
  const done = `done = function(summary, latency, requests)
  local e = summary.errors
  io.write(string.format('BENCH_JSON {"requests":%.0f,"duration_us":%.0f,"errors":%.0f,"p50":%.1f,"p90":%.1f,"p99":%.1f,"max":%.1f}\\n',
    summary.requests, summary.duration, e.connect + e.read + e.write + e.status + e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99), latency.max))
end
`;
  return head + body + done;
}

export async function saturate(
  wrk: string | null,
  target: LoadTarget,
  opts: { seconds: number; connections: number; scriptFile: string; prefix: string },
): Promise<SaturationResult> {
  if (wrk) return runWrk(wrk, target, opts);
  return runAutocannon(target, opts);
}

function runWrk(
  bin: string,
  target: LoadTarget,
  opts: { seconds: number; connections: number; scriptFile: string; prefix: string },
): Promise<SaturationResult> {
  writeFileSync(opts.scriptFile, wrkScript(target, opts.prefix));
  const args = ['-t1', `-c${opts.connections}`, `-d${opts.seconds}s`, '--timeout', '5s', '-s', opts.scriptFile, target.url + target.path];
  return new Promise((resolve, reject) => {
    const child = spawn(bin, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    child.stdout.on('data', (c: Buffer) => (out += c.toString()));
    child.stderr.on('data', (c: Buffer) => (out += c.toString()));
    child.once('error', reject);
    child.once('exit', (code) => {
      const line = /BENCH_JSON (\{.*\})/.exec(out)?.[1];
      if (code !== 0 || !line) return reject(new Error(`wrk failed (${code}): ${out.slice(-500)}`));
      const j = JSON.parse(line) as Record<string, number>;
      const seconds = j.duration_us! / 1e6;
      resolve({
        tool: 'wrk',
        requests: j.requests!,
        seconds,
        rps: j.requests! / seconds,
        p50: j.p50! / 1000,
        p90: j.p90! / 1000,
        p99: j.p99! / 1000,
        max: j.max! / 1000,
        errors: j.errors!,
      });
    });
  });
}

async function runAutocannon(
  target: LoadTarget,
  opts: { seconds: number; connections: number; prefix: string },
): Promise<SaturationResult> {
  const { default: autocannon } = await import('autocannon');
  let n = 0;
  const tmpl = 'template' in target.body ? target.body.template : null;
  const result = await autocannon({
    url: target.url + target.path,
    method: 'POST',
    connections: opts.connections,
    duration: opts.seconds,
    headers: { 'content-type': target.contentType },
    ...(tmpl === null
      ? { body: (target.body as { fixed: string }).fixed }
      : { requests: [{ setupRequest: (req: object) => ({ ...req, body: tmpl.replaceAll('{{n}}', `${opts.prefix}${++n}`) }) }] }),
  });
  return {
    tool: 'autocannon',
    requests: result.requests.total,
    seconds: result.duration,
    rps: result.requests.total / result.duration,
    p50: result.latency.p50,
    p90: result.latency.p90,
    p99: result.latency.p99,
    max: result.latency.max,
    errors: result.non2xx + result.errors + result.timeouts,
  };
}

export interface FixedRateResult {
  readonly rate: number;
  readonly achievedRate: number;
  readonly sent: number;
  readonly errors: number;
  /** ms, from hand-off to undici to the end of the response body. */
  readonly p50: number;
  readonly p90: number;
  readonly p99: number;
  readonly p999: number;
  readonly max: number;
  /** ms, from the scheduled send time (includes client timer lateness, about 0-1 ms). */
  readonly scheduledP99: number;
}

/** Nearest-rank percentile of a sorted array. */
export function percentile(sorted: ArrayLike<number>, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[i]!;
}

/** Expands a body spec for request number n. */
export function bodyFor(spec: BodySpec, prefix: string, n: number): string {
  return 'fixed' in spec ? spec.fixed : spec.template.replaceAll('{{n}}', `${prefix}${n}`);
}

export async function fixedRate(
  target: LoadTarget,
  opts: { rate: number; seconds: number; connections?: number; prefix: string },
): Promise<FixedRateResult> {
  const pool = new Pool(target.url, { connections: opts.connections ?? 64, pipelining: 1, keepAliveTimeout: 30_000 });
  const total = Math.round(opts.rate * opts.seconds);
  const service = new Float64Array(total);
  const scheduled = new Float64Array(total);
  const fixedBody = 'fixed' in target.body ? Buffer.from(target.body.fixed) : null;
  const headers = { 'content-type': target.contentType };
  let sent = 0;
  let done = 0;
  let errors = 0;
  const interval = 1000 / opts.rate;
  const start = performance.now();
  let finish!: () => void;
  const allDone = new Promise<void>((r) => (finish = r));

  const fire = (i: number): void => {
    const due = start + i * interval;
    const t0 = performance.now();
    const body = fixedBody ?? bodyFor(target.body, opts.prefix, i);
    pool
      .request({ method: 'POST', path: target.path, headers, body })
      .then(async (res) => {
        await res.body.dump();
        if (res.statusCode >= 400) errors++;
      })
      .catch(() => {
        errors++;
      })
      .finally(() => {
        const t1 = performance.now();
        service[i] = t1 - t0;
        scheduled[i] = t1 - due;
        if (++done === total) finish();
      });
  };
  await new Promise<void>((resolve) => {
    const tick = (): void => {
      const due = Math.min(total, Math.floor((performance.now() - start) / interval) + 1);
      while (sent < due) fire(sent++);
      if (sent < total) setTimeout(tick, 1);
      else resolve();
    };
    tick();
  });
  const sendSeconds = (performance.now() - start) / 1000;
  await allDone;
  await pool.close();
  service.sort();
  scheduled.sort();
  return {
    rate: opts.rate,
    achievedRate: total / sendSeconds,
    sent: total,
    errors,
    p50: percentile(service, 50),
    p90: percentile(service, 90),
    p99: percentile(service, 99),
    p999: percentile(service, 99.9),
    max: service[total - 1]!,
    scheduledP99: percentile(scheduled, 99),
  };
}
