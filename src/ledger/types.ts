/** The shapes the ledger takes and returns: options, receipts, heads, proof bundles. */

import type { Durability } from '../storage/store.js';
import type { MemberSpec, PolicyParams } from './genesis.js';

export interface BlockOptions {
  /** Most records in one block (default 4096). */
  maxRecords?: number;
  /** Most entry bytes in one block (default 4 MiB). */
  maxBytes?: number;
  /** How long a block waits for more records once the first arrives (default 0: the current event-loop turn). */
  maxDelayMs?: number;
}

export interface LedgerOptions {
  /** The sequencer's signer key (`PRIVATE+KEY+...`). Without it the ledger is read-only. */
  sequencerKey?: string;
  /** `sync` (default): fsync every block before acknowledging. `buffered`: survives a process crash, not a power cut. */
  durability?: Durability;
  block?: BlockOptions;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /**
   * Worker threads that check batches signed elsewhere (`appendBatch`): seal
   * signature, event decoding, leaf hashes, root. Default: the number of CPUs
   * (at most 4); 0 checks in-thread.
   */
  workers?: number;
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

/** What `append` resolves to, once the record's block is durable. */
export interface Receipt {
  readonly index: number;
  readonly height: number;
}

/** What `appendBatch` / `submitBatch` resolve to, once the batch's block is durable. */
export interface BatchReceipt {
  /** Index of the seal (the signed record); its events follow it. */
  readonly seal: number;
  /** Index of event 0. */
  readonly first: number;
  readonly count: number;
  readonly height: number;
}

/**
 * Who signed an event: the seal of its batch and the event's path to the
 * seal's root. With it, one event is provable without revealing the others.
 */
export interface Attribution {
  readonly sealIndex: number;
  /** The seal's exact entry bytes (a signed record of kind "batch"). */
  readonly seal: Uint8Array;
  /** Inclusion proof of the seal in the same tree as the event. */
  readonly sealInclusion: Uint8Array[];
  /** The event's place in its batch. */
  readonly position: number;
  /** RFC 9162 inclusion path of the event's leaf in the batch tree (size = the seal's count). */
  readonly path: Uint8Array[];
  /** The author's Ed25519 public key that the seal's keyId names in this ledger. */
  readonly authorKey: Uint8Array;
}

export interface AppendManyOptions {
  /** All or nothing: the records go into one block together, or none of them does. */
  atomic?: boolean;
}

export interface Head {
  readonly origin: string;
  readonly size: number;
  readonly height: number;
  readonly root: Uint8Array;
  readonly time: number;
  /** The block's signed checkpoint note, byte for byte as signed. */
  readonly checkpoint: string;
}

export interface InclusionBundle {
  readonly origin: string;
  readonly index: number;
  readonly size: number;
  /** The exact log entry bytes (a signed record, or an event of a batch). */
  readonly leaf: Uint8Array;
  readonly inclusion: Uint8Array[];
  readonly root: Uint8Array;
  readonly checkpoint: string;
  /** For an event: the seal that signs it. */
  readonly attribution?: Attribution;
}

export interface ConsistencyBundle {
  readonly origin: string;
  readonly size1: number;
  readonly size2: number;
  readonly root1: Uint8Array;
  readonly root2: Uint8Array;
  readonly consistency: Uint8Array[];
  /** Signed checkpoint at size1, when size1 ends a block. */
  readonly checkpoint1?: string;
  /** Signed checkpoint at size2 (always: size2 must end a block). */
  readonly checkpoint2: string;
}

/** A member's signing identity, for `Ledger.submit`. */
export interface MemberSigner {
  readonly id: string;
  readonly keyId: number;
  readonly signer: { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array };
}
