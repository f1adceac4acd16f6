/**
 * `npm run bench`: pii-gateway against real peers, side by side, in one run, on this machine.
 *
 * One shared upstream (nginx `return 200` when installed, else a node:http stand-in) and one load
 * generator (wrk when installed, else autocannon). Each subject runs in a process of its own (one
 * worker) and is loaded alone, one at a time: a sanity request, a warm-up, a saturation run (wrk -t1
 * -c50, BENCH_DURATION seconds; BENCH_ROUNDS rounds over all subjects, best kept), then a fixed-rate run
 * (1,000 req/s, open loop, see lib/load.ts). CPU seconds and peak RSS are read from /proc for the
 * subject's pid only. Ratios are taken between subjects of this same run.
 *
 *   npm run bench                        the comparison table (about 4-5 minutes)
 *   npm run bench -- --only bare,gw-pass  some subjects only
 *   npm run bench -- --scaling           scaling curves (bench/scaling.ts)
 *   npm run bench -- --soak 600          RSS over a long saturation run (bench/soak.ts)
 *   npm run bench -- --profile           CPU profiles of the gateway routes (bench/profile.ts)
 *   npm run bench -- --micro             tinybench micro-benchmarks (bench/micro/)
 *   npm run bench -- --vaults            vault backends side by side: sqlite, postgres, http, vaultless (bench/vaults.ts)
 *
 * Environment: BENCH_DURATION (s, default 10), BENCH_WARMUP (s, 3), BENCH_CONNECTIONS (50),
 * BENCH_RATE (req/s, 1000), BENCH_RATE_DURATION (s, 8), BENCH_ROUNDS (1; best round kept), BENCH_NO_NGINX=1 / BENCH_NO_WRK=1 to force the
 * fallbacks, BENCH_NICE=-10 to run at a higher priority on a shared machine. Only 127.0.0.1 is ever
 * targeted.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { runnable } from './lib/build.js';
import { findWrk, fixedRate, saturate, wrkVersion, type FixedRateResult, type SaturationResult } from './lib/load.js';
import { findNginx, nginxVersion, startNginx } from './lib/nginx.js';
import {
  cpuSeconds,
  loadAverage,
  machineBusySeconds,
  memoryMB,
  selfAndReapedChildrenCpuSeconds,
  startNodeChild,
  type RunningProcess,
} from './lib/proc.js';
import { num, stamp, table, writeResult } from './lib/report.js';
import { clevertapUpload, ROOT } from './lib/scenario.js';
import { Skip, startSubject, SUBJECTS, type Context, type Started, type SubjectId } from './lib/subjects.js';
import { detokenizeCurve, type DetokPoint } from './lib/vault-detok.js';

export interface SubjectResult {
  readonly id: SubjectId;
  readonly n: string;
  readonly label: string;
  readonly skipped?: string;
  readonly failed?: string;
  readonly saturation?: SaturationResult;
  readonly fixed?: FixedRateResult;
  /** CPU seconds of the subject's process during the saturation window. */
  readonly cpuSeconds?: number;
  /** CPU ms per 1,000 requests at saturation (lower is more efficient). */
  readonly cpuMsPer1k?: number;
  /** CPU utilisation (1 = one core) during the fixed-rate window. */
  readonly cpuAtRate?: number;
  readonly peakRssMB?: number;
  readonly ratioVsBare?: number;
  readonly ratioVsNginx?: number;
  /**
   * Cores kept busy during the saturation window by processes that are not part of the measurement
   * (machine busy time minus subject, upstream, load generator and this orchestrator). Near 0 on a quiet
   * machine; anything above ~0.2 means the figures of this subject are disturbed.
   */
  readonly otherCores?: number;
}

export interface Settings {
  readonly seconds: number;
  readonly warmup: number;
  readonly connections: number;
  readonly rate: number;
  readonly rateSeconds: number;
  /** Saturation rounds over all subjects; each subject's best round is reported. */
  readonly rounds: number;
}

function settingsFromEnv(): Settings {
  const n = (name: string, def: number): number => {
    const v = Number(process.env[name]);
    return Number.isFinite(v) && v > 0 ? v : def;
  };
  return {
    seconds: n('BENCH_DURATION', 10),
    warmup: n('BENCH_WARMUP', 3),
    connections: n('BENCH_CONNECTIONS', 50),
    rate: n('BENCH_RATE', 1000),
    rateSeconds: n('BENCH_RATE_DURATION', 8),
    rounds: Math.round(n('BENCH_ROUNDS', 1)),
  };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
let prefixSeq = 1000 + Math.floor(Math.random() * 8000);
/** A fresh 4-digit prefix for template bodies, so no two load runs send the same values. */
const nextPrefix = (): string => String(prefixSeq++ % 9000 + 1000);

export interface Tools {
  readonly nginx: string | null;
  readonly wrk: string | null;
  readonly upstreamKind: string;
  readonly loadgen: string;
}

export function detectTools(): Omit<Tools, 'upstreamKind' | 'loadgen'> {
  return {
    nginx: process.env.BENCH_NO_NGINX ? null : findNginx(),
    wrk: process.env.BENCH_NO_WRK ? null : findWrk(),
  };
}

/** Starts the shared upstream: nginx when installed, else the node:http stand-in. */
export async function startUpstream(tmp: string, nginx: string | null): Promise<{ proc: RunningProcess; url: string; kind: string }> {
  if (nginx) {
    const proc = await startNginx(nginx, path.join(tmp, 'upstream'), { kind: 'upstream' });
    return { proc, url: proc.url, kind: `nginx ${nginxVersion(nginx)} (return 200, 1 process)` };
  }
  const proc = await startNodeChild({
    script: await runnable(path.join(ROOT, 'bench/peers/node-upstream.ts')),
    logFile: path.join(tmp, 'upstream.log'),
  });
  return { proc, url: proc.info.url!, kind: 'node:http stand-in (nginx not installed)' };
}

interface Live {
  readonly id: SubjectId;
  readonly base: { id: SubjectId; n: string; label: string };
  readonly started: Started;
  readonly script: string;
  best?: { sat: SaturationResult; cpu: number; otherCores: number; peak: number };
}

/** One saturation window with the CPU of the subject and of everything else on the machine around it. */
async function window(ctx: Context, l: Live, s: Settings, wrk: string | null): Promise<NonNullable<Live['best']>> {
  const pid = l.started.proc.pid;
  const upPid = ctx.upstream.pid;
  const sep = upPid !== pid;
  const c0 = cpuSeconds(pid);
  const [m0, u0, o0, w0] = [machineBusySeconds(), sep ? cpuSeconds(upPid) : 0, selfAndReapedChildrenCpuSeconds(), performance.now()];
  const sat = await saturate(wrk, l.started.target, { seconds: s.seconds, connections: s.connections, scriptFile: l.script, prefix: nextPrefix() });
  const c1 = cpuSeconds(pid);
  const [m1, u1, o1, w1] = [machineBusySeconds(), sep ? cpuSeconds(upPid) : 0, selfAndReapedChildrenCpuSeconds(), performance.now()];
  const otherCores = (m1 - m0 - (c1 - c0) - (u1 - u0) - (o1 - o0)) / ((w1 - w0) / 1000);
  return { sat, cpu: c1 - c0, otherCores: Math.max(0, otherCores), peak: memoryMB(pid).peak };
}

/**
 * Starts every subject (each stays up, idle, while the others are measured), checks and warms each, then
 * runs BENCH_ROUNDS saturation rounds over all of them (a round's order is the table's order) and keeps
 * each subject's best round: on a shared machine other work only ever slows a subject down, so the best
 * round is the closest to the quiet-machine figure, and rounds spread over time make the ratios fairer.
 * Then the fixed-rate measurement of each, then peak RSS, then everything is stopped.
 */
async function measureAll(ctx: Context, ids: readonly SubjectId[], s: Settings, wrk: string | null, log: (m: string) => void): Promise<SubjectResult[]> {
  const out = new Map<SubjectId, SubjectResult>();
  const live: Live[] = [];
  try {
    for (const id of ids) {
      const def = SUBJECTS.find((x) => x.id === id)!;
      const base = { id, n: def.n, label: def.label };
      log(`(${def.n}) ${def.label}: starting`);
      let started: Started;
      try {
        started = await startSubject(ctx, id);
      } catch (err) {
        const skipped = err instanceof Skip;
        log(`  ${skipped ? 'skipped' : 'failed to start'}: ${(err as Error).message}`);
        out.set(id, skipped ? { ...base, skipped: (err as Error).message } : { ...base, failed: (err as Error).message });
        continue;
      }
      const problem = await started.check().catch((err: unknown) => `check failed: ${(err as Error).message}`);
      if (problem) {
        log(`  sanity check failed: ${problem}`);
        out.set(id, { ...base, failed: problem });
        await started.stop();
        continue;
      }
      const l: Live = { id, base, started, script: path.join(ctx.tmp, `${id}.lua`) };
      await saturate(wrk, started.target, { seconds: s.warmup, connections: s.connections, scriptFile: l.script, prefix: nextPrefix() });
      live.push(l);
    }
    for (let round = 1; round <= s.rounds; round++) {
      for (const l of live) {
        await sleep(300);
        const w = await window(ctx, l, s, wrk);
        log(
          `(${l.base.n}) round ${round}: ${num(w.sat.rps)} req/s, p50 ${num(w.sat.p50)} ms, p99 ${num(w.sat.p99)} ms, ` +
            `errors ${w.sat.errors}, CPU ${num(w.cpu)} s, other load ${num(w.otherCores, 2)} cores`,
        );
        if (!l.best || w.sat.rps > l.best.sat.rps) l.best = w;
      }
    }
    for (const l of live) {
      const pid = l.started.proc.pid;
      await sleep(300);
      // One second to open the client's connections and warm its code, not recorded.
      await fixedRate(l.started.target, { rate: s.rate, seconds: 1, prefix: nextPrefix() });
      const c0 = cpuSeconds(pid);
      const t0 = performance.now();
      const fixed = await fixedRate(l.started.target, { rate: s.rate, seconds: s.rateSeconds, prefix: nextPrefix() });
      const cpuAtRate = (cpuSeconds(pid) - c0) / ((performance.now() - t0) / 1000);
      const best = l.best!;
      const peak = Math.max(memoryMB(pid).peak, best.peak);
      log(`(${l.base.n}) @${s.rate}/s: p50 ${num(fixed.p50)} ms, p99 ${num(fixed.p99)} ms, CPU ${num(cpuAtRate * 100)}% of a core; peak RSS ${num(peak)} MB`);
      out.set(l.id, {
        ...l.base,
        saturation: best.sat,
        fixed,
        cpuSeconds: best.cpu,
        cpuMsPer1k: (best.cpu * 1000 * 1000) / best.sat.requests,
        cpuAtRate,
        peakRssMB: peak,
        otherCores: best.otherCores,
      });
    }
  } finally {
    await Promise.all(live.map((l) => l.started.stop()));
  }
  return ids.map((id) => out.get(id)!).filter(Boolean);
}

export interface Target {
  readonly name: string;
  readonly goal: string;
  readonly value: string;
  readonly met: boolean | null;
}

function targets(results: readonly SubjectResult[], detok: readonly DetokPoint[]): Target[] {
  const get = (id: SubjectId): SubjectResult | undefined => results.find((r) => r.id === id && r.saturation);
  const out: Target[] = [];
  const ratio = (name: string, goal: number, a?: SubjectResult, b?: SubjectResult): void => {
    if (!a?.saturation || !b?.saturation) return void out.push({ name, goal: `>= ${goal}x`, value: 'not measured', met: null });
    const v = a.saturation.rps / b.saturation.rps;
    // Requests per CPU-second of the subject's own process: barely moved by other work on the machine.
    const e = a.cpuMsPer1k && b.cpuMsPer1k ? b.cpuMsPer1k / a.cpuMsPer1k : NaN;
    out.push({
      name,
      goal: `>= ${goal}x`,
      value: `${v.toFixed(2)}x (${num(a.saturation.rps)} / ${num(b.saturation.rps)} req/s); per CPU-second ${e.toFixed(2)}x`,
      met: v >= goal,
    });
  };
  ratio('passthrough vs bare node:http+undici', 0.8, get('gw-pass'), get('bare'));
  ratio('tokenizing vs own passthrough', 0.7, get('gw-tok'), get('gw-pass'));
  ratio('tokenizing vs express peer', 2, get('gw-tok'), get('express'));
  const bare = get('bare');
  for (const id of ['gw-pass', 'gw-tok'] as const) {
    const g = get(id);
    const name = `p99 added over bare at ${bare?.fixed?.rate ?? 1000} req/s (${id})`;
    if (!g?.fixed || !bare?.fixed) out.push({ name, goal: '<= 1 ms', value: 'not measured', met: null });
    else {
      const d = g.fixed.p99 - bare.fixed.p99;
      out.push({ name, goal: '<= 1 ms', value: `${d.toFixed(3)} ms (${g.fixed.p99.toFixed(3)} - ${bare.fixed.p99.toFixed(3)})`, met: d <= 1 });
    }
  }
  const d500 = detok.find((p) => p.n === 500);
  if (d500) {
    out.push({ name: 'detokenize 500, warm cache (vault directly)', goal: '<= 2 ms', value: `${d500.warmMs.toFixed(3)} ms median, p99 ${d500.warmP99Ms.toFixed(3)}`, met: d500.warmMs <= 2 });
    out.push({ name: 'detokenize 500, cold, sqlite (vault directly)', goal: '<= 10 ms', value: `${d500.coldMs.toFixed(3)} ms median`, met: d500.coldMs <= 10 });
  }
  const gw = results.filter((r) => r.id.startsWith('gw-') && r.peakRssMB !== undefined);
  if (gw.length > 0) {
    const max = Math.max(...gw.map((r) => r.peakRssMB!));
    out.push({ name: 'peak RSS of any gateway subject (this run)', goal: '< 150 MB', value: `${max.toFixed(1)} MB (flatness: npm run bench -- --soak)`, met: max < 150 });
  }
  return out;
}

export function resultsTable(results: readonly SubjectResult[], rate: number): string {
  const rows = results.map((r) => {
    const name = `(${r.n}) ${r.label}`;
    if (!r.saturation) return [name, r.skipped ? `skipped: ${r.skipped}` : `failed: ${r.failed}`, '', '', '', '', '', '', '', '', '', ''];
    return [
      name,
      num(r.saturation.rps),
      num(r.ratioVsBare, 2),
      num(r.ratioVsNginx, 2),
      `${num(r.saturation.p50)} / ${num(r.saturation.p99)}`,
      `${num(r.fixed?.p50)} / ${num(r.fixed?.p99)}${r.saturation.rps < rate * 1.25 ? ' (near/over capacity)' : ''}`,
      num(r.cpuSeconds),
      num(r.cpuMsPer1k),
      num(r.cpuMsPer1k ? 1e6 / r.cpuMsPer1k : undefined),
      num(r.peakRssMB),
      String(r.saturation.errors + (r.fixed?.errors ?? 0)),
      num(r.otherCores, 2),
    ];
  });
  return table(
    ['subject', 'req/s', 'x bare (3)', 'x nginx (2)', 'p50 / p99 ms (sat.)', `p50 / p99 ms @${rate}/s`, 'CPU s (sat.)', 'CPU ms / 1k req', 'req per CPU-s', 'peak RSS MB', 'errors', 'other load (cores)'],
    rows,
  );
}

function targetsTable(ts: readonly Target[]): string {
  return table(
    ['target', 'goal', 'measured', 'met'],
    ts.map((t) => [t.name, t.goal, t.value, t.met === null ? '-' : t.met ? 'yes' : '**no**']),
  );
}

/**
 * BENCH_NICE=-10 (root only) raises the priority of this process before anything is spawned, so every
 * subject, the upstream and the load generator inherit it: on a machine shared with other work (test
 * runs, compilers) the bench then gets the CPU first and its figures move less. Off by default.
 */
function applyNice(): void {
  const nice = process.env.BENCH_NICE;
  if (nice === undefined || nice === '') return;
  try {
    os.setPriority(0, Number(nice));
    console.log(`priority: nice ${os.getPriority(0)} for the bench and every process it starts`);
  } catch (err) {
    console.log(`BENCH_NICE=${nice} not applied: ${(err as Error).message}`);
  }
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      scaling: { type: 'boolean' },
      soak: { type: 'string' },
      profile: { type: 'boolean' },
      micro: { type: 'boolean' },
      vaults: { type: 'boolean' },
      only: { type: 'string' },
      subject: { type: 'string' },
      'keep-tmp': { type: 'boolean' },
    },
    strict: true,
  });
  applyNice();
  if (values.scaling) return (await import('./scaling.js')).main();
  if (values.soak !== undefined) return (await import('./soak.js')).main(Number(values.soak) || 600, (values.subject ?? 'gw-tok') as SubjectId);
  if (values.profile) return (await import('./profile.js')).main();
  if (values.micro) return (await import('./micro/run.js')).main();
  if (values.vaults) return (await import('./vaults.js')).main();

  const s = settingsFromEnv();
  const only = values.only ? new Set(values.only.split(',')) : null;
  for (const id of only ?? []) {
    if (id !== 'detok' && !SUBJECTS.some((x) => x.id === id)) throw new Error(`--only: unknown subject '${id}' (${SUBJECTS.map((x) => x.id).join(', ')}, detok)`);
  }
  const tools = detectTools();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pii-gw-bench-'));
  const log = (m: string): void => console.log(m);
  const startedAt = new Date();
  const loadBefore = loadAverage();
  if (loadBefore > 0.5) log(`warning: load average ${loadBefore} before the run; other work on this machine will disturb the figures`);
  const up = await startUpstream(tmp, tools.nginx);
  const loadgen = tools.wrk ? `wrk ${wrkVersion(tools.wrk)} -t1 -c${s.connections}` : `autocannon -c${s.connections} (wrk not installed)`;
  log(`pii-gateway bench: upstream ${up.kind}; load ${loadgen}; ${s.rounds} x ${s.seconds} s per subject; fixed rate ${s.rate} req/s for ${s.rateSeconds} s`);
  log(`body: test/fixtures/providers/clevertap-upload.json (${Buffer.byteLength(clevertapUpload())} bytes); temp dir ${tmp}`);
  const ctx: Context = { tmp, nginx: tools.nginx, upstreamUrl: up.url, upstream: up.proc };
  const results: SubjectResult[] = [];
  let detok: DetokPoint[] = [];
  try {
    const ids = SUBJECTS.filter((d) => !only || only.has(d.id)).map((d) => d.id);
    results.push(...(await measureAll(ctx, ids, s, tools.wrk, log)));
    if (!only || only.has('detok')) {
      log('vault: detokenize 500 (sqlite; cold = fresh gateway, warm = cached)');
      detok = await detokenizeCurve(path.join(tmp, 'vault'), [500], { coldRuns: 5, warmRuns: 50, api: false });
      log(`  cold ${num(detok[0]!.coldMs)} ms, warm ${num(detok[0]!.warmMs)} ms`);
    }
  } finally {
    await up.proc.stop();
    if (!values['keep-tmp']) rmSync(tmp, { recursive: true, force: true });
  }

  const bare = results.find((r) => r.id === 'bare')?.saturation?.rps;
  const ngx = results.find((r) => r.id === 'nginx-proxy')?.saturation?.rps;
  const final = results.map((r) =>
    r.saturation ? { ...r, ratioVsBare: bare ? r.saturation.rps / bare : undefined, ratioVsNginx: ngx ? r.saturation.rps / ngx : undefined } : r,
  );
  const ts = targets(final, detok);
  const machine = {
    cpus: os.cpus().length,
    cpuModel: os.cpus()[0]?.model ?? 'unknown',
    memoryGB: Math.round(os.totalmem() / 2 ** 30),
    os: `${os.type()} ${os.release()}`,
    node: process.version,
  };
  const name = stamp(startedAt);
  const md = [
    `# pii-gateway bench, ${startedAt.toISOString()}`,
    '',
    `Machine: ${machine.cpus} CPUs (${machine.cpuModel}), ${machine.memoryGB} GB, ${machine.os}, Node ${machine.node}.`,
    `Load average ${loadBefore} before the run, ${loadAverage()} after (see the "other load" column).`,
    `Upstream: ${up.kind}. Load: ${loadgen}, ${s.seconds} s after a ${s.warmup} s warm-up (best of ${s.rounds} round(s)); fixed rate ${s.rate} req/s ` +
      `for ${s.rateSeconds} s (open-loop undici client, latency from send to end of body). Body: CleverTap upload fixture ` +
      `(${Buffer.byteLength(clevertapUpload())} bytes). Every subject is one process (one worker).`,
    '',
    resultsTable(final, s.rate),
    '',
    '## Targets',
    '',
    targetsTable(ts),
    '',
  ].join('\n');
  const json = { date: startedAt.toISOString(), machine, loadAverage: { before: loadBefore, after: loadAverage() }, upstream: up.kind, loadgen, settings: s, results: final, detokenize: detok, targets: ts };
  const jf = writeResult(`${name}.json`, json);
  const mf = writeResult(`${name}.md`, md);
  console.log('\n' + md);
  console.log(`wrote ${path.relative(ROOT, jf)} and ${path.relative(ROOT, mf)}`);
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
