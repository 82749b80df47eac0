/** The chain as node-side code runs it: node's SHA-256 and Ed25519, tree levels hashed four pairs at a time. */
import { verifyNode } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { nodeHashesInto } from '../crypto/sha256x4.js';
import { Frontier } from '../merkle/stored.js';
import type { LedgerParams } from '../policy/genesis.js';
import { Chain, type ChainTip } from './chain.js';
import type { State } from './state.js';

/** Before genesis: no block yet. */
const BEFORE_GENESIS: ChainTip = { height: -1, entry: undefined, time: 0 };

/** A chain over `state`, continuing from `tip` with the tree's `frontier` (default: an empty ledger). */
export function nodeChain(
  params: LedgerParams,
  state: State,
  frontier: Frontier = new Frontier(nodeTreeHasher),
  tip: ChainTip = BEFORE_GENESIS,
): Chain {
  return new Chain({
    params,
    state,
    frontier,
    tip,
    hasher: nodeTreeHasher,
    verify: verifyNode,
    pairs: nodeHashesInto,
  });
}
