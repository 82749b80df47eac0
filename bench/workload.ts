/**
 * The benchmark workload, generated deterministically from a seed (no data
 * files): the city directory's 57 departments with their Ed25519 keys, a data
 * bureau as admin and sequencer, and a stream of ~300-byte access-log records
 * signed by the departments.
 *
 * Same seed → same keys, same bodies, same timestamps, so the same entry bytes
 * (Ed25519 signatures are deterministic).
 */
import type { Plain } from '../src/encoding/msgpack.js';
import {
  type AccessInput,
  createLedger,
  type GrantInput,
  generateKeyPair,
  type Ledger,
  type LedgerRecord,
  type MemberSigner,
  type MemberSpec,
  memberSigner,
  type Receipt,
  type RequestInput,
  type ResourceSpec,
  type ScenarioSpec,
  type Sharing,
  type SignedBatch,
  signBatch,
  signRecord,
} from '../src/index.js';
import { PackedBytes } from './packed.js';

/** A small, fast, seedable PRNG: sfc32 seeded through splitmix32. Not for secrets. */
export class Rng {
  #a: number;
  #b: number;
  #c: number;
  #d: number;

  constructor(seed: number) {
    let s = seed >>> 0;
    const next = (): number => {
      s = (s + 0x9e3779b9) >>> 0;
      let z = s;
      z = Math.imul(z ^ (z >>> 16), 0x85ebca6b);
      z = Math.imul(z ^ (z >>> 13), 0xc2b2ae35);
      return (z ^ (z >>> 16)) >>> 0;
    };
    this.#a = next();
    this.#b = next();
    this.#c = next();
    this.#d = next();
    for (let i = 0; i < 12; i++) this.u32();
  }

  /** Uniform 32-bit unsigned integer. */
  u32(): number {
    const t = (((this.#a + this.#b) >>> 0) + this.#d) >>> 0;
    this.#d = (this.#d + 1) >>> 0;
    this.#a = this.#b ^ (this.#b >>> 9);
    this.#b = (this.#c + (this.#c << 3)) >>> 0;
    this.#c = ((this.#c << 21) | (this.#c >>> 11)) >>> 0;
    this.#c = (this.#c + t) >>> 0;
    return t;
  }

  /** Uniform float in [0, 1). */
  float(): number {
    return this.u32() / 0x1_0000_0000;
  }

  /** Uniform integer in [lo, hi]. */
  int(lo: number, hi: number): number {
    return lo + Math.floor(this.float() * (hi - lo + 1));
  }

  pick<T>(items: readonly T[]): T {
    return items[Math.floor(this.float() * items.length)]!;
  }

  bytes(n: number): Uint8Array {
    const out = new Uint8Array(n);
    for (let i = 0; i < n; i += 4) {
      const v = this.u32();
      for (let j = 0; j < 4 && i + j < n; j++) out[i + j] = (v >>> (8 * j)) & 255;
    }
    return out;
  }
}

const DEPARTMENT_NAMES = [
  'finance',
  'health',
  'transport',
  'education',
  'police',
  'fire',
  'housing',
  'planning',
  'environment',
  'water',
  'energy',
  'parks',
  'libraries',
  'culture',
  'tourism',
  'labour',
  'social-services',
  'civil-affairs',
  'justice',
  'tax',
  'customs',
  'statistics',
  'land-resources',
  'agriculture',
  'forestry',
  'fisheries',
  'commerce',
  'industry',
  'science',
  'veterans',
  'elderly-care',
  'youth',
  'sports',
  'emergency',
  'weather',
  'archives',
  'audit',
  'procurement',
  'personnel',
  'pensions',
  'market-regulation',
  'food-safety',
  'drug-safety',
  'ethnic-affairs',
  'religious-affairs',
  'civil-defence',
  'roads',
  'ports',
  'aviation',
  'railways',
  'post',
  'telecom',
  'waste',
  'sanitation',
  'zoning',
  'ombudsman',
  'data-bureau',
] as const;

export const DEPARTMENT_COUNT = 57;
export const ORIGIN = 'dirchain.example.gov/city';
/**
 * An application kind (`x.`): accepted from any active member with any plain
 * body, both by the core ledger and by the directory rules, which refuse a
 * directory `access.log` unless it names a live grant the workload does not set up.
 */
export const ACCESS_LOG_KIND = 'x.access-log';
/** 2025-01-01T00:00:00Z: access-log timestamps start here (fixed, so bytes are reproducible). */
export const BASE_TIME = 1_735_689_600_000;
const RESOURCE_COUNT = 31_000;
const SCENARIO_COUNT = 150;
const GRANT_COUNT = 8_000;
const OPERATIONS = ['query', 'download', 'api.read', 'subscribe', 'export', 'verify'] as const;
const STATUSES = [200, 200, 200, 200, 200, 200, 200, 206, 304, 403, 404, 429] as const;

export interface Department {
  readonly id: string;
  readonly name: string;
  readonly signerKey: string;
  readonly publicKey: Uint8Array;
  readonly member: MemberSigner;
}

export interface Directory {
  readonly seed: number;
  readonly origin: string;
  /** Signer key of the sequencer (named after the origin, as createLedger requires). */
  readonly sequencerKey: string;
  readonly departments: readonly Department[];
  /** Genesis members: the bureau's admin plus the 57 departments (provider + consumer). */
  readonly members: readonly MemberSpec[];
  /** The data bureau's admin (`data-bureau.admin`): registers scenarios, countersigns level-4 grants. */
  readonly admin: MemberSigner;
  /** Resource → owning department, and classification level 1..4. */
  readonly resourceOwner: Uint16Array;
  readonly resourceLevel: Uint8Array;
  readonly resourceFields: Uint8Array;
}

/** The members and resources of the city directory (keys included). */
export function makeDirectory(seed: number): Directory {
  const rng = new Rng(seed);
  const sequencerKey = generateKeyPair(ORIGIN, rng.bytes(32)).signerKey;
  const admin = generateKeyPair('data-bureau.admin', rng.bytes(32));
  const departments: Department[] = [];
  for (let i = 0; i < DEPARTMENT_COUNT; i++) {
    const name = DEPARTMENT_NAMES[i]!;
    const id = `d${String(i + 1).padStart(2, '0')}.${name}`;
    const pair = generateKeyPair(id, rng.bytes(32));
    departments.push({
      id,
      name: `Department of ${name}`,
      signerKey: pair.signerKey,
      publicKey: pair.publicKey,
      member: memberSigner(pair.signerKey),
    });
  }
  const members: MemberSpec[] = [
    { id: 'data-bureau.admin', name: 'City Data Bureau', roles: ['admin'], signingKey: admin.publicKey },
    ...departments.map(
      (d): MemberSpec => ({
        id: d.id,
        name: d.name,
        roles: ['provider', 'consumer'],
        signingKey: d.publicKey,
      }),
    ),
  ];
  // Resources are spread unevenly: department i owns a share proportional to 1/(i+1)^0.7.
  const weights = departments.map((_, i) => 1 / (i + 1) ** 0.7);
  const total = weights.reduce((a, b) => a + b, 0);
  const cumulative: number[] = [];
  let acc = 0;
  for (const w of weights) {
    acc += w / total;
    cumulative.push(acc);
  }
  const resourceOwner = new Uint16Array(RESOURCE_COUNT);
  const resourceLevel = new Uint8Array(RESOURCE_COUNT);
  const resourceFields = new Uint8Array(RESOURCE_COUNT);
  for (let r = 0; r < RESOURCE_COUNT; r++) {
    const u = rng.float();
    let d = 0;
    while (d < cumulative.length - 1 && cumulative[d]! < u) d++;
    resourceOwner[r] = d;
    const v = rng.float();
    resourceLevel[r] = v < 0.4 ? 1 : v < 0.75 ? 2 : v < 0.95 ? 3 : 4;
    resourceFields[r] = rng.int(5, 40);
  }
  return {
    seed,
    origin: ORIGIN,
    sequencerKey,
    departments,
    members,
    admin: memberSigner(admin.signerKey),
    resourceOwner,
    resourceLevel,
    resourceFields,
  };
}

/** One access-log record before signing. */
export interface AccessLogDraft {
  readonly author: number;
  readonly timestamp: number;
  readonly body: Plain;
}

/** Generates access-log drafts: the owning department logs a consumer's access to its resource. */
export class AccessLogGenerator {
  readonly #dir: Directory;
  readonly #rng: Rng;
  #time = BASE_TIME;

  constructor(dir: Directory, seed: number) {
    this.#dir = dir;
    this.#rng = new Rng(seed ^ 0x5bd1e995);
  }

  next(): AccessLogDraft {
    const rng = this.#rng;
    const dir = this.#dir;
    this.#time += rng.int(1, 60); // ~30 ms apart on average
    const resource = rng.int(0, RESOURCE_COUNT - 1);
    const owner = dir.resourceOwner[resource]!;
    let consumer = rng.int(0, DEPARTMENT_COUNT - 1);
    if (consumer === owner) consumer = (consumer + 1) % DEPARTMENT_COUNT;
    const fieldCount = dir.resourceFields[resource]!;
    const fields: number[] = [];
    const want = rng.int(1, Math.min(6, fieldCount));
    for (let f = 0; f < want; f++) fields.push(rng.int(0, fieldCount - 1));
    const status = rng.pick(STATUSES);
    const body: Plain = {
      resource: `res-${String(resource).padStart(5, '0')}`,
      level: dir.resourceLevel[resource]!,
      consumer: dir.departments[consumer]!.id,
      scenario: `sc-${String(rng.int(1, SCENARIO_COUNT)).padStart(3, '0')}`,
      grant: `grant-${String(rng.int(1, GRANT_COUNT)).padStart(4, '0')}`,
      op: rng.pick(OPERATIONS),
      fields,
      rows: status === 200 ? rng.int(1, 5000) : 0,
      status,
      client: `10.${rng.int(0, 255)}.${rng.int(0, 255)}.${rng.int(1, 254)}`,
      session: rng.bytes(16),
    };
    return { author: owner, timestamp: this.#time, body };
  }
}

/** Signs one access-log draft as its department (a single signed record). */
export function signAccessLog(dir: Directory, draft: AccessLogDraft): LedgerRecord {
  const dept = dir.departments[draft.author]!;
  return signRecord(
    {
      origin: dir.origin,
      kind: ACCESS_LOG_KIND,
      author: dept.id,
      keyId: 0,
      timestamp: draft.timestamp,
      body: draft.body,
    },
    dept.member.signer,
  );
}

/** Signs access logs of one department as a batch (one seal over their events), timestamped `timestamp`. */
export function signAccessLogBatch(
  dir: Directory,
  author: number,
  timestamp: number,
  bodies: readonly Plain[],
): SignedBatch {
  const dept = dir.departments[author]!;
  return signBatch(
    { origin: dir.origin, kind: ACCESS_LOG_KIND, author: dept.id, keyId: 0, timestamp },
    bodies,
    dept.member.signer,
  );
}

/**
 * Pre-generated, pre-signed access-log records, packed into a few large buffers
 * (bench/packed.ts): the bench's own heap holds no per-record objects, so V8's
 * collector has nothing to trace during the timed runs. The bodies are not
 * kept: `accessLogBodies` regenerates them (same seed, same drafts) for the
 * variants that need them.
 */
export interface AccessLogs {
  readonly count: number;
  /** The generator seed the records were made from (for `accessLogBodies`). */
  readonly seed: number;
  /** The log entries (signed record bytes). */
  readonly entries: PackedBytes;
  /** What each entry was made from: author (department index) and timestamp. */
  readonly authors: Uint16Array;
  readonly timestamps: Float64Array;
  /** Sum of entry lengths. */
  readonly totalBytes: number;
}

/** Generates and signs `count` access-log records (deterministic in `dir.seed` and `seed`). */
export function generateAccessLogs(dir: Directory, count: number, seed = dir.seed): AccessLogs {
  const gen = new AccessLogGenerator(dir, seed);
  const entries = new PackedBytes();
  const authors = new Uint16Array(count);
  const timestamps = new Float64Array(count);
  for (let i = 0; i < count; i++) {
    const draft = gen.next();
    const record = signAccessLog(dir, draft);
    entries.push(record.bytes);
    authors[i] = draft.author;
    timestamps[i] = draft.timestamp;
  }
  return { count, seed, entries, authors, timestamps, totalBytes: entries.totalBytes };
}

/**
 * The drafts of the first `n` records of `logs`, made again from the same
 * seed (drafting without signing is cheap), each checked against the stored
 * author and timestamp. Callers hold them only around the run that needs them.
 */
export function* accessLogDrafts(
  dir: Directory,
  logs: AccessLogs,
  n = logs.count,
): Generator<AccessLogDraft> {
  const gen = new AccessLogGenerator(dir, logs.seed);
  for (let i = 0; i < n; i++) {
    const d = gen.next();
    if (d.author !== logs.authors[i] || d.timestamp !== logs.timestamps[i])
      throw new Error(`access log ${i}: regenerated draft differs from the pre-generated record`);
    yield d;
  }
}

/** The bodies of the first `n` records of `logs`, regenerated (see `accessLogDrafts`). */
export function accessLogBodies(dir: Directory, logs: AccessLogs, n = logs.count): Plain[] {
  const bodies: Plain[] = new Array(n);
  let i = 0;
  for (const d of accessLogDrafts(dir, logs, n)) bodies[i++] = d.body;
  return bodies;
}

// ---- the city directory, loaded through the domain API (figure 5) ------------------------------

/** How big a city to plan: the full city is 31,000 resources, 150 scenarios, 5,000 requests, 8,000 grants. */
export interface CityScale {
  readonly resources: number;
  readonly scenarios: number;
  readonly requests: number;
  readonly grants: number;
  readonly accessLogs: number;
}

export const FULL_CITY: CityScale = {
  resources: RESOURCE_COUNT,
  scenarios: SCENARIO_COUNT,
  requests: 5_000,
  grants: GRANT_COUNT,
  accessLogs: 20_000,
};

/** The full city scaled by `fraction` (departments stay 57). */
export function scaledCity(fraction: number): CityScale {
  const s = (n: number): number => Math.max(1, Math.round(n * fraction));
  return {
    resources: Math.min(RESOURCE_COUNT, s(FULL_CITY.resources)),
    scenarios: s(FULL_CITY.scenarios),
    requests: s(FULL_CITY.requests),
    grants: s(FULL_CITY.grants),
    accessLogs: s(FULL_CITY.accessLogs),
  };
}

const DAY = 86_400_000;
/**
 * The city's "now" (2025-06-30T00:00:00Z): the benchmark ledgers' clock returns this fixed time,
 * so every record, block time and grant window is reproducible from the seed.
 */
export const CITY_NOW = BASE_TIME + 180 * DAY;

export const THEMES = [
  'population',
  'health',
  'transport',
  'education',
  'public-safety',
  'housing',
  'environment',
  'economy',
  'employment',
  'social-security',
  'agriculture',
  'land',
  'culture',
  'tourism',
  'finance',
  'legal',
  'infrastructure',
  'weather',
  'governance',
  'statistics',
] as const;

const SUBJECTS = [
  'building permit',
  'business licence',
  'vehicle registration',
  'school enrolment',
  'hospital admission',
  'vaccination',
  'tax filing',
  'property transaction',
  'water quality',
  'air quality',
  'noise complaint',
  'road maintenance',
  'bus ridership',
  'parking violation',
  'pension payment',
  'unemployment benefit',
  'birth',
  'death',
  'marriage',
  'household',
  'social assistance',
  'disability allowance',
  'food inspection',
  'drug recall',
  'fire incident',
  'emergency call',
  'crime report',
  'court case',
  'land parcel',
  'forest inventory',
  'crop subsidy',
  'fishing licence',
  'museum visitor',
  'library loan',
  'tourist arrival',
  'hotel occupancy',
  'procurement contract',
  'audit finding',
  'staff record',
  'weather station',
] as const;
const KIND_WORDS = [
  'register',
  'records',
  'statistics',
  'inventory',
  'log',
  'index',
  'survey',
  'ledger',
  'archive',
  'dataset',
] as const;
const QUALIFIERS = [
  'daily',
  'monthly',
  'quarterly',
  'annual',
  'historical',
  'district',
  'citywide',
  'real-time',
  'consolidated',
  'preliminary',
] as const;
const SCOPES = [
  'all districts since 2015',
  'the central districts',
  'every registered entity in the city',
  'residents and non-residents',
  'cases opened in the last five years',
  'the metropolitan area',
  'all municipal facilities',
] as const;
const FORMATS = ['table', 'api', 'file', 'stream'] as const;
const CYCLES = ['real-time', 'daily', 'weekly', 'monthly', 'quarterly', 'yearly'] as const;
const PURPOSES = [
  'eligibility check',
  'means test',
  'fraud detection',
  'service planning',
  'statistical analysis',
  'case handling',
  'identity verification',
  'emergency response',
  'licence renewal',
  'inspection planning',
] as const;
const FIELD_POOL = [
  'name',
  'id_number',
  'address',
  'district',
  'phone',
  'email',
  'birth_date',
  'gender',
  'nationality',
  'household_id',
  'licence_no',
  'permit_no',
  'plate_no',
  'case_no',
  'amount',
  'currency',
  'status',
  'start_date',
  'end_date',
  'updated_at',
  'latitude',
  'longitude',
  'parcel_id',
  'building_id',
  'school_id',
  'hospital_id',
  'diagnosis',
  'prescription',
  'income',
  'employer',
  'tax_id',
  'bank_account',
  'photo',
  'fingerprint',
  'vehicle_type',
  'route_id',
  'stop_id',
  'sensor_id',
  'reading',
  'unit',
  'category',
  'subcategory',
  'inspector',
  'result',
  'score',
  'remarks',
  'contact_person',
  'org_code',
  'legal_rep',
  'capital',
  'industry_code',
  'land_use',
  'area_m2',
  'price',
  'owner_name',
  'tenant_name',
  'violation',
  'fine',
  'court',
  'judge',
  'verdict',
  'sentence',
  'benefit_type',
  'payment_date',
  'pension_no',
  'insured_since',
  'disability_grade',
  'school_grade',
  'class_id',
  'teacher_id',
  'crop',
  'yield_t',
  'species',
  'catch_kg',
  'visitor_count',
  'ticket_type',
  'hotel_id',
  'room_nights',
  'contract_no',
  'supplier',
  'bid_amount',
  'audit_no',
  'finding',
  'staff_no',
  'position',
  'salary_band',
  'station_id',
  'temperature',
  'rainfall',
  'wind_speed',
  'pm25',
  'noise_db',
  'call_id',
  'incident_type',
  'response_min',
  'unit_id',
  'alarm_time',
  'emergency_contact',
  'marital_status',
  'education_level',
] as const;
/** Words for text-search queries: common title words, field names, and two that match nothing. */
export const SEARCH_WORDS: readonly string[] = [
  ...KIND_WORDS,
  ...QUALIFIERS,
  ...SUBJECTS.flatMap((s) => s.split(' ')),
  'address',
  'diagnosis',
  'photo',
  'income',
  'inspector',
  'zeppelin',
  'quokka',
];

/** Sharing type by classification level: P(unconditional), P(conditional); the rest is not shared. */
const SHARING_BY_LEVEL: Record<number, readonly [number, number]> = {
  1: [0.7, 0.25],
  2: [0.4, 0.5],
  3: [0.15, 0.65],
  4: [0.05, 0.6],
};

export interface PlannedRequest {
  readonly consumer: number;
  readonly input: RequestInput;
  /** What happens to it: answered by a grant, refused, closed by the consumer, or left open. */
  readonly fate: 'granted' | 'refused' | 'closed' | 'open';
}

export interface PlannedGrant {
  readonly provider: number;
  readonly input: GrantInput;
  /** Names a level-4 field: the bureau countersigns (`{ approvers: [admin] }`). */
  readonly countersign: boolean;
  /** Revoked after the access logs, by its provider or by the bureau. */
  readonly revokeBy?: 'provider' | 'bureau';
}

export interface PlannedAccess {
  readonly consumer: number;
  readonly input: AccessInput;
}

/** Everything the city load appends, planned from the seed (nothing signed yet). */
export interface City {
  readonly dir: Directory;
  readonly scale: CityScale;
  /** The fixed clock of the benchmark ledgers. */
  readonly now: number;
  readonly resources: readonly ResourceSpec[];
  readonly scenarios: ReadonlyArray<{ readonly by: MemberSigner; readonly spec: ScenarioSpec }>;
  readonly requests: readonly PlannedRequest[];
  readonly grants: readonly PlannedGrant[];
  readonly accessLogs: readonly PlannedAccess[];
  /** Department themes (a department's resources are mostly of its main theme). */
  readonly themes: readonly string[];
}

const pad = (n: number, width: number): string => String(n).padStart(width, '0');

/** `k` distinct items of `pool` (partial Fisher–Yates on a copy). */
function sample<T>(rng: Rng, pool: readonly T[], k: number): T[] {
  const a = pool.slice();
  const n = Math.min(k, a.length);
  for (let i = 0; i < n; i++) {
    const j = i + Math.floor(rng.float() * (a.length - i));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a.slice(0, n);
}

function shuffle<T>(rng: Rng, a: T[]): T[] {
  for (let i = a.length - 1; i > 0; i--) {
    const j = Math.floor(rng.float() * (i + 1));
    const t = a[i]!;
    a[i] = a[j]!;
    a[j] = t;
  }
  return a;
}

/**
 * Plans the city directory: resources `res-00000…` (the first `scale.resources` of the directory's
 * owners/levels/field counts), scenarios, need-list requests, grants (conditional resources answer
 * an open request; level-4 fields countersigned by the bureau; some expired, some not yet valid,
 * some revoked later) and access logs under grants live at `CITY_NOW`. Deterministic in `dir.seed`
 * (its own PRNG stream, so figure 1's records are unchanged).
 */
export function planCity(dir: Directory, scale: CityScale): City {
  const rng = new Rng(dir.seed ^ 0x2545f491);
  const now = CITY_NOW;
  const D = dir.departments.length;
  const mainTheme = dir.departments.map(() => rng.pick(THEMES));

  const resources: ResourceSpec[] = [];
  for (let r = 0; r < scale.resources; r++) {
    const owner = dir.resourceOwner[r]!;
    const dept = dir.departments[owner]!;
    const level = dir.resourceLevel[r]!;
    const subject = rng.pick(SUBJECTS);
    const kindWord = rng.pick(KIND_WORDS);
    const qualifier = rng.pick(QUALIFIERS);
    const cycle = rng.pick(CYCLES);
    const names = ['record_id', ...sample(rng, FIELD_POOL, dir.resourceFields[r]! - 1)];
    const fields = names.map((name, i) => ({ name, level: i === 0 ? 1 : rng.int(1, level) }));
    fields[rng.int(1, fields.length - 1)]!.level = level; // the resource's level is its highest field's
    const [pu, pc] = SHARING_BY_LEVEL[level]!;
    const u = rng.float();
    const sharing: Sharing = u < pu ? 'unconditional' : u < pu + pc ? 'conditional' : 'none';
    const title = `${qualifier[0]!.toUpperCase()}${qualifier.slice(1)} ${subject} ${kindWord}`;
    resources.push({
      id: `res-${pad(r, 5)}`,
      owner: dept.id,
      title,
      description:
        `${title} kept by the ${dept.name}, covering ${rng.pick(SCOPES)}; updated ${cycle}. ` +
        `Source system ${dept.id.slice(4)}-${rng.int(1, 6)}.`,
      theme: rng.float() < 0.7 ? mainTheme[owner]! : rng.pick(THEMES),
      format: rng.pick(FORMATS),
      updateCycle: cycle,
      sourceSystem: `${dept.id.slice(4)}-${rng.int(1, 6)}`,
      fields,
      level,
      sharing,
      opening:
        sharing === 'none' ? 'closed' : level === 1 && sharing === 'unconditional' ? 'open' : 'on request',
    });
  }
  const shareable = resources.flatMap((res, r) => (res.sharing === 'none' ? [] : [r]));
  // Popular resources get more grants: index = floor(n · u²) over a shuffled list.
  shuffle(rng, shareable);

  const scenarios: Array<{ by: MemberSigner; spec: ScenarioSpec }> = [];
  for (let s = 1; s <= scale.scenarios; s++) {
    const lead = rng.int(0, D - 1);
    scenarios.push({
      // Half by the bureau (an admin), half by the lead department itself.
      by: s % 2 === 0 ? dir.admin : dir.departments[lead]!.member,
      spec: {
        id: `sc-${pad(s, 3)}`,
        name: `${rng.pick(PURPOSES)} for ${rng.pick(SUBJECTS)} services`,
        lead: dir.departments[lead]!.id,
        legalBasis: `Municipal Data Sharing Regulation, art. ${rng.int(1, 80)}`,
      },
    });
  }
  const scenarioId = (): string => `sc-${pad(rng.int(1, scale.scenarios), 3)}`;
  const purpose = (): string => `${rng.pick(PURPOSES)} (case ${rng.int(10_000, 99_999)})`;
  const otherDept = (owner: number): number => {
    const c = rng.int(0, D - 2);
    return c >= owner ? c + 1 : c;
  };

  // Grants (with the requests the conditional ones answer), then the remaining requests.
  type Draft = { consumer: number; resource: number; fields: string[]; scenario: string; purpose: string };
  const requestDrafts: Array<{ draft: Draft; fate: PlannedRequest['fate']; grant?: number }> = [];
  const grantDrafts: Array<Draft & { request?: number; countersign: boolean; from: number; to: number }> = [];
  const draftFor = (r: number, allowCore: boolean): Draft => {
    const res = resources[r]!;
    const pool = res.fields.filter((f) => allowCore || f.level < 4).map((f) => f.name);
    return {
      consumer: otherDept(dir.resourceOwner[r]!),
      resource: r,
      fields: sample(rng, pool, rng.int(1, Math.min(8, pool.length))),
      scenario: scenarioId(),
      purpose: purpose(),
    };
  };
  for (let g = 0; g < scale.grants; g++) {
    const r = shareable[Math.floor(shareable.length * rng.float() ** 2)]!;
    const res = resources[r]!;
    const draft = draftFor(r, res.level === 4 && rng.float() < 0.6);
    const countersign = draft.fields.some((f) => res.fields.find((x) => x.name === f)!.level === 4);
    const u = rng.float();
    let from: number;
    let to: number;
    if (u < 0.1) {
      from = now - rng.int(200, 400) * DAY; // expired
      to = now - rng.int(1, 100) * DAY;
    } else if (u < 0.13) {
      from = now + rng.int(1, 60) * DAY; // not yet valid
      to = from + 365 * DAY;
    } else {
      from = now - rng.int(1, 365) * DAY; // live
      to = now + rng.int(30, 730) * DAY;
    }
    let request: number | undefined;
    if (res.sharing === 'conditional') {
      request = requestDrafts.length;
      requestDrafts.push({ draft, fate: 'granted', grant: g });
    }
    grantDrafts.push({ ...draft, ...(request === undefined ? {} : { request }), countersign, from, to });
  }
  while (requestDrafts.length < scale.requests) {
    const r = shareable[Math.floor(shareable.length * rng.float() ** 2)]!;
    const u = rng.float();
    requestDrafts.push({
      draft: draftFor(r, true),
      fate: u < 0.6 ? 'open' : u < 0.85 ? 'refused' : 'closed',
    });
  }
  // Request ids in a random order, so open ones are spread through each provider's index.
  const order = shuffle(
    rng,
    requestDrafts.map((_, i) => i),
  );
  const requestId: string[] = new Array(requestDrafts.length);
  order.forEach((draftIndex, position) => {
    requestId[draftIndex] = `req-${pad(position + 1, 5)}`;
  });
  const requests: PlannedRequest[] = order.map((i) => {
    const { draft, fate } = requestDrafts[i]!;
    const res = resources[draft.resource]!;
    return {
      consumer: draft.consumer,
      fate,
      input: {
        id: requestId[i]!,
        provider: res.owner,
        resource: res.id,
        fields: draft.fields,
        scenario: draft.scenario,
        purpose: draft.purpose,
      },
    };
  });
  const grants: PlannedGrant[] = grantDrafts.map((d, g) => {
    const res = resources[d.resource]!;
    const u = rng.float();
    const revokeBy = u < 0.068 ? 'provider' : u < 0.08 ? 'bureau' : undefined;
    const input: GrantInput = {
      id: `gr-${pad(g + 1, 5)}`,
      consumer: dir.departments[d.consumer]!.id,
      resource: res.id,
      fields: d.fields,
      scenario: d.scenario,
      purpose: d.purpose,
      validFrom: d.from,
      validTo: d.to,
      ...(res.sharing === 'conditional' ? { conditions: 'no onward sharing; delete after use' } : {}),
      ...(d.request === undefined ? {} : { request: requestId[d.request]! }),
    };
    return {
      provider: dir.resourceOwner[d.resource]!,
      input,
      countersign: d.countersign,
      ...(revokeBy === undefined ? {} : { revokeBy }),
    };
  });

  const live = grants.filter((g) => g.input.validFrom <= now && now < g.input.validTo);
  shuffle(rng, live);
  const deptIndex = new Map(dir.departments.map((d, i) => [d.id, i]));
  const accessLogs: PlannedAccess[] = [];
  for (let i = 0; i < scale.accessLogs && live.length > 0; i++) {
    const g = live[Math.floor(live.length * rng.float() ** 3)]!;
    accessLogs.push({
      consumer: deptIndex.get(g.input.consumer)!,
      input: {
        grant: g.input.id,
        fields: sample(rng, g.input.fields, rng.int(1, g.input.fields.length)),
        count: rng.int(1, 5000),
        // Unique per log: the ledger clock is fixed, and identical record bytes are accepted once.
        purpose: `${rng.pick(PURPOSES)} (request ${pad(i + 1, 6)})`,
      },
    });
  }
  return { dir, scale, now, resources, scenarios, requests, grants, accessLogs, themes: THEMES };
}

/** One load phase: `count` appends through the domain API, independent of each other. */
export interface LoadPhase {
  readonly name: string;
  readonly count: number;
  readonly op: (ledger: Ledger, i: number) => Promise<Receipt>;
}

/**
 * The load, phase by phase (each phase needs the previous ones durable): resources, scenarios,
 * need-list requests, grants, answers/closes, access logs, revocations. Every record is signed by
 * its author's own key (`memberSigner`), through `ledger.directory.*`.
 */
export function cityPhases(city: City): LoadPhase[] {
  const { dir } = city;
  const dept = (i: number): MemberSigner => dir.departments[i]!.member;
  // A granted request is answered by the grant that names it (the same record): only refusals and closes remain.
  const answered = city.requests.filter((r) => r.fate === 'refused' || r.fate === 'closed');
  const deptIndex = new Map(dir.departments.map((d, i) => [d.id, i]));
  const revoked = city.grants.filter((g) => g.revokeBy !== undefined);
  return [
    {
      name: 'resources',
      count: city.resources.length,
      op: (l, i) => {
        const r = city.resources[i]!;
        return l.directory.registerResource(dept(dir.resourceOwner[i]!), r);
      },
    },
    {
      name: 'scenarios',
      count: city.scenarios.length,
      op: (l, i) => l.directory.registerScenario(city.scenarios[i]!.by, city.scenarios[i]!.spec),
    },
    {
      name: 'requests',
      count: city.requests.length,
      op: (l, i) => l.directory.openRequest(dept(city.requests[i]!.consumer), city.requests[i]!.input),
    },
    {
      name: 'grants',
      count: city.grants.length,
      op: (l, i) => {
        const g = city.grants[i]!;
        return l.directory.issueGrant(
          dept(g.provider),
          g.input,
          g.countersign ? { approvers: [dir.admin] } : undefined,
        );
      },
    },
    {
      name: 'answers',
      count: answered.length,
      op: (l, i) => {
        const r = answered[i]!;
        if (r.fate === 'closed')
          return l.directory.closeRequest(dept(r.consumer), r.input.id, 'no longer needed');
        const provider = dept(deptIndex.get(r.input.provider)!);
        return l.directory.answerRequest(provider, r.input.id, {
          decision: 'refused',
          reason: 'no legal basis for these fields',
        });
      },
    },
    {
      name: 'access logs',
      count: city.accessLogs.length,
      op: (l, i) => l.directory.logAccess(dept(city.accessLogs[i]!.consumer), city.accessLogs[i]!.input),
    },
    {
      name: 'revocations',
      count: revoked.length,
      op: (l, i) => {
        const g = revoked[i]!;
        const by = g.revokeBy === 'bureau' ? dir.admin : dept(g.provider);
        return l.directory.revokeGrant(by, g.input.id, 'scenario closed');
      },
    },
  ];
}

/** A new benchmark ledger for the city: genesis members, `sync` durability, the city's fixed clock. */
export function createCityLedger(path: string, city: City): Promise<Ledger> {
  return createLedger(path, {
    origin: city.dir.origin,
    sequencerKey: city.dir.sequencerKey,
    members: [...city.dir.members],
    durability: 'sync',
    clock: () => city.now,
  });
}
