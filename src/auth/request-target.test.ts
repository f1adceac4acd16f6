import { describe, expect, it } from 'vitest';
import { hostProblem, requestTargetProblem } from './request-target.js';

describe('requestTargetProblem', () => {
  it.each(['/', '/1/upload', '/a/b?x=../y&z=%2F', '/2010-04-01/Accounts/AC1/Messages.json', '/a/', '/a/%20b', '/a/..b', '/a/.well-known'])('accepts %s', (t) => {
    expect(requestTargetProblem(t)).toBeUndefined();
  });
  it.each([
    'http://h/a', '*', '/a#f', '/a/..', '/a/../b', '/a/./b', '/./a', '/a/..;x/b', '/a//b', '//a', '/a%2Fb', '/a%2fb', '/a%2e%2e/b', '/a%5Cb', '/a\\b', '/a%252Fb', '/a%00',
  ])('refuses %s', (t) => {
    expect(requestTargetProblem(t)).toBeTypeOf('string');
  });
});

describe('hostProblem', () => {
  it('refuses a trailing dot (with or without port) and two Host headers', () => {
    expect(hostProblem(['Host', 'api.twilio.com'])).toBeUndefined();
    expect(hostProblem(['Host', 'api.twilio.com:443'])).toBeUndefined();
    expect(hostProblem(['Host', '[::1]:8080'])).toBeUndefined();
    expect(hostProblem(['Host', 'api.twilio.com.'])).toMatch(/dot/);
    expect(hostProblem(['host', 'api.twilio.com.:443'])).toMatch(/dot/);
    expect(hostProblem(['Host', 'a.test', 'HOST', 'b.test'])).toMatch(/more than one/);
  });
});
