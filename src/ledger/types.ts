/** The shapes the ledger takes and returns: options, receipts, heads, proof bundles. */

import type { MemberSpec, PolicyParams } from '../policy/genesis.js';
import type { SequencerOptions } from '../sequencer/sequencer.js';

export type { BatchReceipt, MemberSigner, Receipt } from '../directory/submitter.js';
export type { Attribution, ConsistencyBundle, Head, InclusionBundle } from '../reader/types.js';
export type { AppendManyOptions, BlockOptions, SequencerOptions } from '../sequencer/sequencer.js';

/** Options of `openLedger` (and `createLedger`): the sequencer's, and its key. */
export interface LedgerOptions extends SequencerOptions {
  /** The sequencer's signer key (`PRIVATE+KEY+...`). Without it the ledger is read-only. */
  sequencerKey?: string;
}

export interface CreateLedgerOptions extends LedgerOptions {
  /** The log's name, e.g. `dirchain.example.gov/city`; also the checkpoint key name. */
  origin: string;
  sequencerKey: string;
  /** Initial members; at least one admin. The sequencer member is added for you. */
  members: MemberSpec[];
  policy?: Partial<PolicyParams>;
  /** Member id of the sequencer (default `sequencer`). */
  sequencerId?: string;
  /**
   * An existing genesis record (its exact bytes) to start from instead of
   * making one from `members` and `policy`: a second ledger with the same
   * genesis replays the same records to the same state.
   */
  genesisRecord?: Uint8Array;
}
