import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { TOKEN_TYPES } from '../tokens/types.js';
import { CODEC_CONTENT_TYPES } from './content-type.js';
import { CODEC_NAMES, rulesSchema, ruleFileValidator, schemaJson, SCHEMA_TOKEN_TYPES } from './schema.js';

const published = path.join(path.dirname(fileURLToPath(import.meta.url)), '..', '..', 'schema', 'rules.schema.json');

describe('rules schema', () => {
  it('is published unchanged in schema/rules.schema.json (run `npm run schema` after editing schema.ts)', () => {
    const text = readFileSync(published, 'utf8');
    expect(JSON.parse(text)).toEqual(JSON.parse(JSON.stringify(rulesSchema)));
    expect(text).toBe(schemaJson());
  });

  it('lists the same token types as tokens/types.ts', () => {
    expect([...SCHEMA_TOKEN_TYPES]).toEqual([...TOKEN_TYPES]);
  });

  it('has content types for every codec', () => {
    for (const codec of CODEC_NAMES) expect(CODEC_CONTENT_TYPES[codec].length).toBeGreaterThan(0);
  });

  it('compiles in strict mode and rejects unknown keys', () => {
    const validate = ruleFileValidator();
    const base = {
      version: 1,
      upstreams: { a: { url: 'https://a.example' } },
      routes: [{ id: 'r', match: { method: 'POST', path: '/x' }, upstream: 'a' }],
    };
    expect(validate(base)).toBe(true);
    expect(validate({ ...base, extra: true })).toBe(false);
    expect(validate.errors?.[0]).toMatchObject({ keyword: 'additionalProperties', params: { additionalProperty: 'extra' } });
  });

  it('accepts hono-style paths and refuses others', () => {
    const validate = ruleFileValidator();
    const withPath = (p: string) => ({
      version: 1,
      upstreams: { a: { url: 'https://a.example' } },
      routes: [{ id: 'r', match: { method: 'POST', path: p }, upstream: 'a' }],
    });
    for (const ok of ['/', '/*', '/1/upload', '/2010-04-01/Accounts/:sid/Messages.json', '/v1/:id/*', '/v1/a:b', '/a.b~c']) {
      expect(validate(withPath(ok)), ok).toBe(true);
    }
    for (const bad of ['', 'x', '/a/', '//a', '/a b', '/:1x', '/a/*/b', '/a?b=1', '/a#f']) {
      expect(validate(withPath(bad)), bad).toBe(false);
    }
  });
});
