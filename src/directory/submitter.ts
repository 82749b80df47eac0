/**
 * Where the directory API sends the records it signs: a sequencer in this
 * process, or a remote node's client. What it answers once a record is durable.
 */
import type { Plain } from '../encoding/msgpack.js';
import type { StateView } from '../policy/entities.js';
import type { DisclosureBundle } from '../privacy/disclosure.js';

/** What `append` resolves to, once the record's block is durable. */
export interface Receipt {
  readonly index: number;
  readonly height: number;
}

/** What `appendBatch` / `submitBatch` resolve to, once the batch's block is durable. */
export interface BatchReceipt {
  /** Index of the seal (the signed record); its events follow it. */
  readonly seal: number;
  /** Index of event 0. */
  readonly first: number;
  readonly count: number;
  readonly height: number;
}

/** A member's signing identity, for `Ledger.submit`. */
export interface MemberSigner {
  readonly id: string;
  readonly keyId: number;
  readonly signer: { readonly publicKey: Uint8Array; sign(message: Uint8Array): Uint8Array };
}

/** What the directory API needs of a ledger: its origin, its committed state, and a way to append. */
export interface Submitter {
  readonly origin: string;
  /**
   * The state as of the last durable block, when it is at hand (a remote
   * node's client has none: a proposal about a member then needs its `after`).
   */
  readonly view?: StateView;
  /** Where record secrets are kept (the author's local-only store), when there is one. */
  readonly secrets?: SecretKeeper;
  /** A disclosure of a record's committed attributes (for a grant's openings). */
  disclose?(
    index: number,
    names: readonly string[],
    options?: { to?: string; as?: MemberSigner },
  ): Promise<DisclosureBundle>;
  /** A member's current X25519 key as the ledger knows it (for sealed payloads). */
  encryptionKeyOf?(member: string): Promise<Uint8Array | null | undefined>;
  submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt>;
  submitBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): Promise<BatchReceipt>;
}

/**
 * The author's keeper of record secrets (the local-only store: never served,
 * replicated or published). Names are `[a-z0-9][a-z0-9._-]*`.
 */
export interface SecretKeeper {
  put(name: string, value: Uint8Array): Promise<void>;
  get(name: string): Promise<Uint8Array | undefined>;
  /** Whether there was one to delete. */
  delete(name: string): Promise<boolean>;
  /** Every name kept (to find a member's encryption keys). */
  names?(): Promise<string[]>;
}
