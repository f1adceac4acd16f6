/**
 * Free-text PII detection for the `scan` rule action: finds emails and international phone numbers inside
 * arbitrary text (SMS `Body`, bounce `reason`/`response`, WhatsApp `text.body`) so the transform engine can
 * tokenize, mask or redact just those spans and leave the rest of the text as it came.
 *
 * The scanners are linear-time hand-written loops (no regex), and every span they return is accepted by
 * the matching token format's normalize(), so the engine can tokenize each span as it is. What is and is
 * not detected: docs/scan.md.
 */
import { findEmails } from './email.js';
import { findPhones } from './phone.js';
import type { PiiKind, PiiSpan, ScanCounter } from './types.js';

export type { PiiKind, PiiSpan } from './types.js';

/**
 * Spans of the requested kinds in `text`: UTF-16 offsets, sorted by start, non-overlapping. Where an email
 * and a phone overlap ('+14155551234@sms.example.com') the email wins: it covers the phone.
 *
 * @example
 *   const text = 'Reply STOP to +1 (415) 555-1234 or write to <help@example.com>';
 *   findPii(text, ['email', 'phone']).map((s) => text.slice(s.start, s.end));
 *   // ['+1 (415) 555-1234', 'help@example.com']
 */
export function findPii(text: string, kinds: readonly PiiKind[]): PiiSpan[] {
  return scanPii(text, kinds);
}

/**
 * findPii() with a step counter: the test hook proving linear work (see ScanCounter). Not for production
 * callers, who use findPii().
 */
export function scanPii(text: string, kinds: readonly PiiKind[], counter?: ScanCounter): PiiSpan[] {
  const emails = kinds.includes('email') ? findEmails(text, counter) : [];
  const phones = kinds.includes('phone') ? findPhones(text, counter) : [];
  if (phones.length === 0) return emails;
  if (emails.length === 0) return phones;
  return merge(emails, phones);
}

/** Merges two sorted, internally non-overlapping span lists; a phone overlapping an email is dropped. */
function merge(emails: PiiSpan[], phones: PiiSpan[]): PiiSpan[] {
  const out: PiiSpan[] = [];
  let e = 0;
  for (const phone of phones) {
    while (e < emails.length && emails[e]!.end <= phone.start) out.push(emails[e++]!);
    const next = emails[e];
    if (next !== undefined && next.start < phone.end) continue; // overlaps: the email covers it
    out.push(phone);
  }
  while (e < emails.length) out.push(emails[e++]!);
  return out;
}
