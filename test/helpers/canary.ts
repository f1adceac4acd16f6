/**
 * Canary PII for the "never leaks" security tests: each test picks its own canary values (so a leak names the
 * test it came from) and scans its output for every form a value could take once it has passed through a
 * codec, a URL or a normalizer.
 */

/**
 * Every text form of the canary values to scan for: as given, lowercased, URL-encoded, and without the
 * leading '+' of a phone number.
 *
 * @example
 *   const forms = canaryTextForms({ email: 'canary.zq7@canary-example.org', phone: '+14155550199' });
 *   for (const line of logs) for (const c of forms) expect(line).not.toContain(c);
 */
export function canaryTextForms(canaries: Readonly<Record<string, string>>): string[] {
  return Object.values(canaries).flatMap((v) => [v, v.toLowerCase(), encodeURIComponent(v), v.replace('+', '')]);
}
