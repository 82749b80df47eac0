/**
 * `dirchain follow <dir> --from <url> --key <sequencer.pub>`: keeps a verified
 * replica of a served ledger in <dir>/ledger (issue 32's follower), caught up
 * once (`--once`) or following until SIGINT/SIGTERM.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode, follow, type MemberSigner } from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { dim, Progress } from './io.js';
import { keyArgument, ledgerPath } from './node-dir.js';
import { resolveNodeMember } from './target.js';

export interface FollowArgs {
  readonly from: string | undefined;
  readonly key: string | undefined;
  readonly as: string | undefined;
  readonly once: boolean;
  /** Witness verifier keys (or files) whose cosignatures the followed checkpoints need, and how many. */
  readonly witnesses: readonly string[];
  readonly quorum: number | undefined;
}

export async function followCommand(ctx: Ctx, dir: string, a: FollowArgs): Promise<number> {
  if (a.from === undefined)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'follow needs --from <URL of a node or a served ledger, or a ledger folder>',
    );
  // A folder (a copy of a ledger folder) is read without HTTP and checked the same way.
  const remote = /^https?:\/\//i.test(a.from);
  if (!remote && a.as !== undefined)
    fail(ErrorCode.INVALID_ARGUMENT, '--as signs requests to a node: it does not apply to --from <folder>');
  const from = remote ? a.from : ledgerPath(a.from);
  if (a.key === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'follow needs --key <sequencer.pub>: the published key to pin', {
      hint: 'the sequencer.pub that dirchain init wrote; the server is never asked which key to trust',
    });
  if (a.quorum !== undefined && a.witnesses.length === 0)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      '--quorum counts cosignatures of the witnesses given: give --witness <key>',
      {
        hint: 'without --witness, follow requires no cosignature at all',
      },
    );
  const verifierKey = keyArgument(a.key);
  const as: MemberSigner | undefined =
    a.as === undefined ? undefined : await resolveNodeMember(a.from, verifierKey, a.as);
  mkdirSync(dir, { recursive: true });
  // The key the replica was made with, beside it (as init leaves sequencer.pub), once there is a replica.
  const keepKey = () => {
    if (!existsSync(join(dir, 'sequencer.pub')) && existsSync(join(ledgerPath(dir), 'CURRENT')))
      writeFileSync(join(dir, 'sequencer.pub'), `${verifierKey}\n`);
  };
  const stop = new AbortController();
  const onSignal = () => stop.abort();
  process.once('SIGINT', onSignal);
  process.once('SIGTERM', onSignal);
  let bar: Progress | undefined;
  let barTarget = -1;
  try {
    const report = await follow(ledgerPath(dir), from, {
      verifierKey,
      ...(as === undefined ? {} : { as }),
      once: a.once,
      ...(a.witnesses.length === 0
        ? {}
        : { witnesses: a.witnesses.map(keyArgument), quorum: a.quorum ?? a.witnesses.length }),
      signal: stop.signal,
      onProgress: (p) => {
        keepKey();
        if (p.target !== barTarget) {
          bar?.done();
          bar = new Progress('following', p.target);
          barTarget = p.target;
        }
        bar!.update(p.size);
      },
    });
    bar?.done();
    keepKey();
    ctx.out(
      ctx.json
        ? JSON.stringify({ ok: true, ...report })
        : `replica of ${report.origin} at tree size ${report.size} (block ${report.height}): ${report.blocks} blocks, ${report.entries} entries added`,
    );
    if (!ctx.json && a.once)
      ctx.out(
        dim(
          `read it with: dirchain query ... ${dir}, or keep it current with dirchain node ${dir} --replica <url> --key <pub>`,
        ),
      );
    return EXIT.ok;
  } finally {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  }
}
