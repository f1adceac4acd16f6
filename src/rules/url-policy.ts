/**
 * What any URL written in a rule file (an upstream, a provider's public URL for signatures) must be before
 * the gateway sends to it or signs over it: http or https, and no user:password@ in it. Kept in one place
 * so upstream URLs and signature URLs cannot drift apart; each caller adds its own query/fragment rule.
 */

/**
 * Why `url` is not an acceptable http(s) URL for a rule file, or undefined when it is. The reason is worded to
 * follow "url " in a rule issue and never contains the URL itself (it may carry a secret from ${ENV}).
 *
 * @example
 *   const problem = httpUrlProblem(new URL('ftp://x.example')); // "scheme 'ftp' is not allowed (expected http or https)"
 */
export function httpUrlProblem(url: URL): string | undefined {
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    return `scheme '${url.protocol.slice(0, -1)}' is not allowed (expected http or https)`;
  }
  if (url.username !== '' || url.password !== '') return 'must not contain credentials (user:password@)';
  return undefined;
}
