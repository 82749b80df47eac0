export { HASH_SIZE, type TreeHasher, treeHasher } from '../crypto/tree-hasher.js';
export { checkConsistency, checkInclusion, rootFromInclusionProof } from './check.js';
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
