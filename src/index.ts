/**
 * dirchain: a permissioned, append-only, hash-chained, signed ledger of a
 * government data directory. This is the library's one entry point; the
 * auditor's dependency-light subset is `dirchain/verify`.
 */
export { type AuditOptions, auditLedger, writeReport } from './audit/audit.js';
export { renderHtml } from './audit/html.js';
export { type AuditReport, REPORT_FORMAT } from './audit/report.js';
export {
  type Anomaly,
  type AnomalyType,
  type AuditStatistics,
  AuditStats,
  type StatsOptions,
} from './audit/stats.js';
export { type RebuildReport, rebuildState } from './chain/rebuild.js';
export {
  type BlockSource,
  type LedgerReport,
  type VerifiedBlock,
  type VerifyLedgerOptions,
  verifyLedger,
  verifyLedgerSource,
} from './chain/verify.js';
export type { Cosignature, WitnessKeyType, WitnessVerifier } from './crypto/cosignature.js';
export { generateKeyPair, type KeyPair, loadSigner, loadVerifier } from './crypto/keys.js';
export {
  formatVerifierKey,
  type NoteSigner,
  type NoteVerifier,
  openNote,
  parseNote,
  signNote,
} from './crypto/note.js';
export {
  type AccessInput,
  type ApprovalOptions,
  approve,
  Directory,
  type GrantInput,
  type MemberInput,
  type Proposal,
  type RequestInput,
} from './directory/directory.js';
export { memberSigner } from './directory/member-signer.js';
export { type BlockEntry, decodeBlockEntry, encodeBlockEntry, isBlockEntry } from './encoding/block-entry.js';
export {
  BUNDLE_TYPES,
  type ConsistencyBundleJSON,
  consistencyBundleFromJSON,
  consistencyBundleToJSON,
  type InclusionBundleJSON,
  inclusionBundleFromJSON,
  inclusionBundleToJSON,
} from './encoding/bundle.js';
export {
  type BlockHeader,
  type Checkpoint,
  parseBlockHeader,
  parseCheckpoint,
} from './encoding/checkpoint.js';
export {
  BATCH_KIND,
  type BatchBody,
  decodeEvent,
  encodeEvent,
  eventRecord,
  isEventEntry,
  type LedgerEvent,
  MAX_BATCH_EVENTS,
  parseBatchBody,
  type SignedBatch,
} from './encoding/event.js';
export {
  FORK_TYPE,
  type ForkEvidence,
  type ForkEvidenceJSON,
  forkEvidenceFromJSON,
  forkEvidenceToJSON,
  REPLAY_TYPE,
  type ReplayEvidence,
  replayEvidenceFromJSON,
  replayEvidenceToJSON,
} from './encoding/evidence.js';
export type { Plain } from './encoding/msgpack.js';
export {
  decodeRecord,
  type LedgerRecord,
  MAX_ENTRY_BYTES,
  type RecordDraft,
  signRecord,
} from './encoding/record.js';
export { DirchainError, ErrorCode, type ErrorCodeValue, isDirchainError } from './errors.js';
export { Ledger } from './ledger/ledger.js';

import { isAbsolute, relative, resolve } from 'node:path';
import type { SecretKeeper } from './directory/submitter.js';
import { ErrorCode, fail } from './errors.js';
import type { Ledger } from './ledger/ledger.js';
import { createLedger as createLedgerIn, openLedger as openLedgerIn } from './ledger/open.js';
import type { CreateLedgerOptions, LedgerOptions } from './ledger/types.js';
import { type ConnectOptions, connect as connectIn, type RemoteLedger } from './node/client.js';
import { LocalStore } from './storage/local-store.js';

export type { PrivateOptions, SealedOptions } from './directory/directory.js';
export type { DiscloseOptions } from './directory/private-attributes.js';
export type { SealedInput } from './directory/sealed-records.js';
export type { SecretKeeper } from './directory/submitter.js';
export { openReplica, type ReplicaOptions } from './ledger/open.js';
export type {
  AppendManyOptions,
  Attribution,
  Awaitable,
  BatchReceipt,
  BlockOptions,
  ConsistencyBundle,
  CreateLedgerOptions,
  Head,
  InclusionBundle,
  LedgerApi,
  LedgerOptions,
  LedgerQueries,
  MemberSigner,
  QueryMethodName,
  Receipt,
} from './ledger/types.js';
export {
  decodeEntryBundle,
  encodeEntryBundle,
  fullTileHash,
  hashFromTile,
  parseTilePath,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tileForIndex,
  tileHashIndexes,
  tilePath,
  tileWidthAt,
} from './merkle/tiles.js';
export { type ConnectOptions, RemoteLedger } from './node/client.js';
export { createNodeLog, type LogLevel, type NodeLog } from './node/log.js';
export { type RunningServer, type ServeOptions, serveLedger, tileHandler } from './node/serve.js';
export { type NodeOptions, type RunningNode, startNode } from './node/service.js';
export type {
  GrantEntity,
  MemberEntity,
  RequestEntity,
  ResourceEntity,
  ScenarioEntity,
  StateView,
} from './policy/entities.js';
export type { LedgerParams } from './policy/genesis.js';
export { DEFAULT_POLICY, type MemberSpec, type PolicyParams, ROLES, type Role } from './policy/genesis.js';
export {
  type Approval,
  type GrantTerms,
  KIND,
  type Kind,
  type ResourceSpec,
  type ScenarioSpec,
  SHARING,
  type Sharing,
} from './policy/schemas.js';
export { ATTRIBUTE_SCHEMAS, ATTRIBUTE_SLOTS } from './privacy/attribute-schemas.js';
export {
  DISCLOSURE_TYPE,
  type DisclosureBundle,
  type DisclosureResult,
  disclosureFromJSON,
  disclosureToJSON,
} from './privacy/disclosure.js';
export {
  type EncryptionKeyPair,
  encryptionKeyId,
  generateEncryptionKey,
  type Sealed,
} from './privacy/sealed.js';
export type { ResourceFilter } from './query/catalog.js';
export type { DirectoryQuery, IndexedRecord, Page, PageOptions } from './query/query.js';
export { signBatch } from './sequencer/sign-batch.js';
export { type GrantStatus, judgeGrant, type StatusValue } from './state/status.js';
export {
  STATUS_TYPE,
  type StatusBundle,
  type StatusItem,
  type StatusResult,
  statusBundleFromJSON,
  statusBundleToJSON,
} from './state/status-proof.js';
export { LocalStore } from './storage/local-store.js';
export type { Durability } from './storage/store.js';
export { checkReplayEvidence } from './sync/evidence-check.js';
export { type FollowOptions, type FollowReport, follow } from './sync/follower.js';
export { HttpBlockSource } from './sync/http-source.js';
export { type PublishOptions, type PublishReport, publish } from './sync/publish.js';
export {
  type VerifyLogOptions,
  type VerifyLogProgress,
  type VerifyLogReport,
  verifyLog,
} from './sync/verify-log.js';
export {
  type CosignOptions,
  cosignCheckpoint,
  generateWitnessKey,
  loadWitnessVerifier,
  type WitnessKeyOptions,
  type WitnessKeyPair,
} from './sync/witness.js';
export {
  addCheckpointBody,
  type RunningWitness,
  startWitness,
  type WitnessOptions,
} from './sync/witness-server.js';
export {
  type BundleReport,
  type Check,
  checkStatus,
  parseKeys,
  verifyBundle,
  verifyCheckpoint,
  verifyDisclosure,
  verifyRecord,
} from './verify.js';
export { leafHash, verifyConsistency, verifyInclusion } from './verify-node.js';

// ---- the local-only store, composed at the public entry ----------------------------------------
// (Only this entry opens it: nothing that serves, publishes or replicates reaches
// storage/local-store.ts, a rule .dependency-cruiser.cjs checks.)

/** Where a process keeps the secrets of the records it authors with private attributes. */
export interface LocalOption {
  /**
   * A folder of its own for the local-only store (made, mode 0700, if missing;
   * each secret a 0600 file): outside the ledger folder, which is served,
   * replicated and published. Private attributes and disclosures need it.
   */
  local?: string;
}

async function withLocal<T extends { secrets?: SecretKeeper }>(
  options: T & LocalOption,
  ledgerPath?: string,
): Promise<T> {
  const { local, ...rest } = options;
  if (local === undefined) return rest as unknown as T;
  if (rest.secrets !== undefined) fail(ErrorCode.INVALID_ARGUMENT, 'give local or secrets, not both');
  if (typeof local !== 'string' || local === '')
    fail(ErrorCode.INVALID_ARGUMENT, 'local must be a folder path');
  if (ledgerPath !== undefined) {
    const inside = relative(resolve(ledgerPath), resolve(local));
    if (inside === '' || (!inside.startsWith('..') && !isAbsolute(inside)))
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `the local-only store ${local} is inside the ledger folder ${ledgerPath}`,
        {
          hint: 'the ledger folder is served, replicated and published: keep secrets in a folder beside it',
        },
      );
  }
  return { ...rest, secrets: await LocalStore.open(local, { create: true }) } as unknown as T;
}

/** Creates a ledger (`ledger/open.ts createLedger`); `local`: its author's local-only store. */
export async function createLedger(
  path: string,
  options: CreateLedgerOptions & LocalOption,
): Promise<Ledger> {
  return createLedgerIn(path, await withLocal(options, path));
}

/** Opens a ledger folder (`ledger/open.ts openLedger`); `local`: its author's local-only store. */
export async function openLedger(path: string, options: LedgerOptions & LocalOption = {}): Promise<Ledger> {
  return openLedgerIn(path, await withLocal(options, path));
}

/** A client of a node (`node/client.ts connect`); `local`: the application's local-only store. */
export async function connect(url: string, options: ConnectOptions & LocalOption): Promise<RemoteLedger> {
  return connectIn(url, await withLocal(options));
}
