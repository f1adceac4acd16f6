import { describe, expect, it } from 'vitest';
import { isGatewayError, type GatewayError } from '../errors.js';
import { multipartBoundary, multipartCodec, type MultipartMatch } from './multipart.js';
import type { CompiledSelector } from './selector.js';
import type { Edit } from './types.js';

const B = '----WebKitFormBoundary7MA4YWxkTrZu0gW';
const CT = `multipart/form-data; boundary=${B}`;
const field = (name: string): CompiledSelector => ({ source: name, segments: [{ kind: 'key', key: name }] });

/** A body from [headers, content] parts, CRLF line endings, with an optional preamble and epilogue. */
function build(parts: [string, string | Buffer][], opts: { preamble?: string; epilogue?: string; boundary?: string } = {}): Buffer {
  const b = opts.boundary ?? B;
  const chunks: Buffer[] = [];
  if (opts.preamble !== undefined) chunks.push(Buffer.from(opts.preamble + '\r\n'));
  for (const [headers, content] of parts) {
    chunks.push(Buffer.from(`--${b}\r\n${headers}\r\n\r\n`), Buffer.isBuffer(content) ? content : Buffer.from(content), Buffer.from('\r\n'));
  }
  chunks.push(Buffer.from(`--${b}--\r\n${opts.epilogue ?? ''}`));
  return Buffer.concat(chunks);
}
const text = (name: string, extra = ''): string => `Content-Disposition: form-data; name="${name}"${extra}`;
const file = (name: string, filename: string, type = 'application/octet-stream'): string =>
  `Content-Disposition: form-data; name="${name}"; filename="${filename}"\r\nContent-Type: ${type}`;

function scan(body: Buffer, names: string[], contentType = CT): MultipartMatch[] {
  return [...multipartCodec.scan(body, names.map(field), { maxDepth: 1, contentType }).matches];
}

function edit(body: Buffer, names: string[], e: Edit | ((m: MultipartMatch) => Edit | undefined), contentType = CT): Buffer {
  const r = multipartCodec.scan(body, names.map(field), { maxDepth: 1, contentType });
  return multipartCodec.apply(body, r, r.matches.map((m) => (typeof e === 'function' ? e(m) : e)));
}

function refusal(body: Buffer, names: string[], contentType = CT): GatewayError {
  try {
    scan(body, names, contentType);
  } catch (err) {
    if (isGatewayError(err)) return err;
    throw err;
  }
  throw new Error('expected the body to be refused');
}

const PNG = Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a, 0x00, 0xff, 0xfe, 0x2d, 0x2d, 0x0d, 0x0a]);

describe('multipart: boundary', () => {
  it.each([
    [`multipart/form-data; boundary=${B}`, B],
    ['multipart/form-data;boundary="a b:c"', 'a b:c'],
    ['Multipart/Form-Data; charset=utf-8; BOUNDARY=x', 'x'],
  ])('reads %s', (ct, b) => expect(multipartBoundary(ct)).toBe(b));

  it.each([
    [undefined],
    ['multipart/form-data'],
    ['multipart/form-data; charset=utf-8'],
    ['multipart/form-data; boundary='],
    ['multipart/form-data; boundary="ends in space "'],
    ['multipart/form-data; boundary=' + 'x'.repeat(71)],
    ['multipart/form-data; boundary="unterminated'],
    ['multipart/form-data; boundary=a; boundary=b'],
  ])('refuses %s with INVALID_MULTIPART', (ct) => {
    expect(() => multipartBoundary(ct)).toThrow(expect.objectContaining({ code: 'INVALID_MULTIPART', status: 400 }));
  });
});

describe('multipart: scan', () => {
  const body = build(
    [
      [text('To'), '+14155551234'],
      [text('Body', '\r\nContent-Type: text/plain; charset=UTF-8'), 'Héllo 👋\r\nsecond line'],
      [file('MediaUrl', 'a.png', 'image/png'), PNG],
      [text('MediaUrl'), 'https://x.test/1'],
    ],
    { preamble: 'This is a preamble', epilogue: 'epilogue' },
  );

  it('finds text parts by name, decodes them as UTF-8, and reports file parts as kind file', () => {
    const ms = scan(body, ['To', 'Body', 'MediaUrl', 'Nope']);
    expect(ms.map((m) => [m.selector, m.path, m.kind, m.value])).toEqual([
      [0, 'To', 'string', '+14155551234'],
      [1, 'Body', 'string', 'Héllo 👋\r\nsecond line'],
      [2, 'MediaUrl[0]', 'file', undefined],
      [2, 'MediaUrl[1]', 'string', 'https://x.test/1'],
    ]);
  });

  it('treats other media types, charsets and transfer encodings as non-text', () => {
    const b = build([
      [text('a', '\r\nContent-Type: application/json'), '{}'],
      [text('b', '\r\nContent-Type: text/plain; charset=iso-8859-1'), 'x'],
      [text('c', '\r\nContent-Transfer-Encoding: base64'), 'eA=='],
      [text('d', "; filename*=UTF-8''x.txt"), 'x'],
      [text('e', '\r\nContent-Type: text/plain\r\nX-Other: 1'), 'x'],
    ]);
    expect(scan(b, ['a', 'b', 'c', 'd', 'e']).map((m) => m.kind)).toEqual(['file', 'file', 'file', 'file', 'string']);
  });

  it('accepts a body that starts with the delimiter, padding after it, and empty text parts', () => {
    const b = Buffer.from(`--${B} \t\r\n${text('To')}\r\n\r\n\r\n--${B}--`);
    expect(scan(b, ['To']).map((m) => m.value)).toEqual(['']);
  });

  it('reads UTF-8 part names and a 100,000-character field', () => {
    const big = 'é'.repeat(100_000);
    const b = build([[text('név'), big]]);
    expect(scan(b, ['név'])[0]!.value).toBe(big);
  });
});

describe('multipart: refusals (stable codes, no values in messages)', () => {
  const ok = build([[text('To'), 'secret-value']]);
  const cases: [string, Buffer, string, string?][] = [
    ['no delimiter at all', Buffer.from('secret-value'), 'INVALID_MULTIPART'],
    ['no close delimiter (truncated)', ok.subarray(0, ok.length - 10), 'INVALID_MULTIPART'],
    ['a body cut inside the headers', ok.subarray(0, 30), 'INVALID_MULTIPART'],
    ['the boundary inside content', build([[text('To'), `secret\r\n--${B}X more`]]), 'INVALID_MULTIPART'],
    ['an oversized header block', build([[text('To') + '\r\nX-Pad: ' + 'p'.repeat(17_000), 'secret']]), 'INVALID_MULTIPART'],
    ['a part without Content-Disposition', build([['Content-Type: text/plain', 'secret']]), 'INVALID_MULTIPART'],
    ['a part without a name', build([['Content-Disposition: form-data', 'secret']]), 'INVALID_MULTIPART'],
    ['a non-form-data disposition', build([['Content-Disposition: attachment; name="To"', 'secret']]), 'INVALID_MULTIPART'],
    ['two dispositions', build([[text('To') + '\r\n' + text('Other'), 'secret']]), 'INVALID_MULTIPART'],
    ['a repeated name parameter', build([['Content-Disposition: form-data; name="To"; name="X"', 'secret']]), 'INVALID_MULTIPART'],
    ['name*', build([["Content-Disposition: form-data; name*=UTF-8''To", 'secret']]), 'INVALID_MULTIPART'],
    ['a backslash in a quoted name', build([['Content-Disposition: form-data; name="T\\"o"', 'secret']]), 'INVALID_MULTIPART'],
    ['a folded header', build([[text('To') + '\r\n continued', 'secret']]), 'INVALID_MULTIPART'],
    ['a header line without a colon', build([[text('To') + '\r\nsecret', 'x']]), 'INVALID_MULTIPART'],
    ['a bare LF in headers', build([[text('To') + '\nX: secret', 'x']]), 'INVALID_MULTIPART'],
    ['LF-only line endings', Buffer.from(`--${B}\n${text('To')}\n\nsecret\n--${B}--\n`), 'INVALID_MULTIPART'],
    ['a selected part that is not UTF-8', build([[text('To'), Buffer.from([0x73, 0x65, 0x63, 0xff])]]), 'INVALID_UTF8', 'To'],
  ];
  for (const [name, body, code, fieldName] of cases) {
    it(`refuses ${name} with ${code}`, () => {
      const err = refusal(body, ['To']);
      expect(err.code).toBe(code);
      expect(err.status).toBe(400);
      expect(err.message).not.toContain('secret');
      expect(err.field).toBe(fieldName);
    });
  }

  it('refuses a missing boundary parameter', () => {
    expect(refusal(ok, ['To'], 'multipart/form-data').code).toBe('INVALID_MULTIPART');
  });

  it('does not validate the UTF-8 of unselected or file parts', () => {
    const b = build([
      [text('Other'), Buffer.from([0xff])],
      [file('f', 'x.bin'), Buffer.from([0xff])],
      [text('To'), 'ok'],
    ]);
    expect(scan(b, ['To', 'f']).map((m) => m.path)).toEqual(['f', 'To']);
  });
});

describe('multipart: apply (byte-preserving)', () => {
  const body = build(
    [
      [text('To'), '+14155551234'],
      [file('MediaUrl', 'a.png', 'image/png'), PNG],
      [text('Body'), 'hello'],
      [text('To'), '+14155550000'],
    ],
    { preamble: 'pre', epilogue: 'epi\r\n' },
  );

  it('rewrites only the bodies of changed text parts', () => {
    const out = edit(body, ['To'], (m) => (m.path === 'To[0]' ? { op: 'replace', value: 'tok_é' } : undefined));
    const expected = Buffer.from(body.toString('latin1').replace('+14155551234', Buffer.from('tok_é').toString('latin1')), 'latin1');
    expect(out.equals(expected)).toBe(true);
    expect(out.includes(PNG)).toBe(true);
  });

  it('returns the same Buffer when nothing changes', () => {
    const r = multipartCodec.scan(body, [field('To')], { maxDepth: 1, contentType: CT });
    expect(multipartCodec.apply(body, r, [undefined, undefined])).toBe(body);
  });

  it('removes a part from its delimiter line to the next, files included', () => {
    const out = edit(body, ['MediaUrl', 'Body'], { op: 'remove' });
    expect(out.equals(build([[text('To'), '+14155551234'], [text('To'), '+14155550000']], { preamble: 'pre', epilogue: 'epi\r\n' }))).toBe(true);
    const all = edit(body, ['MediaUrl', 'Body', 'To'], { op: 'remove' });
    expect(all.toString()).toBe(`pre\r\n--${B}--\r\nepi\r\n`);
  });

  it('refuses a replacement that contains the boundary, and a string replacement of a file part', () => {
    expect(() => edit(body, ['Body'], { op: 'replace', value: `x--${B}` })).toThrow(
      expect.objectContaining({ code: 'INVALID_MULTIPART', field: 'Body' }),
    );
    expect(() => edit(body, ['MediaUrl'], { op: 'replace', value: 'x' })).toThrow(expect.objectContaining({ code: 'INTERNAL' }));
  });

  it('a remove wins over a replace on the same part', () => {
    const r = multipartCodec.scan(body, [field('Body'), field('Body')], { maxDepth: 1, contentType: CT });
    const out = multipartCodec.apply(body, r, [{ op: 'replace', value: 'x' }, { op: 'remove' }]);
    expect(out.includes(Buffer.from('name="Body"'))).toBe(false);
  });
});
