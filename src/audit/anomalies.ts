/**
 * Audit anomalies: patterns among accepted records worth a reader's look,
 * found in the same single streaming pass as the statistics. Memory is bounded
 * by the number of members, grants and resources, and by RECENT_LIMIT per list.
 *
 * Refused attempts never reach the ledger, so every anomaly is a pattern among
 * accepted records, defined exactly (W = `window`, default 1 h; times are block times):
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

import type { GrantTerms, Signed } from '../policy/schemas.js';

export interface AnomalyOptions {
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

/** The anomalies section of the statistics. */
export interface AnomalyReport {
  readonly window: number;
  readonly counts: Record<AnomalyType, number>;
  readonly items: Anomaly[];
}

const MINUTE = 60_000;
/** Recent-activity lists are kept per block time; this caps one list. */
const RECENT_LIMIT = 4096;

/** Records of one block time: [time, first index, count]. */
type Run = [time: number, first: number, count: number];

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

interface GrantActivity {
  validTo: number;
  nearExpiry?: { count: number; first: number; last: number; time: number };
  recent: Run[];
}

/**
 * Per author: records in all, recent records (for suspensions), and for bursts
 * the current minute, its count and first index, minutes seen, burst candidates.
 */
interface AuthorActivity {
  records: number;
  recent: Run[];
  minute: number;
  count: number;
  first: number;
  active: number;
  candidates: Anomaly[];
}

/** Finds the anomalies defined above; fed in log order by `AuditStats`. */
export class AnomalyDetector {
  readonly #window: number;
  readonly #burstMin: number;
  readonly #burstFactor: number;
  readonly #maxItems: number;
  readonly #counts: Record<AnomalyType, number> = {
    'access-before-revocation': 0,
    'access-near-expiry': 0,
    'level4-grant': 0,
    'authored-before-suspension': 0,
    burst: 0,
    'unknown-kind': 0,
  };
  readonly #items: Anomaly[] = [];
  readonly #authors = new Map<string, AuthorActivity>();
  readonly #grants = new Map<string, GrantActivity>();
  /** Resource id → field name → level, from its latest registered version. */
  readonly #resources = new Map<string, Map<string, number>>();
  readonly #unknownKinds = new Map<string, { index: number; time: number; count: number }>();

  constructor(options: AnomalyOptions = {}) {
    this.#window = options.window ?? 3_600_000;
    this.#burstMin = options.burstMin ?? 100;
    this.#burstFactor = options.burstFactor ?? 10;
    this.#maxItems = options.maxAnomalies ?? 200;
  }

  #anomaly(a: Anomaly): void {
    this.#counts[a.type]++;
    if (this.#counts[a.type] <= this.#maxItems) this.#items.push(a);
  }

  /** Every record, whatever its kind: the author's recent records and its minute. */
  addRecord(index: number, time: number, author: string): void {
    const minute = Math.floor(time / MINUTE) * MINUTE;
    let a = this.#authors.get(author);
    if (a === undefined) {
      a = { records: 0, recent: [], minute, count: 0, first: index, active: 1, candidates: [] };
      this.#authors.set(author, a);
    } else if (a.minute !== minute) {
      this.#closeMinute(author, a);
      a.minute = minute;
      a.count = 0;
      a.first = index;
      a.active++;
    }
    a.count++;
    a.records++;
    pruneRuns(a.recent, time - this.#window);
    pushRun(a.recent, time, index);
  }

  #closeMinute(author: string, a: AuthorActivity): void {
    if (a.count >= this.#burstMin && a.candidates.length < RECENT_LIMIT) {
      a.candidates.push(burstOf(author, a));
    }
  }

  unknownKind(index: number, time: number, kind: string): void {
    const u = this.#unknownKinds.get(kind);
    if (u) u.count++;
    else this.#unknownKinds.set(kind, { index, time, count: 1 });
  }

  /** A resource registered or updated: its field levels, for level4-grant. */
  addResource(id: string, fields: ReadonlyArray<{ name: string; level: number }>): void {
    this.#resources.set(id, new Map(fields.map((f) => [f.name, f.level])));
  }

  /** A grant issued. Returns whether it covers a level-4 field. */
  grantIssued(index: number, time: number, grant: Signed<GrantTerms>): boolean {
    const t = grant.terms;
    this.#grants.set(t.id, { validTo: t.validTo, recent: [] });
    const levels = this.#resources.get(t.resource);
    const core = t.fields.filter((f) => levels?.get(f) === 4);
    if (core.length === 0) return false;
    const by = grant.approvals.map((x) => x.member);
    this.#anomaly({
      type: 'level4-grant',
      index,
      time,
      subject: t.id,
      detail: `grant ${t.id} of ${t.resource} to ${t.consumer} covers level-4 field(s) ${core.join(', ')}; countersigned by ${by.length > 0 ? by.join(', ') : 'nobody'}`,
    });
    return true;
  }

  grantRevoked(index: number, time: number, id: string): void {
    const g = this.#grants.get(id);
    if (g === undefined) return;
    const near = runsWithin(g.recent, time - this.#window, time);
    if (near.count > 0) {
      this.#anomaly({
        type: 'access-before-revocation',
        index,
        time,
        subject: id,
        count: near.count,
        first: near.first,
        last: near.last,
        detail: `${near.count} access log(s) on grant ${id} in the ${minutes(this.#window)} before its revocation`,
      });
    }
    g.recent = [];
  }

  accessLogged(index: number, time: number, grant: string): void {
    const g = this.#grants.get(grant);
    if (g === undefined) return;
    pruneRuns(g.recent, time - this.#window);
    pushRun(g.recent, time, index);
    if (time >= g.validTo - this.#window && time < g.validTo) {
      if (g.nearExpiry) {
        g.nearExpiry.count++;
        g.nearExpiry.last = index;
      } else g.nearExpiry = { count: 1, first: index, last: index, time };
    }
  }

  /** A member.suspend or member.remove of `member`. */
  memberLeft(index: number, time: number, member: string, kind: 'member.suspend' | 'member.remove'): void {
    const recent = this.#authors.get(member)?.recent ?? [];
    const before = runsWithin(recent, time - this.#window, time - 1);
    if (before.count > 0) {
      this.#anomaly({
        type: 'authored-before-suspension',
        index,
        time,
        subject: member,
        count: before.count,
        first: before.first,
        last: before.last,
        detail: `${member} authored ${before.count} record(s) in the ${minutes(this.#window)} before ${kind === 'member.remove' ? 'removal' : 'suspension'}`,
      });
    }
  }

  result(): AnomalyReport {
    // Streaming state is finished on a copy, so result() may be called more than once.
    const items = this.#items.slice();
    const counts = { ...this.#counts };
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
    for (const [author, a] of this.#authors) {
      const candidates = a.candidates.slice();
      if (a.count >= this.#burstMin) {
        candidates.push(burstOf(author, a));
      }
      const mean = a.records / a.active;
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
    return { window: this.#window, counts, items };
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
