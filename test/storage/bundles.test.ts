import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeEntryBundle } from '../../src/merkle/tiles.js';
import { BUNDLE_WIDTH, type OpenBundle, planEntryWrites, readBundle } from '../../src/storage/bundles.js';

/** Applies plans to a map standing in for LevelDB, as store.writeBlock does. */
function applyBlocks(sizes: readonly number[]) {
  const bundles = new Map<number, Uint8Array>();
  const fragments = new Map<number, Uint8Array>();
  const writes = new Map<number, number>(); // entry index → times its bytes were written
  let open: OpenBundle = { n: 0, entries: [], fragments: [] };
  let next = 0;
  const all: Uint8Array[] = [];
  for (const size of sizes) {
    const entries = Array.from({ length: size }, (_, i) => {
      const index = next + i;
      // Distinct bytes per index, of varying length (0 included).
      return Uint8Array.from({ length: index % 37 }, (_, k) => (index * 7 + k) & 0xff);
    });
    const plan = planEntryWrites(open, entries);
    for (const [n, bytes] of plan.bundles) {
      bundles.set(n, bytes);
      for (let i = 0; i < BUNDLE_WIDTH; i++)
        writes.set(n * BUNDLE_WIDTH + i, (writes.get(n * BUNDLE_WIDTH + i) ?? 0) + 1);
    }
    for (const first of plan.deleted) expect(fragments.delete(first)).toBe(true);
    if (plan.fragment) {
      const [first, bytes] = plan.fragment;
      fragments.set(first, bytes);
      const count = decodeEntryBundle(bytes).length;
      for (let i = 0; i < count; i++) writes.set(first + i, (writes.get(first + i) ?? 0) + 1);
    }
    open = plan.next;
    all.push(...entries);
    next += size;
  }
  return { bundles, fragments, writes, open, all };
}

/** Equal lists of byte strings (toEqual on thousands of arrays is slow). */
function same(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x).equals(b[i]!));
}

describe('entry bundles', () => {
  it('lay out any sequence of blocks as full bundles plus fragments of the last one, each entry written at most twice', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 25 }), (sizes) => {
        const { bundles, fragments, writes, open, all } = applyBlocks(sizes);
        const full = Math.floor(all.length / BUNDLE_WIDTH);
        expect([...bundles.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: full }, (_, i) => i));
        for (const [n, bytes] of bundles) {
          expect(same(readBundle(bytes), all.slice(n * BUNDLE_WIDTH, (n + 1) * BUNDLE_WIDTH))).toBe(true);
        }
        // The fragments are exactly the open bundle, in order, and nothing else.
        const rest: Uint8Array[] = [];
        let at = full * BUNDLE_WIDTH;
        for (const first of [...fragments.keys()].sort((a, b) => a - b)) {
          expect(first).toBe(at);
          const part = readBundle(fragments.get(first)!);
          rest.push(...part);
          at += part.length;
        }
        expect(same(rest, all.slice(full * BUNDLE_WIDTH))).toBe(true);
        expect(open).toMatchObject({ n: full, fragments: [...fragments.keys()] });
        expect(same(open.entries, rest)).toBe(true);
        const counts = all.map((_, i) => writes.get(i) ?? 0);
        expect(Math.min(...counts)).toBe(1);
        expect(Math.max(...counts)).toBeLessThanOrEqual(2);
      }),
      { numRuns: 60 },
    );
  });

  it('reads a damaged value up to the damage', () => {
    const { bundles } = applyBlocks([300]);
    const bytes = bundles.get(0)!;
    expect(readBundle(bytes)).toHaveLength(BUNDLE_WIDTH);
    // Cut inside entry 10: entries 0..9 are still read.
    let at = 0;
    for (let i = 0; i < 10; i++) at += 2 + ((bytes[at]! << 8) | bytes[at + 1]!);
    expect(readBundle(bytes.subarray(0, at + 3))).toHaveLength(10);
    // A length that runs past the end stops there too.
    const long = bytes.slice();
    long[at] = 0xff;
    expect(readBundle(long)).toHaveLength(10);
    expect(readBundle(bytes, 5)).toHaveLength(5);
  });
});
