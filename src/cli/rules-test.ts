/**
 * `pii-gateway rules test [dir]`: runs the rule tests (`*.test.yaml`) beside the rules against the real
 * pipeline (ruletest/runner.ts) and prints one line per test, failures indented under it, then a summary.
 * Exit 0 when every test passed, 1 when one failed (or none ran), 2 on usage, rule-file or test-file errors.
 */
import path from 'node:path';
import { parseArgs } from 'node:util';
import { runRuleTests, type RuleTestReport } from '../ruletest/runner.js';
import { printStartupError } from './output.js';

const HELP = `Usage: pii-gateway rules test [dir] [--filter text]

Runs the rule tests (<name>.test.yaml beside <name>.yaml) in dir (default: ./rules, or
PII_GATEWAY_RULES_DIR) through the real gateway pipeline: the compiled rules, the proxy on a
loopback port, an in-memory vault with throw-away keys, and a local stand-in for every upstream.
Nothing leaves the machine. Writing tests: docs/rule-tests.md.

Options:
  --filter text   run only tests whose "<file> › <name>" contains text (case-insensitive)
  -h, --help      show this help

Exit status: 0 all passed, 1 a test failed or no test matched, 2 usage or file errors.`;

/**
 * @example
 *   process.exitCode = await rulesTestCommand(['rules', '--filter', 'clevertap']);
 */
export async function rulesTestCommand(argv: string[]): Promise<number> {
  let values: { help?: boolean; filter?: string };
  let positionals: string[];
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { help: { type: 'boolean', short: 'h' }, filter: { type: 'string' } },
      allowPositionals: true,
    }));
  } catch (err) {
    console.error(`pii-gateway rules test: ${(err as Error).message}\n\n${HELP}`);
    return 2;
  }
  if (values.help) {
    console.log(HELP);
    return 0;
  }
  if (positionals.length > 1) {
    console.error(`pii-gateway rules test: expected at most one directory, got ${positionals.length}\n\n${HELP}`);
    return 2;
  }
  const dir = path.resolve(positionals[0] ?? process.env.PII_GATEWAY_RULES_DIR ?? 'rules');

  let report: RuleTestReport;
  try {
    report = await runRuleTests(dir, values.filter === undefined ? {} : { filter: values.filter });
  } catch (err) {
    printStartupError(err);
    return 2;
  }
  for (const line of formatReport(report)) console.log(line);
  if (report.results.length === 0 && values.filter !== undefined) {
    console.error(`no test matches --filter ${JSON.stringify(values.filter)}`);
  }
  return report.failed === 0 && report.results.length > 0 ? 0 : 1;
}

/**
 * The report as printed: `✓ file › name`, or `✗ file › name` with each failure indented below, then
 * `N passed, M failed`.
 */
export function formatReport(report: RuleTestReport): string[] {
  const lines: string[] = [];
  for (const r of report.results) {
    lines.push(`${r.passed ? '✓' : '✗'} ${r.file} › ${r.name}`);
    for (const f of r.failures) lines.push(`    ${f}`);
  }
  lines.push(`${report.passed} passed, ${report.failed} failed`);
  return lines;
}
