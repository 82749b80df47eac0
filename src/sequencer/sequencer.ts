/**
 * The sequencer: records → blocks. Appends from many concurrent callers are
 * gathered into one block (group commit), applied through the chain (the one
 * state transition every node runs), signed with one checkpoint and written
 * in one LevelDB batch. A caller's promise resolves only after its block is
 * durable.
 *
 * If a block write fails, the in-memory tree may be ahead of the disk, so the
 * sequencer stops accepting writes (like a database after a failed fsync);
 * reopen the ledger to continue from the last durable block.
 */
import { availableParallelism } from 'node:os';
import type { Known } from '../chain/apply.js';
import type { Chain, FormedBlock } from '../chain/chain.js';
import { blockWrite } from '../chain/chain.js';
import type { State } from '../chain/state.js';
import {
  checkArray,
  checkObject,
  checkString,
  copyBytes,
  equalBytes,
  show,
  typeOf,
} from '../crypto/bytes.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import type { NoteSigner } from '../crypto/note.js';
import { checkMemberSigner } from '../directory/member-signer.js';
import type { BatchReceipt, MemberSigner, Receipt } from '../directory/submitter.js';
import { BATCH_KIND, isEventEntry, parseBatchBody, type SignedBatch } from '../encoding/event.js';
import type { Plain } from '../encoding/msgpack.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import type { BlockWrite, Durability, LedgerStore } from '../storage/store.js';
import { Admission } from './admission.js';
import { AdmissionPool } from './admission-pool.js';
import { BlockWriter } from './block-writer.js';
import { type Group, GroupCommit, type Item } from './group-commit.js';
import {
  aborted,
  asResult,
  batchRefusal,
  type Pending,
  type PendingBatch,
  pendingBytes,
  pendingRecord,
  positive,
  toError,
  weighed,
} from './pending.js';
import { signAs, signBatchAs } from './sign-batch.js';

const hasher = nodeTreeHasher;

export interface BlockOptions {
  /** Most records in one block (default 4096). */
  maxRecords?: number;
  /** Most entry bytes in one block (default 4 MiB). */
  maxBytes?: number;
  /** How long a block waits for more records once the first arrives (default 0: the current event-loop turn). */
  maxDelayMs?: number;
}

export interface SequencerOptions {
  /** `sync` (default): fsync every block before acknowledging. `buffered`: survives a process crash, not a power cut. */
  durability?: Durability;
  block?: BlockOptions;
  /** Milliseconds since the epoch; injectable for tests. */
  clock?: () => number;
  /**
   * Worker threads that check records and batches signed elsewhere: seal
   * signature, event decoding, leaf hashes, root. Default: the number of CPUs
   * (at most 4); 0 checks in-thread.
   */
  workers?: number;
  /**
   * Told of every block once it is durable: its height, how many entries it
   * holds, and the seconds from forming it to durable (for metrics).
   */
  onBlock?: (block: { height: number; entries: number; seconds: number }) => void;
}

export interface AppendManyOptions {
  /** All or nothing: the records go into one block together, or none of them does. */
  atomic?: boolean;
}

export class Sequencer {
  readonly #chain: Chain;
  readonly #state: State;
  readonly #signer: NoteSigner;
  readonly #durability: Durability;
  readonly #clock: () => number;
  readonly #queue: GroupCommit<Pending, Receipt>;
  readonly #pool: AdmissionPool;
  readonly #admission: Admission;
  /** Formed blocks on their way to disk; those formed during a write share the next one. */
  readonly #writer: BlockWriter<BlockWrite>;
  /** Told of every block once it is durable, in order. */
  readonly #durable: (block: FormedBlock) => void;
  readonly #onBlock: SequencerOptions['onBlock'];
  #closing = false;
  #closed = false;

  constructor(
    store: LedgerStore,
    chain: Chain,
    state: State,
    signer: NoteSigner,
    options: SequencerOptions,
    durable: (block: FormedBlock) => void,
  ) {
    this.#chain = chain;
    this.#state = state;
    this.#signer = signer;
    this.#durable = durable;
    this.#onBlock = options.onBlock;
    this.#durability = options.durability ?? 'sync';
    if (this.#durability !== 'sync' && this.#durability !== 'buffered') {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `durability must be "sync" or "buffered", got ${String(this.#durability)}`,
      );
    }
    this.#writer = new BlockWriter((blocks) => store.writeBlocks(blocks, this.#durability));
    this.#queue = new GroupCommit(
      {
        maxItems: positive(options.block?.maxRecords ?? 4096, 'block.maxRecords'),
        maxBytes: positive(options.block?.maxBytes ?? 4 * 1024 * 1024, 'block.maxBytes'),
        maxDelayMs: options.block?.maxDelayMs ?? 0,
      },
      (batch) => this.#commit(batch),
    );
    this.#clock = options.clock ?? Date.now;
    this.#pool = new AdmissionPool(options.workers ?? Math.min(4, availableParallelism()));
    this.#admission = new Admission(this.#pool, state);
  }

  get origin(): string {
    return this.#chain.params.origin;
  }

  /**
   * Appends a record signed elsewhere (the bytes its author produced). The
   * signature is verified against the author's registered key before the
   * record is queued (only its envelope is read for that); its body is
   * decoded strictly and the policy rules run when its block is formed, so
   * E_DECODE / E_SCHEMA for a malformed body come from there.
   * Resolves when the record's block is durable; rejects with the refusal.
   */
  async append(entry: Uint8Array | LedgerRecord): Promise<Receipt> {
    if (!(entry instanceof Uint8Array || entry?.bytes instanceof Uint8Array))
      fail(ErrorCode.INVALID_ARGUMENT, `entry: expected a Uint8Array or a record, got ${typeOf(entry)}`);
    this.#checkWritable();
    const pending = await this.#admission.signed(entry instanceof Uint8Array ? entry : entry.bytes);
    this.#checkWritable(); // the ledger may have closed while the signature was checked
    return this.#queue.push([weighed(pending)], false)[0]!;
  }

  /**
   * Appends many records signed elsewhere, keeping their order: signatures are
   * verified in parallel, then the records are queued in the given order.
   * Each result is a receipt or the error that refused that record. With
   * `atomic`, they all go into one block or none does.
   */
  async appendMany(
    entries: readonly Uint8Array[],
    options: AppendManyOptions = {},
  ): Promise<Array<Receipt | DirchainError>> {
    checkArray(entries, 'entries');
    checkObject(options, 'options');
    if (options.atomic !== undefined && typeof options.atomic !== 'boolean')
      fail(ErrorCode.INVALID_ARGUMENT, `options.atomic: expected a boolean, got ${show(options.atomic)}`);
    this.#checkWritable();
    const checked = await this.#admission.manySigned(entries);
    this.#checkWritable();
    const failed = checked.find((c) => c instanceof DirchainError);
    if (options.atomic && failed) {
      return checked.map((c) => (c instanceof DirchainError ? c : aborted(failed as DirchainError)));
    }
    const good = checked.filter((c): c is Pending => !(c instanceof DirchainError));
    const settled = await this.#queue.pushAll(good, pendingBytes, options.atomic === true);
    let k = 0;
    return checked.map((c) => (c instanceof DirchainError ? c : asResult(settled[k++])));
  }

  /**
   * Appends a batch signed elsewhere: the seal (a record of kind "batch") and
   * its events, in order. The seal's signature is verified and the events
   * must match its count and root. All go into one block, or none does.
   */
  async appendBatch(seal: Uint8Array | LedgerRecord, events: readonly Uint8Array[]): Promise<BatchReceipt> {
    if (!(seal instanceof Uint8Array || seal?.bytes instanceof Uint8Array))
      fail(ErrorCode.INVALID_ARGUMENT, `seal: expected a Uint8Array or a record, got ${typeOf(seal)}`);
    checkArray(events, 'events');
    for (let i = 0; i < events.length; i++) {
      if (!(events[i] instanceof Uint8Array))
        fail(ErrorCode.INVALID_ARGUMENT, `event ${i}: expected a Uint8Array, got ${typeOf(events[i])}`);
    }
    this.#checkWritable();
    const sealBytes = seal instanceof Uint8Array ? seal : seal.bytes;
    if (isEventEntry(sealBytes))
      fail(ErrorCode.BATCH_MISMATCH, 'a batch must start with its seal, not an event', {
        hint: 'sign the batch with signBatch',
      });
    // A copy, like the events': what is stored is what was checked.
    const record = decodeRecord(copyBytes(sealBytes));
    if (record.kind !== BATCH_KIND) {
      fail(ErrorCode.BATCH_MISMATCH, `a batch must start with its seal, not a ${record.kind} record`, {
        hint: 'sign the batch with signBatch',
      });
    }
    const key = this.#admission.authorKey(record);
    const body = parseBatchBody(record.body);
    if (body.count !== events.length)
      fail(ErrorCode.BATCH_MISMATCH, `the seal counts ${body.count} events, ${events.length} were given`);
    // Signature, event decoding, leaf hashes and root: on the admission workers.
    const checked = await this.#pool.check({
      signed: record.signed,
      signature: record.signature,
      key,
      root: body.root,
      events,
    });
    this.#checkWritable(); // the ledger may have closed while the batch was checked
    // The checked copies: exactly the bytes that were hashed, whatever the caller does with its own.
    return this.#pushBatch(record, checked);
  }

  /**
   * Signs `bodies` as one batch of `kind` events by `member` (one signature
   * for all of them) and appends it. Each event gets its own index and is
   * provable on its own (`proveInclusion` adds the seal that signs it).
   */
  async submitBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): Promise<BatchReceipt> {
    checkMemberSigner(member, 'member');
    checkString(kind, 'kind');
    this.#checkWritable();
    this.#checkSigner(member);
    const { seal, events, leaves } = this.signBatch(member, kind, bodies);
    const flat = new Uint8Array(32 * leaves.length);
    for (const [i, leaf] of leaves.entries()) flat.set(leaf, 32 * i);
    return this.#pushBatch(seal, { events, leaves: flat, bodies });
  }

  /** Signs a batch for this ledger as `member`, without appending it. */
  signBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): SignedBatch {
    return signBatchAs(this.origin, this.#clock(), member, kind, bodies);
  }

  /** Queues a seal and its events as one item: one block, one promise, no object per event. */
  async #pushBatch(seal: LedgerRecord, batch: PendingBatch): Promise<BatchReceipt> {
    let bytes = seal.bytes.length;
    for (const e of batch.events) bytes += e.length;
    const value: Pending = { bytes: seal.bytes, record: seal, batch };
    const r = await this.#queue.pushWeighted(value, bytes, 1 + batch.events.length);
    return { seal: r.index, first: r.index + 1, count: batch.events.length, height: r.height };
  }

  /**
   * Signs a record as `member` with this ledger's origin and the current time,
   * and appends it. The signature is made here, so it is not re-verified.
   */
  async submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt> {
    checkMemberSigner(member, 'member');
    checkString(kind, 'kind');
    this.#checkWritable();
    if (kind === BATCH_KIND) fail(ErrorCode.BATCH_MISMATCH, 'use submitBatch to append a batch');
    const record = this.sign(member, kind, body);
    this.#checkSigner(member);
    return this.#queue.push([pendingRecord(record)], false)[0]!;
  }

  #checkSigner(member: MemberSigner): void {
    const m = this.#state.get('member', member.id);
    // A non-member is the same refusal as its record appended (admission.ts), not a key problem.
    if (m === undefined) {
      fail(ErrorCode.UNKNOWN_MEMBER, `author ${JSON.stringify(member.id)} is not a member`, {
        hint: 'an admin must add the member first',
      });
    }
    const key = m.keys[member.keyId];
    if (key === undefined || !equalBytes(key, member.signer.publicKey)) {
      fail(ErrorCode.UNKNOWN_KEY, `the signer is not key ${member.keyId} of member ${member.id}`);
    }
  }

  /** Signs a record for this ledger as `member`, without appending it. */
  sign(member: MemberSigner, kind: string, body: Plain): LedgerRecord {
    return signAs(this.origin, this.#clock(), member, kind, body);
  }

  /**
   * Resolves with the number of admission worker threads once they have
   * started (batches are checked in-thread until then). For tests and
   * benchmarks that want the threaded path from the first batch.
   */
  workersStarted(): Promise<number> {
    return this.#pool.started();
  }

  /** Resolves once every queued append has been written (or refused). */
  flush(): Promise<void> {
    return this.#queue.drain();
  }

  #checkWritable(): void {
    if (this.#closing) fail(ErrorCode.LEDGER_CLOSED, 'the ledger is closed');
    if (this.#queue.failure !== undefined) throw this.#queue.failure;
  }

  /**
   * Forms one block from the batch now (verdicts, tree, signed checkpoint)
   * and hands it to the block writer: it is written at once if no write is in
   * flight, else together with every block formed meanwhile in the next one.
   * Resolves when it is durable; callers are answered in block order.
   */
  #commit(batch: Group<Pending, Receipt>[]): Promise<void> {
    const chain = this.#chain;
    chain.begin(Math.max(this.#clock(), chain.tip.time));
    /** Each accepted item and the index of its first entry. */
    const settle: Array<{ item: Item<Pending, Receipt>; first: number }> = [];
    for (const group of batch) {
      const mark = chain.mark();
      const settledBefore = settle.length;
      let refused: { at: number; error: DirchainError } | undefined;
      for (let i = 0; i < group.items.length; i++) {
        const item = group.items[i]!;
        const itemMark = group.atomic ? mark : chain.mark();
        const first = chain.size;
        const error = this.#admit(item.value);
        if (error === undefined) {
          settle.push({ item, first });
          continue;
        }
        chain.rollback(itemMark);
        if (group.atomic) {
          refused = { at: i, error };
          break;
        }
        item.reject(error);
      }
      if (refused) {
        chain.rollback(mark);
        settle.length = settledBefore;
        for (const [i, item] of group.items.entries()) {
          item.reject(i === refused.at ? refused.error : aborted(refused.error));
        }
      }
    }
    if (chain.pending === 0) {
      chain.cancel();
      return Promise.resolve();
    }
    const formed = chain.sign(this.#signer);
    const { header } = formed;
    const formedAt = performance.now();
    // A failed write rejects every later block too: the writer stays failed.
    return this.#writer.push(blockWrite(formed)).then(
      () => {
        chain.durable();
        this.#durable(formed);
        for (const { item, first } of settle) item.resolve({ index: first, height: header.height });
        try {
          this.#onBlock?.({
            height: header.height,
            entries: formed.entries.length,
            seconds: (performance.now() - formedAt) / 1000,
          });
        } catch {
          // An observer's failure is not the ledger's: the block is durable and answered.
        }
      },
      (e) => {
        chain.discardAll();
        const failure =
          e instanceof DirchainError && e.code === ErrorCode.STORAGE
            ? e
            : new DirchainError(
                ErrorCode.STORAGE,
                `writing block ${header.height} failed: ${(e as Error).message}; the ledger stopped accepting writes`,
                {
                  hint: 'fix the storage problem, then reopen the ledger; it continues from the last durable block',
                  cause: e,
                },
              );
        for (const { item } of settle) item.reject(failure);
        throw failure;
      },
    );
  }

  /**
   * Applies one queued item to the open block through the chain, or returns
   * its refusal (the caller rolls back). A batch seal brings its events,
   * checked on admission and judged under it.
   */
  #admit(p: Pending): DirchainError | undefined {
    const chain = this.#chain;
    try {
      // The item carries what admission established: the record signed here, or the key its signature was checked under.
      if (p.record === undefined && p.verifiedKey === undefined)
        return new DirchainError(ErrorCode.INTERNAL, 'a queued record was neither signed here nor checked');
      const r = chain.apply(p.bytes, hasher.leaf(p.bytes), p);
      if (r instanceof DirchainError) return r;
      const batch = p.batch;
      if (batch === undefined) return undefined;
      for (let i = 0; i < batch.events.length; i++) {
        const bytes = batch.events[i]!;
        const known: Known =
          batch.bodies === undefined
            ? CHECKED
            : { event: { bytes, position: i, body: batch.bodies[i]! }, checked: true };
        const v = chain.apply(bytes, batch.leaves, known, 32 * i);
        if (v instanceof DirchainError) return batchRefusal(i + 1, v);
      }
      return undefined;
    } catch (e) {
      return toError(e);
    }
  }

  /** @internal The admission workers' thread ids (tests: reuse of a closed ledger's workers). */
  get admissionThreadIds(): number[] {
    return this.#pool.threadIds;
  }

  /**
   * Refuses new appends at once, waits for the queued ones, then stops the
   * admission workers. The store is its owner's to close.
   */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closing = true;
    try {
      await this.flush();
    } finally {
      // Even when the queued appends failed (E_STORAGE): the workers must stop.
      if (!this.#closed) {
        this.#closed = true;
        await this.#pool.close();
      }
    }
  }
}

/** Events checked on admission (batch-check.ts): bytes, positions and root. */
const CHECKED: Known = { checked: true };
