/**
 * Interleaved A/B of code versions on a shared, noisy machine: every subject (one per `<tree>:<id>`) is up at
 * once and gets short wrk slices (-c50) in alternating order, so every version sees the same machine state;
 * CPU per request comes from /proc per slice. Each tree is a checkout (e.g. `git archive <rev> | tar -x -C dir`,
 * with node_modules linked) whose bench/lib/subjects.ts starts its own gateway from sources (tsx).
 *
 *   node --import tsx bench/ab-interleaved.ts <slices> <seconds> /tmp/old:bare /tmp/old:gw-pass /tmp/new:gw-pass
 *
 * Prints per-subject CPU us/request (median and every slice) and, per slice, the first subject's CPU over
 * each other's (efficiency relative to the first, e.g. the bare peer).
 */
import { mkdtempSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { saturate } from './lib/load.js';
import { cpuSeconds, machineBusySeconds } from './lib/proc.js';
import { detectTools, startUpstream } from './run.js';

const [slicesArg, secArg, ...specs] = process.argv.slice(2);
const slices = Number(slicesArg), seconds = Number(secArg);
const tools = detectTools();
const tmp = mkdtempSync(path.join(os.tmpdir(), 'ab-il-'));
const up = await startUpstream(tmp, tools.nginx);
const subjects: { name: string; s: any; cpu: number[]; rps: number[] }[] = [];
try {
for (const spec of specs) {
  const [tree, id] = spec.split(':');
  const mod = await import(`${tree}/bench/lib/subjects.ts`);
  const dir = path.join(tmp, `${subjects.length}-${id}`);
  (await import('node:fs')).mkdirSync(dir);
  const s = await mod.startSubject({ tmp: dir, nginx: tools.nginx, upstreamUrl: up.url, upstream: up.proc, gatewayFromSources: true }, id);
  const problem = await s.check();
  if (problem) throw new Error(`${spec}: ${problem}`);
  await saturate(tools.wrk, s.target, { seconds: 3, connections: 50, scriptFile: path.join(dir, 'w.lua'), prefix: '1000' });
  subjects.push({ name: spec, s, cpu: [], rps: [] });
}
let other = 0;
for (let i = 0; i < slices; i++) {
  const order = i % 2 === 0 ? subjects : [...subjects].reverse();
  for (const x of order) {
    const pid = x.s.proc.pid;
    const c0 = cpuSeconds(pid), m0 = machineBusySeconds();
    const r = await saturate(tools.wrk, x.s.target, { seconds, connections: 50, scriptFile: path.join(tmp, 'w.lua'), prefix: String(2000 + i) });
    const c1 = cpuSeconds(pid), m1 = machineBusySeconds();
    x.cpu.push(((c1 - c0) * 1e6) / (r.rps * r.seconds));
    x.rps.push(r.rps);
    other += m1 - m0 - (c1 - c0);
  }
}
const med = (a: number[]) => { const s = [...a].sort((p, q) => p - q); return s[Math.floor(s.length / 2)]!; };
for (const x of subjects) console.log(`${x.name}\tCPU us/req median ${med(x.cpu).toFixed(1)}  [${x.cpu.map((v) => v.toFixed(0)).join(' ')}]  rps median ${med(x.rps).toFixed(0)}`);
const base = subjects[0]!;
for (const x of subjects.slice(1)) {
  const ratios = x.cpu.map((v, i) => base.cpu[i]! / v);
  console.log(`${base.name} / ${x.name} per-slice CPU ratio (efficiency vs first): median ${med(ratios).toFixed(3)} [${ratios.map((v) => v.toFixed(2)).join(' ')}]`);
}
console.log(`machine busy outside subjects (incl. wrk+upstream) per slice-second: ${(other / (slices * subjects.length * seconds)).toFixed(2)} cores`);
} finally {
  for (const x of subjects) await x.s.stop();
  await up.proc.stop();
}
process.exit(0);
