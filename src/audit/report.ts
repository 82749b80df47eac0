/**
 * The audit report: the verdict of the full replay and the statistics of the
 * records it verified, as one JSON document (report.json; html.ts renders the
 * same object). Pure: the verdict and statistics in, the document out.
 */
import type { LedgerReport } from '../chain/verify.js';
import type { AuditStatistics } from './stats.js';

export const REPORT_FORMAT = 'dirchain-audit-report/1';

export interface AuditReport {
  readonly format: typeof REPORT_FORMAT;
  /** When the report was made (ISO 8601). */
  readonly generatedAt: string;
  /** The ledger folder or URL audited. */
  readonly source: string;
  /**
   * The verdict, with the same fields as `verifyLedger`'s LedgerReport (so
   * scripts reading `dirchain audit --json` keep working): ok, records and
   * blocks verified good (up to the first bad one), and the first failure,
   * whose `index` is the first bad record when one is to blame.
   */
  readonly ok: boolean;
  readonly records: number;
  readonly blocks: number;
  readonly error?: { code: string; message: string; index?: number; height?: number };
  readonly origin?: string;
  readonly sequencerKey?: string;
  /** Whether the sequencer key was checked against keys the auditor gave (--key). */
  readonly keyTrusted: boolean;
  /** Block times of the first and last verified block (ISO 8601). */
  readonly timeSpan?: { readonly from: string; readonly to: string };
  /** For a served ledger: what was fetched. */
  readonly fetched?: { readonly requests: number; readonly bytes: number };
  readonly statistics: AuditStatistics;
}

export function buildReport(input: {
  source: string;
  verdict: LedgerReport;
  statistics: AuditStatistics;
  keyTrusted: boolean;
  generatedAt: number;
  fetched?: { requests: number; bytes: number };
}): AuditReport {
  const { verdict: v, statistics: s } = input;
  return {
    format: REPORT_FORMAT,
    generatedAt: new Date(input.generatedAt).toISOString(),
    source: input.source,
    ok: v.ok,
    records: v.records,
    blocks: v.blocks,
    ...(v.error ? { error: v.error } : {}),
    ...(v.origin === undefined ? {} : { origin: v.origin }),
    ...(v.sequencerKey === undefined ? {} : { sequencerKey: v.sequencerKey }),
    keyTrusted: input.keyTrusted && v.ok,
    ...(s.firstTime === undefined
      ? {}
      : { timeSpan: { from: new Date(s.firstTime).toISOString(), to: new Date(s.lastTime!).toISOString() } }),
    ...(input.fetched ? { fetched: input.fetched } : {}),
    statistics: s,
  };
}
