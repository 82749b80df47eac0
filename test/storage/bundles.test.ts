import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { encodeEntryBundle } from '../../src/merkle/tiles.js';
import {
  BUNDLE_WIDTH,
  decodePieceIndex,
  joinPieces,
  type OpenBundle,
  planPieceWrites,
  readBundle,
} from '../../src/storage/bundles.js';

/** Distinct bytes per index, of varying length (0 included). */
function entryAt(index: number): Uint8Array {
  return Uint8Array.from({ length: index % 37 }, (_, k) => (index * 7 + k) & 0xff);
}

/** Applies plans to a map standing in for LevelDB, as store.writeBlocks does. */
function applyPieceBlocks(sizes: readonly number[]) {
  const pieces = new Map<number, Uint8Array>();
  const indexes = new Map<number, Uint8Array>();
  let open: OpenBundle = { n: 0, entries: [], pieces: [] };
  const all: Uint8Array[] = [];
  for (const size of sizes) {
    const entries = Array.from({ length: size }, (_, i) => entryAt(all.length + i));
    const plan = planPieceWrites(open, entries);
    for (const [first, bytes] of plan.pieces) {
      expect(pieces.has(first)).toBe(false); // never rewritten
      pieces.set(first, bytes);
    }
    for (const [n, index] of plan.completed) indexes.set(n, index);
    open = plan.next;
    all.push(...entries);
  }
  return { pieces, indexes, open, all };
}

/** Equal lists of byte strings (toEqual on thousands of arrays is slow). */
function same(a: readonly Uint8Array[], b: readonly Uint8Array[]): boolean {
  return a.length === b.length && a.every((x, i) => Buffer.from(x).equals(b[i]!));
}

describe('entry bundles', () => {
  it('reads a damaged value up to the damage', () => {
    const bytes = encodeEntryBundle(Array.from({ length: BUNDLE_WIDTH }, (_, i) => entryAt(i)));
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

describe('entry pieces', () => {
  it('store any sequence of blocks with each entry written once, and join into every complete bundle', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 1, max: 700 }), { minLength: 1, maxLength: 25 }), (sizes) => {
        const { pieces, indexes, open, all } = applyPieceBlocks(sizes);
        // The pieces, in order, are the entries: contiguous, none across a bundle boundary.
        let at = 0;
        for (const first of [...pieces.keys()].sort((a, b) => a - b)) {
          expect(first).toBe(at);
          const part = readBundle(pieces.get(first)!);
          expect(part.length).toBeGreaterThan(0);
          expect(Math.floor((first + part.length - 1) / BUNDLE_WIDTH)).toBe(Math.floor(first / BUNDLE_WIDTH));
          expect(same(part, all.slice(first, first + part.length))).toBe(true);
          at += part.length;
        }
        expect(at).toBe(all.length);
        const full = Math.floor(all.length / BUNDLE_WIDTH);
        expect([...indexes.keys()].sort((a, b) => a - b)).toEqual(Array.from({ length: full }, (_, i) => i));
        for (const [n, index] of indexes) {
          const offsets = decodePieceIndex(index)!;
          expect(offsets.map((o) => n * BUNDLE_WIDTH + o)).toEqual(
            [...pieces.keys()].filter((f) => Math.floor(f / BUNDLE_WIDTH) === n).sort((a, b) => a - b),
          );
          const joined = joinPieces(index, (o) => pieces.get(n * BUNDLE_WIDTH + o))!;
          expect(
            Buffer.from(joined).equals(
              encodeEntryBundle(all.slice(n * BUNDLE_WIDTH, (n + 1) * BUNDLE_WIDTH)),
            ),
          ).toBe(true);
        }
        expect(open.n).toBe(full);
        expect(same(open.entries, all.slice(full * BUNDLE_WIDTH))).toBe(true);
        expect(open.pieces).toEqual(
          [...pieces.keys()].filter((f) => f >= full * BUNDLE_WIDTH).sort((a, b) => a - b),
        );
      }),
      { numRuns: 60 },
    );
  });

  it('join a damaged bundle up to the damage, and refuse a damaged index', () => {
    const { pieces, indexes, all } = applyPieceBlocks([100, 100, 100]);
    const index = indexes.get(0)!;
    expect([...index]).toEqual([0, 100, 200]);
    const read = (changed: Map<number, Uint8Array | undefined>) => (o: number) =>
      changed.has(o) ? changed.get(o) : pieces.get(o);
    // A missing piece: the entries before it.
    expect(readBundle(joinPieces(index, read(new Map([[100, undefined]])))!)).toHaveLength(100);
    // A piece short of an entry: the bundle stops after what it has.
    const short = encodeEntryBundle(all.slice(100, 199));
    expect(readBundle(joinPieces(index, read(new Map([[100, short]])))!)).toHaveLength(199);
    // An entry inserted into a piece: the piece still gives only its share, so later entries keep their place.
    const longer = encodeEntryBundle([new Uint8Array(1), ...all.slice(100, 200)]);
    const joined = readBundle(joinPieces(index, read(new Map([[100, longer]])))!);
    expect(joined).toHaveLength(BUNDLE_WIDTH);
    expect(joined[100]).toEqual(new Uint8Array(1));
    expect(same(joined.slice(200), all.slice(200, 256))).toBe(true);
    for (const bad of [[], [1, 100], [0, 100, 100], [0, 200, 100]])
      expect(joinPieces(Uint8Array.from(bad), read(new Map()))).toBeUndefined();
  });
});
