/**
 * `npm run bench -- --scaling`: how cost grows with the work, to show it grows linearly (no quadratic
 * corner) and to give a per-unit cost.
 *
 *   body size 1 KB -> 1 MB     CleverTap upload, 4 PII fields, padded with non-PII event records;
 *                              bare node passthrough vs gateway passthrough vs gateway tokenizing
 *   PII fields 1 -> 1,000      N profile records with an Email each; warm (values seen before) and new
 *                              values (every request derives and stores N tokens in sqlite)
 *   detokenize 1 -> 10,000     the vault directly (cold: fresh gateway; warm: cached) and POST /v1/detokenize
 *
 * Each point is the median of sequential requests on one keep-alive connection (concurrency 1, so it
 * is per-request latency, not throughput), up to 2 s or 400 requests per point after 3 unrecorded ones.
 * Writes bench/results/<date>-scaling.{json,md} and one SVG plot per curve.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { Pool } from 'undici';
import { runnable } from './lib/build.js';
import { bodyFor, percentile, type BodySpec } from './lib/load.js';
import { startNodeChild, type RunningProcess } from './lib/proc.js';
import { linearFit, num, stamp, svgPlot, table, writeResult, type Series } from './lib/report.js';
import { clevertapRules, gatewayEnv, ROOT } from './lib/scenario.js';
import { detokenizeCurve } from './lib/vault-detok.js';
import { detectTools, startUpstream } from './run.js';

const BODY_SIZES = [1, 4, 16, 64, 256, 1024].map((k) => k * 1024);
const FIELD_COUNTS = [1, 3, 10, 30, 100, 300, 1000];
const DETOK_SIZES = [1, 10, 100, 1000, 10_000];

const PASS_RULES = `version: 1
upstreams:
  up: { url: "\${BENCH_UPSTREAM_URL}" }
routes:
  - id: upload
    match: { method: POST, path: /pass/1/upload }
    upstream: up
`;

const PROFILE =
  '{"type":"profile","identity":"jack@gmail.com","ts":1468308340,"profileData":{"Name":"Jack Montana",' +
  '"Email":"jack@gmail.com","Phone":"+14155551234","Gender":"M","Customer Type":"Platinum"}}';

/** A CleverTap upload of about `bytes` bytes: one profile (4 PII fields) and non-PII events as padding. */
export function paddedUpload(bytes: number): string {
  const event = (desc: number): string =>
    `{"type":"event","identity":"6264372124","ts":1468308340,"evtName":"Product viewed",` +
    `"evtData":{"Product name":"Casio Chronograph Watch","Price":59.99,"Description":"${'x'.repeat(desc)}"}}`;
  const records = [PROFILE];
  let size = 8 + PROFILE.length;
  const full = event(800).length + 1;
  while (size + full <= bytes) {
    records.push(event(800));
    size += full;
  }
  const rest = bytes - size - event(0).length - 1;
  if (rest > 0) records.push(event(rest));
  return `{"d":[${records.join(',')}]}`;
}

/** N profile records with one Email each; `{{n}}` (when kept) makes every request's values new. */
export function emailsUpload(n: number, tag: string): string {
  const records: string[] = [];
  for (let i = 0; i < n; i++) records.push(`{"type":"profile","profileData":{"Email":"u${tag}.${i}@example.com","Gender":"F"}}`);
  return `{"d":[${records.join(',')}]}`;
}

interface Latency {
  readonly median: number;
  readonly p90: number;
  readonly count: number;
}

async function sequential(pool: Pool, p: string, body: BodySpec, prefix: string): Promise<Latency> {
  const times: number[] = [];
  const until = performance.now() + 2000;
  for (let i = 0; ; i++) {
    const b = bodyFor(body, prefix, i);
    const t0 = performance.now();
    const res = await pool.request({ method: 'POST', path: p, headers: { 'content-type': 'application/json' }, body: b });
    const text = await res.body.text();
    const dt = performance.now() - t0;
    if (res.statusCode !== 200) throw new Error(`${p}: status ${res.statusCode}: ${text.slice(0, 300)}`);
    if (i >= 3) times.push(dt);
    if (times.length >= 400 || (times.length >= 10 && performance.now() > until)) break;
  }
  times.sort((a, b) => a - b);
  return { median: percentile(times, 50), p90: percentile(times, 90), count: times.length };
}

function fitLine(name: string, pts: readonly (readonly [number, number])[], unit: string, scale: number): string {
  const f = linearFit(pts);
  return `${name}: ${num(f.b * scale)} ${unit} per step, intercept ${num(f.a)} ms, R^2 ${f.r2.toFixed(4)}`;
}

export async function main(): Promise<void> {
  const tools = detectTools();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pii-gw-scaling-'));
  const startedAt = new Date();
  const name = `${stamp(startedAt)}-scaling`;
  const up = await startUpstream(tmp, tools.nginx);
  console.log(`scaling: upstream ${up.kind}; sequential requests, median per point`);
  const procs: RunningProcess[] = [];
  const pools: Pool[] = [];
  try {
    const env = {
      ...gatewayEnv(path.join(tmp, 'gw'), { 'clevertap.yaml': clevertapRules(), 'pass.yaml': PASS_RULES }, {
        PII_GATEWAY_LOG_LEVEL: 'warn',
        PII_GATEWAY_BODY_LIMIT: '4mb',
      }),
      BENCH_UPSTREAM_URL: up.url,
      CLEVERTAP_URL: up.url,
    };
    const gw = await startNodeChild({ script: await runnable(path.join(ROOT, 'bench/subjects/gateway.ts')), env, logFile: path.join(tmp, 'gw.log') });
    procs.push(gw);
    const bare = await startNodeChild({
      script: await runnable(path.join(ROOT, 'bench/peers/bare-passthrough.ts')),
      env: { NODE_ENV: 'production', BENCH_UPSTREAM_URL: up.url },
      logFile: path.join(tmp, 'bare.log'),
    });
    procs.push(bare);
    const gwPool = new Pool(gw.info.proxy!, { connections: 1 });
    const barePool = new Pool(bare.info.url!, { connections: 1 });
    pools.push(gwPool, barePool);

    // 1. Body size.
    const bodyRows: { bytes: number; bare: Latency; pass: Latency; tok: Latency }[] = [];
    for (const size of BODY_SIZES) {
      const body: BodySpec = { fixed: paddedUpload(size) };
      const row = {
        bytes: Buffer.byteLength(body.fixed),
        bare: await sequential(barePool, '/1/upload', body, ''),
        pass: await sequential(gwPool, '/pass/1/upload', body, ''),
        tok: await sequential(gwPool, '/1/upload', body, ''),
      };
      bodyRows.push(row);
      console.log(`  body ${num(row.bytes / 1024)} KB: bare ${num(row.bare.median)} ms, gateway passthrough ${num(row.pass.median)} ms, tokenize ${num(row.tok.median)} ms`);
    }

    // 2. PII fields per request.
    const fieldRows: { n: number; bytes: number; warm: Latency; fresh: Latency }[] = [];
    for (const n of FIELD_COUNTS) {
      const warmBody: BodySpec = { fixed: emailsUpload(n, 'w') };
      const freshBody: BodySpec = { template: emailsUpload(n, '{{n}}') };
      const row = {
        n,
        bytes: Buffer.byteLength(warmBody.fixed),
        warm: await sequential(gwPool, '/1/upload', warmBody, ''),
        fresh: await sequential(gwPool, '/1/upload', freshBody, String(1000 + n)),
      };
      fieldRows.push(row);
      console.log(`  ${n} fields: warm ${num(row.warm.median)} ms, new values ${num(row.fresh.median)} ms`);
    }

    // 3. Detokenize batch size (in-process gateway on its own sqlite file).
    console.log('  detokenize batches (vault directly and POST /v1/detokenize)...');
    const detok = await detokenizeCurve(path.join(tmp, 'vault'), DETOK_SIZES, { coldRuns: 3, warmRuns: 20, api: true });
    for (const d of detok) console.log(`  detokenize ${d.n}: cold ${num(d.coldMs)} ms, warm ${num(d.warmMs)} ms, API ${num(d.apiMs)} ms`);

    // Report.
    const bodyTable = table(
      ['body', 'bare node ms', 'gateway passthrough ms', 'gateway tokenize ms', 'tokenize - passthrough ms', 'gateway passthrough MB/s', 'tokenize MB/s'],
      bodyRows.map((r) => [
        `${num(r.bytes / 1024)} KB`,
        num(r.bare.median),
        num(r.pass.median),
        num(r.tok.median),
        num(r.tok.median - r.pass.median),
        num(r.bytes / 2 ** 20 / (r.pass.median / 1000)),
        num(r.bytes / 2 ** 20 / (r.tok.median / 1000)),
      ]),
    );
    const fieldTable = table(
      ['PII fields', 'body KB', 'warm ms', 'warm us/field', 'new values ms', 'new values us/field'],
      fieldRows.map((r) => [
        String(r.n),
        num(r.bytes / 1024),
        num(r.warm.median),
        num((r.warm.median * 1000) / r.n),
        num(r.fresh.median),
        num((r.fresh.median * 1000) / r.n),
      ]),
    );
    const detokTable = table(
      ['tokens', 'vault cold ms', 'vault warm ms', 'warm us/token', 'POST /v1/detokenize ms', 'API us/token'],
      detok.map((d) => [String(d.n), num(d.coldMs), num(d.warmMs), num((d.warmMs * 1000) / d.n), num(d.apiMs), num(((d.apiMs ?? NaN) * 1000) / d.n)]),
    );
    const fits = [
      fitLine('gateway tokenize vs body size', bodyRows.map((r) => [r.bytes / 1024, r.tok.median]), 'ms/KB', 1),
      fitLine('gateway passthrough vs body size', bodyRows.map((r) => [r.bytes / 1024, r.pass.median]), 'ms/KB', 1),
      fitLine('tokenize, warm, vs fields', fieldRows.map((r) => [r.n, r.warm.median]), 'ms/field', 1),
      fitLine('tokenize, new values, vs fields', fieldRows.map((r) => [r.n, r.fresh.median]), 'ms/field', 1),
      fitLine('detokenize cold vs tokens', detok.map((d) => [d.n, d.coldMs]), 'ms/token', 1),
      fitLine('detokenize warm vs tokens', detok.map((d) => [d.n, d.warmMs]), 'ms/token', 1),
      fitLine('POST /v1/detokenize vs tokens', detok.map((d) => [d.n, d.apiMs ?? NaN]), 'ms/token', 1),
    ];
    const series = {
      body: [
        { name: 'bare node:http + undici', points: bodyRows.map((r) => [r.bytes / 1024, r.bare.median] as const) },
        { name: 'gateway passthrough', points: bodyRows.map((r) => [r.bytes / 1024, r.pass.median] as const) },
        { name: 'gateway tokenize (4 PII fields)', points: bodyRows.map((r) => [r.bytes / 1024, r.tok.median] as const) },
      ],
      fields: [
        { name: 'warm (values seen before)', points: fieldRows.map((r) => [r.n, r.warm.median] as const) },
        { name: 'new values (sqlite inserts)', points: fieldRows.map((r) => [r.n, r.fresh.median] as const) },
      ],
      detok: [
        { name: 'vault, cold (fresh process)', points: detok.map((d) => [d.n, d.coldMs] as const) },
        { name: 'vault, warm cache', points: detok.map((d) => [d.n, d.warmMs] as const) },
        { name: 'POST /v1/detokenize (warm)', points: detok.map((d) => [d.n, d.apiMs ?? NaN] as const) },
      ],
    } satisfies Record<string, Series[]>;
    const plots = {
      body: svgPlot({ title: 'Latency vs body size (concurrency 1, median)', xLabel: 'body KB', yLabel: 'ms', series: series.body, logX: true, logY: true }),
      fields: svgPlot({ title: 'Tokenize latency vs PII fields per request', xLabel: 'PII fields', yLabel: 'ms', series: series.fields, logX: true, logY: true }),
      detok: svgPlot({ title: 'Detokenize batch latency vs batch size', xLabel: 'tokens', yLabel: 'ms', series: series.detok, logX: true, logY: true }),
    };
    for (const [k, svg] of Object.entries(plots)) writeResult(`${name}-${k}.svg`, svg);
    const md = [
      `# pii-gateway scaling, ${startedAt.toISOString()}`,
      '',
      `Upstream: ${up.kind}. Sequential requests on one keep-alive connection; each figure is a median. ` +
        'Log-log plots: a straight line of slope 1 is linear growth; a flat start is the fixed per-request cost.',
      '',
      '## Body size (4 PII fields, padded with non-PII events)',
      '',
      bodyTable,
      '',
      `![body](${name}-body.svg)`,
      '',
      '## PII fields per request (Email per profile record)',
      '',
      fieldTable,
      '',
      `![fields](${name}-fields.svg)`,
      '',
      '## Detokenize batch size (sqlite vault)',
      '',
      detokTable,
      '',
      `![detokenize](${name}-detok.svg)`,
      '',
      '## Linear fits (least squares over all points)',
      '',
      ...fits.map((f) => `- ${f}`),
      '',
    ].join('\n');
    writeResult(`${name}.json`, { date: startedAt.toISOString(), upstream: up.kind, body: bodyRows, fields: fieldRows, detokenize: detok, fits });
    writeResult(`${name}.md`, md);
    console.log('\n' + md);
    console.log(`wrote bench/results/${name}.{json,md} and ${name}-{body,fields,detok}.svg`);
  } finally {
    await Promise.all(pools.map((p) => p.close()));
    await Promise.all(procs.map((p) => p.stop()));
    await up.proc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
