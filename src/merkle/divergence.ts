/**
 * Where two Merkle trees first disagree, and a HashReader over C2SP tlog-tiles.
 *
 * Two signed checkpoints of different sizes contradict each other when the
 * smaller tree is not a prefix of the larger (RFC 9162 §2.1.4). A failing
 * consistency proof does not show that on its own (whoever served the proof
 * may have changed it), but two inclusion proofs do: leaf i of the smaller
 * tree under its signed root, and a different leaf i of the larger tree under
 * its signed root. `whereTreesDiffer` finds such an i from the stored hashes of
 * both trees in O(log n) reads. Pure: the hashes come through HashReaders.
 */

import { equalBytes } from '../crypto/bytes.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';
import type { HashReader } from './prove.js';
import { storedHashIndex, subtreesOf } from './stored.js';
import { hashFromTile, type Tile, tileForIndex, tilePath, tileWidthAt } from './tiles.js';

/**
 * Where the trees behind `a` and `b` first differ below `size` leaves:
 * undefined when their first `size` leaves are the same; else the leftmost
 * differing stored hash, followed down to the lowest one that differs. That
 * is a leaf (`level` 0, `n` its index) when both readers hold the hashes of
 * real trees; a higher node whose children agree means one reader's hash of
 * it is not the hash of its children (a changed tile). Both readers must hold
 * every complete subtree of [0, size): a tree of at least `size` leaves does.
 */
export async function whereTreesDiffer(
  a: HashReader,
  b: HashReader,
  size: number,
): Promise<{ level: number; n: number } | undefined> {
  const differs = async (level: number, n: number): Promise<boolean> => {
    const i = storedHashIndex(level, n);
    const [[x], [y]] = await Promise.all([a.readHashes([i]), b.readHashes([i])]);
    return !equalBytes(x!, y!);
  };
  for (const { level, n } of subtreesOf(0, size)) {
    if (!(await differs(level, n))) continue;
    let l = level;
    let k = n;
    while (l > 0) {
      if (await differs(l - 1, 2 * k)) k = 2 * k;
      else if (await differs(l - 1, 2 * k + 1)) k = 2 * k + 1;
      else break;
      l--;
    }
    return { level: l, n: k };
  }
  return undefined;
}

/**
 * A HashReader over the tiles of a tree of `size` leaves, fetched through
 * `fetchTile` (each tile once, at the width `size` implies: full, or the right
 * edge's partial). Tile bytes of the wrong length are E_DECODE naming the path.
 * It reads what is served: checking the hashes against a signed root is the
 * caller's (a proof made from them must verify).
 */
export function tileHashReader(
  hasher: TreeHasher,
  size: number,
  fetchTile: (tile: Tile, path: string) => Promise<Uint8Array>,
): HashReader {
  const tiles = new Map<string, Promise<Uint8Array>>();
  const read = async (index: number): Promise<Uint8Array> => {
    const { tile } = tileForIndex(index);
    const width = tileWidthAt(tile.level, tile.n, size);
    if (width < tile.width)
      fail(ErrorCode.INVALID_ARGUMENT, `stored hash ${index} is not in a tree of ${size} leaves`);
    const t = { level: tile.level, n: tile.n, width };
    const path = tilePath(t);
    let data = tiles.get(path);
    if (data === undefined) {
      data = fetchTile(t, path);
      tiles.set(path, data);
      data.catch(() => tiles.delete(path));
    }
    return hashFromTile(hasher, t, await data, index);
  };
  return { readHashes: (indexes) => Promise.all(indexes.map(read)) };
}
