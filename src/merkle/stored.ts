/**
 * The stored-hash layout of Go's golang.org/x/mod/sumdb/tlog: every complete
 * subtree hash is written exactly once, at the moment its last leaf arrives,
 * in one append-only sequence. For 7 leaves the sequence is
 *
 *   index: 0   1   2    3   4   5    6     7   8   9    10  11
 *   hash:  L0  L1  N01  L2  L3  N23  N0-3  L4  L5  N45  L6  ...
 *
 * where Lk is leaf k (level 0) and Nab the level-≥1 node over leaves a..b.
 * Appending leaf n writes its leaf hash plus one node per trailing 1-bit of n,
 * so about two hashes per leaf. Any complete subtree is one read, and the hash
 * of any tree or range needs at most log2(n) reads.
 *
 * Indexes are kept below 2^53 with plain division (no 32-bit `>>`).
 */

import type { TreeHasher } from '../crypto/tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';

/** Position in the stored sequence of the level-`level` hash number `n` (Go's StoredHashIndex). */
export function storedHashIndex(level: number, n: number): number {
  // Level L's n-th hash is written right after level L-1's (2n+1)-th hash.
  for (let l = level; l > 0; l--) n = 2 * n + 1;
  // Level 0's n-th hash is written at n + n/2 + n/4 + ... .
  let i = 0;
  for (; n > 0; n = Math.floor(n / 2)) i += n;
  return i + level;
}

/** Number of stored hashes for a tree of `size` leaves (Go's StoredHashCount). */
export function storedHashCount(size: number): number {
  if (size === 0) return 0;
  let count = storedHashIndex(0, size - 1) + 1;
  for (let i = size - 1; i % 2 === 1; i = Math.floor(i / 2)) count++;
  return count;
}

/** A complete subtree: `2^level` leaves starting at leaf `n * 2^level`. */
export interface Subtree {
  readonly level: number;
  readonly n: number;
}

/**
 * Splits leaves [lo, hi) into maximal complete subtrees, left to right. For the
 * ranges that RFC 9162 proofs use (lo aligned to a power of two ≥ hi - lo),
 * folding their hashes right-to-left with `node` gives MTH(D[lo:hi]).
 */
export function subtreesOf(lo: number, hi: number): Subtree[] {
  const out: Subtree[] = [];
  while (lo < hi) {
    let level = 0;
    let width = 1;
    while (lo % (width * 2) === 0 && lo + width * 2 <= hi) {
      width *= 2;
      level++;
    }
    out.push({ level, n: lo / width });
    lo += width;
  }
  return out;
}

/** Folds subtree hashes right-to-left (RFC 9162 §2.1.1 split at the largest power of two). */
export function foldSubtrees(hasher: TreeHasher, hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return hasher.emptyRoot;
  let h = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) h = hasher.node(hashes[i]!, h);
  return h;
}

/** A growing flat buffer of 32-byte hashes: a block's stored hashes without one allocation per hash. */
export class HashSink {
  bytes: Uint8Array;
  /** Bytes in use (32 per hash). */
  length = 0;

  constructor(expectedHashes = 64) {
    this.bytes = new Uint8Array(32 * Math.max(1, expectedHashes));
  }

  get count(): number {
    return this.length / 32;
  }

  /** Room for one more hash; returns its offset (`bytes` may be a new buffer afterwards). */
  reserve(): number {
    if (this.length + 32 > this.bytes.length) {
      const grown = new Uint8Array(this.bytes.length * 2);
      grown.set(this.bytes.subarray(0, this.length));
      this.bytes = grown;
    }
    const at = this.length;
    this.length += 32;
    return at;
  }

  /** The hashes written so far, flat. */
  hashes(): Uint8Array {
    return this.bytes.subarray(0, this.length);
  }
}

/** SHA-256(0x01 ‖ left ‖ right) of `pairs` consecutive 64-byte pairs of `input` from `inAt`, to out[at..]. */
export type PairHasher = (
  input: Uint8Array,
  inAt: number,
  pairs: number,
  out: Uint8Array,
  at: number,
) => void;

/**
 * The right edge of a growing tree (a "compact range"): the hashes of its
 * maximal complete subtrees. Appending needs only this, so the writer's memory
 * is O(log n) however long the log grows.
 */
export class Frontier {
  #size: number;
  /** Subtree hashes, left to right, 32 bytes each (at most 64 of them). */
  readonly #stack = new Uint8Array(64 * 32);
  #depth: number;
  readonly #hasher: TreeHasher;

  /** `subtrees` are the hashes of `subtreesOf(0, size)`, left to right. */
  constructor(hasher: TreeHasher, size = 0, subtrees: readonly Uint8Array[] = []) {
    if (subtrees.length !== subtreesOf(0, size).length) {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `frontier of size ${size} needs ${subtreesOf(0, size).length} subtree hashes`,
      );
    }
    this.#hasher = hasher;
    this.#size = size;
    for (const [i, h] of subtrees.entries()) this.#stack.set(h, 32 * i);
    this.#depth = subtrees.length;
  }

  get size(): number {
    return this.#size;
  }

  /** An independent copy (to extend a tree tentatively). */
  clone(): Frontier {
    const subtrees: Uint8Array[] = [];
    for (let i = 0; i < this.#depth; i++) subtrees.push(this.#stack.slice(32 * i, 32 * i + 32));
    return new Frontier(this.#hasher, this.#size, subtrees);
  }

  /**
   * Adds a leaf hash; pushes onto `out` the stored hashes this append creates,
   * in stored order (the leaf, then each completed parent).
   */
  append(leafHash: Uint8Array, out: Uint8Array[]): void {
    let h = leafHash;
    out.push(h);
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) {
      this.#depth--;
      h = this.#hasher.node(this.#stack.subarray(32 * this.#depth, 32 * this.#depth + 32), h);
      out.push(h);
    }
    this.#stack.set(h, 32 * this.#depth);
    this.#depth++;
    this.#size++;
  }

  /**
   * The same with the leaf hash read from `leaves` at `at` and the stored
   * hashes written into `sink` (`appendAll` does many at once).
   */
  appendTo(leaves: Uint8Array, at: number, sink: HashSink): void {
    let h = sink.reserve();
    sink.bytes.set(leaves.subarray(at, at + 32), h);
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) {
      this.#depth--;
      const node = this.#hasher.node(
        this.#stack.subarray(32 * this.#depth, 32 * this.#depth + 32),
        sink.bytes.subarray(h, h + 32),
      );
      h = sink.reserve(); // after hashing: it may grow the buffer
      sink.bytes.set(node, h);
    }
    this.#stack.set(sink.bytes.subarray(h, h + 32), 32 * this.#depth);
    this.#depth++;
    this.#size++;
  }

  /**
   * `appendTo` for `count` leaf hashes laid out back to back in `leaves`, with
   * the same hashes in `sink` in the same order, but computed a level at a
   * time: every parent of a level is known before any is hashed, so
   * `hashPairs` (SHA-256(0x01 ‖ left ‖ right) for consecutive 64-byte pairs of
   * `input` into `out`; the sequencer's hashes four at once) gets them all in
   * one call.
   */
  appendAll(leaves: Uint8Array, count: number, sink: HashSink, hashPairs: PairHasher): void {
    if (count === 0) return;
    const start = this.#size;
    const end = start + count;
    // Sizes may pass 2^31: shifts by division, not by `>>`.
    const at = (n: number, k: number): number => Math.floor(n / 2 ** k);
    // levels[k]: the new nodes of level k, positions at(start, k) .. at(end, k) - 1.
    const levels: Uint8Array[] = [leaves.subarray(0, 32 * count)];
    for (let k = 0; ; k++) {
      const first = at(start, k);
      const parents = at(end, k + 1) - Math.floor(first / 2);
      if (parents === 0) break;
      const level = levels[k]!;
      let input = level;
      if (first % 2 === 1) {
        // The first parent's left child is the old frontier's subtree of level k.
        input = new Uint8Array(32 + level.length);
        input.set(this.#subtree(start, k), 0);
        input.set(level, 32);
      }
      const out = new Uint8Array(32 * parents);
      hashPairs(input, 0, parents, out, 0);
      levels.push(out);
    }
    // Stored order: each leaf, then the parents it completes (one per trailing 1 bit of its index).
    for (let g = start; g < end; g++) {
      let k = 0;
      for (let n = g; ; n = Math.floor(n / 2)) {
        const offset = 32 * (at(g, k) - at(start, k));
        const h = sink.reserve();
        sink.bytes.set(levels[k]!.subarray(offset, offset + 32), h);
        if (n % 2 === 0) break;
        k++;
      }
    }
    // The new frontier: one subtree per set bit of the new size, highest first;
    // a level with no new node there keeps the old frontier's.
    const next: Uint8Array[] = [];
    for (let k = 63; k >= 0; k--) {
      const position = at(end, k);
      if (position % 2 === 0) continue;
      const first = at(start, k);
      next.push(
        k < levels.length && position - 1 >= first
          ? levels[k]!.slice(32 * (position - 1 - first), 32 * (position - first))
          : this.#subtree(start, k).slice(),
      );
    }
    for (const [i, h] of next.entries()) this.#stack.set(h, 32 * i);
    this.#depth = next.length;
    this.#size = end;
  }

  /** The old frontier's subtree hash of level `k`, for a tree of `size` leaves (bit k of size set). */
  #subtree(size: number, k: number): Uint8Array {
    // Subtrees are stacked from the highest set bit down: count the set bits above k.
    let index = 0;
    for (let n = Math.floor(size / 2 ** (k + 1)); n > 0; n = Math.floor(n / 2)) index += n % 2;
    return this.#stack.subarray(32 * index, 32 * index + 32);
  }

  root(): Uint8Array {
    const subtrees: Uint8Array[] = [];
    // Copies: the stack changes with the next append.
    for (let i = 0; i < this.#depth; i++) subtrees.push(this.#stack.slice(32 * i, 32 * i + 32));
    return foldSubtrees(this.#hasher, subtrees);
  }
}

/**
 * The stored hashes of a tree of `size` leaves from stored index `start` on
 * (flat), derived from the hashes before `start` and the entries: a tree's
 * stored hashes are a function of its entries. Re-hashes the entries from the
 * last tree size whose stored hashes all lie before `start`. `hashAt` and
 * `entryAt` read them; undefined when one they need is missing (damage).
 */
export function storedHashesFrom(
  hasher: TreeHasher,
  start: number,
  size: number,
  hashAt: (index: number) => Uint8Array | undefined,
  entryAt: (index: number) => Uint8Array | undefined,
): Uint8Array | undefined {
  let from = size;
  while (from > 0 && storedHashCount(from) > start) from--;
  const subtrees: Uint8Array[] = [];
  for (const s of subtreesOf(0, from)) {
    const hash = hashAt(storedHashIndex(s.level, s.n));
    if (hash === undefined) return undefined;
    subtrees.push(hash);
  }
  const frontier = new Frontier(hasher, from, subtrees);
  const sink = new HashSink(2 * (size - from) + 8);
  for (let i = from; i < size; i++) {
    const entry = entryAt(i);
    if (entry === undefined) return undefined;
    frontier.appendTo(hasher.leaf(entry), 0, sink);
  }
  return sink.hashes().slice(32 * (start - storedHashCount(from)));
}
