/**
 * Selector matching: the cost of the compiled selector automaton during a JSON scan, by number and kind
 * of selectors, on the CleverTap fixture and on a 1,000-record upload. (Compiling selectors happens once
 * at rule load and is timed for completeness.)
 *   node --import tsx bench/micro/selector.bench.ts
 */
import { jsonCodec } from '../../src/codecs/json.js';
import { compileSelector } from '../../src/codecs/selector.js';
import { clevertapUpload } from '../lib/scenario.js';
import { emailsUpload } from '../scaling.js';
import { runMicro } from './lib.js';

const opts = { maxDepth: 64 };
const small = Buffer.from(clevertapUpload());
const big = Buffer.from(emailsUpload(1000, 'x'));
const one = [compileSelector('$.d[*].profileData.Email')];
const five = ['$.d[*].identity', '$.d[*].profileData.Email', '$.d[*].profileData.Phone', '$.d[*].profileData.Name', '$.d[*].profileData.DOB'].map(compileSelector);
const fifty = Array.from({ length: 50 }, (_, i) => compileSelector(`$.d[*].profileData.Field${i}`));
const desc = [compileSelector('$..Email')];

await runMicro('selector matching (inside jsonCodec.scan)', [
  { name: 'no selectors, fixture (validation only)', fn: () => jsonCodec.scan(small, [], opts) },
  { name: '1 selector, fixture', fn: () => jsonCodec.scan(small, one, opts) },
  { name: '5 selectors (CleverTap), fixture', fn: () => jsonCodec.scan(small, five, opts) },
  { name: '50 selectors, fixture', fn: () => jsonCodec.scan(small, fifty, opts) },
  { name: 'descendant $..Email, fixture', fn: () => jsonCodec.scan(small, desc, opts) },
  { name: `no selectors, 1,000 records (${Math.round(big.length / 1024)} KB)`, fn: () => jsonCodec.scan(big, [], opts) },
  { name: '5 selectors, 1,000 records (1,000 matches)', fn: () => jsonCodec.scan(big, five, opts) },
  { name: '50 selectors, 1,000 records', fn: () => jsonCodec.scan(big, fifty, opts) },
  { name: 'descendant $..Email, 1,000 records', fn: () => jsonCodec.scan(big, desc, opts) },
  { name: 'compileSelector (rule load, once)', fn: () => compileSelector('$.d[*].profileData.Email') },
]);
