/**
 * Reads checked against the stored Merkle tree (the one the open checked
 * against the last signed root) before they leave the process: entries,
 * entry bundles and hash tiles whose leaf or node hashes fold to the stored
 * hashes of the subtrees they span. What is served is never silently wrong
 * bytes: damage is E_LEDGER_CORRUPT, naming the entry where it is.
 */
import { equalBytes } from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';
import { foldNodes, TILE_HEIGHT, TILE_WIDTH, tileHashIndexes, tileSubtrees } from '../merkle/tiles.js';
import { BUNDLE_WIDTH, readBundle } from './bundles.js';

const HASH = 32;

/** The unchecked reads the checks are made of (a `LedgerStore`'s). */
export interface StoredTree {
  getEntry(index: number): Uint8Array | undefined;
  entryBundle(n: number, width: number): Uint8Array | undefined;
  readHashNow(index: number): Uint8Array | undefined;
  readHashesSync(indexes: readonly number[]): Uint8Array[];
}

/** The entry at `index`, checked against its stored leaf hash; undefined if it is not stored. */
export function checkedEntry(tree: StoredTree, index: number): Uint8Array | undefined {
  const entry = tree.getEntry(index);
  if (entry === undefined) return undefined;
  checkNodes(tree, 0, index, nodeTreeHasher.leaf(entry), 1, 0, `entry ${index}`, 0);
  return entry;
}

/**
 * Entry bundle `n` (first `width` entries) in C2SP form, checked against
 * the stored tree before it is served: its entries' leaf hashes fold to the
 * stored hashes of the subtrees they span.
 */
export function checkedEntryBundle(tree: StoredTree, n: number, width: number): Uint8Array | undefined {
  const body = tree.entryBundle(n, width);
  if (body === undefined) return undefined;
  const entries = readBundle(body, width);
  const leaves = new Uint8Array(width * HASH);
  if (entries.length !== width) fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${n} does not decode`);
  for (let i = 0; i < width; i++) leaves.set(nodeTreeHasher.leaf(entries[i]!), i * HASH);
  checkNodes(tree, 0, n * BUNDLE_WIDTH, leaves, width, 0, `entry bundle ${n}`, 0);
  return body;
}

/**
 * Hash tile `level`/`n` of `width` hashes (tile height 8), checked against
 * the stored hashes of the subtrees it spans (the next level's, for a full tile).
 */
export function checkedHashTile(tree: StoredTree, level: number, n: number, width: number): Uint8Array {
  const tile = { level, n, width };
  const hashes = tree.readHashesSync(tileHashIndexes(tile));
  const data = new Uint8Array(width * HASH);
  for (let i = 0; i < width; i++) data.set(hashes[i]!, i * HASH);
  checkNodes(tree, TILE_HEIGHT * level, n * TILE_WIDTH, data, width, 1, `hash tile ${level}/${n}`, level);
  return data;
}

/**
 * Checks `width` nodes of tree `level` from node `first` (32 bytes each) by
 * folding the complete subtrees they form and comparing each root with the
 * stored one (`tileSubtrees`). `tileLevel` scales a node number to a leaf
 * index for the error.
 */
function checkNodes(
  tree: StoredTree,
  level: number,
  first: number,
  nodes: Uint8Array,
  width: number,
  minHeight: number,
  what: string,
  tileLevel: number,
): void {
  for (const s of tileSubtrees(level, first, width, minHeight)) {
    const stored = tree.readHashNow(s.index);
    if (stored === undefined || !equalBytes(stored, foldNodes(nodeTreeHasher, nodes, s.from, s.to))) {
      const index = (first + s.from) * 2 ** (TILE_HEIGHT * tileLevel);
      fail(ErrorCode.LEDGER_CORRUPT, `${what} does not match the stored Merkle tree (at entry ${index})`, {
        index,
        hint: 'the folder was damaged on disk: audit it, and restore it from a replica or a backup',
      });
    }
  }
}
