/**
 * JSON string helpers for the codec: decoding a validated string literal's bytes, encoding a replacement, and
 * UTF-8 sequence validation (used only to locate the problem in a body that failed `isUtf8`).
 */

function hex(c: number): number {
  if (c >= 0x30 && c <= 0x39) return c - 0x30;
  const l = c | 0x20;
  return l >= 0x61 && l <= 0x66 ? l - 0x61 + 10 : -1;
}

function hex4(b: Buffer, i: number): number {
  return (hex(b[i]!) << 12) | (hex(b[i + 1]!) << 8) | (hex(b[i + 2]!) << 4) | hex(b[i + 3]!);
}

/**
 * Decodes the contents of a string literal, `b[start, end)` being the bytes between the quotes. The bytes must
 * already have been validated by the scanner (escapes well-formed, surrogates paired, UTF-8 valid).
 */
export function decodeJsonString(b: Buffer, start: number, end: number): string {
  let out = '';
  let run = start;
  let i = start;
  while (i < end) {
    if (b[i] !== 0x5c) {
      i++;
      continue;
    }
    if (i > run) out += b.toString('utf8', run, i);
    const e = b[i + 1];
    switch (e) {
      case 0x62: out += '\b'; i += 2; break;
      case 0x66: out += '\f'; i += 2; break;
      case 0x6e: out += '\n'; i += 2; break;
      case 0x72: out += '\r'; i += 2; break;
      case 0x74: out += '\t'; i += 2; break;
      case 0x75: out += String.fromCharCode(hex4(b, i + 2)); i += 6; break;
      default: out += String.fromCharCode(e!); i += 2; break; // " \ /
    }
    run = i;
  }
  if (end > run) out += b.toString('utf8', run, end);
  return out;
}

/**
 * The JSON string literal for a replacement value: `"`, `\` and control characters escaped (short escapes where
 * JSON has them, else \u00XX); `/` and non-ASCII are left as they are. This is exactly what JSON.stringify does
 * for a string, so we use it (native and fast). Lone surrogates come out as \uXXXX escapes.
 */
export function encodeJsonString(value: string): string {
  return JSON.stringify(value);
}

/** Length of the valid UTF-8 sequence at `i`, or 0 if invalid (overlong, surrogate, above U+10FFFF, truncated). */
export function utf8SequenceLength(b: Buffer, i: number): number {
  const n = b.length;
  const c = b[i]!;
  const cont = (k: number): boolean => k < n && (b[k]! & 0xc0) === 0x80;
  if (c < 0x80) return 1;
  if (c >= 0xc2 && c <= 0xdf) return cont(i + 1) ? 2 : 0;
  if (c >= 0xe0 && c <= 0xef) {
    if (!cont(i + 1) || !cont(i + 2)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xe0 && c1 < 0xa0) return 0;
    if (c === 0xed && c1 >= 0xa0) return 0;
    return 3;
  }
  if (c >= 0xf0 && c <= 0xf4) {
    if (!cont(i + 1) || !cont(i + 2) || !cont(i + 3)) return 0;
    const c1 = b[i + 1]!;
    if (c === 0xf0 && c1 < 0x90) return 0;
    if (c === 0xf4 && c1 >= 0x90) return 0;
    return 4;
  }
  return 0;
}
