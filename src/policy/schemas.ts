/**
 * Record kinds of the directory and their body schemas. Every body is decoded
 * strictly (see encoding/schema.ts): unknown fields, wrong types and
 * out-of-range values are E_SCHEMA. Kinds starting with `x.` are left to
 * applications: any plain body, any active member.
 *
 * Records that need more than the author's signature (governance under an
 * m-of-n admin quorum, grants of level-4 fields) carry their terms as nested
 * MessagePack bytes plus approvals: signatures by other members over exactly
 * those bytes (see `approvalMessage`). Bytes are the truth here too.
 */

import { concatBytes, utf8 } from '../crypto/bytes.js';
import { APPROVAL_SIGNATURE_CONTEXT } from '../crypto/domain.js';
import { BATCH_KIND, type BatchBody, parseBatchBody } from '../encoding/event.js';
import { unpackStrict } from '../encoding/msgpack.js';
import {
  bytes,
  id,
  int,
  list,
  memberId,
  object,
  oneOf,
  publicKey,
  type Spec,
  str,
  time,
} from '../encoding/schema.js';
import { ErrorCode, fail } from '../errors.js';
import { ROLES } from './genesis.js';

export const KIND = {
  memberAdd: 'member.add',
  memberSuspend: 'member.suspend',
  memberReinstate: 'member.reinstate',
  memberRemove: 'member.remove',
  memberRoles: 'member.roles',
  memberRotateKey: 'member.rotate-key',
  resourceRegister: 'resource.register',
  resourceUpdate: 'resource.update',
  resourceRetire: 'resource.retire',
  scenarioRegister: 'scenario.register',
  requestOpen: 'request.open',
  requestAnswer: 'request.answer',
  requestClose: 'request.close',
  grantIssue: 'grant.issue',
  grantRevoke: 'grant.revoke',
  accessLog: 'access.log',
} as const;

export type Kind = (typeof KIND)[keyof typeof KIND];

export const GOVERNANCE_KINDS: readonly string[] = [
  KIND.memberAdd,
  KIND.memberSuspend,
  KIND.memberReinstate,
  KIND.memberRemove,
  KIND.memberRoles,
  KIND.memberRotateKey,
];

export const LEVELS = [1, 2, 3, 4] as const;
export const SHARING = ['unconditional', 'conditional', 'none'] as const;
export type Sharing = (typeof SHARING)[number];

const level = int(1, 4);
const text = str(4000);
const name = str(256);
const roles = list(oneOf(...ROLES), { min: 1, max: ROLES.length, unique: true });
const fieldNames = list(str(128), { min: 1, max: 200, unique: true });

export const approvalSpec = object({ member: memberId, keyId: int(0, 0xffff_ffff), signature: bytes(64) });
export type Approval = ReturnType<typeof approvalSpec>;

/** A body whose terms are nested bytes signed by the author and any approvers. */
const signedTerms = object({ terms: bytes() }, { approvals: list(approvalSpec, { max: 64 }) });

export const memberAddSpec = object(
  { id: memberId, name, roles, signingKey: publicKey },
  { encryptionKey: bytes(32) },
);
/** Terms about an existing member name the record that last changed it (`after`), so they cannot be replayed. */
const after = int(0, Number.MAX_SAFE_INTEGER);
export const memberRefSpec = object({ member: memberId, after }, { reason: text });
export const memberRolesSpec = object({ member: memberId, after, roles });
/** Rotates the signing key, the encryption key, or both. */
export const memberRotateKeySpec = object(
  { member: memberId, after },
  { signingKey: publicKey, encryptionKey: bytes(32) },
);

const resourceFields = {
  id,
  owner: memberId,
  title: name,
  description: text,
  theme: name,
  format: str(64),
  updateCycle: str(64),
  sourceSystem: name,
  fields: list(object({ name: str(128), level }), { min: 1, max: 200 }),
  level,
  sharing: oneOf(...SHARING),
  opening: str(64),
};
/** The root of the record's committed attributes (src/privacy/commitment.ts), when it has private ones. */
const committed = bytes(32);
/**
 * A payload sealed to named members (src/privacy/sealed.ts): one HPKE stanza
 * per recipient key, then the payload's nonce and ciphertext.
 */
const sealed = object({
  stanzas: list(object({ to: memberId, keyId: bytes(8), enc: bytes(32), key: bytes(48) }), {
    min: 1,
    max: 64,
  }),
  commitment: bytes(32),
  nonce: bytes(12),
  ciphertext: bytes(),
});
export const resourceSpec = object(resourceFields, { committed });
export type ResourceSpec = ReturnType<typeof resourceSpec>;
export const resourceRetireSpec = object({ id }, { reason: text });

export const scenarioSpec = object({ id, name, lead: memberId, legalBasis: text }, { description: text });
export type ScenarioSpec = ReturnType<typeof scenarioSpec>;

export const requestOpenSpec = object(
  {
    id,
    provider: memberId,
    resource: id,
    fields: fieldNames,
    scenario: id,
    purpose: text,
  },
  { committed, sealed },
);
export type RequestOpenSpec = ReturnType<typeof requestOpenSpec>;
export const requestAnswerSpec = object(
  { id, decision: oneOf('granted', 'refused') },
  { grant: id, reason: text },
);
export const requestCloseSpec = object({ id }, { reason: text });

export const grantTermsSpec = object(
  {
    id,
    consumer: memberId,
    resource: id,
    fields: fieldNames,
    scenario: id,
    purpose: text,
    validFrom: time,
    validTo: time,
  },
  { conditions: text, request: id, committed, sealed },
);
export type GrantTerms = ReturnType<typeof grantTermsSpec>;
export const grantRevokeSpec = object({ id }, { reason: text });

export const accessLogSpec = object(
  {
    grant: id,
    fields: fieldNames,
    count: int(1, 1_000_000_000),
    purpose: text,
  },
  // A caller's reference (request id, nonce): two identical uses in one millisecond differ by it.
  { ref: str(128), committed },
);
export type AccessLogSpec = ReturnType<typeof accessLogSpec>;

/** A decoded body whose terms were nested bytes, with the bytes kept for approval checks. */
export interface Signed<T> {
  readonly terms: T;
  readonly termsBytes: Uint8Array;
  readonly approvals: Approval[];
}

function parseSigned<T>(body: unknown, spec: Spec<T>, path: string): Signed<T> {
  const outer = signedTerms(body, path);
  const terms = spec(unpackStrict(outer.terms, `${path}.terms`), `${path}.terms`);
  return { terms, termsBytes: outer.terms, approvals: outer.approvals ?? [] };
}

const BODY_SPECS = {
  [KIND.memberSuspend]: memberRefSpec,
  [KIND.memberReinstate]: memberRefSpec,
  [KIND.memberRemove]: memberRefSpec,
  [KIND.memberRoles]: memberRolesSpec,
  [KIND.memberRotateKey]: memberRotateKeySpec,
  [KIND.memberAdd]: memberAddSpec,
} as const;

export type GovernanceAction =
  | { kind: 'member.add'; action: ReturnType<typeof memberAddSpec> }
  | {
      kind: 'member.suspend' | 'member.reinstate' | 'member.remove';
      action: ReturnType<typeof memberRefSpec>;
    }
  | { kind: 'member.roles'; action: ReturnType<typeof memberRolesSpec> }
  | { kind: 'member.rotate-key'; action: ReturnType<typeof memberRotateKeySpec> };

/** Every directory record, decoded and checked. */
export type DirectoryBody =
  | (GovernanceAction & { signed: Signed<unknown> })
  | { kind: 'resource.register' | 'resource.update'; resource: ResourceSpec }
  | { kind: 'resource.retire'; retire: ReturnType<typeof resourceRetireSpec> }
  | { kind: 'scenario.register'; scenario: ScenarioSpec }
  | { kind: 'request.open'; request: RequestOpenSpec }
  | { kind: 'request.answer'; answer: ReturnType<typeof requestAnswerSpec> }
  | { kind: 'request.close'; close: ReturnType<typeof requestCloseSpec> }
  | { kind: 'grant.issue'; grant: Signed<GrantTerms> }
  | { kind: 'grant.revoke'; revoke: ReturnType<typeof grantRevokeSpec> }
  | { kind: 'access.log'; access: AccessLogSpec }
  | { kind: 'app'; appKind: string }
  | { kind: 'batch'; batch: BatchBody };

/** Decodes and checks a record body by kind. Throws E_SCHEMA; unknown kinds are refused. */
export function parseBody(kind: string, body: unknown): DirectoryBody {
  if (kind.startsWith('x.')) return { kind: 'app', appKind: kind };
  if (kind === BATCH_KIND) return { kind: 'batch', batch: parseBatchBody(body) };
  switch (kind) {
    case KIND.memberAdd:
    case KIND.memberSuspend:
    case KIND.memberReinstate:
    case KIND.memberRemove:
    case KIND.memberRoles:
    case KIND.memberRotateKey: {
      const signed = parseSigned(body, BODY_SPECS[kind] as Spec<unknown>, kind);
      const action = signed.terms as { signingKey?: unknown; encryptionKey?: unknown };
      if (
        kind === KIND.memberRotateKey &&
        action.signingKey === undefined &&
        action.encryptionKey === undefined
      ) {
        fail(ErrorCode.SCHEMA, `${kind}: give a new signingKey, encryptionKey, or both`);
      }
      return { kind, action: signed.terms, signed } as DirectoryBody;
    }
    case KIND.resourceRegister:
    case KIND.resourceUpdate: {
      const resource = resourceSpec(body, kind);
      for (const f of resource.fields) {
        if (f.level > resource.level)
          fail(
            ErrorCode.SCHEMA,
            `${kind}: field ${f.name} is level ${f.level}, above the resource's ${resource.level}`,
          );
      }
      if (new Set(resource.fields.map((f) => f.name)).size !== resource.fields.length) {
        fail(ErrorCode.SCHEMA, `${kind}: field names must be unique`);
      }
      return { kind, resource };
    }
    case KIND.resourceRetire:
      return { kind, retire: resourceRetireSpec(body, kind) };
    case KIND.scenarioRegister:
      return { kind, scenario: scenarioSpec(body, kind) };
    case KIND.requestOpen:
      return { kind, request: requestOpenSpec(body, kind) };
    case KIND.requestAnswer: {
      const answer = requestAnswerSpec(body, kind);
      if (answer.decision === 'granted' && answer.grant === undefined)
        fail(ErrorCode.SCHEMA, `${kind}: a granted answer names its grant`);
      if (answer.decision === 'refused' && answer.reason === undefined)
        fail(ErrorCode.SCHEMA, `${kind}: a refusal gives a reason`);
      return { kind, answer };
    }
    case KIND.requestClose:
      return { kind, close: requestCloseSpec(body, kind) };
    case KIND.grantIssue: {
      const grant = parseSigned(body, grantTermsSpec, kind);
      if (grant.terms.validTo <= grant.terms.validFrom)
        fail(ErrorCode.SCHEMA, `${kind}: validTo must be after validFrom`);
      return { kind, grant };
    }
    case KIND.grantRevoke:
      return { kind, revoke: grantRevokeSpec(body, kind) };
    case KIND.accessLog:
      return { kind, access: accessLogSpec(body, kind) };
    default:
      return fail(ErrorCode.SCHEMA, `unknown record kind ${JSON.stringify(kind)}`, {
        hint: 'directory kinds are listed in the README; application kinds start with "x."',
      });
  }
}

/**
 * What an approver signs: context, origin and kind (length-prefixed) and the
 * exact terms bytes, so an approval cannot be moved to another ledger or kind.
 */
export function approvalMessage(origin: string, kind: string, terms: Uint8Array): Uint8Array {
  const o = utf8(origin);
  const k = utf8(kind);
  return concatBytes(
    utf8(APPROVAL_SIGNATURE_CONTEXT),
    Uint8Array.of(o.length >> 8, o.length & 255),
    o,
    Uint8Array.of(k.length >> 8, k.length & 255),
    k,
    terms,
  );
}
