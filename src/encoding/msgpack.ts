/**
 * The one MessagePack configuration dirchain uses: plain standard MessagePack
 * (no msgpackr record extension, no structured clone), maps decoded to plain
 * objects. `unpackStrict` accepts only the canonical encoding: it re-encodes
 * what it decoded and requires the same bytes, which refuses duplicate map
 * keys, non-string keys, non-shortest integers and lengths, float encodings of
 * integers and trailing bytes — so every decoder reads the same value from the
 * signed bytes. Extension types (timestamps…) decode to objects that are not
 * plain data and are refused by `assertPlain`.
 */
// 'msgpackr/pack' and 'msgpackr/unpack' are msgpackr without its native string extractor (msgpackr-extract):
// with the extractor, msgpackr 1.12.1 can cache a wrong string for a non-ASCII
// map key after some inputs, and from then on decodes that key wrongly for the
// life of the process (found by test/encoding/canonical.test.ts: valid records
// refused as non-canonical). The JS decoder has no such cache entries.
import { Packr } from 'msgpackr/pack';
import { Unpackr } from 'msgpackr/unpack';
import { equalBytes } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';

const packr = new Packr({ useRecords: false, variableMapSize: true, encodeUndefinedAsNil: false });
const unpackr = new Unpackr({ useRecords: false, mapsAsObjects: true });

/** Plain data that round-trips through MessagePack unchanged. */
export type Plain = null | boolean | number | string | Uint8Array | Plain[] | { [key: string]: Plain };

export function pack(value: unknown): Uint8Array {
  const b = packr.pack(value);
  return new Uint8Array(b.buffer, b.byteOffset, b.length);
}

export function unpackStrict(bytes: Uint8Array, what: string): unknown {
  let value: unknown;
  try {
    value = unpackr.unpack(bytes);
  } catch (e) {
    return fail(
      ErrorCode.DECODE,
      `${what} is not a single well-formed MessagePack value: ${(e as Error).message}`,
    );
  }
  let again: Uint8Array;
  try {
    again = packr.pack(value);
  } catch {
    return fail(ErrorCode.DECODE, `${what} holds a value that has no canonical MessagePack form`);
  }
  if (!equalBytes(again, bytes)) {
    fail(ErrorCode.DECODE, `${what} is not canonical MessagePack`, {
      hint: 'encode with shortest forms, string map keys, no duplicate keys, float64 only for non-integers',
    });
  }
  return value;
}

/**
 * Decodes bytes that `checkCanonical` (canonical.ts) has accepted: its walk
 * stands in for `unpackStrict`'s re-encode, which cost twice the walk and the
 * decode together on the ingest path.
 */
export function unpackChecked(bytes: Uint8Array): unknown {
  return unpackr.unpack(bytes);
}

/** Throws E_SCHEMA unless `value` is plain data, at most `maxDepth` deep. */
export function assertPlain(value: unknown, what: string, maxDepth = 32): asserts value is Plain {
  if (maxDepth < 0) fail(ErrorCode.SCHEMA, `${what} is nested too deeply`);
  if (value === null || typeof value === 'boolean' || typeof value === 'string') return;
  if (typeof value === 'number') {
    if (!Number.isFinite(value)) fail(ErrorCode.SCHEMA, `${what} holds a non-finite number`);
    return;
  }
  if (value instanceof Uint8Array) return;
  if (Array.isArray(value)) {
    for (const v of value) assertPlain(v, what, maxDepth - 1);
    return;
  }
  if (typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    for (const v of Object.values(value as object)) assertPlain(v, what, maxDepth - 1);
    return;
  }
  fail(ErrorCode.SCHEMA, `${what} holds a value that is not plain data (${typeof value})`);
}
