import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { crc32c, maskCrc, unmaskCrc } from '../../src/storage/crc32c.js';

describe('crc32c', () => {
  it('matches the published CRC-32C check values (RFC 3720 B.4, and "123456789")', () => {
    const ascending = Uint8Array.from({ length: 32 }, (_, i) => i);
    const descending = Uint8Array.from({ length: 32 }, (_, i) => 31 - i);
    expect(crc32c(new TextEncoder().encode('123456789'))).toBe(0xe3069283);
    expect(crc32c(new Uint8Array(32))).toBe(0x8a9136aa);
    expect(crc32c(new Uint8Array(32).fill(0xff))).toBe(0x62a8ab43);
    expect(crc32c(ascending)).toBe(0x46dd794e);
    expect(crc32c(descending)).toBe(0x113fdb5c);
  });

  it('masks as LevelDB does (crc32c_test.cc: Mask(crc) != crc, Unmask(Mask(crc)) == crc)', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 0xffffffff }), (crc) => {
        expect(maskCrc(crc)).not.toBe(crc);
        expect(unmaskCrc(maskCrc(crc))).toBe(crc);
        expect(unmaskCrc(unmaskCrc(maskCrc(maskCrc(crc))))).toBe(crc);
      }),
    );
  });

  it('continues across a split, over a range, and catches any one changed byte', () => {
    fc.assert(
      fc.property(
        fc.uint8Array({ minLength: 1, maxLength: 300 }),
        fc.nat(),
        fc.nat(),
        fc.integer({ min: 1, max: 255 }),
        (bytes, splitAt, flipAt, xor) => {
          const split = splitAt % (bytes.length + 1);
          const whole = crc32c(bytes);
          expect(crc32c(bytes, split, bytes.length, crc32c(bytes, 0, split))).toBe(whole);
          const padded = new Uint8Array(bytes.length + 9);
          padded.set(bytes, 4);
          expect(crc32c(padded, 4, 4 + bytes.length)).toBe(whole);
          const changed = bytes.slice();
          changed[flipAt % bytes.length]! ^= xor;
          expect(crc32c(changed)).not.toBe(whole);
        },
      ),
    );
  });
});
