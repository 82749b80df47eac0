/** The sequencer's queue items and the refusals it answers with. */

import type { Receipt } from '../directory/submitter.js';
import type { Plain } from '../encoding/msgpack.js';
import type { LedgerRecord, RecordHead } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';

/**
 * A queued log entry: a signed record (`record` set), or one event of a batch,
 * queued right after its seal (decoded only if its kind's rules need the body).
 */
export interface Pending {
  readonly bytes: Uint8Array;
  /** The decoded record; absent for a record signed elsewhere, decoded when its block is formed. */
  readonly record?: LedgerRecord;
  /** For a record signed elsewhere: the key its signature was checked under. */
  readonly verifiedKey?: Uint8Array;
  /** With a batch seal: its events, appended right after it. */
  readonly batch?: PendingBatch;
}

export interface PendingBatch {
  readonly events: readonly Uint8Array[];
  /** The events' leaf hashes, 32 bytes each (computed when the root was checked). */
  readonly leaves: Uint8Array;
  /** The events' bodies, when the batch was signed here (no decoding needed). */
  readonly bodies?: readonly Plain[];
}

export function pendingRecord(record: LedgerRecord): { value: Pending; bytes: number } {
  return weighed({ bytes: record.bytes, record });
}

export function weighed(value: Pending): { value: Pending; bytes: number } {
  return { value, bytes: value.bytes.length };
}

export function pendingBytes(p: Pending): number {
  return p.bytes.length;
}

/** A `pushAll` slot as appendMany answers it: the receipt, or the refusal as a DirchainError. */
export function asResult(settled: unknown): Receipt | DirchainError {
  return settled instanceof Error ? toError(settled) : (settled as Receipt);
}

/** A batch's refusal, naming the event that caused it (position 0 is the seal). */
export function batchRefusal(at: number, e: DirchainError): DirchainError {
  if (at === 0) return e;
  return new DirchainError(e.code, `event ${at - 1} of the batch: ${e.message}`, {
    ...(e.hint === undefined ? {} : { hint: e.hint }),
  });
}

export function aborted(cause: DirchainError): DirchainError {
  return new DirchainError(
    ErrorCode.ATOMIC_ABORTED,
    `not appended: another record of the all-or-nothing group was refused (${cause.code})`,
  );
}

export function batchSealAlone(): never {
  return fail(ErrorCode.BATCH_MISMATCH, 'a batch seal must come with its events', {
    hint: 'use appendBatch(seal, events)',
  });
}

export function badRecordSignature(head: RecordHead): DirchainError {
  return new DirchainError(
    ErrorCode.BAD_SIGNATURE,
    `record by ${head.author} does not verify under key ${head.keyId}`,
    { hint: 'the record bytes were changed after signing, or signed with another key' },
  );
}

export function toError(e: unknown): DirchainError {
  if (e instanceof DirchainError) return e;
  return new DirchainError(ErrorCode.INTERNAL, `unexpected error: ${(e as Error)?.message ?? String(e)}`, {
    cause: e,
  });
}

export function positive(n: number, what: string): number {
  if (!Number.isSafeInteger(n) || n < 1)
    fail(ErrorCode.INVALID_ARGUMENT, `${what} must be a positive integer`);
  return n;
}
