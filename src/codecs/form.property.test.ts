/**
 * Property tests for the form codec: random bodies spelled every way a sender may (+ or %20, needless escapes,
 * lower- or upper-case hex, raw UTF-8, bare names, empty sequences) and random edits; decoded pairs are compared
 * with URLSearchParams and every untouched pair must keep its bytes.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { prng } from '../../test/helpers/prng.js';
import { encodeFormValue, formCodec } from './form.js';
import type { CompiledSelector } from './selector.js';
import type { Edit } from './types.js';

const NAMES = ['To', 'Body', 'MediaUrl', 'x y', 'é', '&=+%', ''];
const SELECTABLE = ['To', 'MediaUrl', 'x y', 'é', '&=+%'];
const field = (name: string): CompiledSelector => ({ source: name, segments: [{ kind: 'key', key: name }] });

const char = fc.oneof(
  fc.constantFrom('&', '=', '+', '%', ' ', '~', '*', '-', '.', '_', '!', "'", '#', '/', '?', '\r', '\n', 'a', 'Z', '0'),
  fc.integer({ min: 0, max: 0x10ffff }).filter((c) => c < 0xd800 || c > 0xdfff).map((c) => String.fromCodePoint(c)),
);
const text = fc.array(char, { maxLength: 12 }).map((cs) => cs.join(''));

/** A spelling of `s` chosen by `rnd`: every character either raw (when allowed) or percent-encoded. */
function spell(s: string, rnd: () => number): string {
  let out = '';
  for (const ch of s) {
    const pct = (): string =>
      [...Buffer.from(ch, 'utf8')]
        .map((b) => {
          const h = b.toString(16).padStart(2, '0');
          return '%' + (rnd() < 0.5 ? h.toUpperCase() : h);
        })
        .join('');
    if (ch === '&' || ch === '=' || ch === '+' || ch === '%') out += pct();
    else if (ch === ' ') out += rnd() < 0.5 ? '+' : '%20';
    else out += rnd() < 0.7 ? ch : pct();
  }
  return out;
}

interface Doc {
  pairs: { name: string; value: string }[];
  seed: number;
  selected: string[];
  editSeed: number;
  replacements: string[];
}

const doc: fc.Arbitrary<Doc> = fc.record({
  pairs: fc.array(fc.record({ name: fc.constantFrom(...NAMES), value: text }), { maxLength: 10 }),
  seed: fc.integer(),
  selected: fc.subarray(SELECTABLE),
  editSeed: fc.integer(),
  replacements: fc.array(text, { minLength: 20, maxLength: 20 }),
});

describe('form codec properties', () => {
  it('scan agrees with URLSearchParams; apply changes exactly the edited pairs', () => {
    fc.assert(
      fc.property(doc, ({ pairs, seed, selected, editSeed, replacements }) => {
        const rnd = prng(seed);
        // Raw pair texts, joined with '&' and sometimes an empty sequence.
        const raw = pairs.map(({ name, value }) =>
          value === '' && rnd() < 0.3 ? spell(name, rnd) : spell(name, rnd) + '=' + spell(value, rnd),
        );
        let text = '';
        raw.forEach((r, i) => {
          if (i > 0) text += rnd() < 0.1 ? '&&' : '&';
          text += r;
        });
        if (rnd() < 0.1) text += '&';
        const body = Buffer.from(text, 'utf8');

        // Empty raw pairs (an empty name with no '=') are empty sequences: not pairs at all.
        const real = pairs.map((p, i) => ({ ...p, raw: raw[i]! })).filter((p) => p.raw !== '');
        expect([...new URLSearchParams(text)]).toEqual(real.map((p) => [p.name, p.value]));

        const result = formCodec.scan(body, selected.map(field), { maxDepth: 1 });
        const expected = real.filter((p) => selected.includes(p.name));
        // One match per (pair, selector): sort by selector within a pair is the codec's order.
        const wanted = expected.flatMap((p) => [p.name]);
        expect(result.matches.map((m) => selected[m.selector])).toEqual(wanted);
        expect(result.matches.map((m) => m.value)).toEqual(expected.map((p) => p.value));

        const er = prng(editSeed);
        const edits: (Edit | undefined)[] = result.matches.map((_, k) => {
          const x = er();
          return x < 0.4 ? { op: 'replace', value: replacements[k % replacements.length]! } : x < 0.6 ? { op: 'remove' } : undefined;
        });
        const out = formCodec.apply(body, result, edits);

        let m = 0;
        const after: [string, string][] = [];
        const rawAfter: string[] = [];
        for (const p of real) {
          const e = selected.includes(p.name) ? edits[m++] : undefined;
          if (e?.op === 'remove') continue;
          if (e?.op === 'replace') {
            after.push([p.name, e.value]);
            const eq = p.raw.indexOf('=');
            rawAfter.push((eq === -1 ? p.raw : p.raw.slice(0, eq)) + '=' + encodeFormValue(e.value));
          } else {
            after.push([p.name, p.value]);
            rawAfter.push(p.raw);
          }
        }
        const outText = out.toString('utf8');
        expect([...new URLSearchParams(outText)]).toEqual(after);
        // Untouched pairs byte-identical, in order; replaced ones are name bytes + '=' + the canonical encoding.
        expect(outText.split('&').filter((s) => s !== '')).toEqual(rawAfter);
        const removed = edits.filter((e) => e?.op === 'remove').length;
        expect(outText.split('&').length - 1).toBe(Math.max(0, text.split('&').length - 1 - removed));
        if (edits.every((e) => e === undefined)) expect(out).toBe(body);
      }),
      { numRuns: 500 },
    );
  });
});
