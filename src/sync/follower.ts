/**
 * A follower keeps a verified replica of a served ledger (a node, `serve`,
 * or another replica), block by block, through the one state machine: every
 * entry is applied by `Chain.apply` exactly as the sequencer applied it (each
 * record's signature and policy verdict replayed), every block is accepted
 * with `Chain.accept` against its signed note (height, link, time, size,
 * root), and written as one durable LevelDB batch, as the sequencer writes
 * it. It needs no private key: the origin and sequencer key are pinned by
 * the caller, never taken from the server. The served hash tiles are compared
 * byte for byte with the ones the replica computed. Killed at any point, it
 * resumes from its last durable block.
 */
import { existsSync, rmSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Chain, FormedBlock } from '../chain/chain.js';
import { blockWrite } from '../chain/chain.js';
import { nodeChain } from '../chain/node-chain.js';
import { chainStart } from '../chain/resume.js';
import { State } from '../chain/state.js';
import { checkBlockRecords } from '../chain/verify.js';
import { equalBytes } from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { formatVerifierKey, type NoteVerifier, openNote, parseVerifierKey } from '../crypto/note.js';
import type { MemberSigner } from '../directory/submitter.js';
import { type BlockHeader, parseBlockHeader } from '../encoding/checkpoint.js';
import { type Divergence, forkEvidenceToJSON, replayEvidenceToJSON } from '../encoding/evidence.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import { checkConsistency, checkInclusion } from '../merkle/check.js';
import { whereTreesDiffer } from '../merkle/divergence.js';
import { proveConsistency, proveInclusion } from '../merkle/prove.js';
import { Frontier, storedHashIndex } from '../merkle/stored.js';
import { TILE_HEIGHT, TILE_WIDTH, tileForIndex, tilePath, tileWidthAt } from '../merkle/tiles.js';
import { GENESIS_KIND, paramsFromGenesis } from '../policy/genesis.js';
import { LedgerStore, metaEntries, replayFloorMeta, STORAGE_FORMAT } from '../storage/store.js';
import { verifyCosignatures } from '../verify.js';
import { keepEvidence } from './evidence-file.js';
import { HttpBlockSource } from './http-source.js';
import { isLocalSource, type LocalSource, openLocalSource } from './local-source.js';

export interface FollowOptions {
  /** The published sequencer verifier key to pin (`<origin>+<hash>+<base64>`). */
  readonly verifierKey: string;
  /** Sign every request as this member (a node that is not `--public` serves members only). */
  readonly as?: MemberSigner;
  /** Catch up to the served checkpoint, then return (default: keep following until `signal` aborts). */
  readonly once?: boolean;
  /** How often to ask for a newer checkpoint once caught up (default 1 s); doubled after each failure, to 30 s. */
  readonly pollMs?: number;
  /** Stops following (between blocks; the replica keeps every block written so far). */
  readonly signal?: AbortSignal;
  /** After each block: the replica's size and height, and the size it is catching up to. */
  readonly onProgress?: (p: { size: number; height: number; target: number }) => void;
  /** Per request (default 30 s). */
  readonly timeoutMs?: number;
  /** Where fork and replay evidence is written (default: the folder that holds the replica folder). */
  readonly evidenceDir?: string;
  /**
   * Follow only checkpoints cosigned by `quorum` of these witnesses (C2SP
   * tlog-cosignature), read from a node's `dirchain/v1/checkpoint/cosigned`:
   * one the witnesses did not vouch for is E_QUORUM.
   */
  readonly witnesses?: readonly string[];
  readonly quorum?: number;
}

export interface FollowReport {
  readonly origin: string;
  /** The replica's tree size and last block height when `follow` returned. */
  readonly size: number;
  readonly height: number;
  /** Blocks and entries this call added. */
  readonly blocks: number;
  readonly entries: number;
  /** What this call read from the source: requests (or folder reads) and body bytes. */
  readonly fetched: { readonly requests: number; readonly bytes: number };
}

const hasher = nodeTreeHasher;
const MAX_POLL_MS = 30_000;
/** A catch-up writes verified blocks in groups of up to this many blocks or entries, one fsync each. */
const GROUP_BLOCKS = 64;
const GROUP_ENTRIES = 8192;

/**
 * Keeps the replica at `path` (created if there is none) following the ledger
 * served at `url`. Resolves when caught up with `once`, or when `signal`
 * aborts; rejects with a typed error when the server serves anything the
 * replay refuses (the replica keeps every block verified before it).
 */
export async function follow(path: string, url: string, options: FollowOptions): Promise<FollowReport> {
  const follower = await Follower.open(path, url, options);
  try {
    return await follower.run(options);
  } finally {
    await follower.close();
  }
}

/**
 * A replica folder open for following: the store, and the chain continuing
 * from its last durable block. `follow` runs one to the end; a replica node
 * (openReplica) serves reads from the same store while it runs.
 */
export class Follower {
  readonly store: LedgerStore;
  readonly chain: Chain;
  /** The state the chain stages into; committed as each block is durable. */
  readonly state: State;
  readonly #replica: Replica;
  readonly #source: HttpBlockSource;
  readonly #pinned: NoteVerifier;
  readonly #local: LocalSource | undefined;
  #cosigned: string | undefined;

  private constructor(
    replica: Replica,
    source: HttpBlockSource,
    pinned: NoteVerifier,
    local: LocalSource | undefined,
  ) {
    this.#replica = replica;
    this.store = replica.store;
    this.chain = replica.chain;
    this.state = replica.state;
    this.#source = source;
    this.#pinned = pinned;
    this.#local = local;
  }

  /**
   * Opens the replica at `path`, or makes one from the served genesis block.
   * `from` is a server's address, or a ledger folder on this machine (read
   * without HTTP, checked the same way: sync/local-source.ts).
   */
  static async open(
    path: string,
    from: string,
    options: Pick<FollowOptions, 'verifierKey' | 'as' | 'timeoutMs' | 'witnesses' | 'quorum'>,
  ): Promise<Follower> {
    const pinned = pinnedKey(options.verifierKey);
    const witnessed = options.witnesses !== undefined && options.witnesses.length > 0;
    if (options.quorum !== undefined && !witnessed)
      fail(ErrorCode.INVALID_ARGUMENT, 'a witness quorum needs the witness keys it counts', {
        hint: 'give witnesses with the quorum, or no quorum',
      });
    if (witnessed && isLocalSource(from))
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `${from} is a folder: it holds no cosigned checkpoint to require witnesses of`,
        {
          hint: 'follow a node that collects cosignatures, or a folder without witnesses',
        },
      );
    const local = isLocalSource(from) ? await openLocalSource(from) : undefined;
    try {
      const source = new HttpBlockSource(from, {
        ...(options.as === undefined ? {} : { as: options.as }),
        ...(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs }),
        ...(options.witnesses === undefined || options.witnesses.length === 0
          ? {}
          : { checkpointPath: 'dirchain/v1/checkpoint/cosigned' }),
        ...(local === undefined ? {} : { get: local.get }),
      });
      // A folder LevelDB has written to (its CURRENT file) is a replica to continue; anything else gets one made.
      let replica = existsSync(join(path, 'CURRENT')) ? await openReplica(path, pinned) : undefined;
      // undefined also for a folder whose first sync was stopped before its genesis block was written.
      replica ??= await createReplica(path, source, pinned);
      return new Follower(replica, source, pinned, local);
    } catch (e) {
      await local?.close();
      throw e;
    }
  }

  /** Closes the replica and the source. */
  async close(): Promise<void> {
    try {
      await this.store.close();
    } finally {
      await this.closeSource();
    }
  }

  /** Releases the source (a local source folder's lock); the replica stays open. */
  async closeSource(): Promise<void> {
    await this.#local?.close();
  }

  /**
   * Following witnessed checkpoints: the last one the replica caught up to,
   * with its cosignatures (a replica node serves it, so followers chained
   * behind it can require the witnesses too).
   */
  get cosigned(): string | undefined {
    return this.#cosigned;
  }

  /** The last durable block's header and note. */
  get head(): { header: BlockHeader; note: string } {
    return { header: this.#replica.header, note: this.#replica.note };
  }

  /**
   * Follows until caught up (`once`) or until `signal` aborts. `onBlock` is
   * told of each block once it is durable (a replica node advances its head).
   */
  async run(
    options: Omit<FollowOptions, 'verifierKey' | 'as' | 'timeoutMs'> & {
      onBlock?: (block: FormedBlock) => void;
    },
  ): Promise<FollowReport> {
    const replica = this.#replica;
    let blocks = 0;
    let entries = 0;
    let pollMs = options.pollMs ?? 1000;
    for (;;) {
      if (options.signal?.aborted) break;
      let target: BlockHeader;
      let note: string;
      try {
        note = (await this.#source.refresh()).note;
        target = servedHeader(note, this.#pinned);
        if (options.witnesses !== undefined && options.witnesses.length > 0)
          verifyCosignatures(note, {
            witnesses: options.witnesses,
            quorum: options.quorum ?? options.witnesses.length,
          });
      } catch (e) {
        // Network trouble, or a checkpoint not yet cosigned by enough witnesses: wait and ask again;
        // with --once it is the answer.
        if (options.once || !(isDirchainError(e, ErrorCode.REMOTE) || isDirchainError(e, ErrorCode.QUORUM)))
          throw e;
        pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
        await wait(pollMs, options.signal);
        continue;
      }
      let added: { blocks: number; entries: number };
      try {
        added = await catchUp(replica, this.#source, { header: target, note }, this.#pinned, options);
      } catch (e) {
        // A fetch that failed midway: the replica holds every block before it; ask again later.
        if (options.once || !isDirchainError(e, ErrorCode.REMOTE)) throw e;
        pollMs = Math.min(MAX_POLL_MS, pollMs * 2);
        await wait(pollMs, options.signal);
        continue;
      }
      pollMs = options.pollMs ?? 1000;
      blocks += added.blocks;
      entries += added.entries;
      if (
        options.witnesses !== undefined &&
        options.witnesses.length > 0 &&
        replica.chain.size === target.size
      )
        this.#cosigned = note;
      if (options.once) break;
      if (added.blocks === 0) await wait(pollMs, options.signal);
    }
    return {
      origin: replica.chain.params.origin,
      size: replica.chain.size,
      height: replica.chain.tip.height,
      blocks,
      entries,
      fetched: { requests: this.#source.stats.requests, bytes: this.#source.stats.bytes },
    };
  }
}

interface Replica {
  readonly path: string;
  readonly store: LedgerStore;
  readonly chain: Chain;
  readonly state: State;
  readonly genesis: LedgerRecord;
  /** The last durable block's header and note. */
  header: BlockHeader;
  note: string;
  /** The served tiles were compared with the replica's up to this tree size (from where this run began). */
  tilesChecked?: number;
}

function pinnedKey(text: string): NoteVerifier {
  if (typeof text !== 'string' || text.startsWith('PRIVATE+KEY'))
    fail(ErrorCode.KEY_INVALID, 'give the published sequencer verifier key, not a signer key', {
      hint: 'the sequencer.pub that init wrote: <origin>+<hash>+<base64>',
    });
  return parseVerifierKey(sha256Node, text.trim());
}

/** The header of a served note, which must be signed by the pinned key for the pinned origin. */
function servedHeader(note: string, pinned: NoteVerifier): BlockHeader {
  const { text } = openNote(note, [pinned], verifyNode);
  const header = parseBlockHeader(text);
  if (header.origin !== pinned.name)
    fail(ErrorCode.CHECKPOINT_INVALID, `the served checkpoint is for ${header.origin}, not ${pinned.name}`);
  return header;
}

/** The replica in `path`; undefined (the folder removed) when it holds nothing yet: a first sync stopped early. */
async function openReplica(path: string, pinned: NoteVerifier): Promise<Replica | undefined> {
  const store = await LedgerStore.open(path, { create: false });
  try {
    if ((await store.lastBlock()) === undefined && store.entryCount === 0) {
      // Nothing was verified into it: start again from the served genesis block.
      await store.close();
      rmSync(path, { recursive: true, force: true });
      return undefined;
    }
    const start = await chainStart(store, path);
    if (start.params.sequencerKey !== formatKey(pinned)) {
      fail(
        ErrorCode.KEY_INVALID,
        `the replica at ${path} is of a ledger with sequencer key ${start.params.sequencerKey}`,
        {
          hint: 'follow it with the key it was made with, or give another folder',
        },
      );
    }
    const chain = nodeChain(start.params, start.state, start.frontier, {
      height: start.header.height,
      entry: start.tipEntry,
      time: start.header.time,
    });
    const genesis = decodeRecord(store.getEntry(0)!);
    return { path, store, chain, state: start.state, genesis, header: start.header, note: start.note };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** A new replica: the served genesis block, checked against the pinned key, written as createLedger writes it. */
async function createReplica(path: string, source: HttpBlockSource, pinned: NoteVerifier): Promise<Replica> {
  servedHeader((await source.lastBlock()).note, pinned);
  let genesisEntry: Uint8Array | undefined;
  for await (const [, e] of source.entries(0, 1)) genesisEntry = e;
  let note: string | undefined;
  for await (const b of source.blocks(0)) {
    note = b.note;
    break;
  }
  if (genesisEntry === undefined || note === undefined)
    fail(ErrorCode.LEDGER_CORRUPT, 'the server has no genesis block', { index: 0 });
  const genesis = decodeRecord(genesisEntry);
  const { params } = paramsFromGenesis(genesis);
  if (genesis.kind !== GENESIS_KIND || params.sequencerKey !== formatKey(pinned)) {
    fail(ErrorCode.CHECKPOINT_INVALID, `the served genesis names sequencer key ${params.sequencerKey}`, {
      hint: 'the pinned key is not the one this ledger was made with',
    });
  }
  const header = servedHeader(note, pinned);
  const store = await LedgerStore.open(path, { create: true });
  try {
    const state = new State((k) => store.getRaw(k), []);
    const chain = nodeChain(params, state, new Frontier(hasher));
    chain.begin(header.time);
    await checkBlockRecords(source, undefined, chain, genesis, 0, header.size, undefined);
    const formed = chain.accept(note);
    await store.writeBlock(
      blockWrite(formed, [
        ...metaEntries({ format: STORAGE_FORMAT, origin: params.origin, ...replayFloorMeta(0, header.size) }),
      ]),
      'sync',
    );
    chain.durable();
    state.setReplayFloor(0);
    return { path, store, chain, state, genesis, header: formed.header, note };
  } catch (e) {
    await store.close();
    throw e;
  }
}

/** Replays and writes every block after the replica's up to `target`, then compares the served tiles with its own. */
async function catchUp(
  replica: Replica,
  source: HttpBlockSource,
  served: { header: BlockHeader; note: string },
  pinned: NoteVerifier,
  options: Pick<FollowOptions, 'signal' | 'onProgress' | 'evidenceDir'> & {
    onBlock?: (block: FormedBlock) => void;
  },
): Promise<{ blocks: number; entries: number }> {
  const { chain, store, genesis } = replica;
  const target = served.header;
  const from = chain.size;
  if (target.size <= from) {
    // The replica's own signed note of that size, if a block ends there: a different root is a fork.
    const height = target.size === from ? replica.header.height : store.heightAtSize(target.size);
    const own = height === undefined ? undefined : store.getBlock(height)?.note;
    if (own !== undefined && !equalBytes(servedHeader(own, pinned).root, target.root)) {
      const file = keepFork(replica, source, pinned, options, own, served.note);
      fail(ErrorCode.FORK, `the log forked: two signed trees of size ${target.size} have different roots`, {
        hint: `both signed checkpoints are in ${file}: anyone verifies it offline with the published key (dirchain verify)`,
      });
    }
    if (target.size < from) {
      fail(
        ErrorCode.CHECKPOINT_INVALID,
        `the served checkpoint (size ${target.size}) is older than the replica's (size ${from})`,
        { hint: 'the server is behind, or rolled the log back: follow another one' },
      );
    }
  }
  if (target.size > from && target.height <= chain.tip.height) {
    // A larger tree in a block the replica holds: the log signed two notes for that block.
    const held = servedHeader(store.getBlock(target.height)!.note, pinned);
    fail(
      ErrorCode.CHECKPOINT_INVALID,
      `the served checkpoint ends block ${target.height} at size ${target.size}; the replica's block ${target.height}, signed by the same key, ends at size ${held.size}`,
      { hint: 'the log signed two notes for one block: keep both, and follow another server' },
    );
  }
  if (target.size > from) await checkExtends(replica, source, served, pinned, options);
  let blocks = 0;
  // Verified blocks not yet written: written together, one fsync for the group, as the sequencer
  // writes the blocks it formed meanwhile. Killed before that, the follower fetches them again.
  const pending: FormedBlock[] = [];
  let pendingEntries = 0;
  const flush = async (): Promise<void> => {
    if (pending.length === 0) return;
    const group = pending.splice(0);
    pendingEntries = 0;
    try {
      await store.writeBlocks(
        group.map((f) => blockWrite(f)),
        'sync',
      );
    } catch (e) {
      chain.discardAll();
      throw e;
    }
    for (const formed of group) {
      chain.durable();
      replica.header = formed.header;
      replica.note = formed.note;
      options.onBlock?.(formed);
      blocks++;
      options.onProgress?.({ size: formed.header.size, height: formed.header.height, target: target.size });
    }
  };
  try {
    if (target.height > chain.tip.height) {
      for await (const block of source.blocks(chain.tip.height + 1)) {
        if (options.signal?.aborted) break;
        const header = servedHeader(block.note, pinned);
        if (header.height !== chain.tip.height + 1)
          fail(ErrorCode.LEDGER_CORRUPT, `block ${chain.tip.height + 1} is missing (found ${header.height})`);
        const first = chain.size;
        let formed: FormedBlock;
        chain.begin(header.time);
        // A refusal of what the note commits to is the log's; a served tile that lists another leaf is the server's.
        const refused = async (e: unknown): Promise<never> => {
          chain.abandon();
          // The blocks verified before it are kept: the evidence is checked against a replica at the block before.
          await flush();
          if (isDirchainError(e) && e.code !== ErrorCode.REMOTE)
            await signedButRefused(replica, source, { header, note: block.note }, first, e, options);
          throw named(e, header.height);
        };
        try {
          await checkBlockRecords(source, undefined, chain, genesis, first, header.size, undefined);
        } catch (e) {
          // refused() always throws: the evidence, or the refusal itself.
          throw await refused(e);
        }
        if (source.tileMismatch !== undefined) {
          chain.abandon();
          const at = source.tileMismatch;
          const n = Math.floor(at / TILE_WIDTH);
          fail(
            ErrorCode.LEDGER_CORRUPT,
            `block ${header.height}: the served hash tile ${tilePath({ level: 0, n, width: tileWidthAt(0, n, target.size) })} does not list the leaf hash of entry ${at}`,
            { index: at },
          );
        }
        try {
          formed = chain.accept(block.note);
        } catch (e) {
          // refused() always throws: the evidence, or the refusal itself.
          throw await refused(e);
        }
        pending.push(formed);
        pendingEntries += formed.header.size - first;
        if (
          header.height === target.height ||
          pending.length >= GROUP_BLOCKS ||
          pendingEntries >= GROUP_ENTRIES
        )
          await flush();
        if (header.height === target.height) break;
      }
    }
  } catch (e) {
    // Stopped by a failed fetch or a refusal: the blocks verified before it are kept. A failed write
    // is the error then: the chain holds blocks the disk does not, and must not be retried from.
    await flush();
    throw e;
  }
  // Stopped by `signal`: likewise.
  await flush();
  // From where the last comparison stopped: a run whose comparison failed midway checks that range again.
  replica.tilesChecked ??= from;
  await compareTiles(store, source, replica.tilesChecked, chain.size);
  replica.tilesChecked = chain.size;
  return { blocks, entries: chain.size - from };
}

/**
 * That the served tree extends the replica's (RFC 9162 §2.1.4.2), by a
 * consistency proof made from the served hash tiles, before any block is
 * replayed. When it does not, either the log forked before the replica's size
 * (a leaf the two signed trees disagree on, each proven under its root, is
 * kept as fork evidence: E_FORK) or the server's tiles are not the signed tree
 * (E_LEDGER_CORRUPT naming the tile).
 */
async function checkExtends(
  replica: Replica,
  source: HttpBlockSource,
  served: { header: BlockHeader; note: string },
  pinned: NoteVerifier,
  options: Pick<FollowOptions, 'evidenceDir'>,
): Promise<void> {
  const own = replica.header;
  const target = served.header;
  const theirs = source.hashReader(target.size);
  const proof = await proveConsistency(hasher, theirs, own.size, target.size);
  if (checkConsistency(hasher, own.size, target.size, own.root, target.root, proof)) return;
  const changedTile = (level: number, n: number, why: string): never => {
    const { tile } = tileForIndex(storedHashIndex(level, n));
    const path = tilePath({ ...tile, width: tileWidthAt(tile.level, tile.n, target.size) });
    return fail(ErrorCode.LEDGER_CORRUPT, `the served hash tile ${path} is not the signed tree's: ${why}`, {
      index: n * 2 ** level,
      hint: 'the server serves tiles that are not the signed tree: do not trust its proofs',
    });
  };
  const at = await whereTreesDiffer(replica.store, theirs, own.size);
  // Their first leaves are the replica's: the replay below checks the rest against the signed note, and names a changed tile.
  if (at === undefined) return;
  if (at.level > 0)
    changedTile(
      at.level,
      at.n,
      `its hash of leaves ${at.n * 2 ** at.level}.. is not the hash of its two halves`,
    );
  const index = at.n;
  const [[leaf1], [leaf2]] = await Promise.all([
    replica.store.readHashes([storedHashIndex(0, index)]),
    theirs.readHashes([storedHashIndex(0, index)]),
  ]);
  const proof2 = await proveInclusion(hasher, theirs, index, target.size);
  if (!checkInclusion(hasher, index, target.size, leaf2!, proof2, target.root))
    changedTile(
      0,
      index,
      `leaf ${index} differs from the replica's, and is not in the signed tree of size ${target.size}`,
    );
  const proof1 = await proveInclusion(hasher, replica.store, index, own.size);
  const file = keepFork(replica, source, pinned, options, replica.note, served.note, {
    index,
    leaf1: leaf1!,
    proof1,
    leaf2: leaf2!,
    proof2,
  });
  fail(
    ErrorCode.FORK,
    `the log forked: the signed trees of sizes ${own.size} and ${target.size} hold different entries at index ${index}`,
    {
      index,
      hint: `both signed checkpoints and the two inclusion proofs are in ${file}: anyone verifies it offline with the published key (dirchain verify)`,
    },
  );
}

/** Keeps fork evidence (the replica's signed note, the served one, and where they part) beside the replica. */
function keepFork(
  replica: Replica,
  source: HttpBlockSource,
  pinned: NoteVerifier,
  options: Pick<FollowOptions, 'evidenceDir'>,
  checkpoint1: string,
  checkpoint2: string,
  divergence?: Divergence,
): string {
  const seenAt = new Date().toISOString();
  return keepEvidence(
    options.evidenceDir ?? dirname(replica.path),
    'fork',
    seenAt,
    forkEvidenceToJSON({
      origin: pinned.name,
      checkpoint1,
      checkpoint2,
      ...(divergence === undefined ? {} : { divergence }),
      source: source.base,
      seenAt,
    }),
  );
}

/**
 * Every served hash tile that covers entries added since `from` must be, byte
 * for byte, the tile the replica's own tree gives: proofs fetched from that
 * server are made from them.
 */
async function compareTiles(
  store: LedgerStore,
  source: HttpBlockSource,
  from: number,
  size: number,
): Promise<void> {
  if (size === from) return;
  for (let level = 0; ; level++) {
    const span = 2 ** (TILE_HEIGHT * level);
    const count = Math.floor(size / span);
    if (count === 0) return;
    const firstTile = Math.floor(Math.floor(from / span) / TILE_WIDTH);
    // Level 0: the entry reads checked every served leaf hash from `from` on (tileMismatch), at this
    // size; only the tile holding `from` also lists leaves before it, which they did not read.
    const lastTile = level === 0 ? (from % TILE_WIDTH === 0 ? firstTile - 1 : firstTile) : Infinity;
    for (let n = firstTile; n * TILE_WIDTH < count && n <= lastTile; n++) {
      const width = tileWidthAt(level, n, size);
      const path = tilePath({ level, n, width });
      const served = await source.tile(path);
      const own = store.checkedHashTile(level, n, width);
      if (!equalBytes(served, own)) {
        const i = firstDifference(served, own);
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `the served hash tile ${path} differs from the replica's at hash ${i}`,
          {
            index: (n * TILE_WIDTH + i) * span,
            hint: 'the server serves proofs from a tree that is not the signed one: do not trust its proofs',
          },
        );
      }
    }
  }
}

/**
 * A block whose replay failed: if its signed note commits to the entries
 * served (their root is the note's), the log itself signed what its rules
 * refuse, not the server changing it: kept as replay evidence and thrown as
 * E_INVALID_BLOCK. Otherwise it returns, and the refusal stands (a server
 * that changed entries is refused as such).
 */
async function signedButRefused(
  replica: Replica,
  source: HttpBlockSource,
  block: { header: BlockHeader; note: string },
  first: number,
  refusal: DirchainError,
  options: Pick<FollowOptions, 'evidenceDir'>,
): Promise<void> {
  const entries: Uint8Array[] = [];
  try {
    for await (const [, e] of source.entries(first, block.header.size)) entries.push(e);
  } catch {
    return;
  }
  const root = replica.chain.rootWith(entries.map((e) => hasher.leaf(e)));
  if (entries.length !== block.header.size - first || !equalBytes(root, block.header.root)) return;
  const seenAt = new Date().toISOString();
  const file = keepEvidence(
    options.evidenceDir ?? dirname(replica.path),
    'invalid-block',
    seenAt,
    replayEvidenceToJSON({
      origin: block.header.origin,
      height: block.header.height,
      note: block.note,
      entries,
      index: refusal.index ?? first,
      code: refusal.code,
      message: refusal.message,
      source: source.base,
      seenAt,
    }),
  );
  fail(
    ErrorCode.INVALID_BLOCK,
    `the log signed block ${block.header.height}, which its rules refuse at entry ${refusal.index ?? first}: ${refusal.code}`,
    {
      ...(refusal.index === undefined ? {} : { index: refusal.index }),
      hint: `the signed note and the block's entries are in ${file}: check it against a replica at block ${block.header.height - 1} (dirchain verify ${file} --key <key> --replica <dir>)`,
    },
  );
}

function firstDifference(a: Uint8Array, b: Uint8Array): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) if (a[i] !== b[i]) return Math.floor(i / 32);
  return Math.floor(n / 32);
}

function named(e: unknown, height: number): unknown {
  if (!isDirchainError(e) || e.message.includes(`block ${height}`)) return e;
  return new DirchainError(e.code, `block ${height}: ${e.message}`, {
    ...(e.index === undefined ? {} : { index: e.index }),
    ...(e.hint === undefined ? {} : { hint: e.hint }),
    cause: e,
  });
}

function formatKey(k: NoteVerifier): string {
  return formatVerifierKey(sha256Node, k.name, k.publicKey);
}

async function wait(ms: number, signal: AbortSignal | undefined): Promise<void> {
  try {
    await sleep(ms, undefined, signal === undefined ? undefined : { signal });
  } catch {
    // Aborted: the loop sees it.
  }
}
