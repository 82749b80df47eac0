/**
 * The policy engine on its own: `evaluate` / `evaluateEvent` over an
 * in-memory state view, with real signed records and approvals, and no
 * storage, ledger or chain. Every refusal code the README's directory section
 * names is reached here, each next to the accepted record it differs from.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { beforeEach, describe, expect, it } from 'vitest';
import { randomSeed, type Signer } from '../../src/crypto/ed25519.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { nodeSigner, sha256Node, verifyNode } from '../../src/crypto/node-crypto.js';
import { treeHasher } from '../../src/crypto/tree-hasher.js';
import { encodeEvent, signBatch } from '../../src/encoding/event.js';
import { type Plain, pack, unpackStrict } from '../../src/encoding/msgpack.js';
import {
  decodeRecord,
  type LedgerRecord,
  type RecordDraft,
  signRecord,
  verifyRecordSignature,
} from '../../src/encoding/record.js';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import type { StateView } from '../../src/policy/entities.js';
import {
  DEFAULT_POLICY,
  GENESIS_KIND,
  genesisBodyToPlain,
  type MemberSpec,
  type PolicyParams,
  paramsFromGenesis,
  type Role,
} from '../../src/policy/genesis.js';
import { type Effects, evaluate, evaluateEvent, type PolicyContext } from '../../src/policy/rules.js';
import { approvalMessage, KIND } from '../../src/policy/schemas.js';
import { MemoryState } from './memory-state.js';

const ORIGIN = 'dirchain.example.gov/city';
const T0 = Date.UTC(2025, 0, 1);
const DAY = 86_400_000;
const MINUTE = 60_000;
const SKEW = DEFAULT_POLICY.maxClockSkewMs;
const hasher = treeHasher(sha256Node);

// ---- fixture: a city of departments, judged by the policy alone ----------

interface Actor {
  readonly id: string;
  readonly signer: Signer;
  readonly keyId: number;
}

function actor(id: string, keyId = 0): Actor {
  return { id, signer: nodeSigner(randomSeed()), keyId };
}

const spec = (a: Actor, roles: Role[]): MemberSpec => ({
  id: a.id,
  name: a.id,
  roles,
  signingKey: a.signer.publicKey,
});

/** `member.add` terms for `a`. */
const memberTerms = (a: Actor, roles: Role[]): Record<string, Plain> => ({
  id: a.id,
  name: a.id,
  roles,
  signingKey: a.signer.publicKey,
});

type Verdict = Effects | DirchainError;

/** The code a verdict refuses with, or 'accepted'. */
const codeOf = (v: Verdict): string => (v instanceof DirchainError ? v.code : 'accepted');

/** The refusal of a verdict (fails the test on an acceptance). */
function refusalOf(v: Verdict): DirchainError {
  if (!(v instanceof DirchainError)) throw new Error('expected a refusal, got an acceptance');
  return v;
}

function accepted(v: Verdict): Effects {
  if (v instanceof DirchainError) throw new Error(`expected acceptance, got ${v.code}: ${v.message}`);
  return v;
}

function resource(owner: string, id: string, over: Record<string, Plain> = {}): Record<string, Plain> {
  return {
    id,
    owner,
    title: `Resource ${id}`,
    description: `Data held by ${owner}`,
    theme: 'population',
    format: 'table',
    updateCycle: 'daily',
    sourceSystem: `${owner}-db`,
    fields: [
      { name: 'name', level: 1 },
      { name: 'address', level: 2 },
      { name: 'id_number', level: 3 },
    ],
    level: 3,
    sharing: 'unconditional',
    opening: 'restricted',
    ...over,
  };
}

/**
 * One ledger's worth of policy input: the genesis-derived context, the
 * in-memory state, and a clock. Each record is signed 1 ms after the last and
 * judged at its own time unless a test says otherwise.
 */
class City {
  readonly state: MemoryState;
  readonly ctx: PolicyContext;
  readonly genesis: LedgerRecord;
  time = T0;

  constructor(members: MemberSpec[], policy: PolicyParams = DEFAULT_POLICY) {
    const sequencerSeed = randomSeed();
    const sequencer = { id: 'sequencer', signer: nodeSigner(sequencerSeed), keyId: 0 };
    const all = [...members, spec(sequencer, ['sequencer'])];
    const body = genesisBodyToPlain({
      members: all,
      sequencer: sequencer.id,
      sequencerKey: generateKeyPair(ORIGIN, sequencerSeed).verifierKey,
      policy,
    });
    this.genesis = this.sign(sequencer, GENESIS_KIND, body, { timestamp: T0 });
    const { params, genesis } = paramsFromGenesis(this.genesis);
    this.ctx = { origin: params.origin, policy: params.policy, verify: verifyNode };
    this.state = MemoryState.fromGenesis(genesis, this.genesis.timestamp, hasher.leaf(this.genesis.bytes));
  }

  sign(by: Actor, kind: string, body: Plain, over: Partial<RecordDraft> = {}): LedgerRecord {
    const draft: RecordDraft = {
      origin: ORIGIN,
      kind,
      author: by.id,
      keyId: by.keyId,
      timestamp: over.timestamp ?? ++this.time,
      body,
      ...over,
    };
    return signRecord(draft, by.signer);
  }

  /** The verdict on `record` as the next entry, at `blockTime` (default: the record's own time). */
  judge(record: LedgerRecord, blockTime = record.timestamp, view: StateView = this.state): Verdict {
    return evaluate(this.ctx, view, record, this.state.size, blockTime, hasher.leaf(record.bytes));
  }

  /** Judges `record` and applies it, as the sequencer does with an acceptance. */
  commit(record: LedgerRecord, blockTime = record.timestamp): Effects {
    const effects = accepted(this.judge(record, blockTime));
    this.state.accept(effects, record);
    return effects;
  }

  submit(by: Actor, kind: string, body: Plain, over: Partial<RecordDraft> = {}): Effects {
    return this.commit(this.sign(by, kind, body, over));
  }

  approval(by: Actor, kind: string, terms: Uint8Array): Plain {
    const signature = by.signer.sign(approvalMessage(ORIGIN, kind, terms));
    return { member: by.id, keyId: by.keyId, signature };
  }

  /**
   * A record with terms as nested bytes and approvals over them (governance,
   * grants). Terms about a member get `after` filled in from the state, as
   * `directory.propose` does.
   */
  proposal(
    by: Actor,
    kind: string,
    terms: Record<string, Plain>,
    approvers: Actor[] = [],
    over: Partial<RecordDraft> = {},
  ): LedgerRecord {
    const target = typeof terms.member === 'string' ? this.state.get('member', terms.member) : undefined;
    const bound =
      target !== undefined && terms.after === undefined ? { ...terms, after: target.index } : terms;
    const bytes = pack(bound);
    const approvals = approvers.map((a) => this.approval(a, kind, bytes));
    return this.sign(by, kind, { terms: bytes, approvals }, over);
  }
}

function makeActors() {
  return {
    bureau: actor('bureau'),
    ps: actor('public-security'),
    health: actor('health'),
    civil: actor('civil-affairs'),
    school: actor('education'),
  };
}
type Actors = ReturnType<typeof makeActors>;

function cityMembers(a: Actors): MemberSpec[] {
  return [
    spec(a.bureau, ['admin']),
    spec(a.ps, ['provider', 'consumer']),
    spec(a.health, ['provider', 'consumer']),
    spec(a.civil, ['provider', 'consumer']),
    spec(a.school, ['consumer']),
  ];
}

/** The standard resources and scenario (as test/directory/city.ts seeds a ledger). */
function seed(city: City, a: Actors): void {
  city.submit(
    a.health,
    KIND.resourceRegister,
    resource('health', 'health/records', { sharing: 'conditional', theme: 'health' }),
  );
  city.submit(
    a.ps,
    KIND.resourceRegister,
    resource('public-security', 'ps/residents', {
      fields: [
        { name: 'name', level: 1 },
        { name: 'address', level: 2 },
        { name: 'photo', level: 4 },
      ],
      level: 4,
    }),
  );
  city.submit(
    a.ps,
    KIND.resourceRegister,
    resource('public-security', 'ps/cases', { sharing: 'none', level: 4 }),
  );
  city.submit(
    a.civil,
    KIND.resourceRegister,
    resource('civil-affairs', 'civil/marriage', {
      level: 2,
      fields: [
        { name: 'name', level: 1 },
        { name: 'spouse', level: 2 },
      ],
      theme: 'family',
    }),
  );
  city.submit(a.bureau, KIND.scenarioRegister, {
    id: 'social-assistance',
    name: 'Social assistance eligibility',
    lead: 'civil-affairs',
    legalBasis: 'Social Assistance Regulations art. 12',
  });
}

function grantTerms(city: City, over: Record<string, Plain> = {}): Record<string, Plain> {
  return {
    id: 'g-1',
    consumer: 'health',
    resource: 'civil/marriage',
    fields: ['name'],
    scenario: 'social-assistance',
    purpose: 'eligibility check',
    validFrom: city.time - DAY,
    validTo: city.time + DAY,
    ...over,
  };
}

function access(grant: string, fields: string[], over: Record<string, Plain> = {}): Record<string, Plain> {
  return { grant, fields, count: 1, purpose: 'eligibility check', ...over };
}

let a: Actors;
let city: City;

beforeEach(() => {
  a = makeActors();
  city = new City(cityMembers(a));
  seed(city, a);
});

// ---- the envelope ----------------------------------------------------------

describe('envelope rules', () => {
  it('E_WRONG_ORIGIN: a record signed for another ledger', () => {
    const body = { note: 'hello' };
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', body, { origin: 'other.example/ledger' })))).toBe(
      'E_WRONG_ORIGIN',
    );
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', body)))).toBe('accepted');
  });

  it('E_NOT_AUTHORIZED: a second genesis record', () => {
    expect(codeOf(city.judge(city.genesis, T0))).toBe('E_NOT_AUTHORIZED');
  });

  it('E_UNKNOWN_MEMBER: an author who is not a member', () => {
    const stranger = actor('stranger');
    expect(codeOf(city.judge(city.sign(stranger, 'x.note', { n: 1 })))).toBe('E_UNKNOWN_MEMBER');
    expect(codeOf(city.judge(city.sign(a.school, 'x.note', { n: 1 })))).toBe('accepted');
  });

  it('E_UNKNOWN_KEY: a key id other than the current one', () => {
    const wrong = { ...a.health, keyId: 1 };
    expect(codeOf(city.judge(city.sign(wrong, 'x.note', { n: 1 })))).toBe('E_UNKNOWN_KEY');
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', { n: 1 })))).toBe('accepted');
  });

  it('E_UNKNOWN_KEY: after a rotation the old key is refused and the new one accepted', () => {
    const next = nodeSigner(randomSeed());
    const effects = city.commit(
      city.proposal(a.health, KIND.memberRotateKey, { member: 'health', signingKey: next.publicKey }),
    );
    const health = effects.changes[0]!.entity as { keys: Uint8Array[]; activeKeyId: number };
    expect(health.activeKeyId).toBe(1);
    expect(health.keys).toEqual([a.health.signer.publicKey, next.publicKey]);
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', { n: 1 })))).toBe('E_UNKNOWN_KEY');
    expect(codeOf(city.judge(city.sign({ id: 'health', signer: next, keyId: 1 }, 'x.note', { n: 1 })))).toBe(
      'accepted',
    );
  });

  it('E_CLOCK_SKEW: a timestamp more than maxClockSkewMs from the block time, either way', () => {
    const record = city.sign(a.health, 'x.note', { n: 1 });
    const t = record.timestamp;
    expect(codeOf(city.judge(record, t + SKEW + 1))).toBe('E_CLOCK_SKEW');
    expect(codeOf(city.judge(record, t - SKEW - 1))).toBe('E_CLOCK_SKEW');
    expect(codeOf(city.judge(record, t + SKEW))).toBe('accepted');
    expect(codeOf(city.judge(record, t - SKEW))).toBe('accepted');
    // The refusal gives both times in ISO 8601 UTC beside the milliseconds, and what to do.
    const late = refusalOf(city.judge(record, t + 12 * MINUTE));
    expect(late.message).toBe(
      `record time ${new Date(t).toISOString()} (${t} ms) is 12 min (720000 ms) before the block time ` +
        `${new Date(t + 12 * MINUTE).toISOString()} (${t + 12 * MINUTE} ms); at most 10 min (600000 ms) is allowed`,
    );
    expect(late.hint).toMatch(/^re-sign the record/);
    expect(late.hint).toContain(
      "maxClockSkewMs (600000 ms) of its time, a policy parameter fixed in the ledger's genesis",
    );
    expect(late.hint).toContain('can never be appended as it is');
    const early = refusalOf(city.judge(record, t - SKEW - 1));
    expect(early.message).toContain(
      `is 10 min (600001 ms) after the block time ${new Date(t - SKEW - 1).toISOString()}`,
    );
    expect(early.hint).toMatch(/^the author's clock is ahead: correct it and re-sign the record/);
    // maxClockSkewMs 0 turns the check off.
    const off = { ...city.ctx, policy: { ...city.ctx.policy, maxClockSkewMs: 0 } };
    const leaf = hasher.leaf(record.bytes);
    expect(codeOf(evaluate(off, city.state, record, city.state.size, t + 365 * DAY, leaf))).toBe('accepted');
  });

  it('E_MEMBER_INACTIVE: a suspended author until reinstated; a removed one for good', () => {
    const retire = () => city.sign(a.civil, KIND.resourceRetire, { id: 'civil/marriage' });
    city.commit(city.proposal(a.bureau, KIND.memberSuspend, { member: 'civil-affairs', reason: 'audit' }));
    expect(codeOf(city.judge(retire()))).toBe('E_MEMBER_INACTIVE');
    city.commit(city.proposal(a.bureau, KIND.memberReinstate, { member: 'civil-affairs' }));
    expect(codeOf(city.judge(retire()))).toBe('accepted');
    city.commit(city.proposal(a.bureau, KIND.memberRemove, { member: 'civil-affairs' }));
    expect(codeOf(city.judge(retire()))).toBe('E_MEMBER_INACTIVE');
    expect(
      codeOf(city.judge(city.proposal(a.bureau, KIND.memberReinstate, { member: 'civil-affairs' }))),
    ).toBe('E_MEMBER_INACTIVE');
  });

  it('E_SCHEMA: unknown kinds and malformed bodies', () => {
    const good = resource('health', 'health/vaccines');
    expect(codeOf(city.judge(city.sign(a.health, 'resource.delete', good)))).toBe('E_SCHEMA');
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRegister, { ...good, extra: 1 })))).toBe(
      'E_SCHEMA',
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRegister, { ...good, level: '3' })))).toBe(
      'E_SCHEMA',
    );
    // A field's level above the resource's.
    const above = { ...good, level: 2 };
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRegister, above)))).toBe('E_SCHEMA');
    // A refusal with no reason; a grant window that ends before it starts.
    expect(
      codeOf(city.judge(city.sign(a.health, KIND.requestAnswer, { id: 'r-1', decision: 'refused' }))),
    ).toBe('E_SCHEMA');
    const backwards = grantTerms(city, { validFrom: T0 + DAY, validTo: T0 + DAY });
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, backwards)))).toBe('E_SCHEMA');
    // A key rotation that rotates nothing.
    expect(codeOf(city.judge(city.proposal(a.health, KIND.memberRotateKey, { member: 'health' })))).toBe(
      'E_SCHEMA',
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRegister, good)))).toBe('accepted');
  });

  it('E_INTERNAL: a fault inside the engine is a refusal, never a throw', () => {
    const record = city.sign(a.health, 'x.note', { n: 1 });
    const broken: StateView = {
      get: () => {
        throw new TypeError('the view broke');
      },
      members: () => city.state.members(),
      firstIndexOf: (leaf, index, r) => city.state.firstIndexOf(leaf, index, r),
    };
    const verdict = city.judge(record, record.timestamp, broken);
    expect(verdict).toBeInstanceOf(DirchainError);
    expect(codeOf(verdict)).toBe('E_INTERNAL');
    expect(codeOf(city.judge(record))).toBe('accepted');
  });
});

// ---- replay protection -----------------------------------------------------

describe('replay protection', () => {
  it('E_DUPLICATE: the same bytes again, at any later index', () => {
    city.commit(city.sign(a.civil, 'x.note', { n: 1 }));
    const log = city.sign(a.health, 'x.note', { n: 2 });
    const first = city.state.size;
    city.commit(log);
    const again = city.judge(log);
    expect(codeOf(again)).toBe('E_DUPLICATE');
    expect((again as DirchainError).message).toContain(`index ${first}`);
    // The same content signed again is a new record.
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', { n: 2 })))).toBe('accepted');
    // Judged at its own index (a replay of the log), it is not a duplicate of itself.
    const leaf = hasher.leaf(log.bytes);
    expect(codeOf(evaluate(city.ctx, city.state, log, first, log.timestamp, leaf))).toBe('accepted');
  });

  it('E_DUPLICATE: an access log replayed by a relayer; `ref` keeps two uses in one millisecond apart', () => {
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city)));
    const t = ++city.time;
    const use = city.sign(a.health, KIND.accessLog, access('g-1', ['name'], { ref: 'call-1' }), {
      timestamp: t,
    });
    city.commit(use);
    expect(codeOf(city.judge(use))).toBe('E_DUPLICATE');
    const other = city.sign(a.health, KIND.accessLog, access('g-1', ['name'], { ref: 'call-2' }), {
      timestamp: t,
    });
    expect(codeOf(city.judge(other))).toBe('accepted');
  });

  it('a rule refusal wins over E_DUPLICATE: a replayed governance record is E_STALE_TERMS', () => {
    const roles = city.proposal(a.bureau, KIND.memberRoles, {
      member: 'education',
      roles: ['consumer', 'provider'],
    });
    city.commit(roles);
    expect(codeOf(city.judge(roles))).toBe('E_STALE_TERMS');
  });

  it('with a replay floor, a newer record needs no lookup and a copy is still found', () => {
    const old = city.sign(a.health, 'x.note', { n: 1 });
    city.commit(old);
    city.state.setReplayFloor(city.time);
    const lookups = city.state.lookups;
    expect(codeOf(city.judge(city.sign(a.health, 'x.note', { n: 2 })))).toBe('accepted');
    expect(city.state.lookups).toBe(lookups);
    expect(codeOf(city.judge(old, city.time))).toBe('E_DUPLICATE');
    expect(city.state.lookups).toBe(lookups + 1);
  });
});

// ---- governance ------------------------------------------------------------

describe('governance', () => {
  it('member.add: the new member entity, its kind index and the leaf', () => {
    const newcomer = actor('transport');
    const record = city.proposal(a.bureau, KIND.memberAdd, memberTerms(newcomer, ['consumer']));
    const index = city.state.size;
    const effects = accepted(city.judge(record));
    expect(effects.changes).toEqual([
      {
        type: 'member',
        entity: {
          id: 'transport',
          name: 'transport',
          roles: ['consumer'],
          keys: [newcomer.signer.publicKey],
          activeKeyId: 0,
          encryptionKey: null,
          status: 'active',
          index,
        },
      },
    ]);
    expect(effects.indexes).toEqual([{ name: 'k', parts: [KIND.memberAdd, record.timestamp, index] }]);
    expect(effects.leaf).toEqual(hasher.leaf(record.bytes));
    // Applied, the new member can write at once.
    city.state.accept(effects, record);
    expect(codeOf(city.judge(city.sign(newcomer, 'x.note', { hello: true })))).toBe('accepted');
  });

  it('E_NOT_AUTHORIZED: only admins govern; reinstating an active member', () => {
    const newcomer = memberTerms(actor('transport'), ['consumer']);
    expect(codeOf(city.judge(city.proposal(a.health, KIND.memberAdd, newcomer)))).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberAdd, newcomer)))).toBe('accepted');
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberReinstate, { member: 'health' })))).toBe(
      'E_NOT_AUTHORIZED',
    );
    // Rotating one's own key needs no admin; another's does.
    const key = nodeSigner(randomSeed()).publicKey;
    expect(
      codeOf(city.judge(city.proposal(a.ps, KIND.memberRotateKey, { member: 'health', signingKey: key }))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(
      codeOf(
        city.judge(city.proposal(a.bureau, KIND.memberRotateKey, { member: 'health', signingKey: key })),
      ),
    ).toBe('accepted');
  });

  it('E_DUPLICATE_ID: a member id that is taken', () => {
    const taken = memberTerms(actor('health'), ['consumer']);
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberAdd, taken)))).toBe('E_DUPLICATE_ID');
  });

  it('E_STALE_TERMS: terms made before the member last changed', () => {
    const before = city.state.get('member', 'education')!.index;
    city.commit(
      city.proposal(a.bureau, KIND.memberRoles, { member: 'education', roles: ['consumer', 'provider'] }),
    );
    const now = city.state.get('member', 'education')!.index;
    expect(now).not.toBe(before);
    const terms = { member: 'education', roles: ['consumer'] };
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberRoles, { ...terms, after: before })))).toBe(
      'E_STALE_TERMS',
    );
    const fresh = accepted(city.judge(city.proposal(a.bureau, KIND.memberRoles, { ...terms, after: now })));
    expect(fresh.changes[0]).toMatchObject({
      type: 'member',
      entity: { id: 'education', roles: ['consumer'] },
    });
  });

  it('E_UNKNOWN_MEMBER: an approval by a stranger; terms about a member that does not exist', () => {
    const stranger = actor('stranger');
    const newcomer = memberTerms(actor('transport'), ['consumer']);
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberAdd, newcomer, [stranger])))).toBe(
      'E_UNKNOWN_MEMBER',
    );
    expect(
      codeOf(city.judge(city.proposal(a.bureau, KIND.memberSuspend, { member: 'nobody', after: 0 }))),
    ).toBe('E_UNKNOWN_MEMBER');
  });

  describe('under a 2-of-2 admin quorum', () => {
    let auditor: Actor;
    let q: City;
    beforeEach(() => {
      auditor = actor('audit-office');
      q = new City([...cityMembers(a), spec(auditor, ['admin'])], { ...DEFAULT_POLICY, adminQuorum: 2 });
    });

    it('E_QUORUM: too few distinct admin approvals', () => {
      const newcomer = memberTerms(actor('transport'), ['consumer']);
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer)))).toBe('E_QUORUM');
      // The author approving its own record counts once.
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [a.bureau])))).toBe('E_QUORUM');
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [auditor])))).toBe('accepted');
      // Two approvals and an author who is not an admin: the author must be one.
      expect(codeOf(q.judge(q.proposal(a.health, KIND.memberAdd, newcomer, [a.bureau, auditor])))).toBe(
        'E_NOT_AUTHORIZED',
      );
    });

    it('E_BAD_SIGNATURE: an approval over other terms, another kind or another ledger', () => {
      const newcomer = memberTerms(actor('transport'), ['consumer']);
      const record = (approval: Plain) =>
        q.sign(a.bureau, KIND.memberAdd, { terms: pack(newcomer), approvals: [approval] });
      const terms = pack(newcomer);
      const otherTerms = pack(memberTerms(actor('transport'), ['consumer']));
      expect(codeOf(q.judge(record(q.approval(auditor, KIND.memberAdd, otherTerms))))).toBe(
        'E_BAD_SIGNATURE',
      );
      expect(codeOf(q.judge(record(q.approval(auditor, KIND.memberRoles, terms))))).toBe('E_BAD_SIGNATURE');
      const elsewhere = auditor.signer.sign(approvalMessage('other.example/ledger', KIND.memberAdd, terms));
      expect(codeOf(q.judge(record({ member: auditor.id, keyId: 0, signature: elsewhere })))).toBe(
        'E_BAD_SIGNATURE',
      );
      expect(codeOf(q.judge(record(q.approval(auditor, KIND.memberAdd, terms))))).toBe('accepted');
    });

    it('approvals by a non-admin, a suspended admin or with a stale key id are refused with their own codes', () => {
      const newcomer = memberTerms(actor('transport'), ['consumer']);
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [a.health])))).toBe(
        'E_NOT_AUTHORIZED',
      );
      expect(
        codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [{ ...auditor, keyId: 1 }]))),
      ).toBe('E_UNKNOWN_KEY');
      // Add a third admin, suspend the auditor (2 admins remain), then its approval no longer counts.
      const third = actor('records-office');
      q.commit(q.proposal(a.bureau, KIND.memberAdd, memberTerms(third, ['admin']), [auditor]));
      q.commit(q.proposal(a.bureau, KIND.memberSuspend, { member: 'audit-office' }, [third]));
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [auditor])))).toBe(
        'E_MEMBER_INACTIVE',
      );
      expect(codeOf(q.judge(q.proposal(a.bureau, KIND.memberAdd, newcomer, [third])))).toBe('accepted');
    });
  });

  it('E_QUORUM: a change that would leave fewer active admins than the quorum', () => {
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberSuspend, { member: 'bureau' })))).toBe(
      'E_QUORUM',
    );
    expect(
      codeOf(
        city.judge(city.proposal(a.bureau, KIND.memberRoles, { member: 'bureau', roles: ['consumer'] })),
      ),
    ).toBe('E_QUORUM');
    // With a second admin, one of them may step down.
    const second = actor('audit-office');
    city.commit(city.proposal(a.bureau, KIND.memberAdd, memberTerms(second, ['admin'])));
    expect(codeOf(city.judge(city.proposal(a.bureau, KIND.memberSuspend, { member: 'bureau' })))).toBe(
      'accepted',
    );
  });
});

// ---- resources and scenarios -------------------------------------------------

describe('resources and scenarios', () => {
  it('resource.register: version 1, its department, resource and kind indexes', () => {
    const body = resource('health', 'health/vaccines');
    const record = city.sign(a.health, KIND.resourceRegister, body);
    const index = city.state.size;
    const effects = accepted(city.judge(record));
    expect(effects.changes).toEqual([
      {
        type: 'resource',
        entity: { ...body, version: 1, status: 'active', index },
      },
    ]);
    expect(effects.indexes).toEqual([
      { name: 'd', parts: ['health', 'health/vaccines'] },
      { name: 'r', parts: ['health/vaccines', index], kind: KIND.resourceRegister },
      { name: 'k', parts: [KIND.resourceRegister, record.timestamp, index] },
    ]);
    city.state.accept(effects, record);
    // An update is version 2, with no new department index.
    const update = city.sign(a.health, KIND.resourceUpdate, { ...body, title: 'Vaccinations' });
    const next = accepted(city.judge(update));
    expect(next.changes[0]).toMatchObject({ entity: { version: 2, title: 'Vaccinations' } });
    expect(next.indexes.map((e) => e.name)).toEqual(['r', 'k']);
  });

  it('E_NOT_AUTHORIZED: only providers, each for its own resources', () => {
    expect(
      codeOf(city.judge(city.sign(a.school, KIND.resourceRegister, resource('education', 'edu/students')))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(
      codeOf(city.judge(city.sign(a.ps, KIND.resourceRegister, resource('health', 'health/vaccines')))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(
      codeOf(city.judge(city.sign(a.ps, KIND.resourceUpdate, resource('health', 'health/records')))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.sign(a.ps, KIND.resourceRetire, { id: 'health/records' })))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(
      codeOf(city.judge(city.sign(a.health, KIND.resourceUpdate, resource('health', 'health/records')))),
    ).toBe('accepted');
  });

  it('E_DUPLICATE_ID: a resource or scenario id that is taken', () => {
    const body = resource('health', 'health/records');
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRegister, body)))).toBe('E_DUPLICATE_ID');
    const scenario = { id: 'social-assistance', name: 'Again', lead: 'health', legalBasis: 'none' };
    expect(codeOf(city.judge(city.sign(a.bureau, KIND.scenarioRegister, scenario)))).toBe('E_DUPLICATE_ID');
    expect(
      codeOf(city.judge(city.sign(a.bureau, KIND.scenarioRegister, { ...scenario, id: 'school-meals' }))),
    ).toBe('accepted');
  });

  it('E_UNKNOWN_RESOURCE: updating or retiring a resource that does not exist', () => {
    expect(
      codeOf(city.judge(city.sign(a.health, KIND.resourceUpdate, resource('health', 'health/none')))),
    ).toBe('E_UNKNOWN_RESOURCE');
    expect(codeOf(city.judge(city.sign(a.health, KIND.resourceRetire, { id: 'health/none' })))).toBe(
      'E_UNKNOWN_RESOURCE',
    );
  });

  it('E_RESOURCE_RETIRED: a retired resource takes no update, retirement, request or grant', () => {
    const retire = city.commit(city.sign(a.civil, KIND.resourceRetire, { id: 'civil/marriage' }));
    expect(retire.changes[0]).toMatchObject({ type: 'resource', entity: { status: 'retired', version: 1 } });
    const body = resource('civil-affairs', 'civil/marriage', {
      level: 2,
      fields: [{ name: 'name', level: 1 }],
    });
    expect(codeOf(city.judge(city.sign(a.civil, KIND.resourceUpdate, body)))).toBe('E_RESOURCE_RETIRED');
    expect(codeOf(city.judge(city.sign(a.civil, KIND.resourceRetire, { id: 'civil/marriage' })))).toBe(
      'E_RESOURCE_RETIRED',
    );
    const request = {
      id: 'r-1',
      provider: 'civil-affairs',
      resource: 'civil/marriage',
      fields: ['name'],
      scenario: 'social-assistance',
      purpose: 'eligibility',
    };
    expect(codeOf(city.judge(city.sign(a.health, KIND.requestOpen, request)))).toBe('E_RESOURCE_RETIRED');
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, grantTerms(city))))).toBe(
      'E_RESOURCE_RETIRED',
    );
  });

  it('E_NOT_AUTHORIZED / E_UNKNOWN_MEMBER: scenarios are registered by an admin or their lead, who must exist', () => {
    const scenario = { id: 'school-meals', name: 'School meals', lead: 'education', legalBasis: 'art. 3' };
    expect(codeOf(city.judge(city.sign(a.health, KIND.scenarioRegister, scenario)))).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.sign(a.school, KIND.scenarioRegister, scenario)))).toBe('accepted');
    expect(
      codeOf(city.judge(city.sign(a.bureau, KIND.scenarioRegister, { ...scenario, lead: 'nobody' }))),
    ).toBe('E_UNKNOWN_MEMBER');
  });
});

// ---- need lists ------------------------------------------------------------

describe('need-list requests', () => {
  const request = (over: Record<string, Plain> = {}): Record<string, Plain> => ({
    id: 'r-1',
    provider: 'health',
    resource: 'health/records',
    fields: ['name', 'address'],
    scenario: 'social-assistance',
    purpose: 'eligibility',
    ...over,
  });

  it('request.open: an open request indexed under its provider', () => {
    const record = city.sign(a.civil, KIND.requestOpen, request());
    const index = city.state.size;
    const effects = accepted(city.judge(record));
    expect(effects.changes).toEqual([
      {
        type: 'request',
        entity: {
          ...request(),
          consumer: 'civil-affairs',
          status: 'open',
          grant: null,
          reason: null,
          index,
        },
      },
    ]);
    expect(effects.indexes[0]).toEqual({ name: 'p', parts: ['health', 'r-1'] });
  });

  it('E_NOT_AUTHORIZED: only consumers open, only the provider answers, only the parties close', () => {
    expect(codeOf(city.judge(city.sign(a.bureau, KIND.requestOpen, request())))).toBe('E_NOT_AUTHORIZED');
    // The provider named must own the resource.
    expect(
      codeOf(city.judge(city.sign(a.civil, KIND.requestOpen, request({ provider: 'public-security' })))),
    ).toBe('E_NOT_AUTHORIZED');
    city.submit(a.civil, KIND.requestOpen, request());
    const refuse = { id: 'r-1', decision: 'refused', reason: 'no legal basis' };
    expect(codeOf(city.judge(city.sign(a.ps, KIND.requestAnswer, refuse)))).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.sign(a.school, KIND.requestClose, { id: 'r-1' })))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.requestAnswer, refuse)))).toBe('accepted');
    expect(codeOf(city.judge(city.sign(a.civil, KIND.requestClose, { id: 'r-1' })))).toBe('accepted');
  });

  it('E_DUPLICATE_ID: a request id that is taken', () => {
    city.submit(a.civil, KIND.requestOpen, request());
    expect(codeOf(city.judge(city.sign(a.ps, KIND.requestOpen, request())))).toBe('E_DUPLICATE_ID');
    expect(codeOf(city.judge(city.sign(a.ps, KIND.requestOpen, request({ id: 'r-2' }))))).toBe('accepted');
  });

  it('E_UNKNOWN_RESOURCE / E_UNKNOWN_SCENARIO: what a request names must exist', () => {
    expect(
      codeOf(city.judge(city.sign(a.civil, KIND.requestOpen, request({ resource: 'health/none' })))),
    ).toBe('E_UNKNOWN_RESOURCE');
    expect(codeOf(city.judge(city.sign(a.civil, KIND.requestOpen, request({ scenario: 'nope' }))))).toBe(
      'E_UNKNOWN_SCENARIO',
    );
  });

  it('E_FIELD_UNKNOWN: a field the resource does not have', () => {
    const record = city.sign(a.civil, KIND.requestOpen, request({ fields: ['name', 'blood_type'] }));
    expect(codeOf(city.judge(record))).toBe('E_FIELD_UNKNOWN');
  });

  it('E_NOT_SHARED: no request on a resource shared with no one', () => {
    const record = city.sign(
      a.civil,
      KIND.requestOpen,
      request({ provider: 'public-security', resource: 'ps/cases', fields: ['name'] }),
    );
    expect(codeOf(city.judge(record))).toBe('E_NOT_SHARED');
  });

  it('E_UNKNOWN_REQUEST: answering or closing a request that does not exist', () => {
    const refuse = { id: 'r-9', decision: 'refused', reason: 'no' };
    expect(codeOf(city.judge(city.sign(a.health, KIND.requestAnswer, refuse)))).toBe('E_UNKNOWN_REQUEST');
    expect(codeOf(city.judge(city.sign(a.civil, KIND.requestClose, { id: 'r-9' })))).toBe(
      'E_UNKNOWN_REQUEST',
    );
  });

  it('E_REQUEST_NOT_OPEN: answered once; closed once', () => {
    city.submit(a.civil, KIND.requestOpen, request());
    const refuse = { id: 'r-1', decision: 'refused', reason: 'no legal basis' };
    city.submit(a.health, KIND.requestAnswer, refuse);
    const again = refusalOf(city.judge(city.sign(a.health, KIND.requestAnswer, refuse)));
    expect([again.code, again.message]).toEqual([
      'E_REQUEST_NOT_OPEN',
      'request r-1 was already answered: refused',
    ]);
    city.submit(a.civil, KIND.requestClose, { id: 'r-1' });
    expect(codeOf(city.judge(city.sign(a.health, KIND.requestClose, { id: 'r-1' })))).toBe(
      'E_REQUEST_NOT_OPEN',
    );
    expect(refusalOf(city.judge(city.sign(a.health, KIND.requestAnswer, refuse))).message).toBe(
      'request r-1 is closed',
    );
  });

  it('a grant naming the request answers it in the same record: granted, with its id; a later answer is E_REQUEST_NOT_OPEN', () => {
    city.submit(a.civil, KIND.requestOpen, request());
    const terms = grantTerms(city, { consumer: 'civil-affairs', resource: 'health/records', request: 'r-1' });
    const issue = city.proposal(a.health, KIND.grantIssue, terms);
    const index = city.state.size;
    const effects = city.commit(issue);
    expect(effects.changes[0]).toEqual({
      type: 'request',
      entity: {
        ...request(),
        consumer: 'civil-affairs',
        status: 'granted',
        grant: 'g-1',
        reason: null,
        index: index - 1,
      },
    });
    expect(city.state.get('request', 'r-1')).toMatchObject({ status: 'granted', grant: 'g-1' });
    // Answered already, either way.
    for (const answer of [
      { id: 'r-1', decision: 'granted', grant: 'g-1' } as Record<string, Plain>,
      { id: 'r-1', decision: 'refused', reason: 'changed our mind' },
    ]) {
      const e = refusalOf(city.judge(city.sign(a.health, KIND.requestAnswer, answer)));
      expect(e.code).toBe('E_REQUEST_NOT_OPEN');
      expect(e.message).toBe('request r-1 was already answered: granted by grant g-1');
      expect(e.hint).toBe('a grant that names a request answers it when issued');
    }
    // It is no longer open for another grant either; either party may still close it.
    expect(codeOf(city.judge(city.proposal(a.health, KIND.grantIssue, { ...terms, id: 'g-2' })))).toBe(
      'E_REQUEST_NOT_OPEN',
    );
    const closed = city.commit(city.sign(a.civil, KIND.requestClose, { id: 'r-1' }));
    expect(closed.changes[0]).toMatchObject({ entity: { status: 'closed', grant: 'g-1' } });
  });

  it('E_UNKNOWN_GRANT: a granted answer naming a grant not issued against the request', () => {
    city.submit(
      a.health,
      KIND.requestOpen,
      request({ provider: 'civil-affairs', resource: 'civil/marriage', fields: ['name'] }),
    );
    const answer = { id: 'r-1', decision: 'granted', grant: 'g-1' };
    expect(codeOf(city.judge(city.sign(a.civil, KIND.requestAnswer, answer)))).toBe('E_UNKNOWN_GRANT');
    // Nor a grant issued without naming it, for the same consumer, resource and fields.
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city)));
    const e = refusalOf(city.judge(city.sign(a.civil, KIND.requestAnswer, answer)));
    expect(e.code).toBe('E_UNKNOWN_GRANT');
    expect(e.hint).toContain('issue the grant with `request` set to the request id');
    expect(city.state.get('request', 'r-1')?.status).toBe('open');
  });
});

// ---- grants ----------------------------------------------------------------

describe('grants', () => {
  it('grant.issue: the grant, the request it answers, and its resource, consumer and scenario indexes', () => {
    city.submit(a.civil, KIND.requestOpen, {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name', 'address'],
      scenario: 'social-assistance',
      purpose: 'eligibility',
    });
    const terms = grantTerms(city, {
      consumer: 'civil-affairs',
      resource: 'health/records',
      fields: ['name'],
      request: 'r-1',
      conditions: 'no onward sharing',
    });
    const record = city.proposal(a.health, KIND.grantIssue, terms);
    const index = city.state.size;
    const effects = accepted(city.judge(record));
    expect(effects.changes).toEqual([
      { type: 'request', entity: expect.objectContaining({ id: 'r-1', status: 'granted', grant: 'g-1' }) },
      {
        type: 'grant',
        entity: {
          id: 'g-1',
          provider: 'health',
          consumer: 'civil-affairs',
          resource: 'health/records',
          fields: ['name'],
          scenario: 'social-assistance',
          purpose: 'eligibility check',
          validFrom: terms.validFrom,
          validTo: terms.validTo,
          conditions: 'no onward sharing',
          request: 'r-1',
          countersignedBy: [],
          status: 'active',
          revokedAt: null,
          revokedBy: null,
          index,
        },
      },
    ]);
    expect(effects.indexes).toEqual([
      { name: 'G', parts: ['health/records', 'g-1'] },
      { name: 'c', parts: ['civil-affairs', 'g-1'] },
      { name: 's', parts: ['social-assistance', 'g-1'] },
      { name: 'k', parts: [KIND.grantIssue, record.timestamp, index] },
    ]);
  });

  it('E_NOT_AUTHORIZED: only the owning provider grants, only to a consumer', () => {
    expect(codeOf(city.judge(city.proposal(a.school, KIND.grantIssue, grantTerms(city))))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(codeOf(city.judge(city.proposal(a.health, KIND.grantIssue, grantTerms(city))))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(
      codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, grantTerms(city, { consumer: 'bureau' })))),
    ).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, grantTerms(city))))).toBe('accepted');
  });

  it('E_DUPLICATE_ID / E_UNKNOWN_RESOURCE / E_UNKNOWN_MEMBER: ids, resources and consumers', () => {
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city)));
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, grantTerms(city))))).toBe(
      'E_DUPLICATE_ID',
    );
    const unknown = grantTerms(city, { id: 'g-2', resource: 'civil/none' });
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, unknown)))).toBe('E_UNKNOWN_RESOURCE');
    const stranger = grantTerms(city, { id: 'g-2', consumer: 'nobody' });
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, stranger)))).toBe('E_UNKNOWN_MEMBER');
  });

  it('E_MEMBER_INACTIVE: no grant to a suspended consumer', () => {
    city.commit(city.proposal(a.bureau, KIND.memberSuspend, { member: 'health' }));
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, grantTerms(city))))).toBe(
      'E_MEMBER_INACTIVE',
    );
  });

  it('E_UNKNOWN_SCENARIO: the scenario must exist', () => {
    const terms = grantTerms(city, { scenario: 'nope' });
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, terms)))).toBe('E_UNKNOWN_SCENARIO');
  });

  it('E_FIELD_UNKNOWN: granted fields must be current fields', () => {
    const terms = grantTerms(city, { fields: ['name', 'divorce_date'] });
    expect(codeOf(city.judge(city.proposal(a.civil, KIND.grantIssue, terms)))).toBe('E_FIELD_UNKNOWN');
  });

  it('E_NOT_SHARED: never on sharing "none"', () => {
    const terms = grantTerms(city, { resource: 'ps/cases', fields: ['name'] });
    expect(codeOf(city.judge(city.proposal(a.ps, KIND.grantIssue, terms)))).toBe('E_NOT_SHARED');
    const residents = grantTerms(city, { resource: 'ps/residents', fields: ['name'] });
    expect(codeOf(city.judge(city.proposal(a.ps, KIND.grantIssue, residents)))).toBe('accepted');
  });

  it('E_REQUEST_REQUIRED: conditional sharing answers an open request, for no more than it asked', () => {
    const on = (over: Record<string, Plain>) =>
      grantTerms(city, { consumer: 'civil-affairs', resource: 'health/records', ...over });
    const judge = (over: Record<string, Plain>) =>
      codeOf(city.judge(city.proposal(a.health, KIND.grantIssue, on(over))));
    expect(judge({})).toBe('E_REQUEST_REQUIRED');
    expect(judge({ request: 'r-1' })).toBe('E_REQUEST_REQUIRED');
    city.submit(a.civil, KIND.requestOpen, {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name'],
      scenario: 'social-assistance',
      purpose: 'eligibility',
    });
    city.submit(a.bureau, KIND.scenarioRegister, {
      id: 'school-meals',
      name: 'School meals',
      lead: 'education',
      legalBasis: 'art. 3',
    });
    expect(judge({ request: 'r-1', fields: ['name', 'address'] })).toBe('E_REQUEST_REQUIRED');
    expect(judge({ request: 'r-1', scenario: 'school-meals' })).toBe('E_REQUEST_REQUIRED');
    expect(judge({ request: 'r-1', consumer: 'public-security' })).toBe('E_REQUEST_REQUIRED');
    expect(judge({ request: 'r-1' })).toBe('accepted');
  });

  it('E_REQUEST_NOT_OPEN: one grant per request', () => {
    city.submit(a.civil, KIND.requestOpen, {
      id: 'r-1',
      provider: 'health',
      resource: 'health/records',
      fields: ['name'],
      scenario: 'social-assistance',
      purpose: 'eligibility',
    });
    const terms = grantTerms(city, { consumer: 'civil-affairs', resource: 'health/records', request: 'r-1' });
    city.commit(city.proposal(a.health, KIND.grantIssue, terms));
    expect(codeOf(city.judge(city.proposal(a.health, KIND.grantIssue, { ...terms, id: 'g-2' })))).toBe(
      'E_REQUEST_NOT_OPEN',
    );
  });

  it("E_COUNTERSIGNATURE_REQUIRED: level-4 fields need another admin's approval of these terms", () => {
    const terms = grantTerms(city, { resource: 'ps/residents', fields: ['name', 'photo'] });
    expect(codeOf(city.judge(city.proposal(a.ps, KIND.grantIssue, terms)))).toBe(
      'E_COUNTERSIGNATURE_REQUIRED',
    );
    // A provider's own approval is no countersignature: it is not an admin.
    expect(codeOf(city.judge(city.proposal(a.ps, KIND.grantIssue, terms, [a.ps])))).toBe('E_NOT_AUTHORIZED');
    const effects = accepted(city.judge(city.proposal(a.ps, KIND.grantIssue, terms, [a.bureau])));
    expect(effects.changes[0]).toMatchObject({ type: 'grant', entity: { countersignedBy: ['bureau'] } });
  });

  it('grant.revoke: by the owner or an admin, once (E_GRANT_REVOKED), else E_UNKNOWN_GRANT / E_NOT_AUTHORIZED', () => {
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city)));
    expect(codeOf(city.judge(city.sign(a.civil, KIND.grantRevoke, { id: 'g-9' })))).toBe('E_UNKNOWN_GRANT');
    expect(codeOf(city.judge(city.sign(a.ps, KIND.grantRevoke, { id: 'g-1' })))).toBe('E_NOT_AUTHORIZED');
    expect(codeOf(city.judge(city.sign(a.bureau, KIND.grantRevoke, { id: 'g-1' })))).toBe('accepted');
    const revoke = city.sign(a.civil, KIND.grantRevoke, { id: 'g-1', reason: 'scenario ended' });
    const effects = city.commit(revoke);
    expect(effects.changes[0]).toMatchObject({
      type: 'grant',
      entity: { status: 'revoked', revokedAt: revoke.timestamp, revokedBy: 'civil-affairs' },
    });
    expect(codeOf(city.judge(city.sign(a.bureau, KIND.grantRevoke, { id: 'g-1' })))).toBe('E_GRANT_REVOKED');
  });
});

// ---- access logs -----------------------------------------------------------

describe('access logs', () => {
  beforeEach(() => {
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city, { fields: ['name'] })));
  });

  it('access.log: no state change, one grant index, no kind index', () => {
    const record = city.sign(a.health, KIND.accessLog, access('g-1', ['name']));
    const index = city.state.size;
    const effects = accepted(city.judge(record));
    expect(effects.changes).toEqual([]);
    expect(effects.indexes).toEqual([{ name: 'g', parts: ['g-1', index] }]);
    expect(effects.leaf).toEqual(hasher.leaf(record.bytes));
  });

  it("E_NOT_AUTHORIZED / E_UNKNOWN_GRANT: only the grant's consumer, under a grant that exists", () => {
    expect(codeOf(city.judge(city.sign(a.ps, KIND.accessLog, access('g-1', ['name']))))).toBe(
      'E_NOT_AUTHORIZED',
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-9', ['name']))))).toBe(
      'E_UNKNOWN_GRANT',
    );
  });

  it('E_FIELD_NOT_GRANTED: a field the grant does not cover', () => {
    expect(codeOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-1', ['name', 'spouse']))))).toBe(
      'E_FIELD_NOT_GRANTED',
    );
  });

  it('E_GRANT_REVOKED: nothing under a revoked grant', () => {
    const revoke = city.sign(a.civil, KIND.grantRevoke, { id: 'g-1' });
    city.commit(revoke);
    const e = refusalOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-1', ['name']))));
    expect(e.code).toBe('E_GRANT_REVOKED');
    const at = revoke.timestamp;
    expect(e.message).toBe(`grant g-1 was revoked at ${new Date(at).toISOString()} (${at} ms)`);
  });

  it('E_GRANT_NOT_YET_VALID / E_GRANT_EXPIRED: both the record time and the block time inside [validFrom, validTo)', () => {
    const from = city.time + DAY;
    const to = from + DAY;
    city.commit(
      city.proposal(a.civil, KIND.grantIssue, grantTerms(city, { id: 'g-2', validFrom: from, validTo: to })),
    );
    const use = (at: number) =>
      city.sign(a.health, KIND.accessLog, access('g-2', ['name']), { timestamp: at });
    expect(codeOf(city.judge(use(from - 1)))).toBe('E_GRANT_NOT_YET_VALID');
    expect(codeOf(city.judge(use(from)))).toBe('accepted');
    expect(codeOf(city.judge(use(to - 1)))).toBe('accepted');
    expect(codeOf(city.judge(use(to)))).toBe('E_GRANT_EXPIRED');
    // An author's clock cannot move a use into the window: the block time is checked too.
    expect(codeOf(city.judge(use(from), from - 1))).toBe('E_GRANT_NOT_YET_VALID');
    expect(codeOf(city.judge(use(to - 1), to))).toBe('E_GRANT_EXPIRED');
    // The messages give the times in ISO 8601 UTC beside the milliseconds, the hints the window.
    const iso = (ms: number) => `${new Date(ms).toISOString()} (${ms} ms)`;
    const window = `[${iso(from)}, ${iso(to)})`;
    const early = refusalOf(city.judge(use(from - 1)));
    expect(early.message).toBe(`grant g-2 is valid from ${iso(from)}; the access is at ${iso(from - 1)}`);
    expect(early.hint).toContain(`the grant's window is ${window} (validFrom included, validTo not)`);
    const late = refusalOf(city.judge(use(to - 1), to));
    expect(late.message).toBe(`grant g-2 expired at ${iso(to)}; the block is at ${iso(to)}`);
    expect(late.hint).toContain(window);
    // A validTo past what a Date holds is given in milliseconds alone (never a RangeError).
    city.commit(
      city.proposal(
        a.civil,
        KIND.grantIssue,
        grantTerms(city, { id: 'g-3', validFrom: from, validTo: Number.MAX_SAFE_INTEGER }),
      ),
    );
    const never = refusalOf(
      city.judge(city.sign(a.health, KIND.accessLog, access('g-3', ['name']), { timestamp: from - 1 })),
    );
    expect(never.code).toBe('E_GRANT_NOT_YET_VALID');
    expect(never.hint).toContain(`[${iso(from)}, ${Number.MAX_SAFE_INTEGER} ms)`);
  });

  it('E_RESOURCE_RETIRED: nothing on a retired resource', () => {
    city.submit(a.civil, KIND.resourceRetire, { id: 'civil/marriage' });
    expect(codeOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-1', ['name']))))).toBe(
      'E_RESOURCE_RETIRED',
    );
  });

  it('E_COUNTERSIGNATURE_REQUIRED: a field relabelled to level 4 after the grant', () => {
    city.commit(
      city.proposal(
        a.ps,
        KIND.grantIssue,
        grantTerms(city, { id: 'g-2', resource: 'ps/residents', fields: ['name', 'address'] }),
      ),
    );
    city.submit(
      a.ps,
      KIND.resourceUpdate,
      resource('public-security', 'ps/residents', {
        fields: [
          { name: 'name', level: 1 },
          { name: 'address', level: 4 },
          { name: 'photo', level: 4 },
        ],
        level: 4,
      }),
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-2', ['address']))))).toBe(
      'E_COUNTERSIGNATURE_REQUIRED',
    );
    expect(codeOf(city.judge(city.sign(a.health, KIND.accessLog, access('g-2', ['name']))))).toBe('accepted');
  });

  describe('as events of a batch (evaluateEvent)', () => {
    const batch = (by: Actor, bodies: Plain[], kind = KIND.accessLog as string) =>
      signBatch(
        { origin: ORIGIN, kind, author: by.id, keyId: by.keyId, timestamp: ++city.time },
        bodies,
        by.signer,
        hasher,
      );

    it('each event is judged as an access log by the seal author at the seal time, indexed by its grant', () => {
      const { seal, events } = batch(a.health, [access('g-1', ['name']), access('g-1', ['name', 'spouse'])]);
      const sealEffects = city.commit(seal);
      expect(sealEffects.indexes).toEqual([
        { name: 'k', parts: ['batch', seal.timestamp, city.state.size - 1] },
      ]);
      const at = city.state.size;
      const first = evaluateEvent(city.ctx, city.state, seal, KIND.accessLog, events[0]!, at, seal.timestamp);
      expect(accepted(first)).toEqual({ changes: [], indexes: [{ name: 'g', parts: ['g-1', at] }] });
      const second = evaluateEvent(
        city.ctx,
        city.state,
        seal,
        KIND.accessLog,
        events[1]!,
        at + 1,
        seal.timestamp,
      );
      expect(codeOf(second)).toBe('E_FIELD_NOT_GRANTED');
    });

    it('E_MEMBER_INACTIVE: an event whose seal author was suspended since', () => {
      const { seal, events } = batch(a.health, [access('g-1', ['name'])]);
      city.commit(seal);
      const judge = () =>
        evaluateEvent(
          city.ctx,
          city.state,
          seal,
          KIND.accessLog,
          events[0]!,
          city.state.size,
          seal.timestamp,
        );
      expect(codeOf(judge())).toBe('accepted');
      city.commit(city.proposal(a.bureau, KIND.memberSuspend, { member: 'health' }));
      expect(codeOf(judge())).toBe('E_MEMBER_INACTIVE');
    });

    it('E_SCHEMA / E_DECODE: a malformed event body or entry', () => {
      const { seal } = batch(a.health, [access('g-1', ['name'])]);
      city.commit(seal);
      const judge = (bytes: Uint8Array) =>
        evaluateEvent(city.ctx, city.state, seal, KIND.accessLog, bytes, city.state.size, seal.timestamp);
      expect(codeOf(judge(encodeEvent(0, { grant: 'g-1', fields: ['name'] })))).toBe('E_SCHEMA');
      expect(codeOf(judge(Uint8Array.of(0x93, 0x00, 0x00, 0xc1)))).toBe('E_DECODE');
      expect(codeOf(judge(encodeEvent(0, access('g-1', ['name']))))).toBe('accepted');
    });

    it('application events have no rules beyond their seal', () => {
      const stranger = actor('stranger');
      const { seal, events } = batch(stranger, [{ anything: 1 }], 'x.metrics');
      expect(codeOf(city.judge(seal))).toBe('E_UNKNOWN_MEMBER');
      const v = evaluateEvent(
        city.ctx,
        city.state,
        seal,
        'x.metrics',
        events[0]!,
        city.state.size,
        seal.timestamp,
      );
      expect(accepted(v)).toEqual({ changes: [], indexes: [] });
    });
  });
});

// ---- what the README promises ------------------------------------------------

/** Refusal codes this file reaches, each next to an accepted record (the tests above). */
const COVERED = [
  'E_WRONG_ORIGIN',
  'E_UNKNOWN_MEMBER',
  'E_UNKNOWN_KEY',
  'E_NOT_AUTHORIZED',
  'E_MEMBER_INACTIVE',
  'E_CLOCK_SKEW',
  'E_SCHEMA',
  'E_DECODE',
  'E_INTERNAL',
  'E_DUPLICATE',
  'E_QUORUM',
  'E_BAD_SIGNATURE',
  'E_STALE_TERMS',
  'E_DUPLICATE_ID',
  'E_UNKNOWN_RESOURCE',
  'E_UNKNOWN_SCENARIO',
  'E_UNKNOWN_REQUEST',
  'E_UNKNOWN_GRANT',
  'E_RESOURCE_RETIRED',
  'E_NOT_SHARED',
  'E_REQUEST_REQUIRED',
  'E_REQUEST_NOT_OPEN',
  'E_COUNTERSIGNATURE_REQUIRED',
  'E_FIELD_UNKNOWN',
  'E_FIELD_NOT_GRANTED',
  'E_GRANT_REVOKED',
  'E_GRANT_EXPIRED',
  'E_GRANT_NOT_YET_VALID',
];

describe('the README', () => {
  it('names no directory refusal code these tests do not reach, and every one is in errors.ts', () => {
    const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
    const start = readme.indexOf('## The directory');
    const end = readme.indexOf('### Materialised state', start);
    expect(start).toBeGreaterThan(0);
    expect(end).toBeGreaterThan(start);
    const named = new Set(readme.slice(start, end).match(/E_[A-Z_]+/g));
    expect(named.size).toBeGreaterThan(10);
    const codes = new Set<string>(Object.values(ErrorCode));
    for (const code of named) {
      expect(codes.has(code), code).toBe(true);
      expect(COVERED.includes(code), code).toBe(true);
    }
    for (const code of COVERED) expect(codes.has(code), code).toBe(true);
  });
});

// ---- properties --------------------------------------------------------------

describe('tampered and mutated records', () => {
  const KNOWN = new Set<string>(Object.values(ErrorCode));

  /** Admission as a sequencer runs it, all pure: decode, the author's signature, the policy. */
  function admit(c: City, bytes: Uint8Array): Verdict {
    let record: LedgerRecord;
    try {
      record = decodeRecord(bytes);
    } catch (e) {
      if (e instanceof DirchainError) return e;
      throw e;
    }
    const key = c.state.get('member', record.author)?.keys[record.keyId];
    if (key === undefined || !verifyRecordSignature(record, key, verifyNode))
      return new DirchainError(ErrorCode.BAD_SIGNATURE, 'record signature does not verify');
    return evaluate(c.ctx, c.state, record, c.state.size, record.timestamp, hasher.leaf(bytes));
  }

  /** Valid records of several kinds, each accepted on `city` as it stands. */
  function originals(): LedgerRecord[] {
    city.commit(city.proposal(a.civil, KIND.grantIssue, grantTerms(city)));
    return [
      city.sign(a.health, KIND.accessLog, access('g-1', ['name'], { ref: 'call-1' })),
      city.sign(a.health, KIND.resourceRegister, resource('health', 'health/vaccines')),
      city.proposal(
        a.ps,
        KIND.grantIssue,
        grantTerms(city, { id: 'g-2', resource: 'ps/residents', fields: ['photo'] }),
        [a.bureau],
      ),
      city.proposal(a.bureau, KIND.memberAdd, memberTerms(actor('transport'), ['consumer'])),
      city.sign(a.civil, KIND.requestOpen, {
        id: 'r-1',
        provider: 'health',
        resource: 'health/records',
        fields: ['name'],
        scenario: 'social-assistance',
        purpose: 'eligibility',
      }),
    ];
  }

  const value: fc.Arbitrary<Plain> = fc.oneof(
    fc.constantFrom<Plain>(
      null,
      true,
      0,
      -1,
      4,
      Number.MAX_SAFE_INTEGER,
      '',
      'health',
      'public-security',
      'civil/marriage',
      'ps/residents',
      'g-1',
      'photo',
      ['name'],
      ['photo', 'name'],
      [],
    ),
    fc.string({ maxLength: 24 }),
    fc.integer(),
    fc.double({ noNaN: true }),
    fc.uint8Array({ maxLength: 40 }),
    fc.array(fc.string({ maxLength: 8 }), { maxLength: 4 }),
    fc.dictionary(fc.string({ maxLength: 6 }), fc.string({ maxLength: 6 }), { maxKeys: 3 }),
  );

  /** A value of the same shape as the one it replaces, so the mutation mostly gets past the schema. */
  const alike = fc.record({
    id: fc.constantFrom(
      'health',
      'public-security',
      'civil-affairs',
      'education',
      'bureau',
      'nobody',
      'health/records',
      'civil/marriage',
      'ps/residents',
      'ps/cases',
      'g-1',
      'g-2',
      'r-1',
      'social-assistance',
    ),
    small: fc.integer({ min: -1, max: 5 }),
    shift: fc.integer({ min: -2 * DAY, max: 2 * DAY }),
    names: fc.subarray(['name', 'address', 'photo', 'spouse', 'id_number', 'nope']),
    levels: fc.array(
      fc.record({
        name: fc.constantFrom('name', 'address', 'photo', 'x'),
        level: fc.integer({ min: 1, max: 4 }),
      }),
      { maxLength: 3 },
    ),
    key: fc.uint8Array({ minLength: 32, maxLength: 32 }),
  });
  type Alike = typeof alike extends fc.Arbitrary<infer T> ? T : never;

  function like(current: Plain | undefined, v: Alike): Plain {
    if (typeof current === 'number') return current > 1e12 ? current + v.shift : v.small;
    if (current instanceof Uint8Array) return v.key;
    if (Array.isArray(current)) return typeof current[0] === 'string' ? v.names : v.levels;
    return v.id;
  }

  type Mutation = {
    at: number;
    op: 'set' | 'like' | 'delete' | 'add';
    value: Plain;
    alike: Alike;
    key: string;
  };
  const mutation: fc.Arbitrary<Mutation> = fc.record({
    at: fc.nat(),
    op: fc.constantFrom<Mutation['op']>('set', 'like', 'like', 'like', 'delete', 'add'),
    value,
    alike,
    key: fc.string({ minLength: 1, maxLength: 8 }),
  });

  /** The body with one field changed; for a body with terms bytes, a field of the terms. */
  function mutate(body: Plain, m: Mutation): Plain {
    const outer = body as Record<string, Plain>;
    const nested = outer.terms instanceof Uint8Array;
    const target = nested
      ? (unpackStrict(outer.terms as Uint8Array, 'terms') as Record<string, Plain>)
      : outer;
    const keys = Object.keys(target);
    const key = keys[m.at % keys.length]!;
    const next: Record<string, Plain> = { ...target };
    if (m.op === 'set') next[key] = m.value;
    else if (m.op === 'like') next[key] = like(next[key], m.alike);
    else if (m.op === 'delete') delete next[key];
    else next[m.key in next ? `${m.key}_` : m.key] = m.value;
    return nested ? { ...outer, terms: pack(next) } : next;
  }

  it('a record changed after signing (body or signature) is never accepted with other effects', () => {
    const records = originals();
    const expected = records.map((r) => accepted(admit(city, r.bytes)));
    const tamper = fc.oneof(
      fc.record({ kind: fc.constant('body' as const), m: mutation }),
      fc.record({
        kind: fc.constant('signature' as const),
        at: fc.nat(63),
        mask: fc.integer({ min: 1, max: 255 }),
      }),
      fc.record({ kind: fc.constant('byte' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
    );
    fc.assert(
      fc.property(fc.nat(records.length - 1), tamper, (i, t) => {
        const original = records[i]!;
        let bytes: Uint8Array;
        if (t.kind === 'body') {
          // The original signature over the changed body: the author's signer is not asked.
          const keep: Signer = { publicKey: new Uint8Array(32), sign: () => original.signature };
          try {
            bytes = signRecord({ ...original, body: mutate(original.body, t.m) }, keep).bytes;
          } catch (e) {
            // A body no envelope can carry: refused with a code before any verdict.
            expect(e).toBeInstanceOf(DirchainError);
            return;
          }
        } else {
          bytes = original.bytes.slice();
          const at = t.kind === 'signature' ? bytes.length - 64 + t.at : t.at % bytes.length;
          bytes[at]! ^= t.mask;
        }
        const before = city.state.snapshot();
        const verdict = admit(city, bytes);
        expect(city.state.snapshot()).toEqual(before);
        if (verdict instanceof DirchainError) {
          expect(KNOWN.has(verdict.code)).toBe(true);
          expect(verdict.code).not.toBe('E_INTERNAL');
          return;
        }
        // Only bytes equal to the signed ones get through, with the original's effects.
        expect(bytes).toEqual(original.bytes);
        expect(verdict.changes).toEqual(expected[i]!.changes);
        expect(verdict.indexes).toEqual(expected[i]!.indexes);
      }),
      { numRuns: 400 },
    );
  });

  it('a mutated body its author signs gets a typed verdict: deterministic, state untouched, no one else’s entities', () => {
    const records = originals();
    fc.assert(
      fc.property(fc.nat(records.length - 1), mutation, (i, m) => {
        const original = records[i]!;
        const by = [a.bureau, a.ps, a.health, a.civil, a.school].find((x) => x.id === original.author)!;
        let record: LedgerRecord;
        try {
          record = decodeRecord(signRecord({ ...original, body: mutate(original.body, m) }, by.signer).bytes);
        } catch (e) {
          // Bodies the envelope cannot carry are refused before the policy, with a code.
          expect(e).toBeInstanceOf(DirchainError);
          return;
        }
        const before = city.state.snapshot();
        const verdict = city.judge(record);
        expect(city.state.snapshot()).toEqual(before);
        expect(codeOf(city.judge(record))).toBe(codeOf(verdict));
        if (verdict instanceof DirchainError) {
          expect(KNOWN.has(verdict.code)).toBe(true);
          expect(verdict.code).not.toBe('E_INTERNAL');
          return;
        }
        expect(city.judge(record)).toEqual(verdict);
        for (const c of verdict.changes) {
          if (c.type === 'resource') expect(c.entity.owner).toBe(record.author);
          if (c.type === 'grant') expect(c.entity.provider).toBe(record.author);
          if (c.type === 'member') expect(city.state.get('member', record.author)!.roles).toContain('admin');
        }
      }),
      { numRuns: 400 },
    );
  });
});
