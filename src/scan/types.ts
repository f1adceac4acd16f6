/**
 * Types shared by the free-text PII scanners (src/scan/): what a found span looks like, and the step counter
 * tests use to prove the scanners do linear work on hostile input without timing anything.
 */

/** What a scanner finds. */
export type PiiKind = 'email' | 'phone';

/**
 * A found value: `text.slice(start, end)` is the value as written (case and separators kept). Offsets are
 * UTF-16 code unit indexes into the scanned string, as `String.prototype.slice` takes them.
 */
export interface PiiSpan {
  start: number;
  end: number;
  kind: PiiKind;
}

/**
 * Test hook: a scanner given a counter adds the number of characters it examined (inner-loop iterations,
 * including characters skipped by `indexOf`) to `steps`. Tests assert `steps <= c * text.length`, which
 * catches quadratic behaviour without asserting a timing. Production callers pass nothing.
 */
export interface ScanCounter {
  steps: number;
}
