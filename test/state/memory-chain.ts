/**
 * A ledger held in memory, for property tests that run thousands of random
 * sequences where one opening a LevelDB folder runs a dozen. The state machine
 * is the real one: records are signed as members sign them (the directory API
 * through a `Submitter`), applied and formed into blocks by `Chain` exactly as
 * the sequencer's group commit does (mark, apply, roll back a refusal, sign),
 * and each block's writes — entities, leaf keys, the status map's current
 * ('V') and history ('W') nodes — go into a Map standing in for the store
 * (`State` takes its backing as a function). Status bundles are assembled as
 * `Reader.proveStatus` assembles them: the block's signed note, its block
 * entry (the last leaf) with its inclusion proof at size − 1, and the map
 * proofs (`proveStatusItems`) read from the current table or from the history.
 */
import type { Chain, ChainTip } from '../../src/chain/chain.js';
import { statusMapHasher } from '../../src/chain/map-state.js';
import { nodeChain } from '../../src/chain/node-chain.js';
import { State } from '../../src/chain/state.js';
import { equalBytes, fromHex, toHex, utf8 } from '../../src/crypto/bytes.js';
import { generateKeyPair, loadSigner } from '../../src/crypto/keys.js';
import { sha256Node } from '../../src/crypto/node-crypto.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import type { NoteSigner } from '../../src/crypto/note.js';
import { Directory } from '../../src/directory/directory.js';
import { memberSigner } from '../../src/directory/member-signer.js';
import type { BatchReceipt, MemberSigner, Receipt, Submitter } from '../../src/directory/submitter.js';
import { type BlockHeader, blockHeaderOfNote } from '../../src/encoding/checkpoint.js';
import type { Plain } from '../../src/encoding/msgpack.js';
import { type LedgerRecord, signRecord } from '../../src/encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../../src/errors.js';
import { memoryPath, memoryRoot } from '../../src/merkle/memory-tree.js';
import { Frontier } from '../../src/merkle/stored.js';
import type { MemberEntity } from '../../src/policy/entities.js';
import type { LedgerParams } from '../../src/policy/genesis.js';
import {
  DEFAULT_POLICY,
  GENESIS_KIND,
  type GenesisBody,
  genesisBodyToPlain,
  type MemberSpec,
  paramsFromGenesis,
  type Role,
} from '../../src/policy/genesis.js';
import type { MapNode } from '../../src/state/map.js';
import { proveStatusItems, type StatusBundle } from '../../src/state/status-proof.js';
import { currentMapReader, mapNodeAt } from '../../src/storage/status-map-table.js';

const hasher = nodeTreeHasher;

export const ORIGIN = 'dirchain.example.gov/city';

/** A member with a key made from its id: the same bytes in every run, so a fast-check seed replays exactly. */
export interface MemoryActor {
  readonly id: string;
  readonly roles: readonly Role[];
  readonly as: MemberSigner;
  readonly publicKey: Uint8Array;
}

const fixedSeed = (name: string): Uint8Array => sha256Node(utf8(`dirchain memory-chain test key ${name}`));

export function fixedActor(id: string, roles: readonly Role[]): MemoryActor {
  const key = generateKeyPair(id, fixedSeed(id));
  return { id, roles, as: memberSigner(key.signerKey), publicKey: key.publicKey };
}

/** The sequencer's key pair (named after the origin, as a checkpoint key must be). */
export const sequencerKey = generateKeyPair(ORIGIN, fixedSeed(ORIGIN));
const sequencer: NoteSigner = loadSigner(sequencerKey.signerKey);

/**
 * The raw key/value store a ledger folder is, in memory: `get` for the
 * state's synchronous reads, and the prefix scan the status map's history
 * reads (`mapNodeAt`) use, with LevelDB's order and `LedgerStore.scan`'s options.
 */
export class MemoryStore {
  readonly #values: Map<string, Uint8Array>;
  /** Keys (hex: the same order as the bytes) in order; rebuilt after a write. */
  #sorted: string[] | undefined;

  /** A new store, or a copy of `from`. */
  constructor(from?: MemoryStore) {
    this.#values = new Map(from === undefined ? [] : from.#values);
  }

  readonly get = (key: Uint8Array): Uint8Array | undefined => this.#values.get(toHex(key));

  /** One block's batch. */
  put(writes: ReadonlyArray<readonly [Uint8Array, Uint8Array]>): void {
    for (const [k, v] of writes) this.#values.set(toHex(k), v.slice());
    this.#sorted = undefined;
  }

  async *scan(
    prefix: Uint8Array,
    options: { after?: Uint8Array; limit?: number; reverse?: boolean } = {},
  ): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#sorted ??= [...this.#values.keys()].sort();
    const keys = this.#sorted;
    const p = toHex(prefix);
    const after = options.after === undefined ? undefined : toHex(options.after);
    let limit = options.limit ?? Number.POSITIVE_INFINITY;
    if (options.reverse) {
      // Keys before `after` (exclusive), newest first.
      let i = lowerBound(keys, after ?? `${p}\uffff`) - 1;
      for (; i >= 0 && limit > 0 && keys[i]!.startsWith(p); i--, limit--)
        yield [fromHex(keys[i]!), this.#values.get(keys[i]!)!];
      return;
    }
    let i = after === undefined ? lowerBound(keys, p) : upperBound(keys, after);
    for (; i < keys.length && limit > 0 && keys[i]!.startsWith(p); i++, limit--)
      yield [fromHex(keys[i]!), this.#values.get(keys[i]!)!];
  }
}

/** The first index whose key is ≥ `k`. */
function lowerBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! < k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The first index whose key is > `k`. */
function upperBound(keys: readonly string[], k: string): number {
  let lo = 0;
  let hi = keys.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (keys[mid]! <= k) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** A block formed and made durable. */
export interface MemoryBlock {
  readonly header: BlockHeader;
  /** The signed checkpoint note. */
  readonly note: string;
  /** The block entry ending it (its last leaf). */
  readonly blockEntry: Uint8Array;
}

/**
 * A ledger just after its genesis block: what every MemoryLedger of the same
 * members and time starts from, as a ledger reopened from its folder does
 * (chain/resume.ts: the store, the members, the tree's frontier, the tip).
 * Made once, because reading genesis checks each member key is a strong
 * Ed25519 point (noble, milliseconds each): most of a run's time otherwise.
 */
interface Genesis {
  readonly params: LedgerParams;
  readonly store: MemoryStore;
  readonly members: readonly MemberEntity[];
  readonly frontier: Frontier;
  readonly tip: ChainTip;
  readonly block: MemoryBlock;
  readonly leaves: readonly Uint8Array[];
}

const geneses = new Map<string, Genesis>();

function genesisOf(members: readonly MemoryActor[], time: number): Genesis {
  const memo = JSON.stringify([members.map((m) => [m.id, m.roles]), time]);
  const known = geneses.get(memo);
  if (known !== undefined) return known;
  const body: GenesisBody = {
    members: [
      { id: 'sequencer', name: 'Sequencer', roles: ['sequencer'], signingKey: sequencer.publicKey },
      ...members.map((m): MemberSpec => ({ id: m.id, name: m.id, roles: m.roles, signingKey: m.publicKey })),
    ],
    sequencer: 'sequencer',
    sequencerKey: sequencerKey.verifierKey,
    policy: DEFAULT_POLICY,
  };
  const record = signRecord(
    {
      origin: ORIGIN,
      kind: GENESIS_KIND,
      author: 'sequencer',
      keyId: 0,
      timestamp: time,
      body: genesisBodyToPlain(body),
    },
    sequencer,
  );
  const store = new MemoryStore();
  const state = new State(store.get, []);
  const frontier = new Frontier(hasher);
  const { params } = paramsFromGenesis(record);
  const chain = nodeChain(params, state, frontier);
  chain.begin(time);
  chain.applyGenesis(record, hasher.leaf(record.bytes));
  const formed = chain.sign(sequencer);
  store.put(formed.writes);
  chain.durable();
  const genesis: Genesis = {
    params,
    store,
    members: [...state.members()],
    frontier: frontier.clone(),
    tip: chain.tip,
    block: { header: formed.header, note: formed.note, blockEntry: formed.entries.at(-1)! },
    leaves: formed.entries.map((e) => hasher.leaf(e)),
  };
  geneses.set(memo, genesis);
  return genesis;
}

interface Queued {
  readonly record: LedgerRecord;
  readonly resolve: (r: Receipt) => void;
  readonly reject: (e: DirchainError) => void;
}

export class MemoryLedger implements Submitter {
  readonly origin = ORIGIN;
  readonly store: MemoryStore;
  readonly chain: Chain;
  readonly directory: Directory;
  /** Every block formed, by height. */
  readonly blocks: MemoryBlock[] = [];
  /** Every entry's leaf hash, by index. */
  readonly leaves: Uint8Array[] = [];
  /** The time records are signed at (`Sequencer.sign` reads its clock). */
  clock = 0;
  /** The record `submit` signed last. */
  lastSigned: LedgerRecord | undefined;
  #queue: Queued[] = [];
  readonly #inclusion = new Map<number, Uint8Array[]>();

  /** A new ledger whose genesis block, at `time`, names `members` (and the sequencer). */
  constructor(members: readonly MemoryActor[], time: number) {
    const g = genesisOf(members, time);
    this.store = new MemoryStore(g.store);
    this.chain = nodeChain(g.params, new State(this.store.get, g.members), g.frontier.clone(), g.tip);
    this.blocks.push(g.block);
    this.leaves.push(...g.leaves);
    this.directory = new Directory(this);
  }

  /** Signs a record as `member` at `clock` and queues it for the next block; `lastSigned` is it. */
  submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt> {
    this.lastSigned = signRecord(
      { origin: ORIGIN, kind, author: member.id, keyId: member.keyId, timestamp: this.clock, body },
      member.signer,
    );
    return this.append(this.lastSigned);
  }

  submitBatch(): Promise<BatchReceipt> {
    return Promise.reject(new DirchainError(ErrorCode.INVALID_ARGUMENT, 'a memory ledger takes no batches'));
  }

  /** Queues a signed record (or a copy of one) for the next block. */
  append(record: LedgerRecord): Promise<Receipt> {
    return new Promise((resolve, reject) => this.#queue.push({ record, resolve, reject }));
  }

  /**
   * Forms a block at `time` from the records queued since the last, as the
   * sequencer's group commit does: each record applied at a savepoint and
   * rolled back when refused; no block when every record was refused.
   * Receipts and refusals are settled once the block is durable.
   */
  formBlock(time: number): MemoryBlock | undefined {
    const queue = this.#queue;
    this.#queue = [];
    const chain = this.chain;
    chain.begin(time);
    const settle: Array<{ q: Queued; index: number }> = [];
    for (const q of queue) {
      const mark = chain.mark();
      const index = chain.size;
      const leaf = hasher.leaf(q.record.bytes);
      let r: unknown;
      try {
        r = chain.apply(q.record.bytes, leaf, { record: q.record });
      } catch (e) {
        r = e;
      }
      if (r instanceof Error) {
        chain.rollback(mark);
        q.reject(r instanceof DirchainError ? r : new DirchainError(ErrorCode.INTERNAL, String(r)));
        continue;
      }
      settle.push({ q, index });
    }
    if (chain.pending === 0) {
      chain.cancel();
      return undefined;
    }
    const block = this.#end();
    for (const { q, index } of settle) q.resolve({ index, height: block.header.height });
    return block;
  }

  /** Signs the open block, writes its batch to the store and makes it durable. */
  #end(): MemoryBlock {
    const formed = this.chain.sign(sequencer);
    const first = formed.firstIndex;
    formed.entries.forEach((e, i) => {
      this.leaves[first + i] = hasher.leaf(e);
    });
    this.store.put(formed.writes);
    this.chain.durable();
    const { header } = blockHeaderOfNote(formed.note);
    // The chain's frontier and a tree made anew over every leaf agree (the inclusion proofs come from the latter).
    if (!equalBytes(memoryRoot(hasher, this.leaves.slice(0, header.size)), header.root))
      fail(ErrorCode.INTERNAL, `block ${header.height}'s root is not the root of its leaves`);
    const block = { header, note: formed.note, blockEntry: formed.entries.at(-1)! };
    this.blocks.push(block);
    return block;
  }

  /** The inclusion proof of the last leaf of the tree of `size`. */
  #lastLeafPath(size: number): Uint8Array[] {
    let path = this.#inclusion.get(size);
    if (path === undefined) {
      path = memoryPath(hasher, this.leaves.slice(0, size), size - 1);
      this.#inclusion.set(size, path);
    }
    return path;
  }

  /**
   * The status bundle of (type, id) at block `height` (default: the last):
   * its map proofs read from the current table ('V', only for the last block)
   * or from the history ('W', the newest version at or below that height).
   */
  async proveStatus(
    type: string,
    id: string,
    height = this.blocks.length - 1,
    from: 'current' | 'history' = 'history',
  ): Promise<StatusBundle> {
    const block = this.blocks[height];
    if (block === undefined) fail(ErrorCode.NOT_FOUND, `no block ${height}`);
    if (from === 'current' && height !== this.blocks.length - 1)
      fail(ErrorCode.INVALID_ARGUMENT, 'the current table holds the last block only');
    const read =
      from === 'current'
        ? currentMapReader(this.store.get)
        : (pos: Uint8Array): Promise<MapNode | undefined> => mapNodeAt(this.store, pos, height);
    const { size } = block.header;
    return {
      origin: ORIGIN,
      size,
      checkpoint: block.note,
      blockEntry: block.blockEntry,
      inclusion: this.#lastLeafPath(size),
      items: await proveStatusItems(statusMapHasher, read, type, id),
    };
  }
}
