/**
 * Proof verification exactly as RFC 9162 §2.1.3.2 (inclusion) and §2.1.4.2
 * (consistency) specify, so proofs interoperate with every other RFC 9162 log.
 * Pure; returns booleans, never throws on bad proofs.
 */
import { checkBytes, checkObject, equalBytes } from '../crypto/bytes.js';
import { HASH_SIZE, type TreeHasher } from '../crypto/tree-hasher.js';

const isHash = (h: Uint8Array): boolean => h instanceof Uint8Array && h.length === HASH_SIZE;
const half = (x: number): number => Math.floor(x / 2);
const isOdd = (x: number): boolean => x % 2 === 1;
const isCount = (x: number): boolean => Number.isSafeInteger(x) && x >= 0;

/** The root an inclusion proof leads to, or undefined when the proof has the wrong shape. */
export function rootFromInclusionProof(
  hasher: TreeHasher,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
): Uint8Array | undefined {
  if (!isCount(index) || !isCount(size) || index >= size || !isHash(leafHash)) return undefined;
  let fn = index;
  let sn = size - 1;
  let r = leafHash;
  for (const p of proof) {
    if (!isHash(p) || sn === 0) return undefined;
    if (isOdd(fn) || fn === sn) {
      r = hasher.node(p, r);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      r = hasher.node(r, p);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 ? r : undefined;
}

/** RFC 9162 §2.1.3.2: does `proof` show leaf `leafHash` at `index` in the tree of `size` with `root`? */
export function checkInclusion(
  hasher: TreeHasher,
  index: number,
  size: number,
  leafHash: Uint8Array,
  proof: readonly Uint8Array[],
  root: Uint8Array,
): boolean {
  const r = rootFromInclusionProof(hasher, index, size, leafHash, proof);
  return r !== undefined && isHash(root) && equalBytes(r, root);
}

/** RFC 9162 §2.1.4.2: does `proof` show the tree (`size1`, `root1`) is a prefix of (`size2`, `root2`)? */
export function checkConsistency(
  hasher: TreeHasher,
  size1: number,
  size2: number,
  root1: Uint8Array,
  root2: Uint8Array,
  proof: readonly Uint8Array[],
): boolean {
  if (!isCount(size1) || !isCount(size2) || size1 > size2 || !isHash(root1) || !isHash(root2)) return false;
  // A loop, not `every`: `every` skips the holes of a sparse array.
  for (let i = 0; i < proof.length; i++) if (!isHash(proof[i]!)) return false;
  if (size1 === size2) return proof.length === 0 && equalBytes(root1, root2);
  // Every tree extends the empty tree; there is nothing to prove.
  if (size1 === 0) return proof.length === 0 && equalBytes(root1, hasher.emptyRoot);
  if (proof.length === 0) return false;
  // If size1 is an exact power of two, the old root is the first node of the path.
  const path = isPowerOfTwo(size1) ? [root1, ...proof] : proof;
  let fn = size1 - 1;
  let sn = size2 - 1;
  while (isOdd(fn)) {
    fn = half(fn);
    sn = half(sn);
  }
  let fr = path[0]!;
  let sr = path[0]!;
  for (let i = 1; i < path.length; i++) {
    const c = path[i]!;
    if (sn === 0) return false;
    if (isOdd(fn) || fn === sn) {
      fr = hasher.node(c, fr);
      sr = hasher.node(c, sr);
      if (!isOdd(fn)) {
        while (!isOdd(fn) && fn !== 0) {
          fn = half(fn);
          sn = half(sn);
        }
      }
    } else {
      sr = hasher.node(sr, c);
    }
    fn = half(fn);
    sn = half(sn);
  }
  return sn === 0 && equalBytes(fr, root1) && equalBytes(sr, root2);
}

function isPowerOfTwo(x: number): boolean {
  if (x < 1) return false;
  while (x % 2 === 0) x /= 2;
  return x === 1;
}

/** What `verifyInclusion` takes: the entry or its leaf hash, the proof, and the root it should lead to. */
export interface InclusionClaim {
  index: number;
  size: number;
  leaf?: Uint8Array;
  leafHash?: Uint8Array;
  proof: readonly Uint8Array[];
  root: Uint8Array;
}

/** What `verifyConsistency` takes. */
export interface ConsistencyClaim {
  size1: number;
  size2: number;
  root1: Uint8Array;
  root2: Uint8Array;
  proof: readonly Uint8Array[];
}

/**
 * The public proof checks over one tree hasher: `dirchain/verify` builds them
 * on noble, the main entry on node's hashing. Same answers, different speed.
 * A claim whose fields have the wrong types is false; an argument that is not
 * bytes (`leafHash`) or not an object (the claims) is E_INVALID_ARGUMENT.
 */
export function proofChecks(hasher: TreeHasher): {
  leafHash: (entry: Uint8Array) => Uint8Array;
  verifyInclusion: (p: InclusionClaim) => boolean;
  verifyConsistency: (p: ConsistencyClaim) => boolean;
} {
  return {
    leafHash: (entry) => {
      checkBytes(entry, 'entry');
      return hasher.leaf(entry);
    },
    verifyInclusion: (p) => {
      checkObject(p, 'inclusion claim');
      const h = p.leafHash ?? (p.leaf instanceof Uint8Array ? hasher.leaf(p.leaf) : undefined);
      return (
        h instanceof Uint8Array &&
        Array.isArray(p.proof) &&
        checkInclusion(hasher, p.index, p.size, h, p.proof, p.root)
      );
    },
    verifyConsistency: (p) => {
      checkObject(p, 'consistency claim');
      return Array.isArray(p.proof) && checkConsistency(hasher, p.size1, p.size2, p.root1, p.root2, p.proof);
    },
  };
}
