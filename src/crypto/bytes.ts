/**
 * Byte helpers that run the same in Node and browsers (no Buffer), so the
 * verify entry can use them.
 */
import { ErrorCode, fail } from '../errors.js';

/**
 * What a value is, for argument errors (`expected a string, got null`): null,
 * array, a class name (`Uint8Array`, `Map`) or typeof. Never throws, whatever it is given.
 */
export function typeOf(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'array';
  if (typeof value !== 'object') return typeof value;
  const name = (Object.getPrototypeOf(value) as { constructor?: { name?: unknown } } | null)?.constructor
    ?.name;
  return typeof name === 'string' && name !== '' && name !== 'Object' ? name : 'object';
}

/** A value as an error message shows it: short text quoted, numbers as they are, anything else by type. */
export function show(value: unknown): string {
  if (typeof value === 'string') return JSON.stringify(value.length > 80 ? `${value.slice(0, 80)}…` : value);
  if (typeof value === 'number' || typeof value === 'boolean' || value === undefined) return String(value);
  if (typeof value === 'bigint') return `${value}n`;
  return typeOf(value);
}

/** Throws E_INVALID_ARGUMENT unless `value` is a string. */
export function checkString(value: unknown, what: string): asserts value is string {
  if (typeof value !== 'string')
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected a string, got ${typeOf(value)}`);
}

/** Throws E_INVALID_ARGUMENT unless `value` is a Uint8Array (a node Buffer is one). */
export function checkBytes(value: unknown, what: string): asserts value is Uint8Array {
  if (!(value instanceof Uint8Array))
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected a Uint8Array, got ${typeOf(value)}`);
}

/** Throws E_INVALID_ARGUMENT unless `value` is an object (not null, not an array). */
export function checkObject(value: unknown, what: string): asserts value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value))
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected an object, got ${typeOf(value)}`);
}

/** Throws E_INVALID_ARGUMENT unless `value` is an array. */
export function checkArray(value: unknown, what: string): asserts value is readonly unknown[] {
  if (!Array.isArray(value))
    fail(ErrorCode.INVALID_ARGUMENT, `${what}: expected an array, got ${typeOf(value)}`);
}

const encoder = new TextEncoder();
const decoder = new TextDecoder('utf-8', { fatal: true });

export function utf8(text: string): Uint8Array {
  return encoder.encode(text);
}

/** Decodes UTF-8, rejecting malformed sequences instead of substituting U+FFFD. */
export function fromUtf8(bytes: Uint8Array): string {
  try {
    return decoder.decode(bytes);
  } catch {
    return fail(ErrorCode.DECODE, 'bytes are not valid UTF-8');
  }
}

/**
 * A copy of bytes[start, end) in a new Uint8Array of its own. Not `.slice()`:
 * on a node Buffer (what LevelDB and many callers hand over) `slice` returns a
 * view that shares, and keeps alive, the whole underlying buffer.
 */
export function copyBytes(bytes: Uint8Array, start = 0, end = bytes.length): Uint8Array {
  const out = new Uint8Array(end - start);
  out.set(bytes.subarray(start, end));
  return out;
}

export function concatBytes(...parts: Uint8Array[]): Uint8Array {
  let length = 0;
  for (const p of parts) length += p.length;
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

const HEX = '0123456789abcdef';

export function toHex(bytes: Uint8Array): string {
  checkBytes(bytes, 'bytes');
  let s = '';
  for (let i = 0; i < bytes.length; i++) s += HEX[bytes[i]! >> 4]! + HEX[bytes[i]! & 15]!;
  return s;
}

export function fromHex(hex: string): Uint8Array {
  checkString(hex, 'hex');
  if (hex.length % 2 !== 0 || !/^[0-9a-fA-F]*$/.test(hex)) {
    fail(ErrorCode.DECODE, `expected an even-length hex string, got ${JSON.stringify(hex.slice(0, 20))}`);
  }
  const out = new Uint8Array(hex.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = Number.parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const B64_INDEX = new Int16Array(128).fill(-1);
for (let i = 0; i < B64.length; i++) B64_INDEX[B64.charCodeAt(i)] = i;

/** Standard base64 with padding (RFC 4648 §4), as C2SP notes use. */
export function toBase64(bytes: Uint8Array): string {
  checkBytes(bytes, 'bytes');
  let s = '';
  let i = 0;
  for (; i + 2 < bytes.length; i += 3) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8) | bytes[i + 2]!;
    s += B64[n >> 18]! + B64[(n >> 12) & 63]! + B64[(n >> 6) & 63]! + B64[n & 63]!;
  }
  const rest = bytes.length - i;
  if (rest === 1) {
    const n = bytes[i]! << 16;
    s += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}==`;
  } else if (rest === 2) {
    const n = (bytes[i]! << 16) | (bytes[i + 1]! << 8);
    s += `${B64[n >> 18]!}${B64[(n >> 12) & 63]!}${B64[(n >> 6) & 63]!}=`;
  }
  return s;
}

/**
 * Strict standard base64: padding required, no whitespace, and unused bits must
 * be zero, so every byte string has exactly one accepted text form.
 */
export function fromBase64(text: string): Uint8Array {
  checkString(text, 'base64');
  if (text.length % 4 !== 0) fail(ErrorCode.DECODE, 'base64 length is not a multiple of 4');
  let pad = 0;
  if (text.endsWith('==')) pad = 2;
  else if (text.endsWith('=')) pad = 1;
  const out = new Uint8Array((text.length / 4) * 3 - pad);
  let o = 0;
  for (let i = 0; i < text.length; i += 4) {
    let n = 0;
    for (let j = 0; j < 4; j++) {
      const c = text.charCodeAt(i + j);
      const last = i + 4 === text.length;
      if (c === 61 /* = */ && last && j >= 4 - pad) {
        n <<= 6;
        continue;
      }
      const v = c < 128 ? B64_INDEX[c]! : -1;
      if (v < 0) fail(ErrorCode.DECODE, `invalid base64 character at offset ${i + j}`);
      n = (n << 6) | v;
    }
    out[o++] = (n >> 16) & 255;
    if (o < out.length) out[o++] = (n >> 8) & 255;
    else if (pad === 2 && (n & 0xffff) !== 0) fail(ErrorCode.DECODE, 'non-canonical base64 padding bits');
    if (o < out.length) out[o++] = n & 255;
    else if (pad === 1 && (n & 0xff) !== 0) fail(ErrorCode.DECODE, 'non-canonical base64 padding bits');
  }
  return out;
}
