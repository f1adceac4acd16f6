/**
 * Docs stay true: every setting the code reads is in the README's configuration table, and every
 * stable error code is documented.
 */
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SETTINGS } from '../src/config/index.js';

const readme = readFileSync(new URL('../README.md', import.meta.url), 'utf8');

describe('README', () => {
  it('lists every PII_GATEWAY_* setting in the configuration table', () => {
    const missing = SETTINGS.map(([name]) => name).filter((name) => !readme.includes(`| \`${name}\``));
    expect(missing).toEqual([]);
  });

  it('names no setting the code does not have', () => {
    const known = new Set<string>(SETTINGS.map(([name]) => name));
    const named = [...readme.matchAll(/\| `(PII_GATEWAY_[A-Z_]+)`/g)].map((m) => m[1]!);
    expect(named.filter((n) => !known.has(n))).toEqual([]);
  });
});
