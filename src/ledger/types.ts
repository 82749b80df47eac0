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

interface CreateLedgerBase extends LedgerOptions {
  /** The log's name, e.g. `dirchain.example.gov/city`; also the checkpoint key name. */
  origin: string;
  sequencerKey: string;
}

/** A new ledger whose genesis record is made here, from `members` and `policy`. */
export interface CreateLedgerFromMembers extends CreateLedgerBase {
  /** Initial members; at least one admin. The sequencer member is added for you. */
  members: MemberSpec[];
  policy?: Partial<PolicyParams>;
  /** Member id of the sequencer (default `sequencer`). */
  sequencerId?: string;
  genesisRecord?: undefined;
}

/**
 * A new ledger that starts from an existing genesis record (its exact bytes):
 * a second ledger with the same genesis replays the same records to the same
 * state. Members, policy and sequencer id are the record's; passing any of
 * them too is E_INVALID_ARGUMENT.
 */
export interface CreateLedgerFromGenesis extends CreateLedgerBase {
  genesisRecord: Uint8Array;
  members?: undefined;
  policy?: undefined;
  sequencerId?: undefined;
}

/** Options of `createLedger`: `members` (and `policy`, `sequencerId`), or a `genesisRecord`. */
export type CreateLedgerOptions = CreateLedgerFromMembers | CreateLedgerFromGenesis;
