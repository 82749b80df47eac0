/**
 * Private attributes on the author's side: a record's attributes committed
 * under a fresh secret, the secret and values kept in the author's local-only
 * store (never on the ledger, never served or replicated), and disclosures
 * made from them later (src/privacy/commitment.ts, disclosure.ts).
 *
 * The secret is kept before the record is submitted, under the commitment's
 * own name (`attr-<root hex>`), so an acknowledged record always has its
 * opening at hand; a refused record's is deleted again.
 */

import { toHex } from '../crypto/bytes.js';
import { verifyNoble } from '../crypto/ed25519.js';
import { sha256Noble } from '../crypto/sha256.js';
import { isBlockEntry } from '../encoding/block-entry.js';
import { isEventEntry } from '../encoding/event.js';
import { type Plain, pack, unpackChecked } from '../encoding/msgpack.js';
import { decodeRecord, type LedgerRecord, verifyRecordSignature } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import { ATTRIBUTE_SCHEMAS, commitmentOf } from '../privacy/attribute-schemas.js';
import {
  attributeHasher,
  type Committed,
  commitAttributes,
  discloseAttributes,
  SECRET_BYTES,
} from '../privacy/commitment.js';
import { bindingMessage, type DisclosureBundle } from '../privacy/disclosure.js';
import type { MemberSigner, SecretKeeper } from './submitter.js';

const h = attributeHasher(sha256Noble);

export const secretName = (root: Uint8Array): string => `attr-${toHex(root)}`;

/** What `#withAttributes` needs to submit: the body with its commitment. */
export interface Prepared {
  readonly committed: Uint8Array;
  readonly keep: () => Promise<void>;
  readonly forget: () => Promise<void>;
}

/** Commits `attributes` for a record of `kind`: the root for its body, and how to keep its opening. */
export function prepareAttributes(
  secrets: SecretKeeper | undefined,
  kind: string,
  attributes: Readonly<Record<string, unknown>>,
): Prepared {
  if (secrets === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'private attributes need a local-only store for their secrets', {
      hint: 'open the ledger (or connect) with { local: <folder> }: a folder of its own, outside the ledger folder',
    });
  const schema = ATTRIBUTE_SCHEMAS[kind];
  if (schema === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, `${kind} records carry no private attributes`, {
      hint: `these do: ${Object.keys(ATTRIBUTE_SCHEMAS).join(', ')}`,
    });
  if (typeof attributes !== 'object' || attributes === null || Object.keys(attributes).length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'attributes must be an object with at least one attribute');
  const secret = new Uint8Array(SECRET_BYTES);
  globalThis.crypto.getRandomValues(secret);
  const c = commitAttributes(h, schema, secret, attributes);
  const name = secretName(c.root);
  return {
    committed: c.root,
    keep: () => secrets.put(name, pack([secret, attributes as Plain])),
    forget: async () => {
      await secrets.delete(name);
    },
  };
}

/** The commitment of `record`, remade from the secret its author keeps. */
async function reopen(secrets: SecretKeeper, record: LedgerRecord, index: number): Promise<Committed> {
  const root = commitmentOf(record);
  if (root === undefined)
    fail(ErrorCode.NOT_FOUND, `record ${index} (${record.kind}) carries no private attributes`, { index });
  const kept = await secrets.get(secretName(root));
  if (kept === undefined)
    fail(ErrorCode.NOT_FOUND, `the opening of record ${index} is not in this local store`, {
      index,
      hint: 'only its author holds it, until erased',
    });
  const [secret, attributes] = unpackChecked(kept) as [Uint8Array, Record<string, unknown>];
  const c = commitAttributes(h, ATTRIBUTE_SCHEMAS[record.kind]!, secret, attributes);
  if (toHex(c.root) !== toHex(root))
    fail(ErrorCode.LEDGER_CORRUPT, `the kept opening of record ${index} does not make its commitment`, {
      index,
    });
  return c;
}

/** What a disclosure needs of a ledger: the record's inclusion proof at a checkpoint. */
export interface InclusionSource {
  readonly origin: string;
  proveInclusion(
    index: number,
    size?: number,
  ): Promise<{ leaf: Uint8Array; inclusion: readonly Uint8Array[]; checkpoint: string; size: number }>;
}

export interface DiscloseOptions {
  /** The member the disclosure is for: the bundle then carries the author's signed binding to it. */
  readonly to?: string;
  /** The record's author, with the key that signed the record (needed with `to`). */
  readonly as?: MemberSigner;
  /** Now, for the binding (default Date.now()). */
  readonly time?: number;
  /** The checkpoint to prove the record at (default the head). */
  readonly size?: number;
}

/** A disclosure bundle of attributes `names` of record `index`, from the author's kept opening. */
export async function discloseRecord(
  source: InclusionSource,
  secrets: SecretKeeper | undefined,
  index: number,
  names: readonly string[],
  options: DiscloseOptions = {},
): Promise<DisclosureBundle> {
  if (secrets === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'disclosures are made from a local-only store', {
      hint: 'open the ledger (or connect) with { local: <folder> } where the record was authored',
    });
  if (!Array.isArray(names) || names.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'names must list at least one attribute to disclose');
  const proof = await source.proveInclusion(index, options.size);
  const record = decodeRecord(proof.leaf);
  const c = await reopen(secrets, record, index);
  const attributes = discloseAttributes(h, c, names);
  let to: DisclosureBundle['to'];
  if (options.to !== undefined) {
    const as = options.as;
    if (
      as === undefined ||
      as.id !== record.author ||
      !verifyRecordSignature(record, as.signer.publicKey, verifyNoble)
    )
      fail(
        ErrorCode.NOT_AUTHORIZED,
        `a disclosure of record ${index} is bound by its author ${record.author}, with the key that signed it`,
        {
          hint: 'pass { as: <the author’s member signer> }',
        },
      );
    const time = options.time ?? Date.now();
    const message = bindingMessage(
      source.origin,
      index,
      proof.leaf,
      attributes.map((a) => a.name),
      options.to,
      time,
    );
    to = { member: options.to, time, key: as.signer.publicKey, signature: as.signer.sign(message) };
  }
  return {
    origin: source.origin,
    index,
    size: proof.size,
    checkpoint: proof.checkpoint,
    leaf: proof.leaf,
    inclusion: proof.inclusion,
    attributes,
    ...(to === undefined ? {} : { to }),
  };
}

/** Erases the opening of record `index` from the local store: every disclosure of it, for good. */
export async function eraseOpening(secrets: SecretKeeper | undefined, entry: Uint8Array): Promise<boolean> {
  if (secrets === undefined || isEventEntry(entry) || isBlockEntry(entry)) return false;
  const root = commitmentOf(entry);
  return root === undefined ? false : secrets.delete(secretName(root));
}
