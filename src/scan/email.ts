/**
 * Finds email addresses in free text (SMS bodies, bounce reasons, chat messages) so a `scan` rule can
 * tokenize, mask or redact just those spans.
 *
 * Why a hand-written scanner: a regex for addresses in free text backtracks on hostile input ('a@' repeated,
 * long dotted runs) and its accepted syntax drifts from what the email token format accepts. Here every '@'
 * is examined once: the local part is extended left over at most 65 characters and the domain right over at
 * most 253, and neither extension crosses another '@', so the work is linear in the text length.
 *
 * Every span found is accepted by the email format's normalize() (src/tokens/email.ts): the local part is a
 * subset of its dot-atom, and the domain is checked by the very same `domainProblem()`. The local part is
 * deliberately narrower than RFC 5322 atext (letters, digits and `. _ % + - '` only): in free text the other
 * atext characters (`/ = ? # ! | { } ~ ^ * & $` and backquote) are far more often punctuation next to an
 * address than part of it ('email=ada@x.com', '#ada@x.com', 'medium.com/@ada.dev'). docs/scan.md lists
 * what this misses.
 */
import { domainProblem } from '../tokens/email.js';
import type { PiiSpan, ScanCounter } from './types.js';

const MAX_ADDRESS = 254;
const MAX_LOCAL = 64;
const MAX_DOMAIN = 253;
const MAX_LABEL = 63;

/** Characters examined by the current findEmails() call (a module variable: cheaper than an object). */
let steps = 0;

const DOT = 46;
const HYPHEN = 45;
const APOSTROPHE = 39;

function table(chars: string): Uint8Array {
  const t = new Uint8Array(128);
  for (let i = 0; i < chars.length; i++) t[chars.charCodeAt(i)] = 1;
  return t;
}
const ALNUM_CHARS = 'abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789';
/** Characters the scanner takes into a local part (a subset of atext, plus the dot). */
const LOCAL = table(`${ALNUM_CHARS}._%+-'`);
const ALNUM = table(ALNUM_CHARS);
const LABEL = table(`${ALNUM_CHARS}-`);

function isLetter(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90);
}

/**
 * Start of the local part ending just before the '@' at `at`, or -1. The local part is the run of local
 * characters left of '@', not crossing `floor` (the end of the previous span), cut after a doubled dot,
 * with leading dots and apostrophes dropped ("'ada@x.com'" gives ada@x.com). A run longer than 64
 * characters is not an address: -1, rather than a tail of a longer word.
 */
function localStart(text: string, at: number, floor: number): number {
  let i = at;
  while (i > floor) {
    const c = text.charCodeAt(i - 1);
    steps++;
    if (c >= 128 || LOCAL[c] !== 1) break;
    if (c === DOT && text.charCodeAt(i) === DOT) break; // "see..ada@x.com": the address starts after '..'
    if (at - i > MAX_LOCAL) return -1; // 65 local characters and more to come
    i--;
  }
  while (i < at && (text.charCodeAt(i) === DOT || text.charCodeAt(i) === APOSTROPHE)) i++;
  if (i === at || at - i > MAX_LOCAL) return -1;
  if (text.charCodeAt(at - 1) === DOT) return -1; // 'ada.@x.com' is not an address
  return i;
}

/**
 * End of the domain starting at `from`, or -1: the longest run of whole labels (letters, digits, hyphens;
 * 1-63 characters, not starting with a hyphen, trailing hyphens dropped) joined by single dots, at most
 * `maxLength` characters, cut back to the last label holding a letter, with at least two labels.
 * 'ada@x.com.' gives x.com, 'ada@x.com.123' gives x.com, 'pkg@1.2.3' gives nothing.
 */
function domainEnd(text: string, from: number, maxLength: number): number {
  const n = text.length;
  let i = from;
  let labels = 0;
  let good = -1;
  for (;;) {
    const labelStart = i;
    let hasLetter = false;
    while (i < n && i - labelStart <= MAX_LABEL) {
      const c = text.charCodeAt(i);
      steps++;
      if (c >= 128 || LABEL[c] !== 1) break;
      if (isLetter(c)) hasLetter = true;
      i++;
    }
    if (i === labelStart || i - labelStart > MAX_LABEL) break;
    if (text.charCodeAt(labelStart) === HYPHEN) break;
    let labelEnd = i;
    while (text.charCodeAt(labelEnd - 1) === HYPHEN) labelEnd--;
    if (labelEnd - from > maxLength) break;
    labels++;
    if (hasLetter && labels >= 2) good = labelEnd;
    if (labelEnd < i) break; // trailing hyphens end the domain
    // Another label only after a single dot followed by a letter or digit.
    if (i + 1 < n && text.charCodeAt(i) === DOT) {
      const next = text.charCodeAt(i + 1);
      if (next < 128 && ALNUM[next] === 1) {
        i++;
        continue;
      }
    }
    break;
  }
  return good;
}

/**
 * Email spans in `text`, sorted and non-overlapping. Each span's text is accepted by the email token
 * format's normalize().
 *
 * @example
 *   findEmails('550 5.1.1 <Jack@Gmail.com>: Recipient address rejected')
 *   // [{ start: 11, end: 25, kind: 'email' }]  ('Jack@Gmail.com')
 */
export function findEmails(text: string, counter?: ScanCounter): PiiSpan[] {
  const spans: PiiSpan[] = [];
  steps = 0;
  let floor = 0;
  let from = 0;
  for (;;) {
    const at = text.indexOf('@', from);
    steps += (at < 0 ? text.length : at + 1) - from;
    if (at < 0) break;
    from = at + 1;
    const start = localStart(text, at, floor);
    if (start < 0) continue;
    const maxDomain = Math.min(MAX_DOMAIN, MAX_ADDRESS - 1 - (at - start));
    const end = domainEnd(text, at + 1, maxDomain);
    if (end < 0) continue;
    // The token format's own domain check: the scanner never hands out a domain normalize() refuses.
    steps += end - at;
    if (domainProblem(text, at + 1, end) !== null) continue;
    spans.push({ start, end, kind: 'email' });
    floor = end;
    from = end;
  }
  if (counter !== undefined) counter.steps += steps;
  return spans;
}
