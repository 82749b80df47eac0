/**
 * Grant rules: a provider grants a consumer fields of its own resource for a
 * scenario and a time window [validFrom, validTo) (answering a need list where
 * sharing is conditional: a grant that names a request answers it, `granted`;
 * countersigned by another admin where a field is level 4); the
 * provider or an admin revokes it; the consumer logs each use under it.
 */
import { ErrorCode } from '../errors.js';
import { checkFields, ownResource } from './directory-rules.js';
import type { GrantEntity } from './entities.js';
import { checkApproval } from './governance-rules.js';
import { has, type RuleScope, refuse, timeText } from './rule-scope.js';
import type { GrantTerms, Signed } from './schemas.js';

export function issueGrant(s: RuleScope, signed: Signed<GrantTerms>): void {
  const t = signed.terms;
  if (!has(s.author, 'provider')) refuse(ErrorCode.NOT_AUTHORIZED, `${s.author.id} is not a provider`);
  const resource = ownResource(s, t.resource, 'grant');
  if (s.view.get('grant', t.id) !== undefined) refuse(ErrorCode.DUPLICATE_ID, `grant ${t.id} already exists`);
  if (resource.sharing === 'none') refuse(ErrorCode.NOT_SHARED, `resource ${t.resource} is not shared`);
  checkFields(resource, t.fields);
  const consumer = s.view.get('member', t.consumer);
  if (consumer === undefined) refuse(ErrorCode.UNKNOWN_MEMBER, `consumer ${t.consumer} is not a member`);
  if (consumer.status !== 'active')
    refuse(ErrorCode.MEMBER_INACTIVE, `consumer ${t.consumer} is ${consumer.status}`);
  if (!has(consumer, 'consumer'))
    refuse(ErrorCode.NOT_AUTHORIZED, `${t.consumer} does not have the consumer role`);
  if (s.view.get('scenario', t.scenario) === undefined)
    refuse(ErrorCode.UNKNOWN_SCENARIO, `scenario ${t.scenario} does not exist`);
  if (resource.sharing === 'conditional' && t.request === undefined) {
    refuse(
      ErrorCode.REQUEST_REQUIRED,
      `resource ${t.resource} is shared conditionally: the grant must answer an open request`,
    );
  }
  if (t.request !== undefined) {
    const req = s.view.get('request', t.request);
    if (req === undefined) refuse(ErrorCode.REQUEST_REQUIRED, `request ${t.request} does not exist`);
    if (req.status !== 'open' || req.grant !== null) {
      refuse(
        ErrorCode.REQUEST_NOT_OPEN,
        `request ${t.request} is ${req.status}${req.grant === null ? '' : ` by grant ${req.grant}`}: ` +
          'it is not open for a grant',
      );
    }
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
    // The grant answers the need list in the same record: granted, with this grant's id.
    s.put('request', { ...req, status: 'granted', grant: t.id });
  }
  const levels = new Map(resource.fields.map((f) => [f.name, f.level]));
  const core = t.fields.filter((f) => levels.get(f) === 4);
  // A countersignature is another admin's approval of exactly these terms.
  const counter = [
    ...new Set(signed.approvals.map((a) => checkApproval(s, a, signed.termsBytes, 'admin').id)),
  ]
    .filter((a) => a !== s.author.id)
    .sort();
  if (core.length > 0 && counter.length === 0) {
    refuse(
      ErrorCode.COUNTERSIGNATURE_REQUIRED,
      `level-4 fields ${core.join(', ')} need an admin's countersignature on the grant`,
    );
  }
  const grant: GrantEntity = {
    id: t.id,
    provider: s.author.id,
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
    index: s.index,
  };
  s.put('grant', grant);
  s.indexes.push(
    { name: 'G', parts: [t.resource, t.id] },
    { name: 'c', parts: [t.consumer, t.id] },
    { name: 's', parts: [t.scenario, t.id] },
  );
}

export function revokeGrant(s: RuleScope, id: string): void {
  const g = s.view.get('grant', id);
  if (g === undefined) refuse(ErrorCode.UNKNOWN_GRANT, `grant ${id} does not exist`);
  if (g.provider !== s.author.id && !has(s.author, 'admin')) {
    refuse(ErrorCode.NOT_AUTHORIZED, `only the provider ${g.provider} or an admin may revoke ${id}`);
  }
  if (g.status === 'revoked') refuse(ErrorCode.GRANT_REVOKED, `grant ${id} is already revoked`);
  s.put('grant', { ...g, status: 'revoked', revokedAt: s.time, revokedBy: s.author.id });
}

export function logAccess(s: RuleScope, a: { grant: string; fields: string[] }): void {
  const g = s.view.get('grant', a.grant);
  if (g === undefined) refuse(ErrorCode.UNKNOWN_GRANT, `grant ${a.grant} does not exist`);
  if (g.consumer !== s.author.id)
    refuse(ErrorCode.NOT_AUTHORIZED, `only the grant's consumer ${g.consumer} may log access under ${g.id}`);
  if (g.status === 'revoked') {
    refuse(
      ErrorCode.GRANT_REVOKED,
      `grant ${g.id} was revoked at ${g.revokedAt === null ? 'an unknown time' : timeText(g.revokedAt)}`,
    );
  }
  // Both the author's time and the block time must be inside the window
  // [validFrom, validTo), so an author's clock cannot move a use into it.
  const window = `[${timeText(g.validFrom)}, ${timeText(g.validTo)})`;
  for (const [at, which] of [
    [s.record.timestamp, 'the access'],
    [s.time, 'the block'],
  ] as const) {
    if (at < g.validFrom) {
      refuse(
        ErrorCode.GRANT_NOT_YET_VALID,
        `grant ${g.id} is valid from ${timeText(g.validFrom)}; ${which} is at ${timeText(at)}`,
        `the grant's window is ${window} (validFrom included, validTo not): log the use once it opens`,
      );
    }
    if (at >= g.validTo) {
      refuse(
        ErrorCode.GRANT_EXPIRED,
        `grant ${g.id} expired at ${timeText(g.validTo)}; ${which} is at ${timeText(at)}`,
        `the grant's window is ${window} (validFrom included, validTo not): ask the provider for a new grant`,
      );
    }
  }
  const granted = new Set(g.fields);
  const extra = a.fields.filter((f) => !granted.has(f));
  if (extra.length > 0)
    refuse(ErrorCode.FIELD_NOT_GRANTED, `grant ${g.id} does not cover ${extra.join(', ')}`);
  const resource = s.view.get('resource', g.resource);
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
  s.indexes.push({ name: 'g', parts: [g.id, s.index] });
}
