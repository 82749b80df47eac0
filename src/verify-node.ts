/**
 * The main entry's proof checks: the same functions as `dirchain/verify`'s,
 * with the same argument checks (`proofChecks`), on node-side hashing (OpenSSL
 * leaves, the unrolled JS node hash), which verifies proofs ~2x faster than
 * noble here (bench figure 3). The auditor's entry keeps noble.
 */

import { nodeTreeHasher } from './crypto/node-tree-hasher.js';
import { type ConsistencyClaim, type InclusionClaim, proofChecks } from './merkle/check.js';

const checks = proofChecks(nodeTreeHasher);

/** RFC 9162 leaf hash of a log entry: SHA-256(0x00 || entry). */
export const leafHash: (entry: Uint8Array) => Uint8Array = checks.leafHash;

/**
 * True when `proof` shows the entry (or its leaf hash) at `index` in the tree of `size` with `root`.
 * A claim whose fields have the wrong types is false; a claim that is not an object is E_INVALID_ARGUMENT.
 */
export const verifyInclusion: (p: InclusionClaim) => boolean = checks.verifyInclusion;

/**
 * True when `proof` shows tree (size1, root1) is a prefix of tree (size2, root2).
 * A claim whose fields have the wrong types is false; a claim that is not an object is E_INVALID_ARGUMENT.
 */
export const verifyConsistency: (p: ConsistencyClaim) => boolean = checks.verifyConsistency;
