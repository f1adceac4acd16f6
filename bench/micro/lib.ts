/**
 * Shared harness of the micro-benchmarks: tinybench, a fixed time per task, a markdown table of
 * mean / p50 / p99 per operation, and one `MICRO_JSON` line that bench/micro/run.ts collects.
 * Micro-benchmarks import internal modules on purpose (they time one function); when an internal API
 * changes, the micro-benchmark that uses it needs the same change. The end-to-end bench (bench/run.ts)
 * only uses public entry points.
 */
import { Bench, type FnOptions } from 'tinybench';
import { table } from '../lib/report.js';

export interface MicroTask {
  readonly name: string;
  readonly fn: () => unknown;
  readonly opts?: FnOptions;
}

export interface MicroRow {
  readonly name: string;
  readonly meanUs: number;
  readonly p50Us: number;
  readonly p99Us: number;
  readonly opsPerSec: number;
  readonly samples: number;
}

const fmt = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : us >= 10 ? `${us.toFixed(1)} us` : `${us.toFixed(2)} us`);

export async function runMicro(title: string, tasks: readonly MicroTask[], timeMs = Number(process.env.BENCH_MICRO_MS) || 1000): Promise<MicroRow[]> {
  const bench = new Bench({ name: title, time: timeMs, warmupTime: Math.min(300, timeMs / 3) });
  for (const t of tasks) bench.add(t.name, t.fn, t.opts);
  await bench.run();
  const rows: MicroRow[] = bench.tasks.map((task) => {
    const r = task.result;
    if (r.state !== 'completed') throw new Error(`${title} / ${task.name}: ${r.state}${'error' in r ? `: ${String(r.error)}` : ''}`);
    return {
      name: task.name,
      meanUs: r.latency.mean * 1000,
      p50Us: r.latency.p50 * 1000,
      p99Us: r.latency.p99 * 1000,
      opsPerSec: 1000 / r.latency.mean,
      samples: r.latency.samplesCount,
    };
  });
  console.log(`## ${title}\n`);
  console.log(
    table(
      ['operation', 'mean', 'p50', 'p99', 'ops/s', 'samples'],
      rows.map((r) => [r.name, fmt(r.meanUs), fmt(r.p50Us), fmt(r.p99Us), Math.round(r.opsPerSec).toLocaleString('en-US'), String(r.samples)]),
    ),
  );
  console.log(`\nMICRO_JSON ${JSON.stringify({ title, rows })}\n`);
  return rows;
}
