/**
 * Which media types each codec handles: the values of CompiledDirection.contentTypes.
 *
 * Match rule (applied by the server before a body is decoded; RFC 9110 §8.3.1 makes type, subtype and
 * parameter names case-insensitive):
 *  - the request's or response's media type is taken without parameters (`; charset=utf-8` dropped),
 *    trimmed and lower-cased;
 *  - an entry `type/subtype` matches that media type exactly;
 *  - an entry starting with `+` is a structured-syntax suffix (RFC 6838 §4.2.8): `+json` matches any
 *    `type/subtype+json`, e.g. `application/vnd.api+json`, `application/problem+json`.
 * A body whose media type does not match is refused (415), never passed through with its PII unseen.
 */
import type { CODEC_NAMES } from './schema.js';

export type CodecName = (typeof CODEC_NAMES)[number];

/** Media types per codec, in CompiledDirection.contentTypes form. Add an entry with each new codec. */
export const CODEC_CONTENT_TYPES: Readonly<Record<CodecName, readonly string[]>> = Object.freeze({
  json: Object.freeze(['application/json', '+json']),
  form: Object.freeze(['application/x-www-form-urlencoded']),
  multipart: Object.freeze(['multipart/form-data']),
  text: Object.freeze(['text/plain', 'text/html']),
});
