/**
 * `npm run bench -- --soak 600 [--subject gw-tok]`: one gateway subject at saturation for a long run,
 * RSS sampled every 2 s from /proc, throughput per 10 s slice (consecutive wrk runs). Shows whether
 * memory stays bounded and flat: the slope of RSS over the second half of the run should be ~0.
 * `gw-tok-new` (a new profile per request) also grows the sqlite file and fills the vault cache up to its
 * bound (PII_GATEWAY_CACHE_MAX_ENTRIES / _MAX_BYTES), so its RSS rises until the cache is full.
 * Writes bench/results/<date>-soak.{json,md,svg}.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { percentile, saturate } from './lib/load.js';
import { cpuSeconds, memoryMB } from './lib/proc.js';
import { linearFit, num, stamp, svgPlot, table, writeResult } from './lib/report.js';
import { startSubject, SUBJECTS, type SubjectId } from './lib/subjects.js';
import { detectTools, startUpstream } from './run.js';

export async function main(seconds: number, subject: SubjectId = 'gw-tok'): Promise<void> {
  if (!SUBJECTS.some((s) => s.id === subject)) throw new Error(`--subject: unknown subject '${subject}'`);
  const connections = Number(process.env.BENCH_CONNECTIONS) || 50;
  const tools = detectTools();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pii-gw-soak-'));
  const startedAt = new Date();
  const up = await startUpstream(tmp, tools.nginx);
  const ctx = { tmp, nginx: tools.nginx, upstreamUrl: up.url, upstream: up.proc };
  console.log(`soak: ${subject} for ${seconds} s at saturation (-c${connections}); upstream ${up.kind}`);
  const started = await startSubject(ctx, subject);
  const samples: { t: number; rss: number }[] = [];
  const slices: { t: number; requests: number; rps: number; p99: number; errors: number; rss: number }[] = [];
  try {
    const problem = await started.check();
    if (problem) throw new Error(`sanity check failed: ${problem}`);
    const pid = started.proc.pid;
    const t0 = performance.now();
    const cpu0 = cpuSeconds(pid);
    const sample = (): void => void samples.push({ t: (performance.now() - t0) / 1000, rss: memoryMB(pid).rss });
    sample();
    const timer = setInterval(sample, 2000);
    let seq = 1000;
    try {
      while ((performance.now() - t0) / 1000 < seconds - 1) {
        const left = seconds - (performance.now() - t0) / 1000;
        const r = await saturate(tools.wrk, started.target, {
          seconds: Math.max(1, Math.min(10, Math.round(left))),
          connections,
          scriptFile: path.join(tmp, 'soak.lua'),
          prefix: String(seq++),
        });
        const t = (performance.now() - t0) / 1000;
        slices.push({ t, requests: r.requests, rps: r.rps, p99: r.p99, errors: r.errors, rss: memoryMB(pid).rss });
        console.log(`  ${num(t)} s: ${num(r.rps)} req/s, p99 ${num(r.p99)} ms, RSS ${num(memoryMB(pid).rss)} MB`);
      }
    } finally {
      clearInterval(timer);
    }
    sample();
    const cpu = cpuSeconds(pid) - cpu0;
    const peak = memoryMB(pid).peak;
    const second = samples.filter((s) => s.t >= seconds / 2);
    const fit = linearFit(second.map((s) => [s.t / 60, s.rss]));
    const warm = Math.min(20, seconds / 5);
    const rssAfterWarm = samples.filter((s) => s.t >= warm).map((s) => s.rss);
    // Flat = the last quarter's median RSS is within 5% of the median just after warm-up (a slope fitted
    // over a short run is mostly sampling noise; a leak shows as a level that keeps rising).
    const med = (xs: number[]): number => percentile([...xs].sort((a, b) => a - b), 50);
    const early = med(samples.filter((s) => s.t >= warm && s.t < warm + (seconds - warm) / 4).map((s) => s.rss));
    const late = med(samples.filter((s) => s.t >= seconds * 0.75).map((s) => s.rss));
    const growth = late - early;
    const name = `${stamp(startedAt)}-soak`;
    const svg = svgPlot({
      title: `RSS of ${subject} at saturation`,
      xLabel: 'seconds',
      yLabel: 'RSS MB',
      series: [{ name: 'VmRSS', points: samples.map((s) => [s.t, s.rss] as const) }],
    });
    writeResult(`${name}.svg`, svg);
    const total = slices.reduce((a, s) => a + s.requests, 0);
    const md = [
      `# pii-gateway soak, ${startedAt.toISOString()}`,
      '',
      `${subject} for ${seconds} s at saturation (wrk -c${connections}, 10 s slices), upstream ${up.kind}.`,
      '',
      table(
        ['measure', 'value'],
        [
          ['requests/s (mean of slices)', num(slices.reduce((a, s) => a + s.rps, 0) / slices.length)],
          ['requests', num(total)],
          ['errors', String(slices.reduce((a, s) => a + s.errors, 0))],
          ['CPU seconds', num(cpu)],
          ['peak RSS (VmHWM) MB', num(peak)],
          ['RSS after warm-up, min / max MB', `${num(Math.min(...rssAfterWarm))} / ${num(Math.max(...rssAfterWarm))}`],
          ['RSS slope over the second half, MB/min (noisy on short runs)', num(fit.b, 2)],
          ['RSS growth, median of the last quarter - median after warm-up, MB', num(growth, 1)],
          ['target: RSS < 150 MB and flat (growth < 5%)', peak < 150 && growth < 0.05 * early ? 'met' : '**not met**'],
        ],
      ),
      '',
      `![RSS over time](${name}.svg)`,
      '',
      table(
        ['t (s)', 'req/s', 'p99 ms', 'RSS MB'],
        slices.map((s) => [num(s.t), num(s.rps), num(s.p99), num(s.rss)]),
      ),
      '',
    ].join('\n');
    writeResult(`${name}.json`, { date: startedAt.toISOString(), subject, seconds, upstream: up.kind, peakRssMB: peak, cpuSeconds: cpu, slopeMBperMin: fit.b, growthMB: growth, samples, slices });
    writeResult(`${name}.md`, md);
    console.log('\n' + md);
    console.log(`wrote bench/results/${name}.{json,md,svg}`);
  } finally {
    await started.stop();
    await up.proc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
}
