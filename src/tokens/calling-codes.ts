/**
 * ITU-T E.164 country calling codes (1 to 3 digits), enough to split any '+number' into country code and
 * national number. Source: ITU-T "List of ITU-T Recommendation E.164 assigned country codes" (including
 * codes for global services such as +800 and +881, and assigned-but-unused codes such as +379).
 *
 * The codes form a prefix code: no code is a prefix of another (1 and 7 are whole zones), so the first
 * match, shortest first, is the only one. A test checks this. Spare codes (e.g. +28x, +42, +384) are
 * absent on purpose: a number under them is not a valid E.164 number today.
 */

/** Zone 1 (NANP) and zone 7 (Russia, Kazakhstan) are single-digit codes. */
const ONE_DIGIT = '1 7';

const TWO_DIGIT =
  '20 27 30 31 32 33 34 36 39 40 41 43 44 45 46 47 48 49 51 52 53 54 55 56 57 58 ' +
  '60 61 62 63 64 65 66 81 82 84 86 90 91 92 93 94 95 98';

const THREE_DIGIT = [
  // Zone 2: Africa, Atlantic and Indian Ocean islands, Greenland/Faroe/Aruba
  '211 212 213 216 218',
  '220 221 222 223 224 225 226 227 228 229',
  '230 231 232 233 234 235 236 237 238 239',
  '240 241 242 243 244 245 246 247 248 249',
  '250 251 252 253 254 255 256 257 258',
  '260 261 262 263 264 265 266 267 268 269',
  '290 291 297 298 299',
  // Zone 3 and 4: Europe
  '350 351 352 353 354 355 356 357 358 359',
  '370 371 372 373 374 375 376 377 378 379',
  '380 381 382 383 385 386 387 389',
  '420 421 423',
  // Zone 5: South and Central America
  '500 501 502 503 504 505 506 507 508 509',
  '590 591 592 593 594 595 596 597 598 599',
  // Zone 6: Southeast Asia and Oceania
  '670 672 673 674 675 676 677 678 679',
  '680 681 682 683 685 686 687 688 689',
  '690 691 692',
  // Zone 8: East Asia and global services
  '800 808 850 852 853 855 856 870 878 880 881 882 883 886 888',
  // Zone 9: West, Central and South Asia
  '960 961 962 963 964 965 966 967 968',
  '970 971 972 973 974 975 976 977 979',
  '992 993 994 995 996 998',
].join(' ');

function parse(list: string): string[] {
  return list.split(' ').filter((s) => s !== '');
}

/** Every assigned country calling code, as digit strings without '+'. */
export const CALLING_CODES: readonly string[] = Object.freeze([
  ...parse(ONE_DIGIT),
  ...parse(TWO_DIGIT),
  ...parse(THREE_DIGIT),
]);

// Index by numeric value per length (10, 100, 1000 slots): lookups read digits, never slice strings.
const TABLES: readonly Uint8Array[] = [new Uint8Array(10), new Uint8Array(100), new Uint8Array(1000)];
for (const code of CALLING_CODES) TABLES[code.length - 1]![Number(code)] = 1;

/**
 * Length (1 to 3) of the country calling code at the start of `digits[from..]`, or 0 when no assigned code
 * matches. `digits` holds only ASCII digits from `from` on (the '+' excluded).
 *
 * @example
 *   callingCodeLength('+442071838750', 1) === 2   // +44, national number 2071838750
 */
export function callingCodeLength(digits: string, from = 0): number {
  let value = 0;
  for (let len = 1; len <= 3; len++) {
    if (from + len > digits.length) return 0;
    const d = digits.charCodeAt(from + len - 1) - 48;
    if (d < 0 || d > 9) return 0;
    value = value * 10 + d;
    if (TABLES[len - 1]![value] === 1) return len;
  }
  return 0;
}
