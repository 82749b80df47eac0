/** Signing as a member: a record, or a batch with node's SHA-256 (the author side of `appendBatch`). */

import type { Signer } from '../crypto/ed25519.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import type { MemberSigner } from '../directory/submitter.js';
import { type SignedBatch, signBatch as signBatchWith } from '../encoding/event.js';
import type { Plain } from '../encoding/msgpack.js';
import { type LedgerRecord, type RecordDraft, signRecord } from '../encoding/record.js';

const hasher = nodeTreeHasher;

/**
 * Encodes `bodies` as events of `draft.kind` and signs their seal, as a member
 * node does before sending the batch to the sequencer (`appendBatch`).
 */
export function signBatch(
  draft: Omit<RecordDraft, 'kind' | 'body'> & { readonly kind: string },
  bodies: readonly Plain[],
  signer: Signer,
): SignedBatch {
  return signBatchWith(draft, bodies, signer, hasher);
}

/** Signs a record of `kind` for the ledger `origin` as `member`, at `timestamp`. */
export function signAs(
  origin: string,
  timestamp: number,
  member: MemberSigner,
  kind: string,
  body: Plain,
): LedgerRecord {
  return signRecord({ origin, kind, author: member.id, keyId: member.keyId, timestamp, body }, member.signer);
}

/** Signs `bodies` as one batch of `kind` events for the ledger `origin` as `member`, at `timestamp`. */
export function signBatchAs(
  origin: string,
  timestamp: number,
  member: MemberSigner,
  kind: string,
  bodies: readonly Plain[],
): SignedBatch {
  return signBatch(
    { origin, kind, author: member.id, keyId: member.keyId, timestamp },
    bodies,
    member.signer,
  );
}
