/**
 * The client of a dirchain node (docs/http-api.md): the same `LedgerApi` as a
 * ledger in this process, over HTTP. It trusts the node for nothing it can
 * check: every checkpoint is verified against the pinned sequencer key and
 * must extend the largest one seen (RFC 9162 §2.1.4 consistency), every proof
 * bundle and every query item's proof is verified before it is returned.
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { equalBytes, utf8 } from '../crypto/bytes.js';
import type { NoteVerifier } from '../crypto/note.js';
import { Directory } from '../directory/directory.js';
import { currentKeyOf, memberSigner } from '../directory/member-signer.js';
import { type DiscloseOptions, discloseRecord, eraseOpening } from '../directory/private-attributes.js';
import { keepEncryptionKey, openGrantOpenings, openSealedRecord } from '../directory/sealed-records.js';
import type { SecretKeeper } from '../directory/submitter.js';
import { isBlockEntry } from '../encoding/block-entry.js';
import { consistencyBundleFromJSON, inclusionBundleFromJSON } from '../encoding/bundle.js';
import { blockHeaderOfNote } from '../encoding/checkpoint.js';
import { decodeEvent, eventRecord, isEventEntry, parseBatchBody } from '../encoding/event.js';
import { type ForkEvidenceJSON, forkEvidenceToJSON } from '../encoding/evidence.js';
import type { Plain } from '../encoding/msgpack.js';
import { decodeRecord, type LedgerRecord, MAX_ENTRY_BYTES } from '../encoding/record.js';
import { DirchainError, ErrorCode, type ErrorCodeValue, fail, isDirchainError } from '../errors.js';
import type {
  AppendManyOptions,
  BatchReceipt,
  ConsistencyBundle,
  Head,
  InclusionBundle,
  LedgerApi,
  LedgerQueries,
  MemberSigner,
  Receipt,
} from '../ledger/types.js';
import { encodeEntryBundle } from '../merkle/tiles.js';
import type { DisclosureBundle, DisclosureResult } from '../privacy/disclosure.js';
import type { EncryptionKeyPair } from '../privacy/sealed.js';
import { signAs, signBatchAs } from '../sequencer/sign-batch.js';
import { type StatusBundle, statusBundleFromJSON } from '../state/status-proof.js';
import {
  parseKeys,
  verifyBundle,
  verifyCheckpoint,
  verifyCosignatures,
  verifyDisclosure,
} from '../verify.js';
import { verifyInclusion } from '../verify-node.js';
import { readCapped } from './http.js';
import { signRequest } from './request-signature.js';
import {
  BINARY_TYPE,
  b64,
  bytesList,
  bytesOf,
  type ErrorBody,
  type ItemProof,
  JSON_TYPE,
  knownCode,
  PATHS,
  parseErrorBody,
  QUERY_METHODS,
  type QueryMethod,
  reviveBytes,
  statusAgrees,
} from './wire.js';

export interface ConnectOptions {
  /** The published sequencer verifier key (C2SP note verifier key text) to pin. Never the private key: a PRIVATE+KEY is refused with E_KEY_INVALID. */
  verifierKey: string;
  /** Sign reads as this member (RFC 9421); required for proofs and queries, and for tiles/checkpoint unless the node is --public. */
  as?: MemberSigner;
  /** Retries on 503 / connection loss (default 5), with exponential backoff from 100 ms (jittered), capped at 2 s; honour Retry-After. */
  retries?: number;
  /** Per-request timeout ms (default 30 s). */
  timeoutMs?: number;
  /** Milliseconds since epoch (tests). */
  clock?: () => number;
  /**
   * Told of fork evidence (`dirchain-fork/v1`) when the node serves a signed
   * checkpoint of a size already seen with another root, before E_FORK is
   * thrown: keep it (anyone verifies it offline with the published key).
   */
  onFork?: (evidence: ForkEvidenceJSON) => void;
  /**
   * Witness verifier keys: `head()` (and so `connect`) then reads the node's
   * cosigned checkpoint and requires `quorum` of them (default all) to have
   * cosigned it (E_QUORUM otherwise). Proofs and queries stay at the node's
   * latest signed checkpoint, which must extend the cosigned one.
   */
  witnesses?: readonly string[];
  quorum?: number;
  /**
   * The local-only store of the records this application authors with
   * private attributes (the public entry's `local` option opens one from a
   * folder): their secrets stay here, never on the node.
   */
  secrets?: SecretKeeper;
}

const BACKOFF_FIRST_MS = 100;
const BACKOFF_CAP_MS = 2000;
/** A Retry-After past this is not waited for in full: a node cannot park its clients for hours. */
const RETRY_AFTER_CAP_MS = 60_000;
/** Query items that are records: the node sends `{index, seal?, grant?}`, the record is read from the proof. */
const RECORD_METHODS: ReadonlySet<QueryMethod> = new Set([
  'resourceHistory',
  'accessLogs',
  'accessLogsOfResource',
  'recordsByKind',
]);
/** Refusals of the request itself, not of a proof: passed through as they are. */
const TRANSPORT_CODES: ReadonlySet<string> = new Set([
  ErrorCode.REMOTE,
  ErrorCode.UNAVAILABLE,
  ErrorCode.UNAUTHENTICATED,
  ErrorCode.REPLAYED,
  ErrorCode.UNKNOWN_MEMBER,
  ErrorCode.UNKNOWN_KEY,
  ErrorCode.MEMBER_INACTIVE,
  ErrorCode.LEDGER_CLOSED,
]);

/** Connects to the node at `url`, reading and verifying its checkpoint once. */
export async function connect(url: string, options: ConnectOptions): Promise<RemoteLedger> {
  if (typeof options?.verifierKey !== 'string')
    fail(ErrorCode.INVALID_ARGUMENT, 'connect needs verifierKey, the sequencer verifier key text');
  if (options.verifierKey.trim().startsWith('PRIVATE+KEY+'))
    fail(ErrorCode.KEY_INVALID, 'verifierKey is a signer (private) key', {
      hint: "pin the sequencer's published verifier key; a client never holds the private key",
    });
  const [key] = parseKeys([options.verifierKey]) as [NoteVerifier];
  let base: URL;
  try {
    base = new URL(url.endsWith('/') ? url : `${url}/`);
  } catch {
    return fail(ErrorCode.INVALID_ARGUMENT, `node url ${JSON.stringify(url)} is not an absolute URL`);
  }
  const ledger = new RemoteLedger(base, key, options);
  await ledger.head();
  return ledger;
}

export class RemoteLedger implements LedgerApi {
  readonly url: string;
  /** The domain API: a remote node's client has no state view (see Submitter.view). */
  readonly directory: Directory = new Directory(this);
  readonly query: LedgerQueries;
  readonly #key: NoteVerifier;
  readonly #as: MemberSigner | undefined;
  readonly #retries: number;
  readonly #timeoutMs: number;
  readonly #clock: () => number;
  readonly #onFork: ((evidence: ForkEvidenceJSON) => void) | undefined;
  readonly #witnesses: { witnesses: readonly string[]; quorum: number } | undefined;
  readonly #abort = new AbortController();
  /** The largest verified checkpoint seen: every later one must be consistent with it. */
  #head: Head | undefined;

  /** @internal use `connect`, which reads the first checkpoint. */
  constructor(base: URL, key: NoteVerifier, options: ConnectOptions) {
    this.url = base.toString();
    this.#key = key;
    this.#as = options.as;
    this.#retries = options.retries ?? 5;
    this.#timeoutMs = options.timeoutMs ?? 30_000;
    this.#clock = options.clock ?? Date.now;
    this.#onFork = options.onFork;
    this.secrets = options.secrets;
    this.#witnesses =
      options.witnesses === undefined || options.witnesses.length === 0
        ? undefined
        : { witnesses: options.witnesses, quorum: options.quorum ?? options.witnesses.length };
    if (!Number.isSafeInteger(this.#retries) || this.#retries < 0)
      fail(ErrorCode.INVALID_ARGUMENT, `retries must be a whole number ≥ 0, got ${String(options.retries)}`);
    if (!(this.#timeoutMs > 0)) fail(ErrorCode.INVALID_ARGUMENT, 'timeoutMs must be a positive number');
    this.query = Object.fromEntries(
      Object.keys(QUERY_METHODS).map((m) => [m, (...args: unknown[]) => this.#query(m as QueryMethod, args)]),
    ) as unknown as LedgerQueries;
  }

  get origin(): string {
    return this.#known().origin;
  }

  /** The local-only store of the records this application authors (the `local` / `secrets` option). */
  readonly secrets: SecretKeeper | undefined;

  /** A disclosure bundle from this application's kept opening, the record proven by the node (verified). */
  async disclose(
    index: number,
    names: readonly string[],
    options?: DiscloseOptions,
  ): Promise<DisclosureBundle> {
    return discloseRecord(this, this.secrets, index, names, options);
  }

  async eraseOpening(index: number): Promise<boolean> {
    if (this.secrets === undefined) return false;
    return eraseOpening(this.secrets, (await this.proveInclusion(index)).leaf);
  }

  /** A member's current X25519 key, read from the node with its proofs (what payloads are sealed to). */
  async encryptionKeyOf(member: string): Promise<Uint8Array | null | undefined> {
    return (await this.query.get('member', member))?.encryptionKey;
  }

  async keepEncryptionKey(
    member: string,
    pair: EncryptionKeyPair,
    options?: { passphrase?: string },
  ): Promise<void> {
    return keepEncryptionKey(this.secrets, member, pair, options);
  }

  /** The sealed payload of record `index` (proven by the node), opened here with `member`'s kept keys. */
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
      (json) => verifyDisclosure(json, [this.#key]),
      options,
    );
  }

  // ---- writes: the node answers a resubmission of the same bytes with the original receipt ----

  async append(entry: Uint8Array | LedgerRecord): Promise<Receipt> {
    const bytes = entry instanceof Uint8Array ? entry : entry.bytes;
    return receiptOf(await this.#json('POST', PATHS.record, { body: bytes, type: BINARY_TYPE }));
  }

  async appendMany(
    entries: readonly Uint8Array[],
    options: AppendManyOptions = {},
  ): Promise<Array<Receipt | DirchainError>> {
    const atomic = options.atomic === true;
    // An entry bundle frames lengths in 16 bits; an oversized entry goes as JSON, to be refused alone.
    const binary = entries.every((e) => !(e instanceof Uint8Array) || e.length <= MAX_ENTRY_BYTES);
    const answer = binary
      ? await this.#json('POST', `${PATHS.records}${atomic ? '?atomic=true' : ''}`, {
          body: encodeEntryBundle(entries),
          type: BINARY_TYPE,
        })
      : await this.#json('POST', PATHS.records, {
          body: utf8(JSON.stringify({ entries: entries.map(b64), atomic })),
          type: JSON_TYPE,
        });
    const results = (answer as { results?: unknown }).results;
    if (!Array.isArray(results) || results.length !== entries.length)
      fail(ErrorCode.REMOTE, `the node answered ${entries.length} records with a malformed list of results`);
    return results.map((r) =>
      typeof (r as ErrorBody).code === 'string' ? errorOf(parseErrorBody(422, r)) : receiptOf(r),
    );
  }

  async appendBatch(seal: Uint8Array | LedgerRecord, events: readonly Uint8Array[]): Promise<BatchReceipt> {
    const sealBytes = seal instanceof Uint8Array ? seal : seal.bytes;
    const body = encodeEntryBundle([sealBytes, ...events]);
    const r = (await this.#json('POST', PATHS.batch, { body, type: BINARY_TYPE })) as BatchReceipt;
    if (![r.seal, r.first, r.count, r.height].every(isCount))
      fail(ErrorCode.REMOTE, 'the node answered a batch with a malformed receipt');
    return { seal: r.seal, first: r.first, count: r.count, height: r.height };
  }

  /** Signs here, once: a retry re-sends these bytes, so the node's duplicate check makes it idempotent. */
  submit(member: MemberSigner, kind: string, body: Plain): Promise<Receipt> {
    return this.append(signAs(this.origin, this.#clock(), member, kind, body));
  }

  submitBatch(member: MemberSigner, kind: string, bodies: readonly Plain[]): Promise<BatchReceipt> {
    const batch = signBatchAs(this.origin, this.#clock(), member, kind, bodies);
    return this.appendBatch(batch.seal, batch.events);
  }

  // ---- reads ------------------------------------------------------------------------------

  /** The node's newest checkpoint, verified and consistent with every one seen before. */
  /**
   * A member's signing identity from its signer key text, with the keyId of
   * the member's current key on the node (as `Ledger.memberSigner` does
   * locally): E_UNKNOWN_MEMBER, or E_UNKNOWN_KEY for a key rotated away from.
   */
  async memberSigner(signerKey: string): Promise<MemberSigner> {
    const s = memberSigner(signerKey);
    return currentKeyOf(s, await this.query.get('member', s.id));
  }

  async head(): Promise<Head> {
    if (this.#witnesses !== undefined) {
      const cosigned = await this.#call('GET', PATHS.cosigned, { sign: true });
      verifyCosignatures(cosigned, this.#witnesses);
      // The cosigned checkpoint may lag the newest one seen: it must be a prefix of it (floor 0).
      return this.#observe(cosigned, 0);
    }
    const floor = this.#head?.size ?? 0;
    const note = await this.#call('GET', 'checkpoint', { sign: true });
    await this.#observe(note, floor);
    return this.#known();
  }

  /** The signed checkpoint at `size` (default: the newest), which must end a block. */
  async checkpoint(size?: number): Promise<string> {
    if (size === undefined) return (await this.head()).checkpoint;
    if (!isCount(size) || size < 1) fail(ErrorCode.NOT_FOUND, `tree size ${String(size)} is not a tree size`);
    if (size > this.#known().size) await this.head();
    const known = this.#known();
    if (size === known.size) return known.checkpoint;
    if (size > known.size) fail(ErrorCode.NOT_FOUND, `tree size ${size} is beyond the head, ${known.size}`);
    // Only the newest checkpoint is served as such; an older one comes as checkpoint1 of a proof to ours.
    const b = await this.#consistency(size, known.size);
    const other = `the node's tree of size ${known.size} is not the one it showed before`;
    if (!equalBytes(b.root2, known.root)) fail(ErrorCode.CHECKPOINT_INVALID, other);
    if (b.checkpoint1 === undefined)
      fail(ErrorCode.NOT_FOUND, `no block ends at tree size ${size}, so there is no checkpoint for it`, {
        hint: 'checkpoints exist at block boundaries; omit the size to use the latest',
      });
    return b.checkpoint1;
  }

  async proveInclusion(index: number, size?: number): Promise<InclusionBundle> {
    const floor = size === undefined ? this.#known().size : 0;
    const query = `index=${index}${size === undefined ? '' : `&size=${size}`}`;
    const json = await this.#json('GET', `${PATHS.inclusion}?${query}`, { sign: true });
    this.#mustVerify(json, `inclusion bundle of record ${index}`);
    const b = inclusionBundleFromJSON(json);
    const asked = b.origin === this.origin && b.index === index && (size === undefined || b.size === size);
    if (!asked)
      fail(ErrorCode.PROOF_INVALID, `asked for record ${index}, got record ${b.index} at size ${b.size}`);
    await this.#observe(b.checkpoint, floor);
    return b;
  }

  /**
   * The status of (`type`, `id`) at the checkpoint of `size` (default the
   * node's latest), as a status bundle checked here under the pinned key
   * before it is returned (`checkStatus` says what it shows).
   */
  async proveStatus(type: string, id: string, size?: number): Promise<StatusBundle> {
    const floor = size === undefined ? this.#known().size : 0;
    const query = `type=${encodeURIComponent(type)}&id=${encodeURIComponent(id)}${size === undefined ? '' : `&size=${size}`}`;
    const json = await this.#json('GET', `${PATHS.status}?${query}`, { sign: true });
    this.#mustVerify(json, `status bundle of ${type} ${JSON.stringify(id)}`);
    const b = statusBundleFromJSON(json as Record<string, unknown>);
    const first = b.items[0]!;
    if (
      b.origin !== this.origin ||
      first.type !== type ||
      first.id !== id ||
      (size !== undefined && b.size !== size)
    )
      fail(
        ErrorCode.PROOF_INVALID,
        `asked for the status of ${type} ${JSON.stringify(id)}, got ${first.type} ${JSON.stringify(first.id)} at size ${b.size}`,
      );
    await this.#observe(b.checkpoint, floor);
    return b;
  }

  async proveConsistency(size1: number, size2?: number): Promise<ConsistencyBundle> {
    const floor = size2 === undefined ? this.#known().size : 0;
    const b = await this.#consistency(size1, size2);
    await this.#observe(b.checkpoint2, floor);
    return b;
  }

  /** Aborts the requests in flight; later calls are E_LEDGER_CLOSED. Nothing else is held. */
  async close(): Promise<void> {
    this.#abort.abort();
  }

  // ---- checkpoints ------------------------------------------------------------------------

  #known(): Head {
    if (this.#head === undefined) fail(ErrorCode.LEDGER_CLOSED, 'not connected: use connect()');
    return this.#head;
  }

  /**
   * Admits a checkpoint the node showed: signed by the pinned key, for this
   * origin, and consistent with the largest one seen (RFC 9162 §2.1.4.2): a
   * log never forgets nor rewrites. A newest-checkpoint answer below `floor`
   * (the largest seen when the request was sent) is a log going back.
   */
  async #observe(note: string, floor: number): Promise<Head> {
    // The head already verified, byte for byte, needs no second signature check.
    if (this.#head !== undefined && note === this.#head.checkpoint && this.#head.size >= floor)
      return this.#head;
    verifyCheckpoint(note, [this.#key], this.#head === undefined ? {} : { origin: this.origin });
    const { origin, size, height, root, time } = blockHeaderOfNote(note).header;
    const seen: Head = { origin, size, height, root, time, checkpoint: note };
    if (size < floor) {
      const back = `the node's newest checkpoint has size ${size}, but it showed size ${floor} before`;
      fail(ErrorCode.CHECKPOINT_INVALID, back, {
        hint: 'the node lost records or is lying: do not trust it',
      });
    }
    for (;;) {
      const known = this.#head;
      if (known === undefined) {
        this.#head = seen;
        return seen;
      }
      if (seen.size === known.size) {
        if (!equalBytes(root, known.root)) {
          this.#onFork?.(
            forkEvidenceToJSON({
              origin,
              checkpoint1: known.checkpoint,
              checkpoint2: note,
              source: this.url,
              seenAt: new Date(this.#clock()).toISOString(),
            }),
          );
          fail(ErrorCode.FORK, `two checkpoints of size ${size} have different roots: the log forked`, {
            hint: 'both signed notes are fork evidence (connect option onFork): do not trust this node',
          });
        }
        return seen;
      }
      const [older, newer] = seen.size < known.size ? [seen, known] : [known, seen];
      await this.#proveExtends(older, newer);
      // Smaller: a prefix of the largest, so of any larger one later. Larger: unless another took its place meanwhile.
      if (seen.size < known.size) return seen;
      if (this.#head === known) {
        this.#head = seen;
        return seen;
      }
    }
  }

  /** That `newer` extends `older`, by a consistency proof the node gives; E_CHECKPOINT_INVALID naming both sizes. */
  async #proveExtends(older: Head, newer: Head): Promise<void> {
    const sizes = `checkpoint of size ${newer.size} does not extend the one of size ${older.size}`;
    try {
      const b = await this.#consistency(older.size, newer.size);
      if (!equalBytes(b.root1, older.root) || !equalBytes(b.root2, newer.root))
        fail(ErrorCode.PROOF_INVALID, 'the proof is for other roots');
    } catch (e) {
      if (isDirchainError(e) && TRANSPORT_CODES.has(e.code)) throw e;
      fail(ErrorCode.CHECKPOINT_INVALID, `${sizes}: ${e instanceof Error ? e.message : String(e)}`, {
        hint: 'the node rewrote its log, or serves another: do not trust it',
        cause: e,
      });
    }
  }

  /** A consistency bundle, verified against the pinned key (not yet admitted as the head). */
  async #consistency(size1: number, size2?: number): Promise<ConsistencyBundle> {
    const query = `size1=${size1}${size2 === undefined ? '' : `&size2=${size2}`}`;
    const json = await this.#json('GET', `${PATHS.consistency}?${query}`, { sign: true });
    this.#mustVerify(json, `consistency bundle ${size1} → ${size2 ?? 'head'}`);
    const b = consistencyBundleFromJSON(json);
    const asked =
      (b.origin ?? this.origin) === this.origin && b.size1 === size1 && (size2 ?? b.size2) === b.size2;
    if (!asked)
      fail(ErrorCode.PROOF_INVALID, `asked for ${size1} → ${size2 ?? 'head'}, got ${b.size1} → ${b.size2}`);
    return { ...b, origin: this.origin, checkpoint2: b.checkpoint2! };
  }

  /** src/verify.ts's checks of a bundle, under the pinned key alone. */
  #mustVerify(json: unknown, what: string): void {
    const failed = verifyBundle(json, [this.#key]).checks.find((c) => c.status === 'fail');
    if (failed !== undefined)
      fail(ErrorCode.PROOF_INVALID, `${what} fails "${failed.name}": ${failed.detail}`);
  }

  // ---- queries ----------------------------------------------------------------------------

  /** docs/http-api.md "Queries": every item comes with its record's proof at the answer's checkpoint. */
  async #query(method: QueryMethod, args: unknown[]): Promise<unknown> {
    // JSON has no undefined: trailing ones are dropped, an absent filter is its default.
    const sent = [...args];
    while (sent.length > 0 && sent.at(-1) === undefined) sent.pop();
    if (method === 'searchResources' && sent.length > 0 && sent[0] === undefined) sent[0] = {};
    const floor = this.#known().size;
    const body = utf8(JSON.stringify({ method, args: sent }));
    const text = await this.#call('POST', PATHS.query, { body, type: JSON_TYPE, sign: true });
    // Member entities carry bytes as {"$base64"}: only a `get` of one needs the (slower) reviver.
    const reviver = method === 'get' && args[0] === 'member' ? reviveBytes : undefined;
    const answer = (parseJson(text, PATHS.query, reviver) ?? {}) as Record<string, unknown>;
    const result = answer.result as Record<string, unknown> | null;
    const proofs = answer.proofs as ItemProof[];
    if (
      typeof answer.checkpoint !== 'string' ||
      typeof result !== 'object' ||
      result === null ||
      !Array.isArray(proofs)
    )
      fail(ErrorCode.REMOTE, `the node answered ${method} without checkpoint, result and proofs`);
    const head = await this.#observe(answer.checkpoint, floor);
    const items = method === 'get' ? (result.item == null ? [] : [result.item]) : result.items;
    if (!Array.isArray(items) || items.length !== proofs.length)
      fail(ErrorCode.PROOF_INVALID, `the node answered ${method} with ${proofs.length} proofs for its items`);
    const checked = items.map((item, i) => this.#checkItem(method, sent, item, proofs[i]!, i, head));
    if (method === 'get') {
      this.#checkCurrent(sent[0], sent[1], checked[0], answer.status, head);
      return checked[0];
    }
    return typeof result.cursor === 'string' ? { items: checked, cursor: result.cursor } : { items: checked };
  }

  /**
   * A `get` answer's status proof: at the answer's own checkpoint, for the
   * entity asked about, committing to the entity given (or to its absence).
   * Without it an inclusion proof would show only that the entity's record
   * was written once, not that nothing changed it since.
   */
  #checkCurrent(type: unknown, id: unknown, item: unknown, status: unknown, head: Head): void {
    const what = `${String(type)} ${JSON.stringify(id)}`;
    if (typeof status !== 'object' || status === null)
      fail(ErrorCode.PROOF_INVALID, `the node answered get ${what} without its status proof`);
    this.#mustVerify(status, `the status proof of ${what}`);
    const b = statusBundleFromJSON(status as Record<string, unknown>);
    const first = b.items[0]!;
    if (b.size !== head.size || b.checkpoint !== head.checkpoint || first.type !== type || first.id !== id)
      fail(
        ErrorCode.PROOF_INVALID,
        `the status proof with get ${what} at size ${head.size} is of ${first.type} ${JSON.stringify(first.id)} at size ${b.size}`,
      );
    if (!statusAgrees(String(type), item, first.value))
      fail(
        ErrorCode.PROOF_INVALID,
        item == null
          ? `the node says there is no ${what}, yet its status proof at size ${head.size} shows one`
          : `the node's ${what} is not the one the status map holds at size ${head.size}: a stale or changed answer`,
      );
  }

  /** The item, once its record is proved in `head`'s tree; a record item gets its record from the proof. */
  #checkItem(
    method: QueryMethod,
    args: readonly unknown[],
    item: unknown,
    proof: ItemProof,
    i: number,
    head: Head,
  ): unknown {
    const index = (item as { index?: unknown } | null)?.index;
    try {
      if (!isCount(index) || proof.index !== index || index >= head.size)
        fail(ErrorCode.PROOF_INVALID, `the proof is for record ${String(proof.index)}`);
      const leaf = bytesOf(proof.leaf, 'leaf');
      let record: LedgerRecord;
      let seal: number | undefined;
      if (isEventEntry(leaf)) {
        // An event's signature is its seal's: the attribution checks of verifyBundle (src/verify.ts checkEvent).
        const bundle = {
          origin: this.origin,
          index,
          size: head.size,
          leaf: proof.leaf,
          inclusion: proof.inclusion,
          root: b64(head.root),
          checkpoint: head.checkpoint,
          attribution: proof.attribution,
        };
        this.#mustVerify(bundle, 'its proof');
        const a = inclusionBundleFromJSON(bundle).attribution!;
        const sealRecord = decodeRecord(a.seal);
        record = eventRecord(sealRecord, parseBatchBody(sealRecord.body).kind, decodeEvent(leaf));
        seal = a.sealIndex;
      } else {
        const inclusion = bytesList(proof.inclusion, 'inclusion');
        if (!verifyInclusion({ index, size: head.size, leaf, proof: inclusion, root: head.root }))
          fail(ErrorCode.PROOF_INVALID, `its proof does not lead to the root of tree size ${head.size}`);
        if (isBlockEntry(leaf)) fail(ErrorCode.PROOF_INVALID, 'its proof is of a block entry, not a record');
        record = decodeRecord(leaf);
        if (record.origin !== this.origin)
          fail(ErrorCode.PROOF_INVALID, `its record is for ${record.origin}`);
      }
      if (!RECORD_METHODS.has(method)) return item;
      answersTheQuery(method, args, record);
      const out: Record<string, unknown> = { index, ...(seal === undefined ? {} : { seal }), record };
      if (method === 'accessLogsOfResource') {
        const grant = (item as { grant?: unknown }).grant;
        if (typeof grant !== 'string' || grant !== (record.body as { grant?: unknown } | null)?.grant)
          fail(ErrorCode.PROOF_INVALID, `its grant ${JSON.stringify(grant)} is not the one its record names`);
        out.grant = grant;
      }
      return out;
    } catch (e) {
      const why = !isDirchainError(e)
        ? String(e)
        : e.code === ErrorCode.PROOF_INVALID
          ? e.message
          : `${e.code}: ${e.message}`;
      return fail(ErrorCode.PROOF_INVALID, `${method} item ${i} (record ${String(index)}): ${why}`, {
        ...(isCount(index) ? { index } : {}),
        hint: 'the node answered with something its log does not prove: do not trust the answer',
      });
    }
  }

  // ---- HTTP -------------------------------------------------------------------------------

  async #json(method: 'GET' | 'POST', path: string, options: CallOptions): Promise<unknown> {
    return parseJson(await this.#call(method, path, options), path);
  }

  /**
   * One request: the body as text on 200, a DirchainError otherwise. Retried
   * on 503 and on a lost connection, with the same body (a submission is
   * idempotent on the node) and, for a signed read, a fresh signature: the
   * node refuses a nonce twice (RFC 9421 §7.2.2).
   */
  async #call(method: 'GET' | 'POST', path: string, options: CallOptions): Promise<string> {
    const url = new URL(path, this.url).toString();
    for (let attempt = 0; ; attempt++) {
      if (this.#abort.signal.aborted) fail(ErrorCode.LEDGER_CLOSED, 'the client is closed');
      const headers: Record<string, string> =
        options.type === undefined ? {} : { 'content-type': options.type };
      if (options.sign && this.#as !== undefined) {
        const req = { method, url, body: options.body };
        Object.assign(headers, await signRequest(req, this.#as, { now: this.#clock() }));
      }
      let status: number;
      let text: string;
      let retryAfter: string | null;
      try {
        const signal = AbortSignal.any([this.#abort.signal, AbortSignal.timeout(this.#timeoutMs)]);
        // Never followed: signed headers and bodies go to the node given, and nowhere else.
        const res = await fetch(url, {
          method,
          headers,
          body: options.body as BodyInit | undefined,
          signal,
          redirect: 'error',
        });
        status = res.status;
        retryAfter = res.headers.get('retry-after');
        text = await cappedText(res, url);
      } catch (e) {
        if (isDirchainError(e)) throw e;
        if (this.#abort.signal.aborted)
          fail(ErrorCode.LEDGER_CLOSED, 'the client was closed during the request');
        if ((e as Error).name === 'TimeoutError')
          fail(ErrorCode.REMOTE, `${method} ${url} had no answer within ${this.#timeoutMs} ms`, { cause: e });
        if (attempt < this.#retries) {
          await this.#wait(backoff(attempt));
          continue;
        }
        const why = (e as Error).cause ?? (e as Error).message;
        return fail(ErrorCode.REMOTE, `cannot reach ${url} (${this.#retries + 1} attempts): ${String(why)}`, {
          hint: 'is a dirchain node running at that address?',
          cause: e,
        });
      }
      if (status === 200) return text;
      if (status === 503 && attempt < this.#retries) {
        await this.#wait(retryAfterMs(retryAfter) ?? backoff(attempt));
        continue;
      }
      const e = parseErrorBody(status, parseJson(text, path, undefined, null));
      throw errorOf(e.code === ErrorCode.REMOTE ? { ...e, message: `${method} ${url}: ${e.message}` } : e);
    }
  }

  async #wait(ms: number): Promise<void> {
    try {
      await sleep(ms, undefined, { signal: this.#abort.signal });
    } catch {
      fail(ErrorCode.LEDGER_CLOSED, 'the client was closed while waiting to retry');
    }
  }
}

interface CallOptions {
  body?: Uint8Array;
  type?: string;
  /** Sign as the member given to connect, when there is one (RFC 9421). */
  sign?: boolean;
}

type Reviver = (key: string, value: unknown) => unknown;

const isCount = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

/** Full jitter (half to all of the step) keeps clients that failed together from retrying together. */
function backoff(attempt: number): number {
  const step = Math.min(BACKOFF_CAP_MS, BACKOFF_FIRST_MS * 2 ** attempt);
  return step / 2 + Math.random() * (step / 2);
}

/** RFC 9110 §10.2.3: delay-seconds or an HTTP-date. */
function retryAfterMs(value: string | null): number | undefined {
  if (value === null) return undefined;
  const ms = /^\d+$/.test(value.trim()) ? Number(value.trim()) * 1000 : Date.parse(value) - Date.now();
  return Number.isFinite(ms) ? Math.min(Math.max(ms, 0), RETRY_AFTER_CAP_MS) : undefined;
}

/** The JSON in `text`; when it is not JSON, `otherwise`, or E_REMOTE without it. */
/**
 * A record item must be a record the query asks for, not merely one in the
 * log: an access log of that grant, a record of that kind, a version of that
 * resource (E_PROOF_INVALID otherwise).
 */
function answersTheQuery(method: QueryMethod, args: readonly unknown[], record: LedgerRecord): void {
  const body = (record.body ?? {}) as { grant?: unknown; id?: unknown };
  const wrong = (what: string) => fail(ErrorCode.PROOF_INVALID, `its record (${record.kind}) is not ${what}`);
  if (method === 'accessLogs' && (record.kind !== 'access.log' || body.grant !== args[0]))
    wrong(`an access log of grant ${String(args[0])}`);
  if (method === 'accessLogsOfResource' && record.kind !== 'access.log') wrong('an access log');
  if (method === 'recordsByKind' && record.kind !== args[0]) wrong(`of kind ${String(args[0])}`);
  if (method === 'resourceHistory' && (!record.kind.startsWith('resource.') || body.id !== args[0]))
    wrong(`a version of resource ${String(args[0])}`);
}

/** The largest answer read: a page of 1,000 items with their proofs is a few MB. */
const MAX_ANSWER = 64 * 1024 * 1024;

async function cappedText(res: Response, url: string): Promise<string> {
  const body = await readCapped(res, MAX_ANSWER, () =>
    fail(ErrorCode.REMOTE, `${url} answered more than ${MAX_ANSWER} bytes`, {
      hint: 'no node answer is that large: do not trust this node',
    }),
  );
  return body.toString('utf8');
}

function parseJson(text: string, path: string, reviver?: Reviver, otherwise?: null): unknown {
  try {
    return JSON.parse(text, reviver);
  } catch {
    if (otherwise === null) return null;
    return fail(ErrorCode.REMOTE, `the node answered /${path.split('?')[0]} with something that is not JSON`);
  }
}

function receiptOf(r: unknown): Receipt {
  const o = r as { index?: unknown; height?: unknown } | null;
  if (!isCount(o?.index) || !isCount(o?.height))
    fail(ErrorCode.REMOTE, 'the node answered with a malformed receipt');
  return { index: o.index, height: o.height };
}

function errorOf(e: ErrorBody): DirchainError {
  const code: ErrorCodeValue = knownCode(e.code);
  return new DirchainError(code, e.message, {
    ...(e.hint === undefined ? {} : { hint: e.hint }),
    ...(e.index === undefined ? {} : { index: e.index }),
  });
}
