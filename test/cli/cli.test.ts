/**
 * The `pii-gateway` CLI as a person runs it: a real child process, real files, exit codes and output.
 */
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../..', import.meta.url));
const tsx = new URL('../../node_modules/tsx/dist/loader.mjs', import.meta.url).href;
const work = mkdtempSync(path.join(tmpdir(), 'pii-cli-'));
afterAll(() => rmSync(work, { recursive: true, force: true }));

function cli(args: string[], input?: string, env: Record<string, string> = {}) {
  const res = spawnSync(process.execPath, ['--import', tsx, path.join(root, 'src/cli/main.ts'), ...args], {
    cwd: work,
    input,
    encoding: 'utf8',
    env: { ...process.env, PII_GATEWAY_DATA_DIR: path.join(work, 'data'), PII_GATEWAY_LOG_LEVEL: 'warn', ...env },
    timeout: 60_000,
  });
  return { code: res.status, out: res.stdout, err: res.stderr };
}

describe('pii-gateway CLI', () => {
  it('prints help', () => {
    const res = cli(['--help']);
    expect(res.code).toBe(0);
    expect(res.out).toContain('rules check');
    expect(cli(['start', '--help']).out).toContain('PII_GATEWAY_LISTEN');
    expect(cli(['bogus']).code).toBe(2);
  });

  it('rules check passes on the shipped rule packs', () => {
    const res = cli(['rules', 'check', path.join(root, 'rules')]);
    expect(res.err).toBe('');
    expect(res.code).toBe(0);
    expect(res.out).toContain('POST   /1/upload');
  });

  it('rules check names file, line and column of a bad rule and exits 1', () => {
    const dir = path.join(work, 'bad-rules');
    mkdirSync(dir, { recursive: true });
    writeFileSync(
      path.join(dir, 'bad.yaml'),
      ['version: 1', 'upstreams: { up: { url: "http://127.0.0.1:9" } }', 'routes:', '  - id: r', '    match: { method: POST, path: /x }', '    upstream: up', '    request:', '      fields:', '        - { select: $.a, action: tokenise, type: email }', ''].join('\n'),
    );
    const res = cli(['rules', 'check', dir]);
    expect(res.code).toBe(1);
    expect(res.err).toMatch(/bad\.yaml:9:\d+/);
    expect(res.err).toContain('tokenise');
  });

  it('rules test passes on the shipped rule packs and their tests', () => {
    const res = cli(['rules', 'test', path.join(root, 'rules')]);
    expect(res.code).toBe(0);
    expect(res.out).toMatch(/^\d+ passed, 0 failed$/m);
  });

  it('keys init writes a 0600 key file and refuses to overwrite it', () => {
    const file = path.join(work, 'prod', 'keys.json');
    const first = cli(['keys', 'init', file]);
    expect(first.code).toBe(0);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const again = cli(['keys', 'init', file]);
    expect(again.code).toBe(1);
    expect(again.err).toContain('refusing to overwrite');
    expect(JSON.parse(cli(['keys', 'generate']).out).version).toBe(1);
  });

  it('tokenize then detokenize round-trips through the embedded vault, creating dev keys 0600', () => {
    const tok = cli(['tokenize', '--type', 'email', 'jack@gmail.com', 'jill@gmail.com']);
    expect(tok.code).toBe(0);
    const tokens = tok.out.trim().split('\n');
    expect(tokens).toHaveLength(2);
    expect(tokens[0]).toMatch(/@.*\.tok\.invalid$/);
    expect(statSync(path.join(work, 'data', 'keys.json')).mode & 0o777).toBe(0o600);
    // again, from stdin: same tokens (deterministic)
    expect(cli(['tokenize', '--type', 'email'], 'jack@gmail.com\njill@gmail.com\n').out.trim().split('\n')).toEqual(tokens);
    const det = cli(['detokenize'], tokens.join('\n') + '\n');
    expect(det.code).toBe(0);
    expect(det.out.trim().split('\n')).toEqual(['jack@gmail.com', 'jill@gmail.com']);
  });

  it('reports invalid values and unknown tokens without echoing them', () => {
    const bad = cli(['tokenize', '--type', 'phone', 'my-secret-not-a-phone']);
    expect(bad.code).toBe(1);
    expect(bad.err).toContain('input 1');
    expect(bad.err + bad.out).not.toContain('my-secret-not-a-phone');
    const unknown = cli(['detokenize', 'tok_doesnotexist']);
    expect(unknown.code).toBe(1);
    expect(unknown.err).toContain('unknown token');
  });
});
