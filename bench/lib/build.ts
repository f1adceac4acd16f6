/**
 * Subjects run as plain JavaScript, not through tsx: tsx's loader hooks run on a worker thread of their
 * own, which adds ~30 MB of RSS and some start-up work to every process and is not how the gateway runs in
 * production (`npm run build` + node). Each subject entry (gateway, peers) is bundled with esbuild (the
 * compiler tsx itself uses, so the emitted code is the same) into node_modules/.cache/pii-gw-bench/,
 * where bare imports such as 'hono' or 'better-sqlite3' still resolve to the project's node_modules.
 * BENCH_TSX=1 skips this and runs the TypeScript entries with `--import tsx`.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { ROOT } from './scenario.js';

const OUT = path.join(ROOT, 'node_modules/.cache/pii-gw-bench');
/** esbuild options shared by every entry: one ES module, bare imports left to the project's node_modules. */
const OPTIONS = { bundle: true, platform: 'node', format: 'esm', target: 'node20', packages: 'external', sourcemap: false, logLevel: 'error' } as const;
const built = new Map<string, string>();

/** Returns the file to run for a TypeScript entry: a bundled .mjs, or the .ts itself when BENCH_TSX=1. */
export async function runnable(entry: string): Promise<string> {
  if (process.env.BENCH_TSX) return entry;
  const done = built.get(entry);
  if (done) return done;
  const { build } = await import('esbuild');
  mkdirSync(OUT, { recursive: true });
  const outfile = path.join(OUT, path.relative(ROOT, entry).replace(/[/\\]/g, '_').replace(/\.ts$/, '.mjs'));
  await build({ entryPoints: [entry], outfile, ...OPTIONS });
  if (built.size === 0) await buildWorkers(build);
  built.set(entry, outfile);
  return outfile;
}

/**
 * Worker-thread entries a bundle starts by URL beside itself (`new URL('./sqlite-worker.js', import.meta.url)`
 * in src/vault/sqlite.ts), bundled next to the subjects as `npm run build` puts them next to dist/vault/sqlite.js;
 * a package.json makes those .js files ES modules (package scopes stop at node_modules).
 */
async function buildWorkers(build: typeof import('esbuild').build): Promise<void> {
  writeFileSync(path.join(OUT, 'package.json'), '{ "type": "module" }\n');
  await build({ entryPoints: [path.join(ROOT, 'src/vault/sqlite-worker.ts')], outfile: path.join(OUT, 'sqlite-worker.js'), ...OPTIONS });
}
