/** Signing a batch with node's SHA-256 (the author side of `Ledger.appendBatch`). */

import type { Signer } from '../crypto/ed25519.js';
import { type SignedBatch, signBatch as signBatchWith } from '../encoding/event.js';
import type { Plain } from '../encoding/msgpack.js';
import type { RecordDraft } from '../encoding/record.js';
import { nodeTreeHasher } from '../merkle/node-hasher.js';

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
