/**
 * The LevelDB key layout. One byte of prefix per table, then a big-endian
 * 8-byte number, so every table is ordered and appends are sequential keys
 * (LevelDB's fastest write pattern).
 *
 *   'M' + name        meta (format version, origin)
 *   'D' + bundle      256 log entries in C2SP entry-bundle form (see bundles.ts)
 *   'F' + index       a fragment of the last, incomplete bundle, from entry `index`
 *   'E' + index       one log entry per key: format 1 only, upgraded on open
 *   'H' + page        256 stored Merkle hashes, 32 bytes each (see merkle/stored.ts)
 *   'B' + height      the block's signed checkpoint note (UTF-8)
 *   'S' + size        height of the block that ends at this tree size
 */
export const TABLE = {
  meta: 0x4d,
  entryBundle: 0x44,
  entryFragment: 0x46,
  legacyEntry: 0x45,
  hashPage: 0x48,
  block: 0x42,
  blockBySize: 0x53,
} as const;

export function numberKey(table: number, n: number): Uint8Array {
  const key = new Uint8Array(9);
  key[0] = table;
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  key[1] = hi >>> 24;
  key[2] = (hi >>> 16) & 255;
  key[3] = (hi >>> 8) & 255;
  key[4] = hi & 255;
  key[5] = lo >>> 24;
  key[6] = (lo >>> 16) & 255;
  key[7] = (lo >>> 8) & 255;
  key[8] = lo & 255;
  return key;
}

export function keyNumber(key: Uint8Array): number {
  const hi = ((key[1]! << 24) | (key[2]! << 16) | (key[3]! << 8) | key[4]!) >>> 0;
  const lo = ((key[5]! << 24) | (key[6]! << 16) | (key[7]! << 8) | key[8]!) >>> 0;
  return hi * 0x1_0000_0000 + lo;
}

export { readU64, u64 } from '../encoding/u64.js';

export function metaKey(name: string): Uint8Array {
  const n = new TextEncoder().encode(name);
  const key = new Uint8Array(1 + n.length);
  key[0] = TABLE.meta;
  key.set(n, 1);
  return key;
}

/** The range of all keys of one table, for iterators. */
export function tableRange(table: number): { gte: Uint8Array; lt: Uint8Array } {
  return { gte: Uint8Array.of(table), lt: Uint8Array.of(table + 1) };
}
