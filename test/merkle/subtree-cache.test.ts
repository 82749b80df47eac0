import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { toHex } from '../../src/crypto/bytes.js';
import { type HashReader, proveConsistency, proveInclusion, treeHash } from '../../src/merkle/prove.js';
import { SubtreeCache } from '../../src/merkle/subtree-cache.js';
import { nodeHasher as hasher, leafData, MemoryLog } from '../helpers.js';

const MAX = 1500;
const log = new MemoryLog(hasher);
for (let i = 0; i < MAX; i++) log.append(leafData(i));

/** Hands out copies, as the LevelDB store does, and counts the hashes it was asked for. */
class CopyingReader implements HashReader {
  reads = 0;
  async readHashes(indexes: readonly number[]): Promise<Uint8Array[]> {
    this.reads += indexes.length;
    return (await log.readHashes(indexes)).map((h) => h.slice());
  }
}

/**
 * Also answers synchronously (`readHashNow`), except for stored hashes whose
 * index is a multiple of `gap` (0: none): proofs must come out the same
 * whichever path answers them, and fall back to `readHashes` where the
 * synchronous read has nothing.
 */
class NowReader extends CopyingReader {
  nowReads = 0;
  constructor(readonly gap: number) {
    super();
  }
  readHashNow(index: number): Uint8Array | undefined {
    const h = log.stored[index];
    if (h === undefined || (this.gap > 0 && index % this.gap === 0)) return undefined;
    this.nowReads++;
    return h.slice();
  }
}

type Query =
  | { kind: 'inclusion'; index: number; size: number }
  | { kind: 'consistency'; size1: number; size2: number }
  | { kind: 'root'; size: number };

const query: fc.Arbitrary<Query> = fc.oneof(
  fc.integer({ min: 1, max: MAX }).chain((size) =>
    fc.record({
      kind: fc.constant('inclusion' as const),
      index: fc.nat(size - 1),
      size: fc.constant(size),
    }),
  ),
  fc
    .tuple(fc.integer({ min: 1, max: MAX }), fc.integer({ min: 1, max: MAX }))
    .map(([a, b]) => ({ kind: 'consistency' as const, size1: Math.min(a, b), size2: Math.max(a, b) })),
  fc.record({ kind: fc.constant('root' as const), size: fc.integer({ min: 1, max: MAX }) }),
);

async function answer(q: Query, reader: HashReader, cache?: SubtreeCache): Promise<Uint8Array[]> {
  if (q.kind === 'inclusion') return proveInclusion(hasher, reader, q.index, q.size, cache);
  if (q.kind === 'consistency') return proveConsistency(hasher, reader, q.size1, q.size2, cache);
  return [await treeHash(hasher, reader, q.size, cache)];
}

describe('SubtreeCache (proof hashes kept in memory)', () => {
  it('proofs and roots with a shared cache equal those without, at any cache level, for any query order', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.integer({ min: 0, max: 8 }),
        fc.array(query, { minLength: 1, maxLength: 40 }),
        fc.option(fc.integer({ min: 0, max: 40 })),
        async (level, qs, gap) => {
          const cache = new SubtreeCache(level);
          const reader = gap === null ? new CopyingReader() : new NowReader(gap);
          for (const q of qs) {
            const want = (await answer(q, log)).map(toHex);
            const got = await answer(q, reader, cache);
            expect(got.map(toHex)).toEqual(want);
            // The caller owns what it gets: scribbling on it must not reach the next answer.
            for (const h of got) h.fill(0xee);
            expect((await answer(q, reader, cache)).map(toHex)).toEqual(want);
          }
        },
      ),
      { numRuns: 60 },
    );
  });

  it('a warm cache answers an inclusion proof with at most 2^minLevel-block reads', async () => {
    const cache = new SubtreeCache(4);
    const cold = new CopyingReader();
    for (let i = 0; i < MAX; i += 7) await proveInclusion(hasher, cold, i, MAX, cache);
    const warm = new CopyingReader();
    for (let i = 3; i < MAX; i += 7) await proveInclusion(hasher, warm, i, MAX, cache);
    const proofs = Math.ceil((MAX - 3) / 7);
    // Only the levels below 4 (at most 4 siblings) are read once the upper levels and right edges are in.
    expect(warm.reads).toBeLessThanOrEqual(4 * proofs);
    expect(cold.reads).toBeGreaterThan(warm.reads);
    expect(cache.bytes).toBeGreaterThan(0);
  });

  it('a warm cache and a reader that answers at once make inclusion proofs without readHashes', async () => {
    const cache = new SubtreeCache(4);
    const reader = new NowReader(0);
    for (let i = 0; i < MAX; i += 5) await proveInclusion(hasher, reader, i, MAX, cache);
    const before = reader.reads;
    for (let i = 2; i < MAX; i += 5) {
      const got = await proveInclusion(hasher, reader, i, MAX, cache);
      expect(got.map(toHex)).toEqual((await proveInclusion(hasher, log, i, MAX)).map(toHex));
    }
    expect(reader.reads).toBe(before);
    expect(reader.nowReads).toBeGreaterThan(0);
  });
});
