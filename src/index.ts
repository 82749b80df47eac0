/**
 * dirchain: a permissioned, append-only, hash-chained, signed ledger of a
 * government data directory. This is the library's one entry point; the
 * auditor's dependency-light subset is `dirchain/verify`.
 */
export { type AuditOptions, auditLedger, writeReport } from './audit/audit.js';
export { renderHtml } from './audit/html.js';
export { HttpBlockSource } from './audit/http-source.js';
export { type AuditReport, REPORT_FORMAT } from './audit/report.js';
export {
  type Anomaly,
  type AnomalyType,
  type AuditStatistics,
  AuditStats,
  type StatsOptions,
} from './audit/stats.js';
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
export {
  type Approval,
  type GrantTerms,
  KIND,
  type Kind,
  type ResourceSpec,
  type ScenarioSpec,
  SHARING,
  type Sharing,
} from './directory/schemas.js';
export {
  type ConsistencyBundleJSON,
  consistencyBundleFromJSON,
  consistencyBundleToJSON,
  type InclusionBundleJSON,
  inclusionBundleFromJSON,
  inclusionBundleToJSON,
} from './encoding/bundle.js';
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
export type { Plain } from './encoding/msgpack.js';
export {
  decodeRecord,
  type LedgerRecord,
  MAX_ENTRY_BYTES,
  type RecordDraft,
  signRecord,
} from './encoding/record.js';
export { DirchainError, ErrorCode, type ErrorCodeValue, isDirchainError } from './errors.js';
export { type BlockHeader, type Checkpoint, parseBlockHeader, parseCheckpoint } from './ledger/checkpoint.js';
export { DEFAULT_POLICY, type MemberSpec, type PolicyParams, ROLES, type Role } from './ledger/genesis.js';
export {
  type AppendManyOptions,
  type Attribution,
  type BatchReceipt,
  type BlockOptions,
  type ConsistencyBundle,
  type CreateLedgerOptions,
  type Head,
  type InclusionBundle,
  Ledger,
  type LedgerOptions,
  type MemberSigner,
  type Receipt,
} from './ledger/ledger.js';
export { memberSigner } from './ledger/member-signer.js';
export { createLedger, openLedger } from './ledger/open.js';
export { type RebuildReport, rebuildState } from './ledger/rebuild.js';
export { signBatch } from './ledger/sign-batch.js';
export {
  type BlockSource,
  type LedgerReport,
  type VerifiedBlock,
  type VerifyLedgerOptions,
  verifyLedger,
  verifyLedgerSource,
} from './ledger/verify-ledger.js';
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
export type { LedgerParams } from './policy/state.js';
export type { ResourceFilter } from './query/catalog.js';
export type { DirectoryQuery, IndexedRecord, Page, PageOptions } from './query/query.js';
export { type RunningServer, type ServeOptions, serveLedger, tileHandler } from './serve/server.js';
export type {
  GrantEntity,
  MemberEntity,
  RequestEntity,
  ResourceEntity,
  ScenarioEntity,
  StateView,
} from './state/entities.js';
export type { Durability } from './storage/store.js';
export {
  type BundleReport,
  type Check,
  parseKeys,
  verifyBundle,
  verifyCheckpoint,
  verifyRecord,
} from './verify.js';
export { leafHash, verifyConsistency, verifyInclusion } from './verify-node.js';
export {
  type CosignOptions,
  cosignCheckpoint,
  generateWitnessKey,
  loadWitnessVerifier,
  type WitnessKeyPair,
} from './witness/cosign.js';
export type { Cosignature } from './witness/cosignature.js';
