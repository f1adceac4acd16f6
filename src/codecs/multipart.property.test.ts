/**
 * Property tests for the multipart codec: random forms (text fields, file parts with arbitrary bytes, repeated
 * names, preamble and epilogue) and random edits. Decoded fields are compared with undici's multipart parser
 * (Response.formData()), and every untouched part must keep its bytes.
 */
import fc from 'fast-check';
// Test-only reference parser: undici 7's formData() (Node 20's bundled copy refuses a preamble). Codec code
// itself never imports undici.
import { Response } from 'undici';
import { describe, expect, it } from 'vitest';
import { multipartCodec } from './multipart.js';
import type { CompiledSelector } from './selector.js';
import type { Edit } from './types.js';

const B = 'gw-prop-7MA4YWxkTrZu0gW';
const CT = `multipart/form-data; boundary=${B}`;
const NAMES = ['To', 'Body', 'MediaUrl', 'név', 'a b'];
const field = (name: string): CompiledSelector => ({ source: name, segments: [{ kind: 'key', key: name }] });

const char = fc.oneof(
  fc.constantFrom('\r', '\n', '-', '"', ' ', 'a', '=', '&', '%'),
  fc.integer({ min: 0x20, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)),
);
const text = fc.array(char, { maxLength: 16 }).map((cs) => cs.join(''));

type PartSpec = { name: string; file: false; value: string } | { name: string; file: true; bytes: Uint8Array };
const part: fc.Arbitrary<PartSpec> = fc.oneof(
  fc.record({ name: fc.constantFrom(...NAMES), file: fc.constant(false as const), value: text }),
  fc.record({ name: fc.constantFrom(...NAMES), file: fc.constant(true as const), bytes: fc.uint8Array({ maxLength: 32 }) }),
);

function render(parts: PartSpec[], typed: boolean[], preamble: boolean): Buffer {
  const chunks: Buffer[] = [];
  if (preamble) chunks.push(Buffer.from('preamble\r\n'));
  parts.forEach((p, i) => {
    let h = `--${B}\r\nContent-Disposition: form-data; name="${p.name}"`;
    if (p.file) h += `; filename="f${i}.bin"\r\nContent-Type: application/octet-stream`;
    else if (typed[i]) h += '\r\nContent-Type: text/plain; charset=utf-8';
    chunks.push(Buffer.from(h + '\r\n\r\n'), p.file ? Buffer.from(p.bytes) : Buffer.from(p.value), Buffer.from('\r\n'));
  });
  chunks.push(Buffer.from(`--${B}--\r\n`));
  return Buffer.concat(chunks);
}

async function entries(body: Buffer): Promise<[string, string | number[]][]> {
  const form = await new Response(body, { headers: { 'content-type': CT } }).formData();
  const out: [string, string | number[]][] = [];
  for (const [k, v] of form.entries()) {
    out.push([k, typeof v === 'string' ? v : [...new Uint8Array(await v.arrayBuffer())]]);
  }
  return out;
}

describe('multipart codec properties', () => {
  it('scan agrees with undici formData(); apply changes exactly the edited parts', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(part, { minLength: 1, maxLength: 8 }),
        fc.array(fc.boolean(), { minLength: 8, maxLength: 8 }),
        fc.boolean(),
        fc.subarray(NAMES),
        fc.array(fc.constantFrom('replace', 'remove', 'keep'), { minLength: 16, maxLength: 16 }),
        fc.array(text, { minLength: 16, maxLength: 16 }),
        async (parts, typed, preamble, selected, ops, values) => {
          const body = render(parts, typed, preamble);
          const spec = (p: PartSpec): [string, string | number[]] => [p.name, p.file ? [...p.bytes] : p.value];
          expect(await entries(body)).toEqual(parts.map(spec));

          const r = multipartCodec.scan(body, selected.map(field), { maxDepth: 1, contentType: CT });
          const picked = parts.filter((p) => selected.includes(p.name));
          expect(r.matches.map((m) => [m.kind, m.value])).toEqual(
            picked.map((p) => (p.file ? ['file', undefined] : ['string', p.value])),
          );

          const edits: (Edit | undefined)[] = r.matches.map((m, k) => {
            const op = ops[k % ops.length];
            if (op === 'remove') return { op: 'remove' };
            if (op === 'replace' && m.kind === 'string') return { op: 'replace', value: values[k % values.length]! };
            return undefined;
          });
          const out = multipartCodec.apply(body, r, edits);

          const expected: PartSpec[] = [];
          const untouchedRaw: Buffer[] = [];
          let k = 0;
          parts.forEach((p) => {
            const e = selected.includes(p.name) ? edits[k++] : undefined;
            if (e?.op === 'remove') return;
            if (e?.op === 'replace') expected.push({ name: p.name, file: false, value: e.value });
            else expected.push(p);
          });
          if (expected.length > 0) expect(await entries(out)).toEqual(expected.map(spec));
          // Every untouched part's bytes, from its delimiter to the next, appear unchanged and in order. Every part
          // name is in NAMES, so scanning for all of them gives exactly one match per part, in order.
          const all = multipartCodec.scan(body, NAMES.map(field), { maxDepth: 1, contentType: CT }).matches;
          expect(all).toHaveLength(parts.length);
          let m = 0;
          parts.forEach((p, i) => {
            const e = selected.includes(p.name) ? edits[m++] : undefined;
            if (e === undefined) untouchedRaw.push(body.subarray(all[i]!.partStart, all[i]!.partEnd));
          });
          let from = 0;
          for (const raw of untouchedRaw) {
            const idx = out.indexOf(raw, from);
            expect(idx).toBeGreaterThanOrEqual(from);
            from = idx + raw.length;
          }
          expect(out.subarray(out.length - `--${B}--\r\n`.length).toString()).toBe(`--${B}--\r\n`);
          if (preamble) expect(out.subarray(0, 10).toString()).toBe('preamble\r\n');
          if (edits.every((e) => e === undefined)) expect(out).toBe(body);
        },
      ),
      { numRuns: 300 },
    );
  });
});
