/**
 * Byte-preserving multipart/form-data codec (RFC 7578 over RFC 2046 section 5.1): Twilio/Mailgun-style uploads,
 * SendGrid inbound parse, any browser form with a file input.
 *
 * Only text fields are selectable by part name: a part without a filename (neither `filename` nor `filename*`),
 * whose Content-Type is absent or text/plain with no charset or charset utf-8, and whose (deprecated)
 * Content-Transfer-Encoding is absent or 7bit/8bit/binary. Any other part a selector names is still reported, with
 * kind 'file' and no value, so a rule that expects text there fails closed (FIELD_NOT_STRING) instead of matching
 * nothing; a redact rule removes it. File parts are never decoded and pass through byte for byte.
 *
 * The boundary comes from ScanOptions.contentType (the request's Content-Type header). `apply` rewrites only the
 * bodies of changed text parts (the replacement as raw UTF-8, part headers untouched) and removes a part from its
 * delimiter line up to the next one; the preamble, the epilogue and every other byte stay as they came.
 *
 * Strict where parsers disagree, because a part that the gateway and the upstream split differently is a way
 * around the rules. INVALID_MULTIPART (400) for:
 *   - a Content-Type without a valid `boundary` (RFC 2046: 1-70 bchars, not ending in a space);
 *   - no delimiter, no close delimiter (truncated body), or `CRLF--boundary` followed by anything but `--` or
 *     optional padding and CRLF (the boundary occurs inside content);
 *   - a part header block over 16 KiB or not ended by an empty line, a header line without a colon, obs-fold
 *     (a line starting with whitespace), bare CR or LF;
 *   - no Content-Disposition, or a repeated one / repeated Content-Type / Content-Transfer-Encoding; a disposition
 *     other than form-data; no `name`; `name*`; a parameter given twice; a backslash inside a quoted parameter
 *     (RFC quoted-pair vs. browsers' literal reading disagree about where the string ends);
 *   - a part name that is not UTF-8;
 *   - a replacement value that contains `--boundary` (it would split the part).
 * INVALID_UTF8 (400) for a selected text part whose body is not UTF-8. Line endings must be CRLF, as every
 * browser, curl and HTTP client library sends. Part names are compared as sent (browsers percent-encode `"` and
 * line breaks in names; the gateway does not decode them). A removal of every part leaves a close delimiter
 * only, which RFC 2046's grammar does not allow but common parsers read as an empty form.
 */
import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';
import { nameTable, occurrencePaths } from './field-names.js';
import type { CompiledSelector } from './selector.js';
import type { Codec, Edit, Match, ScanOptions, ScanResult } from './types.js';

/** A multipart match with the byte offsets of its part. */
export interface MultipartMatch extends Match {
  readonly kind: 'string' | 'file';
  /** First byte of the delimiter line (`--boundary`) that opens the part. */
  readonly partStart: number;
  /** First byte of the next delimiter line (the next part's or the close delimiter's `--boundary`). */
  readonly partEnd: number;
  /** First byte of the part body (after the empty line ending the headers). */
  readonly bodyStart: number;
  /** One past the body's last byte (the CRLF before the next delimiter). */
  readonly bodyEnd: number;
}

export interface MultipartScanResult extends ScanResult<MultipartMatch> {
  /** The boundary the body was split on (apply checks replacements against it). */
  readonly boundary: string;
}

/** Largest part header block (all header lines of one part). */
export const MAX_PART_HEADER_BYTES = 16 * 1024;

const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const TCHAR = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+$/;
/** RFC 2046 bchars (space allowed inside, not last). */
const BOUNDARY = /^[0-9A-Za-z'()+_,\-./:=? ]{0,69}[0-9A-Za-z'()+_,\-./:=?]$/;

function fail(message: string, field?: string): never {
  throw new GatewayError('INVALID_MULTIPART', message, { field });
}

/**
 * Parameters of a header value from `i` on: `; name=token` or `; name="quoted"`, names lower-cased. Strict:
 * no whitespace around '=', no backslash inside quotes, no parameter twice. `where` names the header for messages.
 */
function parseParams(v: string, i: number, where: string): Map<string, string> {
  const params = new Map<string, string>();
  const n = v.length;
  const ows = (): void => {
    while (i < n && (v[i] === ' ' || v[i] === '\t')) i++;
  };
  for (;;) {
    ows();
    if (i >= n) return params;
    if (v[i] !== ';') fail(`${where}: expected ';' before a parameter`);
    i++;
    ows();
    if (i >= n || v[i] === ';') continue;
    const eq = v.indexOf('=', i);
    if (eq === -1) fail(`${where}: a parameter without '='`);
    const name = v.slice(i, eq).toLowerCase();
    if (!TCHAR.test(name)) fail(`${where}: a parameter name is not a token`);
    i = eq + 1;
    let value: string;
    if (v[i] === '"') {
      const close = v.indexOf('"', i + 1);
      if (close === -1) fail(`${where}: an unterminated quoted parameter`);
      value = v.slice(i + 1, close);
      if (value.includes('\\')) fail(`${where}: a backslash in a quoted parameter is ambiguous`);
      i = close + 1;
    } else {
      const start = i;
      while (i < n && v[i] !== ';' && v[i] !== ' ' && v[i] !== '\t' && v[i] !== '"') i++;
      if (i === start) fail(`${where}: parameter ${name} has no value`);
      value = v.slice(start, i);
    }
    if (params.has(name)) fail(`${where}: parameter ${name} is given twice`);
    params.set(name, value);
  }
}

/**
 * The boundary of a multipart Content-Type, validated. Throws INVALID_MULTIPART when absent or malformed.
 *
 * @example
 *   multipartBoundary('multipart/form-data; boundary="----x"') // '----x'
 */
export function multipartBoundary(contentType: string | undefined): string {
  if (contentType === undefined) fail('no Content-Type with a multipart boundary');
  const semi = contentType.indexOf(';');
  if (semi === -1) fail('the Content-Type has no boundary parameter');
  const boundary = parseParams(contentType, semi, 'Content-Type').get('boundary');
  if (boundary === undefined) fail('the Content-Type has no boundary parameter');
  if (!BOUNDARY.test(boundary)) fail('the multipart boundary must be 1-70 characters of the RFC 2046 set');
  return boundary;
}

interface PartHeaders {
  name: string;
  text: boolean;
}

/** Reads a part's header block (latin1, one char per byte) into its name and whether it is a text field. */
function parseHeaders(block: string): PartHeaders {
  let disposition: string | undefined;
  let type: string | undefined;
  let cte: string | undefined;
  for (const line of block === '' ? [] : block.split('\r\n')) {
    if (line.includes('\r') || line.includes('\n')) fail('a part header contains a bare CR or LF');
    if (line[0] === ' ' || line[0] === '\t') fail('folded part headers (obs-fold) are not accepted');
    const colon = line.indexOf(':');
    if (colon <= 0 || !TCHAR.test(line.slice(0, colon))) fail('a part header line is not "name: value"');
    const name = line.slice(0, colon).toLowerCase();
    const value = line.slice(colon + 1).trim();
    if (name === 'content-disposition') {
      if (disposition !== undefined) fail('a part has two Content-Disposition headers');
      disposition = value;
    } else if (name === 'content-type') {
      if (type !== undefined) fail('a part has two Content-Type headers');
      type = value;
    } else if (name === 'content-transfer-encoding') {
      if (cte !== undefined) fail('a part has two Content-Transfer-Encoding headers');
      cte = value.toLowerCase();
    }
  }
  if (disposition === undefined) fail('a part has no Content-Disposition header');
  const semi = disposition.indexOf(';');
  const dispType = (semi === -1 ? disposition : disposition.slice(0, semi)).trim().toLowerCase();
  if (dispType !== 'form-data') fail('a part disposition is not form-data');
  const params = semi === -1 ? new Map<string, string>() : parseParams(disposition, semi, 'Content-Disposition');
  if (params.has('name*')) fail('name* is not accepted in multipart/form-data (RFC 7578 section 4.2)');
  const rawName = params.get('name');
  if (rawName === undefined) fail('a part has no name');
  const nameBytes = Buffer.from(rawName, 'latin1');
  if (!isUtf8(nameBytes)) fail('a part name is not UTF-8');
  const isFile = params.has('filename') || params.has('filename*');
  let textType = true;
  if (type !== undefined) {
    const tsemi = type.indexOf(';');
    const media = (tsemi === -1 ? type : type.slice(0, tsemi)).trim().toLowerCase();
    const charset = tsemi === -1 ? undefined : parseParams(type, tsemi, 'Content-Type').get('charset')?.toLowerCase();
    textType = media === 'text/plain' && (charset === undefined || charset === 'utf-8' || charset === 'utf8');
  }
  const plainCte = cte === undefined || cte === '7bit' || cte === '8bit' || cte === 'binary';
  return { name: nameBytes.toString('utf8'), text: !isFile && textType && plainCte };
}

interface Part {
  name: string;
  text: boolean;
  partStart: number;
  partEnd: number;
  bodyStart: number;
  bodyEnd: number;
}

/** Splits the body into parts. Every structural check of the module header happens here. */
function splitParts(body: Buffer, boundary: string): Part[] {
  const dash = Buffer.from('--' + boundary, 'latin1');
  const delim = Buffer.from('\r\n--' + boundary, 'latin1');
  const n = body.length;
  let pos: number;
  if (body.subarray(0, dash.length).equals(dash)) pos = 0;
  else {
    const at = body.indexOf(delim);
    if (at === -1) fail('the body has no multipart delimiter for the boundary');
    pos = at + 2;
  }
  const parts: Part[] = [];
  for (;;) {
    let i = pos + dash.length;
    if (body[i] === 0x2d && body[i + 1] === 0x2d) break; // close delimiter; the epilogue follows untouched
    while (body[i] === 0x20 || body[i] === 0x09) i++; // transport padding
    if (i >= n) fail('the body ends without a close delimiter');
    if (body[i] !== 0x0d || body[i + 1] !== 0x0a) fail('the boundary occurs inside content, or a delimiter line is malformed');
    const headersStart = i + 2;
    let bodyStart: number;
    let block: string;
    if (body[headersStart] === 0x0d && body[headersStart + 1] === 0x0a) {
      bodyStart = headersStart + 2;
      block = '';
    } else {
      const window = body.subarray(headersStart, Math.min(n, headersStart + MAX_PART_HEADER_BYTES + 4));
      const end = window.indexOf(CRLFCRLF);
      if (end === -1) {
        if (window.length >= MAX_PART_HEADER_BYTES + 4) fail(`a part header block is larger than ${MAX_PART_HEADER_BYTES} bytes`);
        fail('the body ends inside a part header block');
      }
      bodyStart = headersStart + end + 4;
      block = body.toString('latin1', headersStart, headersStart + end);
    }
    const next = body.indexOf(delim, bodyStart);
    if (next === -1) fail('the body ends without a close delimiter');
    const h = parseHeaders(block);
    parts.push({ name: h.name, text: h.text, partStart: pos, partEnd: next + 2, bodyStart, bodyEnd: next });
    pos = next + 2;
  }
  return parts;
}

function scan(body: Buffer, selectors: readonly CompiledSelector[], options: ScanOptions): MultipartScanResult {
  const table = nameTable(selectors, 'multipart');
  const boundary = multipartBoundary(options.contentType);
  const parts = splitParts(body, boundary);
  const picked = parts.filter((p) => table[p.name] !== undefined);
  const paths = occurrencePaths(picked.map((p) => p.name));
  const matches: MultipartMatch[] = [];
  picked.forEach((p, k) => {
    let value: string | undefined;
    if (p.text) {
      const bytes = body.subarray(p.bodyStart, p.bodyEnd);
      if (!isUtf8(bytes)) {
        throw new GatewayError('INVALID_UTF8', `part ${paths[k]} is not valid UTF-8`, { field: paths[k] });
      }
      value = bytes.toString('utf8');
    }
    for (const selector of table[p.name]!) {
      matches.push(
        Object.freeze({
          selector,
          path: paths[k]!,
          kind: p.text ? ('string' as const) : ('file' as const),
          value,
          partStart: p.partStart,
          partEnd: p.partEnd,
          bodyStart: p.bodyStart,
          bodyEnd: p.bodyEnd,
        }),
      );
    }
  });
  return { matches, boundary };
}

function apply(body: Buffer, scan: ScanResult<MultipartMatch>, edits: readonly (Edit | undefined)[]): Buffer {
  const boundary = (scan as Partial<MultipartScanResult>).boundary;
  if (typeof boundary !== 'string') throw new GatewayError('INTERNAL', 'not a multipart scan result');
  if (edits.length > scan.matches.length) {
    throw new GatewayError('INTERNAL', `got ${edits.length} edits for ${scan.matches.length} matches`);
  }
  const byPart = new Map<number, { m: MultipartMatch; edit: Edit }>();
  for (let k = 0; k < edits.length; k++) {
    const edit = edits[k];
    if (edit === undefined) continue;
    const m = scan.matches[k]!;
    if (m.partEnd > body.length) throw new GatewayError('INTERNAL', 'scan result does not belong to this body', { field: m.path });
    if (edit.op === 'replace' && (m.kind !== 'string' || typeof edit.value !== 'string')) {
      throw new GatewayError('INTERNAL', 'only a text part can take a string replacement', { field: m.path });
    }
    const prev = byPart.get(m.partStart);
    if (prev === undefined || (edit.op === 'remove' && prev.edit.op !== 'remove')) byPart.set(m.partStart, { m, edit });
  }
  if (byPart.size === 0) return body;
  const dash = Buffer.from('--' + boundary, 'latin1');
  const chunks: Buffer[] = [];
  let from = 0;
  for (const { m, edit } of [...byPart.values()].sort((x, y) => x.m.partStart - y.m.partStart)) {
    if (edit.op === 'remove') {
      chunks.push(body.subarray(from, m.partStart));
      from = m.partEnd;
    } else {
      const replacement = Buffer.from(edit.value, 'utf8');
      if (replacement.includes(dash)) {
        fail(`the new value of part ${m.path} contains the multipart boundary`, m.path);
      }
      chunks.push(body.subarray(from, m.bodyStart), replacement);
      from = m.bodyEnd;
    }
  }
  chunks.push(body.subarray(from));
  return Buffer.concat(chunks);
}

/**
 * The multipart/form-data codec. `scan` needs `options.contentType` for the boundary.
 *
 * @example
 *   const ct = 'multipart/form-data; boundary=X';
 *   const body = Buffer.from('--X\r\nContent-Disposition: form-data; name="To"\r\n\r\n+14155551234\r\n--X--\r\n');
 *   const r = multipartCodec.scan(body, [{ source: 'To', segments: [{ kind: 'key', key: 'To' }] }], { maxDepth: 1, contentType: ct });
 *   multipartCodec.apply(body, r, [{ op: 'replace', value: 'tok' }]); // only the part body changes
 */
export const multipartCodec: Codec<MultipartMatch> = Object.freeze({ name: 'multipart', scan, apply });
