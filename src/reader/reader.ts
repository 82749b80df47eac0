/**
 * The read side of a ledger folder: the head, checkpoints, blocks, entries,
 * tree hashes and proofs. Needs no sequencer key; every proof is checked
 * against the signed root before it leaves the process, so damaged storage is
 * an error, never a wrong proof.
 */
import { equalBytes } from '../crypto/bytes.js';
import { sha256Node } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type BlockHeader, blockHeaderOfNote } from '../encoding/checkpoint.js';
import { decodeEvent, isEventEntry, parseBatchBody } from '../encoding/event.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import { readU64 } from '../encoding/u64.js';
import { ErrorCode, fail } from '../errors.js';
import { checkConsistency, checkInclusion } from '../merkle/check.js';
import { memoryPath } from '../merkle/memory-tree.js';
import { proveConsistency, proveInclusion, treeHash } from '../merkle/prove.js';
import { storedHashIndex } from '../merkle/stored.js';
import { SubtreeCache } from '../merkle/subtree-cache.js';
import type { StateView } from '../policy/entities.js';
import { recordAt } from '../query/query.js';
import { mapHasher } from '../state/map.js';
import { checkStatusBundle, proveStatusItems, type StatusBundle } from '../state/status-proof.js';
import { leafKey } from '../storage/state-table.js';
import { mapNodeAt } from '../storage/status-map-table.js';
import type { LedgerStore } from '../storage/store.js';
import type { Attribution, ConsistencyBundle, Head, InclusionBundle } from './types.js';

const hasher = nodeTreeHasher;
const statusMapHasher = mapHasher(sha256Node);
/** The entity types the status map holds. */
const STATUS_TYPES = new Set(['member', 'resource', 'scenario', 'request', 'grant']);

export class Reader {
  readonly #store: LedgerStore;
  /** Member keys, for the author key an event's attribution names. */
  readonly #view: StateView;
  /** Upper subtree and right-edge hashes proofs reuse (~0.5 byte per record, filled by proofs). */
  readonly #proofCache = new SubtreeCache();
  #head: Head;

  /** `view`: the committed state; `note`: the last durable block's signed note. */
  constructor(store: LedgerStore, view: StateView, note: string) {
    this.#store = store;
    this.#view = view;
    this.#head = headOf(blockHeaderOfNote(note).header, note);
  }

  get origin(): string {
    return this.#head.origin;
  }

  get path(): string {
    return this.#store.path;
  }

  /** The latest durable block. */
  head(): Head {
    return this.#head;
  }

  /** @internal The block of `header`, signed as `note`, is durable: it is the head now. */
  advance(header: BlockHeader, note: string): void {
    this.#head = headOf(header, note);
  }

  /** @internal for the query engine and tests */
  get store(): LedgerStore {
    return this.#store;
  }

  /** The entry bytes at `index`. */
  getEntry(index: number): Uint8Array {
    this.#checkIndex(index, this.#head.size);
    const e = this.#store.checkedEntry(index);
    if (e === undefined) fail(ErrorCode.LEDGER_CORRUPT, `entry ${index} is missing from storage`, { index });
    return e;
  }

  /**
   * The decoded record at `index`. An event of a batch comes back as a record
   * of its seal's kind, author and time, with the event's own body and bytes.
   */
  getRecord(index: number): LedgerRecord {
    this.#checkIndex(index, this.#head.size);
    return recordAt(this.#store, index).record;
  }

  /** The signed checkpoint note of the block ending at tree size `size` (default: the head). */
  checkpoint(size = this.#head.size): string {
    if (size === this.#head.size) return this.#head.checkpoint;
    this.#checkSize(size);
    const height = this.#store.heightAtSize(size);
    const block = height === undefined ? undefined : this.#store.getBlock(height);
    if (block === undefined) {
      fail(ErrorCode.NOT_FOUND, `no block ends at tree size ${size}, so there is no checkpoint for it`, {
        hint: 'checkpoints exist at block boundaries; omit the size to use the latest',
      });
    }
    return block.note;
  }

  /** The block at `height`: its signed note and parsed header. */
  block(height: number): { note: string; header: BlockHeader } {
    const b = this.#store.getBlock(height);
    if (b === undefined || height > this.#head.height)
      fail(ErrorCode.NOT_FOUND, `no block at height ${height}`);
    return { note: b.note, header: blockHeaderOfNote(b.note).header };
  }

  /**
   * Index of the signed record (or batch seal) whose RFC 9162 leaf hash is
   * `leafHash`, once its block is durable; undefined when the log has none.
   * Events of a batch are not looked up this way (they are found through their seal).
   */
  indexOfLeaf(leafHash: Uint8Array): number | undefined {
    const stored = this.#store.getRaw(leafKey(leafHash));
    if (stored === undefined) return undefined;
    const index = readU64(stored);
    return index < this.#head.size ? index : undefined;
  }

  /** Height of the block holding entry `index` (E_NOT_FOUND beyond the head). */
  async heightOf(index: number): Promise<number> {
    this.#checkIndex(index, this.#head.size);
    const height = await this.#store.heightOfIndex(index);
    if (height === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, `no stored block holds entry ${index}`, { index });
    return height;
  }

  /** RFC 9162 root of the first `size` records. */
  treeHash(size = this.#head.size): Promise<Uint8Array> {
    this.#checkSize(size);
    return treeHash(hasher, this.#store, size, this.#proofCache);
  }

  /**
   * The RFC 9162 inclusion proof (audit path) alone of record `index` in the
   * tree of `size` (default the head): what RFC 9162's get-proof-by-hash
   * serves, for a client that holds the entry and the checkpoint already.
   * `proveInclusion` returns the whole bundle.
   */
  async inclusionProof(index: number, size = this.#head.size): Promise<Uint8Array[]> {
    this.#checkIndex(index, size);
    return proveInclusion(hasher, this.#store, index, size, this.#proofCache);
  }

  /**
   * Inclusion proof of record `index` in the tree of `size` (a block boundary;
   * default the head). For an event of a batch the bundle also carries its
   * attribution (the seal and the event's path to the seal's root), unless
   * `attribution: false` asks for the bare RFC 9162 proof.
   */
  async proveInclusion(
    index: number,
    size = this.#head.size,
    options: { attribution?: boolean } = {},
  ): Promise<InclusionBundle> {
    this.#checkIndex(index, size);
    const head = this.#head;
    const checkpoint = this.checkpoint(size);
    // The head's root is known; only older checkpoints need parsing.
    const root = size === head.size ? head.root : blockHeaderOfNote(checkpoint).header.root;
    const leaf = this.getEntry(index);
    const [inclusion, attribution] = await Promise.all([
      proveInclusion(hasher, this.#store, index, size, this.#proofCache),
      options.attribution !== false && isEventEntry(leaf) ? this.#attribution(index, leaf, size) : undefined,
    ]);
    // Checked against the signed root before it leaves the process: damaged storage is an error, never a wrong proof.
    // The leaf hash as stored: getEntry checked the entry against it, so it is not hashed twice.
    const leafHash = this.#store.readHashNow(storedHashIndex(0, index));
    if (leafHash === undefined || !checkInclusion(hasher, index, size, leafHash, inclusion, root)) {
      fail(ErrorCode.LEDGER_CORRUPT, `the stored hashes for record ${index} do not lead to the signed root`, {
        index,
        hint: 'the folder was damaged on disk: audit it, and restore it from a replica or a backup',
      });
    }
    return {
      origin: this.origin,
      index,
      size,
      leaf,
      inclusion,
      root,
      checkpoint,
      ...(attribution === undefined ? {} : { attribution }),
    };
  }

  /** The seal that signs the event at `index`, and the event's path to the seal's root. */
  async #attribution(index: number, entry: Uint8Array, size: number): Promise<Attribution> {
    const { position } = decodeEvent(entry);
    const sealIndex = index - 1 - position;
    const seal = decodeRecord(this.getEntry(sealIndex));
    const { count } = parseBatchBody(seal.body);
    // The events' leaf hashes are level-0 stored hashes: no entry needs reading.
    const leafIndexes = Array.from({ length: count }, (_, i) => storedHashIndex(0, sealIndex + 1 + i));
    const [leaves, sealInclusion] = await Promise.all([
      this.#store.readHashes(leafIndexes),
      proveInclusion(hasher, this.#store, sealIndex, size, this.#proofCache),
    ]);
    const authorKey = this.#view.get('member', seal.author)?.keys[seal.keyId];
    if (authorKey === undefined)
      fail(ErrorCode.LEDGER_CORRUPT, `the author of seal ${sealIndex} has no key ${seal.keyId}`, { index });
    return {
      sealIndex,
      seal: seal.bytes,
      sealInclusion,
      position,
      path: memoryPath(hasher, leaves, position),
      authorKey,
    };
  }

  /**
   * Consistency proof from tree size `size1` to `size2` (default the head).
   * `size2` must end a block, so the bundle carries its signed checkpoint: that
   * signature is what makes both roots trustworthy (the proof ties root1 to it).
   * `checkpoint1` is included when `size1` ends a block too.
   */
  /**
   * A status bundle (`dirchain-status/v1`, docs/formats.md): the status of
   * entity (`type`, `id`) at the checkpoint of tree size `size` (a block
   * boundary; default the head), proven from the status map root in that
   * block's entry. For a grant in the map it also carries its resource and
   * consumer, which its status depends on. `checkStatus` in `dirchain/verify`
   * checks it offline. Checked here before it is returned: damaged storage
   * is an error, never a wrong proof.
   */
  async proveStatus(type: string, id: string, size = this.#head.size): Promise<StatusBundle> {
    if (!STATUS_TYPES.has(type))
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `type must be one of ${[...STATUS_TYPES].join(', ')}, not ${JSON.stringify(type)}`,
      );
    if (typeof id !== 'string' || id === '')
      fail(ErrorCode.INVALID_ARGUMENT, 'id must be a non-empty string');
    const checkpoint = this.checkpoint(size);
    const height = this.#store.heightAtSize(size)!;
    const blockEntry = this.getEntry(size - 1);
    const inclusion = await proveInclusion(hasher, this.#store, size - 1, size, this.#proofCache);
    const items = await proveStatusItems(
      statusMapHasher,
      (pos) => mapNodeAt(this.#store, pos, height),
      type,
      id,
    );
    const bundle: StatusBundle = {
      origin: this.#head.origin,
      size,
      checkpoint,
      blockEntry,
      inclusion,
      items,
    };
    const { root } = blockHeaderOfNote(checkpoint).header;
    try {
      checkStatusBundle(bundle, { size, root }, hasher, statusMapHasher);
    } catch (e) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `the stored status map does not prove ${type} ${JSON.stringify(id)} at size ${size}`,
        {
          hint: 'the folder was damaged on disk: audit it, and restore it from a replica or a backup',
          cause: e,
        },
      );
    }
    return bundle;
  }

  async proveConsistency(size1: number, size2 = this.#head.size): Promise<ConsistencyBundle> {
    const checkpoint2 = this.checkpoint(size2);
    if (!Number.isSafeInteger(size1) || size1 < 1) {
      fail(ErrorCode.INVALID_ARGUMENT, `size1 must be a positive integer, got ${size1}`);
    }
    if (size1 > size2) fail(ErrorCode.NOT_FOUND, `size1 ${size1} is beyond size2 ${size2}`);
    const [root1, consistency] = await Promise.all([
      treeHash(hasher, this.#store, size1, this.#proofCache),
      proveConsistency(hasher, this.#store, size1, size2, this.#proofCache),
    ]);
    const height1 = size1 === size2 ? undefined : this.#store.heightAtSize(size1);
    const checkpoint1 =
      size1 === size2 ? checkpoint2 : height1 === undefined ? undefined : this.#store.getBlock(height1)?.note;
    const root2 = blockHeaderOfNote(checkpoint2).header.root;
    // Checked against the signed roots before it leaves the process, as inclusion bundles are.
    if (
      (checkpoint1 !== undefined && !equalBytes(blockHeaderOfNote(checkpoint1).header.root, root1)) ||
      !checkConsistency(hasher, size1, size2, root1, root2, consistency)
    ) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `the stored hashes for sizes ${size1} and ${size2} do not match the signed roots`,
        {
          hint: 'the folder was damaged on disk: audit it, and restore it from a replica or a backup',
        },
      );
    }
    return {
      origin: this.origin,
      size1,
      size2,
      root1,
      root2,
      consistency,
      ...(checkpoint1 === undefined ? {} : { checkpoint1 }),
      checkpoint2,
    };
  }

  #checkSize(size: number): void {
    if (!Number.isSafeInteger(size) || size < 1 || size > this.#head.size) {
      fail(ErrorCode.NOT_FOUND, `tree size ${size} is outside 1..${this.#head.size}`);
    }
  }

  #checkIndex(index: number, size: number): void {
    this.#checkSize(size);
    if (!Number.isSafeInteger(index) || index < 0 || index >= size) {
      fail(ErrorCode.NOT_FOUND, `record index ${index} is outside 0..${size - 1}`, { index });
    }
  }
}

function headOf(h: BlockHeader, note: string): Head {
  return { origin: h.origin, size: h.size, height: h.height, root: h.root, time: h.time, checkpoint: note };
}
