/**
 * The policy engine: (state before, record, block time) → accept with its
 * effects, or a typed refusal. Pure and deterministic — no clock, no I/O, no
 * randomness — so every node replaying the log reaches the same verdicts.
 * The author's envelope signature is checked before this runs; approvals
 * (quorum, countersignatures) are checked here, with the verify function given.
 */
import type { Verify } from '../crypto/ed25519.js';
import {
  type Approval,
  approvalMessage,
  type DirectoryBody,
  type GovernanceAction,
  type GrantTerms,
  KIND,
  parseBody,
  type Signed,
} from '../directory/schemas.js';
import { decodeCheckedEvent, decodeEvent, eventRecord, type LedgerEvent } from '../encoding/event.js';
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, type ErrorCodeValue, isDirchainError } from '../errors.js';
import { GENESIS_KIND, type PolicyParams, type Role } from '../ledger/genesis.js';
import type { Change, GrantEntity, MemberEntity, ResourceEntity, StateView } from '../state/entities.js';
import type { IndexEntry } from '../state/indexes.js';

export interface PolicyContext {
  readonly origin: string;
  readonly policy: PolicyParams;
  readonly verify: Verify;
}

/** What an accepted record does to the state and the indexes. */
export interface Effects {
  readonly changes: Change[];
  readonly indexes: IndexEntry[];
  /** The record's leaf hash, remembered so the same bytes are never accepted twice. */
  readonly leaf?: Uint8Array;
}

class Refusal extends DirchainError {}

const NO_EFFECTS: Effects = Object.freeze({ changes: [], indexes: [] });

function refuse(code: ErrorCodeValue, message: string, hint?: string): never {
  throw new Refusal(code, message, hint === undefined ? {} : { hint });
}

/** Evaluates one record. Never throws: a refusal is returned as a DirchainError. */
export function evaluate(
  ctx: PolicyContext,
  view: StateView,
  record: LedgerRecord,
  index: number,
  blockTime: number,
  leafHash: Uint8Array,
): Effects | DirchainError {
  try {
    const author = admit(ctx, view, record, blockTime);
    // An application kind's body has no rules and is not read (the sequencer decodes bodies lazily).
    const body = parseBody(record.kind, record.kind.startsWith('x.') ? null : record.body);
    const effects = new Rules(ctx, view, record, index, blockTime, author).apply(body);
    // Signed bytes replayed by anyone (a relayer, the sequencer) must not count twice.
    // Checked last, so a resubmission the rules refuse anyway gets the rule's code.
    const first = view.firstIndexOf(leafHash, index, record);
    if (first !== undefined) {
      refuse(
        ErrorCode.DUPLICATE,
        `this exact record is already in the log, at index ${first}`,
        'records are accepted once',
      );
    }
    return { ...effects, leaf: leafHash };
  } catch (e) {
    if (isDirchainError(e))
      return new DirchainError(e.code, e.message, e.hint === undefined ? {} : { hint: e.hint });
    // A bug must not take the sequencer down: this record is refused with a code, the rest go on.
    return new DirchainError(ErrorCode.INTERNAL, `the policy engine failed on this record: ${String(e)}`);
  }
}

/**
 * Judges one event of a batch whose seal was admitted just before it (the
 * seal's checks cover author, key, origin and clock; its signature covers the
 * event through the root). The event is judged as a record of the seal's
 * `kind` by the seal's author at the seal's time. No duplicate check: an event
 * can only arrive under a seal, and the seal's bytes are accepted once.
 */
export function evaluateEvent(
  ctx: PolicyContext,
  view: StateView,
  seal: LedgerRecord,
  kind: string,
  entry: LedgerEvent | Uint8Array,
  index: number,
  blockTime: number,
  /** The bytes passed `checkEvent` already (the admission check): decode without checking again. */
  checked = false,
): Effects | DirchainError {
  // Application events have no rules beyond their seal's (checked just before them).
  if (kind.startsWith('x.')) return NO_EFFECTS;
  try {
    const event =
      entry instanceof Uint8Array ? (checked ? decodeCheckedEvent(entry) : decodeEvent(entry)) : entry;
    const author = view.get('member', seal.author);
    if (author === undefined || author.status !== 'active')
      refuse(ErrorCode.MEMBER_INACTIVE, `member ${seal.author} is not active`);
    const record = eventRecord(seal, kind, event);
    return new Rules(ctx, view, record, index, blockTime, author, true).apply(parseBody(kind, event.body));
  } catch (e) {
    if (isDirchainError(e))
      return new DirchainError(e.code, e.message, e.hint === undefined ? {} : { hint: e.hint });
    return new DirchainError(ErrorCode.INTERNAL, `the policy engine failed on this event: ${String(e)}`);
  }
}

/** The envelope rules every record passes. Returns the author. */
function admit(ctx: PolicyContext, view: StateView, record: LedgerRecord, blockTime: number): MemberEntity {
  if (record.origin !== ctx.origin) {
    refuse(
      ErrorCode.WRONG_ORIGIN,
      `record is for ${record.origin}, this ledger is ${ctx.origin}`,
      "sign with this ledger's origin",
    );
  }
  if (record.kind === GENESIS_KIND)
    refuse(ErrorCode.NOT_AUTHORIZED, 'a ledger has exactly one genesis record, at index 0');
  const author = view.get('member', record.author);
  if (author === undefined) {
    refuse(
      ErrorCode.UNKNOWN_MEMBER,
      `author ${JSON.stringify(record.author)} is not a member`,
      'an admin must add the member first',
    );
  }
  if (author.status !== 'active')
    refuse(ErrorCode.MEMBER_INACTIVE, `member ${author.id} is ${author.status}`);
  if (record.keyId !== author.activeKeyId) {
    refuse(
      ErrorCode.UNKNOWN_KEY,
      `member ${author.id} signed with key ${record.keyId}; its current key is ${author.activeKeyId}`,
      "re-sign with the member's current key",
    );
  }
  const skew = ctx.policy.maxClockSkewMs;
  if (skew > 0 && Math.abs(record.timestamp - blockTime) > skew) {
    refuse(
      ErrorCode.CLOCK_SKEW,
      `record time ${record.timestamp} is more than ${skew} ms from block time ${blockTime}`,
      "check the author's clock, or sign the record again now",
    );
  }
  return author;
}

const has = (m: MemberEntity, role: Role): boolean => m.roles.includes(role);

class Rules {
  readonly changes: Change[] = [];
  readonly indexes: IndexEntry[] = [];

  constructor(
    readonly ctx: PolicyContext,
    readonly view: StateView,
    readonly record: LedgerRecord,
    readonly index: number,
    readonly time: number,
    readonly author: MemberEntity,
    /** An event of a batch: indexed by what it refers to, not by kind (its seal is). */
    readonly event = false,
  ) {}

  apply(body: DirectoryBody): Effects {
    switch (body.kind) {
      case 'member.add':
      case 'member.suspend':
      case 'member.reinstate':
      case 'member.remove':
      case 'member.roles':
      case 'member.rotate-key':
        this.governance(body, body.signed);
        break;
      case 'resource.register':
      case 'resource.update':
        this.resource(body.kind, body.resource);
        break;
      case 'resource.retire':
        this.retire(body.retire.id);
        break;
      case 'scenario.register':
        this.scenario(body.scenario);
        break;
      case 'request.open':
        this.openRequest(body.request);
        break;
      case 'request.answer':
        this.answerRequest(body.answer);
        break;
      case 'request.close':
        this.closeRequest(body.close.id);
        break;
      case 'grant.issue':
        this.issueGrant(body.grant);
        break;
      case 'grant.revoke':
        this.revokeGrant(body.revoke.id);
        break;
      case 'access.log':
        this.logAccess(body.access);
        break;
      case 'app':
      case 'batch': // the seal itself; its events are judged one by one (evaluateEvent)
        break;
    }
    if (body.kind !== 'access.log' && !this.event) {
      this.indexes.push({ name: 'k', parts: [this.record.kind, this.time, this.index] });
    }
    return { changes: this.changes, indexes: this.indexes };
  }

  // ---- governance -------------------------------------------------------

  /** Distinct active admins who approved: the author (if admin) plus valid approvals. */
  approvers(signed: Signed<unknown>, role: Role): Set<string> {
    const ids = new Set<string>();
    if (has(this.author, role)) ids.add(this.author.id);
    for (const a of signed.approvals) ids.add(this.checkApproval(a, signed.termsBytes, role).id);
    return ids;
  }

  checkApproval(a: Approval, terms: Uint8Array, role: Role): MemberEntity {
    const m = this.view.get('member', a.member);
    if (m === undefined) refuse(ErrorCode.UNKNOWN_MEMBER, `approval by unknown member ${a.member}`);
    if (m.status !== 'active') refuse(ErrorCode.MEMBER_INACTIVE, `approval by ${m.id}, who is ${m.status}`);
    if (!has(m, role))
      refuse(
        ErrorCode.NOT_AUTHORIZED,
        `approval by ${m.id}, who is not ${role === 'admin' ? 'an admin' : role}`,
      );
    if (a.keyId !== m.activeKeyId)
      refuse(ErrorCode.UNKNOWN_KEY, `approval by ${m.id} uses key ${a.keyId}, not its current key`);
    const message = approvalMessage(this.record.origin, this.record.kind, terms);
    if (!this.ctx.verify(m.keys[a.keyId]!, message, a.signature)) {
      refuse(ErrorCode.BAD_SIGNATURE, `approval by ${m.id} does not verify over these terms`);
    }
    return m;
  }

  governance(body: GovernanceAction, signed: Signed<unknown>): void {
    const selfRotation = body.kind === KIND.memberRotateKey && body.action.member === this.author.id;
    if (!selfRotation) {
      if (!has(this.author, 'admin'))
        refuse(ErrorCode.NOT_AUTHORIZED, `${body.kind} is governance: only admins may write it`);
      const approvers = this.approvers(signed, 'admin');
      const need = this.ctx.policy.adminQuorum;
      if (approvers.size < need) {
        refuse(
          ErrorCode.QUORUM,
          `${body.kind} needs ${need} admin approvals, has ${approvers.size}`,
          'collect approvals with signApproval',
        );
      }
    }
    if (body.kind === KIND.memberAdd) {
      const a = body.action;
      if (this.view.get('member', a.id) !== undefined)
        refuse(ErrorCode.DUPLICATE_ID, `member ${a.id} already exists`);
      this.put('member', {
        id: a.id,
        name: a.name,
        roles: a.roles,
        keys: [a.signingKey],
        activeKeyId: 0,
        encryptionKey: a.encryptionKey ?? null,
        status: 'active',
        index: this.index,
      });
      return;
    }
    const target = this.view.get('member', body.action.member);
    if (target === undefined) refuse(ErrorCode.UNKNOWN_MEMBER, `member ${body.action.member} does not exist`);
    // Terms name the member's state they were made for, so approvals cannot be replayed later.
    if (body.action.after !== target.index) {
      refuse(
        ErrorCode.STALE_TERMS,
        `the terms were made for ${target.id} as of record ${body.action.after}; it last changed at record ${target.index}`,
        'propose again against the current state',
      );
    }
    if (target.status === 'removed')
      refuse(ErrorCode.MEMBER_INACTIVE, `member ${target.id} was removed; removal is final`);
    const next: MemberEntity = { ...target, index: this.index };
    switch (body.kind) {
      case KIND.memberSuspend:
        if (target.status !== 'active')
          refuse(ErrorCode.MEMBER_INACTIVE, `member ${target.id} is already ${target.status}`);
        next.status = 'suspended';
        break;
      case KIND.memberReinstate:
        if (target.status !== 'suspended')
          refuse(ErrorCode.NOT_AUTHORIZED, `member ${target.id} is not suspended`);
        next.status = 'active';
        break;
      case KIND.memberRemove:
        next.status = 'removed';
        break;
      case KIND.memberRoles:
        next.roles = body.action.roles;
        break;
      case KIND.memberRotateKey:
        if (target.status !== 'active')
          refuse(ErrorCode.MEMBER_INACTIVE, `member ${target.id} is ${target.status}`);
        if (body.action.signingKey) {
          next.keys = [...target.keys, body.action.signingKey];
          next.activeKeyId = next.keys.length - 1;
        }
        if (body.action.encryptionKey) next.encryptionKey = body.action.encryptionKey;
        break;
    }
    this.checkAdminsRemain(target, next);
    this.put('member', next);
  }

  /** Refuses a change that would leave fewer active admins than the quorum needs. */
  checkAdminsRemain(before: MemberEntity, after: MemberEntity): void {
    const wasAdmin = before.status === 'active' && has(before, 'admin');
    const isAdmin = after.status === 'active' && has(after, 'admin');
    if (!wasAdmin || isAdmin) return;
    const remaining = this.activeAdminsExcept(before.id);
    if (remaining < this.ctx.policy.adminQuorum) {
      refuse(
        ErrorCode.QUORUM,
        `this would leave ${remaining} active admins; the quorum needs ${this.ctx.policy.adminQuorum}`,
      );
    }
  }

  activeAdminsExcept(id: string): number {
    let n = 0;
    for (const m of this.view.members()) if (m.id !== id && m.status === 'active' && has(m, 'admin')) n++;
    return n;
  }

  // ---- directory ---------------------------------------------------------

  resource(
    kind: 'resource.register' | 'resource.update',
    spec: Omit<ResourceEntity, 'version' | 'status' | 'index'>,
  ): void {
    if (!has(this.author, 'provider'))
      refuse(ErrorCode.NOT_AUTHORIZED, `${this.author.id} is not a provider`);
    if (spec.owner !== this.author.id) {
      refuse(
        ErrorCode.NOT_AUTHORIZED,
        `${this.author.id} may only ${kind === 'resource.register' ? 'register' : 'update'} its own resources`,
      );
    }
    const current = this.view.get('resource', spec.id);
    if (kind === 'resource.register' && current !== undefined)
      refuse(ErrorCode.DUPLICATE_ID, `resource ${spec.id} already exists`);
    if (kind === 'resource.update') {
      if (current === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${spec.id} does not exist`);
      if (current.owner !== this.author.id)
        refuse(ErrorCode.NOT_AUTHORIZED, `only ${current.owner} may update ${spec.id}`);
      if (current.status === 'retired') refuse(ErrorCode.RESOURCE_RETIRED, `resource ${spec.id} is retired`);
    }
    this.put('resource', {
      id: spec.id,
      owner: spec.owner,
      version: (current?.version ?? 0) + 1,
      status: 'active',
      title: spec.title,
      description: spec.description,
      theme: spec.theme,
      format: spec.format,
      updateCycle: spec.updateCycle,
      sourceSystem: spec.sourceSystem,
      fields: spec.fields,
      level: spec.level,
      sharing: spec.sharing,
      opening: spec.opening,
      index: this.index,
    });
    if (kind === 'resource.register') this.indexes.push({ name: 'd', parts: [spec.owner, spec.id] });
    this.indexes.push({ name: 'r', parts: [spec.id, this.index], kind });
  }

  ownResource(id: string, verb: string): ResourceEntity {
    const r = this.view.get('resource', id);
    if (r === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${id} does not exist`);
    if (r.owner !== this.author.id)
      refuse(ErrorCode.NOT_AUTHORIZED, `only the owner ${r.owner} may ${verb} ${id}`);
    if (r.status === 'retired') refuse(ErrorCode.RESOURCE_RETIRED, `resource ${id} is retired`);
    return r;
  }

  retire(id: string): void {
    const r = this.ownResource(id, 'retire');
    this.put('resource', { ...r, status: 'retired', index: this.index });
    this.indexes.push({ name: 'r', parts: [id, this.index], kind: this.record.kind });
  }

  scenario(s: { id: string; name: string; lead: string; legalBasis: string; description?: string }): void {
    if (!has(this.author, 'admin') && s.lead !== this.author.id) {
      refuse(ErrorCode.NOT_AUTHORIZED, 'a scenario is registered by an admin or by its lead department');
    }
    if (this.view.get('scenario', s.id) !== undefined)
      refuse(ErrorCode.DUPLICATE_ID, `scenario ${s.id} already exists`);
    if (this.view.get('member', s.lead) === undefined)
      refuse(ErrorCode.UNKNOWN_MEMBER, `lead department ${s.lead} is not a member`);
    this.put('scenario', {
      id: s.id,
      name: s.name,
      lead: s.lead,
      legalBasis: s.legalBasis,
      description: s.description ?? null,
      index: this.index,
    });
  }

  checkFields(resource: ResourceEntity, fields: readonly string[]): void {
    const known = new Set(resource.fields.map((f) => f.name));
    const unknown = fields.filter((f) => !known.has(f));
    if (unknown.length > 0)
      refuse(ErrorCode.FIELD_UNKNOWN, `resource ${resource.id} has no field ${unknown.join(', ')}`);
  }

  openRequest(r: {
    id: string;
    provider: string;
    resource: string;
    fields: string[];
    scenario: string;
    purpose: string;
  }): void {
    if (!has(this.author, 'consumer'))
      refuse(ErrorCode.NOT_AUTHORIZED, `${this.author.id} is not a consumer`);
    if (this.view.get('request', r.id) !== undefined)
      refuse(ErrorCode.DUPLICATE_ID, `request ${r.id} already exists`);
    const resource = this.view.get('resource', r.resource);
    if (resource === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${r.resource} does not exist`);
    if (resource.owner !== r.provider)
      refuse(
        ErrorCode.NOT_AUTHORIZED,
        `resource ${r.resource} belongs to ${resource.owner}, not ${r.provider}`,
      );
    if (resource.status === 'retired')
      refuse(ErrorCode.RESOURCE_RETIRED, `resource ${r.resource} is retired`);
    if (resource.sharing === 'none') refuse(ErrorCode.NOT_SHARED, `resource ${r.resource} is not shared`);
    this.checkFields(resource, r.fields);
    if (this.view.get('scenario', r.scenario) === undefined)
      refuse(ErrorCode.UNKNOWN_SCENARIO, `scenario ${r.scenario} does not exist`);
    this.put('request', {
      id: r.id,
      consumer: this.author.id,
      provider: r.provider,
      resource: r.resource,
      fields: r.fields,
      scenario: r.scenario,
      purpose: r.purpose,
      status: 'open',
      grant: null,
      reason: null,
      index: this.index,
    });
    this.indexes.push({ name: 'p', parts: [r.provider, r.id] });
  }

  answerRequest(a: { id: string; decision: 'granted' | 'refused'; grant?: string; reason?: string }): void {
    const req = this.view.get('request', a.id);
    if (req === undefined) refuse(ErrorCode.UNKNOWN_REQUEST, `request ${a.id} does not exist`);
    if (req.provider !== this.author.id)
      refuse(ErrorCode.NOT_AUTHORIZED, `only the provider ${req.provider} may answer ${a.id}`);
    if (req.status !== 'open') refuse(ErrorCode.REQUEST_NOT_OPEN, `request ${a.id} is ${req.status}`);
    if (a.decision === 'refused' && req.grant !== null) {
      refuse(
        ErrorCode.REQUEST_NOT_OPEN,
        `grant ${req.grant} was already issued against ${a.id}`,
        'answer granted, or revoke the grant first',
      );
    }
    if (a.decision === 'granted' && req.grant !== a.grant) {
      refuse(
        ErrorCode.UNKNOWN_GRANT,
        `grant ${a.grant} was not issued against request ${a.id}`,
        'issue the grant with request set first',
      );
    }
    this.put('request', { ...req, status: a.decision, reason: a.reason ?? null });
  }

  closeRequest(id: string): void {
    const req = this.view.get('request', id);
    if (req === undefined) refuse(ErrorCode.UNKNOWN_REQUEST, `request ${id} does not exist`);
    if (req.consumer !== this.author.id && req.provider !== this.author.id) {
      refuse(ErrorCode.NOT_AUTHORIZED, `only ${req.consumer} or ${req.provider} may close ${id}`);
    }
    if (req.status === 'closed') refuse(ErrorCode.REQUEST_NOT_OPEN, `request ${id} is already closed`);
    this.put('request', { ...req, status: 'closed' });
  }

  issueGrant(signed: Signed<GrantTerms>): void {
    const t = signed.terms;
    if (!has(this.author, 'provider'))
      refuse(ErrorCode.NOT_AUTHORIZED, `${this.author.id} is not a provider`);
    const resource = this.ownResource(t.resource, 'grant');
    if (this.view.get('grant', t.id) !== undefined)
      refuse(ErrorCode.DUPLICATE_ID, `grant ${t.id} already exists`);
    if (resource.sharing === 'none') refuse(ErrorCode.NOT_SHARED, `resource ${t.resource} is not shared`);
    this.checkFields(resource, t.fields);
    const consumer = this.view.get('member', t.consumer);
    if (consumer === undefined) refuse(ErrorCode.UNKNOWN_MEMBER, `consumer ${t.consumer} is not a member`);
    if (consumer.status !== 'active')
      refuse(ErrorCode.MEMBER_INACTIVE, `consumer ${t.consumer} is ${consumer.status}`);
    if (!has(consumer, 'consumer'))
      refuse(ErrorCode.NOT_AUTHORIZED, `${t.consumer} does not have the consumer role`);
    if (this.view.get('scenario', t.scenario) === undefined)
      refuse(ErrorCode.UNKNOWN_SCENARIO, `scenario ${t.scenario} does not exist`);
    if (resource.sharing === 'conditional' && t.request === undefined) {
      refuse(
        ErrorCode.REQUEST_REQUIRED,
        `resource ${t.resource} is shared conditionally: the grant must answer an open request`,
      );
    }
    if (t.request !== undefined) {
      const req = this.view.get('request', t.request);
      if (req === undefined) refuse(ErrorCode.REQUEST_REQUIRED, `request ${t.request} does not exist`);
      if (req.status !== 'open' || req.grant !== null)
        refuse(ErrorCode.REQUEST_NOT_OPEN, `request ${t.request} is not open for a grant`);
      if (req.consumer !== t.consumer || req.resource !== t.resource) {
        refuse(
          ErrorCode.REQUEST_REQUIRED,
          `request ${t.request} was made by ${req.consumer} for ${req.resource}`,
        );
      }
      // A grant answering a need list gives at most what was asked, for the scenario asked.
      const asked = new Set(req.fields);
      const more = t.fields.filter((f) => !asked.has(f));
      if (more.length > 0)
        refuse(ErrorCode.REQUEST_REQUIRED, `request ${t.request} did not ask for ${more.join(', ')}`);
      if (req.scenario !== t.scenario) {
        refuse(
          ErrorCode.REQUEST_REQUIRED,
          `request ${t.request} is for scenario ${req.scenario}, not ${t.scenario}`,
        );
      }
      this.put('request', { ...req, grant: t.id });
    }
    const levels = new Map(resource.fields.map((f) => [f.name, f.level]));
    const core = t.fields.filter((f) => levels.get(f) === 4);
    // A countersignature is another admin's approval of exactly these terms.
    const counter = [
      ...new Set(signed.approvals.map((a) => this.checkApproval(a, signed.termsBytes, 'admin').id)),
    ]
      .filter((a) => a !== this.author.id)
      .sort();
    if (core.length > 0 && counter.length === 0) {
      refuse(
        ErrorCode.COUNTERSIGNATURE_REQUIRED,
        `level-4 fields ${core.join(', ')} need an admin's countersignature on the grant`,
      );
    }
    const grant: GrantEntity = {
      id: t.id,
      provider: this.author.id,
      consumer: t.consumer,
      resource: t.resource,
      fields: t.fields,
      scenario: t.scenario,
      purpose: t.purpose,
      validFrom: t.validFrom,
      validTo: t.validTo,
      conditions: t.conditions ?? null,
      request: t.request ?? null,
      countersignedBy: counter,
      status: 'active',
      revokedAt: null,
      revokedBy: null,
      index: this.index,
    };
    this.put('grant', grant);
    this.indexes.push(
      { name: 'G', parts: [t.resource, t.id] },
      { name: 'c', parts: [t.consumer, t.id] },
      { name: 's', parts: [t.scenario, t.id] },
    );
  }

  revokeGrant(id: string): void {
    const g = this.view.get('grant', id);
    if (g === undefined) refuse(ErrorCode.UNKNOWN_GRANT, `grant ${id} does not exist`);
    if (g.provider !== this.author.id && !has(this.author, 'admin')) {
      refuse(ErrorCode.NOT_AUTHORIZED, `only the provider ${g.provider} or an admin may revoke ${id}`);
    }
    if (g.status === 'revoked') refuse(ErrorCode.GRANT_REVOKED, `grant ${id} is already revoked`);
    this.put('grant', { ...g, status: 'revoked', revokedAt: this.time, revokedBy: this.author.id });
  }

  logAccess(a: { grant: string; fields: string[] }): void {
    const g = this.view.get('grant', a.grant);
    if (g === undefined) refuse(ErrorCode.UNKNOWN_GRANT, `grant ${a.grant} does not exist`);
    if (g.consumer !== this.author.id)
      refuse(
        ErrorCode.NOT_AUTHORIZED,
        `only the grant's consumer ${g.consumer} may log access under ${g.id}`,
      );
    if (g.status === 'revoked')
      refuse(ErrorCode.GRANT_REVOKED, `grant ${g.id} was revoked at ${g.revokedAt}`);
    // Both the author's time and the block time must be inside the window, so
    // an author's clock cannot move a use into it.
    for (const [at, which] of [
      [this.record.timestamp, 'the access'],
      [this.time, 'the block'],
    ] as const) {
      if (at < g.validFrom)
        refuse(
          ErrorCode.GRANT_NOT_YET_VALID,
          `grant ${g.id} is valid from ${g.validFrom}; ${which} is at ${at}`,
        );
      if (at >= g.validTo)
        refuse(ErrorCode.GRANT_EXPIRED, `grant ${g.id} expired at ${g.validTo}; ${which} is at ${at}`);
    }
    const granted = new Set(g.fields);
    const extra = a.fields.filter((f) => !granted.has(f));
    if (extra.length > 0)
      refuse(ErrorCode.FIELD_NOT_GRANTED, `grant ${g.id} does not cover ${extra.join(', ')}`);
    const resource = this.view.get('resource', g.resource);
    if (resource === undefined || resource.status === 'retired')
      refuse(ErrorCode.RESOURCE_RETIRED, `resource ${g.resource} is retired`);
    // A field relabelled to level 4 after the grant still needs the countersignature.
    const core = resource.fields.filter((f) => f.level === 4 && a.fields.includes(f.name)).map((f) => f.name);
    if (core.length > 0 && g.countersignedBy.length === 0) {
      refuse(
        ErrorCode.COUNTERSIGNATURE_REQUIRED,
        `fields ${core.join(', ')} are level 4 now and grant ${g.id} has no admin countersignature`,
      );
    }
    this.indexes.push({ name: 'g', parts: [g.id, this.index] });
  }

  put<T extends Change['type']>(type: T, entity: Extract<Change, { type: T }>['entity']): void {
    this.changes.push({ type, entity } as Change);
  }
}
