import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { readU64, u64, writeU64 } from '../../src/encoding/u64.js';

const big = (n: number): Uint8Array => {
  const b = new Uint8Array(8);
  new DataView(b.buffer).setBigUint64(0, BigInt(n));
  return b;
};

describe('u64: big-endian 64-bit integers below 2^53', () => {
  it('encodes as DataView does and reads back, at any offset (property)', () => {
    fc.assert(
      fc.property(fc.maxSafeNat(), fc.nat(16), (n, offset) => {
        expect(u64(n)).toEqual(big(n));
        const into = new Uint8Array(offset + 8 + 3).fill(0xee);
        writeU64(into, offset, n);
        expect(into.subarray(offset, offset + 8)).toEqual(big(n));
        expect(into[offset + 8]).toBe(0xee);
        expect(readU64(into, offset)).toBe(n);
      }),
    );
  });

  it('refuses to read past the end', () => {
    expect(() => readU64(new Uint8Array(7))).toThrow(RangeError);
    expect(() => readU64(new Uint8Array(9), 2)).toThrow(RangeError);
    expect(() => readU64(new Uint8Array(8), -1)).toThrow(RangeError);
  });
});
