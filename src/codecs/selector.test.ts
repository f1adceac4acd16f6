import { describe, expect, it } from 'vitest';
import fc from 'fast-check';
import { compileSelector, formatPath, SelectorSyntaxError, type Segment } from './selector.js';

function segs(source: string): readonly Segment[] {
  return compileSelector(source).segments;
}

function syntaxError(source: string): SelectorSyntaxError {
  try {
    compileSelector(source);
  } catch (err) {
    expect(err).toBeInstanceOf(SelectorSyntaxError);
    return err as SelectorSyntaxError;
  }
  throw new Error(`expected ${source} to be refused`);
}

describe('compileSelector: accepted forms', () => {
  it('child keys and keeps the source', () => {
    const c = compileSelector('$.a.b');
    expect(c.source).toBe('$.a.b');
    expect(c.segments).toEqual([
      { kind: 'key', key: 'a' },
      { kind: 'key', key: 'b' },
    ]);
    expect(Object.isFrozen(c)).toBe(true);
  });

  it('dotted keys allow letters, digits, _, $ and -', () => {
    expect(segs('$.d[*].MSG-sms')).toEqual([
      { kind: 'key', key: 'd' },
      { kind: 'wildcard' },
      { kind: 'key', key: 'MSG-sms' },
    ]);
    expect(segs('$.$ref._x.0abc')).toEqual([
      { kind: 'key', key: '$ref' },
      { kind: 'key', key: '_x' },
      { kind: 'key', key: '0abc' },
    ]);
  });

  it('bracketed keys in single and double quotes, with spaces and escapes', () => {
    expect(segs("$['key with spaces']")).toEqual([{ kind: 'key', key: 'key with spaces' }]);
    expect(segs('$["MSG-sms"]')).toEqual([{ kind: 'key', key: 'MSG-sms' }]);
    expect(segs("$.d[0].profileData['Customer Type']")).toEqual([
      { kind: 'key', key: 'd' },
      { kind: 'index', index: 0 },
      { kind: 'key', key: 'profileData' },
      { kind: 'key', key: 'Customer Type' },
    ]);
    expect(segs("$['it\\'s']")).toEqual([{ kind: 'key', key: "it's" }]);
    expect(segs('$["say \\"hi\\""]')).toEqual([{ kind: 'key', key: 'say "hi"' }]);
    expect(segs("$['a\\\\b']")).toEqual([{ kind: 'key', key: 'a\\b' }]);
    expect(segs("$['tab\\there\\u00e9']")).toEqual([{ kind: 'key', key: 'tab\there\u00e9' }]);
    expect(segs("$['a.b[0]']")).toEqual([{ kind: 'key', key: 'a.b[0]' }]);
    expect(segs("$['']")).toEqual([{ kind: 'key', key: '' }]);
  });

  it('wildcards, indexes and recursive descent', () => {
    expect(segs('$[*]')).toEqual([{ kind: 'wildcard' }]);
    expect(segs('$.a.*')).toEqual([{ kind: 'key', key: 'a' }, { kind: 'wildcard' }]);
    expect(segs('$[0][12]')).toEqual([
      { kind: 'index', index: 0 },
      { kind: 'index', index: 12 },
    ]);
    expect(segs('$..email')).toEqual([{ kind: 'descendant', key: 'email' }]);
    expect(segs("$..['Customer Type']")).toEqual([{ kind: 'descendant', key: 'Customer Type' }]);
    expect(segs('$.a..b[*]')).toEqual([
      { kind: 'key', key: 'a' },
      { kind: 'descendant', key: 'b' },
      { kind: 'wildcard' },
    ]);
  });
});

describe('compileSelector: refusals name the column and what was expected', () => {
  const cases: [string, number, RegExp][] = [
    ['', 0, /expected '\$'/],
    ['a.b', 0, /expected '\$' at column 1/],
    ['$', 1, /bare '\$' selects nothing/],
    ['$a', 1, /expected '.', '..' or '\[' at column 2/],
    ['$.', 2, /expected a key of \[A-Za-z0-9_\$-\]/],
    ['$.a b', 3, /expected '.', '..' or '\[' at column 4/],
    ['$.Customer Type', 10, /column 11/],
    ['$.a.', 4, /expected a key/],
    ['$.é', 2, /use \['...'\] for other characters/],
    ['$[?(@.a)]', 2, /filter expressions .* not supported/],
    ['$[0:2]', 3, /slices are not supported; expected '\]' \(closing the '\[' of column 2\) at column 4/],
    ['$[:2]', 2, /slices \[a:b\] are not supported/],
    ['$[0,1]', 3, /unions are not supported/],
    ["$['a','b']", 5, /unions are not supported/],
    ['$[-1]', 2, /negative indexes are not supported/],
    ['$[01]', 2, /without leading zeros/],
    ['$[99999999999]', 2, /an index of at most/],
    ['$[a]', 2, /expected a quoted key/],
    ["$['a'", 5, /expected '\]' \(closing/],
    ["$['a", 4, /expected closing '/],
    ["$['a\\x']", 5, /expected one of/],
    ["$['\\u12g4']", 5, /4 hex digits/],
    ['$..', 3, /expected a key/],
    ['$..*', 3, /recursive wildcards/],
    ['$..[*]', 4, /recursive descent takes a member name only/],
    ['$..[0]', 4, /recursive descent takes a member name only/],
    ['$.a ', 3, /column 4/],
  ];
  it.each(cases)('%j at offset %i', (source, offset, message) => {
    const err = syntaxError(source);
    expect(err.offset).toBe(offset);
    expect(err.message).toMatch(message);
    expect(err.message).toContain(`column ${offset + 1}`);
    expect(err.name).toBe('SelectorSyntaxError');
  });
});

describe('formatPath', () => {
  it('uses dots for identifiers and brackets otherwise', () => {
    expect(formatPath([])).toBe('$');
    expect(formatPath(['d', 0, 'profileData', 'Customer Type'])).toBe("$.d[0].profileData['Customer Type']");
    expect(formatPath(['MSG-sms', 'Email'])).toBe('$.MSG-sms.Email');
    expect(formatPath(['0', '-x', ''])).toBe("$['0']['-x']['']");
    expect(formatPath(["it's", 'a\\b', 'line\nbreak'])).toBe("$['it\\'s']['a\\\\b']['line\\u000abreak']");
  });

  it('compiles back to the same concrete path', () => {
    fc.assert(
      fc.property(fc.array(fc.oneof(fc.string({ unit: 'binary' }), fc.nat({ max: 1_000_000 })), { minLength: 1 }), (parts) => {
        const back = compileSelector(formatPath(parts)).segments;
        const want = parts.map((p) => (typeof p === 'number' ? { kind: 'index', index: p } : { kind: 'key', key: p }));
        expect(back).toEqual(want);
      }),
    );
  });
});
