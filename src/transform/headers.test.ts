import { describe, expect, it } from 'vitest';
import { compileSelector } from '../codecs/selector.js';
import type { CompiledSelector } from '../codecs/selector.js';
import { applyHeaders, scanHeaders } from './headers.js';

const name = (key: string): CompiledSelector => ({ source: `header:${key}`, segments: [{ kind: 'key', key }] });

describe('header location', () => {
  it('matches names case-insensitively, each value of a repeated header on its own', () => {
    const matches = scanHeaders({ 'X-A': 'one', 'x-b': ['b0', 'b1'], c: 'x' }, [name('x-a'), name('x-b')]);
    expect(matches.map((m) => [m.selector, m.path, m.value])).toEqual([
      [0, 'header:x-a', 'one'],
      [1, 'header:x-b[0]', 'b0'],
      [1, 'header:x-b[1]', 'b1'],
    ]);
  });

  it('replaces and removes on a copy; an untouched map is returned as is', () => {
    const headers = { 'X-A': 'one', 'x-b': ['b0', 'b1'], c: 'x' };
    const matches = scanHeaders(headers, [name('x-a'), name('x-b')]);
    expect(applyHeaders(headers, matches, [])).toBe(headers);
    const out = applyHeaders(headers, matches, [{ op: 'replace', value: 'ONE' }, { op: 'remove' }, undefined]);
    expect(out).toEqual({ 'X-A': 'ONE', 'x-b': ['b1'], c: 'x' });
    expect(headers).toEqual({ 'X-A': 'one', 'x-b': ['b0', 'b1'], c: 'x' });
    expect(applyHeaders(headers, matches, [{ op: 'remove' }, { op: 'remove' }, { op: 'remove' }])).toEqual({ c: 'x' });
  });

  it('refuses a replacement that is not a valid field value (header splitting, non-ASCII), naming the header only', () => {
    const headers = { 'x-a': 'one' };
    const matches = scanHeaders(headers, [name('x-a')]);
    for (const bad of ['a\r\nSet-Cookie: x=1', 'nul\0', 'é']) {
      let caught: unknown;
      try {
        applyHeaders(headers, matches, [{ op: 'replace', value: bad }]);
      } catch (err) {
        caught = err;
      }
      expect(caught).toMatchObject({ code: 'INVALID_VALUE', field: 'header:x-a' });
      expect((caught as Error).message).not.toContain(bad);
    }
  });

  it('refuses a selector that is not a single name', () => {
    expect(() => scanHeaders({ a: 'b' }, [compileSelector('$..a')])).toThrow(/not a name/);
  });
});
