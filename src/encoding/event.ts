/**
 * Batches: one signed record (the seal) vouching for many events. An author
 * who logs thousands of data calls signs once per batch instead of once per
 * call, and every event is still its own log entry, provable on its own.
 *
 *   seal  = an ordinary record of kind "batch", body { kind, count, root }
 *   event = MessagePack [ 0, position, body ]   (the log entry of one event)
 *   root  = RFC 9162 MTH over the events' leaf hashes, in position order
 *
 * The seal is followed immediately in the log by its `count` events, at
 * positions 0..count-1. Each event is of the seal's `kind`, by the seal's
 * author, at the seal's time. An event's attribution proof is the seal, the
 * seal's signature, and the event's path to `root` (see verify.ts). The leading
 * 0 tells an event from a record envelope, whose first element is binary.
 */
import { checkArray, checkBytes, checkObject, checkString, show } from '../crypto/bytes.js';
import type { Signer } from '../crypto/ed25519.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';
import { memoryRoot } from '../merkle/memory-tree.js';
import { checkCanonical } from './canonical.js';
import { assertPlain, type Plain, pack, unpackChecked } from './msgpack.js';
import { KIND_PATTERN, type LedgerRecord, MAX_ENTRY_BYTES, type RecordDraft, signRecord } from './record.js';

export const BATCH_KIND = 'batch';
/** Events per batch; a batch and its events always land in one block. */
export const MAX_BATCH_EVENTS = 4096;

export interface BatchBody {
  /** The kind of every event in the batch. */
  readonly kind: string;
  readonly count: number;
  /** MTH of the events' leaf hashes. */
  readonly root: Uint8Array;
}

export interface LedgerEvent {
  /** The log entry: exactly what is stored, served and hashed into the leaf. */
  readonly bytes: Uint8Array;
  /** Place in its batch, 0-based. */
  readonly position: number;
  readonly body: Plain;
}

/** Kinds that may travel in batches: the high-volume ones that create no named entities. */
export function isBatchable(kind: string): boolean {
  return (
    typeof kind === 'string' && (kind === 'access.log' || (kind.startsWith('x.') && KIND_PATTERN.test(kind)))
  );
}

/** True when a log entry is an event rather than a signed record. */
export function isEventEntry(bytes: Uint8Array): boolean {
  return bytes instanceof Uint8Array && bytes.length >= 3 && bytes[0] === 0x93 && bytes[1] === 0x00;
}

export function encodeEvent(position: number, body: Plain): Uint8Array {
  if (!Number.isSafeInteger(position) || position < 0 || position >= MAX_BATCH_EVENTS)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `event position must be an integer in 0..${MAX_BATCH_EVENTS - 1}, got ${show(position)}`,
    );
  assertPlain(body, 'event body');
  const bytes = pack([0, position, body]);
  if (bytes.length > MAX_ENTRY_BYTES) {
    fail(
      ErrorCode.TOO_LARGE,
      `event ${position} is ${bytes.length} bytes; a log entry is at most ${MAX_ENTRY_BYTES}`,
      {
        hint: 'put large content beside the ledger and record its hash',
      },
    );
  }
  return bytes;
}

/** Strictly decodes an event entry (canonical MessagePack, plain body). */
export function decodeEvent(bytes: Uint8Array): LedgerEvent {
  checkEvent(bytes);
  return decodeCheckedEvent(bytes);
}

/**
 * `decodeEvent` of bytes `checkEvent` has already accepted (the admission
 * workers check every event of a batch): the decode without the walk.
 */
export function decodeCheckedEvent(bytes: Uint8Array): LedgerEvent {
  const v = unpackChecked(bytes) as unknown[];
  return { bytes, position: v[1] as number, body: v[2] as Plain };
}

/**
 * What `decodeEvent(bytes).position` returns, with the same refusals, but
 * without building the body: the bytes are checked in one pass (canonical.ts).
 * For the admission workers, which check every event and need only this.
 */
export function checkEvent(bytes: Uint8Array): number {
  checkBytes(bytes, 'event');
  if (!isEventEntry(bytes)) fail(ErrorCode.DECODE, 'entry is not an event ([0, position, body])');
  if (bytes.length > MAX_ENTRY_BYTES)
    fail(ErrorCode.TOO_LARGE, `event is ${bytes.length} bytes; the limit is ${MAX_ENTRY_BYTES}`);
  // The envelope is one level above the body, which gets assertPlain's full depth.
  checkCanonical(bytes, 'event', 33);
  const t = bytes[2]!;
  const position = t <= 0x7f ? t : t === 0xcc ? bytes[3]! : t === 0xcd ? (bytes[3]! << 8) | bytes[4]! : -1;
  if (position < 0 || position >= MAX_BATCH_EVENTS)
    fail(ErrorCode.DECODE, `event position must be an integer in 0..${MAX_BATCH_EVENTS - 1}`);
  return position;
}

/** Checks a seal's body: { kind, count, root } and nothing else. */
export function parseBatchBody(body: unknown): BatchBody {
  if (body === null || typeof body !== 'object' || Object.getPrototypeOf(body) !== Object.prototype)
    fail(ErrorCode.SCHEMA, 'batch: body must be a map { kind, count, root }');
  const b = body as Record<string, unknown>;
  const extra = Object.keys(b).filter((k) => k !== 'kind' && k !== 'count' && k !== 'root');
  if (extra.length > 0) fail(ErrorCode.SCHEMA, `batch: unknown field ${JSON.stringify(extra[0])}`);
  if (typeof b.kind !== 'string' || !isBatchable(b.kind))
    fail(ErrorCode.SCHEMA, `batch: kind ${show(b.kind)} cannot be batched`, {
      hint: 'batches carry access.log or x.* events; other kinds are appended one record each',
    });
  if (!Number.isSafeInteger(b.count) || (b.count as number) < 1 || (b.count as number) > MAX_BATCH_EVENTS)
    fail(ErrorCode.SCHEMA, `batch: count must be an integer in 1..${MAX_BATCH_EVENTS}`);
  if (!(b.root instanceof Uint8Array) || b.root.length !== 32)
    fail(ErrorCode.SCHEMA, 'batch: root must be 32 bytes');
  return { kind: b.kind, count: b.count as number, root: b.root };
}

export interface SignedBatch {
  readonly seal: LedgerRecord;
  readonly events: Uint8Array[];
  /** The events' leaf hashes (what the root was computed over). */
  readonly leaves: Uint8Array[];
}

/** Encodes `bodies` as events of `kind` and signs their seal. */
export function signBatch(
  draft: Omit<RecordDraft, 'kind' | 'body'> & { readonly kind: string },
  bodies: readonly Plain[],
  signer: Signer,
  hasher: TreeHasher,
): SignedBatch {
  checkObject(draft, 'batch draft');
  checkArray(bodies, 'event bodies');
  if (bodies.length < 1 || bodies.length > MAX_BATCH_EVENTS)
    fail(ErrorCode.INVALID_ARGUMENT, `a batch holds 1..${MAX_BATCH_EVENTS} events, got ${bodies.length}`);
  if (!isBatchable(draft.kind))
    fail(ErrorCode.SCHEMA, `kind ${show(draft.kind)} cannot be batched`, {
      hint: 'batches carry access.log or x.* events',
    });
  // Array.from, not map: a sparse list's holes are bodies too (undefined, refused as not plain data).
  const events = Array.from(bodies, (b, i) => encodeEvent(i, b as Plain));
  const leaves = events.map((e) => hasher.leaf(e));
  const root = memoryRoot(hasher, leaves);
  const seal = signRecord(
    { ...draft, kind: BATCH_KIND, body: { kind: draft.kind, count: events.length, root } },
    signer,
  );
  return { seal, events, leaves };
}

/**
 * An event seen as a record of the seal's kind, author and time (what queries
 * return and the policy judges). `bytes` are the event's own entry bytes;
 * `signed` and `signature` are the seal's, which cover it through the root.
 */
export function eventRecord(seal: LedgerRecord, kind: string, event: LedgerEvent): LedgerRecord {
  checkObject(seal, 'seal');
  checkString(kind, 'kind');
  checkObject(event, 'event');
  checkBytes(event.bytes, 'event bytes');
  return { ...seal, kind, body: event.body, bytes: event.bytes };
}
