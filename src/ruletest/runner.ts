/**
 * Runs rule tests (`<name>.test.yaml` beside `<name>.yaml`) against the real pipeline.
 *
 *   compiled rules -> the real proxy app on a real loopback socket -> memory vault with ephemeral keys
 *   -> every upstream of the rule set pointed at one local stand-in that records what it received and
 *   answers what the test says
 *
 * Nothing is simulated between the client and the stand-in: a rule test passes only if the gateway would
 * behave that way in production (same loader, engine, codecs, proxy app and error envelope). Like the
 * gateway wiring (gateway.ts), this module builds long-lived objects once per run and closes all of them.
 * Tests run one at a time, in file order, against one gateway. Format reference: docs/rule-tests.md.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import path from 'node:path';
import { parseDocument } from 'yaml';
import { Pool } from 'undici';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { isGatewayError } from '../errors.js';
import { CODECS } from '../gateway.js';
import { createLogger } from '../observability/logger.js';
import { Upstream } from '../proxy/upstream.js';
import { RulesError, type RuleIssue } from '../rules/issues.js';
import { loadRuleSet } from '../rules/load.js';
import type { CompiledRuleSet } from '../rules/types.js';
import { createProxyApp } from '../server/proxy-app.js';
import { listen, type Listener } from '../server/serve.js';
import { createTokenSpec, DEFAULT_NAMESPACE } from '../tokens/index.js';
import type { TokenSpec, TokenType } from '../tokens/types.js';
import type { Vault } from '../vault/interface.js';
import { createVault } from '../vault/index.js';
import { checkHeaders, checkJson, diffJson, show, type MatchContext } from './expect.js';
import { StandIn } from './stand-in.js';
import {
  parsePlaceholder,
  parseTestFile,
  PLACEHOLDER,
  type BodySpec,
  type Matcher,
  type MessageExpectation,
  type RuleTest,
  type RuleTestFile,
} from './format.js';

export interface RuleTestResult {
  /** Test file name, e.g. `clevertap.test.yaml`. */
  readonly file: string;
  readonly name: string;
  readonly passed: boolean;
  /** Why it failed, one line each; empty when it passed. */
  readonly failures: readonly string[];
}

export interface RuleTestReport {
  readonly results: readonly RuleTestResult[];
  readonly passed: number;
  readonly failed: number;
}

export interface RunOptions {
  /** Run only tests whose `<file> › <name>` contains this text (case-insensitive). */
  readonly filter?: string;
  /** Environment for `${VAR}` in rule files (default process.env). */
  readonly env?: NodeJS.ProcessEnv;
}

const TEST_FILE = /\.test\.ya?ml$/;
/** The gateway's default limits (config/index.ts SETTINGS): tests run with what production runs by default. */
const LIMITS = { requestBodyBytes: 1024 * 1024, responseBodyBytes: 10 * 1024 * 1024 };
const JSON_MAX_DEPTH = 64;
/** A rule test should never wait on the rule's production timeouts. */
const MAX_UPSTREAM_WAIT_MS = 10_000;

/**
 * Runs every rule test in `dir` (or those matching `filter`).
 *
 * @example
 *   const report = await runRuleTests('rules', { filter: 'profile' });
 *   report.failed === 0
 * @throws RulesError (code RULES_INVALID) when a rule file or a test file is invalid, or there are no test files.
 */
export async function runRuleTests(dir: string, options: RunOptions = {}): Promise<RuleTestReport> {
  const files = loadTestFiles(dir);
  const keyring = ephemeralKeyring();
  const rules = loadRuleSet(dir, { keyring, env: options.env ?? process.env });
  const needle = options.filter?.toLowerCase();
  const selected = files.flatMap((f) => f.tests.filter((t) => needle === undefined || `${t.file} › ${t.name}`.toLowerCase().includes(needle)));
  if (selected.length === 0) return { results: [], passed: 0, failed: 0 };

  const harness = await Harness.start(rules, keyring);
  const results: RuleTestResult[] = [];
  try {
    for (const test of selected) {
      let failures: string[];
      try {
        failures = await harness.run(test, namespaceOf(dir, test.file));
      } catch (err) {
        failures = [`the test could not run: ${describeError(err)}`];
      }
      results.push({ file: test.file, name: test.name, passed: failures.length === 0, failures });
    }
  } finally {
    await harness.close();
  }
  const passed = results.filter((r) => r.passed).length;
  return { results, passed, failed: results.length - passed };
}

/** Parses every `*.test.yaml` in `dir`; all problems of all files are thrown together. */
export function loadTestFiles(dir: string): RuleTestFile[] {
  let names: string[];
  try {
    names = statSync(dir).isDirectory() ? readdirSync(dir).filter((n) => TEST_FILE.test(n)).sort() : [];
  } catch (err) {
    throw new RulesError([{ file: dir, line: 0, column: 0, message: `cannot read the rules directory (${(err as NodeJS.ErrnoException).code ?? 'error'})` }]);
  }
  if (names.length === 0) {
    throw new RulesError([{ file: dir, line: 0, column: 0, message: 'no rule tests found (expected <name>.test.yaml files beside the rules)' }]);
  }
  const issues: RuleIssue[] = [];
  const out: RuleTestFile[] = [];
  for (const name of names) {
    const full = path.join(dir, name);
    const parsed = parseTestFile(readFileSync(full, 'utf8'), {
      file: name,
      baseDir: dir,
      readFile: (p) => readFileSync(p, 'utf8'),
    });
    const display = path.relative(process.cwd(), full) || full;
    issues.push(...parsed.issues.map((i) => ({ ...i, file: display })));
    out.push(parsed.file);
  }
  if (issues.length > 0) throw new RulesError(issues);
  return out;
}

/** The `namespace:` of the rule file beside a test file (`demo.test.yaml` -> `demo.yaml`), else 'default'. */
function namespaceOf(dir: string, testFile: string): string {
  const base = testFile.replace(TEST_FILE, '');
  for (const ext of ['.yaml', '.yml']) {
    try {
      const ns = parseDocument(readFileSync(path.join(dir, base + ext), 'utf8')).get('namespace');
      return typeof ns === 'string' ? ns : DEFAULT_NAMESPACE;
    } catch {
      // no such rule file: try the next extension
    }
  }
  return DEFAULT_NAMESPACE;
}

function describeError(err: unknown): string {
  if (isGatewayError(err)) return `${err.code}: ${err.message}`;
  const e = err as { code?: string; message?: string };
  return e.code ?? e.message ?? String(err);
}

type LogLine = Record<string, unknown>;

/** One gateway for the whole run: proxy app on a socket, memory vault, stand-in upstream, log capture. */
class Harness {
  private readonly specs = new Map<string, TokenSpec[]>();

  private constructor(
    private readonly rules: CompiledRuleSet,
    private readonly keyring: Keyring,
    private readonly vault: Vault,
    private readonly standIn: StandIn,
    private readonly upstreams: readonly Upstream[],
    private readonly proxy: Listener,
    private readonly client: Pool,
    private readonly logs: LogLine[],
  ) {
    // Token specs the rules use, by type and namespace: placeholders get exactly the token the gateway issues.
    for (const route of rules.routes) {
      for (const dir of [route.request, route.response]) {
        for (const field of dir?.fields ?? []) {
          if (field.action.kind !== 'tokenize') continue;
          const all = [...field.action.specs, ...(typeof field.action.otherwise === 'string' ? [] : [field.action.otherwise])];
          for (const spec of all) {
            const key = `${spec.type}\0${spec.namespace}`;
            const list = this.specs.get(key) ?? [];
            if (!list.includes(spec)) list.push(spec);
            this.specs.set(key, list);
          }
        }
      }
    }
  }

  static async start(rules: CompiledRuleSet, keyring: Keyring): Promise<Harness> {
    const logs: LogLine[] = [];
    const sink = {
      write(chunk: string): void {
        for (const line of chunk.split('\n')) {
          if (line.trim() === '') continue;
          try {
            logs.push(JSON.parse(line) as LogLine);
          } catch {
            // not a JSON line: ignore
          }
        }
      },
    };
    const log = createLogger({ level: 'info', destination: sink });
    const vault = await createVault({ backend: 'memory', sqlitePath: '', keyring, cache: { maxEntries: 0, maxBytes: 0 } });
    const standIn = await StandIn.start();
    const upstreams = new Map<string, Upstream>();
    for (const u of rules.upstreams.values()) {
      const settings = {
        name: u.name,
        url: new URL(standIn.url + u.url.pathname), // the stand-in, keeping the rule's base path
        connectTimeoutMs: Math.min(u.connectTimeoutMs, MAX_UPSTREAM_WAIT_MS),
        headersTimeoutMs: Math.min(u.headersTimeoutMs, MAX_UPSTREAM_WAIT_MS),
        bodyTimeoutMs: Math.min(u.bodyTimeoutMs, MAX_UPSTREAM_WAIT_MS),
      };
      upstreams.set(u.name, new Upstream(settings, 2));
    }
    const app = createProxyApp({
      // Rule tests exercise the field rules over a plain local socket: a route's mTLS `clients:` allowlist
      // is the listener's business (test/security/mtls.security.test.ts), and its caller `auth:` the
      // authenticator's (docs/rule-tests.md: not exercised here), so both are left out.
      rules: { ...rules, routes: rules.routes.map(({ clients: _clients, auth: _auth, ...route }) => route) },
      upstreams,
      transform: { vault, keyring, codecs: CODECS, maxDepth: JSON_MAX_DEPTH },
      log,
      limits: LIMITS,
    });
    let proxy: Listener;
    try {
      proxy = await listen(app, { host: '127.0.0.1', port: 0 });
    } catch (err) {
      await Promise.all([...upstreams.values()].map((u) => u.close()));
      await standIn.close();
      await vault.close();
      throw err;
    }
    const client = new Pool(proxy.url, { connections: 1, headersTimeout: 2 * MAX_UPSTREAM_WAIT_MS, bodyTimeout: 2 * MAX_UPSTREAM_WAIT_MS });
    return new Harness(rules, keyring, vault, standIn, [...upstreams.values()], proxy, client, logs);
  }

  async close(): Promise<void> {
    await this.client.close();
    await this.proxy.close(0);
    await Promise.all(this.upstreams.map((u) => u.close()));
    await this.standIn.close();
    await this.vault.close();
  }

  private specFor(type: TokenType, namespace: string): TokenSpec {
    const list = this.specs.get(`${type}\0${namespace}`);
    return list?.find((s) => !s.random) ?? list?.[0] ?? createTokenSpec({ type, namespace }, this.keyring);
  }

  /** Replaces every `{{token TYPE VALUE [ns=NS]}}` in `text` with the test vault's token for it. */
  private async resolveText(text: string, namespace: string): Promise<string> {
    if (!text.includes('{{')) return text;
    let out = '';
    let last = 0;
    for (const m of text.matchAll(PLACEHOLDER)) {
      const p = parsePlaceholder(m[1] ?? '');
      if (typeof p === 'string') throw new Error(p); // format.ts refused these already
      const spec = this.specFor(p.type, p.namespace ?? namespace);
      let token: string;
      try {
        // known=no: a token of the right shape and check that no vault issued (attempt 1000 is never reached).
        if (p.unknown) token = spec.format.derive(spec.format.normalize(p.value), spec.namespace, 1000);
        else [token] = (await this.vault.tokenize([{ spec, value: p.value }])) as [string];
      } catch (err) {
        throw new Error(`{{token ${p.type} ...}}: ${describeError(err)}`);
      }
      out += text.slice(last, m.index) + (p.digits && token.startsWith('+') ? token.slice(1) : token);
      last = m.index + m[0].length;
    }
    return out + text.slice(last);
  }

  private async resolveValue(value: unknown, namespace: string): Promise<unknown> {
    if (typeof value === 'string') return this.resolveText(value, namespace);
    if (Array.isArray(value)) return Promise.all(value.map((v) => this.resolveValue(v, namespace)));
    if (value !== null && typeof value === 'object') {
      const out: Record<string, unknown> = {};
      for (const [k, v] of Object.entries(value)) out[k] = await this.resolveValue(v, namespace);
      return out;
    }
    return value;
  }

  private async resolveBody(body: BodySpec, namespace: string): Promise<string | undefined> {
    if (body.kind === 'none') return undefined;
    if (body.kind === 'raw') return this.resolveText(body.text, namespace);
    return JSON.stringify(await this.resolveValue(body.value, namespace));
  }

  private async resolveHeaders(headers: Readonly<Record<string, string>>, namespace: string): Promise<Record<string, string>> {
    const out: Record<string, string> = {};
    for (const [k, v] of Object.entries(headers)) out[k] = await this.resolveText(v, namespace);
    return out;
  }

  private async resolveExpectation(e: MessageExpectation | undefined, namespace: string): Promise<MessageExpectation | undefined> {
    if (e === undefined) return undefined;
    const matcher = async (m: Matcher): Promise<Matcher> => (m.kind === 'equals' ? { kind: 'equals', value: await this.resolveValue(m.value, namespace) } : m);
    return {
      ...e,
      headers: await Promise.all(e.headers.map(async (h) => ({ ...h, matcher: await matcher(h.matcher) }))),
      json: await Promise.all(e.json.map(async (f) => ({ ...f, matcher: await matcher(f.matcher) }))),
      body: e.body === undefined ? undefined : await this.resolveText(e.body, namespace),
    };
  }

  private context(namespace: string): MatchContext {
    const defaults = (type: TokenType, ns: string | undefined): TokenSpec[] => {
      const n = ns ?? namespace;
      return [...(this.specs.get(`${type}\0${n}`) ?? []), createTokenSpec({ type, namespace: n }, this.keyring)];
    };
    // A phone token written without '+' (a `phoneFormat: digits` field) is checked as the '+' token it stands for.
    const canonical = (type: TokenType, value: string): string => (type === 'phone' && /^[0-9]+$/.test(value) ? `+${value}` : value);
    return {
      isToken: (type, ns, value) => defaults(type, ns).some((s) => s.format.isToken(canonical(type, value))),
      detokenize: async (type, ns, token) => {
        const [r] = await this.vault.detokenize([{ namespace: ns ?? namespace, token: canonical(type, token) }]);
        return r?.found ? r.value : undefined;
      },
      normalize: (type, raw) => {
        try {
          return createTokenSpec({ type, namespace }, this.keyring).format.normalize(raw);
        } catch {
          return undefined;
        }
      },
    };
  }

  /** Runs one test; returns its failures (empty: passed). */
  async run(test: RuleTest, namespace: string): Promise<string[]> {
    const failures: string[] = [];
    const ctx = this.context(namespace);

    // 1. Resolve placeholders and set up the stand-in's answer.
    const reqPath = await this.resolveText(test.request.path, namespace);
    const reqHeaders = await this.resolveHeaders(test.request.headers, namespace);
    const reqBody = await this.resolveBody(test.request.body, namespace);
    const respond = test.respond;
    const answerBody = respond ? ((await this.resolveBody(respond.body, namespace)) ?? '') : '{}';
    this.standIn.answer = {
      status: respond?.status ?? 200,
      headers: respond ? await this.resolveHeaders(respond.headers, namespace) : { 'content-type': 'application/json' },
      body: answerBody,
    };
    this.standIn.received.length = 0;
    const upstreamExp = await this.resolveExpectation(test.upstream, namespace);
    const responseExp = await this.resolveExpectation(test.response, namespace);

    // 2. Send it through the gateway.
    const res = await this.client.request({
      method: test.request.method as 'POST',
      path: reqPath,
      headers: reqHeaders,
      body: reqBody ?? null,
    });
    const resText = await res.body.text();
    const status = res.statusCode;
    const requestId = firstHeader(res.headers['x-request-id']);
    const envelope = errorEnvelopeOf(resText, requestId);
    const received = [...this.standIn.received];
    const refusal = envelope ? ` (${envelope.code}${envelope.field ? ` at ${envelope.field}` : ''}: ${envelope.message})` : '';

    // 3. Status, or the error envelope.
    if (test.error) {
      const e = test.error;
      if (!test.respond && received.length > 0) {
        failures.push('the upstream was called, but the gateway should have refused the request before forwarding it');
      }
      if (test.respond && received.length === 0) {
        failures.push('the upstream was not called (the test gives respond:, so the error should come from the response side)');
      }
      if (!envelope) {
        failures.push(`expected the gateway to refuse with ${e.code}, but it answered ${status} ${show(resText)}`);
      } else {
        if (envelope.code !== e.code) failures.push(`expected error code ${e.code}, got ${envelope.code}${refusal}`);
        if (e.status !== undefined && status !== e.status) failures.push(`expected status ${e.status}, got ${status}`);
        if (e.field !== undefined && envelope.field !== e.field) failures.push(`expected error field ${e.field}, got ${envelope.field ?? 'none'}`);
        if (e.message !== undefined && !envelope.message.includes(e.message)) {
          failures.push(`expected the error message to contain ${show(e.message)}, got ${show(envelope.message)}`);
        }
      }
    } else {
      const expected = responseExp?.status ?? respond?.status ?? 200;
      if (status !== expected) failures.push(`expected status ${expected}, got ${status}${refusal}`);
    }

    // 4. What the upstream received.
    if (upstreamExp) {
      const got = received[received.length - 1];
      if (got === undefined) {
        failures.push(`upstream: was not called${refusal}`);
      } else {
        if (received.length > 1) failures.push(`upstream: called ${received.length} times, expected once`);
        if (upstreamExp.method !== undefined && got.method !== upstreamExp.method) {
          failures.push(`upstream: expected method ${upstreamExp.method}, got ${got.method}`);
        }
        if (upstreamExp.path !== undefined && got.path !== upstreamExp.path) {
          failures.push(`upstream: expected path ${upstreamExp.path}, got ${got.path}`);
        }
        failures.push(...(await checkMessage('upstream', upstreamExp, got.headers, got.body, reqBody, ctx)));
      }
    }

    // 5. What the client got back.
    if (responseExp) {
      const headers = res.headers as Record<string, string | string[] | undefined>;
      failures.push(...(await checkMessage('response', responseExp, headers, resText, answerBody, ctx)));
    }

    // 6. Which route handled it (from the gateway's own log line for this request id).
    if (test.route !== undefined) {
      const base = test.file.replace(TEST_FILE, '');
      const want = test.route.includes('/') ? test.route : `${base}/${test.route}`;
      const line = this.logs.find((l) => l.requestId === requestId && typeof l.route === 'string');
      const got = line?.route as string | undefined;
      if (got !== want) failures.push(`expected route ${want}, ${got === undefined ? 'but no route handled the request' : `got ${got}`}${refusal}`);
    }
    this.logs.length = 0;
    return failures;
  }
}

/** headers, body / json and unchanged of one side. `input` is the other side's body text (what was sent). */
async function checkMessage(
  side: 'upstream' | 'response',
  e: MessageExpectation,
  headers: Readonly<Record<string, string | string[] | undefined>>,
  body: string,
  input: string | undefined,
  ctx: MatchContext,
): Promise<string[]> {
  const failures = (await checkHeaders(e.headers, headers, ctx)).map((f) => `${side}: ${f}`);
  if (e.body !== undefined && body !== e.body) failures.push(`${side}: expected body ${show(e.body)}, got ${show(body)}`);
  if (e.json.length === 0 && !e.unchanged) return failures;
  const doc = parseJson(body);
  if (doc === undefined) {
    failures.push(`${side}: expected a JSON body, got ${show(body)}`);
    return failures;
  }
  const before = input === undefined ? undefined : parseJson(input);
  failures.push(...(await checkJson(e.json, doc.value, before?.value, ctx)).map((f) => `${side}: ${f}`));
  if (e.unchanged) {
    const other = side === 'upstream' ? 'the request' : "the upstream's answer";
    if (before === undefined) {
      failures.push(`${side}: unchanged: ${other} was not JSON, so there is nothing to compare with (set unchanged: false)`);
    } else {
      const ignore = e.json.map((f) => f.selector);
      for (const d of diffJson(before.value, doc.value, ignore)) {
        failures.push(`${side}: ${d} — not listed under ${side}.json (list it, or set unchanged: false)`);
      }
    }
  }
  return failures;
}

function parseJson(text: string): { value: unknown } | undefined {
  try {
    return { value: JSON.parse(text) as unknown };
  } catch {
    return undefined;
  }
}

interface Envelope {
  code: string;
  message: string;
  field: string | undefined;
}

/**
 * The gateway's own `{"error":{"code","message","requestId",...}}`, when that is what the body is (an upstream
 * answer that happens to look alike carries another request id).
 */
function errorEnvelopeOf(text: string, requestId: string | undefined): Envelope | undefined {
  const parsed = parseJson(text)?.value as { error?: { code?: unknown; message?: unknown; field?: unknown; requestId?: unknown } } | undefined;
  const e = parsed?.error;
  if (typeof e !== 'object' || e === null || typeof e.code !== 'string' || e.requestId !== requestId) return undefined;
  return { code: e.code, message: typeof e.message === 'string' ? e.message : '', field: typeof e.field === 'string' ? e.field : undefined };
}

function firstHeader(v: string | string[] | undefined): string | undefined {
  return Array.isArray(v) ? v[0] : v;
}
