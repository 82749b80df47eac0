/**
 * Replays stored log entries in order through the policy engine, exactly as
 * the sequencer judged them: records one by one, and each batch as its seal
 * followed by its events, whose root must match the seal. Shared by
 * `verifyLedger` and `rebuildState`, so both read the log the same way.
 */
import { equalBytes } from '../crypto/bytes.js';
import { BATCH_KIND, type BatchBody, decodeEvent, isEventEntry, parseBatchBody } from '../encoding/event.js';
import { decodeRecord, type LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import type { TreeHasher } from '../merkle/hasher.js';
import { memoryRoot } from '../merkle/memory-tree.js';
import { evaluate, evaluateEvent, type PolicyContext } from '../policy/rules.js';
import type { State } from '../state/state.js';

interface OpenBatch {
  readonly seal: LedgerRecord;
  readonly body: BatchBody;
  readonly leaves: Uint8Array[];
}

export class Replay {
  readonly #ctx: PolicyContext;
  readonly #state: State;
  readonly #hasher: TreeHasher;
  #open: OpenBatch | undefined;

  constructor(ctx: PolicyContext, state: State, hasher: TreeHasher) {
    this.#ctx = ctx;
    this.#state = state;
    this.#hasher = hasher;
  }

  /**
   * Judges the entry at `index` and stages its effects. Returns the decoded
   * record when the entry is a signed record (the caller checks its
   * signature), undefined for an event. Throws, naming the index, when the
   * entry is malformed, out of place or would have been refused.
   */
  step(entry: Uint8Array, leaf: Uint8Array, index: number, blockTime: number): LedgerRecord | undefined {
    if (isEventEntry(entry)) {
      this.#event(entry, leaf, index, blockTime);
      return undefined;
    }
    if (this.#open !== undefined) this.#unfinished(index);
    const record = atIndex(index, () => decodeRecord(entry));
    const verdict = evaluate(this.#ctx, this.#state, record, index, blockTime, leaf);
    if (verdict instanceof DirchainError) refused(verdict, index);
    this.#state.stage(verdict.changes, verdict.indexes);
    this.#state.stageLeaf(leaf, index);
    if (record.kind === BATCH_KIND)
      this.#open = { seal: record, body: parseBatchBody(record.body), leaves: [] };
    return record;
  }

  /** Checks that no batch runs past a block's end (`next` is the next block's first index). */
  endBlock(next: number): void {
    if (this.#open !== undefined) this.#unfinished(next);
  }

  #event(entry: Uint8Array, leaf: Uint8Array, index: number, blockTime: number): void {
    const open = this.#open;
    if (open === undefined)
      fail(ErrorCode.BATCH_MISMATCH, `entry ${index} is an event outside any batch`, { index });
    const event = atIndex(index, () => decodeEvent(entry));
    if (event.position !== open.leaves.length) {
      fail(
        ErrorCode.BATCH_MISMATCH,
        `event ${index} says position ${event.position}, expected ${open.leaves.length}`,
        {
          index,
        },
      );
    }
    open.leaves.push(leaf);
    const verdict = evaluateEvent(this.#ctx, this.#state, open.seal, open.body.kind, event, index, blockTime);
    if (verdict instanceof DirchainError) refused(verdict, index);
    this.#state.stage(verdict.changes, verdict.indexes);
    if (open.leaves.length === open.body.count) {
      this.#open = undefined;
      if (!equalBytes(memoryRoot(this.#hasher, open.leaves), open.body.root)) {
        const first = index - open.body.count;
        fail(ErrorCode.BATCH_MISMATCH, `the events after seal ${first} do not match its signed root`, {
          index: first,
        });
      }
    }
  }

  #unfinished(index: number): never {
    const open = this.#open!;
    return fail(
      ErrorCode.BATCH_MISMATCH,
      `batch sealed by ${open.seal.author} ends after ${open.leaves.length} of ${open.body.count} events`,
      { index },
    );
  }
}

/** A stored entry the policy would have refused (as opposed to one that is malformed). */
export class ReplayRefusal extends DirchainError {}

function refused(verdict: DirchainError, index: number): never {
  throw new ReplayRefusal(verdict.code, `record ${index} should have been refused: ${verdict.message}`, {
    index,
  });
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
