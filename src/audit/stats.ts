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
 * Anomalies. Refused attempts never reach the ledger, so every anomaly is a
 * pattern among accepted records, defined exactly (W = `window`, default 1 h):
 *  - access-before-revocation: a grant.revoke of grant G at block time t, and
 *    access.log records on G with block time in [t − W, t]. One item per revocation.
 *  - access-near-expiry: access.log records on G with block time in
 *    [validTo − W, validTo) (the last use before expiry that the ledger can show:
 *    later ones are refused). One item per grant.
 *  - level4-grant: a grant.issue whose fields include a field the resource
 *    (latest registered version) marks level 4 (core); lists who countersigned.
 *  - authored-before-suspension: a member.suspend or member.remove of member M
 *    at block time t, and records authored by M with block time in [t − W, t).
 *    One item per suspension.
 *  - burst: one author's records in one UTC minute (block time) number at least
 *    `burstMin` (default 100) and at least `burstFactor` (default 10) times that
 *    author's mean per active minute over the whole ledger.
 *  - unknown-kind: records of a kind that is neither a directory kind nor an
 *    application kind (x.*) this version knows. One item per kind.
 */

import { type DirectoryBody, parseBody } from '../directory/schemas.js';
import type { LedgerRecord } from '../encoding/record.js';

export interface StatsOptions {
  /** W in the anomaly definitions, in ms (default one hour). */
  readonly window?: number;
  readonly burstMin?: number;
  readonly burstFactor?: number;
  /** Anomaly items kept per type (counts are always exact). Default 200. */
  readonly maxAnomalies?: number;
}

export type AnomalyType =
  | 'access-before-revocation'
  | 'access-near-expiry'
  | 'level4-grant'
  | 'authored-before-suspension'
  | 'burst'
  | 'unknown-kind';

export interface Anomaly {
  readonly type: AnomalyType;
  /** The record the anomaly is about (revocation, grant, suspension, first record of a burst). */
  readonly index: number;
  /** Block time of that record. */
  readonly time: number;
  readonly subject: string;
  /** Records involved, when more than the one at `index`. */
  readonly count?: number;
  readonly first?: number;
  readonly last?: number;
  readonly detail: string;
}

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
  readonly anomalies: {
    readonly window: number;
    readonly counts: Record<AnomalyType, number>;
    readonly items: Anomaly[];
  };
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
/** Recent-activity lists are kept per block time; this caps one list. */
const RECENT_LIMIT = 4096;

/** Records of one block time: [time, first index, count]. */
type Run = [time: number, first: number, count: number];

interface GrantInfo {
  scenario: string;
  validTo: number;
  nearExpiry?: { count: number; first: number; last: number; time: number };
  recent: Run[];
}

type Counts = Map<string, number>;

function bump(m: Counts, k: string, by = 1): void {
  m.set(k, (m.get(k) ?? 0) + by);
}

function pushRun(runs: Run[], time: number, index: number): void {
  const last = runs[runs.length - 1];
  if (last !== undefined && last[0] === time && last[1] + last[2] === index) last[2]++;
  else {
    runs.push([time, index, 1]);
    if (runs.length > RECENT_LIMIT) runs.shift();
  }
}

function pruneRuns(runs: Run[], from: number): void {
  while (runs.length > 0 && runs[0]![0] < from) runs.shift();
}

/** Sum of runs with time in [from, to]: count, first and last index. */
function runsWithin(runs: readonly Run[], from: number, to: number) {
  let count = 0;
  let first = -1;
  let last = -1;
  for (const [t, i, c] of runs) {
    if (t < from || t > to) continue;
    if (first < 0) first = i;
    last = i + c - 1;
    count += c;
  }
  return { count, first, last };
}

export class AuditStats {
  readonly #window: number;
  readonly #burstMin: number;
  readonly #burstFactor: number;
  readonly #maxItems: number;
  #records = 0;
  #blocks = 0;
  #first: number | undefined;
  #last: number | undefined;
  #width = BUCKET_LADDER[0]!;
  /** bucket start → series name → key → count. */
  readonly #byBucket = new Map<number, Map<string, Counts>>();
  readonly #kinds: Counts = new Map();
  readonly #authors = new Map<string, { records: number; kinds: Counts; recent: Run[] }>();
  readonly #scenarioNames = new Map<string, string>();
  readonly #scenarios = new Map<string, { grants: number; accessLogs: number; items: number }>();
  readonly #grants = new Map<string, GrantInfo>();
  readonly #grantTotals = { issued: 0, revoked: 0, level4: 0 };
  readonly #resources = new Map<string, Map<string, number>>();
  readonly #anomalyCounts: Record<AnomalyType, number> = {
    'access-before-revocation': 0,
    'access-near-expiry': 0,
    'level4-grant': 0,
    'authored-before-suspension': 0,
    burst: 0,
    'unknown-kind': 0,
  };
  readonly #items: Anomaly[] = [];
  readonly #unknownKinds = new Map<string, { index: number; time: number; count: number }>();
  /** Per author: the current minute, its count and first index; minutes seen; burst candidates. */
  readonly #minutes = new Map<
    string,
    { minute: number; count: number; first: number; active: number; candidates: Anomaly[] }
  >();

  constructor(options: StatsOptions = {}) {
    this.#window = options.window ?? 3_600_000;
    this.#burstMin = options.burstMin ?? 100;
    this.#burstFactor = options.burstFactor ?? 10;
    this.#maxItems = options.maxAnomalies ?? 200;
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

  #anomaly(a: Anomaly): void {
    this.#anomalyCounts[a.type]++;
    if (this.#anomalyCounts[a.type] <= this.#maxItems) this.#items.push(a);
  }

  #addRecord(bucket: number, index: number, time: number, kind: string, author: string, body: unknown): void {
    this.#records++;
    bump(this.#kinds, kind);
    bump(this.#counts(bucket, 'kinds'), kind);
    bump(this.#counts(bucket, 'authors'), author);
    let a = this.#authors.get(author);
    if (a === undefined) {
      a = { records: 0, kinds: new Map(), recent: [] };
      this.#authors.set(author, a);
    }
    a.records++;
    bump(a.kinds, kind);
    pruneRuns(a.recent, time - this.#window);
    pushRun(a.recent, time, index);
    this.#countMinute(author, index, time);
    if (!DIRECTORY_KINDS.has(kind) && !kind.startsWith('x.')) {
      const u = this.#unknownKinds.get(kind);
      if (u) u.count++;
      else this.#unknownKinds.set(kind, { index, time, count: 1 });
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
        this.#resources.set(d.resource.id, new Map(d.resource.fields.map((f) => [f.name, f.level])));
        return;
      case 'grant.issue': {
        const t = d.grant.terms;
        this.#grantTotals.issued++;
        bump(this.#counts(bucket, 'grants'), 'issued');
        this.#scenario(t.scenario).grants++;
        this.#grants.set(t.id, { scenario: t.scenario, validTo: t.validTo, recent: [] });
        const levels = this.#resources.get(t.resource);
        const core = t.fields.filter((f) => levels?.get(f) === 4);
        if (core.length > 0) {
          this.#grantTotals.level4++;
          const by = d.grant.approvals.map((x) => x.member);
          this.#anomaly({
            type: 'level4-grant',
            index,
            time,
            subject: t.id,
            detail: `grant ${t.id} of ${t.resource} to ${t.consumer} covers level-4 field(s) ${core.join(', ')}; countersigned by ${by.length > 0 ? by.join(', ') : 'nobody'}`,
          });
        }
        return;
      }
      case 'grant.revoke': {
        this.#grantTotals.revoked++;
        bump(this.#counts(bucket, 'grants'), 'revoked');
        const g = this.#grants.get(d.revoke.id);
        if (g === undefined) return;
        const near = runsWithin(g.recent, time - this.#window, time);
        if (near.count > 0) {
          this.#anomaly({
            type: 'access-before-revocation',
            index,
            time,
            subject: d.revoke.id,
            count: near.count,
            first: near.first,
            last: near.last,
            detail: `${near.count} access log(s) on grant ${d.revoke.id} in the ${minutes(this.#window)} before its revocation`,
          });
        }
        g.recent = [];
        return;
      }
      case 'access.log': {
        const g = this.#grants.get(d.access.grant);
        const scenario = g?.scenario ?? '(unknown grant)';
        const s = this.#scenario(scenario);
        s.accessLogs++;
        s.items += d.access.count;
        bump(this.#counts(bucket, 'access'), scenario);
        if (g === undefined) return;
        pruneRuns(g.recent, time - this.#window);
        pushRun(g.recent, time, index);
        if (time >= g.validTo - this.#window && time < g.validTo) {
          if (g.nearExpiry) {
            g.nearExpiry.count++;
            g.nearExpiry.last = index;
          } else g.nearExpiry = { count: 1, first: index, last: index, time };
        }
        return;
      }
      case 'member.suspend':
      case 'member.remove': {
        const m = d.action.member;
        const recent = this.#authors.get(m)?.recent ?? [];
        const before = runsWithin(recent, time - this.#window, time - 1);
        if (before.count > 0) {
          this.#anomaly({
            type: 'authored-before-suspension',
            index,
            time,
            subject: m,
            count: before.count,
            first: before.first,
            last: before.last,
            detail: `${m} authored ${before.count} record(s) in the ${minutes(this.#window)} before ${d.kind === 'member.remove' ? 'removal' : 'suspension'}`,
          });
        }
        return;
      }
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

  #countMinute(author: string, index: number, time: number): void {
    const minute = Math.floor(time / MINUTE) * MINUTE;
    const m = this.#minutes.get(author);
    if (m === undefined) {
      this.#minutes.set(author, { minute, count: 1, first: index, active: 1, candidates: [] });
      return;
    }
    if (m.minute === minute) {
      m.count++;
      return;
    }
    this.#closeMinute(author, m);
    m.minute = minute;
    m.count = 1;
    m.first = index;
    m.active++;
  }

  #closeMinute(author: string, m: { minute: number; count: number; first: number; candidates: Anomaly[] }) {
    if (m.count >= this.#burstMin && m.candidates.length < RECENT_LIMIT) {
      m.candidates.push(burstOf(author, m));
    }
  }

  result(): AuditStatistics {
    // Streaming state is finished on a copy, so result() may be called more than once.
    const items = this.#items.slice();
    const counts = { ...this.#anomalyCounts };
    const add = (a: Anomaly) => {
      counts[a.type]++;
      if (counts[a.type] <= this.#maxItems) items.push(a);
    };
    for (const [id, g] of this.#grants) {
      const n = g.nearExpiry;
      if (n)
        add({
          type: 'access-near-expiry',
          index: n.first,
          time: n.time,
          subject: id,
          count: n.count,
          first: n.first,
          last: n.last,
          detail: `${n.count} access log(s) on grant ${id} in the ${minutes(this.#window)} before it expired at ${new Date(g.validTo).toISOString()}`,
        });
    }
    for (const [author, m] of this.#minutes) {
      const candidates = m.candidates.slice();
      if (m.count >= this.#burstMin) {
        candidates.push(burstOf(author, m));
      }
      const mean = (this.#authors.get(author)?.records ?? 0) / m.active;
      for (const c of candidates) if (c.count! >= this.#burstFactor * mean) add(c);
    }
    for (const [kind, u] of this.#unknownKinds) {
      add({
        type: 'unknown-kind',
        index: u.index,
        time: u.time,
        subject: kind,
        count: u.count,
        detail: `${u.count} record(s) of kind ${kind}, which this version of the report does not know`,
      });
    }
    items.sort((a, b) => a.index - b.index);

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
      anomalies: { window: this.#window, counts, items },
    };
  }
}

/** The burst anomaly of one author's minute (counted while streaming, and for the minute still open at the end). */
function burstOf(author: string, m: { minute: number; count: number; first: number }): Anomaly {
  return {
    type: 'burst',
    index: m.first,
    time: m.minute,
    subject: author,
    count: m.count,
    first: m.first,
    detail: `${author} wrote ${m.count} records in the minute from ${new Date(m.minute).toISOString()}`,
  };
}

function minutes(ms: number): string {
  return ms % 3_600_000 === 0 ? `${ms / 3_600_000} h` : `${Math.round(ms / 60_000)} min`;
}
