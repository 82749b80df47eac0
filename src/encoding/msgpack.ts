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
import { equalBytes, fromUtf8 } from '../crypto/bytes.js';
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
 * Decodes bytes that `checkCanonical` (canonical.ts) has accepted, to the
 * value msgpackr's decoder gives (test/encoding/canonical.test.ts compares
 * them). The walk stands in for `unpackStrict`'s re-encode, and this decoder
 * trusts it: no form is checked twice, and short ASCII strings (map keys,
 * kinds, ids) repeat across records, so each is made once and reused. On the
 * ingest path msgpackr's decode and its fresh strings were a seventh of the
 * sequencer's main-thread time per record.
 */
export function unpackChecked(bytes: Uint8Array): unknown {
  return checkedValue({ b: bytes, at: 0 });
}

/** `unpackChecked` of the value at `at` (checked bytes), and where it ends. */
export function unpackCheckedAt(bytes: Uint8Array, at: number): { value: unknown; end: number } {
  const r = { b: bytes, at };
  const value = checkedValue(r);
  return { value, end: r.at };
}

interface Checked {
  readonly b: Uint8Array;
  at: number;
}

/** Big-endian reads of the bytes at `r.at`, advancing it (no DataView per value). */
function u16(r: Checked): number {
  r.at += 2;
  return (r.b[r.at - 2]! << 8) | r.b[r.at - 1]!;
}

function u32(r: Checked): number {
  r.at += 4;
  const b = r.b;
  return ((b[r.at - 4]! << 24) | (b[r.at - 3]! << 16) | (b[r.at - 2]! << 8) | b[r.at - 1]!) >>> 0;
}

const float64Scratch = new Float64Array(1);
const float64Bytes = new Uint8Array(float64Scratch.buffer);
/** Whether this machine stores a float64's bytes least significant first (MessagePack's are big-endian). */
const LITTLE_ENDIAN = new Uint8Array(new Uint16Array([1]).buffer)[0] === 1;

/** The big-endian float64 at `b[at..at+8]`. */
export function float64At(b: Uint8Array, at: number): number {
  for (let i = 0; i < 8; i++) float64Bytes[LITTLE_ENDIAN ? 7 - i : i] = b[at + i]!;
  return float64Scratch[0]!;
}

function checkedValue(r: Checked): unknown {
  const b = r.b;
  const t = b[r.at++]!;
  if (t <= 0x7f) return t;
  if (t >= 0xe0) return t - 0x100;
  if (t >= 0xa0 && t <= 0xbf) return checkedString(r, t & 0x1f);
  if (t >= 0x90 && t <= 0x9f) return checkedArray(r, t & 0x0f);
  if (t >= 0x80 && t <= 0x8f) return checkedMap(r, t & 0x0f);
  let n: number;
  switch (t) {
    case 0xc0:
      return null;
    case 0xc2:
      return false;
    case 0xc3:
      return true;
    case 0xcc:
      return b[r.at++]!;
    case 0xcd:
      return u16(r);
    case 0xce:
      return u32(r);
    case 0xd0:
      return (b[r.at++]! << 24) >> 24;
    case 0xd1:
      return (u16(r) << 16) >> 16;
    case 0xd2:
      return u32(r) | 0;
    case 0xcb:
      r.at += 8;
      return float64At(b, r.at - 8);
    case 0xd9:
      return checkedString(r, b[r.at++]!);
    case 0xda:
      return checkedString(r, u16(r));
    case 0xdb:
      return checkedString(r, u32(r));
    case 0xc4:
      n = b[r.at++]!;
      break;
    case 0xc5:
      n = u16(r);
      break;
    case 0xc6:
      n = u32(r);
      break;
    case 0xdc:
      return checkedArray(r, u16(r));
    case 0xdd:
      return checkedArray(r, u32(r));
    case 0xde:
      return checkedMap(r, u16(r));
    case 0xdf:
      return checkedMap(r, u32(r));
    default:
      return fail(ErrorCode.INTERNAL, `unpackChecked: type byte 0x${t.toString(16)} was not checked`);
  }
  // A binary: a view of the bytes, as msgpackr gives.
  r.at += n;
  return b.subarray(r.at - n, r.at);
}

function checkedArray(r: Checked, n: number): unknown[] {
  const out: unknown[] = new Array(n);
  for (let i = 0; i < n; i++) out[i] = checkedValue(r);
  return out;
}

function checkedMap(r: Checked, n: number): Record<string, unknown> {
  const out: Record<string, unknown> = {};
  for (let i = 0; i < n; i++) {
    const key = checkedValue(r) as string;
    out[key] = checkedValue(r);
  }
  return out;
}

function checkedString(r: Checked, n: number): string {
  r.at += n;
  return stringAt(r.b, r.at - n, r.at);
}

/** Strings up to this long are kept for reuse (by a hash of their bytes, compared in full). */
const SHORT_STRING = 32;
const shortStrings = new Map<number, string>();
const SHORT_STRINGS_LIMIT = 8192;

/**
 * The UTF-8 string in `b[start, end)` (E_DECODE if malformed). A short ASCII
 * one is made once and then reused: map keys, kinds and member ids repeat
 * across records.
 */
export function stringAt(b: Uint8Array, start: number, end: number): string {
  const n = end - start;
  if (n > SHORT_STRING) return fromUtf8(b.subarray(start, end));
  let h = 0x811c9dc5 ^ n;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c >= 0x80) return fromUtf8(b.subarray(start, end));
    h = Math.imul(h ^ c, 0x01000193);
  }
  const known = shortStrings.get(h);
  if (known !== undefined && known.length === n) {
    let same = true;
    for (let i = 0; i < n && same; i++) same = known.charCodeAt(i) === b[start + i];
    if (same) return known;
  }
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  if (shortStrings.size >= SHORT_STRINGS_LIMIT) shortStrings.clear();
  shortStrings.set(h, s);
  return s;
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
