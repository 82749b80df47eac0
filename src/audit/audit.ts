/**
 * `auditLedger`: the full replay of a ledger — a local LevelDB folder or one
 * served as tlog-tiles over HTTP — with the audit statistics gathered from the
 * verified blocks, as one report. `writeReport` puts report.json and
 * report.html in a folder. The I/O lives here; stats.ts, report.ts and html.ts
 * are pure.
 */

import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import {
  type LedgerReport,
  type VerifyLedgerOptions,
  verifyLedger,
  verifyLedgerSource,
} from '../chain/verify.js';
import type { MemberSigner } from '../directory/submitter.js';
import { ErrorCode, fail } from '../errors.js';
import { HttpBlockSource } from '../sync/http-source.js';
import { renderHtml } from './html.js';
import { type AuditReport, buildReport } from './report.js';
import { AuditStats, type StatsOptions } from './stats.js';

export interface AuditOptions extends Pick<VerifyLedgerOptions, 'trustedKeys' | 'checkpoint' | 'onProgress'> {
  /** Anomaly thresholds. */
  readonly stats?: StatsOptions;
  /** Skip the statistics (verification only, e.g. to measure it). */
  readonly verifyOnly?: boolean;
  /** For a URL: sign every request as this member (a node that is not `--public` serves members only). */
  readonly as?: MemberSigner;
}

export const isLedgerUrl = (s: string): boolean => /^https?:\/\//i.test(s);

/**
 * Audits the ledger at `pathOrUrl`: a LevelDB ledger folder (as for
 * `verifyLedger`) or the base URL of `dirchain serve`. Never throws for a bad
 * ledger: the verdict says what failed and the first bad record index.
 */
export async function auditLedger(pathOrUrl: string, options: AuditOptions = {}): Promise<AuditReport> {
  const stats = new AuditStats(options.stats);
  const verifyOptions: VerifyLedgerOptions = {
    ...(options.trustedKeys ? { trustedKeys: options.trustedKeys } : {}),
    ...(options.checkpoint ? { checkpoint: options.checkpoint } : {}),
    ...(options.onProgress ? { onProgress: options.onProgress } : {}),
    ...(options.verifyOnly ? {} : { onBlock: (b) => stats.addBlock(b) }),
  };
  let verdict: LedgerReport;
  let fetched: { requests: number; bytes: number } | undefined;
  if (isLedgerUrl(pathOrUrl)) {
    const source = new HttpBlockSource(pathOrUrl, options.as === undefined ? {} : { as: options.as });
    verdict = reconcileTiles(await verifyLedgerSource(source, pathOrUrl, verifyOptions), source.tileMismatch);
    if (verdict.ok) verdict = await checkUpperTiles(verdict, source);
    fetched = { ...source.stats };
  } else {
    verdict = await verifyLedger(pathOrUrl, verifyOptions);
  }
  return buildReport({
    source: pathOrUrl,
    verdict,
    statistics: stats.result(),
    keyTrusted: options.trustedKeys !== undefined && options.trustedKeys.length > 0,
    generatedAt: Date.now(),
    ...(fetched ? { fetched } : {}),
  });
}

/**
 * A served leaf-hash tile that disagrees with its entry is a failure too. When
 * the replay failed at or before that entry, its reason is the better one (a
 * changed entry fails its signature or root); otherwise the tile is the first fault.
 */
function reconcileTiles(v: LedgerReport, mismatch: number | undefined): LedgerReport {
  if (mismatch === undefined) return v;
  if (!v.ok && (v.error?.index ?? Number.POSITIVE_INFINITY) <= mismatch) return v;
  return {
    ...v,
    ok: false,
    records: Math.min(v.records, mismatch),
    error: {
      code: ErrorCode.LEDGER_CORRUPT,
      message: `the served hash tile for record ${mismatch} is not that record's leaf hash`,
      index: mismatch,
    },
  };
}

/** Tiles above level 0, checked once the replay has read (and so checked) every entry. */
async function checkUpperTiles(v: LedgerReport, source: HttpBlockSource): Promise<LedgerReport> {
  let error: { code: string; message: string; index?: number } | undefined;
  try {
    const wrong = await source.checkUpperTiles();
    if (wrong)
      error = {
        code: ErrorCode.LEDGER_CORRUPT,
        message: `the served hash tile ${wrong.path} disagrees with the tiles below it (first record under the wrong hash: ${wrong.index})`,
        index: wrong.index,
      };
  } catch (e) {
    const d = e as { code?: string; message?: string };
    error = { code: d.code ?? ErrorCode.INTERNAL, message: d.message ?? String(e) };
  }
  return error === undefined
    ? v
    : { ...v, ok: false, records: Math.min(v.records, error.index ?? v.records), error };
}

/**
 * Writes report.json and report.html into `dir` (made if missing); returns their
 * paths. A folder that cannot be written is `E_STORAGE` naming it.
 */
export function writeReport(dir: string, report: AuditReport): { json: string; html: string } {
  const json = join(dir, 'report.json');
  const html = join(dir, 'report.html');
  try {
    mkdirSync(dir, { recursive: true });
    writeFileSync(json, `${JSON.stringify(report, null, 2)}\n`);
    writeFileSync(html, renderHtml(report));
  } catch (e) {
    fail(ErrorCode.STORAGE, `cannot write the audit report to ${dir}: ${(e as Error).message}`, {
      hint: 'give a folder that can be written (it is made if missing)',
      cause: e,
    });
  }
  return { json, html };
}
