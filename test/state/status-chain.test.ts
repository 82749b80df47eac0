/**
 * Status bundles over thousands of random sequences, on the real state
 * machine in memory (memory-chain.ts: `Chain` forming and signing blocks as
 * the sequencer does, over a Map instead of LevelDB): the many-runs
 * complement of status-replay.test.ts, whose runs each open a folder.
 *
 * Each run is random blocks of register / update / retire / issue / revoke /
 * suspend / reinstate / scenario records (and copies of accepted ones) over
 * small pools of ids, so records collide: a grant issued twice, a revocation
 * of nothing, a suspension of the suspended, a retirement twice, grants of
 * retired resources or for suspended consumers, windows that open later or
 * close before a later block. An independent model replays the same
 * operations: which records the policy accepts (and the code it refuses the
 * others with), each entity's status value, each grant's status at each block
 * time. After every block of every run (`drive`), the chain's verdicts, the
 * state's view of every pool id and the map root in the block entry agree with
 * the model (the root recomputed from scratch on an empty map). Then:
 *   - every id of the pools (and random ids) has, after every block, a bundle
 *     that checks offline (JSON round trip, the published key only) and says
 *     what the model says; made again from the map's history after the run, it
 *     is the same bundle;
 *   - a tampered bundle fails, unless the change provably leaves a true
 *     statement (`predictItems`), which it then gives;
 *   - a proof of presence cannot be made one of absence, or the reverse;
 *   - a bundle does not pass with a later checkpoint where the status differs.
 *
 * `checkStatus` verifies the checkpoint's Ed25519 signature in pure JS on
 * every call, milliseconds each: thousands of runs cannot afford it for every
 * bundle. `check` here runs the same steps (`statusBundleFromJSON`,
 * `verifyCheckpoint` with the published key and the bundle's origin,
 * `checkStatusBundle` with the noble hashers) but verifies each distinct note
 * once, a pure function of (note, key, origin); runs of the first two
 * properties also call `checkStatus` itself and expect the same outcome.
 */
import { isDeepStrictEqual } from 'node:util';
import fc from 'fast-check';
import { afterAll, describe, expect, it } from 'vitest';
import { entityDigest } from '../../src/chain/map-state.js';
import { concatBytes, fromBase64, toBase64 } from '../../src/crypto/bytes.js';
import { sha256Noble } from '../../src/crypto/sha256.js';
import { treeHasher } from '../../src/crypto/tree-hasher.js';
import type { Receipt } from '../../src/directory/submitter.js';
import { decodeBlockEntry } from '../../src/encoding/block-entry.js';
import { parseBundleObject } from '../../src/encoding/bundle.js';
import type { LedgerRecord } from '../../src/encoding/record.js';
import { DirchainError, ErrorCode, type ErrorCodeValue, isDirchainError } from '../../src/errors.js';
import type { Change, StateView } from '../../src/policy/entities.js';
import { KIND, type ResourceSpec } from '../../src/policy/schemas.js';
import { bitAt, mapHasher, updateMap } from '../../src/state/map.js';
import { encodeStatus, type StatusValue } from '../../src/state/status.js';
import {
  checkStatusBundle,
  type StatusBundle,
  type StatusResult,
  statusBundleFromJSON,
  statusBundleToJSON,
} from '../../src/state/status-proof.js';
import { checkStatus, verifyCheckpoint } from '../../src/verify.js';
import { fixedActor, type MemoryActor, MemoryLedger, sequencerKey } from './memory-chain.js';

const KEY = sequencerKey.verifierKey;
const nobleTree = treeHasher(sha256Noble);
const nobleMap = mapHasher(sha256Noble);
const T0 = Date.UTC(2025, 0, 1);
/** Block times advance by 0–3 of these; grant windows are whole numbers of them, so they meet block times exactly. */
const HALF = 500;

// ---- the city and the pools of ids ----------------------------------------

const bureau = fixedActor('bureau', ['admin']);
const MEMBERS: MemoryActor[] = [
  bureau,
  fixedActor('civil-affairs', ['provider', 'consumer']),
  fixedActor('health', ['provider', 'consumer']),
  fixedActor('public-security', ['provider', 'consumer']),
  fixedActor('education', ['consumer']),
];
const actorOf = new Map(MEMBERS.map((m) => [m.id, m]));

/** Authors of directory records: two providers, a consumer only, the admin. */
const AUTHORS = ['civil-affairs', 'health', 'education', 'bureau'];
const RESOURCES = [
  { id: 'civil/set-0', owner: 'civil-affairs', sharing: 'unconditional' },
  { id: 'civil/set-1', owner: 'civil-affairs', sharing: 'unconditional' },
  { id: 'health/set-0', owner: 'health', sharing: 'unconditional' },
  { id: 'health/closed', owner: 'health', sharing: 'none' },
  { id: 'ghost/set', owner: 'ghost', sharing: 'unconditional' },
] as const;
const GRANTS = ['g-0', 'g-1', 'g-2', 'g-3', 'g-4'];
/** Consumers of grants and targets of suspensions: members of each role, the only admin, a non-member. */
const PEOPLE = ['health', 'public-security', 'education', 'civil-affairs', 'bureau', 'ghost'];
const SCENARIOS = ['sa', 'sb', 'sc'];
const TYPES = ['member', 'resource', 'scenario', 'request', 'grant'] as const;
type Type = (typeof TYPES)[number];
type Entity = readonly [Type, string];

/** Every id of the pools: each one's bundle is checked after every block. */
const POOL: Entity[] = [
  ...PEOPLE.map((id): Entity => ['member', id]),
  ...RESOURCES.map((r): Entity => ['resource', r.id]),
  ...GRANTS.map((id): Entity => ['grant', id]),
  ...SCENARIOS.map((id): Entity => ['scenario', id]),
  ['request', 'rq-0'],
];

// ---- operations -----------------------------------------------------------

type Op =
  | { op: 'register' | 'update' | 'retire'; resource: number; author: number | null }
  | {
      op: 'issue';
      grant: number;
      author: number | null;
      consumer: number;
      resource: number;
      scenario: number;
      /** validFrom, in HALFs from the block time; the window is `length` HALFs (0: refused by the schema). */
      from: number;
      length: number;
    }
  | { op: 'revoke'; grant: number; author: number | null }
  | { op: 'suspend' | 'reinstate'; member: number; stale: boolean }
  | { op: 'scenario'; scenario: number }
  | { op: 'replay'; pick: number };

interface PlannedBlock {
  /** HALFs after the previous block. */
  readonly gap: number;
  readonly ops: readonly Op[];
}

/** `null` author: the resource's owner (or the grant's provider), so most records are the owner's. */
const author = fc.oneof(
  { weight: 3, arbitrary: fc.constant(null) },
  { weight: 1, arbitrary: fc.nat(AUTHORS.length - 1) },
);
const opArb: fc.Arbitrary<Op> = fc.oneof(
  {
    weight: 3,
    arbitrary: fc.record({
      op: fc.constantFrom('register' as const, 'update' as const, 'retire' as const, 'retire' as const),
      // Mostly the two registered, shared resources grants are issued on.
      resource: fc.constantFrom(0, 0, 2, 2, 1, 3, 4),
      author,
    }),
  },
  {
    weight: 5,
    arbitrary: fc.record({
      op: fc.constant('issue' as const),
      grant: fc.nat(GRANTS.length - 1),
      author,
      // Mostly a registered, shared resource, a member with the consumer role and the registered scenario.
      consumer: fc.constantFrom(0, 0, 1, 1, 2, 3, 4, 5),
      resource: fc.constantFrom(0, 0, 0, 2, 2, 2, 1, 3, 4),
      scenario: fc.constantFrom(0, 0, 0, 0, 0, 1, 2),
      from: fc.integer({ min: -4, max: 4 }),
      // Windows that close before the next block or a few blocks on (0: validTo = validFrom, refused).
      length: fc.constantFrom(0, 1, 2, 3, 4, 8, 16, 32, 64, 128),
    }),
  },
  {
    weight: 2,
    arbitrary: fc.record({ op: fc.constant('revoke' as const), grant: fc.nat(GRANTS.length - 1), author }),
  },
  {
    weight: 4,
    arbitrary: fc.record({
      op: fc.constantFrom('suspend' as const, 'suspend' as const, 'reinstate' as const),
      // Mostly the consumers grants are issued to.
      member: fc.constantFrom(0, 0, 1, 1, 2, 3, 4, 5),
      stale: fc.nat(7).map((n) => n === 0),
    }),
  },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('scenario' as const), scenario: fc.nat(2) }) },
  { weight: 1, arbitrary: fc.record({ op: fc.constant('replay' as const), pick: fc.nat() }) },
);
const planArb: fc.Arbitrary<PlannedBlock[]> = fc.array(
  fc.record({ gap: fc.nat(3), ops: fc.array(opArb, { minLength: 1, maxLength: 4 }) }),
  { minLength: 1, maxLength: 7 },
);

/**
 * A plan that reaches every status of a grant, run before the random ones:
 * g-0 active, then its consumer suspended, reinstated, its resource retired,
 * and revoked; g-1 not yet valid, active, then expired (block 4's time is its validTo).
 */
const EVERY_STATUS: PlannedBlock[] = [
  {
    gap: 1,
    ops: [
      { op: 'issue', grant: 0, author: null, consumer: 0, resource: 0, scenario: 0, from: 0, length: 64 },
      { op: 'issue', grant: 1, author: null, consumer: 1, resource: 2, scenario: 0, from: 2, length: 1 },
    ],
  },
  { gap: 2, ops: [{ op: 'suspend', member: 0, stale: false }] },
  {
    gap: 1,
    ops: [
      { op: 'reinstate', member: 0, stale: false },
      { op: 'retire', resource: 0, author: null },
    ],
  },
  { gap: 0, ops: [{ op: 'revoke', grant: 0, author: null }] },
];

/** Block 1 of every run: three resources (one not shared) and a scenario. */
const SETUP: PlannedBlock = {
  gap: 2,
  ops: [
    { op: 'register', resource: 0, author: null },
    { op: 'register', resource: 2, author: null },
    { op: 'register', resource: 3, author: null },
    { op: 'scenario', scenario: 0 },
  ],
};

function resourceSpec(r: (typeof RESOURCES)[number], version: number): ResourceSpec {
  return {
    id: r.id,
    owner: r.owner,
    title: `${r.id} v${version}`,
    description: 'test data',
    theme: 'population',
    format: 'table',
    updateCycle: 'daily',
    sourceSystem: 'db',
    fields: [{ name: 'name', level: 1 }],
    level: 1,
    sharing: r.sharing,
    opening: 'restricted',
  };
}

// ---- the model: the policy's verdicts and the status values, replayed plainly ----

const keyOf = (type: string, id: string): string => `${type}\u0000${id}`;

type Verdict = 'accepted' | ErrorCodeValue;

/** A status value without its entity digest (the model's own part; the digest is the state's entity's). */
type Bare<V> = V extends unknown ? Omit<V, 'entity'> : never;
type BareValue = Bare<StatusValue>;
/** The digest a model value holds until its block ends and the state's entity is hashed. */
const NO_DIGEST = new Uint8Array(32);

/** The digest of (type, id)'s entity as `view` holds it. */
function digestIn(view: StateView, type: Type, id: string): Uint8Array {
  const e = view.get(type, id);
  return e === undefined ? NO_DIGEST : entityDigest({ type, entity: e } as Change);
}

/** Each entity's status value, as the policy's rules (src/policy/) say records set them. */
class Model {
  readonly values = new Map<string, StatusValue>();
  /** The index of each grant's issue (the grant entity's index). */
  readonly issued = new Map<string, number>();
  /** Entries in the log. */
  size = 2;
  height = 0;
  time = T0;

  constructor() {
    for (const id of ['sequencer', ...MEMBERS.map((m) => m.id)])
      this.values.set(keyOf('member', id), {
        type: 'member',
        id,
        status: 'active',
        index: 0,
        entity: NO_DIGEST,
      });
  }

  get<T extends StatusValue['type']>(type: T, id: string): Extract<StatusValue, { type: T }> | undefined {
    return this.values.get(keyOf(type, id)) as Extract<StatusValue, { type: T }> | undefined;
  }

  #set(v: BareValue): void {
    this.values.set(keyOf(v.type, v.id), { ...v, entity: NO_DIGEST } as StatusValue);
  }

  /** The verdict on `op` by `by` as record `index` of a block at `time`; an accepted one changes the values. */
  apply(op: Exclude<Op, { op: 'replay' }>, by: string, time: number, index: number): Verdict {
    const roles = MEMBERS.find((m) => m.id === by)!.roles;
    if (this.get('member', by)!.status !== 'active') return ErrorCode.MEMBER_INACTIVE;
    switch (op.op) {
      case 'register':
      case 'update': {
        const r = RESOURCES[op.resource]!;
        if (!roles.includes('provider') || r.owner !== by) return ErrorCode.NOT_AUTHORIZED;
        const now = this.get('resource', r.id);
        if (op.op === 'register' && now !== undefined) return ErrorCode.DUPLICATE_ID;
        if (op.op === 'update' && now === undefined) return ErrorCode.UNKNOWN_RESOURCE;
        if (now?.status === 'retired') return ErrorCode.RESOURCE_RETIRED;
        const version = (now?.version ?? 0) + 1;
        this.#set({ type: 'resource', id: r.id, status: 'active', version, index, owner: r.owner });
        return 'accepted';
      }
      case 'retire': {
        const r = this.get('resource', RESOURCES[op.resource]!.id);
        if (r === undefined) return ErrorCode.UNKNOWN_RESOURCE;
        if (r.owner !== by) return ErrorCode.NOT_AUTHORIZED;
        if (r.status === 'retired') return ErrorCode.RESOURCE_RETIRED;
        this.#set({ ...r, status: 'retired', index });
        return 'accepted';
      }
      case 'issue': {
        if (op.length === 0) return ErrorCode.SCHEMA;
        if (!roles.includes('provider')) return ErrorCode.NOT_AUTHORIZED;
        const spec = RESOURCES[op.resource]!;
        const r = this.get('resource', spec.id);
        if (r === undefined) return ErrorCode.UNKNOWN_RESOURCE;
        if (r.owner !== by) return ErrorCode.NOT_AUTHORIZED;
        if (r.status === 'retired') return ErrorCode.RESOURCE_RETIRED;
        const id = GRANTS[op.grant]!;
        if (this.get('grant', id) !== undefined) return ErrorCode.DUPLICATE_ID;
        if (spec.sharing === 'none') return ErrorCode.NOT_SHARED;
        const consumer = PEOPLE[op.consumer]!;
        const c = this.get('member', consumer);
        if (c === undefined) return ErrorCode.UNKNOWN_MEMBER;
        if (c.status !== 'active') return ErrorCode.MEMBER_INACTIVE;
        if (!MEMBERS.find((m) => m.id === consumer)!.roles.includes('consumer'))
          return ErrorCode.NOT_AUTHORIZED;
        if (this.get('scenario', SCENARIOS[op.scenario]!) === undefined) return ErrorCode.UNKNOWN_SCENARIO;
        const validFrom = time + op.from * HALF;
        this.issued.set(id, index);
        this.#set({
          type: 'grant',
          id,
          status: 'active',
          index,
          provider: by,
          consumer,
          resource: spec.id,
          validFrom,
          validTo: validFrom + op.length * HALF,
          revokedAt: null,
        });
        return 'accepted';
      }
      case 'revoke': {
        const g = this.get('grant', GRANTS[op.grant]!);
        if (g === undefined) return ErrorCode.UNKNOWN_GRANT;
        if (g.provider !== by && !roles.includes('admin')) return ErrorCode.NOT_AUTHORIZED;
        if (g.status === 'revoked') return ErrorCode.GRANT_REVOKED;
        // The status value names the revocation (the grant entity keeps its issue's index); revokedAt is its block time.
        this.#set({ ...g, status: 'revoked', index, revokedAt: time });
        return 'accepted';
      }
      case 'suspend':
      case 'reinstate': {
        const m = this.get('member', PEOPLE[op.member]!);
        if (m === undefined) return ErrorCode.UNKNOWN_MEMBER;
        if (op.stale) return ErrorCode.STALE_TERMS;
        if (op.op === 'suspend') {
          if (m.status !== 'active') return ErrorCode.MEMBER_INACTIVE;
          // The only admin: suspending it would leave fewer active admins than the quorum (1).
          if (m.id === bureau.id) return ErrorCode.QUORUM;
        } else if (m.status !== 'suspended') return ErrorCode.NOT_AUTHORIZED;
        this.#set({ ...m, status: op.op === 'suspend' ? 'suspended' : 'active', index });
        return 'accepted';
      }
      case 'scenario': {
        const id = SCENARIOS[op.scenario]!;
        if (this.get('scenario', id) !== undefined) return ErrorCode.DUPLICATE_ID;
        this.#set({ type: 'scenario', id, status: 'registered', index });
        return 'accepted';
      }
    }
  }
}

/** What the model holds after a block. */
interface Snapshot {
  readonly height: number;
  readonly time: number;
  readonly size: number;
  readonly values: ReadonlyMap<string, StatusValue>;
  readonly issued: ReadonlyMap<string, number>;
}

/** A grant's status at the snapshot's block time: the first reason it is not active, else active. */
function judged(s: Snapshot, g: Extract<StatusValue, { type: 'grant' }>): string {
  if (g.status === 'revoked') return 'revoked';
  if (s.time < g.validFrom) return 'not-yet-valid';
  if (s.time >= g.validTo) return 'expired';
  if (s.values.get(keyOf('resource', g.resource))?.status !== 'active') return 'retired';
  if (s.values.get(keyOf('member', g.consumer))?.status !== 'active') return 'suspended';
  return 'active';
}

function expectedStatus(s: Snapshot, type: string, id: string): string {
  const v = s.values.get(keyOf(type, id));
  if (v === undefined) return 'absent';
  return v.type === 'grant' ? judged(s, v) : v.status;
}

/** The root of a map holding exactly `values`, made from scratch on an empty map. */
function rootOf(values: Iterable<StatusValue>): Uint8Array {
  const updates = [...values].map((v) => {
    const data = encodeStatus(v);
    return { key: nobleMap.key(v.type, v.id), value: nobleMap.value(data), data };
  });
  return updateMap(nobleMap, () => undefined, updates).root;
}

/** expect(got).toEqual(want), called only on a difference: it costs more than most checks here. */
function same(got: unknown, want: unknown, what: string): void {
  if (!isDeepStrictEqual(got, want)) expect(got, what).toEqual(want);
}

/** The state's own view of an entity, as a status value. */
function viewValue(view: StateView, type: Type, id: string): StatusValue | undefined {
  const v = bareViewValue(view, type, id);
  return v === undefined ? undefined : ({ ...v, entity: digestIn(view, type, id) } as StatusValue);
}

function bareViewValue(view: StateView, type: Type, id: string): BareValue | undefined {
  switch (type) {
    case 'member': {
      const e = view.get('member', id);
      return e && { type, id, status: e.status, index: e.index };
    }
    case 'resource': {
      const e = view.get('resource', id);
      return e && { type, id, status: e.status, version: e.version, index: e.index, owner: e.owner };
    }
    case 'scenario': {
      const e = view.get('scenario', id);
      return e && { type, id, status: 'registered', index: e.index };
    }
    case 'request':
      if (view.get('request', id) !== undefined) expect.fail('no request is ever opened here');
      return undefined;
    case 'grant': {
      const e = view.get('grant', id);
      return (
        e && {
          type,
          id,
          status: e.status,
          index: e.index,
          provider: e.provider,
          consumer: e.consumer,
          resource: e.resource,
          validFrom: e.validFrom,
          validTo: e.validTo,
          revokedAt: e.revokedAt,
        }
      );
    }
  }
}

// ---- what the runs reached, printed at the end ----------------------------

const counts = {
  runs: 0,
  blocks: 0,
  records: 0,
  refused: 0,
  bundlesChecked: 0,
  checkStatusCalls: 0,
  tamperedTried: 0,
  /** Tampered bundles that still checked: each a true statement (see `predictItems`). */
  tamperedStillTrue: 0,
  presenceFlipsTried: 0,
  checkpointSwapsTried: 0,
};
const reached = new Map<string, number>();
const refusals = new Map<string, number>();
const tamperErrors = new Map<string, number>();
/** Tampered bundles by the change made: those that failed, those that still said something true. */
const failedBy = new Map<string, number>();
const stillTrue = new Map<string, number>();
const bump = (m: Map<string, number>, k: string): void => {
  m.set(k, (m.get(k) ?? 0) + 1);
};

// ---- driving a run --------------------------------------------------------

/** Checkpoints verified (or refused), by origin and note: a pure function of them and the key. */
const checkpoints = new Map<string, ReturnType<typeof verifyCheckpoint> | DirchainError>();

/** `checkStatus`, verifying each distinct checkpoint note once (see the top of this file). */
function check(json: unknown): StatusResult {
  const b = statusBundleFromJSON(parseBundleObject(json));
  const memo = `${b.origin}\n${b.checkpoint}`;
  let cp = checkpoints.get(memo);
  if (cp === undefined) {
    try {
      cp = verifyCheckpoint(b.checkpoint, [KEY], { origin: b.origin });
    } catch (e) {
      if (!isDirchainError(e)) throw e;
      cp = e;
    }
    if (checkpoints.size >= 10_000) checkpoints.clear();
    checkpoints.set(memo, cp);
  }
  if (cp instanceof DirchainError) throw cp;
  return checkStatusBundle(b, cp, nobleTree, nobleMap);
}

/** `check`, and `checkStatus` itself, which must give the same result or the same refusal. */
function checkBoth(json: unknown): StatusResult | DirchainError {
  const mine = outcome(() => check(json));
  const theirs = outcome(() => checkStatus(json, [KEY]));
  counts.checkStatusCalls++;
  if (mine instanceof DirchainError) expect(theirs).toMatchObject({ code: mine.code, message: mine.message });
  else expect(theirs).toEqual(mine);
  return mine;
}

/** The result, or the DirchainError it threw (any other throw fails the test). */
function outcome(f: () => StatusResult): StatusResult | DirchainError {
  try {
    return f();
  } catch (e) {
    if (isDirchainError(e)) return e;
    throw e;
  }
}

interface BundleJSON {
  type: string;
  origin: string;
  size: number;
  checkpoint: string;
  blockEntry: string;
  inclusion: string[];
  items: ItemJSON[];
  [extra: string]: unknown;
}
interface ItemJSON {
  type: string;
  id: string;
  value: string | null;
  siblings: string[];
  leaf: { key: string; value: string } | null;
  [extra: string]: unknown;
}

const toJSON = (b: StatusBundle): BundleJSON =>
  JSON.parse(JSON.stringify(statusBundleToJSON(b))) as BundleJSON;

interface Run {
  readonly ledger: MemoryLedger;
  readonly snapshots: Snapshot[];
  /** The bundle of (type, id) at a height, made from the map's history (memoized; a copy to change). */
  bundle(height: number, type: string, id: string): Promise<BundleJSON>;
  /** Its first item: the entity's own (not a copy: not to be changed). */
  item(height: number, type: string, id: string): Promise<Readonly<ItemJSON>>;
}

/**
 * Drives `plan` (after genesis and the setup block) through a memory ledger
 * and the model, block by block, checking after each: the verdict on every
 * record, the log size, the block entry's height, time and map root (against
 * the root recomputed from the model), and the state's view of every pool id.
 * `afterBlock` runs after each block, while the current map table is that block's.
 */
async function drive(
  plan: readonly PlannedBlock[],
  afterBlock?: (run: Run, s: Snapshot) => Promise<void>,
): Promise<Run> {
  const ledger = new MemoryLedger(MEMBERS, T0);
  const model = new Model();
  const snapshots: Snapshot[] = [];
  const memo = new Map<string, BundleJSON>();
  const made = async (height: number, type: string, id: string): Promise<BundleJSON> => {
    const k = `${height}\u0000${keyOf(type, id)}`;
    let b = memo.get(k);
    if (b === undefined) {
      b = toJSON(await ledger.proveStatus(type, id, height));
      memo.set(k, b);
    }
    return b;
  };
  const run: Run = {
    ledger,
    snapshots,
    async bundle(height, type, id) {
      return structuredClone(await made(height, type, id));
    },
    async item(height, type, id) {
      return (await made(height, type, id)).items[0]!;
    },
  };
  const accepted: LedgerRecord[] = [];
  let time = T0;
  let seq = 0;
  const checkBlock = async (): Promise<void> => {
    // The block is formed: each value's entity digest is its entity's as the state now holds it.
    for (const [k, v] of model.values)
      model.values.set(k, { ...v, entity: digestIn(ledger.chain.view, v.type, v.id) } as StatusValue);
    const s: Snapshot = {
      height: model.height,
      time: model.time,
      size: model.size,
      values: new Map(model.values),
      issued: new Map(model.issued),
    };
    snapshots.push(s);
    counts.blocks++;
    const { header, blockEntry } = ledger.blocks[s.height]!;
    const entry = decodeBlockEntry(blockEntry);
    same(
      { height: header.height, size: header.size, time: header.time, chain: ledger.chain.size },
      { height: s.height, size: s.size, time: s.time, chain: s.size },
      `block ${s.height}'s header`,
    );
    same({ height: entry.height, time: entry.time }, { height: s.height, time: s.time }, 'its block entry');
    for (const [type, id] of POOL) {
      const v = s.values.get(keyOf(type, id));
      same(
        viewValue(ledger.chain.view, type, id),
        v?.type === 'grant' ? { ...v, index: s.issued.get(id) } : v,
        `${type} ${id} in the state`,
      );
    }
    same(toBase64(entry.state!), toBase64(rootOf(s.values.values())), `the map root of block ${s.height}`);
    same(toBase64(ledger.chain.mapRoot), toBase64(entry.state!), "the chain's map root");
    await afterBlock?.(run, s);
  };
  await checkBlock();
  for (const [b, planned] of [SETUP, ...plan].entries()) {
    time += planned.gap * HALF;
    const expected: Array<{ verdict: Verdict | 'refused'; index: number }> = [];
    const settled: Array<Promise<Receipt | DirchainError>> = [];
    let next = model.size;
    for (const op of planned.ops) {
      ledger.clock = time + ++seq;
      let promise: Promise<Receipt>;
      let verdict: Verdict | 'refused';
      if (op.op === 'replay') {
        if (accepted.length === 0) continue;
        // Accepted once: a copy is refused (by a rule, or as a duplicate), and changes nothing.
        promise = ledger.append(accepted[op.pick % accepted.length]!);
        verdict = 'refused';
      } else {
        const by = submitOp(ledger, model, op, time);
        promise = by.promise;
        verdict = model.apply(op, by.author, time, next);
        if (verdict === 'accepted') accepted.push(ledger.lastSigned!);
      }
      expected.push({ verdict, index: verdict === 'accepted' ? next++ : -1 });
      settled.push(
        promise.then(
          (r) => r,
          (e: DirchainError) => e,
        ),
      );
    }
    const formed = ledger.formBlock(time);
    const outcomes = await Promise.all(settled);
    const height = model.height + 1;
    outcomes.forEach((o, i) => {
      const want = expected[i]!;
      counts.records++;
      if (o instanceof DirchainError) {
        counts.refused++;
        bump(refusals, o.code);
        if (want.verdict !== 'refused')
          same(o.code, want.verdict, `record ${i} of block ${b + 1}: ${o.message}`);
      } else
        same(
          { verdict: want.verdict, ...o },
          { verdict: 'accepted', index: want.index, height },
          `record ${i}`,
        );
    });
    same(formed !== undefined, next !== model.size, `block ${b + 1} formed (some record accepted)`);
    if (next === model.size) continue;
    model.size = next + 1;
    model.height = height;
    model.time = time;
    await checkBlock();
  }
  counts.runs++;
  return run;
}

/** Signs `op`'s record through the directory API, as the member it names (default: the owner). */
function submitOp(
  ledger: MemoryLedger,
  model: Model,
  op: Exclude<Op, { op: 'replay' }>,
  time: number,
): { promise: Promise<Receipt>; author: string } {
  const d = ledger.directory;
  const as = (id: string) => actorOf.get(id)!.as;
  switch (op.op) {
    case 'register':
    case 'update':
    case 'retire': {
      const r = RESOURCES[op.resource]!;
      const by =
        op.author === null ? (actorOf.has(r.owner) ? r.owner : 'civil-affairs') : AUTHORS[op.author]!;
      const version = (model.get('resource', r.id)?.version ?? 0) + 1;
      const promise =
        op.op === 'register'
          ? d.registerResource(as(by), resourceSpec(r, 1))
          : op.op === 'update'
            ? d.updateResource(as(by), resourceSpec(r, version))
            : d.retireResource(as(by), r.id);
      return { promise, author: by };
    }
    case 'issue': {
      const r = RESOURCES[op.resource]!;
      const by = op.author === null ? (actorOf.has(r.owner) ? r.owner : 'health') : AUTHORS[op.author]!;
      const validFrom = time + op.from * HALF;
      const promise = d.issueGrant(as(by), {
        id: GRANTS[op.grant]!,
        consumer: PEOPLE[op.consumer]!,
        resource: r.id,
        fields: ['name'],
        scenario: SCENARIOS[op.scenario]!,
        purpose: 'eligibility check',
        validFrom,
        validTo: validFrom + op.length * HALF,
      });
      return { promise, author: by };
    }
    case 'revoke': {
      const g = model.get('grant', GRANTS[op.grant]!);
      const by = op.author === null ? (g?.provider ?? 'civil-affairs') : AUTHORS[op.author]!;
      return { promise: d.revokeGrant(as(by), GRANTS[op.grant]!), author: by };
    }
    case 'suspend':
    case 'reinstate': {
      // Governance terms name the record that last changed the member (the model's, not the state's).
      const member = PEOPLE[op.member]!;
      const after = (model.get('member', member)?.index ?? 0) + (op.stale ? 1 : 0);
      const kind = op.op === 'suspend' ? KIND.memberSuspend : KIND.memberReinstate;
      return {
        promise: d.submitProposal(bureau.as, d.propose(kind, { member, after })),
        author: bureau.id,
      };
    }
    case 'scenario':
      return {
        promise: d.registerScenario(bureau.as, {
          id: SCENARIOS[op.scenario]!,
          name: 'Scenario',
          lead: 'civil-affairs',
          legalBasis: 'art. 1',
        }),
        author: bureau.id,
      };
  }
}

// ---- checking answers and tampered bundles --------------------------------

/** The answer a bundle of (type, id) must give at the snapshot's checkpoint. */
function expectAnswer(r: StatusResult, s: Snapshot, type: string, id: string, what: string): void {
  const v = s.values.get(keyOf(type, id));
  const asOf = { size: s.size, height: s.height, time: s.time };
  const want = { type, id, status: expectedStatus(s, type, id), value: v, index: v?.index, asOf };
  const got = { type: r.type, id: r.id, status: r.status, value: r.value, index: r.index, asOf: r.asOf };
  same(
    { ...got, asOf: { ...got.asOf } },
    want,
    `${what}: ${type} ${JSON.stringify(id)} at block ${s.height}`,
  );
}

/** Checks an untouched bundle: it gives the model's answer. Returns the status. */
function checkHonest(s: Snapshot, json: BundleJSON, type: string, id: string): string {
  const got = check(json);
  expectAnswer(got, s, type, id, 'the bundle');
  counts.bundlesChecked++;
  return got.status;
}

function sameItem(a: ItemJSON, b: ItemJSON): boolean {
  return (
    a.type === b.type &&
    a.id === b.id &&
    a.value === b.value &&
    a.siblings.length === b.siblings.length &&
    a.siblings.every((x, i) => x === b.siblings[i]) &&
    (a.leaf === null
      ? b.leaf === null
      : b.leaf !== null && a.leaf.key === b.leaf.key && a.leaf.value === b.leaf.value)
  );
}

/**
 * What a bundle with these items (and an untouched envelope) may show at the
 * snapshot's checkpoint: the map is canonical, so each key has exactly one
 * valid map proof under a root (another would be a hash collision), and an
 * item checks only if it is that proof with that value — the honest item of
 * its (type, id). The bundle then shows the status of its first item's
 * entity, if a grant's resource and consumer items are there too. Undefined:
 * it must fail.
 */
async function predictItems(run: Run, s: Snapshot, items: readonly ItemJSON[]): Promise<Entity | undefined> {
  if (items.length === 0) return undefined;
  for (const item of items)
    if (!sameItem(item, await run.item(s.height, item.type, item.id))) return undefined;
  const first: Entity = [items[0]!.type as Type, items[0]!.id];
  const v = s.values.get(keyOf(...first));
  const has = (type: string, id: string) => items.some((x) => x.type === type && x.id === id);
  if (v?.type === 'grant' && !(has('resource', v.resource) && has('member', v.consumer))) return undefined;
  return first;
}

/** A small deterministic generator (mulberry32), seeded by fast-check: bit positions to flip. */
function random(seed: number): (n: number) => number {
  let a = seed >>> 0;
  return (n) => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return (((t ^ (t >>> 14)) >>> 0) % n) as number;
  };
}

/** `text` with one bit (of the low seven) of one character flipped. */
function flipCharacter(text: string, rand: (n: number) => number): string {
  const c = rand(text.length);
  return text.slice(0, c) + String.fromCharCode(text.charCodeAt(c) ^ (1 << rand(7))) + text.slice(c + 1);
}

/** Every base64 field of a bundle, by its path. */
function base64Fields(b: BundleJSON): Array<{ path: string; get: () => string; set: (v: string) => void }> {
  const out: Array<{ path: string; get: () => string; set: (v: string) => void }> = [
    { path: 'blockEntry', get: () => b.blockEntry, set: (v) => (b.blockEntry = v) },
    ...b.inclusion.map((_, k) => ({
      path: `inclusion[${k}]`,
      get: () => b.inclusion[k]!,
      set: (v: string) => (b.inclusion[k] = v),
    })),
  ];
  b.items.forEach((item, n) => {
    if (item.value !== null) {
      const value = item.value;
      out.push({ path: `items[${n}].value`, get: () => value, set: (v) => (item.value = v) });
    }
    for (const k of item.siblings.keys()) {
      out.push({
        path: `items[${n}].siblings[${k}]`,
        get: () => item.siblings[k]!,
        set: (v) => (item.siblings[k] = v),
      });
    }
    const leaf = item.leaf;
    if (leaf !== null) {
      out.push(
        { path: `items[${n}].leaf.key`, get: () => leaf.key, set: (v) => (leaf.key = v) },
        { path: `items[${n}].leaf.value`, get: () => leaf.value, set: (v) => (leaf.value = v) },
      );
    }
  });
  return out;
}

type Tamper =
  | { kind: 'drop'; at: number }
  | { kind: 'duplicate'; at: number; to: number }
  | { kind: 'swap'; a: number; b: number }
  | { kind: 'foreign'; entity: number; to: number }
  | { kind: 'stale'; at: number; height: number }
  | { kind: 'relabel'; at: number; entity: number }
  | { kind: 'innerAsLeaf'; at: number }
  | { kind: 'leafUp'; at: number }
  | { kind: 'leafDown'; at: number }
  | { kind: 'leafSwap'; at: number }
  | { kind: 'valueOf'; at: number; entity: number }
  | { kind: 'size'; delta: number }
  | { kind: 'origin' }
  | { kind: 'bundleType' }
  | { kind: 'inclusionDrop'; at: number }
  | { kind: 'inclusionExtra'; at: number }
  | { kind: 'blockEntryOf'; height: number }
  | { kind: 'extraFields' };

const at = fc.nat(7);
const entity = fc.nat(POOL.length - 1);
const tamperArb: fc.Arbitrary<Tamper> = fc.oneof(
  fc.record({ kind: fc.constant('drop' as const), at }),
  fc.record({ kind: fc.constant('duplicate' as const), at, to: at }),
  fc.record({ kind: fc.constant('swap' as const), a: at, b: at }),
  fc.record({ kind: fc.constant('foreign' as const), entity, to: at }),
  fc.record({ kind: fc.constant('stale' as const), at, height: fc.nat() }),
  fc.record({ kind: fc.constant('relabel' as const), at, entity }),
  fc.record({ kind: fc.constant('innerAsLeaf' as const), at }),
  fc.record({ kind: fc.constant('leafUp' as const), at }),
  fc.record({ kind: fc.constant('leafDown' as const), at }),
  fc.record({ kind: fc.constant('leafSwap' as const), at }),
  fc.record({ kind: fc.constant('valueOf' as const), at, entity }),
  fc.record({ kind: fc.constant('size' as const), delta: fc.constantFrom(-1, 1, 2) }),
  fc.constant({ kind: 'origin' as const }),
  fc.constant({ kind: 'bundleType' as const }),
  fc.record({ kind: fc.constant('inclusionDrop' as const), at }),
  fc.record({ kind: fc.constant('inclusionExtra' as const), at }),
  fc.record({ kind: fc.constant('blockEntryOf' as const), height: fc.nat() }),
  fc.constant({ kind: 'extraFields' as const }),
);

/**
 * `b` tampered as `t`, in place (undefined where `t` does not apply).
 */
async function tampered(run: Run, s: Snapshot, b: BundleJSON, t: Tamper): Promise<BundleJSON | undefined> {
  const n = b.items.length;
  // Changes of an item need one (the bundle may have lost them all to earlier changes).
  if (n === 0 && ('at' in t || t.kind === 'swap') && !t.kind.startsWith('inclusion')) return undefined;
  const item = b.items[('at' in t ? t.at : 0) % n]!;
  const heights = run.snapshots.length;
  switch (t.kind) {
    case 'drop':
      b.items.splice(t.at % n, 1);
      return b;
    case 'duplicate':
      b.items.splice(t.to % (n + 1), 0, structuredClone(item));
      return b;
    case 'swap':
      [b.items[t.a % n], b.items[t.b % n]] = [b.items[t.b % n]!, b.items[t.a % n]!];
      return b;
    case 'foreign': {
      const [type, id] = POOL[t.entity]!;
      b.items.splice(t.to % (n + 1), 0, structuredClone(await run.item(s.height, type, id)));
      return b;
    }
    case 'stale': {
      const other = structuredClone(await run.item(t.height % heights, item.type, item.id));
      b.items[t.at % n] = other;
      return b;
    }
    case 'relabel': {
      const [type, id] = POOL[t.entity]!;
      item.type = type;
      item.id = id;
      return b;
    }
    case 'innerAsLeaf': {
      // The last inner node on the path, its two children given as a leaf's key and value hash.
      const d = item.siblings.length;
      if (d === 0) return undefined;
      const cur =
        item.leaf === null
          ? nobleMap.empty
          : nobleMap.leaf(fromBase64(item.leaf.key), fromBase64(item.leaf.value));
      const sibling = fromBase64(item.siblings[d - 1]!);
      const [left, right] =
        bitAt(nobleMap.key(item.type, item.id), d - 1) === 0 ? [cur, sibling] : [sibling, cur];
      item.siblings.pop();
      item.leaf = { key: toBase64(left), value: toBase64(right) };
      return b;
    }
    case 'leafUp':
      if (item.siblings.length === 0) return undefined;
      item.siblings.pop();
      return b;
    case 'leafDown':
      item.siblings.push(toBase64(nobleMap.empty));
      return b;
    case 'leafSwap':
      if (item.leaf === null) return undefined;
      item.leaf = { key: item.leaf.value, value: item.leaf.key };
      return b;
    case 'valueOf': {
      const [type, id] = POOL[t.entity]!;
      item.value = (await run.item(s.height, type, id)).value;
      return b;
    }
    case 'size':
      b.size += t.delta;
      return b;
    case 'origin':
      b.origin = `${b.origin}x`;
      return b;
    case 'bundleType':
      b.type = 'dirchain-status/v2';
      return b;
    case 'inclusionDrop':
      if (b.inclusion.length === 0) return undefined;
      b.inclusion.splice(t.at % b.inclusion.length, 1);
      return b;
    case 'inclusionExtra':
      b.inclusion.splice(t.at % (b.inclusion.length + 1), 0, b.inclusion[t.at % b.inclusion.length]!);
      return b;
    case 'blockEntryOf': {
      const h = t.height % heights;
      if (h === s.height) return undefined;
      b.blockEntry = toBase64(run.ledger.blocks[h]!.blockEntry);
      return b;
    }
    case 'extraFields':
      b.note = 'trust me';
      if (b.items[0] !== undefined) b.items[0].status = 'active';
      return b;
  }
}

/** Whether two bundles have the same fields outside their items. */
const sameEnvelope = (a: BundleJSON, b: BundleJSON): boolean =>
  a.type === b.type &&
  a.origin === b.origin &&
  a.size === b.size &&
  a.checkpoint === b.checkpoint &&
  a.blockEntry === b.blockEntry &&
  a.inclusion.length === b.inclusion.length &&
  a.inclusion.every((x, k) => x === b.inclusion[k]);

const BUNDLE_FIELDS = new Set(['type', 'origin', 'size', 'checkpoint', 'blockEntry', 'inclusion', 'items']);
const ITEM_FIELDS = new Set(['type', 'id', 'value', 'siblings', 'leaf']);

/**
 * Checks a changed bundle against what it must do at the snapshot's
 * checkpoint, whose honest bundles have the envelope of `honest`: fail when
 * its envelope is another, else do what `predictItems` says of its items.
 * Fields the format does not have mean nothing: with them, the bundle gives
 * that same answer, or fails.
 */
async function expectTampered(
  run: Run,
  s: Snapshot,
  honest: BundleJSON,
  json: BundleJSON,
  label: string,
  detail: string,
  both = false,
): Promise<void> {
  counts.tamperedTried++;
  const what = `${label} (${detail})`;
  const got = both ? checkBoth(json) : outcome(() => check(json));
  const shows = sameEnvelope(json, honest) ? await predictItems(run, s, json.items) : undefined;
  const extra =
    Object.keys(json).some((k) => !BUNDLE_FIELDS.has(k)) ||
    json.items.some((i) => Object.keys(i).some((k) => !ITEM_FIELDS.has(k)));
  if (shows !== undefined && !(extra && got instanceof DirchainError)) {
    // Still true: the bundle shows exactly what the honest bundle of its first item's entity shows.
    if (got instanceof DirchainError)
      expect.fail(`${what} keeps a true statement, yet fails: ${got.message}`);
    expectAnswer(got, s, ...shows, what);
    counts.tamperedStillTrue++;
    bump(stillTrue, label);
    return;
  }
  if (!(got instanceof DirchainError)) expect.fail(`${what} must fail; it showed ${JSON.stringify(got)}`);
  bump(tamperErrors, got.code);
  bump(failedBy, label);
}

const randomIdsArb = fc.array(
  fc.record({ type: fc.constantFrom(...TYPES), id: fc.string({ minLength: 1, maxLength: 12 }) }),
  { maxLength: 3 },
);

/** A status value for (type, id) that the map does not hold: what a forged inclusion would claim. */
function forgedValue(type: Type, id: string): BareValue {
  switch (type) {
    case 'member':
      return { type, id, status: 'active', index: 2 };
    case 'resource':
      return { type, id, status: 'active', version: 1, index: 2, owner: 'health' };
    case 'scenario':
      return { type, id, status: 'registered', index: 2 };
    case 'request':
      return {
        type,
        id,
        status: 'open',
        index: 2,
        consumer: 'health',
        provider: 'civil-affairs',
        resource: 'civil/set-0',
        grant: null,
      };
    case 'grant':
      return {
        type,
        id,
        status: 'active',
        index: 2,
        provider: 'civil-affairs',
        consumer: 'health',
        resource: 'civil/set-0',
        validFrom: 0,
        validTo: Number.MAX_SAFE_INTEGER,
        revokedAt: null,
      };
  }
}

/** `key` with its last bit flipped: another key on the same path down to depth 255. */
function neighbourKey(key: Uint8Array): Uint8Array {
  return concatBytes(key.subarray(0, 31), Uint8Array.of(key[31]! ^ 1));
}

/**
 * Changes that would turn an item's proof of presence into one of absence
 * for the same key, or the reverse (each as the fields it replaces).
 */
function presenceFlips(item: ItemJSON): Array<[string, Partial<ItemJSON>]> {
  const key = nobleMap.key(item.type, item.id);
  if (item.value !== null) {
    const leaf = item.leaf!;
    return [
      ['value dropped', { value: null }],
      ['value and leaf dropped', { value: null, leaf: null }],
      ['leaf dropped', { leaf: null }],
      // The same leaf claimed by a key sharing all but its last bit: "another key's leaf, on this path".
      [
        'leaf given to a neighbour key',
        { value: null, leaf: { key: toBase64(neighbourKey(key)), value: leaf.value } },
      ],
    ];
  }
  const forged = encodeStatus({
    ...forgedValue(item.type as Type, item.id),
    entity: NO_DIGEST,
  } as StatusValue);
  const claim = { key: toBase64(key), value: toBase64(nobleMap.value(forged)) };
  const out: Array<[string, Partial<ItemJSON>]> = [
    ['a value given', { value: toBase64(forged) }],
    ['a value and its leaf given', { value: toBase64(forged), leaf: claim }],
  ];
  if (item.leaf !== null)
    out.push(["another key's leaf claimed as its own", { leaf: { ...item.leaf, key: claim.key } }]);
  return out;
}

// ---- the properties -------------------------------------------------------

afterAll(() => {
  console.log(
    JSON.stringify({
      ...counts,
      statusesReached: Object.fromEntries([...reached].sort()),
      refusals: Object.fromEntries([...refusals].sort()),
      tamperedFailedWith: Object.fromEntries([...tamperErrors].sort()),
      tamperedFailedBy: Object.fromEntries([...failedBy].sort()),
      tamperedStillTrueBy: Object.fromEntries([...stillTrue].sort()),
    }),
  );
});

describe('status bundles over random sequences on the state machine in memory', () => {
  it('after every block, every bundle checks offline and says what an independent replay says; the map root is recomputed from scratch', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, randomIdsArb, fc.nat(), async (plan, randomIds, pick) => {
        const made: Array<{ height: number; entity: Entity; text: string }> = [];
        const run = await drive(plan, async (r, s) => {
          // The genesis and setup blocks are the same in every run: checked in the first.
          if (s.height < 2 && counts.runs > 0) return;
          for (const entity of [...POOL, ...randomIds.map((x): Entity => [x.type, x.id])]) {
            // Made from the current map table ('V'), right after the block.
            const json = toJSON(await r.ledger.proveStatus(entity[0], entity[1], s.height, 'current'));
            bump(reached, `${entity[0]}:${checkHonest(s, json, ...entity)}`);
            made.push({ height: s.height, entity, text: JSON.stringify(json) });
          }
        });
        // The history ('W') keeps every block's map: the same bundles, made again once the run is over.
        for (const { height, entity, text } of made) {
          const again = JSON.stringify(await run.bundle(height, ...entity));
          same(again, text, `${entity.join(' ')} at block ${height}, from the history`);
        }
        // checkStatus itself agrees, on a bundle the run picks.
        if (made.length > 0)
          expect(checkBoth(JSON.parse(made[pick % made.length]!.text))).not.toBeInstanceOf(DirchainError);
      }),
      { numRuns: 350, examples: [[EVERY_STATUS, [], 0]] },
    );
    // The runs reached every status a bundle can show of a grant, a suspended member, a retired resource.
    for (const status of [
      'grant:active',
      'grant:revoked',
      'grant:expired',
      'grant:not-yet-valid',
      'grant:retired',
      'grant:suspended',
      'grant:absent',
      'member:suspended',
      'resource:retired',
    ])
      expect([...reached.keys()]).toContain(status);
  }, 300_000);

  it('a tampered bundle fails, unless what it still says is provably true', async () => {
    const probeArb = fc.record({
      block: fc.nat(),
      entity: fc.nat(POOL.length - 1),
      tampers: fc.array(tamperArb, { minLength: 1, maxLength: 8 }),
      salt: fc.nat(),
    });
    await fc.assert(
      fc.asyncProperty(planArb, fc.array(probeArb, { minLength: 1, maxLength: 3 }), async (plan, probes) => {
        const run = await drive(plan);
        for (const [p, probe] of probes.entries()) {
          const s = run.snapshots[probe.block % run.snapshots.length]!;
          const [type, id] = POOL[probe.entity]!;
          const honest = await run.bundle(s.height, type, id);
          checkHonest(s, honest, type, id);
          const rand = random(probe.salt);
          // One bit of each base64 field: block entry, each inclusion hash, each item's value, siblings, leaf.
          for (const { path } of base64Fields(honest)) {
            const b = structuredClone(honest);
            const field = base64Fields(b).find((x) => x.path === path)!;
            const bytes = fromBase64(field.get());
            if (bytes.length === 0) continue;
            bytes[rand(bytes.length)]! ^= 1 << rand(8);
            field.set(toBase64(bytes));
            await expectTampered(run, s, honest, b, `a bit of ${path.replace(/\d+/g, '')}`, path);
          }
          // A bit of one character of a base64 field's text, and of the checkpoint note (text or signature line).
          const text = structuredClone(honest);
          const fields = base64Fields(text);
          const f = fields[rand(fields.length)]!;
          f.set(flipCharacter(f.get(), rand));
          await expectTampered(run, s, honest, text, 'a character of a base64 field', f.path);
          if (p === 0) {
            // Each changed note costs a signature check (noble, milliseconds): one a run.
            const note = structuredClone(honest);
            note.checkpoint = flipCharacter(note.checkpoint, rand);
            await expectTampered(
              run,
              s,
              honest,
              note,
              'a character of the checkpoint',
              note.checkpoint,
              true,
            );
          }
          // Structural changes, each on its own, then all of them on one bundle (those that change it).
          const unchanged = JSON.stringify(honest);
          const all = structuredClone(honest);
          for (const t of probe.tampers) {
            const one = await tampered(run, s, structuredClone(honest), t);
            if (one === undefined || JSON.stringify(one) === unchanged) continue;
            await expectTampered(run, s, honest, one, t.kind, JSON.stringify(t));
            await tampered(run, s, all, t);
          }
          if (JSON.stringify(all) !== unchanged)
            await expectTampered(run, s, honest, all, 'several at once', JSON.stringify(probe.tampers));
        }
      }),
      { numRuns: 500 },
    );
  }, 300_000);

  it('an inclusion proof cannot be turned into one of absence for the same key, nor the reverse', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.nat(), randomIdsArb, async (plan, block, randomIds) => {
        const run = await drive(plan);
        const entities = [...POOL, ...randomIds.map((x): Entity => [x.type, x.id])];
        // Every id of the pools at a block of the run past the setup (the first two are the same in every run).
        const { snapshots } = run;
        const s =
          snapshots[snapshots.length > 2 ? 2 + (block % (snapshots.length - 2)) : snapshots.length - 1]!;
        for (const [type, id] of entities) {
          const honest = await run.bundle(s.height, type, id);
          checkHonest(s, honest, type, id);
          // The entity's own item, and a grant's resource and consumer items.
          for (const [n, item] of honest.items.entries()) {
            for (const [what, patch] of presenceFlips(item)) {
              const b = structuredClone(honest);
              Object.assign(b.items[n]!, patch);
              counts.presenceFlipsTried++;
              if ((await predictItems(run, s, b.items)) !== undefined)
                expect.fail(`${what}: still the one proof`);
              await expectTampered(run, s, honest, b, what, `${type} ${id} item ${n}`);
            }
          }
        }
      }),
      { numRuns: 550 },
    );
  }, 300_000);

  it('a bundle made at one checkpoint fails with a later checkpoint where the status differs', async () => {
    await fc.assert(
      fc.asyncProperty(planArb, fc.nat(), async (plan, from) => {
        const run = await drive(plan);
        const { snapshots } = run;
        for (const [type, id] of POOL) {
          for (let i = from % snapshots.length; i < snapshots.length; i++) {
            for (let j = i + 1; j < snapshots.length; j++) {
              const later = snapshots[j]!;
              if (expectedStatus(snapshots[i]!, type, id) === expectedStatus(later, type, id)) continue;
              counts.checkpointSwapsTried++;
              const b = await run.bundle(i, type, id);
              const next = await run.bundle(j, type, id);
              checkHonest(snapshots[i]!, b, type, id);
              checkHonest(later, next, type, id);
              // Its map proofs are of block i's map: under block j's root (every accepted record changes a
              // status value, so no two blocks share one) no item is the one proof of its key.
              const [rootI, rootJ] = [b, next].map((x) =>
                toBase64(decodeBlockEntry(fromBase64(x.blockEntry)).state!),
              );
              if (rootI === rootJ) expect.fail(`blocks ${i} and ${j} have one map root`);
              if ((await predictItems(run, later, b.items)) !== undefined)
                expect.fail(`block ${i}'s items are block ${j}'s`);
              const what = `${type} ${id} from block ${i} at block ${j}`;
              const moved = {
                checkpoint: next.checkpoint,
                blockEntry: next.blockEntry,
                inclusion: next.inclusion,
              };
              await expectTampered(
                run,
                later,
                next,
                { ...b, ...moved, size: next.size },
                'a later checkpoint',
                what,
              );
              await expectTampered(
                run,
                later,
                next,
                { ...b, ...moved },
                'a later checkpoint, size kept',
                what,
              );
              const only = { ...b, checkpoint: next.checkpoint, size: next.size };
              await expectTampered(run, later, next, only, 'a later checkpoint note only', what);
            }
          }
        }
      }),
      { numRuns: 600 },
    );
  }, 300_000);
});
