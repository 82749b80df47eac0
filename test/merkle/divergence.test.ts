/**
 * Where two trees part (merkle/divergence.ts): the first differing leaf of two
 * histories that share a prefix, found in O(log n) reads, and a HashReader
 * over tlog-tiles that gives the same proofs as the stored hashes. A changed
 * tile is never mistaken for a fork: either the search stops at a node whose
 * halves agree, or the leaf it finds has no inclusion proof under the root.
 */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { checkInclusion } from '../../src/merkle/check.js';
import { tileHashReader, whereTreesDiffer } from '../../src/merkle/divergence.js';
import { type HashReader, proveConsistency, proveInclusion, treeHash } from '../../src/merkle/prove.js';
import { storedHashIndex } from '../../src/merkle/stored.js';
import { TILE_HEIGHT, TILE_WIDTH, type Tile } from '../../src/merkle/tiles.js';
import { nodeHasher as hasher, leafData, MemoryLog } from '../helpers.js';

const MAX = 1500;
const a = new MemoryLog(hasher);
for (let i = 0; i < MAX; i++) a.append(leafData(i));

/** History b: a's leaves before `part`, other leaves from there. */
function partedAt(part: number): MemoryLog {
  const b = new MemoryLog(hasher);
  for (let i = 0; i < MAX; i++) b.append(i < part ? leafData(i) : leafData(i + 1_000_000));
  return b;
}

/** The tiles of `log`'s tree of `size` leaves, as a tlog-tiles server would serve them; counts fetches. */
function tilesOf(log: MemoryLog, size: number, change?: (t: Tile, data: Uint8Array) => void) {
  const fetched: string[] = [];
  const reader = tileHashReader(hasher, size, async (t, path) => {
    fetched.push(path);
    const level = TILE_HEIGHT * t.level;
    const indexes = Array.from({ length: t.width }, (_, i) => storedHashIndex(level, t.n * TILE_WIDTH + i));
    const data = new Uint8Array(t.width * 32);
    for (const [i, h] of (await log.readHashes(indexes)).entries()) data.set(h, i * 32);
    change?.(t, data);
    return data;
  });
  return { reader, fetched };
}

const sizes = fc
  .tuple(fc.integer({ min: 1, max: MAX }), fc.integer({ min: 1, max: MAX }))
  .map(([x, y]) => [Math.min(x, y), Math.max(x, y)] as const);

describe('whereTreesDiffer', () => {
  it('finds the first leaf two histories disagree on, or none when one is a prefix of the other', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, fc.integer({ min: 0, max: MAX }), async ([m, n], part) => {
        const b = partedAt(part);
        const at = await whereTreesDiffer(a, b, m);
        if (part >= m) {
          expect(at).toBeUndefined();
          return;
        }
        expect(at).toEqual({ level: 0, n: part });
        // Each tree proves its own leaf there under its own root: fork evidence.
        const [la] = await a.readHashes([storedHashIndex(0, part)]);
        const [lb] = await b.readHashes([storedHashIndex(0, part)]);
        const ra = await treeHash(hasher, a, m);
        const rb = await treeHash(hasher, b, n);
        expect(checkInclusion(hasher, part, m, la!, await proveInclusion(hasher, a, part, m), ra)).toBe(true);
        expect(checkInclusion(hasher, part, n, lb!, await proveInclusion(hasher, b, part, n), rb)).toBe(true);
        expect(checkInclusion(hasher, part, n, la!, await proveInclusion(hasher, b, part, n), rb)).toBe(
          false,
        );
      }),
      { numRuns: 150 },
    );
  });

  it('reads O(log n) hashes', async () => {
    let reads = 0;
    const counting: HashReader = {
      readHashes: (ix) => {
        reads += ix.length;
        return a.readHashes(ix);
      },
    };
    await whereTreesDiffer(counting, partedAt(777), MAX);
    expect(reads).toBeLessThanOrEqual(4 * Math.ceil(Math.log2(MAX)));
  });
});

describe('tileHashReader', () => {
  it('gives the proofs the stored hashes give, fetching each tile once at the width the size implies', async () => {
    await fc.assert(
      fc.asyncProperty(sizes, async ([m, n]) => {
        const { reader, fetched } = tilesOf(a, n);
        expect(await proveConsistency(hasher, reader, m, n)).toEqual(await proveConsistency(hasher, a, m, n));
        for (const i of [0, m - 1, n - 1])
          expect(await proveInclusion(hasher, reader, i, n)).toEqual(await proveInclusion(hasher, a, i, n));
        expect(new Set(fetched).size).toBe(fetched.length);
        for (const p of fetched) {
          const level = Number(p.split('/')[1]);
          const full = Math.floor(n / 2 ** (TILE_HEIGHT * level) / TILE_WIDTH);
          const nth = Number(p.split('/')[2]!.replace('.p', ''));
          expect(p.includes('.p/'), `${p} at size ${n}`).toBe(nth >= full);
        }
      }),
      { numRuns: 100 },
    );
  });

  it('a changed tile is not taken for a fork: the search stops at it, or its leaf has no proof under the root', async () => {
    // A changed leaf under a complete 256-leaf subtree is not read at all (tile 1/… gives that subtree's hash): undefined.
    const seen = { none: 0, node: 0, leaf: 0 };
    await fc.assert(
      fc.asyncProperty(
        sizes.filter(([m]) => m > 1),
        fc.nat(),
        fc.nat(255),
        async ([m, n], where, bit) => {
          const hash = where % m;
          const level = hash < Math.floor(m / TILE_WIDTH) * TILE_WIDTH && where % 3 === 0 ? 1 : 0;
          const target = level === 0 ? hash : Math.floor(hash / TILE_WIDTH);
          const { reader } = tilesOf(a, n, (t, data) => {
            if (t.level !== level || t.n !== Math.floor(target / TILE_WIDTH)) return;
            const at = (target % TILE_WIDTH) * 32 + (bit % 32);
            data[at] = data[at]! ^ (1 << (bit % 8));
          });
          const at = await whereTreesDiffer(a, reader, m);
          if (at === undefined) {
            seen.none++;
            expect(level === 0 && hash < Math.floor(m / TILE_WIDTH) * TILE_WIDTH).toBe(true);
            return;
          }
          if (at.level > 0) {
            seen.node++;
            return;
          }
          seen.leaf++;
          const [leaf] = await reader.readHashes([storedHashIndex(0, at.n)]);
          const proof = await proveInclusion(hasher, reader, at.n, n);
          expect(checkInclusion(hasher, at.n, n, leaf!, proof, await treeHash(hasher, a, n))).toBe(false);
        },
      ),
      { numRuns: 150 },
    );
    expect(seen.node).toBeGreaterThan(0);
    expect(seen.leaf).toBeGreaterThan(0);
  });
});
