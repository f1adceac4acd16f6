/**
 * The subjects the benchmark compares, each started as a process of its own and each with the request
 * it is loaded with. `startSubject()` returns the running process plus the load target and a sanity
 * check that proves the subject did its job on one request (a 200, and for the gateway, the count of
 * tokenized/detokenized fields read back from its own log) before any figure is taken.
 */
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { request } from 'undici';
import type { BodySpec, LoadTarget } from './load.js';
import { bodyFor } from './load.js';
import { runnable } from './build.js';
import { startNginx } from './nginx.js';
import { startNodeChild, type RunningProcess } from './proc.js';
import {
  clevertapRules,
  clevertapUpload,
  clevertapUploadTemplate,
  DISPATCH_FORM_RULES,
  DISPATCH_JSON_RULES,
  dispatchFormBody,
  dispatchJsonBody,
  formCodecExists,
  gatewayEnv,
  PASSTHROUGH_RULES,
  ROOT,
} from './scenario.js';
import { benchPostgres } from './postgres.js';

export type SubjectId =
  | 'upstream'
  | 'nginx-proxy'
  | 'bare'
  | 'express'
  | 'gw-pass'
  | 'gw-pass-quiet'
  | 'gw-tok'
  | 'gw-tok-new'
  | 'gw-tok-pg'
  | 'gw-tok-new-pg'
  | 'gw-detok-json'
  | 'gw-detok-form';

export interface SubjectDef {
  readonly id: SubjectId;
  readonly n: string;
  readonly label: string;
}

export const SUBJECTS: readonly SubjectDef[] = [
  { id: 'upstream', n: '1', label: 'upstream directly' },
  { id: 'nginx-proxy', n: '2', label: 'nginx reverse proxy (peer)' },
  { id: 'bare', n: '3', label: 'bare node:http + undici Pool (peer)' },
  { id: 'express', n: '4', label: 'express JSON+HMAC tokenizer (comparison peer, not product)' },
  { id: 'gw-pass', n: '5', label: 'pii-gateway passthrough route' },
  { id: 'gw-pass-quiet', n: '5b', label: 'pii-gateway passthrough, log level warn' },
  { id: 'gw-tok', n: '6', label: 'pii-gateway CleverTap tokenize (warm cache)' },
  { id: 'gw-tok-new', n: '6b', label: 'pii-gateway CleverTap tokenize, new values (sqlite writes)' },
  { id: 'gw-tok-pg', n: '6c', label: 'pii-gateway CleverTap tokenize (warm cache), postgres vault' },
  { id: 'gw-tok-new-pg', n: '6d', label: 'pii-gateway CleverTap tokenize, new values (postgres writes)' },
  { id: 'gw-detok-json', n: '7', label: 'pii-gateway JSON dispatch detokenize (email + phone)' },
  { id: 'gw-detok-form', n: '7b', label: 'pii-gateway Twilio form dispatch detokenize (phone)' },
];

export interface Context {
  readonly tmp: string;
  readonly nginx: string | null;
  /** Origin of the shared upstream, e.g. http://127.0.0.1:4567. */
  readonly upstreamUrl: string;
  readonly upstream: RunningProcess;
  /** Extra node flags for gateway subjects (e.g. --cpu-prof). */
  readonly gatewayNodeFlags?: readonly string[];
  /**
   * Run the gateway from its TypeScript sources with tsx instead of the bundle (profiles: frames then
   * point at src/ files instead of one bundle file).
   */
  readonly gatewayFromSources?: boolean;
}

export interface Started {
  readonly proc: RunningProcess;
  readonly target: LoadTarget;
  readonly logFile: string;
  /** Sends one request and returns null when the subject did its job, else what went wrong. */
  check(): Promise<string | null>;
  /** Stops the process unless it is the shared upstream. */
  stop(): Promise<void>;
}

/** Thrown by startSubject when a subject cannot run on this checkout (reported as skipped, not failed). */
export class Skip extends Error {}

const JSON_TYPE = 'application/json';
const NODE_ENV = { NODE_ENV: 'production' };

async function post(target: LoadTarget, body: string): Promise<{ status: number; text: string }> {
  const res = await request(target.url + target.path, { method: 'POST', headers: { 'content-type': target.contentType }, body });
  return { status: res.statusCode, text: await res.body.text() };
}

/** The last 'proxied' log line of a gateway subject (pino NDJSON), or undefined. */
function lastProxied(logFile: string): { tokenized?: number; detokenized?: number; status?: number } | undefined {
  const lines = readFileSync(logFile, 'utf8').trim().split('\n').reverse();
  for (const l of lines) {
    if (!l.includes('"proxied"')) continue;
    try {
      return JSON.parse(l) as { tokenized?: number; detokenized?: number };
    } catch {
      continue;
    }
  }
  return undefined;
}

function makeCheck(
  target: LoadTarget,
  logFile: string,
  expect?: { tokenized?: number; detokenized?: number },
): () => Promise<string | null> {
  return async () => {
    const res = await post(target, bodyFor(target.body, '9999', 0));
    if (res.status !== 200) return `status ${res.status}: ${res.text.slice(0, 300)}`;
    if (!res.text.includes('success')) return `unexpected answer: ${res.text.slice(0, 200)}`;
    if (expect) {
      await new Promise((r) => setTimeout(r, 50));
      const line = lastProxied(logFile);
      if (!line) return 'no "proxied" log line';
      if (expect.tokenized !== undefined && line.tokenized !== expect.tokenized) {
        return `expected ${expect.tokenized} tokenized fields, the log says ${line.tokenized}`;
      }
      if (expect.detokenized !== undefined && line.detokenized !== expect.detokenized) {
        return `expected ${expect.detokenized} detokenized fields, the log says ${line.detokenized}`;
      }
    }
    return null;
  };
}

async function tokens(vaultApi: string, items: { type: string; value: string }[]): Promise<string[]> {
  const res = await request(`${vaultApi}/v1/tokenize`, {
    method: 'POST',
    headers: { 'content-type': JSON_TYPE },
    body: JSON.stringify({ items }),
  });
  const j = (await res.body.json()) as { results: { token?: string }[] };
  return j.results.map((r) => {
    if (!r.token) throw new Error('vault API did not issue a token');
    return r.token;
  });
}

async function startGatewaySubject(
  ctx: Context,
  id: SubjectId,
  files: Record<string, string>,
  extraEnv: Record<string, string> = {},
): Promise<{ proc: RunningProcess; logFile: string }> {
  const dir = path.join(ctx.tmp, id);
  const logFile = path.join(ctx.tmp, `${id}.log`);
  const env = {
    ...gatewayEnv(dir, files, extraEnv),
    BENCH_UPSTREAM_URL: ctx.upstreamUrl,
    CLEVERTAP_URL: ctx.upstreamUrl,
  };
  const proc = await startNodeChild({
    script: ctx.gatewayFromSources ? path.join(ROOT, 'bench/subjects/gateway.ts') : await runnable(path.join(ROOT, 'bench/subjects/gateway.ts')),
    env,
    logFile,
    ...(ctx.gatewayNodeFlags ? { nodeFlags: ctx.gatewayNodeFlags } : {}),
  });
  return { proc, logFile };
}

export async function startSubject(ctx: Context, id: SubjectId): Promise<Started> {
  const upload: BodySpec = { fixed: clevertapUpload() };
  const uploadTarget = (url: string, body: BodySpec = upload): LoadTarget => ({ url, path: '/1/upload', contentType: JSON_TYPE, body });
  const done = (proc: RunningProcess, target: LoadTarget, logFile: string, expect?: { tokenized?: number; detokenized?: number }): Started => ({
    proc,
    target,
    logFile,
    check: makeCheck(target, logFile, expect),
    stop: () => (proc === ctx.upstream ? Promise.resolve() : proc.stop()),
  });

  switch (id) {
    case 'upstream':
      return done(ctx.upstream, uploadTarget(ctx.upstreamUrl), path.join(ctx.tmp, 'upstream.log'));
    case 'nginx-proxy': {
      if (!ctx.nginx) throw new Skip('nginx is not installed (apt-get install -y nginx)');
      const upstreamPort = Number(new URL(ctx.upstreamUrl).port);
      const proc = await startNginx(ctx.nginx, path.join(ctx.tmp, 'nginx-proxy'), { kind: 'proxy', upstreamPort });
      return done(proc, uploadTarget(proc.url), path.join(ctx.tmp, 'nginx-proxy/access.log'));
    }
    case 'bare':
    case 'express': {
      const logFile = path.join(ctx.tmp, `${id}.log`);
      const script = await runnable(path.join(ROOT, `bench/peers/${id === 'bare' ? 'bare-passthrough' : 'express-tokenizer'}.ts`));
      const proc = await startNodeChild({ script, env: { ...NODE_ENV, BENCH_UPSTREAM_URL: ctx.upstreamUrl }, logFile });
      return done(proc, uploadTarget(proc.info.url!), logFile);
    }
    case 'gw-pass':
    case 'gw-pass-quiet': {
      const extra: Record<string, string> = id === 'gw-pass-quiet' ? { PII_GATEWAY_LOG_LEVEL: 'warn' } : {};
      const { proc, logFile } = await startGatewaySubject(ctx, id, { 'bench.yaml': PASSTHROUGH_RULES }, extra);
      return done(proc, uploadTarget(proc.info.proxy!), logFile, id === 'gw-pass' ? { tokenized: 0 } : undefined);
    }
    case 'gw-tok':
    case 'gw-tok-new': {
      const { proc, logFile } = await startGatewaySubject(ctx, id, { 'clevertap.yaml': clevertapRules() });
      const body: BodySpec = id === 'gw-tok' ? upload : { template: clevertapUploadTemplate() };
      // identity (an email), Email, Phone, Name: 4 fields in the fixture.
      return done(proc, uploadTarget(proc.info.proxy!, body), logFile, { tokenized: 4 });
    }
    case 'gw-tok-pg':
    case 'gw-tok-new-pg': {
      // A database of its own, dropped when the subject stops (bench/lib/postgres.ts).
      const pg = await benchPostgres();
      let started;
      try {
        started = await startGatewaySubject(ctx, id, { 'clevertap.yaml': clevertapRules() }, {
          PII_GATEWAY_VAULT: 'postgres',
          PII_GATEWAY_POSTGRES_URL: pg.url,
          PII_GATEWAY_POSTGRES_MIGRATE: 'true',
        });
      } catch (err) {
        await pg.stop();
        throw err;
      }
      const { proc, logFile } = started;
      const body: BodySpec = id === 'gw-tok-pg' ? upload : { template: clevertapUploadTemplate() };
      const s = done(proc, uploadTarget(proc.info.proxy!, body), logFile, { tokenized: 4 });
      return { ...s, stop: async () => { await s.stop(); await pg.stop(); } };
    }
    case 'gw-detok-json': {
      const { proc, logFile } = await startGatewaySubject(ctx, id, { 'dispatch.yaml': DISPATCH_JSON_RULES });
      const [email, phone] = await tokens(proc.info.vaultApi!, [
        { type: 'email', value: 'john.doe@example.com' },
        { type: 'phone', value: '+14155551234' },
      ]);
      const target: LoadTarget = { url: proc.info.proxy!, path: '/v3/mail/send', contentType: JSON_TYPE, body: { fixed: dispatchJsonBody(email!, phone!) } };
      return done(proc, target, logFile, { detokenized: 2 });
    }
    case 'gw-detok-form': {
      if (!formCodecExists()) throw new Skip('src/codecs/form.ts does not exist yet (form codec not written)');
      let started;
      try {
        started = await startGatewaySubject(ctx, id, { 'twilio.yaml': DISPATCH_FORM_RULES });
      } catch (err) {
        throw new Skip(`the gateway refused the form rule file: ${(err as Error).message}`);
      }
      const { proc, logFile } = started;
      const [phone] = await tokens(proc.info.vaultApi!, [{ type: 'phone', value: '+15558675310' }]);
      const target: LoadTarget = {
        url: proc.info.proxy!,
        path: '/2010-04-01/Accounts/AC0123456789abcdef0123456789abcdef/Messages.json',
        contentType: 'application/x-www-form-urlencoded',
        body: { fixed: dispatchFormBody(phone!) },
      };
      return done(proc, target, logFile, { detokenized: 1 });
    }
  }
}
