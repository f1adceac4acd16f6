/**
 * `npm run bench -- --profile`: CPU profiles of the gateway at saturation on the passthrough, the
 * CleverTap tokenizing and the JSON dispatch (detokenize) routes (`node --cpu-prof`), summarized by bench/profile-summary.ts. The profile of
 * each subject skips the start-up and warm-up seconds. Raw profiles stay in bench/results/profiles/
 * (git-ignored; open them in Chrome DevTools > Performance or https://www.speedscope.app). The gateway runs
 * from its sources with tsx here (not the bundle) so that frames name their src/ file.
 * BENCH_PROFILE_SUBJECTS=gw-tok-new,gw-detok-form picks other subjects (ids as in lib/subjects.ts).
 */
import { copyFileSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { performance } from 'node:perf_hooks';
import { saturate } from './lib/load.js';
import { RESULTS_DIR, stamp, writeResult } from './lib/report.js';
import { startSubject, type SubjectId } from './lib/subjects.js';
import { GATEWAY_FRAMES, summarize, summaryMarkdown, type CpuProfile } from './profile-summary.js';
import { detectTools, startUpstream } from './run.js';

export async function main(): Promise<void> {
  const seconds = Number(process.env.BENCH_DURATION) || 10;
  const connections = Number(process.env.BENCH_CONNECTIONS) || 50;
  const tools = detectTools();
  const tmp = mkdtempSync(path.join(os.tmpdir(), 'pii-gw-profile-'));
  const startedAt = new Date();
  const name = `${stamp(startedAt)}-profile`;
  const outDir = path.join(RESULTS_DIR, 'profiles');
  mkdirSync(outDir, { recursive: true });
  const up = await startUpstream(tmp, tools.nginx);
  const sections: string[] = [];
  const json: Record<string, unknown> = {};
  try {
    for (const id of (process.env.BENCH_PROFILE_SUBJECTS?.split(',') ?? ['gw-pass', 'gw-tok', 'gw-detok-json']) as SubjectId[]) {
      const file = `${name}-${id}.cpuprofile`;
      const ctx = {
        tmp,
        nginx: tools.nginx,
        upstreamUrl: up.url,
        upstream: up.proc,
        gatewayFromSources: true,
        // One directory per subject: every thread writes a profile (tsx's loader thread too); the main
        // thread's file has thread id 0 in its default name CPU.<date>.<time>.<pid>.<tid>.<seq>.cpuprofile.
        gatewayNodeFlags: ['--cpu-prof', `--cpu-prof-dir=${path.join(tmp, `prof-${id}`)}`],
      };
      const spawned = performance.now();
      const s = await startSubject(ctx, id);
      let skipMs = 0;
      let rps = 0;
      try {
        const problem = await s.check();
        if (problem) throw new Error(`${id}: sanity check failed: ${problem}`);
        const script = path.join(tmp, `${id}.lua`);
        await saturate(tools.wrk, s.target, { seconds: 3, connections, scriptFile: script, prefix: '1000' });
        skipMs = performance.now() - spawned;
        const r = await saturate(tools.wrk, s.target, { seconds, connections, scriptFile: script, prefix: '2000' });
        rps = r.rps;
        console.log(`${id}: ${Math.round(rps)} req/s under the profiler`);
      } finally {
        await s.stop(); // graceful: the profile is written on exit
      }
      const profDir = path.join(tmp, `prof-${id}`);
      const main = readdirSync(profDir).find((f) => /^CPU\.\d+\.\d+\.\d+\.0\.\d+\.cpuprofile$/.test(f));
      if (!main) throw new Error(`${id}: no main-thread profile in ${readdirSync(profDir).join(', ')}`);
      copyFileSync(path.join(profDir, main), path.join(outDir, file));
      const profile = JSON.parse(readFileSync(path.join(outDir, file), 'utf8')) as CpuProfile;
      const summary = summarize(profile, skipMs, 30, GATEWAY_FRAMES);
      json[id] = { rps, profile: `bench/results/profiles/${file}`, ...summary };
      sections.push(summaryMarkdown(`${id} (${Math.round(rps)} req/s under the profiler; bench/results/profiles/${file})`, summary));
    }
  } finally {
    await up.proc.stop();
    rmSync(tmp, { recursive: true, force: true });
  }
  const md = [`# pii-gateway CPU profiles, ${startedAt.toISOString()}`, '', `Upstream ${up.kind}; wrk -c${connections}, ${seconds} s after a 3 s warm-up.`, '', ...sections].join('\n');
  writeResult(`${name}.json`, json);
  writeResult(`${name}.md`, md);
  console.log('\n' + md);
  console.log(`wrote bench/results/${name}.{json,md}`);
}
