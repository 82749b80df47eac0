/**
 * The domain API apps use: one method per directory record, each signed with
 * the calling member's key and appended through the ledger's group commit.
 * Every method resolves to the record's receipt ({ index, height }) once its
 * block is durable, or rejects with the policy's typed refusal.
 *
 * Records needing more than one signature (governance under an m-of-n quorum,
 * grants of level-4 fields) are built as a proposal: `propose` fixes the terms
 * bytes, each approver signs them with `approve` (possibly on another machine),
 * and the author submits with the approvals.
 */
import { checkArray, checkBytes, checkObject, checkString, utf8 } from '../crypto/bytes.js';
import { checkLength, SIGNATURE_LENGTH } from '../crypto/ed25519.js';
import { assertPlain, type Plain, pack } from '../encoding/msgpack.js';
import { ErrorCode, fail, isDirchainError } from '../errors.js';
import type { Role } from '../policy/genesis.js';
import {
  type Approval,
  approvalMessage,
  type GrantTerms,
  KIND,
  type ResourceSpec,
  type ScenarioSpec,
} from '../policy/schemas.js';
import { disclosureToJSON } from '../privacy/disclosure.js';
import { checkMemberSigner } from './member-signer.js';
import { prepareAttributes } from './private-attributes.js';
import { grantOpeningsPayload, type SealedInput, sealFor } from './sealed-records.js';
import type { BatchReceipt, MemberSigner, Receipt, Submitter } from './submitter.js';

/** Terms fixed as bytes, ready for approvals. */
export interface Proposal {
  readonly origin: string;
  readonly kind: string;
  readonly terms: Uint8Array;
}

export interface MemberInput {
  id: string;
  name: string;
  roles: readonly Role[];
  signingKey: Uint8Array;
  encryptionKey?: Uint8Array;
}

export interface RequestInput {
  id: string;
  provider: string;
  resource: string;
  fields: string[];
  scenario: string;
  purpose: string;
}

export type GrantInput = GrantTerms;

export interface AccessInput {
  grant: string;
  fields: string[];
  count: number;
  purpose: string;
  /** The caller's reference (request id): two identical uses in one millisecond differ by it. */
  ref?: string;
}

/** Approvals already collected, and/or local signers to approve with now. */
export interface ApprovalOptions {
  approvals?: Approval[];
  approvers?: MemberSigner[];
}

/**
 * Private attributes of a record (resource, need list, grant, access log):
 * committed in its body, their values and secret kept in the author's
 * local-only store (`docs/formats.md`, "Committed attributes").
 */
export interface PrivateOptions {
  attributes?: Readonly<Record<string, unknown>>;
}

/** A sealed payload for a grant or a need list: text only the members named can read. */
export interface SealedOptions {
  sealed?: SealedInput;
}

/**
 * For a grant: openings of committed attributes of a record the provider
 * authored (its resource), disclosed to the consumer and sealed to it in the
 * grant's own payload (`openGrantDisclosure` opens and checks them).
 */
export interface OpeningsOptions {
  openings?: { index: number; names: readonly string[] };
}

/**
 * Failures after which the record may still have been appended (the answer
 * was lost, the node was busy): its secret is kept, never risked.
 */
const MAYBE_APPENDED = new Set<string>([
  ErrorCode.REMOTE,
  ErrorCode.UNAVAILABLE,
  ErrorCode.STORAGE,
  ErrorCode.LEDGER_CLOSED,
  ErrorCode.INTERNAL,
]);

/** Drops undefined fields: optional fields are absent from the record, never nil. */
function clean(o: object): Plain {
  return Object.fromEntries(Object.entries(o).filter(([, v]) => v !== undefined)) as Plain;
}

/** An approver's signature over a proposal's exact terms bytes. */
export function approve(proposal: Proposal, approver: MemberSigner): Approval {
  checkProposal(proposal);
  checkMemberSigner(approver, 'approver');
  const signature = approver.signer.sign(approvalMessage(proposal.origin, proposal.kind, proposal.terms));
  checkLength(signature, SIGNATURE_LENGTH, 'approval signature');
  return { member: approver.id, keyId: approver.keyId, signature };
}

/**
 * Throws E_INVALID_ARGUMENT unless `proposal` has a Proposal's shape. Origin and
 * kind are signed behind 16-bit lengths: a longer one would make the message ambiguous.
 */
function checkProposal(proposal: Proposal): void {
  checkObject(proposal, 'proposal');
  checkString(proposal.origin, 'proposal origin');
  checkString(proposal.kind, 'proposal kind');
  checkBytes(proposal.terms, 'proposal terms');
  for (const [what, text] of [
    ['origin', proposal.origin],
    ['kind', proposal.kind],
  ] as const) {
    const length = utf8(text).length;
    if (length > 0xffff)
      fail(ErrorCode.INVALID_ARGUMENT, `proposal ${what} is ${length} bytes, at most 65,535 can be signed`);
  }
}

export class Directory {
  readonly #ledger: Submitter;

  constructor(ledger: Submitter) {
    this.#ledger = ledger;
  }

  /**
   * Fixes the terms of a governance record or grant as bytes, for approvals.
   * Terms about an existing member get `after` (the record that last changed
   * it) filled in, so the approvals are only good against that state.
   */
  propose(kind: string, terms: object): Proposal {
    checkString(kind, 'proposal kind');
    checkObject(terms, 'proposal terms');
    const t = terms as { member?: unknown; after?: number };
    // A member that is not a string is the schema's refusal, when the record is submitted.
    const about = kind !== KIND.memberAdd && typeof t.member === 'string' ? t.member : undefined;
    const view = this.#ledger.view;
    if (about !== undefined && t.after === undefined && view === undefined) {
      fail(ErrorCode.INVALID_ARGUMENT, `a proposal about member ${about} needs "after" here`, {
        hint: "set after to the index of the record that last changed the member (its entity's index, from query.get('member', id))",
      });
    }
    const target = about === undefined ? undefined : view?.get('member', about);
    const bound = clean(
      target !== undefined && t.after === undefined ? { ...terms, after: target.index } : terms,
    );
    assertPlain(bound, 'proposal terms');
    return { origin: this.#ledger.origin, kind, terms: pack(bound) };
  }

  /** Appends a proposal with its approvals, authored by `author`. */
  submitProposal(author: MemberSigner, proposal: Proposal, options: ApprovalOptions = {}): Promise<Receipt> {
    checkProposal(proposal);
    // Checked as values, not narrowed: the element types stay as declared.
    checkObject(options as unknown, 'approval options');
    if (options.approvals !== undefined) checkArray(options.approvals as unknown, 'approvals');
    if (options.approvers !== undefined) checkArray(options.approvers as unknown, 'approvers');
    const approvals = [
      ...(options.approvals ?? []),
      ...(options.approvers ?? []).map((a) => approve(proposal, a)),
    ];
    return this.#ledger.submit(author, proposal.kind, { terms: proposal.terms, approvals });
  }

  #governance(
    admin: MemberSigner,
    kind: string,
    action: object,
    options?: ApprovalOptions,
  ): Promise<Receipt> {
    return this.submitProposal(admin, this.propose(kind, action), options);
  }

  addMember(admin: MemberSigner, member: MemberInput, options?: ApprovalOptions): Promise<Receipt> {
    return this.#governance(admin, KIND.memberAdd, member, options);
  }

  suspendMember(
    admin: MemberSigner,
    member: string,
    reason?: string,
    options?: ApprovalOptions,
  ): Promise<Receipt> {
    return this.#governance(admin, KIND.memberSuspend, { member, reason }, options);
  }

  reinstateMember(admin: MemberSigner, member: string, options?: ApprovalOptions): Promise<Receipt> {
    return this.#governance(admin, KIND.memberReinstate, { member }, options);
  }

  removeMember(
    admin: MemberSigner,
    member: string,
    reason?: string,
    options?: ApprovalOptions,
  ): Promise<Receipt> {
    return this.#governance(admin, KIND.memberRemove, { member, reason }, options);
  }

  setRoles(admin: MemberSigner, member: string, roles: Role[], options?: ApprovalOptions): Promise<Receipt> {
    return this.#governance(admin, KIND.memberRoles, { member, roles }, options);
  }

  /**
   * Rotates `member`'s keys. `by` is the member itself (signing with its
   * current key) or an admin. The new key is keyId + 1 from this record on;
   * records signed with the old key before it stay valid.
   */
  rotateKey(
    by: MemberSigner,
    member: string,
    keys: { signingKey?: Uint8Array; encryptionKey?: Uint8Array },
    options?: ApprovalOptions,
  ): Promise<Receipt> {
    return this.#governance(by, KIND.memberRotateKey, { member, ...keys }, options);
  }

  /**
   * Signs and submits a record whose body gets `committed` when `options`
   * has private attributes: their opening is kept first, and dropped again
   * only when the record was surely refused.
   */
  async #withPrivate(
    kind: string,
    options: PrivateOptions | undefined,
    submit: (committed: Uint8Array | undefined) => Promise<Receipt>,
  ): Promise<Receipt> {
    if (options?.attributes === undefined) return submit(undefined);
    const prepared = prepareAttributes(this.#ledger.secrets, kind, options.attributes);
    await prepared.keep();
    try {
      return await submit(prepared.committed);
    } catch (e) {
      if (isDirchainError(e) && !MAYBE_APPENDED.has(e.code)) await prepared.forget();
      throw e;
    }
  }

  registerResource(
    provider: MemberSigner,
    resource: ResourceSpec,
    options?: PrivateOptions,
  ): Promise<Receipt> {
    return this.#withPrivate(KIND.resourceRegister, options, (committed) =>
      this.#ledger.submit(provider, KIND.resourceRegister, clean({ ...resource, committed })),
    );
  }

  /** Publishes a new version of a resource (the whole description, not a diff). */
  updateResource(provider: MemberSigner, resource: ResourceSpec, options?: PrivateOptions): Promise<Receipt> {
    return this.#withPrivate(KIND.resourceUpdate, options, (committed) =>
      this.#ledger.submit(provider, KIND.resourceUpdate, clean({ ...resource, committed })),
    );
  }

  retireResource(provider: MemberSigner, id: string, reason?: string): Promise<Receipt> {
    return this.#ledger.submit(provider, KIND.resourceRetire, clean({ id, reason }));
  }

  registerScenario(member: MemberSigner, scenario: ScenarioSpec): Promise<Receipt> {
    return this.#ledger.submit(member, KIND.scenarioRegister, clean(scenario));
  }

  openRequest(
    consumer: MemberSigner,
    request: RequestInput,
    options?: PrivateOptions & SealedOptions,
  ): Promise<Receipt> {
    return this.#withPrivate(KIND.requestOpen, options, (committed) => {
      // Submitted in this turn when there is nothing to seal: records of one turn share a block.
      if (options?.sealed === undefined)
        return this.#ledger.submit(consumer, KIND.requestOpen, clean({ ...request, committed }));
      return this.#seal(KIND.requestOpen, consumer, request.id, options).then((sealed) =>
        this.#ledger.submit(consumer, KIND.requestOpen, clean({ ...request, committed, sealed })),
      );
    });
  }

  async #seal(kind: string, author: MemberSigner, binding: string, options: SealedOptions | undefined) {
    if (options?.sealed === undefined) return undefined;
    const ledger = this.#ledger;
    return sealFor(
      ledger.origin,
      kind,
      author.id,
      binding,
      options.sealed,
      ledger.encryptionKeyOf?.bind(ledger),
    );
  }

  /**
   * Answers a need list. A grant issued with `request` set already answers it
   * (granted, with the grant's id, in the grant's own record), so the answer
   * left to give is `refused` with a reason; a `granted` answer is refused
   * (E_REQUEST_NOT_OPEN once a grant answered the request, E_UNKNOWN_GRANT before).
   */
  answerRequest(
    provider: MemberSigner,
    id: string,
    answer: { decision: 'granted'; grant: string } | { decision: 'refused'; reason: string },
  ): Promise<Receipt> {
    return this.#ledger.submit(provider, KIND.requestAnswer, { id, ...answer });
  }

  closeRequest(member: MemberSigner, id: string, reason?: string): Promise<Receipt> {
    return this.#ledger.submit(member, KIND.requestClose, clean({ id, reason }));
  }

  /**
   * Issues a grant, valid in [validFrom, validTo); with `request` set, it answers that open need
   * list (granted) in the same record. Level-4 fields need an admin among `approvers`/`approvals`
   * (the countersignature).
   */
  issueGrant(
    provider: MemberSigner,
    grant: GrantInput,
    options?: ApprovalOptions & PrivateOptions & SealedOptions & OpeningsOptions,
  ): Promise<Receipt> {
    const { attributes, sealed, openings, ...approvals } = options ?? {};
    return this.#withPrivate(KIND.grantIssue, { attributes }, (committed) => {
      if (sealed === undefined && openings === undefined)
        return this.submitProposal(
          provider,
          this.propose(KIND.grantIssue, clean({ ...grant, committed }) as object),
          approvals,
        );
      return this.#grantProposal(provider, grant, committed, sealed, openings).then((proposal) =>
        this.submitProposal(provider, proposal, approvals),
      );
    });
  }

  /**
   * A grant's terms fixed as bytes with their private attributes, sealed
   * payload and openings already made, for approvers to countersign before
   * `submitProposal` (the terms `issueGrant` would make, which approvals made
   * beforehand over `propose` could not match). The attributes' opening is
   * kept now: if the proposal is never submitted, `eraseOpening` cannot find
   * it by record, and it stays in the local store.
   */
  async proposeGrant(
    provider: MemberSigner,
    grant: GrantInput,
    options: PrivateOptions & SealedOptions & OpeningsOptions = {},
  ): Promise<Proposal> {
    let committed: Uint8Array | undefined;
    if (options.attributes !== undefined) {
      const prepared = prepareAttributes(this.#ledger.secrets, KIND.grantIssue, options.attributes);
      await prepared.keep();
      committed = prepared.committed;
    }
    return this.#grantProposal(provider, grant, committed, options.sealed, options.openings);
  }

  async #grantProposal(
    provider: MemberSigner,
    grant: GrantInput,
    committed: Uint8Array | undefined,
    sealed: SealedInput | undefined,
    openings: OpeningsOptions['openings'],
  ): Promise<Proposal> {
    let input = sealed;
    if (openings !== undefined) {
      const disclose = this.#ledger.disclose?.bind(this.#ledger);
      if (disclose === undefined) fail(ErrorCode.INTERNAL, 'this ledger cannot make disclosures');
      const bundle = await disclose(openings.index, openings.names, { to: grant.consumer, as: provider });
      if (sealed !== undefined && typeof sealed.text !== 'string')
        fail(ErrorCode.INVALID_ARGUMENT, 'with openings, the sealed text must be a string');
      input = {
        text: grantOpeningsPayload({
          ...(sealed === undefined ? {} : { text: sealed.text as string }),
          disclosure: disclosureToJSON(bundle),
        }),
        to: [...new Set([grant.consumer, ...(sealed?.to ?? [])])],
      };
    }
    const payload = await this.#seal(KIND.grantIssue, provider, grant.id, { sealed: input });
    return this.propose(KIND.grantIssue, clean({ ...grant, committed, sealed: payload }) as object);
  }

  revokeGrant(member: MemberSigner, id: string, reason?: string): Promise<Receipt> {
    return this.#ledger.submit(member, KIND.grantRevoke, clean({ id, reason }));
  }

  /** Records one use of shared data under a grant (the high-volume kind). */
  logAccess(consumer: MemberSigner, access: AccessInput, options?: PrivateOptions): Promise<Receipt> {
    return this.#withPrivate(KIND.accessLog, options, (committed) =>
      this.#ledger.submit(consumer, KIND.accessLog, clean({ ...access, committed })),
    );
  }

  /**
   * Records many uses at once under one signature (a batch): each is its own
   * log entry with its own index and proof. All are accepted, or none is.
   */
  logAccessBatch(consumer: MemberSigner, accesses: readonly AccessInput[]): Promise<BatchReceipt> {
    return this.#ledger.submitBatch(consumer, KIND.accessLog, accesses.map(clean));
  }
}
