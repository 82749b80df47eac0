/**
 * RFC 9162 §2.1.1 MTH and §2.1.3.1 PATH over leaf hashes held in memory: the
 * small tree an author builds over the events of one batch, whose root the
 * author signs. Verification of such a path is the ordinary inclusion check.
 */
import type { TreeHasher } from '../crypto/tree-hasher.js';

function split(n: number): number {
  let k = 1;
  while (k * 2 < n) k *= 2;
  return k;
}

/** MTH of the given leaf hashes (the empty tree's root when there are none). */
export function memoryRoot(hasher: TreeHasher, leaves: readonly Uint8Array[]): Uint8Array {
  if (leaves.length === 0) return hasher.emptyRoot;
  // Bottom-up, pairing left to right and carrying an odd last node up unchanged:
  // the same shape as RFC 9162's recursive split at the largest power of two.
  let level: Uint8Array[] = leaves.slice();
  while (level.length > 1) {
    const next: Uint8Array[] = [];
    for (let i = 0; i + 1 < level.length; i += 2) next.push(hasher.node(level[i]!, level[i + 1]!));
    if (level.length % 2 === 1) next.push(level[level.length - 1]!);
    level = next;
  }
  return level[0]!;
}

/** PATH(index, leaves): the inclusion proof of leaf `index`, leaf side first. */
export function memoryPath(hasher: TreeHasher, leaves: readonly Uint8Array[], index: number): Uint8Array[] {
  const out: Uint8Array[] = [];
  let lo = 0;
  let hi = leaves.length;
  while (hi - lo > 1) {
    const k = split(hi - lo);
    if (index < lo + k) {
      out.push(memoryRoot(hasher, leaves.slice(lo + k, hi)));
      hi = lo + k;
    } else {
      out.push(memoryRoot(hasher, leaves.slice(lo, lo + k)));
      lo += k;
    }
  }
  return out.reverse();
}
