/**
 * The ledger: records → blocks. Appends from many concurrent callers are
 * gathered into one block (group commit), checked, hashed into the Merkle tree,
 * sealed with one signed checkpoint and written in one LevelDB batch. A
 * caller's promise resolves only after its block is durable.
 *
 * If a block write fails, the in-memory tree may be ahead of the disk, so the
 * ledger stops accepting writes (like a database after a failed fsync); reopen
 * it to continue from the last durable block.
 */
import { equalBytes, utf8 } from '../crypto/bytes.js';
import { loadSigner } from '../crypto/keys.js';
import { sha256Node, verifyNodeAsync } from '../crypto/node-crypto.js';
import { formatVerifierKey, type NoteSigner, parseNote, signNote } from '../crypto/note.js';
import type { Plain } from '../encoding/msgpack.js';
import { decodeRecord, type LedgerRecord, recordSigningMessage, signRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { treeHasher } from '../merkle/hasher.js';
import { proveConsistency, proveInclusion, treeHash } from '../merkle/prove.js';
import { Frontier, storedHashCount, storedHashIndex, subtreesOf } from '../merkle/stored.js';
import { checkAdmission } from '../policy/core.js';
import { applyRecord, authorKey, type LedgerState, stateFromGenesisRecord } from '../policy/state.js';
import { type Durability, LedgerStore } from '../storage/store.js';
import { type BlockHeader, formatBlockHeader, parseBlockHeader } from './checkpoint.js';
import {
  DEFAULT_POLICY,
  GENESIS_KIND,
  type GenesisBody,
  genesisBodyToPlain,
  type MemberSpec,
  type PolicyParams,
} from './genesis.js';

const FORMAT = 'dirchain-ledger/1';
const ZERO_HASH = new Uint8Array(32);

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
}

/** What `append` resolves to, once the record's block is durable. */
export interface Receipt {
  readonly index: number;
  readonly height: number;
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
  /** The exact log entry bytes (the signed record). */
  readonly leaf: Uint8Array;
  readonly inclusion: Uint8Array[];
  readonly root: Uint8Array;
  readonly checkpoint: string;
}

export interface ConsistencyBundle {
  readonly origin: string;
  readonly size1: number;
  readonly size2: number;
  readonly root1: Uint8Array;
  readonly root2: Uint8Array;
  readonly consistency: Uint8Array[];
  /** Signed checkpoints at size1 and size2, when those sizes end a block. */
  readonly checkpoint1?: string;
  readonly checkpoint2?: string;
}

/** A member's signing identity, for `Ledger.submit`. */
export interface MemberSigner {
  readonly id: string;
  readonly keyId: number;
  readonly signer: { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array };
}

interface Pending {
  readonly record: LedgerRecord;
  readonly resolve: (r: Receipt) => void;
  readonly reject: (e: unknown) => void;
}

const hasher = treeHasher(sha256Node);

function headFromNote(note: string): { header: BlockHeader; text: string } {
  const { text } = parseNote(note);
  return { header: parseBlockHeader(text), text };
}

/** Creates a new ledger folder with its genesis block and returns it open. */
export async function createLedger(path: string, options: CreateLedgerOptions): Promise<Ledger> {
  const sequencer = loadSigner(options.sequencerKey);
  if (sequencer.name !== options.origin) {
    fail(
      ErrorCode.KEY_INVALID,
      `the sequencer key is named ${sequencer.name}, the origin is ${options.origin}`,
      {
        hint: 'make the sequencer key with the origin as its name',
      },
    );
  }
  const sequencerId = options.sequencerId ?? 'sequencer';
  const genesis: GenesisBody = {
    members: [
      { id: sequencerId, name: 'Sequencer', roles: ['sequencer'], signingKey: sequencer.publicKey },
      ...options.members,
    ],
    sequencer: sequencerId,
    sequencerKey: verifierKeyText(sequencer),
    policy: { ...DEFAULT_POLICY, ...options.policy },
  };
  const clock = options.clock ?? Date.now;
  const time = clock();
  const record = signRecord(
    {
      origin: options.origin,
      kind: GENESIS_KIND,
      author: sequencerId,
      keyId: 0,
      timestamp: time,
      body: genesisBodyToPlain(genesis),
    },
    sequencer,
  );
  // Validate exactly as a verifier will, before anything touches the disk.
  const state = stateFromGenesisRecord(decodeRecord(record.bytes));
  const frontier = new Frontier(hasher);
  const hashes: Uint8Array[] = [];
  frontier.append(hasher.leaf(record.bytes), hashes);
  const text = formatBlockHeader({
    origin: options.origin,
    size: 1,
    root: frontier.root(),
    height: 0,
    prev: ZERO_HASH,
    time,
  });
  const note = signNote(text, [sequencer]);
  const store = await LedgerStore.open(path, { create: true });
  try {
    await store.writeBlock(
      { height: 0, note, size: 1, firstIndex: 0, entries: [record.bytes], hashStart: 0, hashes },
      'sync',
    );
    await store.putMeta({ format: FORMAT, origin: options.origin });
  } catch (e) {
    await store.close();
    throw e;
  }
  return new Ledger(store, state, frontier, note, sequencer, options);
}

/** Opens an existing ledger folder. Pass `sequencerKey` to append. */
export async function openLedger(path: string, options: LedgerOptions = {}): Promise<Ledger> {
  const store = await LedgerStore.open(path, { create: false });
  try {
    const last = await store.lastBlock();
    const genesisEntry = store.getEntry(0);
    if (last === undefined || genesisEntry === undefined) {
      fail(ErrorCode.LEDGER_NOT_FOUND, `${path} holds no ledger (was creation interrupted?)`, {
        hint: 'remove the folder and run `dirchain init` again',
      });
    }
    const state = stateFromGenesisRecord(decodeRecord(genesisEntry));
    const { header } = headFromNote(last.note);
    const indexes = subtreesOf(0, header.size).map((s) => storedHashIndex(s.level, s.n));
    const frontier = new Frontier(hasher, header.size, store.readHashesSync(indexes));
    if (!equalBytes(frontier.root(), header.root)) {
      fail(ErrorCode.LEDGER_CORRUPT, `stored hashes do not match the root of block ${header.height}`, {
        hint: 'run `dirchain audit` (verifyLedger) to find the damaged index',
      });
    }
    let sequencer: NoteSigner | undefined;
    if (options.sequencerKey !== undefined) {
      sequencer = loadSigner(options.sequencerKey);
      if (verifierKeyText(sequencer) !== state.sequencerKey) {
        fail(ErrorCode.KEY_INVALID, "this is not the sequencer key named in the ledger's genesis record", {
          hint: `genesis names ${state.sequencerKey}`,
        });
      }
    }
    return new Ledger(store, state, frontier, last.note, sequencer, options);
  } catch (e) {
    await store.close();
    throw e;
  }
}

function verifierKeyText(s: NoteSigner): string {
  return formatVerifierKey(sha256Node, s.name, s.publicKey);
}

export class Ledger {
  readonly #store: LedgerStore;
  readonly #state: LedgerState;
  readonly #frontier: Frontier;
  readonly #sequencer: NoteSigner | undefined;
  readonly #durability: Durability;
  readonly #maxRecords: number;
  readonly #maxBytes: number;
  readonly #maxDelayMs: number;
  readonly #clock: () => number;
  #head: Head;
  #headText: string;
  #queue: Pending[] = [];
  #queueBytes = 0;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  #idle: Array<() => void> = [];
  #failure: DirchainError | undefined;
  #closed = false;

  /** @internal use createLedger / openLedger */
  constructor(
    store: LedgerStore,
    state: LedgerState,
    frontier: Frontier,
    note: string,
    sequencer: NoteSigner | undefined,
    options: LedgerOptions,
  ) {
    this.#store = store;
    this.#state = state;
    this.#frontier = frontier;
    this.#sequencer = sequencer;
    this.#durability = options.durability ?? 'sync';
    if (this.#durability !== 'sync' && this.#durability !== 'buffered') {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `durability must be "sync" or "buffered", got ${String(this.#durability)}`,
      );
    }
    this.#maxRecords = positive(options.block?.maxRecords ?? 4096, 'block.maxRecords');
    this.#maxBytes = positive(options.block?.maxBytes ?? 4 * 1024 * 1024, 'block.maxBytes');
    this.#maxDelayMs = options.block?.maxDelayMs ?? 0;
    this.#clock = options.clock ?? Date.now;
    const { header, text } = headFromNote(note);
    this.#head = {
      origin: header.origin,
      size: header.size,
      height: header.height,
      root: header.root,
      time: header.time,
      checkpoint: note,
    };
    this.#headText = text;
  }

  get origin(): string {
    return this.#state.origin;
  }

  get path(): string {
    return this.#store.path;
  }

  /** The latest durable block. */
  head(): Head {
    return this.#head;
  }

  /** The sequencer's checkpoint verifier key (C2SP note format), as named in genesis. */
  get sequencerKey(): string {
    return this.#state.sequencerKey;
  }

  /** The ledger's state (members, policy). Read-only view; do not mutate. */
  get state(): LedgerState {
    return this.#state;
  }

  /**
   * Appends a record signed elsewhere (the bytes its author produced). The
   * signature is verified against the author's registered key before the
   * record is queued. Resolves when the record's block is durable.
   */
  async append(entry: Uint8Array | LedgerRecord): Promise<Receipt> {
    this.#checkWritable();
    return this.#enqueue(await this.#admitSigned(entry instanceof Uint8Array ? entry : entry.bytes));
  }

  /** Decodes a record and verifies its author signature (off the main thread). */
  async #admitSigned(entry: Uint8Array): Promise<LedgerRecord> {
    const record = decodeRecord(entry);
    const key = authorKey(this.#state, record.author, record.keyId);
    if (key === undefined) {
      if (!this.#state.members.has(record.author)) {
        fail(ErrorCode.UNKNOWN_MEMBER, `author ${JSON.stringify(record.author)} is not a member`, {
          hint: 'an admin must add the member first',
        });
      }
      fail(ErrorCode.UNKNOWN_KEY, `member ${record.author} has no key ${record.keyId}`);
    }
    if (!(await verifyNodeAsync(key, recordSigningMessage(record.signed), record.signature))) {
      fail(ErrorCode.BAD_SIGNATURE, `record by ${record.author} does not verify under key ${record.keyId}`, {
        hint: 'the record bytes were changed after signing, or signed with another key',
      });
    }
    return record;
  }

  /**
   * Appends many records signed elsewhere, keeping their order: signatures are
   * verified in parallel, then the records are queued in the given order.
   * Each result is a receipt or the error that refused that record; one
   * refusal does not affect the others.
   */
  async appendMany(entries: readonly Uint8Array[]): Promise<Array<Receipt | DirchainError>> {
    this.#checkWritable();
    const checked = await Promise.all(
      entries.map(async (entry) => {
        try {
          return await this.#admitSigned(entry);
        } catch (e) {
          return toError(e);
        }
      }),
    );
    return Promise.all(
      checked.map((c) =>
        c instanceof DirchainError ? c : this.#enqueue(c).catch((e: unknown) => toError(e)),
      ),
    );
  }

  /**
   * Signs a record as `member` with this ledger's origin and the current time,
   * and appends it. The signature is made here, so it is not re-verified.
   */
  submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt> {
    this.#checkWritable();
    const record = signRecord(
      { origin: this.origin, kind, author: member.id, keyId: member.keyId, timestamp: this.#clock(), body },
      member.signer,
    );
    const key = authorKey(this.#state, member.id, member.keyId);
    if (key === undefined || !equalBytes(key, member.signer.publicKey)) {
      fail(ErrorCode.UNKNOWN_KEY, `the signer is not key ${member.keyId} of member ${member.id}`);
    }
    return this.#enqueue(record);
  }

  /** Resolves once every queued append has been written (or refused). */
  flush(): Promise<void> {
    if (!this.#running && this.#queue.length === 0) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  #checkWritable(): void {
    if (this.#closed) fail(ErrorCode.LEDGER_CLOSED, 'the ledger is closed');
    if (this.#failure) throw this.#failure;
    if (this.#sequencer === undefined) {
      fail(ErrorCode.READ_ONLY, 'the ledger was opened without the sequencer key', {
        hint: 'pass sequencerKey to openLedger (the CLI reads <dir>/keys/sequencer.key)',
      });
    }
  }

  #enqueue(record: LedgerRecord): Promise<Receipt> {
    return new Promise<Receipt>((resolve, reject) => {
      this.#checkWritable(); // the ledger may have closed while a signature was being checked
      this.#queue.push({ record, resolve, reject });
      this.#queueBytes += record.bytes.length;
      this.#schedule();
    });
  }

  #schedule(): void {
    if (this.#running || this.#timer !== undefined) return;
    const full = this.#queue.length >= this.#maxRecords || this.#queueBytes >= this.#maxBytes;
    if (this.#maxDelayMs > 0 && !full) {
      this.#timer = setTimeout(() => this.#run(), this.#maxDelayMs);
    } else {
      this.#timer = setImmediate(() => this.#run());
    }
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#running = true;
    try {
      while (this.#queue.length > 0 && this.#failure === undefined) await this.#commit(this.#take());
    } finally {
      this.#running = false;
      if (this.#failure) this.#rejectQueue(this.#failure);
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }

  #take(): Pending[] {
    let n = 0;
    let bytes = 0;
    while (n < this.#queue.length && n < this.#maxRecords) {
      const size = this.#queue[n]!.record.bytes.length;
      if (n > 0 && bytes + size > this.#maxBytes) break;
      bytes += size;
      n++;
    }
    const batch = this.#queue.splice(0, n);
    this.#queueBytes -= bytes;
    return batch;
  }

  async #commit(batch: Pending[]): Promise<void> {
    const time = Math.max(this.#clock(), this.#head.time);
    const accepted: Pending[] = [];
    for (const p of batch) {
      const refusal = checkAdmission(this.#state, p.record, time);
      if (refusal) {
        p.reject(refusal);
        continue;
      }
      applyRecord(this.#state, p.record);
      accepted.push(p);
    }
    if (accepted.length === 0) return;
    const firstIndex = this.#frontier.size;
    const hashStart = storedHashCount(firstIndex);
    const hashes: Uint8Array[] = [];
    const entries: Uint8Array[] = [];
    for (const p of accepted) {
      entries.push(p.record.bytes);
      this.#frontier.append(hasher.leaf(p.record.bytes), hashes);
    }
    const header: BlockHeader = {
      origin: this.origin,
      size: this.#frontier.size,
      root: this.#frontier.root(),
      height: this.#head.height + 1,
      prev: sha256Node(utf8(this.#headText)),
      time,
    };
    const text = formatBlockHeader(header);
    const note = signNote(text, [this.#sequencer!]);
    try {
      await this.#store.writeBlock(
        { height: header.height, note, size: header.size, firstIndex, entries, hashStart, hashes },
        this.#durability,
      );
    } catch (e) {
      this.#failure = new DirchainError(
        ErrorCode.STORAGE,
        `writing block ${header.height} failed: ${(e as Error).message}; the ledger stopped accepting writes`,
        {
          hint: 'fix the storage problem, then reopen the ledger; it continues from the last durable block',
          cause: e,
        },
      );
      for (const p of accepted) p.reject(this.#failure);
      return;
    }
    this.#head = {
      origin: this.origin,
      size: header.size,
      height: header.height,
      root: header.root,
      time,
      checkpoint: note,
    };
    this.#headText = text;
    for (let i = 0; i < accepted.length; i++)
      accepted[i]!.resolve({ index: firstIndex + i, height: header.height });
  }

  #rejectQueue(e: unknown): void {
    const q = this.#queue;
    this.#queue = [];
    this.#queueBytes = 0;
    for (const p of q) p.reject(e);
  }

  /** The entry bytes at `index`. */
  getEntry(index: number): Uint8Array {
    this.#checkIndex(index, this.#head.size);
    const e = this.#store.getEntry(index);
    if (e === undefined) fail(ErrorCode.LEDGER_CORRUPT, `entry ${index} is missing from storage`, { index });
    return e;
  }

  /** The decoded record at `index`. */
  getRecord(index: number): LedgerRecord {
    return decodeRecord(this.getEntry(index));
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
    return { note: b.note, header: headFromNote(b.note).header };
  }

  /** RFC 9162 root of the first `size` records. */
  treeHash(size = this.#head.size): Promise<Uint8Array> {
    this.#checkSize(size);
    return treeHash(hasher, this.#store, size);
  }

  /** Inclusion proof of record `index` in the tree of `size` (a block boundary; default the head). */
  async proveInclusion(index: number, size = this.#head.size): Promise<InclusionBundle> {
    this.#checkIndex(index, size);
    const checkpoint = this.checkpoint(size);
    const { header } = headFromNote(checkpoint);
    const inclusion = await proveInclusion(hasher, this.#store, index, size);
    return {
      origin: this.origin,
      index,
      size,
      leaf: this.getEntry(index),
      inclusion,
      root: header.root,
      checkpoint,
    };
  }

  /** Consistency proof from tree size `size1` to `size2` (default the head). */
  async proveConsistency(size1: number, size2 = this.#head.size): Promise<ConsistencyBundle> {
    this.#checkSize(size2);
    if (!Number.isSafeInteger(size1) || size1 < 1 || size1 > size2) {
      fail(ErrorCode.INVALID_ARGUMENT, `size1 must be between 1 and size2 (${size2}), got ${size1}`);
    }
    const [root1, root2, consistency] = await Promise.all([
      treeHash(hasher, this.#store, size1),
      treeHash(hasher, this.#store, size2),
      proveConsistency(hasher, this.#store, size1, size2),
    ]);
    const note = (size: number): string | undefined => {
      try {
        return this.checkpoint(size);
      } catch {
        return undefined;
      }
    };
    const checkpoint1 = note(size1);
    const checkpoint2 = note(size2);
    return {
      origin: this.origin,
      size1,
      size2,
      root1,
      root2,
      consistency,
      ...(checkpoint1 === undefined ? {} : { checkpoint1 }),
      ...(checkpoint2 === undefined ? {} : { checkpoint2 }),
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

  /** Waits for queued appends, then closes the database. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    await this.flush();
    this.#closed = true;
    await this.#store.close();
  }

  /** @internal for verifyLedger and tests */
  get store(): LedgerStore {
    return this.#store;
  }
}

function toError(e: unknown): DirchainError {
  if (e instanceof DirchainError) return e;
  return new DirchainError(ErrorCode.STORAGE, (e as Error).message ?? String(e), { cause: e });
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be a positive integer`);
  return n;
}
