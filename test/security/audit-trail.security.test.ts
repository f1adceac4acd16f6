/**
 * Defends: "every detokenization leaves a PII-free audit record first, and none happens without one".
 * Real gateway, real upstream, real audit file: records per detokenized field (proxy and vault API) with
 * keyed fingerprints and no values or tokens; an unwritable audit file refuses detokenization with 503
 * AUDIT_UNAVAILABLE before anything is forwarded, and counts it; `pii-gateway audit verify` passes on the
 * intact file and names the first broken line after an edit, a deletion and a reordering.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { request } from 'undici';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditFingerprint } from '../../src/observability/audit.js';
import { LOCAL_DETOKENIZE_POLICY, startTestGateway, type TestGateway } from '../helpers/gateway.js';
import { startUpstream, type TestUpstream } from '../helpers/upstream.js';

const EMAIL = 'audit.canary.k4@audit-example.org';
const PHONE = '+14155550123';

const rules = (up: string) => `
version: 1
upstreams: { up: { url: "${up}" } }
routes:
  - id: upload
    match: { method: POST, path: /1/upload }
    upstream: up
    request:
      codec: json
      fields:
        - { select: $.email, action: tokenize, type: email }
        - { select: $.phone, action: tokenize, type: phone }
  - id: send
    match: { method: POST, path: /send }
    upstream: up
    auth: none
    request:
      codec: json
      fields:
        - { select: $.to, action: detokenize, type: phone }
        - { select: $.email, action: detokenize, type: email }
`;

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const work = mkdtempSync(path.join(tmpdir(), 'pii-audit-test-'));

async function post(url: string, body: unknown, headers: Record<string, string> = {}) {
  const res = await request(url, { method: 'POST', body: JSON.stringify(body), headers: { 'content-type': 'application/json', ...headers } });
  return { status: res.statusCode, json: (await res.body.json()) as any };
}

function auditRecords(file: string): any[] {
  return readFileSync(file, 'utf8').trimEnd().split('\n').map((l) => JSON.parse(l));
}

function verify(file: string) {
  const res = spawnSync(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), 'audit', 'verify', file], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

async function metric(gw: TestGateway, name: string): Promise<number> {
  const text = await (await request(gw.adminUrl + '/metrics')).body.text();
  const line = text.split('\n').find((l) => l.startsWith(name + ' ') || l.startsWith(name + '{') && l.includes(name));
  return line ? Number(line.slice(line.lastIndexOf(' ') + 1)) : 0;
}

let up: TestUpstream;
afterAll(async () => {
  await up?.close();
  rmSync(work, { recursive: true, force: true });
});
beforeAll(async () => {
  up = await startUpstream();
});

describe('audit trail: records per detokenized field, no PII', () => {
  let gw: TestGateway;
  let file: string;
  let tokens: { email: string; phone: string };
  beforeAll(async () => {
    file = path.join(work, 'ok', 'audit.log');
    gw = await startTestGateway({ rules: { 'r.yaml': rules(up.url) }, settings: { PII_GATEWAY_AUDIT_FILE: file }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
    expect((await post(gw.url + '/1/upload', { email: EMAIL, phone: PHONE })).status).toBe(200);
    tokens = JSON.parse(up.received.at(-1)!.body.toString());
  });
  afterAll(() => gw?.close());

  it('proxy: one record per detokenized field before the upstream gets the values', async () => {
    const before = auditRecords(file).length;
    const res = await post(gw.url + '/send', { to: tokens.phone, email: tokens.email }, { 'x-request-id': 'req-audit-1' });
    expect(res.status).toBe(200);
    expect(JSON.parse(up.received.at(-1)!.body.toString())).toEqual({ to: PHONE, email: EMAIL });
    const recs = auditRecords(file).slice(before);
    expect(recs).toHaveLength(2);
    const fp = (t: string) => auditFingerprint(gw.gw.keyring.fingerprintKey, 'default', t);
    const host = new URL(up.url).host;
    const byField = Object.fromEntries(recs.map((r) => [r.field, r]));
    expect(byField['$.to']).toMatchObject({
      event: 'detokenize',
      requestId: 'req-audit-1',
      route: 'r/send',
      upstream: host,
      tokenType: 'phone',
      count: 1,
      outcome: 'resolved',
      tokenFingerprint: fp(tokens.phone),
    });
    expect(byField['$.email']).toMatchObject({ tokenType: 'email', outcome: 'resolved', tokenFingerprint: fp(tokens.email) });
  });

  it('vault API and CleverTap-compatible endpoints: one record per item, unknown tokens included', async () => {
    const before = auditRecords(file).length;
    const unknown = 'TKN_' + 'a'.repeat(20);
    const r1 = await post(gw.vaultUrl + '/v1/detokenize', { items: [{ token: tokens.email }, { token: unknown }] });
    expect(r1.status).toBe(200);
    expect(r1.json.results[0]).toMatchObject({ found: true, value: EMAIL });
    expect((await post(gw.vaultUrl + '/ct-vault/api/tokenization/getRawValue', { token: tokens.email })).status).toBe(200);
    expect((await post(gw.vaultUrl + '/ct-vault/api/tokenization/tokens/values/batch', { tokens: [tokens.email, unknown] })).status).toBe(200);
    const recs = auditRecords(file).slice(before);
    expect(recs.map((r) => [r.route, r.field, r.outcome])).toEqual([
      ['/v1/detokenize', 'items[0].token', 'resolved'],
      ['/v1/detokenize', 'items[1].token', 'unknown'],
      ['/ct-vault/api/tokenization/getRawValue', 'token', 'resolved'],
      ['/ct-vault/api/tokenization/tokens/values/batch', 'tokens[0]', 'resolved'],
      ['/ct-vault/api/tokenization/tokens/values/batch', 'tokens[1]', 'unknown'],
    ]);
    expect(recs[0].tokenFingerprint).toBe(auditFingerprint(gw.gw.keyring.fingerprintKey, 'default', tokens.email));
    expect(recs[0].tokenType).toBe('email');
    expect(recs[1].tokenType).toBeNull();
    for (const r of recs) expect(r.requestId).toMatch(/\S/);
  });

  it('vault deletes are audited first', async () => {
    const before = auditRecords(file).length;
    expect(await gw.gw.vault.delete([{ namespace: 'default', token: tokens.phone }])).toBe(1);
    const [rec] = auditRecords(file).slice(before);
    expect(rec).toMatchObject({ event: 'vault.delete', outcome: 'requested', tokenFingerprint: auditFingerprint(gw.gw.keyring.fingerprintKey, 'default', tokens.phone) });
  });

  it('the file holds no value and no token, and is mode 0600', async () => {
    const text = readFileSync(file, 'utf8');
    for (const s of [EMAIL, PHONE, PHONE.slice(1), EMAIL.toUpperCase(), tokens.email, tokens.phone]) expect(text).not.toContain(s);
    const { statSync } = await import('node:fs');
    expect(statSync(file).mode & 0o777).toBe(0o600);
  });

  it('audit verify: OK on the intact file; names the first broken line after an edit, a deletion, a reordering', async () => {
    await gw.close();
    const lines = readFileSync(file, 'utf8').trimEnd().split('\n');
    expect(lines.length).toBeGreaterThanOrEqual(9);
    const ok = verify(file);
    expect(ok.code).toBe(0);
    expect(ok.out).toContain(`OK: ${lines.length} records`);

    const variant = (name: string, ls: string[]) => {
      const f = path.join(work, name);
      writeFileSync(f, ls.join('\n') + '\n');
      return verify(f);
    };
    // an edited record (outcome changed): the next line no longer chains to it
    const edited = [...lines];
    edited[3] = edited[3]!.replace('"outcome":"resolved"', '"outcome":"unknown"').replace('"outcome":"requested"', '"outcome":"denied"');
    expect(edited[3]).not.toBe(lines[3]);
    const e = variant('edited.log', edited);
    expect(e.code).toBe(1);
    expect(e.err).toContain('edited.log:5');
    expect(e.err).toMatch(/line 4 was altered|that line was altered/);

    // a deleted record: a gap in seq
    const d = variant('deleted.log', lines.filter((_, i) => i !== 4));
    expect(d.code).toBe(1);
    expect(d.err).toContain('deleted.log:5');
    expect(d.err).toContain('deleted');

    // two records swapped
    const swapped = [...lines];
    [swapped[5], swapped[6]] = [swapped[6]!, swapped[5]!];
    const s = variant('swapped.log', swapped);
    expect(s.code).toBe(1);
    expect(s.err).toContain('swapped.log:6');
  });
});

describe('audit trail: key generation', () => {
  const keysInit = (dir: string, audit: string) =>
    spawnSync(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), 'keys', 'init', path.join(dir, 'keys.json')], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, PII_GATEWAY_DATA_DIR: dir, PII_GATEWAY_AUDIT_FILE: audit },
    });

  it('keys init records the generation first, and generates nothing when it cannot', async () => {
    const { existsSync } = await import('node:fs');
    const dir = path.join(work, 'keys-ok');
    const res = keysInit(dir, path.join(dir, 'audit.log'));
    expect(res.status).toBe(0);
    const recs = auditRecords(path.join(dir, 'audit.log'));
    expect(recs.at(-1)).toMatchObject({ event: 'keys.generate', route: 'cli keys init', outcome: 'generating' });
    expect(recs.at(-1).tokenFingerprint).toBeNull();
    expect(readFileSync(path.join(dir, 'audit.log'), 'utf8')).not.toContain(JSON.parse(readFileSync(path.join(dir, 'keys.json'), 'utf8')).rootKey);

    const blocked = path.join(work, 'keys-blocked');
    mkdirSync(path.join(blocked, 'audit.log'), { recursive: true });
    const refused = keysInit(blocked, path.join(blocked, 'audit.log'));
    expect(refused.status).toBe(1);
    expect(refused.stderr).toContain('no keys were generated');
    expect(existsSync(path.join(blocked, 'keys.json'))).toBe(false);
  });
});

describe('audit trail: fail closed', () => {
  let gw: TestGateway;
  let tokens: { email: string; phone: string };
  beforeAll(async () => {
    // tests run as root, so chmod cannot make a file unwritable: a directory in its place cannot be opened
    const file = path.join(work, 'blocked', 'audit.log');
    mkdirSync(file, { recursive: true });
    gw = await startTestGateway({ rules: { 'r.yaml': rules(up.url) }, settings: { PII_GATEWAY_AUDIT_FILE: file }, detokenizePolicy: LOCAL_DETOKENIZE_POLICY });
    expect((await post(gw.url + '/1/upload', { email: EMAIL, phone: PHONE })).status).toBe(200);
    tokens = JSON.parse(up.received.at(-1)!.body.toString());
  });
  afterAll(() => gw?.close());

  it('proxy detokenization is refused with 503 AUDIT_UNAVAILABLE and the upstream is never called', async () => {
    const failuresBefore = await metric(gw, 'pii_gateway_audit_failures_total');
    const received = up.received.length;
    const res = await post(gw.url + '/send', { to: tokens.phone, email: tokens.email });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(JSON.stringify(res.json)).not.toContain(PHONE);
    expect(up.received.length).toBe(received);
    expect(await metric(gw, 'pii_gateway_audit_failures_total')).toBeGreaterThan(failuresBefore);
    const text = await (await request(gw.adminUrl + '/metrics')).body.text();
    expect(text).toMatch(/pii_gateway_refusals_total\{listener="proxy",code="AUDIT_UNAVAILABLE"\} [1-9]/);
  });

  it('vault API detokenization is refused too, with no value in the body', async () => {
    const res = await post(gw.vaultUrl + '/v1/detokenize', { items: [{ token: tokens.email }] });
    expect(res.status).toBe(503);
    expect(res.json.error.code).toBe('AUDIT_UNAVAILABLE');
    expect(JSON.stringify(res.json)).not.toContain(EMAIL);
    const ct = await post(gw.vaultUrl + '/ct-vault/api/tokenization/getRawValue', { token: tokens.email });
    expect(ct.status).toBe(503);
    expect(JSON.stringify(ct.json)).not.toContain(EMAIL);
  });

  it('vault deletes are refused and delete nothing', async () => {
    await expect(gw.gw.vault.delete([{ namespace: 'default', token: tokens.email }])).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    expect(await gw.gw.vault.detokenize([{ namespace: 'default', token: tokens.email }])).toMatchObject([{ found: true }]);
  });

  it('readiness reports the audit check failing; tokenization still works', async () => {
    const r = await request(gw.adminUrl + '/readyz');
    expect(r.statusCode).toBe(503);
    expect(((await r.body.json()) as any).failing).toEqual(['audit']);
    expect((await post(gw.url + '/1/upload', { email: EMAIL, phone: PHONE })).status).toBe(200);
  });
});
