/**
 * `dirchain audit <dir>` reads the folder in a child process. Why: if LevelDB
 * meets damage that the table checks did not catch (or that happened after
 * them), it may abort its whole process; the auditor must still get a report.
 * The child runs the same command with DIRCHAIN_AUDIT_CHILD set and sends its
 * progress and its report back over IPC; if it dies instead, the parent
 * reports that as the verdict, with how far the child got.
 */

import { fork } from 'node:child_process';
import { buildReport } from '../cli-api.js';
import { type AuditOptions, type AuditReport, AuditStats, auditLedger, ErrorCode } from '../index.js';

const CHILD_FLAG = 'DIRCHAIN_AUDIT_CHILD';

type Message =
  | { readonly type: 'progress'; readonly done: number; readonly total: number }
  | { readonly type: 'report'; readonly report: AuditReport };

/** Whether this process is an audit child (it then reports over IPC, not stdout). */
export const isAuditChild = (): boolean => process.env[CHILD_FLAG] === '1' && process.send !== undefined;

/** In the child: audits and sends progress and the report to the parent. */
export async function auditAsChild(path: string, options: AuditOptions): Promise<void> {
  const report = await auditLedger(path, {
    ...options,
    onProgress: (done, total) => process.send!({ type: 'progress', done, total } satisfies Message),
  });
  await new Promise<void>((resolve, reject) =>
    process.send!({ type: 'report', report } satisfies Message, (e: Error | null) =>
      e ? reject(e) : resolve(),
    ),
  );
}

/**
 * In the parent: runs this command again as a child with the same arguments,
 * and returns its report, or, if it died, a failed report naming how.
 */
export function auditInChild(
  path: string,
  options: Pick<AuditOptions, 'trustedKeys' | 'onProgress'>,
): Promise<AuditReport> {
  return new Promise((resolve, reject) => {
    const child = fork(process.argv[1]!, process.argv.slice(2), {
      env: { ...process.env, [CHILD_FLAG]: '1' },
      stdio: ['ignore', 'ignore', 'pipe', 'ipc'],
      serialization: 'advanced',
    });
    let report: AuditReport | undefined;
    let done = 0;
    let stderr = '';
    child.stderr!.on('data', (d) => {
      if (stderr.length < 4096) stderr += d;
    });
    child.on('message', (m: Message) => {
      if (m.type === 'progress') {
        done = m.done;
        options.onProgress?.(m.done, m.total);
      } else report = m.report;
    });
    child.on('error', reject);
    child.on('exit', (code, signal) => {
      if (report !== undefined) return resolve(report);
      const how = signal !== null ? `was killed by ${signal}` : `exited with code ${code}`;
      const last = stderr.trim().split('\n').slice(-3).join(' / ');
      resolve(
        buildReport({
          source: path,
          verdict: {
            ok: false,
            records: done,
            blocks: 0,
            error: {
              code: signal === 'SIGABRT' ? ErrorCode.LEDGER_CORRUPT : ErrorCode.INTERNAL,
              message:
                `the process reading the ledger ${how} after checking ${done} records` +
                (signal === 'SIGABRT' ? ' (LevelDB aborts on some damaged data)' : '') +
                (last ? `: ${last}` : ''),
            },
          },
          statistics: new AuditStats().result(),
          keyTrusted: options.trustedKeys !== undefined && options.trustedKeys.length > 0,
          generatedAt: Date.now(),
        }),
      );
    });
  });
}
