/** Big-endian unsigned 64-bit integers for numbers below 2^53 (keys, indexes). */

// Byte by byte rather than through a DataView: one per call was most of
// these functions' cost (and garbage) on the per-record write path.

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  writeU64(b, 0, n);
  return b;
}

/** Writes `n` as 8 big-endian bytes at `into[at..]`. */
export function writeU64(into: Uint8Array, at: number, n: number): void {
  const hi = Math.floor(n / 0x1_0000_0000);
  const lo = n >>> 0;
  into[at] = hi >>> 24;
  into[at + 1] = (hi >>> 16) & 255;
  into[at + 2] = (hi >>> 8) & 255;
  into[at + 3] = hi & 255;
  into[at + 4] = lo >>> 24;
  into[at + 5] = (lo >>> 16) & 255;
  into[at + 6] = (lo >>> 8) & 255;
  into[at + 7] = lo & 255;
}

export function readU64(bytes: Uint8Array, offset = 0): number {
  if (offset < 0 || offset + 8 > bytes.length)
    throw new RangeError(`no u64 at offset ${offset} of ${bytes.length} bytes`);
  const hi =
    ((bytes[offset]! << 24) | (bytes[offset + 1]! << 16) | (bytes[offset + 2]! << 8) | bytes[offset + 3]!) >>>
    0;
  const lo =
    ((bytes[offset + 4]! << 24) |
      (bytes[offset + 5]! << 16) |
      (bytes[offset + 6]! << 8) |
      bytes[offset + 7]!) >>>
    0;
  return hi * 0x1_0000_0000 + lo;
}
