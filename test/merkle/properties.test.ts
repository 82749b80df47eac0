import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkConsistency, checkInclusion } from '../../src/merkle/check.js';
import { inclusionRanges, proveConsistency, proveInclusion, treeHash } from '../../src/merkle/prove.js';
import { Frontier, storedHashCount, storedHashIndex, subtreesOf } from '../../src/merkle/stored.js';
import { flipBit, nodeHasher as hasher, leafData, MemoryLog } from '../helpers.js';

// One log of 2000 leaves serves every property: a prefix of it is the tree of any smaller size.
const MAX = 2000;
const log = new MemoryLog(hasher);
for (let i = 0; i < MAX; i++) log.append(leafData(i));

/** Reference MTH straight from RFC 9162 §2.1.1's recursive definition. */
function mth(lo: number, hi: number): Uint8Array {
  if (hi - lo === 1) return hasher.leaf(leafData(lo));
  let k = 1;
  while (k * 2 < hi - lo) k *= 2;
  return hasher.node(mth(lo, lo + k), mth(lo + k, hi));
}

const sizeAndIndex = fc
  .integer({ min: 1, max: MAX })
  .chain((size) => fc.tuple(fc.constant(size), fc.nat(size - 1)));
const twoSizes = fc
  .tuple(fc.integer({ min: 1, max: MAX }), fc.integer({ min: 1, max: MAX }))
  .map(([a, b]) => [Math.min(a, b), Math.max(a, b)] as const);

describe('stored-hash layout', () => {
  it('stores each leaf and completed node exactly where storedHashIndex says', () => {
    fc.assert(
      fc.property(fc.integer({ min: 1, max: MAX }), (size) => {
        expect(storedHashCount(size)).toBe(size === MAX ? log.stored.length : storedHashCount(size));
        for (const s of subtreesOf(0, size)) {
          const lo = s.n * 2 ** s.level;
          expect(log.stored[storedHashIndex(s.level, s.n)]).toEqual(mth(lo, lo + 2 ** s.level));
        }
      }),
      { numRuns: 200 },
    );
    expect(storedHashCount(MAX)).toBe(log.stored.length);
  });

  it('the frontier root equals MTH for every size, and survives a rebuild from stored hashes', async () => {
    const f = new Frontier(hasher);
    const sink: Uint8Array[] = [];
    for (let size = 1; size <= 300; size++) {
      f.append(hasher.leaf(leafData(size - 1)), sink);
      expect(f.root()).toEqual(mth(0, size));
      const rebuilt = new Frontier(
        hasher,
        size,
        await log.readHashes(subtreesOf(0, size).map((s) => storedHashIndex(s.level, s.n))),
      );
      expect(rebuilt.root()).toEqual(f.root());
    }
    expect(sink).toEqual(log.stored.slice(0, storedHashCount(300)));
  });

  it('a proof at size 1M needs O(log n) hash reads (at most 2·log2 n)', () => {
    for (const index of [0, 1, 777_777, 999_999]) {
      const reads = inclusionRanges(index, 1_000_000).flatMap(([lo, hi]) => subtreesOf(lo, hi)).length;
      expect(reads).toBeLessThanOrEqual(40);
    }
  });
});

describe('inclusion proofs (fast-check, sizes 1..2000)', () => {
  it('every proof verifies and matches the recursive definition', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, async ([size, index]) => {
        const proof = await proveInclusion(hasher, log, index, size);
        const root = await treeHash(hasher, log, size);
        expect(root).toEqual(mth(0, size));
        expect(checkInclusion(hasher, index, size, hasher.leaf(leafData(index)), proof, root)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('flipping any bit of the leaf, a proof hash or the root is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, fc.nat(), fc.nat(2), async ([size, index], bit, target) => {
        const proof = await proveInclusion(hasher, log, index, size);
        const root = await treeHash(hasher, log, size);
        let leaf = hasher.leaf(leafData(index));
        let badRoot = root;
        const badProof = proof.slice();
        if (target === 0 || proof.length === 0) leaf = hasher.leaf(flipBit(leafData(index), bit));
        else if (target === 1) {
          const k = bit % proof.length;
          badProof[k] = flipBit(proof[k]!, bit);
        } else badRoot = flipBit(root, bit);
        expect(checkInclusion(hasher, index, size, leaf, badProof, badRoot)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a proof does not pass for another index, or with hashes added or removed', async () => {
    await fc.assert(
      fc.asyncProperty(sizeAndIndex, fc.nat(), async ([size, index], other) => {
        const proof = await proveInclusion(hasher, log, index, size);
        const root = await treeHash(hasher, log, size);
        const leaf = hasher.leaf(leafData(index));
        const wrong = (index + 1 + (other % Math.max(1, size - 1))) % size;
        if (wrong !== index) expect(checkInclusion(hasher, wrong, size, leaf, proof, root)).toBe(false);
        expect(checkInclusion(hasher, index, size, leaf, [...proof, root], root)).toBe(false);
        if (proof.length > 0)
          expect(checkInclusion(hasher, index, size, leaf, proof.slice(1), root)).toBe(false);
      }),
      { numRuns: 200 },
    );
  });
});

describe('consistency proofs (fast-check, sizes 1..2000)', () => {
  it('every proof verifies', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, async ([size1, size2]) => {
        const proof = await proveConsistency(hasher, log, size1, size2);
        const r1 = await treeHash(hasher, log, size1);
        const r2 = await treeHash(hasher, log, size2);
        expect(checkConsistency(hasher, size1, size2, r1, r2, proof)).toBe(true);
      }),
      { numRuns: 300 },
    );
  });

  it('flipping any bit of a proof hash or either root is rejected', async () => {
    await fc.assert(
      fc.asyncProperty(twoSizes, fc.nat(), fc.nat(2), async ([size1, size2], bit, target) => {
        const proof = await proveConsistency(hasher, log, size1, size2);
        let r1 = await treeHash(hasher, log, size1);
        let r2 = await treeHash(hasher, log, size2);
        const bad = proof.slice();
        if (target === 0 && proof.length > 0) {
          const k = bit % proof.length;
          bad[k] = flipBit(proof[k]!, bit);
        } else if (target === 1) r1 = flipBit(r1, bit);
        else r2 = flipBit(r2, bit);
        expect(checkConsistency(hasher, size1, size2, r1, r2, bad)).toBe(false);
      }),
      { numRuns: 300 },
    );
  });

  it('a tree that is not an extension is rejected', async () => {
    // Same sizes, but the second tree differs in one early leaf.
    const other = new MemoryLog(hasher);
    for (let i = 0; i < 64; i++) other.append(leafData(i === 3 ? 9999 : i));
    for (let size2 = 5; size2 <= 64; size2++) {
      const proof = await proveConsistency(hasher, other, 4, size2);
      expect(
        checkConsistency(
          hasher,
          4,
          size2,
          await treeHash(hasher, log, 4),
          await treeHash(hasher, other, size2),
          proof,
        ),
      ).toBe(false);
    }
  });
});
