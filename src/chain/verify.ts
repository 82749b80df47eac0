/**
 * Re-checks a whole stored ledger from its first byte: every block's signed
 * note, height and hash link, every record's decoding, signature and admission
 * verdict (replayed exactly as the sequencer ran it), every stored Merkle hash
 * and every root. Stops at the first failure and names its record index.
 */

import { equalBytes, toHex } from '../crypto/bytes.js';
import { sha256Node, verifyNode, verifyNodeAsync } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type NoteVerifier, openNote, parseNote, parseVerifierKey } from '../crypto/note.js';
import { blockHeaderOfNote, parseBlockHeader, parseCheckpoint } from '../encoding/checkpoint.js';
import { BATCH_KIND, decodeEvent, eventRecord, isEventEntry, parseBatchBody } from '../encoding/event.js';
import { decodeRecord, type LedgerRecord, recordSigningMessage } from '../encoding/record.js';
import { readU64 } from '../encoding/u64.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import { storedHashCount } from '../merkle/stored.js';
import { GENESIS_KIND, type LedgerParams, paramsFromGenesis } from '../policy/genesis.js';
import { INDEX_TABLE } from '../storage/index-table.js';
import { LEAF_CODE, leafKey, STATE_TABLE } from '../storage/state-table.js';
import { MAP_TABLE } from '../storage/status-map-table.js';
import { LedgerStore, type StoredBlock } from '../storage/store.js';
import { atIndex } from './apply.js';
import type { Chain, FormedBlock } from './chain.js';
import { nodeChain } from './node-chain.js';
import { State } from './state.js';

export interface VerifyLedgerOptions {
  /**
   * Sequencer verifier keys the caller trusts (C2SP note format). When given,
   * the ledger's genesis must name one of them; without it the genesis key is
   * taken on trust (and reported, so it can be compared with the published one).
   */
  trustedKeys?: readonly string[];
  /**
   * A signed checkpoint note the caller trusts from earlier (e.g. one an
   * auditor saved). The ledger must contain it: same root at its size. This is
   * what catches a ledger that lost its newest blocks, which no internal check can.
   */
  checkpoint?: string;
  /** Called after each block with records checked so far and the claimed total. */
  onProgress?: (records: number, total: number) => void;
  /** Called with each block once it verified, with its decoded records (for audit statistics). */
  onBlock?: (block: VerifiedBlock) => void;
}

export interface VerifiedBlock {
  readonly height: number;
  /** Block time, milliseconds since the Unix epoch. */
  readonly time: number;
  /** Index of the block's first entry. */
  readonly first: number;
  /**
   * One per entry but the block entry that ends the block (so `first + i`
   * is the index of `records[i]`): the record, or for a batch event the event
   * seen as a record of the seal's kind and author (`eventRecord`).
   */
  readonly records: readonly LedgerRecord[];
}

/**
 * Where a replay reads a ledger from: the local store (which also has stored
 * hashes, state and indexes to check), or a served copy (src/sync/http-source.ts)
 * that has only what tlog-tiles serves: block notes and entries.
 */
export interface BlockSource {
  /** Signed block notes in height order, from 0. */
  blocks(): AsyncIterable<StoredBlock>;
  /** Entries [from, to) in index order. */
  entries(from: number, to: number): AsyncIterable<[index: number, entry: Uint8Array]>;
  /** The newest block, for the progress total. */
  lastBlock(): Promise<StoredBlock | undefined>;
}

export interface LedgerReport {
  readonly ok: boolean;
  readonly origin?: string;
  /** The sequencer key named in genesis. */
  readonly sequencerKey?: string;
  /** Log entries checked and found good (block entries included: the tree size they reach). */
  readonly records: number;
  /** Blocks checked and found good. */
  readonly blocks: number;
  readonly error?: { code: string; message: string; index?: number; height?: number };
}

const hasher = nodeTreeHasher;

/**
 * Verifies the ledger folder at `path`. When this process holds the folder
 * open (a running ledger), it reads through that handle at a snapshot taken
 * now: the ledger up to its last durable block at the moment of the call.
 */
export async function verifyLedger(path: string, options: VerifyLedgerOptions = {}): Promise<LedgerReport> {
  let store: LedgerStore;
  try {
    store = await LedgerStore.openForReading(path);
  } catch (e) {
    return { ok: false, records: 0, blocks: 0, error: errorOf(e) };
  }
  try {
    return await replayLedger(store, store, path, options);
  } finally {
    await store.close();
  }
}

/**
 * The same replay over a served ledger: every block note, signature, policy
 * verdict, root and block link. What only a local folder has (stored hashes,
 * state and index tables) is not there to check; record hashes for duplicate
 * detection are kept in memory instead (about 100 bytes per signed record).
 */
export function verifyLedgerSource(
  source: BlockSource,
  where: string,
  options: VerifyLedgerOptions = {},
): Promise<LedgerReport> {
  return replayLedger(source, undefined, where, options);
}

/** `store` is given for a local folder: its stored hashes, state and indexes are checked too. */
async function replayLedger(
  source: BlockSource,
  store: LedgerStore | undefined,
  path: string,
  options: VerifyLedgerOptions,
): Promise<LedgerReport> {
  const leaves = new Map<string, Uint8Array>();
  // The state as replaying the records makes it, to compare with what is stored.
  const replayed = new Map<string, Uint8Array>();
  // Leaf keys (one per record) are read from the store and checked record by record,
  // so memory stays flat in the log length; entities are few and kept to compare.
  const state = new State(
    (k) =>
      k[0] === STATE_TABLE && k[1] === LEAF_CODE
        ? store
          ? store.getRaw(k)
          : leaves.get(toHex(k))
        : replayed.get(toHex(k)),
    [],
  );
  let indexWrites = 0;
  let chain: Chain | undefined;
  let genesis: LedgerRecord | undefined;
  let sequencer: NoteVerifier | undefined;
  let height = 0;
  let blockFirst = 0;
  // Signed records (not events) each leave a record hash in the state for replay protection.
  let signedRecords = 0;
  const rootsBySize = new Map<number, Uint8Array>();
  let wanted: number | undefined;
  try {
    if (options.checkpoint !== undefined) wanted = parseCheckpoint(parseNote(options.checkpoint).text).size;
    const last = await source.lastBlock();
    const total = last ? safeSize(last.note) : 0;
    for await (const block of source.blocks()) {
      if (block.height !== height)
        fail(ErrorCode.LEDGER_CORRUPT, `block ${height} is missing (found ${block.height} next)`);
      if (chain === undefined) {
        let params: LedgerParams;
        ({ params, sequencer, genesis } = await openGenesis(source, options.trustedKeys));
        chain = nodeChain(params, state);
      }
      const { text } = openNote(block.note, [sequencer!], verifyNode);
      const header = parseBlockHeader(text);
      if (header.height !== height)
        fail(ErrorCode.LEDGER_CORRUPT, `block stored at ${height} says it is ${header.height}`);
      chain.begin(header.time);
      const records: LedgerRecord[] | undefined = options.onBlock ? [] : undefined;
      signedRecords += await checkBlockRecords(
        source,
        store,
        chain,
        genesis!,
        blockFirst,
        header.size,
        records,
      );
      // The note's signature was checked above.
      const formed = chain.accept(block.note);
      if (store) checkStoredHashes(store, formed);
      for (const [k, v] of formed.writes) {
        // Entities and the status map's current nodes, as replaying makes them (the block entries hold its roots).
        if ((k[0] === STATE_TABLE && k[1] !== LEAF_CODE) || k[0] === MAP_TABLE) replayed.set(toHex(k), v);
        else if (k[0] === STATE_TABLE) {
          if (!store) leaves.set(toHex(k), v);
        } else if (store && k[0] === INDEX_TABLE) {
          // Every index entry the records make must be stored, with its value.
          const stored = store.getRaw(k);
          if (stored === undefined || !equalBytes(stored, v)) {
            fail(ErrorCode.LEDGER_CORRUPT, `an index entry of block ${height} is missing or changed`, {
              index: blockFirst,
            });
          }
          indexWrites++;
        }
      }
      chain.durable();
      if (header.size === wanted) rootsBySize.set(header.size, header.root);
      if (store && store.heightAtSize(header.size) !== height)
        fail(ErrorCode.LEDGER_CORRUPT, `size index for block ${height} is wrong`);
      if (records) options.onBlock!({ height, time: header.time, first: blockFirst, records });
      blockFirst = header.size;
      height++;
      options.onProgress?.(blockFirst, total);
    }
    if (chain === undefined) fail(ErrorCode.LEDGER_NOT_FOUND, `${path} holds no blocks`);
    if (store) {
      if (store.getEntry(blockFirst) !== undefined) {
        fail(ErrorCode.LEDGER_CORRUPT, `entry ${blockFirst} is stored past the last block`, {
          index: blockFirst,
        });
      }
      await compareState(store, replayed, signedRecords);
      await countIndexes(store, indexWrites);
    }
    if (options.checkpoint !== undefined) {
      checkTrustedCheckpoint(options.checkpoint, sequencer!, blockFirst, rootsBySize);
    }
    return {
      ok: true,
      origin: chain.params.origin,
      sequencerKey: chain.params.sequencerKey,
      records: blockFirst,
      blocks: height,
    };
  } catch (e) {
    const error = errorOf(e);
    if (error.index === undefined && !isDirchainError(e)) error.index = blockFirst; // storage error inside a block
    const params = chain?.params;
    return {
      ok: false,
      ...(params ? { origin: params.origin, sequencerKey: params.sequencerKey } : {}),
      records: Math.min(blockFirst, error.index ?? blockFirst),
      blocks: height,
      error: { ...error, height },
    };
  }
}

function checkTrustedCheckpoint(
  note: string,
  sequencer: NoteVerifier,
  size: number,
  roots: Map<number, Uint8Array>,
): void {
  const c = parseCheckpoint(openNote(note, [sequencer], verifyNode).text);
  if (c.size > size) {
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `the ledger has ${size} records but the trusted checkpoint has ${c.size}: records were lost`,
      {
        index: size,
      },
    );
  }
  const root = roots.get(c.size);
  if (root === undefined || !equalBytes(root, c.root)) {
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `the ledger's tree at size ${c.size} is not the trusted checkpoint's: its history was rewritten`,
    );
  }
}

function safeSize(note: string): number {
  try {
    return blockHeaderOfNote(note).header.size;
  } catch {
    return 0;
  }
}

async function openGenesis(source: BlockSource, trusted: readonly string[] | undefined) {
  let entry: Uint8Array | undefined;
  for await (const [index, bytes] of source.entries(0, 1)) if (index === 0) entry = bytes;
  if (entry === undefined) fail(ErrorCode.LEDGER_CORRUPT, 'the genesis record is missing', { index: 0 });
  const genesis = atIndex(0, () => decodeRecord(entry));
  if (genesis.kind !== GENESIS_KIND)
    fail(ErrorCode.LEDGER_CORRUPT, 'record 0 is not a genesis record', { index: 0 });
  const { params } = atIndex(0, () => paramsFromGenesis(genesis));
  const sequencer = parseVerifierKey(sha256Node, params.sequencerKey);
  if (trusted !== undefined && !trusted.map((k) => k.trim()).includes(params.sequencerKey)) {
    fail(
      ErrorCode.CHECKPOINT_INVALID,
      `the ledger's sequencer key ${params.sequencerKey} is not one of the trusted keys`,
      {
        hint: 'compare it with the key the data bureau published',
      },
    );
  }
  return { params, sequencer, genesis };
}

/**
 * Every stored state entry and status map node must be exactly what replaying
 * the records produced, and nothing more; there is one leaf entry per record (each checked as its
 * record was replayed).
 */
async function compareState(
  store: LedgerStore,
  replayed: Map<string, Uint8Array>,
  signedRecords: number,
): Promise<void> {
  let entities = 0;
  let leaves = 0;
  for await (const [k, v] of store.scan(Uint8Array.of(STATE_TABLE))) {
    if (k[1] === LEAF_CODE) {
      leaves++;
      continue;
    }
    const expected = replayed.get(toHex(k));
    const what = new TextDecoder().decode(k.subarray(2));
    if (expected === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, `stored state has an entry no record made (${what})`);
    if (!equalBytes(expected, v))
      fail(ErrorCode.LEDGER_CORRUPT, `stored state of ${what} differs from replaying the records`);
    entities++;
  }
  // The status map's current nodes: exactly those replaying made (its roots are checked in the block entries).
  let nodes = 0;
  for await (const [k, v] of store.scan(Uint8Array.of(MAP_TABLE))) {
    const expected = replayed.get(toHex(k));
    if (expected === undefined || !equalBytes(expected, v))
      fail(ErrorCode.LEDGER_CORRUPT, 'a stored status map node differs from replaying the records', {
        hint: 'rebuild the state (rebuildState) from the records',
      });
    nodes++;
  }
  if (entities + nodes !== replayed.size)
    fail(ErrorCode.LEDGER_CORRUPT, `stored state is missing ${replayed.size - entities - nodes} entries`);
  if (leaves !== signedRecords)
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `stored state has ${leaves} record hashes for ${signedRecords} signed records`,
    );
}

/** The index table holds exactly the entries the records made (each was checked present as its block replayed). */
async function countIndexes(store: LedgerStore, expected: number): Promise<void> {
  let n = 0;
  for await (const _ of store.scan(Uint8Array.of(INDEX_TABLE))) n++;
  if (n !== expected) {
    fail(ErrorCode.LEDGER_CORRUPT, `the index table has ${n} entries; the records make ${expected}`, {
      hint: 'rebuildState rewrites the indexes from the records',
    });
  }
}

/**
 * Applies the entries of one block through the chain, in order, checking each
 * signed record's signature (in parallel, off the main thread) and, for a
 * local folder, its stored record hash. Returns the number of signed records.
 */
export async function checkBlockRecords(
  source: BlockSource,
  store: LedgerStore | undefined,
  chain: Chain,
  genesis: LedgerRecord,
  from: number,
  to: number,
  records: LedgerRecord[] | undefined,
): Promise<number> {
  const signatures: Array<Promise<boolean>> = [];
  const signed: number[] = [];
  let refused: DirchainError | undefined;
  let expect = from;
  let batch: { seal: LedgerRecord; kind: string } | undefined;
  for await (const [index, entry] of source.entries(from, to)) {
    if (index !== expect) fail(ErrorCode.LEDGER_CORRUPT, `record ${expect} is missing`, { index: expect });
    const leaf = hasher.leaf(entry);
    let record: LedgerRecord | undefined;
    if (index === 0) {
      if (!equalBytes(entry, genesis.bytes))
        fail(ErrorCode.LEDGER_CORRUPT, 'the genesis record changed while it was read', { index: 0 });
      chain.applyGenesis(genesis, leaf);
      record = genesis;
    } else {
      const r = atIndex(index, () => chain.apply(entry, leaf));
      // A refusal is reported after the signatures of the records before it are known.
      if (r instanceof DirchainError) {
        refused = new DirchainError(r.code, `record ${index} should have been refused: ${r.message}`, {
          index,
        });
      } else record = r;
    }
    if (record !== undefined) {
      const key = chain.view.get('member', record.author)?.keys[record.keyId];
      signatures.push(
        key
          ? verifyNodeAsync(key, recordSigningMessage(record.signed), record.signature)
          : Promise.resolve(false),
      );
      signed.push(index);
      if (store && !refused) {
        const seen = store.getRaw(leafKey(leaf));
        if (seen === undefined || readU64(seen) !== index) {
          fail(ErrorCode.LEDGER_CORRUPT, `the stored record hash of record ${index} is missing or wrong`, {
            index,
          });
        }
      }
    }
    if (records && !refused) {
      // For the audit statistics: events count as records of their seal's kind and author.
      if (record !== undefined) {
        records.push(record);
        if (record.kind === BATCH_KIND) batch = { seal: record, kind: parseBatchBody(record.body).kind };
      } else if (isEventEntry(entry)) records.push(eventRecord(batch!.seal, batch!.kind, decodeEvent(entry)));
    }
    expect++;
    if (refused) break;
  }
  const results = await Promise.all(signatures);
  const bad = results.indexOf(false);
  if (bad >= 0)
    fail(ErrorCode.BAD_SIGNATURE, `record ${signed[bad]}'s signature does not verify`, {
      index: signed[bad]!,
    });
  if (refused) throw refused;
  if (expect !== to) fail(ErrorCode.LEDGER_CORRUPT, `record ${expect} is missing`, { index: expect });
  return signed.length;
}

/** Stored hashes must be exactly the ones the records produce (local folders only). */
function checkStoredHashes(store: LedgerStore, block: FormedBlock): void {
  const count = block.hashes.length / 32;
  const stored = store.readHashesSync(Array.from({ length: count }, (_, i) => block.hashStart + i));
  let index = block.firstIndex;
  for (let i = 0; i < count; i++) {
    while (storedHashCount(index + 1) <= block.hashStart + i) index++;
    if (!equalBytes(block.hashes.subarray(32 * i, 32 * i + 32), stored[i]!)) {
      fail(ErrorCode.LEDGER_CORRUPT, `stored Merkle hash for record ${index} does not match its entry`, {
        index,
      });
    }
  }
}

function errorOf(e: unknown): { code: string; message: string; index?: number } {
  if (isDirchainError(e))
    return { code: e.code, message: e.message, ...(e.index === undefined ? {} : { index: e.index }) };
  // LevelDB reports damaged files as errors of its own (checksums, snappy); anything else is a bug here.
  const message = (e as Error)?.message ?? String(e);
  const storage = /corrupt|checksum|snappy|IO error|LEVEL_/i.test(
    `${message} ${(e as { code?: string }).code ?? ''}`,
  );
  return storage
    ? { code: ErrorCode.LEDGER_CORRUPT, message: `storage could not be read: ${message}` }
    : { code: ErrorCode.INTERNAL, message: `verification failed unexpectedly: ${message}` };
}
