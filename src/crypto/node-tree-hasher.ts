/**
 * The tree hasher of node-side code (sequencer, proofs, audit): leaves by
 * node's SHA-256 (OpenSSL is fastest for ~300-byte entries), interior nodes
 * by the unrolled plain-JS node hash (faster per call than OpenSSL's for 65
 * bytes, measured in node-hash.ts). Same RFC 9162 hashes either way; the
 * verify entry keeps noble for both.
 */
import { sha256Node } from './node-crypto.js';
import { nodeHash } from './node-hash.js';
import { treeHasher } from './tree-hasher.js';

export const nodeTreeHasher = treeHasher(sha256Node, nodeHash);
