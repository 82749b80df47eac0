import { accessSync, constants, existsSync, mkdirSync, readFileSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fail, MEMBER_ID_PATTERN } from '../cli-api.js';
import {
  auditLedger,
  checkReplayEvidence,
  consistencyBundleToJSON,
  createLedger,
  DirchainError,
  ErrorCode,
  type ErrorCodeValue,
  generateKeyPair,
  type Head,
  inclusionBundleToJSON,
  type Ledger,
  openLedger,
  rebuildState,
  serveLedger,
  writeReport,
} from '../index.js';
import { checkStatus, statusBundleToJSON, verifyBundle } from '../verify.js';
import { auditAsChild, auditInChild, isAuditChild } from './audit-child.js';
import { writeError } from './error-output.js';
import { FolderClaim, publicKeyPath } from './folder-claim.js';
import { dim, green, Progress, red, yellow } from './io.js';
import { keyArgument, keysPath, ledgerPath, requireLedgerFolder, sequencerKeyPath } from './node-dir.js';
import { type NodeArgs, openTarget, type Place, resolveNodeMember } from './target.js';

export interface Ctx {
  readonly json: boolean;
  readonly out: (text: string) => void;
}

/** Exit codes: 0 success, 1 a check failed or records were refused, 2 usage error, 3 other error. */
/** 4: the log misbehaved (E_FORK, E_INVALID_BLOCK): what shows it is kept as evidence. */
export const EXIT = { ok: 0, failed: 1, usage: 2, error: 3, fork: 4 } as const;

/** The sequencer's member id in genesis, and so the name of its key file. */
const SEQUENCER_ID = 'sequencer';

/**
 * Lays out a new node folder: keys, ledger with its genesis, sequencer.pub. Of
 * several inits on one folder exactly one goes on (see FolderClaim); the others
 * fail with E_LEDGER_EXISTS having touched nothing.
 */
export async function init(ctx: Ctx, dir: string, origin: string, adminId: string): Promise<number> {
  // The admin key is keys/<id>.key beside keys/sequencer.key: the id must be a safe, different file name.
  if (!MEMBER_ID_PATTERN.test(adminId) || adminId === SEQUENCER_ID)
    fail(ErrorCode.INVALID_ARGUMENT, `--admin must match ${MEMBER_ID_PATTERN} and not be "${SEQUENCER_ID}"`);
  // Make the keys first: a bad origin or admin id fails before anything is written.
  const sequencer = generateKeyPair(origin);
  const admin = generateKeyPair(adminId);
  const claim = FolderClaim.take(dir);
  let ledger: Ledger | undefined;
  try {
    // Keys go to disk before the ledger exists, so a crash never leaves a ledger nobody can sign for.
    claim.writeFile(sequencerKeyPath(dir), `${sequencer.signerKey}\n`, 0o600);
    claim.writeFile(join(keysPath(dir), `${adminId}.key`), `${admin.signerKey}\n`, 0o600);
    claim.makeTree(ledgerPath(dir));
    ledger = await createLedger(ledgerPath(dir), {
      origin,
      sequencerKey: sequencer.signerKey,
      sequencerId: SEQUENCER_ID,
      members: [
        {
          id: adminId,
          name: 'Data bureau (root admin)',
          roles: ['admin', 'provider', 'consumer'],
          signingKey: admin.publicKey,
        },
      ],
    });
    // Last, once the ledger it verifies is durable: a folder with it is a finished init.
    claim.writeFile(publicKeyPath(dir), `${sequencer.verifierKey}\n`);
  } catch (e) {
    await ledger?.close().catch(() => undefined);
    claim.undo();
    throw e;
  }
  const head = ledger.head();
  await ledger.close();
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        dir: resolve(dir),
        origin,
        verifierKey: sequencer.verifierKey,
        admin: { id: adminId, verifierKey: admin.verifierKey },
        size: head.size,
      }),
    );
  } else {
    ctx.out(`created ledger ${origin} in ${dir}`);
    ctx.out(`sequencer verifier key (publish this; auditors verify checkpoints with it):`);
    ctx.out(sequencer.verifierKey);
    ctx.out(dim(`root admin ${adminId}: signer key in ${join(keysPath(dir), `${adminId}.key`)}`));
  }
  return EXIT.ok;
}

/** A folder opened to read: one that holds no ledger is named as such, never created. */
async function openReader(dir: string): Promise<Ledger> {
  requireLedgerFolder(dir);
  return openLedger(ledgerPath(dir));
}

export async function checkpoint(ctx: Ctx, place: Place, node: NodeArgs = {}): Promise<number> {
  const target = await openTarget(place, node, openReader);
  let head: Head;
  try {
    head = await target.api.head();
  } finally {
    await target.close();
  }
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        origin: head.origin,
        size: head.size,
        height: head.height,
        time: head.time,
        checkpoint: head.checkpoint,
      }),
    );
  } else {
    process.stdout.write(head.checkpoint);
  }
  return EXIT.ok;
}

/**
 * Prints an inclusion or consistency bundle. From a node, the bundle is the
 * one the node gave, once the client verified it under the pinned key.
 */
export async function prove(
  ctx: Ctx,
  place: Place,
  o: { index?: number; size?: number; from?: number; to?: number },
  node: NodeArgs = {},
): Promise<number> {
  if (o.index === undefined && o.from === undefined)
    fail(ErrorCode.INVALID_ARGUMENT, 'give --index I [--size N] or --from M [--to N]');
  const target = await openTarget(place, node, openReader, 'prove');
  try {
    const ledger = target.api;
    const bundle =
      o.index !== undefined
        ? inclusionBundleToJSON(await ledger.proveInclusion(o.index, o.size ?? (await ledger.head()).size))
        : consistencyBundleToJSON(await ledger.proveConsistency(o.from!, o.to ?? (await ledger.head()).size));
    ctx.out(ctx.json ? JSON.stringify(bundle) : JSON.stringify(bundle, null, 2));
  } finally {
    await target.close();
  }
  return EXIT.ok;
}

/**
 * `dirchain prove-status <dir> (--grant G | --type T --id X) [--size N]`: a
 * status bundle (docs/formats.md) from a ledger folder, checked here as an
 * auditor will check it; the human output says what it shows.
 */
export async function proveStatus(
  ctx: Ctx,
  place: Place,
  o: { type: string; id: string; size?: number },
  node: NodeArgs = {},
): Promise<number> {
  const target = await openTarget(place, node, openReader, 'prove-status');
  try {
    const bundle = statusBundleToJSON(await target.api.proveStatus(o.type, o.id, o.size));
    if (ctx.json) ctx.out(JSON.stringify(bundle));
    else {
      const key =
        'node' in place
          ? keyArgument(node.nodeKey!)
          : readFileSync(join(place.folder, 'sequencer.pub'), 'utf8').trim();
      const r = checkStatus(bundle, [key]);
      ctx.out(JSON.stringify(bundle, null, 2));
      process.stderr.write(
        `${r.type} ${JSON.stringify(r.id)} is ${r.status} as of tree size ${r.asOf.size} (block ${r.asOf.height}, ${new Date(r.asOf.time).toISOString()})` +
          `${r.index === undefined ? '' : `, set by record ${r.index}`}\n`,
      );
    }
  } finally {
    await target.close();
  }
  return EXIT.ok;
}

export async function verify(ctx: Ctx, file: string, keys: string[], replica?: string): Promise<number> {
  if (!existsSync(file))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${file}`, {
      hint: 'check the path (relative to the current folder)',
    });
  if (keys.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'give the sequencer verifier key with --key', {
      hint: 'it is in <dir>/sequencer.pub',
    });
  const text = readFileSync(file, 'utf8');
  // Replay evidence needs the state before its block: a replica of the log up to there.
  const report =
    replica === undefined
      ? verifyBundle(text, keys.map(keyArgument))
      : await checkReplayEvidence(text, keys.map(keyArgument), ledgerPath(replica));
  if (ctx.json) {
    ctx.out(JSON.stringify(report));
  } else {
    for (const c of report.checks) {
      const mark = c.status === 'pass' ? green('ok  ') : c.status === 'skip' ? dim('skip') : red('FAIL');
      ctx.out(`${mark} ${c.name}: ${c.detail}`);
    }
    const failedCheck = report.checks.find((c) => c.status === 'fail');
    ctx.out(
      report.ok
        ? green(
            report.kind === 'fork'
              ? 'verified: the evidence proves the log forked'
              : report.kind === 'replay'
                ? 'verified: the log signed a block its own rules refuse'
                : 'verified',
          )
        : red(`NOT verified: ${failedCheck?.name} failed`),
    );
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** One-line fixes for the audit failures a person can act on. */
const AUDIT_HINTS: Record<string, string> = {
  [ErrorCode.LEDGER_NOT_FOUND]:
    'give the folder `dirchain init` made (it holds ledger/), or the URL `dirchain serve` printed',
  [ErrorCode.STORAGE]:
    'another process holds the folder (a running sequencer or `dirchain serve`): audit a copy, or its URL',
  [ErrorCode.REMOTE]:
    'check that the URL is the one `dirchain serve` or `dirchain node` printed and that it is running; a node that is not --public answers members only: add --as <member signer key file>',
  [ErrorCode.KEY_INVALID]: 'pass the sequencer verifier key the ledger published (sequencer.pub), with --key',
  [ErrorCode.LEDGER_CORRUPT]:
    'the ledger differs from what its signed blocks commit to: restore it from a replica',
  [ErrorCode.BAD_SIGNATURE]:
    'the record or note was changed after signing: restore the ledger from a replica',
};

/**
 * Verdicts that mean the ledger could not be read at all (there is none, it is
 * in use or in another format, its server cannot be reached): nothing was
 * checked, so the audit exits 3 like every other command, not 1 (a check failed).
 */
const NOT_READ: ReadonlySet<string> = new Set([
  ErrorCode.LEDGER_NOT_FOUND,
  ErrorCode.LEDGER_FORMAT,
  ErrorCode.STORAGE,
  ErrorCode.REMOTE,
]);

/** The line that says what exit 0 vouches for: with --key, the key too; without, only the ledger's own key. */
const KEY_NOT_CHECKED = 'key not checked: trusted the key the ledger names';

/**
 * Re-verifies a whole ledger, local (<dir>) or served (http://...), and writes
 * report.json + report.html to `reportDir` when given; --json prints the report.
 * Exits 0 when the ledger is consistent with its key (with --key: a key given;
 * without: the key the ledger names, and says so), 1 when a check failed, 3
 * when there was no ledger to check (NOT_READ).
 */
export async function audit(
  ctx: Ctx,
  place: Place,
  keys: string[],
  reportDir: string | undefined,
  checkpointFile?: string,
  node: NodeArgs = {},
): Promise<number> {
  let bar: Progress | undefined;
  const local = 'folder' in place;
  const where = local ? ledgerPath(place.folder) : place.node;
  if (checkpointFile !== undefined && !existsSync(checkpointFile))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${checkpointFile}`, {
      hint: 'save one with `dirchain checkpoint <dir> > checkpoint.txt`',
    });
  // A node's pinned key (--node-key, DIRCHAIN_NODE_KEY) is a key given, as --key is.
  const pinned = local ? undefined : (node.nodeKey ?? process.env.DIRCHAIN_NODE_KEY);
  const trusted = [...keys, ...(pinned === undefined ? [] : [pinned])].map(keyArgument);
  const options = {
    ...(trusted.length > 0 ? { trustedKeys: trusted } : {}),
    ...(checkpointFile === undefined ? {} : { checkpoint: readFileSync(checkpointFile, 'utf8') }),
    // Statistics cost a body decode per record: only when a report is wanted.
    verifyOnly: reportDir === undefined && !ctx.json,
    onProgress: (done: number, total: number) => {
      bar ??= new Progress('verifying', total, !ctx.json && process.stderr.isTTY === true);
      bar.update(done);
    },
  };
  if (isAuditChild()) {
    await auditAsChild(where, options);
    return EXIT.ok;
  }
  // Before the replay, which can take long: a report that cannot be written, or no ledger to read.
  if (reportDir !== undefined) prepareReportDir(reportDir);
  if (local) requireLedgerFolder(place.folder);
  // A node that is not --public serves its tiles to members: with --as, every fetch is signed as one.
  if (!local && node.as !== undefined && trusted.length === 0) {
    fail(ErrorCode.INVALID_ARGUMENT, "reading a node as --as needs the sequencer's verifier key", {
      hint: 'give --node-key or --key <sequencer.pub or key text>: the member is looked up through a client that pins it',
    });
  }
  const reader =
    local || node.as === undefined ? undefined : await resolveNodeMember(where, trusted[0]!, node.as);
  // A local folder is read in a child process, so that an abort there is still reported (audit-child.ts).
  const report = local
    ? await auditInChild(where, options)
    : await auditLedger(where, reader === undefined ? options : { ...options, as: reader });
  bar?.done();
  // The report is written whatever the verdict: it says what failed.
  const files = reportDir === undefined ? undefined : writeReport(reportDir, report);
  const notRead = report.error !== undefined && NOT_READ.has(report.error.code);
  if (ctx.json) ctx.out(JSON.stringify(report));
  else {
    // `records` counts log entries; every block ends with one block entry, the rest are records.
    if (report.ok) {
      const summary = `ledger verified: ${report.records - report.blocks} records in ${report.blocks} blocks (${report.records} log entries), origin ${report.origin}`;
      if (report.keyTrusted) {
        ctx.out(green(summary));
        ctx.out(`key checked: the ledger's sequencer key ${report.sequencerKey} is one given with --key`);
      } else {
        // Exit 0 without --key says only that the ledger is consistent with the key it names.
        ctx.out(yellow(summary));
        ctx.out(yellow(`${KEY_NOT_CHECKED} (${report.sequencerKey})`));
        ctx.out(
          'hint: to check it, pass the verifier key its publisher gave you: --key <sequencer.pub or key text>',
        );
      }
    } else if (notRead) {
      // Nothing was checked: reported like any command's error (stderr, exit 3).
      const e = report.error!;
      const hint = AUDIT_HINTS[e.code];
      writeError(new DirchainError(e.code as ErrorCodeValue, e.message, hint === undefined ? {} : { hint }));
    } else {
      const e = report.error!;
      ctx.out(red(`ledger NOT verified: ${e.code} ${e.message}`));
      if (e.index !== undefined) ctx.out(red(`first bad record index: ${e.index}`));
      const hint = AUDIT_HINTS[e.code];
      if (hint !== undefined) ctx.out(`hint: ${hint}`);
    }
    if (files) {
      const a = report.statistics.anomalies.counts;
      const found = Object.entries(a).filter(([, n]) => n > 0);
      ctx.out(`anomalies: ${found.length === 0 ? 'none' : found.map(([t, n]) => `${t} ${n}`).join(', ')}`);
      ctx.out(dim(`report: ${files.html} and ${files.json}`));
    }
  }
  return report.ok ? EXIT.ok : notRead ? EXIT.error : EXIT.failed;
}

/**
 * Makes the --report folder (if missing) and checks it can be written, before
 * the replay: a bad path is a usage error naming it, not a stack trace after
 * the whole ledger was read.
 */
function prepareReportDir(dir: string): void {
  let problem: string | undefined;
  try {
    mkdirSync(dir, { recursive: true });
    if (!statSync(dir).isDirectory()) problem = 'it is not a folder';
    else accessSync(dir, constants.W_OK);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    problem =
      code === 'EEXIST' || code === 'ENOTDIR'
        ? 'a file is in the way (the path or one of its parents is not a folder)'
        : code === 'EACCES' || code === 'EPERM'
          ? 'permission denied'
          : code === 'EROFS'
            ? 'the file system is read-only'
            : (e as Error).message;
  }
  if (problem !== undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, `cannot write the report to ${dir}: ${problem}`, {
      hint: '--report takes a folder you can write to (made if missing); report.json and report.html go in it',
    });
  }
}

/** Serves <dir>'s ledger read-only as tlog-tiles until SIGINT or SIGTERM. */
export async function serve(ctx: Ctx, dir: string, host: string, port: number): Promise<number> {
  requireLedgerFolder(dir);
  const running = await serveLedger(ledgerPath(dir), { host, port });
  if (ctx.json) ctx.out(JSON.stringify({ url: running.url, origin: running.origin, size: running.size }));
  else {
    ctx.out(`serving ${running.origin} (tree size ${running.size}) read-only at ${running.url}`);
    ctx.out(dim(`audit it with: dirchain audit ${running.url}`));
  }
  await new Promise<void>((resolve) => {
    process.once('SIGINT', () => resolve());
    process.once('SIGTERM', () => resolve());
  });
  await running.close();
  return EXIT.ok;
}

export async function rebuild(ctx: Ctx, dir: string): Promise<number> {
  requireLedgerFolder(dir);
  const report = await rebuildState(ledgerPath(dir));
  ctx.out(
    ctx.json
      ? JSON.stringify(report)
      : `rebuilt state and indexes from ${report.records} log entries (${report.entries} state and index entries written)`,
  );
  return EXIT.ok;
}
