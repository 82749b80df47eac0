/**
 * Where a chain continues from in an existing folder: its genesis parameters,
 * the state (members loaded), the Merkle frontier and the last block's note
 * and block entry, each checked against the last signed block. The sequencer
 * (openLedger) and a follower (sync/follower.ts) continue from here.
 */
import { equalBytes } from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { decodeBlockEntry, isBlockEntry } from '../encoding/block-entry.js';
import { type BlockHeader, blockHeaderOfNote } from '../encoding/checkpoint.js';
import { decodeRecord } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import { Frontier, storedHashIndex, subtreesOf } from '../merkle/stored.js';
import type { MemberEntity } from '../policy/entities.js';
import { type LedgerParams, paramsFromGenesis } from '../policy/genesis.js';
import { decodeEntity, entityPrefix } from '../storage/state-table.js';
import type { LedgerStore } from '../storage/store.js';
import { State } from './state.js';

const hasher = nodeTreeHasher;

export interface ChainStart {
  readonly params: LedgerParams;
  readonly state: State;
  readonly frontier: Frontier;
  /** The last block's signed note and parsed header. */
  readonly note: string;
  readonly header: BlockHeader;
  /** Leaf hash of the last block's block entry (the next block links to it). */
  readonly tipEntry: Uint8Array;
}

/** Loads and checks where the chain in `store` (at `path`, for messages) continues from. */
export async function chainStart(store: LedgerStore, path: string): Promise<ChainStart> {
  const last = await store.lastBlock();
  const genesisEntry = store.getEntry(0);
  if (last === undefined || genesisEntry === undefined) {
    fail(ErrorCode.LEDGER_NOT_FOUND, `${path} holds no ledger (was creation interrupted?)`, {
      hint: 'remove the folder and create the ledger again',
    });
  }
  const { params } = paramsFromGenesis(decodeRecord(genesisEntry));
  const members: MemberEntity[] = [];
  for await (const [, v] of store.scan(entityPrefix('member'))) members.push(decodeEntity('member', v));
  const state = new State((k) => store.getRaw(k), members);
  if (store.getMeta('rebuilding') !== undefined) {
    fail(ErrorCode.LEDGER_CORRUPT, 'a state rebuild was interrupted; the state tables are incomplete', {
      hint: 'run rebuildState again',
    });
  }
  const { header } = blockHeaderOfNote(last.note);
  if (store.entryCount !== header.size) {
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `block ${header.height} ends at entry ${header.size}, the store holds ${store.entryCount}`,
      {
        index: Math.min(store.entryCount, header.size),
        hint: 'verify the folder (verifyLedger) to find the damaged index',
      },
    );
  }
  const indexes = subtreesOf(0, header.size).map((s) => storedHashIndex(s.level, s.n));
  let subtrees: Uint8Array[];
  try {
    subtrees = store.readHashesSync(indexes);
  } catch (e) {
    return fail(ErrorCode.LEDGER_CORRUPT, `stored hashes for block ${header.height} are missing`, {
      hint: 'verify the folder (verifyLedger) to find the damaged index',
      cause: e,
    });
  }
  const tipEntry = checkedBlockEntry(store, header, path);
  // The status map on disk must be the one the last block entry commits to.
  const mapRoot = decodeBlockEntry(store.getEntry(header.size - 1)!).state;
  if (mapRoot === null || !equalBytes(state.map.root(), mapRoot)) {
    fail(ErrorCode.LEDGER_CORRUPT, `the stored status map is not the one block ${header.height} commits to`, {
      index: header.size - 1,
      hint:
        mapRoot === null
          ? 'the ledger was written without a status map: verify it'
          : 'rebuild the state (rebuildState) from the records',
    });
  }
  const floor = store.replayFloor(header.size);
  if (floor !== undefined) state.setReplayFloor(floor);
  const frontier = new Frontier(hasher, header.size, subtrees);
  if (!equalBytes(frontier.root(), header.root)) {
    fail(ErrorCode.LEDGER_CORRUPT, `stored hashes do not match the root of block ${header.height}`, {
      hint: 'verify the folder (verifyLedger) to find the damaged index',
    });
  }
  return { params, state, frontier, note: last.note, header, tipEntry };
}

/**
 * The last block's block entry, checked against its signed header and the
 * stored tree, and its leaf hash: the next block links to it, so it must not
 * come from storage unchecked.
 */
function checkedBlockEntry(store: LedgerStore, header: BlockHeader, path: string): Uint8Array {
  const bytes = store.getEntry(header.size - 1);
  if (bytes === undefined) {
    fail(ErrorCode.LEDGER_CORRUPT, `the block entry of block ${header.height} is missing`, {
      index: header.size - 1,
      hint: 'verify the folder (verifyLedger) to find the damaged index',
    });
  }
  if (!isBlockEntry(bytes)) {
    fail(ErrorCode.LEDGER_FORMAT, `the blocks of the ledger at ${path} do not end with block entries`, {
      hint: 'it was written by an earlier dirchain: open it with the dirchain that wrote it',
    });
  }
  const entry = decodeBlockEntry(bytes);
  const leaf = hasher.leaf(bytes);
  const stored = store.readHashNow(storedHashIndex(0, header.size - 1));
  if (
    entry.height !== header.height ||
    entry.time !== header.time ||
    !equalBytes(entry.prev, header.prev) ||
    stored === undefined ||
    !equalBytes(stored, leaf)
  ) {
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `the block entry of block ${header.height} does not match its signed header`,
      {
        index: header.size - 1,
        hint: 'verify the folder (verifyLedger) to find the damaged index',
      },
    );
  }
  return leaf;
}
