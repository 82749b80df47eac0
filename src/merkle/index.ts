export { checkConsistency, checkInclusion, rootFromInclusionProof } from './check.js';
export { HASH_SIZE, type TreeHasher, treeHasher } from './hasher.js';
export {
  consistencyRanges,
  type HashReader,
  inclusionRanges,
  proveConsistency,
  proveInclusion,
  rangeHashes,
  treeHash,
} from './prove.js';
export {
  Frontier,
  foldSubtrees,
  HashSink,
  type Subtree,
  storedHashCount,
  storedHashIndex,
  subtreesOf,
} from './stored.js';
