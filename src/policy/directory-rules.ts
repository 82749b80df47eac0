/**
 * Directory rules: resources (registered, updated and retired by their owning
 * provider), scenarios, and need lists (requests a consumer opens to a
 * provider; a grant naming one answers it as granted, the provider may answer
 * it as refused, and either side closes it).
 */
import { ErrorCode } from '../errors.js';
import type { ResourceEntity } from './entities.js';
import { has, type RuleScope, refuse } from './rule-scope.js';

export function registerResource(
  s: RuleScope,
  kind: 'resource.register' | 'resource.update',
  spec: Omit<ResourceEntity, 'version' | 'status' | 'index'>,
): void {
  if (!has(s.author, 'provider')) refuse(ErrorCode.NOT_AUTHORIZED, `${s.author.id} is not a provider`);
  if (spec.owner !== s.author.id) {
    refuse(
      ErrorCode.NOT_AUTHORIZED,
      `${s.author.id} may only ${kind === 'resource.register' ? 'register' : 'update'} its own resources`,
    );
  }
  const current = s.view.get('resource', spec.id);
  if (kind === 'resource.register' && current !== undefined)
    refuse(ErrorCode.DUPLICATE_ID, `resource ${spec.id} already exists`);
  if (kind === 'resource.update') {
    if (current === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${spec.id} does not exist`);
    if (current.owner !== s.author.id)
      refuse(ErrorCode.NOT_AUTHORIZED, `only ${current.owner} may update ${spec.id}`);
    if (current.status === 'retired') refuse(ErrorCode.RESOURCE_RETIRED, `resource ${spec.id} is retired`);
  }
  s.put('resource', {
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
    index: s.index,
  });
  if (kind === 'resource.register') s.indexes.push({ name: 'd', parts: [spec.owner, spec.id] });
  s.indexes.push({ name: 'r', parts: [spec.id, s.index], kind });
}

/** The resource `id`, if the author owns it and it is not retired. */
export function ownResource(s: RuleScope, id: string, verb: string): ResourceEntity {
  const r = s.view.get('resource', id);
  if (r === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${id} does not exist`);
  if (r.owner !== s.author.id)
    refuse(ErrorCode.NOT_AUTHORIZED, `only the owner ${r.owner} may ${verb} ${id}`);
  if (r.status === 'retired') refuse(ErrorCode.RESOURCE_RETIRED, `resource ${id} is retired`);
  return r;
}

export function retireResource(s: RuleScope, id: string): void {
  const r = ownResource(s, id, 'retire');
  s.put('resource', { ...r, status: 'retired', index: s.index });
  s.indexes.push({ name: 'r', parts: [id, s.index], kind: s.record.kind });
}

export function registerScenario(
  s: RuleScope,
  sc: { id: string; name: string; lead: string; legalBasis: string; description?: string },
): void {
  if (!has(s.author, 'admin') && sc.lead !== s.author.id) {
    refuse(ErrorCode.NOT_AUTHORIZED, 'a scenario is registered by an admin or by its lead department');
  }
  if (s.view.get('scenario', sc.id) !== undefined)
    refuse(ErrorCode.DUPLICATE_ID, `scenario ${sc.id} already exists`);
  if (s.view.get('member', sc.lead) === undefined)
    refuse(ErrorCode.UNKNOWN_MEMBER, `lead department ${sc.lead} is not a member`);
  s.put('scenario', {
    id: sc.id,
    name: sc.name,
    lead: sc.lead,
    legalBasis: sc.legalBasis,
    description: sc.description ?? null,
    index: s.index,
  });
}

/** Refuses field names the resource does not have. */
export function checkFields(resource: ResourceEntity, fields: readonly string[]): void {
  const known = new Set(resource.fields.map((f) => f.name));
  const unknown = fields.filter((f) => !known.has(f));
  if (unknown.length > 0)
    refuse(ErrorCode.FIELD_UNKNOWN, `resource ${resource.id} has no field ${unknown.join(', ')}`);
}

export function openRequest(
  s: RuleScope,
  r: { id: string; provider: string; resource: string; fields: string[]; scenario: string; purpose: string },
): void {
  if (!has(s.author, 'consumer')) refuse(ErrorCode.NOT_AUTHORIZED, `${s.author.id} is not a consumer`);
  if (s.view.get('request', r.id) !== undefined)
    refuse(ErrorCode.DUPLICATE_ID, `request ${r.id} already exists`);
  const resource = s.view.get('resource', r.resource);
  if (resource === undefined) refuse(ErrorCode.UNKNOWN_RESOURCE, `resource ${r.resource} does not exist`);
  if (resource.owner !== r.provider)
    refuse(
      ErrorCode.NOT_AUTHORIZED,
      `resource ${r.resource} belongs to ${resource.owner}, not ${r.provider}`,
    );
  if (resource.status === 'retired') refuse(ErrorCode.RESOURCE_RETIRED, `resource ${r.resource} is retired`);
  if (resource.sharing === 'none') refuse(ErrorCode.NOT_SHARED, `resource ${r.resource} is not shared`);
  checkFields(resource, r.fields);
  if (s.view.get('scenario', r.scenario) === undefined)
    refuse(ErrorCode.UNKNOWN_SCENARIO, `scenario ${r.scenario} does not exist`);
  s.put('request', {
    id: r.id,
    consumer: s.author.id,
    provider: r.provider,
    resource: r.resource,
    fields: r.fields,
    scenario: r.scenario,
    purpose: r.purpose,
    status: 'open',
    grant: null,
    reason: null,
    index: s.index,
  });
  s.indexes.push({ name: 'p', parts: [r.provider, r.id] });
}

export function answerRequest(
  s: RuleScope,
  a: { id: string; decision: 'granted' | 'refused'; grant?: string; reason?: string },
): void {
  const req = s.view.get('request', a.id);
  if (req === undefined) refuse(ErrorCode.UNKNOWN_REQUEST, `request ${a.id} does not exist`);
  if (req.provider !== s.author.id)
    refuse(ErrorCode.NOT_AUTHORIZED, `only the provider ${req.provider} may answer ${a.id}`);
  if (req.status !== 'open') {
    refuse(
      ErrorCode.REQUEST_NOT_OPEN,
      req.status === 'closed'
        ? `request ${a.id} is closed`
        : `request ${a.id} was already answered: ${req.status}${req.grant === null ? '' : ` by grant ${req.grant}`}`,
      req.status === 'granted' ? 'a grant that names a request answers it when issued' : undefined,
    );
  }
  if (a.decision === 'granted') {
    // An open request has no grant: a grant naming it would have answered it.
    refuse(
      ErrorCode.UNKNOWN_GRANT,
      `grant ${a.grant} was not issued against request ${a.id}`,
      'issue the grant with `request` set to the request id: that answers the request as granted',
    );
  }
  s.put('request', { ...req, status: a.decision, reason: a.reason ?? null });
}

export function closeRequest(s: RuleScope, id: string): void {
  const req = s.view.get('request', id);
  if (req === undefined) refuse(ErrorCode.UNKNOWN_REQUEST, `request ${id} does not exist`);
  if (req.consumer !== s.author.id && req.provider !== s.author.id) {
    refuse(ErrorCode.NOT_AUTHORIZED, `only ${req.consumer} or ${req.provider} may close ${id}`);
  }
  if (req.status === 'closed') refuse(ErrorCode.REQUEST_NOT_OPEN, `request ${id} is already closed`);
  s.put('request', { ...req, status: 'closed' });
}
