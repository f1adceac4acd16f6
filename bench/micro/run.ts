/**
 * `npm run bench -- --micro`: runs every micro-benchmark in bench/micro/ (each `*.bench.ts`, plus other
 * standalone scripts such as vault-detokenize.ts) in a process of its own, one after the other, and
 * writes their tables to bench/results/<date>-micro.{md,json}. A script that fails is reported and the
 * others still run.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync } from 'node:fs';
import path from 'node:path';
import { stamp, writeResult } from '../lib/report.js';
import { ROOT } from '../lib/scenario.js';

export async function main(): Promise<void> {
  const dir = path.join(ROOT, 'bench/micro');
  const files = readdirSync(dir)
    .filter((f) => f.endsWith('.ts') && f !== 'run.ts' && f !== 'lib.ts' && !f.endsWith('.test.ts'))
    .sort();
  const startedAt = new Date();
  const md: string[] = [`# pii-gateway micro-benchmarks, ${startedAt.toISOString()}`, ''];
  const json: Record<string, unknown> = {};
  for (const f of files) {
    console.log(`running bench/micro/${f} ...`);
    const r = spawnSync(process.execPath, ['--import', 'tsx', path.join(dir, f)], { encoding: 'utf8', cwd: ROOT, timeout: 300_000 });
    const out = (r.stdout ?? '').split('\n');
    const results = out.filter((l) => l.startsWith('MICRO_JSON ')).map((l) => JSON.parse(l.slice(11)) as unknown);
    const text = out.filter((l) => !l.startsWith('MICRO_JSON ')).join('\n').trim();
    if (r.status !== 0) {
      const why = `${f} did not run (exit ${r.status ?? r.signal}): ${(r.stderr ?? '').trim().split('\n').slice(-3).join(' ')}`;
      console.log(`  ${why}`);
      md.push(`## ${f}`, '', `Did not run: ${why}`, '');
      json[f] = { error: why };
      continue;
    }
    console.log(text + '\n');
    md.push(text.startsWith('## ') ? text : `## ${f}\n\n\`\`\`\n${text}\n\`\`\``, '');
    json[f] = results.length > 0 ? results : { text };
  }
  const name = `${stamp(startedAt)}-micro`;
  writeResult(`${name}.md`, md.join('\n'));
  writeResult(`${name}.json`, json);
  console.log(`wrote bench/results/${name}.{md,json}`);
}
