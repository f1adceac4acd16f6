import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { AuditLog, auditFingerprint, lineHash, type AuditEvent } from './audit.js';
import { verifyAuditFiles } from './audit-verify.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(path.join(tmpdir(), 'pii-audit-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

const ev = (field: string): AuditEvent => ({
  event: 'detokenize',
  requestId: 'req-1',
  caller: null,
  route: 'send',
  upstream: 'provider.example',
  tokenType: 'phone',
  field,
  count: 1,
  outcome: 'resolved',
  tokenFingerprint: 'ab'.repeat(16),
});
const lines = (file: string) => readFileSync(file, 'utf8').trimEnd().split('\n');

describe('AuditLog', () => {
  it('writes a genesis line then chained records, mode 0600, and verifies', async () => {
    const file = path.join(dir, 'sub', 'audit.log');
    const log = new AuditLog({ file, maxBytes: 0, fsync: true });
    await log.record([ev('$.a'), ev('$.b')]);
    await log.record([ev('$.c')]);
    await log.close();
    const ls = lines(file);
    expect(ls).toHaveLength(4);
    const recs = ls.map((l) => JSON.parse(l));
    expect(recs.map((r) => r.seq)).toEqual([0, 1, 2, 3]);
    expect(recs[0].event).toBe('audit.genesis');
    for (let i = 1; i < ls.length; i++) expect(recs[i].prev).toBe(lineHash(ls[i - 1]!));
    expect(recs[3]).toMatchObject({ field: '$.c', outcome: 'resolved', tokenType: 'phone', count: 1 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(await verifyAuditFiles([file])).toEqual({ ok: true, records: 4, firstSeq: 0, lastSeq: 3, head: lineHash(ls[3]!) });
  });

  it('serializes concurrent callers into one unbroken chain', async () => {
    const file = path.join(dir, 'audit.log');
    const log = new AuditLog({ file, maxBytes: 0, fsync: false });
    await Promise.all(Array.from({ length: 50 }, (_, i) => log.record([ev(`$.f${i}`), ev(`$.g${i}`)])));
    await log.close();
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 101, lastSeq: 100 });
  });

  it('resumes the chain from the file on reopen', async () => {
    const file = path.join(dir, 'audit.log');
    const a = new AuditLog({ file, maxBytes: 0, fsync: false });
    await a.record([ev('$.a')]);
    await a.close();
    const b = new AuditLog({ file, maxBytes: 0, fsync: false });
    await b.record([ev('$.b')]);
    await b.close();
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: true, records: 3, lastSeq: 2 });
  });

  it('rotates by size into a file that chains to the old one', async () => {
    const file = path.join(dir, 'audit.log');
    const log = new AuditLog({ file, maxBytes: 1200, fsync: false });
    for (let i = 0; i < 12; i++) await log.record([ev(`$.f${i}`)]);
    await log.close();
    const rotated = readdirSync(dir).filter((f) => f !== 'audit.log').sort();
    expect(rotated.length).toBeGreaterThan(1);
    const all = [...rotated.map((f) => path.join(dir, f)), file];
    for (const f of all) expect(statSync(f).size).toBeLessThanOrEqual(1200);
    const r = await verifyAuditFiles(all);
    expect(r).toMatchObject({ ok: true, firstSeq: 0 });
    // every event is there, once: 12 records plus one genesis per file
    expect(r.ok && r.records).toBe(12 + all.length);
    expect(JSON.parse(lines(file)[0]!).previousFile).toBe(rotated[rotated.length - 1]);
    // a missing middle file is a broken chain
    if (all.length >= 3) expect((await verifyAuditFiles([all[0]!, all[2]!])).ok).toBe(false);
  });

  it('rejects with AUDIT_UNAVAILABLE when the file cannot be opened, and recovers when it can', async () => {
    const file = path.join(dir, 'audit.log');
    mkdirSync(file);
    let failures = 0;
    const log = new AuditLog({ file, maxBytes: 0, fsync: false, onFailure: () => failures++ });
    expect(await log.open()).toBe(false);
    expect(log.healthy).toBe(false);
    await expect(log.record([ev('$.a')])).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE', status: 503 });
    expect(failures).toBe(2);
    rmSync(file, { recursive: true });
    await log.record([ev('$.a')]);
    expect(log.healthy).toBe(true);
    await log.close();
    expect((await verifyAuditFiles([file])).ok).toBe(true);
  });

  it('refuses to continue a file that ends in a partial line', async () => {
    const file = path.join(dir, 'audit.log');
    const a = new AuditLog({ file, maxBytes: 0, fsync: false });
    await a.record([ev('$.a')]);
    await a.close();
    writeFileSync(file, readFileSync(file, 'utf8') + '{"seq":2,"pr', { flag: 'w' });
    const b = new AuditLog({ file, maxBytes: 0, fsync: false });
    await expect(b.record([ev('$.b')])).rejects.toMatchObject({ code: 'AUDIT_UNAVAILABLE' });
    await b.close();
    expect(await verifyAuditFiles([file])).toMatchObject({ ok: false, line: 3 });
  });

  it('auditFingerprint is keyed, namespaced and 32 hex', () => {
    const k1 = Buffer.alloc(32, 1);
    const k2 = Buffer.alloc(32, 2);
    const f = auditFingerprint(k1, 'default', 'TKN_abc');
    expect(f).toMatch(/^[0-9a-f]{32}$/);
    expect(auditFingerprint(k1, 'default', 'TKN_abc')).toBe(f);
    expect(auditFingerprint(k2, 'default', 'TKN_abc')).not.toBe(f);
    expect(auditFingerprint(k1, 'other', 'TKN_abc')).not.toBe(f);
  });
});
