/** Big-endian unsigned 64-bit integers for numbers below 2^53 (keys, indexes). */

export function u64(n: number): Uint8Array {
  const b = new Uint8Array(8);
  const v = new DataView(b.buffer);
  v.setUint32(0, Math.floor(n / 0x1_0000_0000));
  v.setUint32(4, n >>> 0);
  return b;
}

export function readU64(bytes: Uint8Array, offset = 0): number {
  const v = new DataView(bytes.buffer, bytes.byteOffset + offset, 8);
  return v.getUint32(0) * 0x1_0000_0000 + v.getUint32(4);
}
