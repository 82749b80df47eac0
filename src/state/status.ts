/**
 * What the status map commits to for each entity: a status value, canonical
 * MessagePack, with what a verifier needs to judge it and to find the
 * entities it depends on. One array per type, its first two elements the
 * type and id (so a value names its key):
 *
 *   member    ["member", id, status, index, entity]
 *   resource  ["resource", id, status, version, index, owner, entity]
 *   scenario  ["scenario", id, "registered", index, entity]
 *   request   ["request", id, status, index, consumer, provider, resource, grant|nil, entity]
 *   grant     ["grant", id, status, index, provider, consumer, resource, validFrom, validTo, revokedAt|nil, entity]
 *
 * `entity` is SHA-256 of the entity's canonical encoding (MessagePack of its
 * fields in their fixed order, as the state stores it): a status proof then
 * fixes the whole entity as the ledger holds it (a member's keys, a grant's
 * fields), so a node cannot answer with an entity of its own making.
 *
 * `index` is the log index of the record that set the value (the last one
 * that changed the entity: a grant's revocation, a member's suspension);
 * times are milliseconds since the epoch (block times). Pure: no I/O.
 *
 * `judgeGrant` says what a grant's status is at a time, as the access rules
 * and `activeGrants` judge it: active only inside [validFrom, validTo), not
 * revoked by then, on a resource not retired, for a consumer that is active.
 */
import { checkCanonical } from '../encoding/canonical.js';
import { pack, unpackChecked } from '../encoding/msgpack.js';
import { ErrorCode, fail } from '../errors.js';

export type StatusValue =
  | {
      readonly type: 'member';
      readonly id: string;
      readonly status: string;
      readonly index: number;
      readonly entity: Uint8Array;
    }
  | {
      readonly type: 'resource';
      readonly id: string;
      readonly status: string;
      readonly version: number;
      readonly index: number;
      /** SHA-256 of the entity's canonical encoding: the whole entity, not just its status. */
      readonly entity: Uint8Array;
      readonly owner: string;
    }
  | {
      readonly type: 'scenario';
      readonly id: string;
      readonly status: 'registered';
      readonly index: number;
      readonly entity: Uint8Array;
    }
  | {
      readonly type: 'request';
      readonly id: string;
      readonly status: string;
      readonly index: number;
      /** SHA-256 of the entity's canonical encoding: the whole entity, not just its status. */
      readonly entity: Uint8Array;
      readonly consumer: string;
      readonly provider: string;
      readonly resource: string;
      readonly grant: string | null;
    }
  | {
      readonly type: 'grant';
      readonly id: string;
      readonly status: string;
      readonly index: number;
      /** SHA-256 of the entity's canonical encoding: the whole entity, not just its status. */
      readonly entity: Uint8Array;
      readonly provider: string;
      readonly consumer: string;
      readonly resource: string;
      readonly validFrom: number;
      readonly validTo: number;
      readonly revokedAt: number | null;
    };

export function encodeStatus(v: StatusValue): Uint8Array {
  switch (v.type) {
    case 'member':
      return pack([v.type, v.id, v.status, v.index, v.entity]);
    case 'resource':
      return pack([v.type, v.id, v.status, v.version, v.index, v.owner, v.entity]);
    case 'scenario':
      return pack([v.type, v.id, v.status, v.index, v.entity]);
    case 'request':
      return pack([v.type, v.id, v.status, v.index, v.consumer, v.provider, v.resource, v.grant, v.entity]);
    case 'grant':
      return pack([
        v.type,
        v.id,
        v.status,
        v.index,
        v.provider,
        v.consumer,
        v.resource,
        v.validFrom,
        v.validTo,
        v.revokedAt,
        v.entity,
      ]);
  }
}

const LENGTHS: Record<StatusValue['type'], number> = {
  member: 5,
  resource: 7,
  scenario: 5,
  request: 9,
  grant: 11,
};

/** Strictly decodes a status value: canonical MessagePack, the fields of its type, nothing else. */
export function decodeStatus(bytes: Uint8Array): StatusValue {
  if (!(bytes instanceof Uint8Array)) fail(ErrorCode.DECODE, 'a status value must be bytes');
  let a: unknown;
  try {
    checkCanonical(bytes, 'status value');
    a = unpackChecked(bytes);
  } catch (e) {
    // One code for any bytes that are not a status value, whatever the MessagePack layer called it.
    return fail(ErrorCode.DECODE, `a status value is not canonical MessagePack: ${(e as Error).message}`);
  }
  if (!Array.isArray(a) || typeof a[0] !== 'string' || !(a[0] in LENGTHS))
    fail(ErrorCode.DECODE, 'a status value is an array starting with its type');
  const type = a[0] as StatusValue['type'];
  if (a.length !== LENGTHS[type])
    fail(ErrorCode.DECODE, `a ${type} status value has ${LENGTHS[type]} fields, not ${a.length}`);
  const str = (i: number, what: string): string => {
    if (typeof a[i] !== 'string') fail(ErrorCode.DECODE, `status value ${what} must be a string`);
    return a[i] as string;
  };
  const num = (i: number, what: string): number => {
    if (!Number.isSafeInteger(a[i]) || (a[i] as number) < 0)
      fail(ErrorCode.DECODE, `status value ${what} must be an integer ≥ 0`);
    return a[i] as number;
  };
  const id = str(1, 'id');
  const digest = a[a.length - 1];
  if (!(digest instanceof Uint8Array) || digest.length !== 32)
    fail(ErrorCode.DECODE, 'a status value ends with the 32-byte digest of its entity');
  const entity = Uint8Array.from(digest);
  return { ...statusFields(type, a, id, str, num), entity } as StatusValue;
}

function statusFields(
  type: StatusValue['type'],
  a: unknown[],
  id: string,
  str: (i: number, what: string) => string,
  num: (i: number, what: string) => number,
): Record<string, unknown> {
  switch (type) {
    case 'member':
      return { type, id, status: str(2, 'status'), index: num(3, 'index') };
    case 'resource':
      return {
        type,
        id,
        status: str(2, 'status'),
        version: num(3, 'version'),
        index: num(4, 'index'),
        owner: str(5, 'owner'),
      };
    case 'scenario':
      if (a[2] !== 'registered') fail(ErrorCode.DECODE, 'a scenario status value says "registered"');
      return { type, id, status: 'registered', index: num(3, 'index') };
    case 'request':
      if (a[7] !== null) str(7, 'grant');
      return {
        type,
        id,
        status: str(2, 'status'),
        index: num(3, 'index'),
        consumer: str(4, 'consumer'),
        provider: str(5, 'provider'),
        resource: str(6, 'resource'),
        grant: a[7] as string | null,
      };
    case 'grant':
      if (a[9] !== null) num(9, 'revokedAt');
      return {
        type,
        id,
        status: str(2, 'status'),
        index: num(3, 'index'),
        provider: str(4, 'provider'),
        consumer: str(5, 'consumer'),
        resource: str(6, 'resource'),
        validFrom: num(7, 'validFrom'),
        validTo: num(8, 'validTo'),
        revokedAt: a[9] as number | null,
      };
  }
}

/** What a grant is at a time: the first reason it is not active, or active. */
export type GrantStatus =
  | 'active'
  | 'revoked'
  | 'not-yet-valid'
  | 'expired'
  | 'retired'
  | 'suspended'
  | 'absent';

/**
 * Judges a grant at `at` (ms) from its status value and those of its resource
 * and consumer (undefined: not in the map), as `activeGrants` does.
 */
export function judgeGrant(
  grant: StatusValue | undefined,
  resource: StatusValue | undefined,
  consumer: StatusValue | undefined,
  at: number,
): GrantStatus {
  if (grant === undefined) return 'absent';
  if (grant.type !== 'grant') fail(ErrorCode.INVALID_ARGUMENT, `a ${grant.type} is not a grant`);
  if (grant.status === 'revoked' && (grant.revokedAt === null || grant.revokedAt <= at)) return 'revoked';
  if (at < grant.validFrom) return 'not-yet-valid';
  if (at >= grant.validTo) return 'expired';
  if (resource?.type !== 'resource' || resource.id !== grant.resource || resource.status !== 'active')
    return 'retired';
  if (consumer?.type !== 'member' || consumer.id !== grant.consumer || consumer.status !== 'active')
    return 'suspended';
  return 'active';
}
