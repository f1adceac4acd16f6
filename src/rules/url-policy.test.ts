import { describe, expect, it } from 'vitest';
import { httpUrlProblem } from './url-policy.js';

describe('httpUrlProblem', () => {
  it('accepts http and https URLs, with or without a query (callers decide about the query)', () => {
    expect(httpUrlProblem(new URL('https://api.example.com/v1'))).toBeUndefined();
    expect(httpUrlProblem(new URL('http://127.0.0.1:8080'))).toBeUndefined();
    expect(httpUrlProblem(new URL('https://gw.example/hooks?x=1#f'))).toBeUndefined();
  });

  it('names a scheme other than http(s) and refuses credentials without echoing them', () => {
    expect(httpUrlProblem(new URL('ftp://files.example'))).toBe("scheme 'ftp' is not allowed (expected http or https)");
    expect(httpUrlProblem(new URL('file:///etc/passwd'))).toBe("scheme 'file' is not allowed (expected http or https)");
    expect(httpUrlProblem(new URL('https://user:s3cret@api.example.com'))).toBe('must not contain credentials (user:password@)');
    expect(httpUrlProblem(new URL('https://user@api.example.com'))).toBe('must not contain credentials (user:password@)');
  });
});
