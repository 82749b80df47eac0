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
import { ErrorCode, fail } from '../errors.js';
import type { TreeHasher } from './hasher.js';
import { nodeHashInto } from './node-hash.js';

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
   * The same for the sequencer's hot path: the leaf hash is read from
   * `leaves` at `at`, the stored hashes go into `sink`, and parents are hashed
   * by nodeHashInto (plain SHA-256, whatever this frontier's hasher), with no
   * allocation per hash.
   */
  appendTo(leaves: Uint8Array, at: number, sink: HashSink): void {
    let h = sink.reserve();
    sink.bytes.set(leaves.subarray(at, at + 32), h);
    for (let n = this.#size; n % 2 === 1; n = Math.floor(n / 2)) {
      this.#depth--;
      const parent = sink.reserve();
      nodeHashInto(this.#stack, 32 * this.#depth, sink.bytes, h, sink.bytes, parent);
      h = parent;
    }
    this.#stack.set(sink.bytes.subarray(h, h + 32), 32 * this.#depth);
    this.#depth++;
    this.#size++;
  }

  root(): Uint8Array {
    const subtrees: Uint8Array[] = [];
    // Copies: the stack changes with the next append.
    for (let i = 0; i < this.#depth; i++) subtrees.push(this.#stack.slice(32 * i, 32 * i + 32));
    return foldSubtrees(this.#hasher, subtrees);
  }
}
