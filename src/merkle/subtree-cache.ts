/**
 * Hashes that proofs keep asking for, kept in memory so a proof costs about
 * one storage read instead of twenty.
 *
 * - Complete subtrees of level ≥ `minLevel`: every proof needs one per level
 *   above the leaf's own 2^minLevel block, and there are only n / 2^minLevel
 *   of them, so after a warm-up all of them are here. Kept flat, 32 bytes a
 *   slot plus one presence byte, in one growable array per level: with the
 *   default level 6 that is ~0.5 byte per leaf (5 MB at 10M leaves), filled
 *   only as proofs read them.
 * - The folded hash of a range that is not one complete subtree: these are
 *   the right edges of the trees proofs are asked against (at most ~log2 n
 *   per tree size, and every such range ends at a tree size), each otherwise
 *   several reads and hashes per proof. Kept per tree size, for the most
 *   recently added sizes.
 *
 * Safe because a complete subtree's hash, and the hash of any leaf range
 * below the tree size, never changes in an append-only log.
 */

import { copyHash } from '../crypto/tree-hasher.js';

/** Tree sizes whose right-edge ranges are kept. */
const SIZES_KEPT = 64;

interface Level {
  hashes: Uint8Array;
  present: Uint8Array;
}

export class SubtreeCache {
  readonly minLevel: number;
  readonly #levels: Level[] = [];
  /** hi → lo → hash of leaves [lo, hi); Map order: the first hi is the oldest. */
  readonly #ranges = new Map<number, Map<number, Uint8Array>>();

  constructor(minLevel = 6) {
    this.minLevel = minLevel;
  }

  /** The hashes of `level` if subtree (level, n)'s is among them (at 32·n), else undefined. */
  #holding(level: number, n: number): Uint8Array | undefined {
    const l = this.#levels[level];
    return l === undefined || n >= l.present.length || l.present[n] === 0 ? undefined : l.hashes;
  }

  /** The cached hash of subtree (level, n), as a view (callers copy), or undefined. */
  subtree(level: number, n: number): Uint8Array | undefined {
    return this.#holding(level, n)?.subarray(32 * n, 32 * n + 32);
  }

  /** The cached hash of subtree (level, n) as a new array (no view in between), or undefined. */
  copySubtree(level: number, n: number): Uint8Array | undefined {
    const hashes = this.#holding(level, n);
    return hashes === undefined ? undefined : copyHash(hashes, 32 * n);
  }

  /** Keeps subtree (level, n)'s hash when its level is high enough to be worth it. */
  putSubtree(level: number, n: number, hash: Uint8Array): void {
    if (level < this.minLevel) return;
    let l = this.#levels[level];
    if (l === undefined || n >= l.present.length) {
      const slots = Math.max(64, 2 ** Math.ceil(Math.log2(n + 1)));
      const grown = { hashes: new Uint8Array(32 * slots), present: new Uint8Array(slots) };
      if (l !== undefined) {
        grown.hashes.set(l.hashes);
        grown.present.set(l.present);
      }
      this.#levels[level] = l = grown;
    }
    l.hashes.set(hash, 32 * n);
    l.present[n] = 1;
  }

  /** The cached hash of leaves [lo, hi), or undefined. */
  range(lo: number, hi: number): Uint8Array | undefined {
    return this.#ranges.get(hi)?.get(lo);
  }

  putRange(lo: number, hi: number, hash: Uint8Array): void {
    let byLo = this.#ranges.get(hi);
    if (byLo === undefined) {
      byLo = new Map();
      if (this.#ranges.size >= SIZES_KEPT) this.#ranges.delete(this.#ranges.keys().next().value!);
    } else {
      this.#ranges.delete(hi);
    }
    this.#ranges.set(hi, byLo);
    byLo.set(lo, hash);
  }

  /** Bytes of hashes and presence flags held: what the cache costs in memory. */
  get bytes(): number {
    let total = 0;
    for (const l of this.#levels) if (l !== undefined) total += l.hashes.length + l.present.length;
    for (const byLo of this.#ranges.values()) total += byLo.size * 32;
    return total;
  }
}
