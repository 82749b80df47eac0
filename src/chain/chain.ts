/**
 * The replicated state machine: the frontier of the Merkle tree, the last
 * block, the staged state and the entries of the block being formed. A block
 * is opened at its time, its entries applied one by one (`Transition`), and
 * ended either by signing it (`sign`: the sequencer) or by accepting a signed
 * note received for it after checking it against what was computed
 * (`accept`: a verifier, a rebuild, a follower). Both end in the same
 * `FormedBlock`: what the store writes in one batch.
 */
import { equalBytes } from '../crypto/bytes.js';
import type { Verify } from '../crypto/ed25519.js';
import { type NoteSigner, type NoteVerifier, openNote, parseNote, signNote } from '../crypto/note.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { decodeBlockEntry, encodeBlockEntry, isBlockEntry } from '../encoding/block-entry.js';
import { type BlockHeader, formatBlockHeader, parseBlockHeader } from '../encoding/checkpoint.js';
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { type Frontier, HashSink, type PairHasher, storedHashCount } from '../merkle/stored.js';
import type { Change, StateView } from '../policy/entities.js';
import { type GenesisBody, type LedgerParams, paramsFromGenesis } from '../policy/genesis.js';
import type { PolicyContext } from '../policy/rules.js';
import type { BlockWrite } from '../storage/block-write.js';
import { replayFloorEntry } from '../storage/ledger-meta.js';
import { type Known, Transition } from './apply.js';
import { stageGenesis } from './genesis.js';
import type { State } from './state.js';

const ZERO_HASH = new Uint8Array(32);

/** The last block formed: the next one links to it. Height -1 before genesis. */
export interface ChainTip {
  readonly height: number;
  /** The leaf hash of its block entry (undefined before genesis). */
  readonly entry: Uint8Array | undefined;
  readonly time: number;
}

/** A block, formed: everything one LevelDB batch writes for it. */
export interface FormedBlock {
  readonly header: BlockHeader;
  /** The signed checkpoint note. */
  readonly note: string;
  /** Index of its first entry. */
  readonly firstIndex: number;
  readonly entries: Uint8Array[];
  /** Stored-hash index of the first of `hashes`. */
  readonly hashStart: number;
  /** The stored hashes the block adds, 32 bytes each. */
  readonly hashes: Uint8Array;
  /** State and index writes, then the replay floor when it is known. */
  readonly writes: Array<[Uint8Array, Uint8Array]>;
  /** The entity changes, in staging order. */
  readonly changes: Change[];
}

export interface ChainOptions {
  readonly params: LedgerParams;
  readonly state: State;
  readonly frontier: Frontier;
  readonly tip: ChainTip;
  readonly hasher: TreeHasher;
  readonly verify: Verify;
  /** Hashes a tree level's pairs (default: `hasher.node` one pair at a time). */
  readonly pairs?: PairHasher;
}

/** A savepoint: rolling back to it forgets every entry applied since. */
export interface ChainMark {
  readonly state: ReturnType<State['mark']>;
  readonly batch: ReturnType<Transition['mark']>;
  readonly entries: number;
}

export class Chain {
  readonly params: LedgerParams;
  readonly #state: State;
  #frontier: Frontier;
  readonly #hasher: TreeHasher;
  readonly #verify: Verify;
  readonly #pairs: PairHasher;
  readonly #transition: Transition;
  #tip: ChainTip;
  /** The open block's time, or undefined between blocks. */
  #time: number | undefined;
  /** Set once the open block's block entry is applied: nothing may follow it. */
  #ended = false;
  readonly #entries: Uint8Array[] = [];
  /** The open block's leaf hashes, back to back. */
  readonly #leaves = new HashSink(64);

  constructor(options: ChainOptions) {
    this.params = options.params;
    this.#state = options.state;
    this.#frontier = options.frontier;
    this.#hasher = options.hasher;
    this.#verify = options.verify;
    this.#pairs = options.pairs ?? pairsOf(options.hasher);
    this.#tip = options.tip;
    if (options.tip.height >= 0 && options.tip.entry?.length !== 32)
      fail(ErrorCode.INTERNAL, `the tip of block ${options.tip.height} needs its block entry's leaf hash`);
    const ctx: PolicyContext = {
      origin: options.params.origin,
      policy: options.params.policy,
      verify: options.verify,
    };
    this.#transition = new Transition(ctx, options.state, options.hasher);
  }

  /** The last block formed (signed or accepted), durable or not. */
  get tip(): ChainTip {
    return this.#tip;
  }

  /** The status map root after the last block formed (signed or accepted), durable or not. */
  get mapRoot(): Uint8Array {
    return this.#state.map.root();
  }

  /** The state as the entries applied so far leave it (staged included). */
  get view(): StateView {
    return this.#state;
  }

  /** The index the next entry applied gets. */
  get size(): number {
    return this.#frontier.size + this.#entries.length;
  }

  /**
   * The root of the last block's tree with `leaves` (leaf hashes) appended:
   * whether a signed note commits to some entries, without applying them.
   */
  rootWith(leaves: readonly Uint8Array[]): Uint8Array {
    const tree = this.#frontier.clone();
    const out: Uint8Array[] = [];
    for (const leaf of leaves) {
      tree.append(leaf, out);
      out.length = 0;
    }
    return tree.root();
  }

  /** Entries applied to the open block so far. */
  get pending(): number {
    return this.#entries.length;
  }

  /** Opens a block at `time` (milliseconds); its records are judged at that time. */
  begin(time: number): void {
    if (this.#time !== undefined) fail(ErrorCode.INTERNAL, 'a block is already open');
    if (!Number.isSafeInteger(time) || time < 0)
      fail(ErrorCode.INVALID_ARGUMENT, `block time must be whole milliseconds since the epoch, got ${time}`, {
        hint: 'check the clock the ledger was given',
      });
    if (time < this.#tip.time) {
      const height = this.#tip.height + 1;
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} is older than block ${height - 1}`);
    }
    this.#time = time;
  }

  /**
   * Applies the next entry (see `Transition.apply`): on acceptance it joins
   * the open block and the record (undefined for an event) is returned; a
   * refusal is returned with nothing changed.
   */
  apply(
    bytes: Uint8Array,
    leaf: Uint8Array,
    known?: Known,
    leafAt = 0,
  ): LedgerRecord | undefined | DirchainError {
    const time = this.#openTime();
    if (this.#ended)
      fail(ErrorCode.LEDGER_CORRUPT, `entry ${this.size} follows its block's block entry`, {
        index: this.size,
      });
    if (known === undefined && isBlockEntry(bytes)) {
      this.#applyBlockEntry(bytes, leaf.subarray(leafAt, leafAt + 32));
      return undefined;
    }
    const r = this.#transition.apply(bytes, leaf, this.size, time, known, leafAt);
    if (r instanceof DirchainError) return r;
    this.#push(bytes, leaf, leafAt);
    return r;
  }

  #push(bytes: Uint8Array, leaf: Uint8Array, leafAt: number): void {
    this.#entries.push(bytes);
    const h = this.#leaves.reserve(); // first: it may grow the buffer
    this.#leaves.bytes.set(leaf.subarray(leafAt, leafAt + 32), h);
  }

  /** The block entry that ends the open block, as this chain computes it. */
  #blockEntry(): Uint8Array {
    return encodeBlockEntry({
      height: this.#tip.height + 1,
      time: this.#openTime(),
      prev: this.#prev(),
      // The status map after the block: its entities' changes set, in the block's own batch.
      state: this.#state.map.stage(this.#state.staged()),
    });
  }

  /** A received block entry: it must be exactly the one computed here, and it ends the block. */
  #applyBlockEntry(bytes: Uint8Array, leaf: Uint8Array): void {
    const index = this.size;
    const height = this.#tip.height + 1;
    this.#transition.endBlock(index);
    if (!equalBytes(bytes, this.#blockEntry())) {
      const got = decodeBlockEntry(bytes);
      const what =
        got.height !== height
          ? `says it is block ${got.height}`
          : got.time !== this.#time
            ? `has time ${got.time}, not the block's ${this.#time}`
            : !equalBytes(got.prev, this.#prev())
              ? `does not link to block ${height - 1}`
              : 'commits to another status map root than its records make';
      fail(ErrorCode.LEDGER_CORRUPT, `the block entry of block ${height} (entry ${index}) ${what}`, {
        index,
      });
    }
    this.#push(bytes, leaf, 0);
    this.#ended = true;
  }

  /** Closes the open block when nothing was accepted into it (no block is formed). */
  cancel(): void {
    if (this.#entries.length > 0) fail(ErrorCode.INTERNAL, 'the open block has entries: sign or accept it');
    this.#time = undefined;
  }

  /**
   * Applies the genesis record (entry 0): what it fixes is read from it, and
   * its members are staged. Returns its parsed body.
   */
  applyGenesis(record: LedgerRecord, leaf: Uint8Array): GenesisBody {
    this.#openTime();
    if (this.size !== 0) fail(ErrorCode.INTERNAL, 'genesis is entry 0');
    const { genesis } = paramsFromGenesis(record);
    stageGenesis(this.#state, record, genesis, leaf);
    this.#entries.push(record.bytes);
    this.#leaves.bytes.set(leaf, this.#leaves.reserve());
    return genesis;
  }

  mark(): ChainMark {
    return { state: this.#state.mark(), batch: this.#transition.mark(), entries: this.#entries.length };
  }

  rollback(mark: ChainMark): void {
    this.#state.rollback(mark.state);
    this.#transition.rollback(mark.batch);
    this.#entries.length = mark.entries;
    this.#leaves.length = 32 * mark.entries;
  }

  /** Ends the open block by signing its checkpoint: the sequencer. */
  sign(signer: NoteSigner): FormedBlock {
    if (this.#entries.length === 0) fail(ErrorCode.INTERNAL, 'a block needs at least one record');
    this.#transition.endBlock(this.size);
    const entry = this.#blockEntry();
    this.#push(entry, this.#hasher.leaf(entry), 0);
    this.#ended = true;
    const { header, firstIndex, hashStart, hashes } = this.#form(this.#frontier);
    const text = formatBlockHeader(header);
    return this.#end(header, signNote(text, [signer]), firstIndex, hashStart, hashes);
  }

  /**
   * Ends the open block by accepting a signed note received for it: its
   * origin, size, root, height, previous block and time must be the ones
   * computed here, else E_LEDGER_CORRUPT naming the block. The note's
   * signature is checked under `verifier` when given (omit it when the
   * caller has opened the note already).
   */
  accept(note: string, verifier?: NoteVerifier): FormedBlock {
    const { text } = verifier === undefined ? parseNote(note) : openNote(note, [verifier], this.#verify);
    const got = parseBlockHeader(text);
    const height = this.#tip.height + 1;

    // A refused note leaves the tree and the tip as they were; the open block stays open (`abandon` drops it).
    if (got.origin !== this.params.origin)
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} names origin ${got.origin}`);
    if (got.height !== height)
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} says it is block ${got.height}`);
    if (!equalBytes(got.prev, this.#prev()))
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} does not link to block ${height - 1}`);
    if (got.time !== this.#time)
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height}'s time is not the time its records were judged at`);
    if (!this.#ended && got.size > this.#frontier.size)
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} does not end with its block entry`, {
        index: this.size,
      });
    if (got.size <= this.#frontier.size + 1)
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} adds no records`, { index: this.#frontier.size });
    if (got.size !== this.size) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `block ${height} ends at entry ${got.size}, its records end at ${this.size}`,
        {
          index: Math.min(got.size, this.size),
        },
      );
    }
    const first = this.#frontier.size;
    const tree = this.#frontier.clone();
    const { header, firstIndex, hashStart, hashes } = this.#form(tree);
    if (!equalBytes(header.root, got.root)) {
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height}'s root does not match its records`, { index: first });
    }
    this.#frontier = tree;
    return this.#end(header, note, firstIndex, hashStart, hashes);
  }

  /** Drops the open block: its entries and staged changes are forgotten, the chain is as it was before `begin`. */
  abandon(): void {
    this.#state.discard();
    this.#state.map.discard();
    this.#transition.rollback(undefined);
    this.#entries.length = 0;
    this.#leaves.length = 0;
    this.#time = undefined;
    this.#ended = false;
  }

  /** The oldest formed block is durable: its changes become the committed state. */
  durable(): void {
    this.#state.commitPending();
  }

  /** A block write failed: forget every block not yet durable (reopen to continue from the disk). */
  discardAll(): void {
    this.#state.discardAll();
  }

  #openTime(): number {
    if (this.#time === undefined) fail(ErrorCode.INTERNAL, 'no block is open');
    return this.#time;
  }

  #prev(): Uint8Array {
    return this.#tip.entry ?? ZERO_HASH;
  }

  /** Extends `tree` by the open block's entries: the block's header and stored hashes. */
  #form(tree: Frontier): { header: BlockHeader; firstIndex: number; hashStart: number; hashes: Uint8Array } {
    const time = this.#openTime();
    const firstIndex = this.#frontier.size;
    const n = this.#entries.length;
    if (!this.#ended) {
      const height = this.#tip.height + 1;
      fail(ErrorCode.LEDGER_CORRUPT, `block ${height} does not end with its block entry`, {
        index: this.size,
      });
    }
    const hashStart = storedHashCount(firstIndex);
    const sink = new HashSink(2 * n + 8);
    // A level at a time, pairs hashed together (sha256x4.ts on the sequencer).
    tree.appendAll(this.#leaves.bytes, n, sink, this.#pairs);
    const header: BlockHeader = {
      origin: this.params.origin,
      size: tree.size,
      root: tree.root(),
      height: this.#tip.height + 1,
      prev: this.#prev(),
      time,
    };
    return { header, firstIndex, hashStart, hashes: sink.hashes() };
  }

  #end(
    header: BlockHeader,
    note: string,
    firstIndex: number,
    hashStart: number,
    hashes: Uint8Array,
  ): FormedBlock {
    const writes = this.#state.writes();
    writes.push(...this.#state.map.seal(header.height));
    const floor = this.#state.replayFloor();
    if (floor !== undefined) writes.push(replayFloorEntry(floor, header.size));
    const changes = this.#state.seal();
    const entries = this.#entries.slice();
    const entry = this.#leaves.bytes.slice(this.#leaves.length - 32, this.#leaves.length);
    this.#entries.length = 0;
    this.#leaves.length = 0;
    this.#tip = { height: header.height, entry, time: header.time };
    this.#time = undefined;
    this.#ended = false;
    return { header, note, firstIndex, entries, hashStart, hashes, writes, changes };
  }
}

/** A `PairHasher` from a tree hasher's `node`, one pair at a time. */
function pairsOf(hasher: TreeHasher): PairHasher {
  return (input, inAt, pairs, out, at) => {
    for (let i = 0; i < pairs; i++) {
      const l = inAt + 64 * i;
      out.set(hasher.node(input.subarray(l, l + 32), input.subarray(l + 32, l + 64)), at + 32 * i);
    }
  };
}

/** The store's write of a formed block; `extra` pairs go in the same batch (a new folder's meta). */
export function blockWrite(b: FormedBlock, extra: ReadonlyArray<[Uint8Array, Uint8Array]> = []): BlockWrite {
  return {
    height: b.header.height,
    note: b.note,
    size: b.header.size,
    firstIndex: b.firstIndex,
    entries: b.entries,
    hashStart: b.hashStart,
    hashes: b.hashes,
    extra: extra.length === 0 ? b.writes : [...b.writes, ...extra],
  };
}
