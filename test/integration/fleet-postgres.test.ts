/**
 * The fleet proof: two real gateway processes (`pii-gateway start`, as production runs it) on one
 * PostgreSQL database, with the same keys, each migrating at start.
 *
 * - Both are hammered at the same moment with the same 2,000 new values (four token types, parallel
 *   batches in different orders): both must answer identical tokens, every token must resolve on both,
 *   and the database must hold exactly one row per value.
 * - A token issued by one replica resolves on the other at once, including after that other replica was
 *   asked for the token before it existed: its cache keeps found results only, so the earlier
 *   "not found" cannot hide the new mapping (each gateway runs with its default cache, TTL 5 minutes).
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createInterface } from 'node:readline';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKeyring, generateKeyFile } from '../../src/crypto/keyring.js';
import { createTokenSpec } from '../../src/tokens/index.js';
import type { TokenType } from '../../src/tokens/types.js';
import { sample } from '../vault/conformance.js';
import { admin, usePostgresDatabase } from '../helpers/postgres.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const db = usePostgresDatabase();
const keyFile = generateKeyFile();
const keyring = createKeyring(keyFile);
const work = mkdtempSync(path.join(tmpdir(), 'pii-fleet-'));
const rulesDir = path.join(work, 'rules');
mkdirSync(rulesDir);
writeFileSync(
  path.join(rulesDir, 'fleet.yaml'),
  'version: 1\nupstreams: { up: { url: "http://127.0.0.1:9" } }\nroutes:\n  - { id: pass, match: { method: POST, path: /x }, upstream: up }\n',
);

interface Replica {
  readonly name: string;
  readonly child: ChildProcessWithoutNullStreams;
  readonly vaultApi: string;
  readonly admin: string;
  stderr: string;
}

/** Starts `pii-gateway start` and resolves with its URLs from the 'pii-gateway listening' log line. */
function startReplica(name: string): Promise<Replica> {
  const dataDir = path.join(work, name);
  const child = spawn(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), 'start'], {
    cwd: work,
    env: {
      ...process.env,
      PII_GATEWAY_VAULT: 'postgres',
      PII_GATEWAY_POSTGRES_URL: db.url,
      PII_GATEWAY_POSTGRES_MIGRATE: 'true',
      PII_GATEWAY_POSTGRES_POOL_SIZE: '8',
      PII_GATEWAY_KEYS: JSON.stringify(keyFile),
      PII_GATEWAY_DATA_DIR: dataDir,
      PII_GATEWAY_RULES_DIR: rulesDir,
      PII_GATEWAY_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_ADMIN_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_VAULT_API_LISTEN: '127.0.0.1:0',
      PII_GATEWAY_LOG_LEVEL: 'info',
    },
  });
  return new Promise((resolve, reject) => {
    let stderr = '';
    child.stderr.on('data', (d: Buffer) => (stderr += d));
    const timer = setTimeout(() => reject(new Error(`${name} did not start within 90 s: ${stderr}`)), 90_000);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`${name} exited with ${code} before listening: ${stderr}`));
    });
    createInterface({ input: child.stdout }).on('line', (line) => {
      let entry: { msg?: string; vaultApi?: string; admin?: string };
      try {
        entry = JSON.parse(line);
      } catch {
        return;
      }
      if (entry.msg !== 'pii-gateway listening') return;
      clearTimeout(timer);
      child.removeAllListeners('exit');
      const replica: Replica = { name, child, vaultApi: entry.vaultApi!, admin: entry.admin!, stderr };
      child.stderr.on('data', (d: Buffer) => (replica.stderr += d));
      resolve(replica);
    });
  });
}

async function stopReplica(r: Replica | undefined): Promise<void> {
  if (r === undefined || r.child.exitCode !== null) return;
  const exited = new Promise<void>((resolve) => r.child.once('exit', () => resolve()));
  r.child.kill('SIGTERM');
  const timer = setTimeout(() => r.child.kill('SIGKILL'), 15_000);
  await exited;
  clearTimeout(timer);
}

let a: Replica;
let b: Replica;
beforeAll(async () => {
  // Both at once: two migrators on an empty database, as a fleet's first deploy does.
  [a, b] = await Promise.all([startReplica('a'), startReplica('b')]);
}, 120_000);
afterAll(async () => {
  await Promise.all([stopReplica(a), stopReplica(b)]);
  rmSync(work, { recursive: true, force: true });
}, 60_000);

async function post(r: Replica, route: string, body: unknown): Promise<any> {
  const res = await request(r.vaultApi + route, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  const json = await res.body.json();
  if (res.statusCode !== 200) throw new Error(`${r.name} ${route}: ${res.statusCode} ${JSON.stringify(json)}`);
  return json;
}

interface Item {
  readonly type: TokenType;
  readonly value: string;
}

async function tokenize(r: Replica, namespace: string, items: readonly Item[]): Promise<string[]> {
  const json = await post(r, '/v1/tokenize', { namespace, items });
  return json.results.map((x: { token?: string; error?: unknown }, i: number) => {
    if (x.token === undefined) throw new Error(`${r.name}: item ${i} failed: ${JSON.stringify(x.error)}`);
    return x.token;
  });
}

async function detokenize(r: Replica, namespace: string, tokens: readonly string[]): Promise<({ found: true; value: string; type: string } | { found: false })[]> {
  return (await post(r, '/v1/detokenize', { namespace, items: tokens.map((token) => ({ token })) })).results;
}

/** `n` new values per type, distinct from every other test's (offset), each with its normalized form. */
function values(offset: number, n: number): (Item & { normalized: string })[] {
  const types: TokenType[] = ['email', 'phone', 'opaque', 'digits'];
  const out: (Item & { normalized: string })[] = [];
  for (const type of types) {
    const spec = createTokenSpec({ type, namespace: 'probe' }, keyring);
    for (let i = offset; out.filter((x) => x.type === type).length < n; i++) {
      const value = sample(type, i);
      // Skip values that look like tokens (the vault would pass an email/opaque one through).
      if (spec.format.isToken(value)) continue;
      out.push({ type, value, normalized: spec.format.normalize(value) });
    }
  }
  return out;
}

function shuffled<T>(items: readonly T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

async function inParallel<T>(tasks: (() => Promise<T>)[], width: number): Promise<T[]> {
  const results = new Array<T>(tasks.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: width }, async () => {
      while (next < tasks.length) {
        const k = next++;
        results[k] = await tasks[k]!();
      }
    }),
  );
  return results;
}

describe('two gateways on one PostgreSQL', () => {
  it('are both ready', async () => {
    for (const r of [a, b]) expect((await request(r.admin + '/readyz')).statusCode).toBe(200);
    expect((await admin(db.url, 'SELECT count(*)::int AS n FROM pii_gateway_schema')).rows[0].n).toBe(1);
  });

  it('answer identical tokens when hammered with the same 2,000 new values at once, and resolve every one on both', { timeout: 180_000 }, async () => {
    const ns = 'hammer';
    const all = values(1_000_000, 500);
    expect(all).toHaveLength(2000);
    const batches: (typeof all)[] = [];
    for (let i = 0; i < all.length; i += 100) batches.push(all.slice(i, i + 100));
    const tokensBy = { a: new Map<string, string>(), b: new Map<string, string>() };
    const record = (m: Map<string, string>, batch: readonly Item[], tokens: string[]) =>
      batch.forEach((it, i) => m.set(`${it.type}:${it.value}`, tokens[i]!));
    // Each task sends one batch to both replicas at the same moment, each in its own item order.
    await inParallel(
      shuffled(batches).map((batch) => async () => {
        const [ba, bb] = [shuffled(batch), shuffled(batch)];
        const [ta, tb] = await Promise.all([
          tokenize(a, ns, ba.map(({ type, value }) => ({ type, value }))),
          tokenize(b, ns, bb.map(({ type, value }) => ({ type, value }))),
        ]);
        record(tokensBy.a, ba, ta);
        record(tokensBy.b, bb, tb);
      }),
      6,
    );
    expect(tokensBy.a.size).toBe(2000);
    const differing = [...tokensBy.a].filter(([k, t]) => tokensBy.b.get(k) !== t);
    expect(differing).toEqual([]);

    const order = all.map((it) => tokensBy.a.get(`${it.type}:${it.value}`)!);
    for (const r of [a, b]) {
      for (let i = 0; i < order.length; i += 1000) {
        const results = await detokenize(r, ns, order.slice(i, i + 1000));
        results.forEach((res, k) => {
          const it = all[i + k]!;
          if (!res.found || res.value !== it.normalized || res.type !== it.type) expect.fail(`${r.name}: token of item ${i + k} did not resolve to its value`);
        });
      }
    }
    // One row per value: no duplicate tokens, no orphaned rows from the race.
    expect((await admin(db.url, 'SELECT count(*)::int AS n FROM pii_gateway_tokens WHERE namespace = $1', [ns])).rows[0].n).toBe(2000);
    expect((await admin(db.url, 'SELECT count(*)::int AS n FROM pii_gateway_fingerprints WHERE namespace = $1', [ns])).rows[0].n).toBe(2000);
  });

  it('resolve on each replica the tokens only the other one issued', async () => {
    const ns = 'cross';
    const all = values(2_000_000, 100);
    const [fromA, fromB] = [all.slice(0, 200), all.slice(200)];
    const ta = await tokenize(a, ns, fromA);
    const tb = await tokenize(b, ns, fromB);
    const onB = await detokenize(b, ns, ta);
    const onA = await detokenize(a, ns, tb);
    expect(onB.map((r) => (r.found ? r.value : null))).toEqual(fromA.map((it) => it.normalized));
    expect(onA.map((r) => (r.found ? r.value : null))).toEqual(fromB.map((it) => it.normalized));
  });

  it('resolve a new token on B at once even though B was asked for it before it existed', async () => {
    const ns = 'late';
    const [email, phone] = [values(3_000_000, 1).find((it) => it.type === 'email')!, values(3_000_000, 1).find((it) => it.type === 'phone')!];
    // Tokens are derived from the shared keys, so the test knows them before any gateway issues them.
    const expected = [email, phone].map((it) => createTokenSpec({ type: it.type, namespace: ns }, keyring).format.derive(it.normalized, ns, 0));
    // Asked twice: a cache that kept misses would now answer from memory for the next five minutes.
    for (let i = 0; i < 2; i++) expect(await detokenize(b, ns, expected)).toEqual([{ found: false }, { found: false }]);
    expect(await tokenize(a, ns, [email, phone])).toEqual(expected);
    expect(await detokenize(b, ns, expected)).toEqual([
      { found: true, value: email.normalized, type: 'email' },
      { found: true, value: phone.normalized, type: 'phone' },
    ]);
  });
});
