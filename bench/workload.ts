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
  generateKeyPair,
  type MemberSigner,
  type MemberSpec,
  memberSigner,
  signRecord,
} from '../src/index.js';

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

/** Pre-generated, pre-signed access-log records, packed into a few large buffers. */
export interface AccessLogs {
  readonly count: number;
  /** The log entries (signed record bytes), views into shared buffers. */
  readonly entries: Uint8Array[];
  /** What each entry was made from: author index, timestamp and body. */
  readonly authors: Uint16Array;
  readonly timestamps: Float64Array;
  readonly bodies: Plain[];
  /** Sum of entry lengths. */
  readonly totalBytes: number;
}

const CHUNK = 32 * 1024 * 1024;

/** Generates and signs `count` access-log records (deterministic in `dir.seed` and `seed`). */
export function generateAccessLogs(dir: Directory, count: number, seed = dir.seed): AccessLogs {
  const gen = new AccessLogGenerator(dir, seed);
  const entries: Uint8Array[] = new Array(count);
  const authors = new Uint16Array(count);
  const timestamps = new Float64Array(count);
  const bodies: Plain[] = new Array(count);
  let chunk = new Uint8Array(CHUNK);
  let at = 0;
  let totalBytes = 0;
  for (let i = 0; i < count; i++) {
    const draft = gen.next();
    const dept = dir.departments[draft.author]!;
    const record = signRecord(
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
    const bytes = record.bytes;
    if (at + bytes.length > chunk.length) {
      chunk = new Uint8Array(CHUNK);
      at = 0;
    }
    chunk.set(bytes, at);
    entries[i] = chunk.subarray(at, at + bytes.length);
    at += bytes.length;
    totalBytes += bytes.length;
    authors[i] = draft.author;
    timestamps[i] = draft.timestamp;
    bodies[i] = draft.body;
  }
  return { count, entries, authors, timestamps, bodies, totalBytes };
}
