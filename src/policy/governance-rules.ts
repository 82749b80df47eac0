/**
 * Governance rules: members, their roles and keys, and the admin approvals
 * (quorum) that governance needs. A member may rotate its own key alone; every
 * other governance record needs `adminQuorum` distinct active admins, and may
 * never leave fewer active admins than the quorum.
 */
import { ErrorCode } from '../errors.js';
import type { MemberEntity } from './entities.js';
import type { Role } from './genesis.js';
import { has, type RuleScope, refuse } from './rule-scope.js';
import { type Approval, approvalMessage, type GovernanceAction, KIND, type Signed } from './schemas.js';

/** Distinct active admins who approved: the author (if admin) plus valid approvals. */
function approvers(s: RuleScope, signed: Signed<unknown>, role: Role): Set<string> {
  const ids = new Set<string>();
  if (has(s.author, role)) ids.add(s.author.id);
  for (const a of signed.approvals) ids.add(checkApproval(s, a, signed.termsBytes, role).id);
  return ids;
}

/** Checks one approval: by an active member with `role`, its current key, over exactly these terms. */
export function checkApproval(s: RuleScope, a: Approval, terms: Uint8Array, role: Role): MemberEntity {
  const m = s.view.get('member', a.member);
  if (m === undefined) refuse(ErrorCode.UNKNOWN_MEMBER, `approval by unknown member ${a.member}`);
  if (m.status !== 'active') refuse(ErrorCode.MEMBER_INACTIVE, `approval by ${m.id}, who is ${m.status}`);
  if (!has(m, role))
    refuse(
      ErrorCode.NOT_AUTHORIZED,
      `approval by ${m.id}, who is not ${role === 'admin' ? 'an admin' : role}`,
    );
  if (a.keyId !== m.activeKeyId)
    refuse(ErrorCode.UNKNOWN_KEY, `approval by ${m.id} uses key ${a.keyId}, not its current key`);
  const message = approvalMessage(s.record.origin, s.record.kind, terms);
  if (!s.ctx.verify(m.keys[a.keyId]!, message, a.signature)) {
    refuse(ErrorCode.BAD_SIGNATURE, `approval by ${m.id} does not verify over these terms`);
  }
  return m;
}

/** member.add, .suspend, .reinstate, .remove, .roles and .rotate-key. */
export function applyGovernance(s: RuleScope, body: GovernanceAction, signed: Signed<unknown>): void {
  const selfRotation = body.kind === KIND.memberRotateKey && body.action.member === s.author.id;
  if (!selfRotation) {
    if (!has(s.author, 'admin'))
      refuse(ErrorCode.NOT_AUTHORIZED, `${body.kind} is governance: only admins may write it`);
    const approved = approvers(s, signed, 'admin');
    const need = s.ctx.policy.adminQuorum;
    if (approved.size < need) {
      refuse(
        ErrorCode.QUORUM,
        `${body.kind} needs ${need} admin approvals, has ${approved.size}`,
        'collect approvals with signApproval',
      );
    }
  }
  if (body.kind === KIND.memberAdd) {
    const a = body.action;
    if (s.view.get('member', a.id) !== undefined)
      refuse(ErrorCode.DUPLICATE_ID, `member ${a.id} already exists`);
    s.put('member', {
      id: a.id,
      name: a.name,
      roles: a.roles,
      keys: [a.signingKey],
      activeKeyId: 0,
      encryptionKey: a.encryptionKey ?? null,
      status: 'active',
      index: s.index,
    });
    return;
  }
  const target = s.view.get('member', body.action.member);
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
  const next: MemberEntity = { ...target, index: s.index };
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
  checkAdminsRemain(s, target, next);
  s.put('member', next);
}

/** Refuses a change that would leave fewer active admins than the quorum needs. */
function checkAdminsRemain(s: RuleScope, before: MemberEntity, after: MemberEntity): void {
  const wasAdmin = before.status === 'active' && has(before, 'admin');
  const isAdmin = after.status === 'active' && has(after, 'admin');
  if (!wasAdmin || isAdmin) return;
  const remaining = activeAdminsExcept(s, before.id);
  if (remaining < s.ctx.policy.adminQuorum) {
    refuse(
      ErrorCode.QUORUM,
      `this would leave ${remaining} active admins; the quorum needs ${s.ctx.policy.adminQuorum}`,
    );
  }
}

function activeAdminsExcept(s: RuleScope, id: string): number {
  let n = 0;
  for (const m of s.view.members()) if (m.id !== id && m.status === 'active' && has(m, 'admin')) n++;
  return n;
}
