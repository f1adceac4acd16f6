import { describe, expect, it } from 'vitest';
import { substituteEnv } from './env.js';

describe('substituteEnv', () => {
  it('replaces a set variable', () => {
    expect(substituteEnv('${HOST_URL}/v1', { HOST_URL: 'https://a.example' })).toEqual({
      ok: true,
      value: 'https://a.example/v1',
      variables: ['HOST_URL'],
    });
  });

  it('uses the default when the variable is unset or empty, and the value when set', () => {
    expect(substituteEnv('${U:-https://d.example}', {})).toMatchObject({ ok: true, value: 'https://d.example' });
    expect(substituteEnv('${U:-https://d.example}', { U: '' })).toMatchObject({ ok: true, value: 'https://d.example' });
    expect(substituteEnv('${U:-https://d.example}', { U: 'http://set' })).toMatchObject({ ok: true, value: 'http://set' });
    expect(substituteEnv('${U:-}x', {})).toMatchObject({ ok: true, value: 'x' });
  });

  it('reports an unset variable without default with its offset and name', () => {
    const text = 'https://${A:-a}.example/${MISSING_ONE}';
    const r = substituteEnv(text, {});
    expect(r.ok).toBe(false);
    if (r.ok) return;
    expect(r.problems).toHaveLength(1);
    expect(r.problems[0]).toMatchObject({ offset: 24, variable: 'MISSING_ONE' });
    expect(text.slice(24, 26)).toBe('${');
    expect(r.problems[0]!.message).toContain("environment variable 'MISSING_ONE' is not set");
  });

  it('treats an empty variable without default as unset', () => {
    const r = substituteEnv('${E}', { E: '' });
    expect(r.ok).toBe(false);
  });

  it('reports every problem, not only the first', () => {
    const r = substituteEnv('${A}${B}', {});
    expect(r.ok ? [] : r.problems.map((p) => [p.offset, p.variable])).toEqual([
      [0, 'A'],
      [4, 'B'],
    ]);
  });

  it('keeps $${ as a literal ${ and a lone $ as itself', () => {
    expect(substituteEnv('a$${B}c', { B: 'x' })).toMatchObject({ ok: true, value: 'a${B}c' });
    expect(substituteEnv('cost$5 $A', { A: 'x' })).toMatchObject({ ok: true, value: 'cost$5 $A' });
  });

  it('refuses malformed references', () => {
    for (const text of ['${1X}', '${}', '${A B}', '${A:=x}', '${A:-${B}}']) {
      const r = substituteEnv(text, { A: 'a', B: 'b' });
      expect(r.ok, text).toBe(false);
      if (!r.ok) expect(r.problems[0]!.message).toContain('invalid reference');
    }
    const open = substituteEnv('x${A', { A: 'a' });
    expect(open.ok ? undefined : open.problems[0]).toMatchObject({ offset: 1, message: expect.stringContaining("unterminated '${'") });
  });

  it('never puts a variable value in a message', () => {
    const r = substituteEnv('${SECRETISH:-}${NOPE}', { SECRETISH: 'hunter2' });
    expect(JSON.stringify(r)).not.toContain('hunter2');
  });
});
