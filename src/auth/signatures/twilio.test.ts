import { describe, expect, it } from 'vitest';
import { resignTwilio, twilioBodyHash, twilioSignature, twilioUrlVariants, verifyTwilio } from './twilio.js';
import { codeOf, providerFixture, providerJsonFixture, secretKey as key } from './test-helpers.js';
import type { SignedRequest } from './types.js';

const fixture = providerJsonFixture<{
  authToken: string;
  url: string;
  params: Record<string, string>;
  expectedSignature: string;
}>('twilio-signature.json');
const statusCallback = providerFixture('twilio-status-callback.form');

const FORM = 'application/x-www-form-urlencoded';
const spec = (url: string, token = fixture.authToken) => ({ scheme: 'twilio' as const, secret: key(token), url });
const formBody = (params: Record<string, string>) => Buffer.from(new URLSearchParams(params).toString());

/** The fixture vector as a request to https://mycompany.com/myapp.php?foo=1&bar=2. */
function fixtureRequest(overrides: Partial<SignedRequest> & { signature?: string } = {}): SignedRequest {
  return {
    headers: { 'content-type': FORM, 'x-twilio-signature': overrides.signature ?? fixture.expectedSignature, ...overrides.headers },
    body: overrides.body ?? formBody(fixture.params),
    pathAndQuery: overrides.pathAndQuery ?? '/myapp.php?foo=1&bar=2',
  };
}

describe('twilioSignature (twilio-node vectors)', () => {
  it('matches the fixture vector', () => {
    expect(twilioSignature(fixture.authToken, fixture.url, fixture.params)).toBe(fixture.expectedSignature);
  });

  // Vectors from twilio-node spec/validation.spec.js (token '12345', same URL and params as the fixture).
  it('repeated parameters: distinct values, sorted, each as name+value', () => {
    expect(twilioSignature('12345', fixture.url, { 'MessagingBinding.Address': ['+1325xxxxxxx', '+1415xxxxxxx'] })).toBe('83O6e2vORAoJHUNzJjDWN1jz+BA=');
    expect(twilioSignature('12345', fixture.url, { 'MessagingBinding.Address': ['+1415xxxxxxx', '+1325xxxxxxx'] })).toBe('83O6e2vORAoJHUNzJjDWN1jz+BA=');
    expect(twilioSignature('12345', fixture.url, { Sid: 'CA123', SidAccount: 'AC123', Digits: ['5678', '1234', '1234'] })).toBe('IK+Dwps556ElfBT0I3Rgjkr1wJU=');
  });

  it('signs the URL string exactly as given (the quote vector is over the raw query)', () => {
    expect(twilioSignature('12345', `${fixture.url}&Body=It's+amazing`, fixture.params)).toBe('dsq4Ehbj6cs+KdTkpF5sSSplOWw=');
    // twilio-node: the https URL signed with :443, and the http one with :80
    expect(twilioSignature('12345', 'https://mycompany.com:443/myapp.php?foo=1&bar=2', fixture.params)).toBe('kvajT1Ptam85bY51eRf/AJRuM3w=');
    expect(twilioSignature('12345', 'http://mycompany.com:80/myapp.php?foo=1&bar=2', fixture.params)).toBe('0ZXoZLH/DfblKGATFgpif+LLRf4=');
  });

  it('URL variants: without and with the default port, query raw / WHATWG / legacy querystring', () => {
    expect(twilioUrlVariants('https://mycompany.com/myapp.php?foo=1&bar=2')).toEqual([
      'https://mycompany.com/myapp.php?foo=1&bar=2',
      'https://mycompany.com:443/myapp.php?foo=1&bar=2',
    ]);
    expect(twilioUrlVariants('http://mycompany.com/a')).toEqual(['http://mycompany.com/a', 'http://mycompany.com:80/a']);
    expect(twilioUrlVariants('https://mycompany.com:1234/a')).toEqual(['https://mycompany.com/a', 'https://mycompany.com:1234/a']);
    expect(twilioUrlVariants("https://x.example/a?b=It's+ok")).toEqual([
      "https://x.example/a?b=It's+ok",
      'https://x.example/a?b=It%27s+ok',
      "https://x.example/a?b=It's%20ok",
      "https://x.example:443/a?b=It's+ok",
      'https://x.example:443/a?b=It%27s+ok',
      "https://x.example:443/a?b=It's%20ok",
    ]);
  });
});

describe('verifyTwilio', () => {
  it('accepts the fixture vector as a real request (configured URL + the request query)', () => {
    expect(() => verifyTwilio(spec('https://mycompany.com/myapp.php'), fixtureRequest())).not.toThrow();
  });

  it('accepts a signature made over the URL with :443, and one made without the port on a :443 URL', () => {
    expect(() => verifyTwilio(spec('https://mycompany.com/myapp.php'), fixtureRequest({ signature: 'kvajT1Ptam85bY51eRf/AJRuM3w=' }))).not.toThrow();
    expect(() => verifyTwilio(spec('https://mycompany.com:443/myapp.php'), fixtureRequest())).not.toThrow();
    expect(() => verifyTwilio(spec('http://mycompany.com/myapp.php'), fixtureRequest({ signature: '0ZXoZLH/DfblKGATFgpif+LLRf4=' }))).not.toThrow();
  });

  it('accepts the quote vector as sent, and a signature over the WHATWG or legacy spelling of that query', () => {
    const s = spec('https://mycompany.com/myapp.php', '12345');
    const pathAndQuery = "/myapp.php?foo=1&bar=2&Body=It's+amazing";
    expect(() => verifyTwilio(s, fixtureRequest({ signature: 'dsq4Ehbj6cs+KdTkpF5sSSplOWw=', pathAndQuery }))).not.toThrow();
    for (const spelled of ['https://mycompany.com/myapp.php?foo=1&bar=2&Body=It%27s+amazing', "https://mycompany.com/myapp.php?foo=1&bar=2&Body=It's%20amazing"]) {
      const signature = twilioSignature('12345', spelled, fixture.params);
      expect(() => verifyTwilio(s, fixtureRequest({ signature, pathAndQuery }))).not.toThrow();
    }
  });

  it('accepts a signature over a non-default port removed (twilio-node behaviour)', () => {
    expect(() => verifyTwilio(spec('https://mycompany.com:1234/myapp.php'), fixtureRequest())).not.toThrow();
  });

  it('refuses a tampered body, query, URL or signature, and a wrong token', () => {
    const s = spec('https://mycompany.com/myapp.php');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ body: formBody({ ...fixture.params, Digits: '1235' }) })))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ body: formBody({ ...fixture.params, Extra: 'x' }) })))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ pathAndQuery: '/myapp.php?foo=1&bar=3' })))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ pathAndQuery: '/myapp.php' })))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(spec('https://mycompany.com/other.php'), fixtureRequest()))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(spec('https://mycompany.com/myapp.php', '12346'), fixtureRequest()))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ signature: 'RSOYDt4T1cUTdK1PDd93/VVr8B8' })))).toBe('SIGNATURE_INVALID');
    expect(codeOf(() => verifyTwilio(s, fixtureRequest({ signature: 'rSOYDt4T1cUTdK1PDd93/VVr8B8=' })))).toBe('SIGNATURE_INVALID');
  });

  it('refuses a missing header with SIGNATURE_MISSING', () => {
    const req = fixtureRequest();
    const headers = { 'content-type': FORM };
    expect(codeOf(() => verifyTwilio(spec('https://mycompany.com/myapp.php'), { ...req, headers }))).toBe('SIGNATURE_MISSING');
  });

  it('refuses a non-form body that bodySHA256 does not cover (the signature would cover the URL only)', () => {
    const s = spec('https://mycompany.com/myapp.php');
    const signature = twilioSignature('12345', fixture.url, {});
    const req = fixtureRequest({ signature, headers: { 'content-type': 'application/json' }, body: Buffer.from('{"To":"+15558675310"}') });
    expect(codeOf(() => verifyTwilio(s, req))).toBe('SIGNATURE_INVALID');
  });

  describe('JSON bodies: bodySHA256 in the URL (twilio-node vectors)', () => {
    const body = Buffer.from('{"property": "value", "boolean": true}');
    const hash = '0a1ff7634d9ab3b95db5c9a2dfe9416e41502b283a80c7cf19632632f96e6620';
    const req = (b: Buffer, q = `?foo=1&bar=2&bodySHA256=${hash}`): SignedRequest => ({
      headers: { 'content-type': 'application/json', 'x-twilio-signature': 'a9nBmqA0ju/hNViExpshrM61xv4=' },
      body: b,
      pathAndQuery: `/myapp.php${q}`,
    });

    it('accepts the vector', () => {
      expect(twilioBodyHash(body)).toBe(hash);
      expect(() => verifyTwilio(spec('https://mycompany.com/myapp.php'), req(body))).not.toThrow();
      const onlyHash = { ...req(body, `?bodySHA256=${hash}`), headers: { 'content-type': 'application/json', 'x-twilio-signature': 'y77kIzt2vzLz71DgmJGsen2scGs=' } };
      expect(() => verifyTwilio(spec('https://mycompany.com/myapp.php'), onlyHash)).not.toThrow();
    });

    it('refuses a tampered body (hash mismatch) and a tampered hash (signature mismatch)', () => {
      const s = spec('https://mycompany.com/myapp.php');
      expect(codeOf(() => verifyTwilio(s, req(Buffer.from('{"property": "value", "boolean": false}'))))).toBe('SIGNATURE_INVALID');
      expect(codeOf(() => verifyTwilio(s, req(body, `?foo=1&bar=2&bodySHA256=${hash.slice(0, -1)}1`)))).toBe('SIGNATURE_INVALID');
    });
  });
});

describe('resignTwilio', () => {
  it('signs a form body with the next hop token and URL (verifiable by the same rules)', () => {
    const next = spec('https://platform.example/hooks/twilio', 'platform-token');
    const req: SignedRequest = { headers: { 'content-type': FORM }, body: statusCallback, pathAndQuery: '/status?tenant=7' };
    const out = resignTwilio(next, req);
    expect(out.pathAndQuery).toBe('/status?tenant=7');
    const params = Object.fromEntries(new URLSearchParams(statusCallback.toString()));
    expect(out.headers['x-twilio-signature']).toBe(twilioSignature('platform-token', 'https://platform.example/hooks/twilio?tenant=7', params));
    expect(() => verifyTwilio(next, { ...req, headers: { ...req.headers, ...out.headers } })).not.toThrow();
  });

  it('recomputes bodySHA256 over the final body, touching only that parameter', () => {
    const next = spec('https://platform.example/hooks/twilio', 'platform-token');
    const body = Buffer.from('{"To":"tok_abc"}');
    const req: SignedRequest = { headers: { 'content-type': 'application/json' }, body, pathAndQuery: `/hook?a=%20x&bodySHA256=${'0'.repeat(64)}&z=1` };
    const out = resignTwilio(next, req);
    expect(out.pathAndQuery).toBe(`/hook?a=%20x&bodySHA256=${twilioBodyHash(body)}&z=1`);
    expect(() => verifyTwilio(next, { headers: { ...req.headers, ...out.headers }, body, pathAndQuery: out.pathAndQuery })).not.toThrow();
  });
});
