/**
 * Micro benchmark of the free-text PII scanners (src/scan/): ns per input character on 100,000-character
 * typical and hostile texts, with the step counter the tests bound (steps per character) beside it.
 * Prints figures; asserts nothing. Run: npx tsx bench/micro/scan.bench.ts  (SCAN_BENCH_TIME=ms per task)
 */
import { Bench } from 'tinybench';
import { findEmails } from '../../src/scan/email.js';
import { scanPii, type PiiKind } from '../../src/scan/index.js';
import { findPhones } from '../../src/scan/phone.js';
import { adversarialInputs, typicalText } from '../../test/helpers/scan-inputs.js';

const LENGTH = 100_000;
const TIME_MS = Number(process.env.SCAN_BENCH_TIME ?? 200);

interface Case {
  input: string;
  scanner: 'both' | 'email' | 'phone';
  text: string;
}

const cases: Case[] = [];
const typical = typicalText(LENGTH);
for (const scanner of ['both', 'email', 'phone'] as const) cases.push({ input: 'typical SMS/bounce text', scanner, text: typical });
for (const [name, text] of Object.entries(adversarialInputs(LENGTH))) cases.push({ input: name, scanner: 'both', text });

const KINDS: readonly PiiKind[] = ['email', 'phone'];
function run(c: Case): number {
  if (c.scanner === 'email') return findEmails(c.text).length;
  if (c.scanner === 'phone') return findPhones(c.text).length;
  return scanPii(c.text, KINDS).length;
}
function steps(c: Case): number {
  const counter = { steps: 0 };
  if (c.scanner === 'email') findEmails(c.text, counter);
  else if (c.scanner === 'phone') findPhones(c.text, counter);
  else scanPii(c.text, KINDS, counter);
  return counter.steps;
}

const bench = new Bench({ time: TIME_MS, warmupTime: 50 });
let sink = 0;
for (const c of cases) bench.add(`${c.scanner} | ${c.input}`, () => {
  sink += run(c);
});
await bench.run();

const rows = bench.tasks.map((task, i) => {
  const c = cases[i]!;
  const r = task.result;
  if (r.state !== 'completed') return { input: c.input, scanner: c.scanner, state: r.state };
  return {
    input: c.input,
    scanner: c.scanner,
    spans: run(c),
    'ns/char (median)': ((r.latency.p50 * 1e6) / c.text.length).toFixed(2),
    'ns/char (p99)': ((r.latency.p99 * 1e6) / c.text.length).toFixed(2),
    'ms/scan (median)': r.latency.p50.toFixed(3),
    'steps/char': (steps(c) / c.text.length).toFixed(2),
  };
});
console.log(`scan micro-benchmark: ${LENGTH.toLocaleString('en')}-character inputs, node ${process.version}, ${TIME_MS} ms per task`);
console.table(rows);
if (sink < 0) console.log(sink); // keeps the results alive
