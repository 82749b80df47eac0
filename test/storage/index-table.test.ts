import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/crypto/bytes.js';
import { u64 } from '../../src/encoding/u64.js';
import type { IndexEntry } from '../../src/policy/entities.js';
import { INDEX_TABLE, indexKey, indexPrefix, trailingNumber } from '../../src/storage/index-table.js';

/** The layout the module documents, piece by piece: 'I', name, parts (strings closed by 0x00 unless last). */
function documented(name: string, parts: ReadonlyArray<string | number>): Uint8Array {
  const pieces: Uint8Array[] = [Uint8Array.of(INDEX_TABLE, name.charCodeAt(0))];
  parts.forEach((p, i) => {
    pieces.push(typeof p === 'number' ? u64(p) : utf8(p));
    if (typeof p === 'string' && i < parts.length - 1) pieces.push(Uint8Array.of(0));
  });
  return concatBytes(...pieces);
}

const id = fc.string({ minLength: 1, maxLength: 24, unit: 'grapheme' }).filter((s) => !s.includes('\0'));

describe('index keys', () => {
  it('follow the documented layout for every index shape (property)', () => {
    const entry: fc.Arbitrary<IndexEntry> = fc.oneof(
      fc.tuple(id, id).map(([a, b]): IndexEntry => ({ name: 'd', parts: [a, b] })),
      fc
        .tuple(id, fc.maxSafeNat(), id)
        .map(([a, n, kind]): IndexEntry => ({ name: 'r', parts: [a, n], kind })),
      fc
        .tuple(fc.constantFrom('G', 'c', 's', 'p') as fc.Arbitrary<'G'>, id, id)
        .map(([name, a, b]): IndexEntry => ({ name, parts: [a, b] })),
      fc.tuple(id, fc.maxSafeNat()).map(([a, n]): IndexEntry => ({ name: 'g', parts: [a, n] })),
      fc
        .tuple(id, fc.maxSafeNat(), fc.maxSafeNat())
        .map(([k, t, n]): IndexEntry => ({ name: 'k', parts: [k, t, n] })),
    );
    fc.assert(
      fc.property(entry, (e) => {
        const key = indexKey(e);
        expect(key).toEqual(documented(e.name, e.parts));
        // Prefix scans find it, and the trailing number reads back.
        const strings = (e.parts as ReadonlyArray<string | number>).filter((p) => typeof p === 'string');
        const prefix = indexPrefix(e.name, ...(strings.slice(0, 1) as string[]));
        if (e.parts.length > 1) expect(key.subarray(0, prefix.length)).toEqual(prefix);
        const lastPart = e.parts[e.parts.length - 1];
        if (typeof lastPart === 'number') expect(trailingNumber(key)).toBe(lastPart);
      }),
    );
  });
});
