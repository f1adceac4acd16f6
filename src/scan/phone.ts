/**
 * Finds international phone numbers in free text ('Reply STOP to +1 (415) 555-1234', 'call 0044 20 7946
 * 0958') so a `scan` rule can tokenize, mask or redact just those spans.
 *
 * Only numbers written with their country code ('+' or the '00' international prefix) are found: a national
 * number ('(415) 555-1234', '020 7946 0958') could belong to any country, and the phone token format
 * needs the country code. Rules that must hide national numbers mask the whole field instead.
 *
 * Why a hand-written scanner: phone regexes with optional separator groups backtrack badly on long runs of
 * digits and separators. Here every candidate start ('+' or '00' not glued to a word or a number) reads a
 * bounded window: digit groups joined by at most 3 separator characters, at most 20 separators and 15
 * digits (17 with '00'). So each start costs at most ~60 steps and the scan is linear in the text length.
 *
 * Every span found is accepted by the phone format's normalize() (src/tokens/phone.ts): it starts with '+'
 * or '00', holds only digits and the separators normalize() strips (space, tab, no-break space, '-', '.',
 * '(', ')'), 7-15 digits after the prefix, and an assigned calling code (the same callingCodeLength()).
 */
import { callingCodeLength } from '../tokens/calling-codes.js';
import type { PiiSpan, ScanCounter } from './types.js';

/** E.164: at most 15 digits, country code included. */
const MAX_DIGITS = 15;
/** The phone format's minimum (+683 and +690 have 4-digit national numbers). */
const MIN_DIGITS = 7;
/**
 * NANP (+1) and zone 7 (+7) numbers always have exactly 10 national digits: a +1 number stops there
 * ('+1 415 555 1234 5678' is the number then something else) and a shorter one is refused ('+1 500 000').
 */
const CLOSED_PLAN_DIGITS = 11;
const MAX_SEPARATORS = 20;
const MAX_SEPARATOR_RUN = 3;

// Calling codes by length and value, derived once from the token format's own callingCodeLength() so the
// two cannot disagree; the scanner then reads digits without building strings.
const CODE_TABLES: readonly Uint8Array[] = [1, 2, 3].map((length) => {
  const table = new Uint8Array(10 ** length);
  for (let v = 0; v < table.length; v++) {
    if (callingCodeLength(String(v).padStart(length, '0')) === length) table[v] = 1;
  }
  return table;
});

/** Characters examined by the current findPhones() call (a module variable: cheaper than an object). */
let steps = 0;

const PLUS = 43;
const ZERO = 48;
const DOT = 46;
const COMMA = 44;
const OPEN = 40;
const CLOSE = 41;

function isDigit(c: number): boolean {
  return c >= 48 && c <= 57;
}

/** The separators the phone format's normalize() strips. */
function isSeparator(c: number): boolean {
  return c === 32 || c === 9 || c === 0xa0 || c === 45 || c === DOT || c === OPEN || c === CLOSE;
}

/** ASCII letters, digits and '_': a number glued to one of these is part of a word or a longer number. */
function isWordChar(c: number): boolean {
  return (c >= 48 && c <= 57) || (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/**
 * Whether a number may start at `s` given what precedes it: not inside a word or a longer number
 * ('A+44…', '1+44…', '++44…', '1200441…') and not after a decimal point or thousands separator ('1.0044…').
 */
function canStartAfter(text: string, s: number): boolean {
  if (s === 0) return true;
  const c = text.charCodeAt(s - 1);
  if (isWordChar(c) || c === PLUS) return false;
  if ((c === DOT || c === COMMA) && s >= 2 && isDigit(text.charCodeAt(s - 2))) return false;
  return true;
}

/**
 * End of the phone number starting at `s` ('+' or '00'), or -1. Reads digit groups joined by separator
 * runs and keeps whole groups only: a group that would pass the digit limit, or that runs into a letter
 * ('0958x12'), ends the number before it. Refuses amounts ('+12345.67': one dot, last group of 1-2 digits;
 * '+1 234 567,89'), unknown calling codes and fewer than 7 digits after the prefix.
 */
function phoneEnd(text: string, s: number): number {
  const n = text.length;
  const prefix = text.charCodeAt(s) === PLUS ? 1 : 0; // characters before the first counted digit
  const skip = prefix === 1 ? 0 : 2; // '00' digits not part of the number
  let maxDigits = MAX_DIGITS + skip;
  let i = s + prefix;
  let digits = 0; // digits accepted so far, '00' included
  let end = -1;
  let lastGroupLength = 0;
  let lastGroupAfterLoneDot = false;
  let dotRuns = 0;
  let separators = 0;
  // The first 3 national digits: the calling code and, for NANP, the area code's first digit.
  let codeValue = 0;
  let codeDigits = 0;
  let codeLength = 0;
  let firstCodeDigit = -1;
  let runHasDot = false;
  let runIsLoneDot = false;
  for (;;) {
    // A digit group; never longer than a whole number can be.
    const groupStart = i;
    while (i < n && i - groupStart <= maxDigits && isDigit(text.charCodeAt(i))) {
      steps++;
      i++;
    }
    const length = i - groupStart;
    if (i < n) steps++; // the character that ended the group
    if (i - groupStart > maxDigits) break;
    if (i < n && isWordChar(text.charCodeAt(i))) break; // '+44 20 7946 0958x12': the last group is glued to a word
    for (let k = Math.max(groupStart, groupStart + skip - digits); k < i && codeDigits < 3; k++) {
      const d = text.charCodeAt(k) - 48;
      if (codeDigits === 0) firstCodeDigit = d;
      codeValue = codeValue * 10 + d;
      codeDigits++;
      if (codeLength === 0 && CODE_TABLES[codeDigits - 1]![codeValue] === 1) {
        codeLength = codeDigits;
        if (codeLength === 1) maxDigits = CLOSED_PLAN_DIGITS + skip; // +1 and +7, the only 1-digit codes
      }
      // NANP area codes start with 2-9 ('+1 000 000 0000', '00 1 00 1 00 1 00' are not numbers).
      if (codeDigits === 2 && firstCodeDigit === 1 && codeLength === 1 && d < 2) return -1;
    }
    if (codeLength === 0 && codeDigits === 3) return -1;
    if (digits + length > maxDigits) break;
    digits += length;
    end = i;
    lastGroupLength = length;
    lastGroupAfterLoneDot = runIsLoneDot;
    if (runHasDot) dotRuns++;
    if (digits === maxDigits) break;

    // A separator run, then another group, or the number ends at `end`.
    let j = i;
    runHasDot = false;
    while (j < n && j - i < MAX_SEPARATOR_RUN && isSeparator(text.charCodeAt(j))) {
      if (text.charCodeAt(j) === DOT) runHasDot = true;
      steps++;
      j++;
    }
    if (j === i || j >= n || !isDigit(text.charCodeAt(j))) break;
    separators += j - i;
    if (separators > MAX_SEPARATORS) break;
    runIsLoneDot = runHasDot && j - i === 1;
    i = j;
  }
  if (end < 0 || codeLength === 0 || digits - skip < MIN_DIGITS) return -1;
  // '+12345.67': a decimal amount, not a number grouped with dots ('+33.1.23.45.67.89' has several).
  if (lastGroupAfterLoneDot && lastGroupLength <= 2 && dotRuns === 1) return -1;
  if (maxDigits === CLOSED_PLAN_DIGITS + skip && digits !== maxDigits) return -1;
  // '+1 234 567,89' or '+1 234 567.891,5': digits go on after a decimal or thousands separator.
  const after = end < n ? text.charCodeAt(end) : -1;
  if ((after === COMMA || after === DOT) && end + 1 < n && isDigit(text.charCodeAt(end + 1))) return -1;
  return end;
}

/**
 * Phone spans in `text` written with a country code ('+…' or '00…'), sorted and non-overlapping. Each
 * span's text is accepted by the phone token format's normalize().
 *
 * @example
 *   findPhones('Reply STOP to +1 (415) 555-1234.')
 *   // [{ start: 14, end: 31, kind: 'phone' }]  ('+1 (415) 555-1234')
 */
export function findPhones(text: string, counter?: ScanCounter): PiiSpan[] {
  const spans: PiiSpan[] = [];
  steps = 0;
  const n = text.length;
  let floor = 0; // end of the previous span
  for (let s = 0; s < n; s++) {
    steps++;
    const c = text.charCodeAt(s);
    if (c === PLUS) {
      if (s + 1 >= n || !isDigit(text.charCodeAt(s + 1))) continue;
    } else if (c === ZERO) {
      if (s + 1 >= n || text.charCodeAt(s + 1) !== ZERO) continue;
    } else {
      continue;
    }
    if (!canStartAfter(text, s)) continue;
    const end = phoneEnd(text, s);
    if (end < 0) continue;
    // '(+44) 20 7946 0958': take the opening parenthesis too when the number closes it.
    let start = s;
    if (s > floor && text.charCodeAt(s - 1) === OPEN) {
      for (let k = s; k < end; k++) {
        steps++;
        const p = text.charCodeAt(k);
        if (p === OPEN) break;
        if (p === CLOSE) {
          start = s - 1;
          break;
        }
      }
    }
    spans.push({ start, end, kind: 'phone' });
    floor = end;
    s = end - 1;
  }
  if (counter !== undefined) counter.steps += steps;
  return spans;
}
