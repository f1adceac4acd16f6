/**
 * Reads a V8 .cpuprofile (from `node --cpu-prof`) and summarizes where the time went: self time by
 * function, by area (our src/ modules, each node_modules package, node internals, GC), and synchronous
 * inclusive time of chosen frames. Pure functions plus a CLI:
 *
 *   node --import tsx bench/profile-summary.ts <file.cpuprofile> [--skip-ms 3000] [--top 25]
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { num, table } from './lib/report.js';
import { ROOT } from './lib/scenario.js';

interface CallFrame {
  functionName: string;
  url: string;
  lineNumber: number;
  columnNumber: number;
}
interface ProfileNode {
  id: number;
  callFrame: CallFrame;
  children?: number[];
}
export interface CpuProfile {
  nodes: ProfileNode[];
  startTime: number;
  endTime: number;
  samples: number[];
  timeDeltas: number[];
}

export interface Row {
  readonly key: string;
  readonly ms: number;
  readonly pct: number;
}

export interface Summary {
  /** Sampled time considered (after skip), ms, idle excluded. */
  readonly busyMs: number;
  readonly idleMs: number;
  readonly selfByFunction: Row[];
  readonly selfByArea: Row[];
  readonly inclusive: Row[];
}

/** Where a frame's code lives: 'src/server', 'hono', '@hono/node-server', 'node:http', '(gc)', ... */
export function areaOf(cf: CallFrame): string {
  const u = cf.url;
  if (u === '') {
    if (cf.functionName.startsWith('(')) return cf.functionName; // (garbage collector), (program), (idle)
    return '(native)';
  }
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) {
    const rest = u.slice(nm + 14).split('/');
    return rest[0]!.startsWith('@') ? `${rest[0]}/${rest[1]}` : rest[0]!;
  }
  if (u.startsWith('node:')) {
    const m = /^node:(?:internal\/)?([^/]+)/.exec(u);
    return `node:${m?.[1] ?? u.slice(5)}`;
  }
  const file = u.startsWith('file://') ? decodeURIComponent(new URL(u).pathname) : u;
  const rel = path.relative(ROOT, file);
  if (!rel.startsWith('..')) {
    const parts = rel.split('/');
    return parts.length > 2 ? `${parts[0]}/${parts[1]}` : parts[0]!;
  }
  return file;
}

export function frameName(cf: CallFrame): string {
  const u = cf.url;
  let where = u;
  const nm = u.lastIndexOf('/node_modules/');
  if (nm >= 0) where = u.slice(nm + 14);
  else if (u.startsWith('file://')) where = path.relative(ROOT, decodeURIComponent(new URL(u).pathname));
  return `${cf.functionName || '(anonymous)'}${where ? ` ${where}:${cf.lineNumber + 1}` : ''}`;
}

/**
 * @param skipMs samples in the first skipMs of the profile are ignored (start-up, warm-up)
 * @param inclusivePatterns frames (by frameName) whose synchronous inclusive time is reported
 */
export function summarize(profile: CpuProfile, skipMs = 0, top = 25, inclusivePatterns: readonly RegExp[] = []): Summary {
  const byId = new Map<number, ProfileNode>();
  const parent = new Map<number, number>();
  for (const n of profile.nodes) {
    byId.set(n.id, n);
    for (const c of n.children ?? []) parent.set(c, n.id);
  }
  const self = new Map<string, number>();
  const area = new Map<string, number>();
  const incl = new Map<string, number>();
  let t = 0;
  let busy = 0;
  let idle = 0;
  for (let i = 0; i < profile.samples.length; i++) {
    t += profile.timeDeltas[i] ?? 0;
    const dt = (profile.timeDeltas[i + 1] ?? 0) / 1000; // ms until the next sample
    if (t / 1000 < skipMs) continue;
    const node = byId.get(profile.samples[i]!)!;
    if (node.callFrame.functionName === '(idle)') {
      idle += dt;
      continue;
    }
    busy += dt;
    const fn = frameName(node.callFrame);
    self.set(fn, (self.get(fn) ?? 0) + dt);
    const a = areaOf(node.callFrame);
    area.set(a, (area.get(a) ?? 0) + dt);
    if (inclusivePatterns.length > 0) {
      const seen = new Set<string>();
      for (let id: number | undefined = node.id; id !== undefined; id = parent.get(id)) {
        const name = frameName(byId.get(id)!.callFrame);
        for (const p of inclusivePatterns) {
          const k = p.source;
          if (!seen.has(k) && p.test(name)) {
            seen.add(k);
            incl.set(k, (incl.get(k) ?? 0) + dt);
          }
        }
      }
    }
  }
  const rows = (m: Map<string, number>, n: number): Row[] =>
    [...m.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, n)
      .map(([key, ms]) => ({ key, ms, pct: (100 * ms) / busy }));
  return { busyMs: busy, idleMs: idle, selfByFunction: rows(self, top), selfByArea: rows(area, 30), inclusive: rows(incl, 100) };
}

export function summaryMarkdown(title: string, s: Summary): string {
  const r = (rows: Row[]): string[][] => rows.map((x) => [x.key.replace(/\|/g, '\\|'), num(x.ms), `${x.pct.toFixed(1)}%`]);
  return [
    `### ${title}`,
    '',
    `Busy ${num(s.busyMs)} ms sampled, idle ${num(s.idleMs)} ms.`,
    '',
    'Self time by area:',
    '',
    table(['area', 'self ms', '% of busy'], r(s.selfByArea)),
    '',
    'Top functions by self time:',
    '',
    table(['function', 'self ms', '% of busy'], r(s.selfByFunction)),
    '',
    ...(s.inclusive.length > 0
      ? ['Synchronous inclusive time of selected frames (a frame and everything it calls, same tick):', '', table(['frame pattern', 'ms', '% of busy'], r(s.inclusive)), '']
      : []),
  ].join('\n');
}

/** Frames worth seeing inclusively in the gateway's request path. */
export const GATEWAY_FRAMES: readonly RegExp[] = [
  /^getRequestListener|^requestListener|@hono\/node-server/,
  /hono\/dist/,
  /^proxyRoute /,
  /^transformBody /,
  /src\/codecs\//,
  /src\/vault\//,
  /src\/tokens\//,
  /^readBody /,
  /^forward .*upstream/,
  /undici\//,
  /pino\/|sonic-boom\//,
  /^newRequest|^Request |request\.js/,
  /^newHeadersFromIncoming|^buildOutgoingHttpHeaders|response\.js/,
];

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'skip-ms': { type: 'string' }, top: { type: 'string' } },
  });
  for (const file of positionals) {
    const profile = JSON.parse(readFileSync(file, 'utf8')) as CpuProfile;
    const s = summarize(profile, Number(values['skip-ms'] ?? 0), Number(values.top ?? 25), GATEWAY_FRAMES);
    console.log(summaryMarkdown(path.basename(file), s));
  }
}
