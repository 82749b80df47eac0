/**
 * A ledger folder open in this process, as `createLedger` / `openLedger`
 * compose it: the read side (`Reader`: head, checkpoints, entries, proofs),
 * the directory queries, the domain API, and — with the sequencer key — the
 * write side (`Sequencer`). Without the key every write is E_READ_ONLY.
 */
import type { State } from '../chain/state.js';
import { Directory } from '../directory/directory.js';
import { memberSignerIn } from '../directory/member-signer.js';
import { type DiscloseOptions, discloseRecord, eraseOpening } from '../directory/private-attributes.js';
import { keepEncryptionKey, openGrantOpenings, openSealedRecord } from '../directory/sealed-records.js';
import type { BatchReceipt, MemberSigner, Receipt, SecretKeeper } from '../directory/submitter.js';
import type { SignedBatch } from '../encoding/event.js';
import type { Plain } from '../encoding/msgpack.js';
import type { LedgerRecord } from '../encoding/record.js';
import { type DirchainError, ErrorCode, fail } from '../errors.js';
import type { StateView } from '../policy/entities.js';
import type { LedgerParams } from '../policy/genesis.js';
import type { DisclosureBundle, DisclosureResult } from '../privacy/disclosure.js';
import type { EncryptionKeyPair } from '../privacy/sealed.js';
import type { DirectoryQuery } from '../query/query.js';
import { Reader } from '../reader/reader.js';
import type { AppendManyOptions, Sequencer } from '../sequencer/sequencer.js';
import { signAs, signBatchAs } from '../sequencer/sign-batch.js';
import type { LedgerStore } from '../storage/store.js';
import { verifyDisclosure } from '../verify.js';
import type { LedgerApi } from './types.js';

export class Ledger extends Reader implements LedgerApi {
  readonly #params: LedgerParams;
  readonly #state: State;
  readonly #sequencer: Sequencer | undefined;
  readonly #clock: () => number;
  /** Read queries over the directory (committed blocks only). */
  readonly query: DirectoryQuery;
  /** The domain API: sign and append directory records as a member. */
  readonly directory: Directory;
  #closed = false;
  readonly #stop: (() => Promise<void>) | undefined;
  readonly #replicaOf: string | undefined;

  /** @internal use createLedger / openLedger, which compose the parts. */
  constructor(parts: {
    store: LedgerStore;
    params: LedgerParams;
    state: State;
    note: string;
    query: DirectoryQuery;
    sequencer: Sequencer | undefined;
    clock: () => number;
    /** A replica's follower: stopped (and waited for) before the folder closes. */
    stop?: () => Promise<void>;
    /** For a replica: the URL it follows (where writes go instead). */
    replicaOf?: string;
    /** The local-only store of the records this process authors. */
    secrets?: SecretKeeper;
  }) {
    super(parts.store, parts.state.committed(), parts.note);
    this.#params = parts.params;
    this.#state = parts.state;
    this.#sequencer = parts.sequencer;
    this.#clock = parts.clock;
    this.#stop = parts.stop;
    this.#replicaOf = parts.replicaOf;
    this.query = parts.query;
    this.secrets = parts.secrets;
    this.directory = new Directory(this);
  }

  /** The local-only store of the records this process authors (the `local` / `secrets` option). */
  readonly secrets: SecretKeeper | undefined;

  async disclose(
    index: number,
    names: readonly string[],
    options?: DiscloseOptions,
  ): Promise<DisclosureBundle> {
    return discloseRecord(this, this.secrets, index, names, options);
  }

  async eraseOpening(index: number): Promise<boolean> {
    return eraseOpening(this.secrets, this.getEntry(index));
  }

  /** A member's current X25519 key, as the state holds it (what payloads are sealed to). */
  async encryptionKeyOf(member: string): Promise<Uint8Array | null | undefined> {
    return this.view.get('member', member)?.encryptionKey;
  }

  async keepEncryptionKey(
    member: string,
    pair: EncryptionKeyPair,
    options?: { passphrase?: string },
  ): Promise<void> {
    return keepEncryptionKey(this.secrets, member, pair, options);
  }

  async openSealed(index: number, member: string, options?: { passphrase?: string }): Promise<Uint8Array> {
    return openSealedRecord(this, this.secrets, index, member, options);
  }

  /** A grant's openings for its consumer: opened as `member`, checked under this ledger's key. */
  async openGrantDisclosure(
    index: number,
    member: string,
    options?: { passphrase?: string },
  ): Promise<DisclosureResult & { text?: string }> {
    return openGrantOpenings(
      this,
      this.secrets,
      index,
      member,
      (json) => verifyDisclosure(json, [this.sequencerKey]),
      options,
    );
  }

  /** The sequencer's checkpoint verifier key (C2SP note format), as named in genesis. */
  get sequencerKey(): string {
    return this.#params.sequencerKey;
  }

  /** What genesis fixed: origin, policy, sequencer. */
  get params(): LedgerParams {
    return this.#params;
  }

  /** The state as of the last durable block. Do not mutate what it returns. */
  get view(): StateView {
    return this.#state.committed();
  }

  /** Appends a record signed elsewhere (`Sequencer.append`). */
  async append(entry: Uint8Array | LedgerRecord): Promise<Receipt> {
    return this.#writer().append(entry);
  }

  /** Appends many records signed elsewhere, in order (`Sequencer.appendMany`). */
  async appendMany(
    entries: readonly Uint8Array[],
    options?: AppendManyOptions,
  ): Promise<Array<Receipt | DirchainError>> {
    return this.#writer().appendMany(entries, options);
  }

  /** Appends a batch signed elsewhere: its seal, then its events (`Sequencer.appendBatch`). */
  async appendBatch(seal: Uint8Array | LedgerRecord, events: readonly Uint8Array[]): Promise<BatchReceipt> {
    return this.#writer().appendBatch(seal, events);
  }

  /** Signs a record as `member` now, and appends it (`Sequencer.submit`). */
  async submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt> {
    return this.#writer().submit(member, kind, body);
  }

  /** Signs `bodies` as one batch of `kind` events by `member`, and appends it (`Sequencer.submitBatch`). */
  async submitBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): Promise<BatchReceipt> {
    return this.#writer().submitBatch(member, kind, bodies);
  }

  /** Signs a record for this ledger as `member`, without appending it. */
  sign(member: MemberSigner, kind: string, body: Plain): LedgerRecord {
    return signAs(this.origin, this.#clock(), member, kind, body);
  }

  /** Signs a batch for this ledger as `member`, without appending it. */
  signBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): SignedBatch {
    return signBatchAs(this.origin, this.#clock(), member, kind, bodies);
  }

  /** A member's signing identity from its signer key text, with the keyId this ledger knows that key by. */
  memberSigner(signerKey: string): MemberSigner {
    return memberSignerIn(this.#state, signerKey);
  }

  /** Resolves with the number of admission worker threads once they have started (0 when read-only). */
  workersStarted(): Promise<number> {
    return this.#sequencer?.workersStarted() ?? Promise.resolve(0);
  }

  /** Resolves once every queued append has been written (or refused). */
  flush(): Promise<void> {
    return this.#sequencer?.flush() ?? Promise.resolve();
  }

  /** Waits for queued appends, then closes the folder. Safe to call twice. */
  async close(): Promise<void> {
    if (this.#closed) return;
    try {
      await this.#sequencer?.close();
      await this.#stop?.();
    } finally {
      // Even when the queued appends failed (E_STORAGE): the folder must be let go, to be reopened.
      if (!this.#closed) {
        this.#closed = true;
        await this.store.close();
      }
    }
  }

  /** @internal The admission workers' thread ids (tests: reuse of a closed ledger's workers). */
  get admissionThreadIds(): number[] {
    return this.#sequencer?.admissionThreadIds ?? [];
  }

  /** The write side; E_LEDGER_CLOSED / E_READ_ONLY otherwise (the async callers turn these into rejections). */
  #writer(): Sequencer {
    if (this.#closed) fail(ErrorCode.LEDGER_CLOSED, 'the ledger is closed');
    if (this.#sequencer === undefined && this.#replicaOf !== undefined) {
      fail(ErrorCode.READ_ONLY, `this is a replica of ${this.#replicaOf}: it takes no writes`, {
        hint: `submit to ${this.#replicaOf}`,
      });
    }
    if (this.#sequencer === undefined) {
      fail(ErrorCode.READ_ONLY, 'the ledger was opened without the sequencer key', {
        hint: 'pass sequencerKey to openLedger',
      });
    }
    return this.#sequencer;
  }
}
