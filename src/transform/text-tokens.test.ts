import { beforeAll, describe, expect, it } from 'vitest';
import { ephemeralKeyring } from '../crypto/keyring.js';
import type { Keyring } from '../crypto/types.js';
import { createTokenSpec } from '../tokens/index.js';
import type { TokenSpec, TokenSpecInput } from '../tokens/types.js';
import { escapeText, findTokensInText } from './text-tokens.js';

let keyring: Keyring;
let email: TokenSpec;
let opaque: TokenSpec;
let phone: TokenSpec;
let digits: TokenSpec;
beforeAll(() => {
  keyring = ephemeralKeyring();
  email = createTokenSpec({ type: 'email' }, keyring);
  opaque = createTokenSpec({ type: 'opaque' }, keyring);
  phone = createTokenSpec({ type: 'phone' }, keyring);
  digits = createTokenSpec({ type: 'digits' }, keyring);
});

function token(input: TokenSpecInput, value: string): string {
  const spec = createTokenSpec(input, keyring);
  return spec.format.derive(spec.format.normalize(value), spec.namespace, 0);
}

const found = (text: string, specs: readonly TokenSpec[]) => findTokensInText(text, specs).tokens.map((t) => [text.slice(t.start, t.end), t.spec.type]);

describe('findTokensInText', () => {
  it('finds email and opaque tokens delimited by spaces, punctuation, markup and URLs, in order', () => {
    const e = token({ type: 'email' }, 'ann@example.com');
    const o = token({ type: 'opaque' }, 'Ann');
    const p = token({ type: 'email', emailDomain: 'preserve' }, 'bob@gmail.com');
    const text = `Hi ${o}, we wrote to <a href="mailto:${e}">${e}</a>. Copy: ${p}.\n(${o})`;
    expect(found(text, [email, opaque])).toEqual([
      [o, 'opaque'],
      [e, 'email'],
      [e, 'email'],
      [p, 'email'],
      [o, 'opaque'],
    ]);
  });

  it('a custom opaque prefix and a sentence full stop after an email token', () => {
    const o = token({ type: 'opaque', prefix: 'cus_' }, 'x');
    const e = token({ type: 'email' }, 'a@b.co');
    expect(found(`id=${o}&mail=${e}.`, [email, opaque])).toEqual([
      [o, 'opaque'],
      [e, 'email'],
    ]);
  });

  it('phone and digits tokens only when their spec is given, and only standing alone', () => {
    const ph = token({ type: 'phone' }, '+14155550123');
    const dg = token({ type: 'digits' }, '4012888888881881');
    const text = `Call ${ph} about account ${dg}.`;
    expect(found(text, [email, opaque])).toEqual([]);
    expect(found(text, [email, opaque, phone, digits])).toEqual([
      [ph, 'phone'],
      [dg, 'digits'],
    ]);
    // glued to other digits or letters: not a token
    expect(found(`x${ph} ${ph}9 ${dg}a 1${dg}`, [phone, digits])).toEqual([]);
  });

  it('tokens glued inside longer words are not tokens (ASCII and non-ASCII letters)', () => {
    const o = token({ type: 'opaque' }, 'Ann');
    const e = token({ type: 'email' }, 'ann@example.com');
    expect(found(`x${o} ${o}y ${o}_ ä${o} ${o}é x${e} ${e}é`, [email, opaque])).toEqual([]);
    // Letters glued after an email token lengthen its domain: the keyed local part still says it is ours, so
    // it is a candidate, and the vault does not know that address (unknownToken decides: refuse by default).
    expect(found(`${e}x`, [email])).toEqual([[`${e}x`, 'email']]);
    // but not letters of other scripts' punctuation: an em dash or a CJK full stop delimits
    expect(found(`—${o}。`, [opaque])).toEqual([[o, 'opaque']]);
  });

  it('altered tokens (upper-cased, truncated, URL-encoded) are not tokens and are counted', () => {
    const o = token({ type: 'opaque' }, 'Ann');
    const e = token({ type: 'email' }, 'ann@example.com');
    const p = token({ type: 'email', emailDomain: 'preserve' }, 'bob@gmail.com');
    const text = [o.toUpperCase(), o.slice(0, -3), e.toUpperCase(), encodeURIComponent(e).replace('@', '%40'), p.toUpperCase()].join(' ');
    const out = findTokensInText(text, [email, opaque]);
    expect(out.tokens).toEqual([]);
    expect(out.altered).toBe(5);
    // ordinary words and addresses are neither tokens nor altered
    expect(findTokensInText('Hi Ann, mail ann@example.com or tok now. tokens tok_', [email, opaque])).toEqual({ tokens: [], altered: 0 });
  });

  it('is linear: a long run of token characters is looked at once', () => {
    const text = 'a'.repeat(200_000) + '@' + 'b.'.repeat(50_000);
    expect(findTokensInText(text, [email, opaque, phone, digits]).tokens).toEqual([]);
  });
});

describe('escapeText', () => {
  it('html: & < > " \' become entities', () => {
    expect(escapeText(`Ann <Lee & Co> "x" 'y'`, 'html', '$.v')).toBe('Ann &lt;Lee &amp; Co&gt; &quot;x&quot; &#39;y&#39;');
  });
  it('url: percent-encoded, including the characters encodeURIComponent keeps', () => {
    expect(escapeText(`a b&c=d/é'()!*`, 'url', '$.v')).toBe('a%20b%26c%3Dd%2F%C3%A9%27%28%29%21%2A');
  });
  it('header: CR, LF and NUL are refused naming the path, never the value', () => {
    for (const bad of ['Ann\r\nBcc: x@y.z', 'Ann\nx', 'Ann\0']) {
      let err: unknown;
      try {
        escapeText(bad, 'header', '$.subject');
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ code: 'INVALID_VALUE', field: '$.subject' });
      expect((err as Error).message).not.toContain('Ann');
    }
    expect(escapeText('Ann <Lee>', 'header', '$.subject')).toBe('Ann <Lee>');
  });
  it('plain: as is', () => {
    expect(escapeText('Ann <Lee & Co>', 'plain', '$.v')).toBe('Ann <Lee & Co>');
  });
});
