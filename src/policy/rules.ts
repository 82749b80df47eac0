/**
 * The policy engine: (state before, record, block time) → accept with its
 * effects, or a typed refusal. Pure and deterministic — no clock, no I/O, no
 * randomness — so every node replaying the log reaches the same verdicts.
 * The author's envelope signature is checked before this runs; approvals
 * (quorum, countersignatures) are checked here, with the verify function given.
 *
 * This file holds the entry points, the envelope rules every record passes and
 * the dispatch by kind; the rules of each kind are in governance-rules.ts,
 * directory-rules.ts and grant-rules.ts.
 */
import { decodeCheckedEvent, decodeEvent, eventRecord, type LedgerEvent } from '../encoding/event.js';
import type { LedgerRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, isDirchainError } from '../errors.js';
import {
  answerRequest,
  closeRequest,
  openRequest,
  registerResource,
  registerScenario,
  retireResource,
} from './directory-rules.js';
import type { MemberEntity, StateView } from './entities.js';
import { GENESIS_KIND } from './genesis.js';
import { applyGovernance } from './governance-rules.js';
import { issueGrant, logAccess, revokeGrant } from './grant-rules.js';
import { durationText, type Effects, type PolicyContext, RuleScope, refuse, timeText } from './rule-scope.js';
import { type DirectoryBody, parseBody } from './schemas.js';

export type { Effects, PolicyContext } from './rule-scope.js';

const NO_EFFECTS: Effects = Object.freeze({ changes: [], indexes: [] });

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
    const effects = applyRules(new RuleScope(ctx, view, record, index, blockTime, author), body);
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
    return applyRules(
      new RuleScope(ctx, view, record, index, blockTime, author, true),
      parseBody(kind, event.body),
    );
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
  const off = record.timestamp - blockTime;
  if (skew > 0 && Math.abs(off) > skew) {
    refuse(
      ErrorCode.CLOCK_SKEW,
      `record time ${timeText(record.timestamp)} is ${durationText(off)} (${Math.abs(off)} ms) ${off < 0 ? 'before' : 'after'} ` +
        `the block time ${timeText(blockTime)}; at most ${durationText(skew)} (${skew} ms) is allowed`,
      off < 0
        ? `re-sign the record (a new time) and append it at once: a record must reach a block within ` +
            `maxClockSkewMs (${skew} ms) of its time, a policy parameter fixed in the ledger's genesis, ` +
            'so this one can never be appended as it is'
        : `the author's clock is ahead: correct it and re-sign the record; the window is maxClockSkewMs ` +
            `(${skew} ms), a policy parameter fixed in the ledger's genesis`,
    );
  }
  return author;
}

/** Runs the rules of the body's kind, then indexes the record by kind. */
function applyRules(s: RuleScope, body: DirectoryBody): Effects {
  switch (body.kind) {
    case 'member.add':
    case 'member.suspend':
    case 'member.reinstate':
    case 'member.remove':
    case 'member.roles':
    case 'member.rotate-key':
      applyGovernance(s, body, body.signed);
      break;
    case 'resource.register':
    case 'resource.update':
      registerResource(s, body.kind, body.resource);
      break;
    case 'resource.retire':
      retireResource(s, body.retire.id);
      break;
    case 'scenario.register':
      registerScenario(s, body.scenario);
      break;
    case 'request.open':
      openRequest(s, body.request);
      break;
    case 'request.answer':
      answerRequest(s, body.answer);
      break;
    case 'request.close':
      closeRequest(s, body.close.id);
      break;
    case 'grant.issue':
      issueGrant(s, body.grant);
      break;
    case 'grant.revoke':
      revokeGrant(s, body.revoke.id);
      break;
    case 'access.log':
      logAccess(s, body.access);
      break;
    case 'app':
    case 'batch': // the seal itself; its events are judged one by one (evaluateEvent)
      break;
  }
  if (body.kind !== 'access.log' && !s.event) {
    s.indexes.push({ name: 'k', parts: [s.record.kind, s.time, s.index] });
  }
  return { changes: s.changes, indexes: s.indexes };
}
