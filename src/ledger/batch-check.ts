/**
 * The per-event half of admitting a batch signed elsewhere: the seal's
 * signature, every event's strict decoding and position, the leaf hashes and
 * the root the seal signs. Runs on admission worker threads (and in-thread
 * where workers are not available), so the sequencer's main thread keeps only
 * the ordering work.
 */
import { equalBytes } from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { decodeEvent } from '../encoding/event.js';
import { recordSigningMessage } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { treeHasher } from '../merkle/hasher.js';
import { memoryRoot } from '../merkle/memory-tree.js';

const hasher = treeHasher(sha256Node);

export interface BatchCheck {
  /** The seal's signed part and signature, and the author key its keyId names. */
  readonly signed: Uint8Array;
  readonly signature: Uint8Array;
  readonly key: Uint8Array;
  readonly root: Uint8Array;
  readonly events: readonly Uint8Array[];
  /** Skip the signature (the caller checks it elsewhere). */
  readonly signatureChecked?: boolean;
}

/** Returns the events' leaf hashes, 32 bytes each, back to back. Throws the refusal. */
export function checkBatch(c: BatchCheck): Uint8Array {
  const leaves = new Uint8Array(32 * c.events.length);
  const list: Uint8Array[] = new Array(c.events.length);
  for (let i = 0; i < c.events.length; i++) {
    const bytes = c.events[i]!;
    const event = decodeEvent(bytes);
    if (event.position !== i)
      fail(ErrorCode.BATCH_MISMATCH, `event ${i} says it is at position ${event.position}`);
    const leaf = hasher.leaf(bytes);
    leaves.set(leaf, 32 * i);
    list[i] = leaf;
  }
  if (!equalBytes(memoryRoot(hasher, list), c.root)) {
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

/** A batch check as posted to a worker: the events back to back in one transferable buffer. */
export interface PackedCheck extends Omit<BatchCheck, 'events'> {
  readonly id: number;
  readonly packed: Uint8Array;
  readonly lengths: Uint32Array;
}

export function unpackCheck(m: PackedCheck): BatchCheck {
  const events: Uint8Array[] = new Array(m.lengths.length);
  let at = 0;
  for (let i = 0; i < m.lengths.length; i++) {
    events[i] = m.packed.subarray(at, at + m.lengths[i]!);
    at += m.lengths[i]!;
  }
  return { signed: m.signed, signature: m.signature, key: m.key, root: m.root, events };
}
