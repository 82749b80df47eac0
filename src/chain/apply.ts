/**
 * The one state transition of the ledger: a log entry in, its effects staged.
 * Every node runs it — the sequencer admitting records, a verifier or a
 * follower replaying them, a rebuild re-deriving state — so every node
 * reaches the same verdicts and the same state by construction.
 *
 * An entry is a signed record, or an event of the batch whose seal came just
 * before it (encoding/event.ts): the seal is judged as a record and opens the
 * batch; each event is judged under its seal; the last one closes the batch,
 * whose events' root must be the one the seal signed.
 */
import { equalBytes } from '../crypto/bytes.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import {
  BATCH_KIND,
  type BatchBody,
  decodeEvent,
  isEventEntry,
  type LedgerEvent,
  parseBatchBody,
} from '../encoding/event.js';
import { decodeRecordLazily, type LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { memoryRoot } from '../merkle/memory-tree.js';
import { evaluate, evaluateEvent, type PolicyContext } from '../policy/rules.js';
import type { State } from './state.js';

/**
 * What the caller established about an entry before applying it (the
 * sequencer's admission). Options of the one transition, never a second copy
 * of it: without them (`known` omitted), the entry is checked from its bytes alone.
 */
export interface Known {
  /** The record, decoded already (signed in this process). */
  readonly record?: LedgerRecord;
  /**
   * The key the record's signature was checked under: it must be the key the
   * state names for its author and keyId when the record is applied.
   */
  readonly verifiedKey?: Uint8Array;
  /** An event whose body is known (signed in this process). */
  readonly event?: LedgerEvent;
  /**
   * An event whose bytes, position and batch root were checked on admission
   * (batch-check.ts): it is decoded only if its kind's rules read the body.
   */
  readonly checked?: boolean;
}

interface OpenBatch {
  readonly seal: LedgerRecord;
  readonly body: BatchBody;
  /** Events applied so far. */
  count: number;
  /** Their leaf hashes, to compare with the seal's root (not kept for checked events). */
  readonly leaves: Uint8Array[];
}

/** Where a batch stood: restored with a savepoint. */
export type BatchMark =
  | { readonly batch: OpenBatch; readonly count: number; readonly leaves: number }
  | undefined;

export class Transition {
  readonly #ctx: PolicyContext;
  readonly #state: State;
  readonly #hasher: TreeHasher;
  #batch: OpenBatch | undefined;

  constructor(ctx: PolicyContext, state: State, hasher: TreeHasher) {
    this.#ctx = ctx;
    this.#state = state;
    this.#hasher = hasher;
  }

  /**
   * Applies the entry at `index`, formed into a block of time `time`:
   * decoding, envelope and policy rules, batch framing. Stages its effects
   * and returns the record (undefined for an event), or returns the policy's
   * refusal with nothing staged. Throws when the entry is malformed (its
   * decoding error) or out of place in its batch (naming the index). `leaf`
   * is its leaf hash, at `leafAt`.
   */
  apply(
    bytes: Uint8Array,
    leaf: Uint8Array,
    index: number,
    time: number,
    known: Known = {},
    leafAt = 0,
  ): LedgerRecord | undefined | DirchainError {
    if (known.event !== undefined || known.checked === true || isEventEntry(bytes))
      return this.#event(bytes, leaf, leafAt, index, time, known);
    if (this.#batch !== undefined) this.#unfinished(index);
    const record = known.record ?? decodeRecordLazily(bytes);
    if (known.verifiedKey !== undefined) {
      // A member or key gone since the check is the policy's to refuse, with its own code.
      const key = this.#state.get('member', record.author)?.keys[record.keyId];
      if (key !== undefined && !equalBytes(key, known.verifiedKey)) {
        return new DirchainError(
          ErrorCode.BAD_SIGNATURE,
          `record by ${record.author} was not checked under its key ${record.keyId}`,
        );
      }
    }
    const leafHash = leafAt === 0 && leaf.length === 32 ? leaf : leaf.subarray(leafAt, leafAt + 32);
    const verdict = evaluate(this.#ctx, this.#state, record, index, time, leafHash);
    if (verdict instanceof DirchainError) return verdict;
    this.#state.stage(verdict.changes, verdict.indexes, index);
    this.#state.stageLeaf(leafHash, index, record);
    if (record.kind === BATCH_KIND) {
      this.#batch = { seal: record, body: parseBatchBody(record.body), count: 0, leaves: [] };
    }
    return record;
  }

  #event(
    bytes: Uint8Array,
    leaf: Uint8Array,
    leafAt: number,
    index: number,
    time: number,
    known: Known,
  ): undefined | DirchainError {
    const batch = this.#batch;
    if (batch === undefined)
      fail(ErrorCode.BATCH_MISMATCH, `entry ${index} is an event outside any batch`, { index });
    let event: LedgerEvent | Uint8Array = bytes;
    if (known.event !== undefined) event = known.event;
    else if (known.checked !== true) {
      const decoded = decodeEvent(bytes);
      if (decoded.position !== batch.count) {
        fail(
          ErrorCode.BATCH_MISMATCH,
          `event ${index} says position ${decoded.position}, expected ${batch.count}`,
          { index },
        );
      }
      batch.leaves.push(leafAt === 0 && leaf.length === 32 ? leaf : leaf.slice(leafAt, leafAt + 32));
      event = decoded;
    }
    const verdict = evaluateEvent(
      this.#ctx,
      this.#state,
      batch.seal,
      batch.body.kind,
      event,
      index,
      time,
      known.checked === true,
    );
    if (verdict instanceof DirchainError) return verdict;
    this.#state.stage(verdict.changes, verdict.indexes, index);
    batch.count++;
    if (batch.count === batch.body.count) {
      this.#batch = undefined;
      // Checked events had their root compared on admission; the others' leaves are all here.
      if (
        batch.leaves.length === batch.count &&
        !equalBytes(memoryRoot(this.#hasher, batch.leaves), batch.body.root)
      ) {
        const first = index - batch.body.count;
        fail(ErrorCode.BATCH_MISMATCH, `the events after seal ${first} do not match its signed root`, {
          index: first,
        });
      }
    }
    return undefined;
  }

  /** A savepoint of the batch framing (the state keeps its own). */
  mark(): BatchMark {
    const b = this.#batch;
    return b === undefined ? undefined : { batch: b, count: b.count, leaves: b.leaves.length };
  }

  rollback(mark: BatchMark): void {
    this.#batch = mark?.batch;
    if (mark !== undefined) {
      mark.batch.count = mark.count;
      mark.batch.leaves.length = mark.leaves;
    }
  }

  /** Checks that no batch runs past a block's end (`next` is the next block's first index). */
  endBlock(next: number): void {
    if (this.#batch !== undefined) this.#unfinished(next);
  }

  #unfinished(index: number): never {
    const b = this.#batch!;
    return fail(
      ErrorCode.BATCH_MISMATCH,
      `batch sealed by ${b.seal.author} ends after ${b.count} of ${b.body.count} events`,
      { index },
    );
  }
}

/** Runs `f`, attaching `index` to a DirchainError it throws. */
export function atIndex<T>(index: number, f: () => T): T {
  try {
    return f();
  } catch (e) {
    if (e instanceof DirchainError && e.index === undefined) {
      throw new DirchainError(e.code, `record ${index}: ${e.message}`, {
        index,
        ...(e.hint ? { hint: e.hint } : {}),
      });
    }
    throw e;
  }
}
