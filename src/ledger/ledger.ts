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
import { availableParallelism } from 'node:os';
import {
  checkArray,
  checkObject,
  checkString,
  copyBytes,
  equalBytes,
  show,
  typeOf,
  utf8,
} from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { type NoteSigner, signNote } from '../crypto/note.js';
import { Directory } from '../directory/directory.js';
import {
  BATCH_KIND,
  decodeEvent,
  isEventEntry,
  parseBatchBody,
  type SignedBatch,
} from '../encoding/event.js';
import type { Plain } from '../encoding/msgpack.js';
import {
  decodeRecord,
  decodeRecordLazily,
  type LedgerRecord,
  type RecordHead,
  readRecordHead,
  signRecord,
} from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { checkConsistency, checkInclusion } from '../merkle/check.js';
import { memoryPath } from '../merkle/memory-tree.js';
import { nodeTreeHasher } from '../merkle/node-hasher.js';
import { proveConsistency, proveInclusion, treeHash } from '../merkle/prove.js';
import { nodeHashesInto } from '../merkle/sha256x4.js';
import { type Frontier, HashSink, storedHashCount, storedHashIndex } from '../merkle/stored.js';
import { SubtreeCache } from '../merkle/subtree-cache.js';
import { evaluate, evaluateEvent, type PolicyContext } from '../policy/rules.js';
import type { LedgerParams } from '../policy/state.js';
import type { Catalog } from '../query/catalog.js';
import { DirectoryQuery, recordAt } from '../query/query.js';
import type { StateView } from '../state/entities.js';
import type { State } from '../state/state.js';
import { type BlockWrite, type Durability, type LedgerStore, replayFloorEntry } from '../storage/store.js';
import { AdmissionPool } from './admission-pool.js';
import { BlockWriter } from './block-writer.js';
import { type BlockHeader, blockHeaderOfNote, formatBlockHeader } from './checkpoint.js';
import { type Group, GroupCommit, type Item } from './group-commit.js';
import { checkMemberSigner, memberSigner } from './member-signer.js';
import { signBatch } from './sign-batch.js';
import type {
  AppendManyOptions,
  Attribution,
  BatchReceipt,
  ConsistencyBundle,
  Head,
  InclusionBundle,
  LedgerOptions,
  MemberSigner,
  Receipt,
} from './types.js';

export type {
  AppendManyOptions,
  Attribution,
  BatchReceipt,
  BlockOptions,
  ConsistencyBundle,
  CreateLedgerOptions,
  Head,
  InclusionBundle,
  LedgerOptions,
  MemberSigner,
  Receipt,
} from './types.js';

const hasher = nodeTreeHasher;

export class Ledger {
  readonly #store: LedgerStore;
  readonly #params: LedgerParams;
  readonly #state: State;
  readonly #policy: PolicyContext;
  readonly #frontier: Frontier;
  readonly #sequencer: NoteSigner | undefined;
  readonly #durability: Durability;
  readonly #clock: () => number;
  readonly #queue: GroupCommit<Pending, Receipt>;
  readonly #catalog: Catalog;
  readonly #admission: AdmissionPool;
  readonly #committedView: StateView;
  /** Upper subtree and right-edge hashes proofs reuse (~0.5 byte per record, filled by proofs). */
  readonly #proofCache = new SubtreeCache();
  /** Read queries over the directory (committed blocks only). */
  readonly query: DirectoryQuery;
  /** The domain API: sign and append directory records as a member. */
  readonly directory: Directory;
  #head: Head;
  /** The last formed block (durable or not): the next block links to it. */
  #tail: { height: number; text: string; time: number };
  /** Formed blocks on their way to disk; those formed during a write share the next one. */
  readonly #writer: BlockWriter<BlockWrite>;
  #closing = false;
  #closed = false;

  /** @internal use createLedger / openLedger */
  constructor(
    store: LedgerStore,
    params: LedgerParams,
    state: State,
    catalog: Catalog,
    frontier: Frontier,
    note: string,
    sequencer: NoteSigner | undefined,
    options: LedgerOptions,
  ) {
    this.#catalog = catalog;
    this.#committedView = state.committed();
    this.query = new DirectoryQuery(store, state.committed(), catalog);
    this.directory = new Directory(this);
    this.#store = store;
    this.#writer = new BlockWriter((blocks) => store.writeBlocks(blocks, this.#durability));
    this.#params = params;
    this.#state = state;
    this.#policy = { origin: params.origin, policy: params.policy, verify: verifyNode };
    this.#frontier = frontier;
    this.#sequencer = sequencer;
    this.#durability = options.durability ?? 'sync';
    if (this.#durability !== 'sync' && this.#durability !== 'buffered') {
      fail(
        ErrorCode.INVALID_ARGUMENT,
        `durability must be "sync" or "buffered", got ${String(this.#durability)}`,
      );
    }
    this.#queue = new GroupCommit(
      {
        maxItems: positive(options.block?.maxRecords ?? 4096, 'block.maxRecords'),
        maxBytes: positive(options.block?.maxBytes ?? 4 * 1024 * 1024, 'block.maxBytes'),
        maxDelayMs: options.block?.maxDelayMs ?? 0,
      },
      (batch) => this.#commit(batch),
    );
    this.#clock = options.clock ?? Date.now;
    this.#admission = new AdmissionPool(
      this.#sequencer === undefined ? 0 : (options.workers ?? Math.min(4, availableParallelism())),
    );
    const { header, text } = blockHeaderOfNote(note);
    this.#head = {
      origin: header.origin,
      size: header.size,
      height: header.height,
      root: header.root,
      time: header.time,
      checkpoint: note,
    };
    this.#tail = { height: header.height, text, time: header.time };
  }

  get origin(): string {
    return this.#params.origin;
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
    return this.#params.sequencerKey;
  }

  /** What genesis fixed: origin, policy, sequencer. */
  get params(): LedgerParams {
    return this.#params;
  }

  /** The state as of the last durable block. Do not mutate what it returns. */
  get view(): StateView {
    return this.#committedView;
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
    const pending = await this.#admitSigned(entry instanceof Uint8Array ? entry : entry.bytes);
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
    const checked = await this.#admitManySigned(entries);
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
    const key = this.#authorKey(record);
    const body = parseBatchBody(record.body);
    if (body.count !== events.length)
      fail(ErrorCode.BATCH_MISMATCH, `the seal counts ${body.count} events, ${events.length} were given`);
    // Signature, event decoding, leaf hashes and root: on the admission workers.
    const checked = await this.#admission.check({
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
    return signBatch(
      { origin: this.origin, kind, author: member.id, keyId: member.keyId, timestamp: this.#clock() },
      bodies,
      member.signer,
    );
  }

  /** Queues a seal and its events as one item: one block, one promise, no object per event. */
  async #pushBatch(seal: LedgerRecord, batch: PendingBatch): Promise<BatchReceipt> {
    let bytes = seal.bytes.length;
    for (const e of batch.events) bytes += e.length;
    const value: Pending = { bytes: seal.bytes, record: seal, batch };
    const r = await this.#queue.pushWeighted(value, bytes, 1 + batch.events.length);
    return { seal: r.index, first: r.index + 1, count: batch.events.length, height: r.height };
  }

  /** The public key a record's author and keyId name (refusals for unknown ones). */
  #authorKey(record: { readonly author: string; readonly keyId: number }): Uint8Array {
    const member = this.#state.get('member', record.author);
    if (member === undefined) {
      fail(ErrorCode.UNKNOWN_MEMBER, `author ${JSON.stringify(record.author)} is not a member`, {
        hint: 'an admin must add the member first',
      });
    }
    const key = member.keys[record.keyId];
    if (key === undefined) fail(ErrorCode.UNKNOWN_KEY, `member ${record.author} has no key ${record.keyId}`);
    return key;
  }

  /**
   * Checks a record's author signature (off the main thread) and returns the
   * pending item. Only the record's head is read here: the body is decoded
   * strictly when its block is formed, so the records waiting here hold no
   * decoded bodies.
   */
  async #admitSigned(entry: Uint8Array): Promise<Pending> {
    // A copy: the caller may reuse its buffer before the block is written.
    const bytes = copyBytes(entry);
    const { head, key } = this.#signedHead(bytes);
    if (!(await this.#admission.verify(key, head.signed, head.signature))) throw badRecordSignature(head);
    return { bytes, verifiedKey: key };
  }

  /** A signed record's head and the key its author and keyId name (refusals: a seal or event alone, unknown keys). */
  #signedHead(bytes: Uint8Array): { head: RecordHead; key: Uint8Array } {
    if (isEventEntry(bytes))
      fail(ErrorCode.BATCH_MISMATCH, 'an event must come with its batch seal', {
        hint: 'use appendBatch(seal, events)',
      });
    const head = readRecordHead(bytes);
    if (head.kind === BATCH_KIND) batchSealAlone();
    return { head, key: this.#authorKey(head) };
  }

  /**
   * `#admitSigned` for many records at once: one copy of all their bytes, one
   * signature job per worker, one promise. Per record, only its bytes and the
   * key its signature is checked under wait for the verdicts.
   */
  async #admitManySigned(entries: readonly Uint8Array[]): Promise<Array<Pending | DirchainError>> {
    const n = entries.length;
    let total = 0;
    for (const e of entries) if (e instanceof Uint8Array) total += e.length;
    // Copies (the caller may reuse its buffers), as views of one buffer.
    const all = new Uint8Array(total);
    const out: Array<Pending | DirchainError> = new Array(n);
    const at: number[] = [];
    const keys: Uint8Array[] = [];
    const signed: Uint8Array[] = [];
    const signatures: Uint8Array[] = [];
    let offset = 0;
    for (let i = 0; i < n; i++) {
      const entry = entries[i]!;
      if (!(entry instanceof Uint8Array)) {
        out[i] = new DirchainError(
          ErrorCode.INVALID_ARGUMENT,
          `entry ${i}: expected a Uint8Array, got ${typeOf(entry)}`,
        );
        continue;
      }
      all.set(entry, offset);
      const bytes = all.subarray(offset, offset + entry.length);
      offset += entry.length;
      try {
        const { head, key } = this.#signedHead(bytes);
        keys.push(key);
        signed.push(head.signed);
        signatures.push(head.signature);
        at.push(i);
        out[i] = { bytes, verifiedKey: key };
      } catch (e) {
        out[i] = toError(e);
      }
    }
    const verdicts = this.#admission.verifyMany(keys, signed, signatures);
    // Packed by now: the views need not wait for the verdicts too.
    signed.length = 0;
    signatures.length = 0;
    let ok: boolean[];
    try {
      ok = await verdicts;
    } catch (e) {
      // A worker failed: each record waiting on it gets that error, as from `append`.
      for (const i of at) out[i] = toError(e);
      return out;
    }
    for (let j = 0; j < at.length; j++) {
      if (ok[j]) continue;
      const head = readRecordHead((out[at[j]!] as Pending).bytes);
      out[at[j]!] = badRecordSignature(head);
    }
    return out;
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
    const key = this.#state.get('member', member.id)?.keys[member.keyId];
    if (key === undefined || !equalBytes(key, member.signer.publicKey)) {
      fail(ErrorCode.UNKNOWN_KEY, `the signer is not key ${member.keyId} of member ${member.id}`);
    }
  }

  /**
   * A member's signing identity from its signer key text, with the keyId this
   * ledger knows that key by (rotations append keys, so it may not be 0).
   */
  memberSigner(signerKey: string): MemberSigner {
    const s = memberSigner(signerKey);
    const m = this.#state.get('member', s.id);
    if (m === undefined) fail(ErrorCode.UNKNOWN_MEMBER, `${s.id} is not a member of this ledger`);
    const keyId = m.keys.findIndex((k) => equalBytes(k, s.signer.publicKey));
    if (keyId < 0) fail(ErrorCode.UNKNOWN_KEY, `this key is not one of ${s.id}'s keys`);
    return { ...s, keyId };
  }

  /** Signs a record for this ledger as `member`, without appending it. */
  sign(member: MemberSigner, kind: string, body: Plain): LedgerRecord {
    return signRecord(
      { origin: this.origin, kind, author: member.id, keyId: member.keyId, timestamp: this.#clock(), body },
      member.signer,
    );
  }

  /**
   * Resolves with the number of admission worker threads once they have
   * started (batches are checked in-thread until then). For tests and
   * benchmarks that want the threaded path from the first batch.
   */
  workersStarted(): Promise<number> {
    return this.#admission.started();
  }

  /** Resolves once every queued append has been written (or refused). */
  flush(): Promise<void> {
    return this.#queue.drain();
  }

  #checkWritable(): void {
    if (this.#closing) fail(ErrorCode.LEDGER_CLOSED, 'the ledger is closed');
    if (this.#queue.failure !== undefined) throw this.#queue.failure;
    if (this.#sequencer === undefined) {
      fail(ErrorCode.READ_ONLY, 'the ledger was opened without the sequencer key', {
        hint: 'pass sequencerKey to openLedger (the CLI reads <dir>/keys/sequencer.key)',
      });
    }
  }

  /**
   * Forms one block from the batch now (verdicts, tree, signed checkpoint)
   * and hands it to the block writer: it is written at once if no write is in
   * flight, else together with every block formed meanwhile in the next one.
   * Resolves when it is durable; callers are answered in block order.
   */
  #commit(batch: Group<Pending, Receipt>[]): Promise<void> {
    const time = Math.max(this.#clock(), this.#tail.time);
    const firstIndex = this.#frontier.size;
    // The entries, and their leaf hashes back to back as the tree appends them: no object per entry.
    const entries: Uint8Array[] = [];
    const leaves = new HashSink(64);
    /** Each accepted item and the index of its first entry. */
    const settle: Array<{ item: Item<Pending, Receipt>; first: number }> = [];
    const accept = (bytes: Uint8Array, leaf: Uint8Array, at: number): void => {
      entries.push(bytes);
      const h = leaves.reserve(); // first: it may grow the buffer
      leaves.bytes.set(leaf.subarray(at, at + 32), h);
    };
    const truncate = (length: number, settled: number): void => {
      entries.length = length;
      leaves.length = 32 * length;
      settle.length = settled;
    };
    for (const group of batch) {
      const mark = this.#state.mark();
      const before = entries.length;
      const settledBefore = settle.length;
      let refused: { at: number; error: DirchainError } | undefined;
      for (let i = 0; i < group.items.length; i++) {
        const item = group.items[i]!;
        const itemMark = group.atomic ? mark : this.#state.mark();
        const itemStart = entries.length;
        const error = this.#admit(item.value, firstIndex + itemStart, time, accept);
        if (error === undefined) {
          settle.push({ item, first: firstIndex + itemStart });
          continue;
        }
        this.#state.rollback(itemMark);
        truncate(itemStart, settle.length);
        if (group.atomic) {
          refused = { at: i, error };
          break;
        }
        item.reject(error);
      }
      if (refused) {
        this.#state.rollback(mark);
        truncate(before, settledBefore);
        for (const [i, item] of group.items.entries()) {
          item.reject(i === refused.at ? refused.error : aborted(refused.error));
        }
      }
    }
    if (entries.length === 0) return Promise.resolve();
    const hashStart = storedHashCount(firstIndex);
    const sink = new HashSink(2 * entries.length + 8);
    // A level at a time, four node hashes per pass (sha256x4.ts).
    this.#frontier.appendAll(leaves.bytes, entries.length, sink, nodeHashesInto);
    const hashes = sink.hashes();
    const header: BlockHeader = {
      origin: this.origin,
      size: this.#frontier.size,
      root: this.#frontier.root(),
      height: this.#tail.height + 1,
      prev: sha256Node(utf8(this.#tail.text)),
      time,
    };
    const text = formatBlockHeader(header);
    const note = signNote(text, [this.#sequencer!]);
    const extra = this.#state.writes();
    const floor = this.#state.replayFloor();
    if (floor !== undefined) extra.push(replayFloorEntry(floor, header.size));
    const changes = this.#state.seal();
    this.#tail = { height: header.height, text, time };
    const block = {
      height: header.height,
      note,
      size: header.size,
      firstIndex,
      entries,
      hashStart,
      hashes,
      extra,
    };
    // A failed write rejects every later block too: the writer stays failed.
    return this.#writer.push(block).then(
      () => {
        this.#state.commitPending();
        for (const c of changes) if (c.type === 'resource') this.#catalog.upsert(c.entity);
        this.#head = {
          origin: this.origin,
          size: header.size,
          height: header.height,
          root: header.root,
          time,
          checkpoint: note,
        };
        for (const { item, first } of settle) item.resolve({ index: first, height: header.height });
      },
      (e) => {
        this.#state.discardAll();
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
   * Judges one queued item as the entries at `index` on: stages its effects
   * and hands its entries to `accept`, or returns its refusal (the caller
   * rolls the state back). A batch seal brings its events, judged under it.
   */
  #admit(
    p: Pending,
    index: number,
    time: number,
    accept: (bytes: Uint8Array, leaf: Uint8Array, at: number) => void,
  ): DirchainError | undefined {
    const record = p.record ?? this.#decodeVerified(p);
    if (record instanceof DirchainError) return record;
    const leaf = hasher.leaf(p.bytes);
    const verdict = evaluate(this.#policy, this.#state, record, index, time, leaf);
    if (verdict instanceof DirchainError) return verdict;
    this.#state.stage(verdict.changes, verdict.indexes);
    this.#state.stageLeaf(leaf, index, record);
    accept(p.bytes, leaf, 0);
    const batch = p.batch;
    if (batch === undefined) return undefined;
    const kind = parseBatchBody(record.body).kind;
    for (let i = 0; i < batch.events.length; i++) {
      const bytes = batch.events[i]!;
      const event = batch.bodies === undefined ? bytes : { bytes, position: i, body: batch.bodies[i]! };
      // The events' bytes passed checkEvent on admission (checkBatch): they are decoded, not checked again.
      const v = evaluateEvent(this.#policy, this.#state, record, kind, event, index + 1 + i, time, true);
      if (v instanceof DirchainError) return batchRefusal(i + 1, v);
      this.#state.stage(v.changes, v.indexes);
      accept(bytes, batch.leaves, 32 * i);
    }
    return undefined;
  }

  /**
   * Strictly decodes a record whose signature was checked on its head alone,
   * and confirms the key it names is the key that check used (the two readers
   * agree on valid bytes; this keeps a disagreement from ever admitting a
   * record under another member's key).
   */
  #decodeVerified(p: Pending): LedgerRecord | DirchainError {
    let record: LedgerRecord;
    try {
      record = decodeRecordLazily(p.bytes);
    } catch (e) {
      return toError(e);
    }
    // A member or key gone since the check is the policy's to refuse, with its own code.
    const key = this.#state.get('member', record.author)?.keys[record.keyId];
    if (key !== undefined && (p.verifiedKey === undefined || !equalBytes(key, p.verifiedKey))) {
      return new DirchainError(
        ErrorCode.BAD_SIGNATURE,
        `record by ${record.author} was not checked under its key ${record.keyId}`,
      );
    }
    return record;
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
    const authorKey = this.#committedView.get('member', seal.author)?.keys[seal.keyId];
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

  /** Waits for queued appends, then closes the database. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    // Refuse new appends at once; finish the ones already queued.
    this.#closing = true;
    try {
      await this.flush();
    } finally {
      // Even when the queued appends failed (E_STORAGE): the folder must be let go, to be reopened.
      if (!this.#closed) {
        this.#closed = true;
        try {
          await this.#admission.close();
        } finally {
          await this.#store.close();
        }
      }
    }
  }

  /** @internal The admission workers' thread ids (tests: reuse of a closed ledger's workers). */
  get admissionThreadIds(): number[] {
    return this.#admission.threadIds;
  }

  /** @internal for the query engine and tests */
  get store(): LedgerStore {
    return this.#store;
  }
}

/**
 * A queued log entry: a signed record (`record` set), or one event of a batch,
 * queued right after its seal (decoded only if its kind's rules need the body).
 */
interface Pending {
  readonly bytes: Uint8Array;
  /** The decoded record; absent for a record signed elsewhere, decoded when its block is formed. */
  readonly record?: LedgerRecord;
  /** For a record signed elsewhere: the key its signature was checked under. */
  readonly verifiedKey?: Uint8Array;
  /** With a batch seal: its events, appended right after it. */
  readonly batch?: PendingBatch;
}

interface PendingBatch {
  readonly events: readonly Uint8Array[];
  /** The events' leaf hashes, 32 bytes each (computed when the root was checked). */
  readonly leaves: Uint8Array;
  /** The events' bodies, when the batch was signed here (no decoding needed). */
  readonly bodies?: readonly Plain[];
}

function pendingRecord(record: LedgerRecord): { value: Pending; bytes: number } {
  return weighed({ bytes: record.bytes, record });
}

function weighed(value: Pending): { value: Pending; bytes: number } {
  return { value, bytes: value.bytes.length };
}

function pendingBytes(p: Pending): number {
  return p.bytes.length;
}

/** A `pushAll` slot as appendMany answers it: the receipt, or the refusal as a DirchainError. */
function asResult(settled: unknown): Receipt | DirchainError {
  return settled instanceof Error ? toError(settled) : (settled as Receipt);
}

/** A batch's refusal, naming the event that caused it (position 0 is the seal). */
function batchRefusal(at: number, e: DirchainError): DirchainError {
  if (at === 0) return e;
  return new DirchainError(e.code, `event ${at - 1} of the batch: ${e.message}`, {
    ...(e.hint === undefined ? {} : { hint: e.hint }),
  });
}

function aborted(cause: DirchainError): DirchainError {
  return new DirchainError(
    ErrorCode.ATOMIC_ABORTED,
    `not appended: another record of the all-or-nothing group was refused (${cause.code})`,
  );
}

function batchSealAlone(): never {
  return fail(ErrorCode.BATCH_MISMATCH, 'a batch seal must come with its events', {
    hint: 'use appendBatch(seal, events)',
  });
}

function badRecordSignature(head: RecordHead): DirchainError {
  return new DirchainError(
    ErrorCode.BAD_SIGNATURE,
    `record by ${head.author} does not verify under key ${head.keyId}`,
    { hint: 'the record bytes were changed after signing, or signed with another key' },
  );
}

function toError(e: unknown): DirchainError {
  if (e instanceof DirchainError) return e;
  return new DirchainError(ErrorCode.INTERNAL, `unexpected error: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
}

function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be a positive integer`);
  return n;
}
