/**
 * `dirchain publish <dir|url> --to s3://bucket/prefix|<folder>`: the ledger's
 * tlog-tiles as static objects on S3-compatible storage or in a folder any
 * static file server serves (issue 32, item 5), uploaded incrementally with
 * the checkpoint last.
 */
import { fail, isLedgerUrl } from '../cli-api.js';
import { ErrorCode, type MemberSigner, publish } from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { dim, formatBytes, Progress } from './io.js';
import { keyArgument, ledgerPath, requireLedgerFolder } from './node-dir.js';
import { resolveNodeMember } from './target.js';

export interface PublishArgs {
  readonly to: string | undefined;
  readonly endpoint: string | undefined;
  readonly region: string | undefined;
  /** The sequencer's verifier key (or a file holding it): required for a URL source. */
  readonly key: string | undefined;
  readonly as: string | undefined;
}

export async function publishCommand(ctx: Ctx, source: string | undefined, a: PublishArgs): Promise<number> {
  if (source === undefined)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'publish needs <dir|url>: the ledger folder or the URL of a served ledger',
    );
  if (a.to === undefined)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'publish needs --to s3://bucket/prefix (with --endpoint for a non-AWS store) or --to <folder>',
    );
  const url = isLedgerUrl(source);
  const verifierKey = a.key === undefined ? undefined : keyArgument(a.key);
  if (url && verifierKey === undefined)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      `publishing from ${source} needs --key <sequencer.pub>: the published key to pin`,
      {
        hint: 'the sequencer.pub that dirchain init wrote; the server is never asked which key to trust',
      },
    );
  if (!url && a.as !== undefined)
    fail(ErrorCode.INVALID_ARGUMENT, '--as signs the requests to a URL; a folder is read directly');
  if (!url) requireLedgerFolder(source);
  const as: MemberSigner | undefined =
    url && a.as !== undefined ? await resolveNodeMember(source, verifierKey!, a.as) : undefined;
  // The SDK warns on every run under Node 20 about its releases after January 2027; the
  // version installed here supports Node 20, so the warning says nothing about this run.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
  let bar: Progress | undefined;
  const report = await publish(url ? source : ledgerPath(source), a.to, {
    ...(verifierKey === undefined ? {} : { verifierKey }),
    ...(as === undefined ? {} : { as }),
    ...(a.endpoint === undefined ? {} : { endpoint: a.endpoint }),
    ...(a.region === undefined ? {} : { region: a.region }),
    onProgress: (p) => {
      bar ??= new Progress('publishing', p.total);
      bar.update(p.uploaded);
    },
  });
  bar?.done();
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        ok: true,
        ...report,
        previousSize: report.previousSize ?? null,
        url: report.url ?? null,
      }),
    );
    return EXIT.ok;
  }
  const since = report.previousSize === undefined ? '' : ` (was ${report.previousSize})`;
  ctx.out(
    report.uploaded === 0
      ? `${report.target} already holds ${report.origin} at tree size ${report.size} (block ${report.height}): nothing uploaded`
      : `published ${report.origin} at tree size ${report.size}${since} (block ${report.height}) to ${report.target}: ${report.uploaded} objects (${formatBytes(report.bytes)}) uploaded, ${report.skipped} already there`,
  );
  if (process.stderr.isTTY) {
    const from = report.url ?? '<the URL that serves the folder>';
    process.stderr.write(
      `${dim(`follow it with: dirchain follow <dir> --from ${from} --key <sequencer.pub>`)}\n`,
    );
  }
  return EXIT.ok;
}
