/**
 * JSON codec (src/codecs/json.ts): scan (strict validation + selector matching) and apply (splice the
 * replacements in) on the CleverTap fixture with the shipped rule file's selectors, and on padded bodies,
 * beside JSON.parse + JSON.stringify of the same body for scale.
 *   node --import tsx bench/micro/json-splice.bench.ts
 */
import { jsonCodec } from '../../src/codecs/json.js';
import type { Edit } from '../../src/codecs/types.js';
import { ephemeralKeyring } from '../../src/crypto/keyring.js';
import { compileRuleFile } from '../../src/rules/load.js';
import { clevertapRules, clevertapUpload } from '../lib/scenario.js';
import { paddedUpload } from '../scaling.js';
import { runMicro } from './lib.js';

const rules = compileRuleFile('clevertap.yaml', clevertapRules(), { keyring: ephemeralKeyring(), env: { CLEVERTAP_URL: 'http://127.0.0.1:9' } });
const selectors = rules.routes[0]!.request!.selectors;
const opts = { maxDepth: 64 };

function editsFor(body: Buffer): (Edit | undefined)[] {
  const { matches } = jsonCodec.scan(body, selectors, opts);
  return matches.map((m) => (m.kind === 'string' && m.value?.includes('@') ? { op: 'replace', value: 'zx8kq2mw9v4tb7rj.h3p5n2c8@dq4v9w2k.tok.invalid' } : undefined));
}

const small = Buffer.from(clevertapUpload());
const smallEdits = editsFor(small);
const kb64 = Buffer.from(paddedUpload(64 * 1024));
const kb64Edits = editsFor(kb64);
const mb1 = Buffer.from(paddedUpload(1024 * 1024));
const mb1Edits = editsFor(mb1);

await runMicro(`JSON codec, CleverTap selectors (${selectors.length})`, [
  { name: `scan ${small.length} B fixture`, fn: () => jsonCodec.scan(small, selectors, opts) },
  { name: `scan + apply ${small.length} B (${smallEdits.filter(Boolean).length} edits)`, fn: () => jsonCodec.apply(small, jsonCodec.scan(small, selectors, opts), smallEdits) },
  { name: `JSON.parse + JSON.stringify ${small.length} B (reference)`, fn: () => JSON.stringify(JSON.parse(small.toString())) },
  { name: 'scan + apply 64 KB', fn: () => jsonCodec.apply(kb64, jsonCodec.scan(kb64, selectors, opts), kb64Edits) },
  { name: 'JSON.parse + JSON.stringify 64 KB (reference)', fn: () => JSON.stringify(JSON.parse(kb64.toString())) },
  { name: 'scan + apply 1 MB', fn: () => jsonCodec.apply(mb1, jsonCodec.scan(mb1, selectors, opts), mb1Edits) },
  { name: 'JSON.parse + JSON.stringify 1 MB (reference)', fn: () => JSON.stringify(JSON.parse(mb1.toString())) },
]);
