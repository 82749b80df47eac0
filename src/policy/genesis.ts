/**
 * The genesis record (index 0, kind "genesis"): names the ledger's members at
 * the start (root admins among them), the sequencer's checkpoint key, and the
 * policy parameters. It is signed by the sequencer member, whose record key is
 * the same Ed25519 key as its checkpoint key, so a verifier that trusts the
 * checkpoint key can check genesis without any other input.
 */
import { isStrongPublicKey } from '../crypto/ed25519.js';
import type { Plain } from '../encoding/msgpack.js';
import type { LedgerRecord } from '../encoding/record.js';
import { MEMBER_ID_PATTERN } from '../encoding/record.js';
import { ErrorCode, fail } from '../errors.js';
import type { Change, IndexEntry } from './entities.js';

export const GENESIS_KIND = 'genesis';

export const ROLES = ['admin', 'provider', 'consumer', 'auditor', 'witness', 'sequencer'] as const;
export type Role = (typeof ROLES)[number];

export interface MemberSpec {
  readonly id: string;
  readonly name: string;
  readonly roles: readonly Role[];
  /** Ed25519 public key for record signatures (keyId 0). */
  readonly signingKey: Uint8Array;
  /** X25519 public key for sealed payloads, when the member has one. */
  readonly encryptionKey?: Uint8Array;
}

export interface PolicyParams {
  /** Admin signatures a governance record needs (m of the admins). */
  readonly adminQuorum: number;
  /** How far a record's timestamp may be from its block's time; 0 turns the check off. */
  readonly maxClockSkewMs: number;
}

export const DEFAULT_POLICY: PolicyParams = { adminQuorum: 1, maxClockSkewMs: 10 * 60 * 1000 };

export interface GenesisBody {
  readonly members: readonly MemberSpec[];
  /** Member id of the sequencer. */
  readonly sequencer: string;
  /** The sequencer's checkpoint verifier key, C2SP note format. */
  readonly sequencerKey: string;
  readonly policy: PolicyParams;
}

const isObject = (v: unknown): v is Record<string, unknown> =>
  typeof v === 'object' && v !== null && !Array.isArray(v) && !(v instanceof Uint8Array);

function exactKeys(v: Record<string, unknown>, required: string[], optional: string[], what: string): void {
  for (const k of required) if (!(k in v)) fail(ErrorCode.SCHEMA, `${what}: missing field "${k}"`);
  for (const k of Object.keys(v)) {
    if (!required.includes(k) && !optional.includes(k))
      fail(ErrorCode.SCHEMA, `${what}: unknown field "${k}"`);
  }
}

function bytes32(v: unknown, what: string): Uint8Array {
  if (!(v instanceof Uint8Array) || v.length !== 32) fail(ErrorCode.SCHEMA, `${what} must be 32 bytes`);
  return new Uint8Array(v);
}

function strongKey(v: unknown, what: string): Uint8Array {
  const k = bytes32(v, what);
  if (!isStrongPublicKey(k))
    fail(ErrorCode.SCHEMA, `${what} is not a valid Ed25519 public key (small order or non-canonical)`);
  return k;
}

function nat(v: unknown, what: string): number {
  if (!Number.isSafeInteger(v) || (v as number) < 0)
    fail(ErrorCode.SCHEMA, `${what} must be a non-negative integer`);
  return v as number;
}

export function parseMemberSpec(v: unknown, what: string): MemberSpec {
  if (!isObject(v)) fail(ErrorCode.SCHEMA, `${what} must be a map`);
  exactKeys(v, ['id', 'name', 'roles', 'signingKey'], ['encryptionKey'], what);
  if (typeof v.id !== 'string' || !MEMBER_ID_PATTERN.test(v.id))
    fail(ErrorCode.SCHEMA, `${what}.id must match ${MEMBER_ID_PATTERN}`);
  if (typeof v.name !== 'string' || v.name.length === 0 || v.name.length > 256) {
    fail(ErrorCode.SCHEMA, `${what}.name must be 1-256 characters`);
  }
  if (
    !Array.isArray(v.roles) ||
    v.roles.length === 0 ||
    !Array.from(v.roles).every((r) => ROLES.includes(r as Role))
  ) {
    fail(ErrorCode.SCHEMA, `${what}.roles must be a non-empty list of ${ROLES.join(', ')}`);
  }
  if (new Set(v.roles).size !== v.roles.length) fail(ErrorCode.SCHEMA, `${what}.roles has duplicates`);
  const spec: MemberSpec = {
    id: v.id,
    name: v.name,
    roles: v.roles as Role[],
    signingKey: strongKey(v.signingKey, `${what}.signingKey`),
    ...(v.encryptionKey === undefined
      ? {}
      : { encryptionKey: bytes32(v.encryptionKey, `${what}.encryptionKey`) }),
  };
  return spec;
}

export function parseGenesisBody(body: unknown): GenesisBody {
  if (!isObject(body)) fail(ErrorCode.SCHEMA, 'genesis body must be a map');
  exactKeys(body, ['members', 'sequencer', 'sequencerKey', 'policy'], [], 'genesis');
  if (!Array.isArray(body.members) || body.members.length === 0)
    fail(ErrorCode.SCHEMA, 'genesis.members must be a non-empty list');
  const members = body.members.map((m, i) => parseMemberSpec(m, `genesis.members[${i}]`));
  const ids = new Set(members.map((m) => m.id));
  if (ids.size !== members.length) fail(ErrorCode.SCHEMA, 'genesis.members has duplicate ids');
  if (!members.some((m) => m.roles.includes('admin')))
    fail(ErrorCode.SCHEMA, 'genesis needs at least one admin');
  const sequencer = members.find((m) => m.id === body.sequencer);
  if (sequencer === undefined || !sequencer.roles.includes('sequencer')) {
    fail(ErrorCode.SCHEMA, 'genesis.sequencer must name a member with the sequencer role');
  }
  if (typeof body.sequencerKey !== 'string')
    fail(ErrorCode.SCHEMA, 'genesis.sequencerKey must be a verifier key string');
  const p = body.policy;
  if (!isObject(p)) fail(ErrorCode.SCHEMA, 'genesis.policy must be a map');
  exactKeys(p, ['adminQuorum', 'maxClockSkewMs'], [], 'genesis.policy');
  const admins = members.filter((m) => m.roles.includes('admin')).length;
  const adminQuorum = nat(p.adminQuorum, 'genesis.policy.adminQuorum');
  if (adminQuorum < 1 || adminQuorum > admins) {
    fail(
      ErrorCode.SCHEMA,
      `genesis.policy.adminQuorum must be between 1 and the number of admins (${admins})`,
    );
  }
  return {
    members,
    sequencer: sequencer.id,
    sequencerKey: body.sequencerKey,
    policy: { adminQuorum, maxClockSkewMs: nat(p.maxClockSkewMs, 'genesis.policy.maxClockSkewMs') },
  };
}

/** The body as it goes on the ledger (MessagePack-ready plain data). */
export function genesisBodyToPlain(g: GenesisBody): Plain {
  return {
    members: g.members.map((m) => ({
      id: m.id,
      name: m.name,
      roles: [...m.roles],
      signingKey: m.signingKey,
      ...(m.encryptionKey ? { encryptionKey: m.encryptionKey } : {}),
    })),
    sequencer: g.sequencer,
    sequencerKey: g.sequencerKey,
    policy: { adminQuorum: g.policy.adminQuorum, maxClockSkewMs: g.policy.maxClockSkewMs },
  };
}

/** What the genesis record fixes for the ledger's whole life: origin, policy, sequencer key. */
export interface LedgerParams {
  readonly origin: string;
  readonly policy: PolicyParams;
  /** The sequencer's checkpoint verifier key, C2SP note format. */
  readonly sequencerKey: string;
  /** Member id of the sequencer. */
  readonly sequencer: string;
}

export function paramsFromGenesis(record: LedgerRecord): { params: LedgerParams; genesis: GenesisBody } {
  const genesis = parseGenesisBody(record.body);
  return {
    params: {
      origin: record.origin,
      policy: genesis.policy,
      sequencerKey: genesis.sequencerKey,
      sequencer: genesis.sequencer,
    },
    genesis,
  };
}

/** What genesis (record 0, at `timestamp`) does to the state: its members, and its entry in the kind index. */
export function genesisEffects(
  genesis: GenesisBody,
  timestamp: number,
): { changes: Change[]; indexes: IndexEntry[] } {
  const changes: Change[] = genesis.members.map((m) => ({
    type: 'member',
    entity: {
      id: m.id,
      name: m.name,
      roles: [...m.roles],
      keys: [m.signingKey],
      activeKeyId: 0,
      encryptionKey: m.encryptionKey ?? null,
      status: 'active',
      index: 0,
    },
  }));
  return { changes, indexes: [{ name: 'k', parts: [GENESIS_KIND, timestamp, 0] }] };
}
