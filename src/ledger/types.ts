/** The shapes the ledger takes and returns: options, receipts, heads, proof bundles. */

import type { Directory } from '../directory/directory.js';
import type { DiscloseOptions } from '../directory/private-attributes.js';
import type { BatchReceipt, MemberSigner, Receipt, SecretKeeper } from '../directory/submitter.js';
import type { Plain } from '../encoding/msgpack.js';
import type { LedgerRecord } from '../encoding/record.js';
import type { DirchainError } from '../errors.js';
import type { EntityType, EntityTypes } from '../policy/entities.js';
import type { MemberSpec, PolicyParams } from '../policy/genesis.js';
import type { DirectoryQuery } from '../query/query.js';
import type { ConsistencyBundle, Head, InclusionBundle } from '../reader/types.js';
import type { AppendManyOptions, SequencerOptions } from '../sequencer/sequencer.js';
import type { StatusBundle } from '../state/status-proof.js';

export type { DiscloseOptions } from '../directory/private-attributes.js';
export type { BatchReceipt, MemberSigner, Receipt, SecretKeeper } from '../directory/submitter.js';

import type { DisclosureBundle, DisclosureResult } from '../privacy/disclosure.js';
import type { EncryptionKeyPair } from '../privacy/sealed.js';

export type { Attribution, ConsistencyBundle, Head, InclusionBundle } from '../reader/types.js';
export type { AppendManyOptions, BlockOptions, SequencerOptions } from '../sequencer/sequencer.js';

/** Options of `openLedger` (and `createLedger`): the sequencer's, and its key. */
export interface LedgerOptions extends SequencerOptions {
  /** The sequencer's signer key (`PRIVATE+KEY+...`). Without it the ledger is read-only. */
  sequencerKey?: string;
  /**
   * Where this process keeps the secrets of the records it authors with
   * private attributes (the local-only store; the public entry's `local`
   * option opens one from a folder). Without it, private attributes and
   * disclosures are refused.
   */
  secrets?: SecretKeeper;
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

/** A value, or a promise of it: what `await` takes either way. */
export type Awaitable<T> = T | Promise<T>;

/** The directory queries, as a local ledger has them (some synchronous) or a remote node's client (all asynchronous). */
export type LedgerQueries = {
  [K in Exclude<QueryMethodName, 'get'>]: (
    ...args: Parameters<DirectoryQuery[K]>
  ) => Awaitable<Awaited<ReturnType<DirectoryQuery[K]>>>;
} & {
  // Written out: a mapped type would lose `get`'s type parameter.
  get<T extends EntityType>(type: T, id: string): Awaitable<EntityTypes[T] | undefined>;
};

/** The queries a node answers over HTTP (node/wire.ts QUERY_METHODS). */
export type QueryMethodName =
  | 'get'
  | 'searchResources'
  | 'resourcesOf'
  | 'resourceHistory'
  | 'activeGrants'
  | 'grantsOfResource'
  | 'grantsOfScenario'
  | 'accessLogs'
  | 'accessLogsOfResource'
  | 'openRequests'
  | 'recordsByKind';

/**
 * What a ledger in this process (`Ledger`) and a remote node's client
 * (`RemoteLedger`, from `connect`) both offer, by the same names: code
 * written against it (and `await`ing every answer) runs on either.
 */
export interface LedgerApi {
  readonly origin: string;
  append(entry: Uint8Array | LedgerRecord): Promise<Receipt>;
  appendMany(
    entries: readonly Uint8Array[],
    options?: AppendManyOptions,
  ): Promise<Array<Receipt | DirchainError>>;
  appendBatch(seal: Uint8Array | LedgerRecord, events: readonly Uint8Array[]): Promise<BatchReceipt>;
  submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt>;
  submitBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): Promise<BatchReceipt>;
  /** The domain API: sign and append directory records as a member. */
  readonly directory: Directory;
  head(): Awaitable<Head>;
  checkpoint(size?: number): Awaitable<string>;
  proveInclusion(index: number, size?: number): Promise<InclusionBundle>;
  proveConsistency(size1: number, size2?: number): Promise<ConsistencyBundle>;
  /** A status bundle: the status of (`type`, `id`) at the checkpoint of `size` (default the head). */
  proveStatus(type: string, id: string, size?: number): Promise<StatusBundle>;
  /**
   * A disclosure bundle of the private attributes `names` of record `index`,
   * made from the opening this process's local-only store kept when it
   * authored the record (`to`: bound to that recipient, signed `as` the author).
   */
  disclose(index: number, names: readonly string[], options?: DiscloseOptions): Promise<DisclosureBundle>;
  /** Erases the opening of record `index` from the local-only store: whether there was one. */
  eraseOpening(index: number): Promise<boolean>;
  /** Keeps `member`'s X25519 key pair in the local-only store (under `passphrase`, scrypt, when given). */
  keepEncryptionKey(
    member: string,
    pair: EncryptionKeyPair,
    options?: { passphrase?: string },
  ): Promise<void>;
  /** Opens the sealed payload of record `index` as `member`, with the keys the local-only store kept. */
  openSealed(index: number, member: string, options?: { passphrase?: string }): Promise<Uint8Array>;
  /**
   * The openings a grant's provider sealed to its consumer (`issueGrant(…, { openings })`):
   * opened as `member`, the disclosure checked under the ledger's key, bound to `member`, of the
   * grant's resource.
   */
  openGrantDisclosure(
    index: number,
    member: string,
    options?: { passphrase?: string },
  ): Promise<DisclosureResult & { text?: string }>;
  readonly query: LedgerQueries;
  close(): Promise<void>;
}
