import { describe, expect, it } from 'vitest';
import { apiKeyLine, checkNameAndPermissions, generateApiKey, hashApiKey, matchApiKey, parseApiKeyFile } from './api-keys.js';

describe('API keys', () => {
  it('generates 256-bit keys in one shape and stores only their SHA-256', () => {
    const key = generateApiKey();
    expect(key).toMatch(/^pgk_[A-Za-z0-9_-]{43}$/);
    expect(Buffer.from(key.slice(4), 'base64url')).toHaveLength(32);
    expect(generateApiKey()).not.toBe(key);
    const line = apiKeyLine('dispatcher', ['detokenize'], key);
    expect(line).toBe(`dispatcher detokenize sha256:${hashApiKey(key).toString('hex')}`);
    expect(line).not.toContain(key.slice(4));
  });

  it('parses a file, matches keys, and names the line of a malformed entry', () => {
    const a = generateApiKey();
    const b = generateApiKey();
    const entries = parseApiKeyFile(`# keys\n${apiKeyLine('a', ['tokenize', 'detokenize'], a)}\n\n${apiKeyLine('b', ['tokenize'], b)} # crm\n`, 'k.txt');
    expect(entries.map((e) => [e.name, e.permissions])).toEqual([['a', ['tokenize', 'detokenize']], ['b', ['tokenize']]]);
    expect(matchApiKey(entries, a)?.name).toBe('a');
    expect(matchApiKey(entries, b)?.name).toBe('b');
    expect(matchApiKey(entries, generateApiKey())).toBeUndefined();
    expect(matchApiKey(entries, 'pgk_x')).toBeUndefined();
    expect(() => parseApiKeyFile('a detokenize sha256:abc\n', 'k.txt')).toThrow('k.txt:1: expected');
    expect(() => parseApiKeyFile(`${apiKeyLine('a', ['tokenize'], a)}\n${apiKeyLine('a', ['tokenize'], b)}\n`, 'k.txt')).toThrow("k.txt:2: duplicate key name 'a'");
    expect(checkNameAndPermissions('x', 'admin')).toEqual({ error: expect.stringContaining("unknown permission 'admin'") });
  });
});
