/**
 * The per-event half of admitting a batch signed elsewhere: the seal's
 * signature, every event's strict decoding and position, the leaf hashes and
 * the root the seal signs. Runs on admission worker threads (and in-thread
 * where workers are not available), so the sequencer's main thread keeps only
 * the ordering work.
 */
import { equalBytes } from '../crypto/bytes.js';
import { verifyNode, verifyNodeAt } from '../crypto/node-crypto.js';
import { leafHashesInto, rootOfLeaves } from '../crypto/sha256x4.js';
import { checkEvent } from '../encoding/event.js';
import { recordSigningMessage } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';

const NO_ROOT = new Uint8Array(32);

export interface BatchCheck {
  /** The seal's signed part and signature, and the author key its keyId names. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly key: Uint8Array;
  readonly root: Uint8Array;
  readonly events: readonly Uint8Array[];
  /** Skip the signature (the caller checks it elsewhere). */
  readonly signatureChecked?: boolean;
  /** Only the signature: a single record (no events, no root). */
  readonly signatureOnly?: boolean;
}

/** In a packed shape, the event count of a signature-only check. */
const SIGNATURE_ONLY = 0xffffffff;

/** Returns the events' leaf hashes, 32 bytes each, back to back. Throws the refusal. */
export function checkBatch(c: BatchCheck): Uint8Array {
  if (c.signatureOnly) {
    if (!verifyNode(c.key, recordSigningMessage(c.signed), c.signature)) throw badSeal();
    return new Uint8Array(0);
  }
  const count = c.events.length;
  for (let i = 0; i < count; i++) {
    const position = checkEvent(c.events[i]!);
    if (position !== i) fail(ErrorCode.BATCH_MISMATCH, `event ${i} says it is at position ${position}`);
  }
  // Leaves and root four hashes at a time (sha256x4.ts).
  const leaves = new Uint8Array(32 * count);
  leafHashesInto(c.events, 0, count, leaves, 0);
  if (count === 0 || !equalBytes(rootOfLeaves(leaves, count, new Uint8Array(32 * count)), c.root)) {
    fail(ErrorCode.BATCH_MISMATCH, 'the events do not match the root their seal signs', {
      hint: 'send the events exactly as encoded when the seal was signed, in order',
    });
  }
  if (!c.signatureChecked && !verifyNode(c.key, recordSigningMessage(c.signed), c.signature)) throw badSeal();
  return leaves;
}

/** The refusal of a seal whose signature does not verify (same wording on every path). */
export function badSeal(): DirchainError {
  return new DirchainError(ErrorCode.BAD_SIGNATURE, 'the batch seal does not verify under its author key', {
    hint: 'the seal was changed after signing, or signed with another key',
  });
}

/**
 * Several batch checks as posted to a worker in one message: every byte in
 * two transferable buffers (cloning many small arrays, or posting once per
 * batch, cost more on the main thread than packing them).
 */
export interface PackedChecks {
  readonly id: number;
  /** Per check: signed length, event count (`SIGNATURE_ONLY` for a single record's signature). */
  readonly shape: Uint32Array;
  /**
   * Per check: signed part, signature (64), key (32), root (32). A signature
   * check instead holds its whole signing message (context, then the signed
   * part), signature and key, so the worker verifies straight from the message.
   */
  readonly seals: Uint8Array;
  /** Every event of every check, back to back, and their lengths. */
  readonly events: Uint8Array;
  readonly lengths: Uint32Array;
}

const SEAL_FIXED = 64 + 32 + 32;
const CONTEXT = recordSigningMessage(new Uint8Array(0));
/** A signature check's bytes beyond its signed part: context, signature, key. */
const SIGNATURE_FIXED = CONTEXT.length + 64 + 32;

export function packChecks(id: number, checks: readonly BatchCheck[]): PackedChecks {
  const shape = new Uint32Array(2 * checks.length);
  let sealBytes = 0;
  let eventBytes = 0;
  let eventCount = 0;
  for (const [k, c] of checks.entries()) {
    shape[2 * k] = c.signed.length;
    shape[2 * k + 1] = c.signatureOnly ? SIGNATURE_ONLY : c.events.length;
    sealBytes += c.signed.length + (c.signatureOnly ? SIGNATURE_FIXED : SEAL_FIXED);
    eventCount += c.events.length;
    for (const e of c.events) eventBytes += e.length;
  }
  const seals = new Uint8Array(sealBytes);
  const events = new Uint8Array(eventBytes);
  const lengths = new Uint32Array(eventCount);
  let s = 0;
  let e = 0;
  let n = 0;
  for (const c of checks) {
    if (c.signatureOnly) {
      seals.set(CONTEXT, s);
      s += CONTEXT.length;
    }
    seals.set(c.signed, s);
    s += c.signed.length;
    seals.set(c.signature, s);
    s += 64;
    seals.set(c.key, s);
    s += 32;
    if (!c.signatureOnly) {
      seals.set(c.root, s);
      s += 32;
    }
    for (const event of c.events) {
      events.set(event, e);
      e += event.length;
      lengths[n++] = event.length;
    }
  }
  return { id, shape, seals, events, lengths };
}

/** Several packed checks as one (one message for a burst). */
export function mergePacked(id: number, parts: readonly PackedChecks[]): PackedChecks {
  if (parts.length === 1) return { ...parts[0]!, id };
  const concat = <A extends Uint8Array | Uint32Array>(make: (n: number) => A, arrays: A[]): A => {
    let n = 0;
    for (const a of arrays) n += a.length;
    const out = make(n);
    let at = 0;
    for (const a of arrays) {
      out.set(a, at);
      at += a.length;
    }
    return out;
  };
  return {
    id,
    shape: concat(
      (n) => new Uint32Array(n),
      parts.map((p) => p.shape),
    ),
    seals: concat(
      (n) => new Uint8Array(n),
      parts.map((p) => p.seals),
    ),
    events: concat(
      (n) => new Uint8Array(n),
      parts.map((p) => p.events),
    ),
    lengths: concat(
      (n) => new Uint32Array(n),
      parts.map((p) => p.lengths),
    ),
  };
}

export function unpackChecks(m: PackedChecks): BatchCheck[] {
  const out: BatchCheck[] = [];
  let s = 0;
  let e = 0;
  let n = 0;
  for (let k = 0; k < m.shape.length / 2; k++) {
    const signedLength = m.shape[2 * k]!;
    const signatureOnly = m.shape[2 * k + 1] === SIGNATURE_ONLY;
    const take = (length: number): Uint8Array => {
      s += length;
      return m.seals.subarray(s - length, s);
    };
    if (signatureOnly) s += CONTEXT.length;
    const signed = take(signedLength);
    const signature = take(64);
    const key = take(32);
    const root = signatureOnly ? NO_ROOT : take(32);
    const events = eventsAt(m, e, n, signatureOnly ? 0 : m.shape[2 * k + 1]!);
    for (const event of events) e += event.length;
    n += events.length;
    out.push({ signed, signature, key, root, events, ...(signatureOnly ? { signatureOnly } : {}) });
  }
  return out;
}

/**
 * A worker's answer: the leaves of every accepted check back to back, each
 * check's refusal if any, and the event bytes handed back (the ledger stores
 * exactly the bytes that were hashed, whatever the caller does with its own).
 */
export interface CheckedBatches {
  readonly id: number;
  readonly leaves: Uint8Array;
  readonly events: Uint8Array;
  readonly lengths: Uint32Array;
  readonly errors: Array<{ code: string; message: string; hint?: string } | undefined>;
}

/**
 * Runs packed checks (on a worker): refusals are reported per check, leaves
 * only for accepted ones. A signature check is verified straight from the
 * packed bytes, with no check object, copy or key text per record: under
 * `appendMany` the workers run thousands a second, and that per-record
 * garbage and copying was the workers' cost beyond the verification itself.
 */
export function runChecks(m: PackedChecks): CheckedBatches {
  const { shape, seals } = m;
  const count = shape.length / 2;
  let total = 0;
  for (let k = 0; k < count; k++) if (shape[2 * k + 1] !== SIGNATURE_ONLY) total += shape[2 * k + 1]!;
  const leaves = new Uint8Array(32 * total);
  const errors: CheckedBatches['errors'] = new Array(count).fill(undefined);
  let at = 0;
  let s = 0;
  let e = 0;
  let n = 0;
  for (let k = 0; k < count; k++) {
    const signedLength = shape[2 * k]!;
    const events = shape[2 * k + 1]!;
    if (events === SIGNATURE_ONLY) {
      const messageEnd = s + CONTEXT.length + signedLength;
      const ok = verifyNodeAt(
        seals.subarray(s, messageEnd),
        seals.subarray(messageEnd, messageEnd + 64),
        seals,
        messageEnd + 64,
      );
      if (!ok) errors[k] = reported(badSeal());
      s = messageEnd + 64 + 32;
      continue;
    }
    const signed = seals.subarray(s, s + signedLength);
    s += signedLength;
    const c: BatchCheck = {
      signed,
      signature: seals.subarray(s, s + 64),
      key: seals.subarray(s + 64, s + 96),
      root: seals.subarray(s + 96, s + 128),
      events: eventsAt(m, e, n, events),
    };
    s += SEAL_FIXED;
    for (let i = 0; i < events; i++) e += m.lengths[n++]!;
    try {
      leaves.set(checkBatch(c), at);
    } catch (x) {
      errors[k] = reported(x);
    }
    at += 32 * events;
  }
  return { id: m.id, leaves, errors, events: m.events, lengths: m.lengths };
}

function eventsAt(m: PackedChecks, offset: number, first: number, count: number): Uint8Array[] {
  const out: Uint8Array[] = new Array(count);
  for (let i = 0; i < count; i++) {
    const length = m.lengths[first + i]!;
    out[i] = m.events.subarray(offset, offset + length);
    offset += length;
  }
  return out;
}

function reported(e: unknown): CheckedBatches['errors'][number] {
  return isDirchainError(e)
    ? { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) }
    : { code: ErrorCode.INTERNAL, message: `batch check failed unexpectedly: ${String(e)}` };
}
