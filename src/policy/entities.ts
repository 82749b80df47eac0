/**
 * The materialised state: members, resources (latest version), scenarios,
 * need-list requests and grants. Pure data with a fixed field order, so the
 * stored bytes are identical on every node and after a rebuild.
 */

import type { Role } from './genesis.js';
import type { Sharing } from './schemas.js';

export type MemberStatus = 'active' | 'suspended' | 'removed';

export interface MemberEntity {
  id: string;
  name: string;
  roles: Role[];
  /** Signing keys by keyId; old ones stay so old records keep verifying. */
  keys: Uint8Array[];
  activeKeyId: number;
  encryptionKey: Uint8Array | null;
  status: MemberStatus;
  /** Index of the record that last changed this member. */
  index: number;
}

export interface ResourceField {
  name: string;
  level: number;
}

export interface ResourceEntity {
  id: string;
  owner: string;
  version: number;
  status: 'active' | 'retired';
  title: string;
  description: string;
  theme: string;
  format: string;
  updateCycle: string;
  sourceSystem: string;
  fields: ResourceField[];
  level: number;
  sharing: Sharing;
  opening: string;
  /** Index of the record holding this version (or the retirement). */
  index: number;
}

export interface ScenarioEntity {
  id: string;
  name: string;
  lead: string;
  legalBasis: string;
  description: string | null;
  index: number;
}

export type RequestStatus = 'open' | 'granted' | 'refused' | 'closed';

export interface RequestEntity {
  id: string;
  consumer: string;
  provider: string;
  resource: string;
  fields: string[];
  scenario: string;
  purpose: string;
  status: RequestStatus;
  /** The grant issued against this request, once there is one. */
  grant: string | null;
  reason: string | null;
  /** Index of the opening record. */
  index: number;
}

export interface GrantEntity {
  id: string;
  provider: string;
  consumer: string;
  resource: string;
  fields: string[];
  scenario: string;
  purpose: string;
  validFrom: number;
  validTo: number;
  conditions: string | null;
  request: string | null;
  /** Admins who countersigned (required for level-4 fields). */
  countersignedBy: string[];
  status: 'active' | 'revoked';
  /** Block time of the revocation. */
  revokedAt: number | null;
  revokedBy: string | null;
  /** Index of the issuing record. */
  index: number;
}

export interface EntityTypes {
  member: MemberEntity;
  resource: ResourceEntity;
  scenario: ScenarioEntity;
  request: RequestEntity;
  grant: GrantEntity;
}

export type EntityType = keyof EntityTypes;

/** Read access to the state as of some point in the log (plus the current block's staged changes). */
export interface StateView {
  get<T extends EntityType>(type: T, id: string): EntityTypes[T] | undefined;
  /** Every member (a few hundred at most, so the rules may scan them). */
  members(): Iterable<MemberEntity>;
  /**
   * Index of an earlier record (before `index`) with this leaf hash, if any.
   * With the record's author and timestamp, a state that knows every earlier
   * record of that author is older may answer without looking.
   */
  firstIndexOf(
    leafHash: Uint8Array,
    index: number,
    record?: { readonly author: string; readonly timestamp: number },
  ): number | undefined;
}

/** One state change an accepted record makes. */
export type Change = { [T in EntityType]: { type: T; entity: EntityTypes[T] } }[EntityType];

/** Field order per type, so encoding is canonical whatever order an object was built in. */
export const FIELD_ORDER: { [T in EntityType]: ReadonlyArray<keyof EntityTypes[T]> } = {
  member: ['id', 'name', 'roles', 'keys', 'activeKeyId', 'encryptionKey', 'status', 'index'],
  resource: [
    'id',
    'owner',
    'version',
    'status',
    'title',
    'description',
    'theme',
    'format',
    'updateCycle',
    'sourceSystem',
    'fields',
    'level',
    'sharing',
    'opening',
    'index',
  ],
  scenario: ['id', 'name', 'lead', 'legalBasis', 'description', 'index'],
  request: [
    'id',
    'consumer',
    'provider',
    'resource',
    'fields',
    'scenario',
    'purpose',
    'status',
    'grant',
    'reason',
    'index',
  ],
  grant: [
    'id',
    'provider',
    'consumer',
    'resource',
    'fields',
    'scenario',
    'purpose',
    'validFrom',
    'validTo',
    'conditions',
    'request',
    'countersignedBy',
    'status',
    'revokedAt',
    'revokedBy',
    'index',
  ],
};

/** Positional encoding: an array in FIELD_ORDER. */
export function entityToArray<T extends EntityType>(type: T, e: EntityTypes[T]): unknown[] {
  return FIELD_ORDER[type].map((k) => {
    const v = e[k as keyof EntityTypes[T]];
    if (k === 'fields' && type === 'resource') return (v as ResourceField[]).map((f) => [f.name, f.level]);
    return v;
  });
}

export function entityFromArray<T extends EntityType>(type: T, a: unknown[]): EntityTypes[T] {
  const out: Record<string, unknown> = {};
  FIELD_ORDER[type].forEach((k, i) => {
    let v = a[i];
    if (k === 'fields' && type === 'resource')
      v = (v as [string, number][]).map(([name, level]) => ({ name, level }));
    if (v instanceof Uint8Array) v = new Uint8Array(v);
    if (k === 'keys') v = (v as Uint8Array[]).map((x) => new Uint8Array(x));
    out[k as string] = v;
  });
  return out as unknown as EntityTypes[T];
}

/** A secondary-index entry a record makes (storage/index-table.ts lays out its key). */
export type IndexEntry =
  | { name: 'd'; parts: [dept: string, resource: string] }
  | { name: 'r'; parts: [resource: string, index: number]; kind: string }
  | { name: 'G' | 'c' | 's' | 'p'; parts: [owner: string, id: string] }
  | { name: 'g'; parts: [grant: string, index: number] }
  | { name: 'k'; parts: [kind: string, time: number, index: number] };
