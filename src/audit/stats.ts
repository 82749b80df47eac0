/**
 * Audit statistics: verified blocks in, numbers out. Pure and streaming — one
 * pass in log order, memory bounded by the number of members, grants,
 * resources and scenarios (not by the number of records), so it runs beside
 * the replay of a ledger of any length.
 *
 * Time is block time (the sequencer's, signed in the block note), bucketed on
 * an epoch-aligned ladder of widths (1 min … 336 days) chosen so the whole span
 * fits in at most MAX_BUCKETS buckets; a wider width merges buckets exactly
 * because each width divides the next.
 *
 * Any kind is counted. Bodies of known directory kinds are decoded for the
 * grant, scenario and anomaly figures; a kind this version does not know (a
 * newer record form) is counted by kind and author and otherwise skipped.
 *
 * Anomalies are found in the same pass; anomalies.ts defines each one exactly.
 */

import type { LedgerRecord } from '../encoding/record.js';
import { type DirectoryBody, parseBody } from '../policy/schemas.js';
import { AnomalyDetector, type AnomalyOptions, type AnomalyReport } from './anomalies.js';

export type { Anomaly, AnomalyType } from './anomalies.js';

/** Today every option tunes the anomalies (see anomalies.ts). */
export type StatsOptions = AnomalyOptions;

/** Counts per bucket, aligned with `AuditStatistics.buckets`. */
export type Series = Record<string, number[]>;

export interface AuditStatistics {
  readonly records: number;
  readonly blocks: number;
  /** Block time of the first and last block (ms), undefined for no blocks. */
  readonly firstTime?: number;
  readonly lastTime?: number;
  readonly bucketMs: number;
  /** Start time of each bucket (ms since the epoch). */
  readonly buckets: number[];
  readonly kinds: Array<{ kind: string; records: number }>;
  readonly authors: Array<{ id: string; records: number; kinds: Record<string, number> }>;
  readonly scenarios: Array<{ id: string; name?: string; grants: number; accessLogs: number; items: number }>;
  readonly grants: { issued: number; revoked: number; level4: number };
  readonly series: {
    readonly kinds: Series;
    readonly authors: Series;
    readonly grants: { issued: number[]; revoked: number[] };
    readonly accessByScenario: Series;
  };
  readonly anomalies: AnomalyReport;
}

export const MAX_BUCKETS = 60;
const MINUTE = 60_000;
/** Each width divides the next, and all are aligned to the epoch, so buckets nest. */
export const BUCKET_LADDER = [1, 5, 15, 60, 360, 1440, 10080, 40320, 483840].map((m) => m * MINUTE);
const DIRECTORY_KINDS = new Set([
  'genesis',
  'member.add',
  'member.suspend',
  'member.reinstate',
  'member.remove',
  'member.roles',
  'member.rotate-key',
  'resource.register',
  'resource.update',
  'resource.retire',
  'scenario.register',
  'request.open',
  'request.answer',
  'request.close',
  'grant.issue',
  'grant.revoke',
  'access.log',
  'batch', // a seal; its events are counted as records of their own kind
]);

type Counts = Map<string, number>;

function bump(m: Counts, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

export class AuditStats {
  readonly #anomalies: AnomalyDetector;
  #records = 0;
  #blocks = 0;
  #first: number | undefined;
  #last: number | undefined;
  #width = BUCKET_LADDER[0]!;
  /** bucket start → series name → key → count. */
  readonly #byBucket = new Map<number, Map<string, Counts>>();
  readonly #kinds: Counts = new Map();
  readonly #authors = new Map<string, { records: number; kinds: Counts }>();
  readonly #scenarioNames = new Map<string, string>();
  readonly #scenarios = new Map<string, { grants: number; accessLogs: number; items: number }>();
  /** Grant id → its scenario, to count access logs by scenario. */
  readonly #grantScenarios = new Map<string, string>();
  readonly #grantTotals = { issued: 0, revoked: 0, level4: 0 };

  constructor(options: StatsOptions = {}) {
    this.#anomalies = new AnomalyDetector(options);
  }

  /** Adds one verified block (blocks in height order). */
  addBlock(block: {
    readonly time: number;
    readonly first: number;
    readonly records: ReadonlyArray<Pick<LedgerRecord, 'kind' | 'author' | 'body'>>;
  }): void {
    this.#blocks++;
    this.#first ??= block.time;
    this.#last = block.time;
    this.#widen();
    const bucket = this.#bucketOf(block.time);
    block.records.forEach((r, i) => {
      this.#addRecord(bucket, block.first + i, block.time, r.kind, r.author, r.body);
    });
  }

  #widen(): void {
    const span = this.#last! - this.#first!;
    let width = this.#width;
    for (const w of BUCKET_LADDER) {
      if (w < width) continue;
      width = w;
      if (Math.floor(this.#last! / w) - Math.floor(this.#first! / w) < MAX_BUCKETS) break;
    }
    if (width === this.#width && span >= 0) return;
    this.#width = width;
    const old = [...this.#byBucket];
    this.#byBucket.clear();
    for (const [start, series] of old) {
      const target = this.#bucketOf(start);
      for (const [name, counts] of series)
        for (const [k, v] of counts) bump(this.#counts(target, name), k, v);
    }
  }

  #bucketOf(time: number): number {
    return Math.floor(time / this.#width) * this.#width;
  }

  #counts(bucket: number, series: string): Counts {
    let s = this.#byBucket.get(bucket);
    if (s === undefined) {
      s = new Map();
      this.#byBucket.set(bucket, s);
    }
    let c = s.get(series);
    if (c === undefined) {
      c = new Map();
      s.set(series, c);
    }
    return c;
  }

  #addRecord(bucket: number, index: number, time: number, kind: string, author: string, body: unknown): void {
    this.#records++;
    bump(this.#kinds, kind);
    bump(this.#counts(bucket, 'kinds'), kind);
    bump(this.#counts(bucket, 'authors'), author);
    let a = this.#authors.get(author);
    if (a === undefined) {
      a = { records: 0, kinds: new Map() };
      this.#authors.set(author, a);
    }
    a.records++;
    bump(a.kinds, kind);
    this.#anomalies.addRecord(index, time, author);
    if (!DIRECTORY_KINDS.has(kind) && !kind.startsWith('x.')) {
      this.#anomalies.unknownKind(index, time, kind);
      return;
    }
    if (kind === 'genesis' || kind === 'batch' || kind.startsWith('x.')) return;
    let parsed: DirectoryBody;
    try {
      parsed = parseBody(kind, body);
    } catch {
      return; // a verified ledger's bodies parse; a future schema change must not stop the report
    }
    this.#addDirectory(bucket, index, time, parsed);
  }

  #addDirectory(bucket: number, index: number, time: number, d: DirectoryBody): void {
    switch (d.kind) {
      case 'scenario.register':
        this.#scenarioNames.set(d.scenario.id, d.scenario.name);
        this.#scenario(d.scenario.id);
        return;
      case 'resource.register':
      case 'resource.update':
        this.#anomalies.addResource(d.resource.id, d.resource.fields);
        return;
      case 'grant.issue': {
        const t = d.grant.terms;
        this.#grantTotals.issued++;
        bump(this.#counts(bucket, 'grants'), 'issued');
        this.#scenario(t.scenario).grants++;
        this.#grantScenarios.set(t.id, t.scenario);
        if (this.#anomalies.grantIssued(index, time, d.grant)) this.#grantTotals.level4++;
        return;
      }
      case 'grant.revoke':
        this.#grantTotals.revoked++;
        bump(this.#counts(bucket, 'grants'), 'revoked');
        this.#anomalies.grantRevoked(index, time, d.revoke.id);
        return;
      case 'access.log': {
        const scenario = this.#grantScenarios.get(d.access.grant) ?? '(unknown grant)';
        const s = this.#scenario(scenario);
        s.accessLogs++;
        s.items += d.access.count;
        bump(this.#counts(bucket, 'access'), scenario);
        this.#anomalies.accessLogged(index, time, d.access.grant);
        return;
      }
      case 'member.suspend':
      case 'member.remove':
        this.#anomalies.memberLeft(index, time, d.action.member, d.kind);
        return;
      default:
        return;
    }
  }

  #scenario(id: string) {
    let s = this.#scenarios.get(id);
    if (s === undefined) {
      s = { grants: 0, accessLogs: 0, items: 0 };
      this.#scenarios.set(id, s);
    }
    return s;
  }

  result(): AuditStatistics {
    const anomalies = this.#anomalies.result();
    const buckets: number[] = [];
    if (this.#first !== undefined) {
      for (let t = this.#bucketOf(this.#first); t <= this.#last!; t += this.#width) buckets.push(t);
    }
    const series = (name: string): Series => {
      const out: Series = {};
      buckets.forEach((b, i) => {
        for (const [k, v] of this.#byBucket.get(b)?.get(name) ?? []) {
          out[k] ??= new Array<number>(buckets.length).fill(0);
          out[k][i] = v;
        }
      });
      return out;
    };
    const grantSeries = series('grants');
    const zeros = () => new Array<number>(buckets.length).fill(0);
    return {
      records: this.#records,
      blocks: this.#blocks,
      ...(this.#first === undefined ? {} : { firstTime: this.#first, lastTime: this.#last! }),
      bucketMs: this.#width,
      buckets,
      kinds: [...this.#kinds]
        .map(([kind, records]) => ({ kind, records }))
        .sort((a, b) => b.records - a.records || a.kind.localeCompare(b.kind)),
      authors: [...this.#authors]
        .map(([id, a]) => ({ id, records: a.records, kinds: Object.fromEntries(a.kinds) }))
        .sort((a, b) => b.records - a.records || a.id.localeCompare(b.id)),
      scenarios: [...this.#scenarios]
        .map(([id, s]) => {
          const name = this.#scenarioNames.get(id);
          return { id, ...(name === undefined ? {} : { name }), ...s };
        })
        .sort((a, b) => b.accessLogs - a.accessLogs || a.id.localeCompare(b.id)),
      grants: { ...this.#grantTotals },
      series: {
        kinds: series('kinds'),
        authors: series('authors'),
        grants: { issued: grantSeries.issued ?? zeros(), revoked: grantSeries.revoked ?? zeros() },
        accessByScenario: series('access'),
      },
      anomalies,
    };
  }
}
