import { describe, expect, it } from 'vitest';
import { allowedToward, checkPurpose, checkRelease, parseDetokenizePolicy } from './detokenize-policy.js';

const policy = parseDetokenizePolicy(
  `version: 1
destinations:
  phone: [api.twilio.com, "*.infobip.com"]
  email: [API.SendGrid.com.]
responses: [phone]
purposes:
  sms: { callers: ["apikey:dispatcher"], types: [phone] }
  any: { callers: ["*"], types: [email] }
`,
  'p.yaml',
);

describe('detokenize policy', () => {
  it('matches exact hosts case-insensitively and *.domain for subdomains only', () => {
    expect(allowedToward(policy, 'phone', 'api.twilio.com')).toBe(true);
    expect(allowedToward(policy, 'phone', 'API.TWILIO.COM.')).toBe(true);
    expect(allowedToward(policy, 'phone', 'eu.api.infobip.com')).toBe(true);
    expect(allowedToward(policy, 'phone', 'infobip.com')).toBe(false);
    expect(allowedToward(policy, 'phone', 'evilinfobip.com')).toBe(false);
    expect(allowedToward(policy, 'phone', 'api.twilio.com.evil.test')).toBe(false);
    expect(allowedToward(policy, 'email', 'api.sendgrid.com')).toBe(true);
    expect(allowedToward(policy, 'email', 'api.twilio.com')).toBe(false);
    expect(allowedToward(policy, 'opaque', 'api.twilio.com')).toBe(false);
  });

  it('checks releases per side and purposes per caller and type', () => {
    expect(() => checkRelease(policy, 'request', 'api.twilio.com', ['phone'])).not.toThrow();
    expect(() => checkRelease(policy, 'request', 'api.twilio.com', ['phone', 'email'])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => checkRelease(policy, 'response', 'x', ['phone'])).not.toThrow();
    expect(() => checkRelease(policy, 'response', 'x', ['email'])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => checkRelease(null, 'request', 'api.twilio.com', ['phone'])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    const p = { ...policy, purposes: policy.purposes! };
    expect(() => checkPurpose(p, 'sms', ['apikey:dispatcher'], ['phone'])).not.toThrow();
    expect(() => checkPurpose(p, undefined, ['apikey:dispatcher'], ['phone'])).toThrow(expect.objectContaining({ code: 'BAD_REQUEST' }));
    expect(() => checkPurpose(p, 'sms', ['apikey:other'], ['phone'])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => checkPurpose(p, 'sms', ['apikey:dispatcher'], ['email'])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    expect(() => checkPurpose(p, 'any', [], ['email'])).not.toThrow();
    expect(() => checkPurpose(p, '__proto__', ['apikey:dispatcher'], [])).toThrow(expect.objectContaining({ code: 'FORBIDDEN' }));
    // user-delegated tokens: only where the purpose says users: true
    expect(() => checkPurpose(p, 'sms', ['apikey:dispatcher'], ['phone'], true)).toThrow("a user's token");
    const open = { ...p, purposes: parseDetokenizePolicy('version: 1\npurposes: { look: { callers: ["jwt:web"], types: [phone], users: true } }\n', 'p.yaml').purposes! };
    expect(open.purposes.get('look')?.users).toBe(true);
    expect(p.purposes.get('sms')?.users).toBe(false);
    expect(() => checkPurpose(open, 'look', ['jwt:web'], ['phone'], true)).not.toThrow();
    expect(() => checkPurpose(open, 'look', ['jwt:other'], ['phone'], true)).toThrow('this caller may not detokenize for this purpose');
  });

  it('refuses malformed files with what is wrong', () => {
    const bad = (text: string) => () => parseDetokenizePolicy(text, 'p.yaml');
    expect(bad('version: 2\n')).toThrow('version: expected 1');
    expect(bad('version: 1\ndestinatons: {}\n')).toThrow("unknown key 'destinatons'");
    expect(bad('version: 1\ndestinations: { fone: [a.test] }\n')).toThrow('destinations.fone: expected a token type');
    expect(bad('version: 1\ndestinations: { phone: ["https://a.test"] }\n')).toThrow('not a host name');
    expect(bad('version: 1\ndestinations: { phone: ["a.test:443"] }\n')).toThrow('not a host name');
    expect(bad('version: 1\npurposes: { sms: { callers: [], types: [phone] } }\n')).toThrow('at least one caller');
    expect(bad('version: 1\npurposes: { sms: { callers: [a], types: [phone], user: true } }\n')).toThrow("unknown key 'user' (expected callers, types, users)");
    expect(bad('version: 1\npurposes: { sms: { callers: [a], types: [phone], users: "yes" } }\n')).toThrow('purposes.sms.users: expected true or false');
    expect(parseDetokenizePolicy('version: 1\n', 'p.yaml').purposes).toBeNull();
    expect(parseDetokenizePolicy('version: 1\npurposes: {}\n', 'p.yaml').purposes?.size).toBe(0);
  });
});
