/**
 * A one-pass check that bytes are one value in dirchain's canonical
 * MessagePack (what msgpack.ts's `unpackStrict` + `assertPlain` accept),
 * without building the value: the admission workers check every event of
 * every batch, and decoding plus re-encoding cost ~5 µs per 170-byte event
 * where this walk costs well under one.
 *
 * Canonical means what msgpackr (with msgpack.ts's options) writes for the
 * decoded value, so there is exactly one encoding per value:
 *  - integers in uint32 / int32 range in their shortest int form (positive
 *    fixint up to 0x7f); other numbers as float64 (never an integer that fits
 *    those ranges, nor -0), finite only;
 *  - strings (well-formed UTF-8), binaries, arrays and maps with the shortest
 *    length header;
 *  - map keys are strings, unique, not "__proto__", in the order a JS object
 *    keeps them: integer-like keys first, ascending, then the rest;
 *  - no extension types, no float32, no 64-bit ints; nesting at most 32 deep.
 * test/encoding/canonical.test.ts checks it against unpackStrict + assertPlain
 * on random values and random corruptions of them.
 */
import { DirchainError, ErrorCode } from '../errors.js';
import { float64At } from './msgpack.js';

const MAX_DEPTH = 32;

class Walk {
  constructor(
    readonly b: Uint8Array,
    readonly what: string,
  ) {}

  decode(message: string): never {
    throw new DirchainError(ErrorCode.DECODE, `${this.what} ${message}`, {
      hint: 'encode with shortest forms, string map keys, no duplicate keys, float64 only for non-integers',
    });
  }

  schema(message: string): never {
    throw new DirchainError(ErrorCode.SCHEMA, `${this.what} ${message}`);
  }

  need(at: number, n: number): void {
    if (at + n > this.b.length) this.decode('ends inside a value');
  }

  u8(at: number): number {
    this.need(at, 1);
    return this.b[at]!;
  }

  u16(at: number): number {
    this.need(at, 2);
    return (this.b[at]! << 8) | this.b[at + 1]!;
  }

  u32(at: number): number {
    this.need(at, 4);
    return ((this.b[at]! << 24) | (this.b[at + 1]! << 16) | (this.b[at + 2]! << 8) | this.b[at + 3]!) >>> 0;
  }

  /** Checks the value at `at`; returns the offset after it. */
  value(at: number, depth: number): number {
    if (depth < 0) this.schema('is nested too deeply');
    const t = this.u8(at);
    if (t <= 0x7f || t >= 0xe0) return at + 1; // fixints
    if ((t >= 0xa0 && t <= 0xbf) || (t >= 0xd9 && t <= 0xdb)) return this.string(at);
    if (t >= 0x90 && t <= 0x9f) return this.array(at + 1, t & 0x0f, depth);
    if (t >= 0x80 && t <= 0x8f) return this.map(at + 1, t & 0x0f, depth);
    switch (t) {
      case 0xc0:
      case 0xc2:
      case 0xc3:
        return at + 1;
      case 0xcc:
        if (this.u8(at + 1) < 0x80) this.decode('has a non-shortest integer');
        return at + 2;
      case 0xcd:
        if (this.u16(at + 1) < 0x100) this.decode('has a non-shortest integer');
        return at + 3;
      case 0xce:
        if (this.u32(at + 1) < 0x10000) this.decode('has a non-shortest integer');
        return at + 5;
      case 0xd0: {
        const v = (this.u8(at + 1) << 24) >> 24;
        if (v >= -0x20) this.decode('has a non-shortest integer');
        return at + 2;
      }
      case 0xd1: {
        const v = (this.u16(at + 1) << 16) >> 16;
        if (v >= -0x80) this.decode('has a non-shortest integer');
        return at + 3;
      }
      case 0xd2: {
        const v = this.u32(at + 1) | 0;
        if (v >= -0x8000) this.decode('has a non-shortest integer');
        return at + 5;
      }
      case 0xcb:
        return this.float64(at + 1);
      case 0xc4:
        return this.bin(at + 2, this.shortest(this.u8(at + 1), 0));
      case 0xc5:
        return this.bin(at + 3, this.shortest(this.u16(at + 1), 0x100));
      case 0xc6:
        return this.bin(at + 5, this.shortest(this.u32(at + 1), 0x10000));
      case 0xdc:
        return this.array(at + 3, this.shortest(this.u16(at + 1), 0x10), depth);
      case 0xdd:
        return this.array(at + 5, this.shortest(this.u32(at + 1), 0x10000), depth);
      case 0xde:
        return this.map(at + 3, this.shortest(this.u16(at + 1), 0x10), depth);
      case 0xdf:
        return this.map(at + 5, this.shortest(this.u32(at + 1), 0x10000), depth);
      case 0xd4:
      case 0xd5:
      case 0xd6:
      case 0xd7:
      case 0xd8:
      case 0xc7:
      case 0xc8:
      case 0xc9:
        return this.schema('holds an extension type, which is not plain data');
      default: // 0xc1 (never used), float32, 64-bit ints: never written by the canonical encoder
        return this.decode(`holds a non-canonical type byte 0x${t.toString(16)}`);
    }
  }

  /** Where the bytes of the last string checked by `string` start. */
  stringStart = 0;

  /** Checks the string (any header) at `at`; returns the offset after it, or -1 if `at` holds no string. */
  string(at: number): number {
    const t = this.u8(at);
    if (t >= 0xa0 && t <= 0xbf) return this.stringAt(at + 1, t & 0x1f);
    if (t === 0xd9) return this.stringAt(at + 2, this.shortest(this.u8(at + 1), 0x20));
    if (t === 0xda) return this.stringAt(at + 3, this.shortest(this.u16(at + 1), 0x100));
    if (t === 0xdb) return this.stringAt(at + 5, this.shortest(this.u32(at + 1), 0x10000));
    return -1;
  }

  stringAt(start: number, length: number): number {
    this.stringStart = start;
    return this.str(start, length);
  }

  shortest(length: number, min: number): number {
    if (length < min) this.decode('has a non-shortest length');
    return length;
  }

  float64(at: number): number {
    this.need(at, 8);
    const v = float64At(this.b, at);
    if (!Number.isFinite(v)) this.schema('holds a non-finite number');
    // The canonical encoder writes these as ints (and -0 as 0).
    if (v >>> 0 === v || v >> 0 === v) this.decode('has a float encoding of an integer');
    return at + 8;
  }

  bin(at: number, length: number): number {
    this.need(at, length);
    return at + length;
  }

  /** Well-formed UTF-8 only (no overlong forms, no surrogates, at most U+10FFFF). */
  str(at: number, length: number): number {
    this.need(at, length);
    const b = this.b;
    const end = at + length;
    let i = at;
    while (i < end) {
      const c = b[i]!;
      if (c < 0x80) {
        i++;
        continue;
      }
      let n: number;
      let min: number;
      let cp: number;
      if (c >= 0xc2 && c <= 0xdf) {
        n = 1;
        min = 0x80;
        cp = c & 0x1f;
      } else if (c >= 0xe0 && c <= 0xef) {
        n = 2;
        min = 0x800;
        cp = c & 0x0f;
      } else if (c >= 0xf0 && c <= 0xf4) {
        n = 3;
        min = 0x10000;
        cp = c & 0x07;
      } else return this.decode('holds a string that is not well-formed UTF-8');
      if (i + n >= end) this.decode('holds a string that is not well-formed UTF-8');
      for (let k = 1; k <= n; k++) {
        const cc = b[i + k]!;
        if ((cc & 0xc0) !== 0x80) this.decode('holds a string that is not well-formed UTF-8');
        cp = (cp << 6) | (cc & 0x3f);
      }
      if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
        this.decode('holds a string that is not well-formed UTF-8');
      i += n + 1;
    }
    return end;
  }

  array(at: number, count: number, depth: number): number {
    for (let i = 0; i < count; i++) at = this.value(at, depth - 1);
    return at;
  }

  map(at: number, count: number, depth: number): number {
    // Keys are compared as bytes (equal UTF-8 is equal text): no string per
    // key. Small maps keep their keys' offsets on a shared stack (nested maps
    // above the parent's): no arrays per map.
    const base = keyTop;
    const seen = count > 32 ? new Set<string>() : undefined;
    if (seen === undefined && keyStack.length < base + 2 * count) {
      const grown = new Uint32Array(2 * (base + 2 * count));
      grown.set(keyStack);
      keyStack = grown;
    }
    let lastIndex = -1;
    let named = false;
    for (let i = 0; i < count; i++) {
      const end = this.string(at);
      if (end < 0) this.decode('has a map key that is not a string');
      const start = this.stringStart;
      if (isProto(this.b, start, end)) this.decode('has the map key "__proto__"');
      if (seen === undefined) {
        for (let k = base; k < keyTop; k += 2) {
          if (sameBytes(this.b, keyStack[k]!, keyStack[k + 1]!, start, end))
            this.decode('has a map key twice');
        }
        keyStack[keyTop++] = start;
        keyStack[keyTop++] = end;
      } else {
        const key = latin1(this.b, start, end);
        if (seen.has(key)) this.decode('has a map key twice');
        seen.add(key);
      }
      // A JS object lists integer-like keys first, ascending: the canonical order.
      const index = arrayIndex(this.b, start, end);
      if (index >= 0) {
        if (named || index <= lastIndex) this.decode('has map keys out of canonical order');
        lastIndex = index;
      } else named = true;
      at = this.value(end, depth - 1);
    }
    keyTop = base;
    return at;
  }
}

/** Offsets (start, end) of the keys of the maps being walked; a walk that throws leaves it for the next to reset. */
let keyStack = new Uint32Array(256);
let keyTop = 0;

function sameBytes(b: Uint8Array, s1: number, e1: number, s2: number, e2: number): boolean {
  if (e1 - s1 !== e2 - s2) return false;
  for (let i = 0; i < e1 - s1; i++) if (b[s1 + i] !== b[s2 + i]) return false;
  return true;
}

/** The bytes as a latin1 string: a set key only (one char per byte). */
function latin1(b: Uint8Array, start: number, end: number): string {
  let s = '';
  for (let i = start; i < end; i++) s += String.fromCharCode(b[i]!);
  return s;
}

const PROTO = [0x5f, 0x5f, 0x70, 0x72, 0x6f, 0x74, 0x6f, 0x5f, 0x5f]; // "__proto__"

function isProto(b: Uint8Array, start: number, end: number): boolean {
  if (end - start !== PROTO.length) return false;
  for (let i = 0; i < PROTO.length; i++) if (b[start + i] !== PROTO[i]) return false;
  return true;
}

/** The key as an array index (what JS objects list first), or -1: "0", or 1–10 digits without a leading 0, ≤ 2^32 − 2. */
function arrayIndex(b: Uint8Array, start: number, end: number): number {
  const length = end - start;
  if (length === 0 || length > 10 || (length > 1 && b[start] === 0x30)) return -1;
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = b[i]!;
    if (c < 0x30 || c > 0x39) return -1;
    n = n * 10 + (c - 0x30);
  }
  return n <= 0xfffffffe ? n : -1;
}

/**
 * Throws E_DECODE / E_SCHEMA unless `bytes` is exactly one canonical plain
 * MessagePack value. `depth` is assertPlain's: containers may nest that deep
 * below the value (an envelope around a body passes one more).
 */
export function checkCanonical(bytes: Uint8Array, what: string, depth = MAX_DEPTH): void {
  keyTop = 0;
  const w = new Walk(bytes, what);
  if (w.value(0, depth) !== bytes.length) w.decode('has bytes after its value');
}
