/**
 * The per-event half of admitting a batch signed elsewhere: the seal's
 * signature, every event's strict decoding and position, the leaf hashes and
 * the root the seal signs. Runs on admission worker threads (and in-thread
 * where workers are not available), so the sequencer's main thread keeps only
 * the ordering work.
 */
import { equalBytes } from '../crypto/bytes.js';
import { verifyNode } from '../crypto/node-crypto.js';
import { checkEvent } from '../encoding/event.js';
import { recordSigningMessage } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import { nodeTreeHasher } from '../merkle/node-hasher.js';
import { Frontier, HashSink } from '../merkle/stored.js';

const hasher = nodeTreeHasher;

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
  const leaves = new Uint8Array(32 * c.events.length);
  // The root by the frontier's allocation-free node hashing (one sink per batch).
  const frontier = new Frontier(hasher);
  const sink = new HashSink(2 * c.events.length);
  for (let i = 0; i < c.events.length; i++) {
    const bytes = c.events[i]!;
    const position = checkEvent(bytes);
    if (position !== i) fail(ErrorCode.BATCH_MISMATCH, `event ${i} says it is at position ${position}`);
    leaves.set(hasher.leaf(bytes), 32 * i);
    frontier.appendTo(leaves, 32 * i, sink);
  }
  if (!equalBytes(frontier.root(), c.root)) {
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
  /** Per check: signed length, event count. */
  readonly shape: Uint32Array;
  /** Per check: signed part, signature (64), key (32), root (32). */
  readonly seals: Uint8Array;
  /** Every event of every check, back to back, and their lengths. */
  readonly events: Uint8Array;
  readonly lengths: Uint32Array;
}

const SEAL_FIXED = 64 + 32 + 32;

export function packChecks(id: number, checks: readonly BatchCheck[]): PackedChecks {
  const shape = new Uint32Array(2 * checks.length);
  let sealBytes = 0;
  let eventBytes = 0;
  let eventCount = 0;
  for (const [k, c] of checks.entries()) {
    shape[2 * k] = c.signed.length;
    shape[2 * k + 1] = c.signatureOnly ? SIGNATURE_ONLY : c.events.length;
    sealBytes += c.signed.length + SEAL_FIXED;
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
    for (const part of [c.signed, c.signature, c.key, c.root]) {
      seals.set(part, s);
      s += part.length;
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
    const take = (length: number): Uint8Array => {
      s += length;
      return m.seals.subarray(s - length, s);
    };
    const signed = take(signedLength);
    const signature = take(64);
    const key = take(32);
    const root = take(32);
    const signatureOnly = m.shape[2 * k + 1] === SIGNATURE_ONLY;
    const events: Uint8Array[] = new Array(signatureOnly ? 0 : m.shape[2 * k + 1]!);
    for (let i = 0; i < events.length; i++) {
      events[i] = m.events.subarray(e, e + m.lengths[n]!);
      e += m.lengths[n++]!;
    }
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

/** Runs packed checks (on a worker): refusals are reported per check, leaves only for accepted ones. */
export function runChecks(m: PackedChecks): CheckedBatches {
  const checks = unpackChecks(m);
  let total = 0;
  for (const c of checks) total += c.events.length;
  const leaves = new Uint8Array(32 * total);
  const errors: CheckedBatches['errors'] = [];
  let at = 0;
  for (const c of checks) {
    try {
      leaves.set(checkBatch(c), at);
      errors.push(undefined);
    } catch (e) {
      errors.push(
        isDirchainError(e)
          ? { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) }
          : { code: ErrorCode.INTERNAL, message: `batch check failed unexpectedly: ${String(e)}` },
      );
    }
    at += 32 * c.events.length;
  }
  return { id: m.id, leaves, errors, events: m.events, lengths: m.lengths };
}
