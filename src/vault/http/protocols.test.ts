import { describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../../crypto/keyring.js';
import { GatewayError, isGatewayError } from '../../errors.js';
import { createTokenSpec } from '../../tokens/index.js';
import type { TokenizeItem } from '../interface.js';
import { clevertapProtocol as ct, piiGatewayProtocol as gw, remoteErrorCode } from './protocols.js';

const keyring = ephemeralKeyring();
const CANARY = 'canary.proto.4471@example.org';
const item = (input: Parameters<typeof createTokenSpec>[0], value: string): TokenizeItem => ({ spec: createTokenSpec(input, keyring), value });

function thrown(f: () => unknown): GatewayError {
  try {
    f();
  } catch (e) {
    if (isGatewayError(e)) return e;
    throw e;
  }
  throw new Error('did not throw');
}

describe('pii-gateway protocol', () => {
  it('sends each spec as its canonical input: type, options, namespace where it differs, random only when set', () => {
    const items = [
      item({ type: 'email', namespace: 'crm' }, CANARY),
      item({ type: 'email', namespace: 'crm', emailDomain: 'preserve' }, CANARY),
      item({ type: 'opaque', namespace: 'crm', prefix: 'cus_', random: true }, 'Ada'),
      item({ type: 'phone', namespace: 'other' }, '+14155550100'),
      item({ type: 'email', namespace: 'crm', emailDomain: { sink: 'sink.invalid' } }, CANARY),
    ];
    expect(gw.tokenizeRequest(items)).toEqual({
      path: '/v1/tokenize',
      body: {
        namespace: 'crm',
        items: [
          { type: 'email', value: CANARY, emailDomain: 'tokenize', emailSuffix: 'tok.invalid' },
          { type: 'email', value: CANARY, emailDomain: 'preserve' },
          { type: 'opaque', value: 'Ada', random: true, prefix: 'cus_' },
          { type: 'phone', value: '+14155550100', namespace: 'other' },
          { type: 'email', value: CANARY, emailDomain: { sink: 'sink.invalid' } },
        ],
      },
    });
  });

  it('sends detokenize items with the purpose', () => {
    expect(gw.detokenizeRequest([{ namespace: 'a', token: 't1' }, { namespace: 'b', token: 't2' }], 'sms_dispatch')).toEqual({
      path: '/v1/detokenize',
      body: { namespace: 'a', purpose: 'sms_dispatch', items: [{ token: 't1' }, { token: 't2', namespace: 'b' }] },
    });
    expect(gw.detokenizeRequest([{ namespace: 'a', token: 't1' }], undefined).body).toEqual({ namespace: 'a', items: [{ token: 't1' }] });
  });

  const two = [item({ type: 'email' }, CANARY), item({ type: 'email' }, 'b@example.org')];

  it('takes one token per item, in order', () => {
    expect(gw.tokenizeResults({ results: [{ token: 'x@y.tok.invalid' }, { token: 'z@y.tok.invalid' }] }, two, 0)).toEqual(['x@y.tok.invalid', 'z@y.tok.invalid']);
  });

  const malformed: [string, unknown, RegExp][] = [
    ['not an object', [CANARY], /at \$: expected an object/],
    ['no results', { tokens: [CANARY] }, /at results: expected an array/],
    ['too few results', { results: [{ token: 't' }] }, /1 results for 2 items \(items 10\.\.11\)/],
    ['too many results', { results: [{ token: 't' }, { token: 'u' }, { token: CANARY }] }, /3 results for 2 items/],
    ['a missing token', { results: [{ token: 't' }, {}] }, /at results\[11\]\.token: expected a non-empty string token/],
    ['an empty token', { results: [{ token: '' }, { token: 't' }] }, /at results\[10\]\.token/],
    ['a numeric token', { results: [{ token: 't' }, { token: 5 }] }, /at results\[11\]\.token/],
    ['a non-object result', { results: [CANARY, { token: 't' }] }, /at results\[10\]: expected an object/],
    ['the value as its token', { results: [{ token: CANARY }, { token: 't' }] }, /the value itself as the token at results\[10\]/],
  ];
  for (const [name, json, message] of malformed) {
    it(`refuses a tokenize answer with ${name} (VAULT_UNAVAILABLE, position, no value)`, () => {
      const err = thrown(() => gw.tokenizeResults(json, two, 10));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(CANARY);
    });
  }

  it('lets an own email token come back unchanged (a token passes through a vault)', () => {
    const spec = createTokenSpec({ type: 'email' }, keyring);
    const token = spec.format.derive(spec.format.normalize(CANARY), 'default', 0);
    expect(gw.tokenizeResults({ results: [{ token }] }, [{ spec, value: token }], 0)).toEqual([token]);
  });

  it('turns a per-item error into a failure of the whole call, relative to the caller\'s batch', () => {
    const invalid = thrown(() => gw.tokenizeResults({ results: [{ token: 't' }, { error: { code: 'INVALID_VALUE', message: `items[1].value ${CANARY}` } }] }, two, 500));
    expect([invalid.code, invalid.message, invalid.field]).toEqual(['INVALID_VALUE', 'the remote vault refused the value of items[501]: not a valid email', undefined]);
    const other = thrown(() => gw.tokenizeResults({ results: [{ error: { code: 'TOKEN_COLLISION', message: CANARY } }, { token: 't' }] }, two, 0));
    expect([other.code, other.message]).toEqual(['VAULT_UNAVAILABLE', 'remote vault refused items[0] (TOKEN_COLLISION)']);
    const odd = thrown(() => gw.tokenizeResults({ results: [{ error: { code: CANARY } }, { token: 't' }] }, two, 0));
    expect(odd.message).toBe('remote vault refused items[0] (no error code)');
  });

  it('reads detokenize results strictly', () => {
    const keys = [{ namespace: 'n', token: 'a' }, { namespace: 'n', token: 'b' }];
    expect(gw.detokenizeResults({ results: [{ found: true, value: CANARY, type: 'email' }, { found: false }] }, keys, 0)).toEqual([
      { found: true, value: CANARY, type: 'email' },
      { found: false },
    ]);
    const bad: [unknown, RegExp][] = [
      [{ results: [{ found: true, value: CANARY, type: 'email' }] }, /1 results for 2 items/],
      [{ results: [{ found: 'yes', value: CANARY }, { found: false }] }, /results\[0\]\.found: expected true or false/],
      [{ results: [{ found: true }, { found: false }] }, /results\[0\]\.value: expected a string/],
      [{ results: [{ found: true, value: 5, type: 'email' }, { found: false }] }, /results\[0\]\.value/],
      [{ results: [{ found: false }, { found: true, value: CANARY, type: 'ssn' }] }, /results\[1\]\.type: expected one of email, phone, opaque, digits/],
      [{ results: [{ found: false }, { found: true, value: CANARY }] }, /results\[1\]\.type/],
    ];
    for (const [json, message] of bad) {
      const err = thrown(() => gw.detokenizeResults(json, keys, 0));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(CANARY);
    }
  });

  it('pings with an empty detokenize (with the purpose), then an empty tokenize', () => {
    expect(gw.pingRequests('p')).toEqual([
      { path: '/v1/detokenize', body: { items: [], purpose: 'p' } },
      { path: '/v1/tokenize', body: { items: [] } },
    ]);
  });
});

describe('clevertap protocol', () => {
  it('expresses only deterministic opaque tokens in the default namespace, and says so', () => {
    expect(() => ct.checkTokenize([item({ type: 'opaque' }, 'Ada'), item({ type: 'opaque', prefix: 'cus_' }, 'Ada')])).not.toThrow();
    const cases: [TokenizeItem, RegExp][] = [
      [item({ type: 'email' }, CANARY), /items\[1\] asks for token type email/],
      [item({ type: 'opaque', random: true }, 'Ada'), /items\[1\] asks for a random token/],
      [item({ type: 'opaque', namespace: 'crm' }, 'Ada'), /items\[1\] asks for namespace 'crm'/],
    ];
    for (const [bad, message] of cases) {
      const err = thrown(() => ct.checkTokenize([item({ type: 'opaque' }, 'x'), bad]));
      expect(err.code).toBe('VAULT_UNAVAILABLE');
      expect(err.message).toMatch(message);
      expect(err.message).toContain('use type opaque');
      expect(err.message).not.toContain(CANARY);
    }
    expect(thrown(() => ct.checkDetokenize([{ namespace: 'default', token: 'a' }, { namespace: 'crm', token: 'b' }])).message).toMatch(/items\[1\] is in namespace 'crm'/);
  });

  it('maps to tokens/batch and tokens/values/batch with metadata.purpose', () => {
    expect(ct.tokenizeRequest([item({ type: 'opaque' }, 'Ada'), item({ type: 'opaque' }, 'Bob')])).toEqual({ path: '/ct-vault/api/tokenization/tokens/batch', body: { values: ['Ada', 'Bob'] } });
    expect(ct.detokenizeRequest([{ namespace: 'default', token: 'TKN_a' }], 'email_dispatch')).toEqual({
      path: '/ct-vault/api/tokenization/tokens/values/batch',
      body: { tokens: ['TKN_a'], metadata: { purpose: 'email_dispatch' } },
    });
    expect(ct.pingRequests(undefined)).toEqual([{ path: '/ct-vault/api/tokenization/tokens/values/batch', body: { tokens: [] } }]);
    expect([ct.maxTokenize, ct.maxDetokenize]).toEqual([1000, 10_000]);
  });

  it('reads answers strictly and reports type opaque', () => {
    const items = [item({ type: 'opaque' }, 'Ada'), item({ type: 'opaque' }, 'TKN_already1')];
    expect(ct.tokenizeResults({ results: [{ originalValue: 'Ada', token: 'TKN_x1' }, { token: 'TKN_already1' }], summary: {} }, items, 0)).toEqual(['TKN_x1', 'TKN_already1']);
    expect(thrown(() => ct.tokenizeResults({ results: [{ token: 'Ada' }, { token: 'TKN_y' }] }, items, 0)).message).toMatch(/value itself as the token at results\[0\]/);
    expect(thrown(() => ct.tokenizeResults({ results: [{ token: null }, { token: 'TKN_y' }] }, items, 0)).message).toMatch(/results\[0\]\.token/);

    const keys = [{ namespace: 'default', token: 'TKN_a' }, { namespace: 'default', token: 'TKN_b' }];
    expect(
      ct.detokenizeResults({ results: [{ token: 'TKN_a', value: CANARY, exists: true, dataType: 'string' }, { token: 'TKN_b', value: null, exists: false, dataType: null }] }, keys, 0),
    ).toEqual([{ found: true, value: CANARY, type: 'opaque' }, { found: false }]);
    const bad: [unknown, RegExp][] = [
      [{ results: [{ token: 'TKN_b', value: CANARY, exists: true }, { token: 'TKN_a', exists: false }] }, /results\[0\]\.token: expected the token asked for/],
      [{ results: [{ value: CANARY }, { exists: false }] }, /results\[0\]\.exists/],
      [{ results: [{ exists: true, value: 7 }, { exists: false }] }, /results\[0\]\.value/],
      [{ results: [] }, /0 results for 2 items/],
    ];
    for (const [json, message] of bad) {
      const err = thrown(() => ct.detokenizeResults(json, keys, 0));
      expect(err.message).toMatch(message);
      expect(err.message).not.toContain(CANARY);
    }
  });
});

describe('remoteErrorCode', () => {
  it('reads the code of a gateway error envelope, and nothing that does not look like a code', () => {
    expect(remoteErrorCode({ error: { code: 'BATCH_TOO_LARGE', message: 'x' } })).toBe('BATCH_TOO_LARGE');
    for (const v of [undefined, null, 'x', { error: 'x' }, { error: { code: CANARY } }, { error: { code: 'lower' } }, { error: { code: 5 } }]) {
      expect(remoteErrorCode(v)).toBeUndefined();
    }
  });
});
