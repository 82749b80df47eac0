/**
 * `dirchain verify-log <url> --key K [--origin O] [--checkpoint FILE]`:
 * verifies any C2SP tlog-tiles log with an Ed25519 note key (verifyLog), and
 * keeps the checkpoint it verified in FILE for the next run to check against.
 */
import {
  closeSync,
  existsSync,
  fsyncSync,
  openSync,
  readFileSync,
  renameSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { dirname, resolve } from 'node:path';
import { fail } from '../cli-api.js';
import { ErrorCode, isDirchainError, type VerifyLogReport, verifyLog } from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { errorJSON, writeError } from './error-output.js';
import { dim, green, Progress } from './io.js';
import { keyArgument } from './node-dir.js';

export interface VerifyLogArgs {
  readonly keys: readonly string[];
  readonly origin: string | undefined;
  /** A saved checkpoint to check the log against, replaced by the newer one after a pass; made if missing. */
  readonly checkpoint: string | undefined;
}

export async function verifyLogCommand(ctx: Ctx, url: string | undefined, a: VerifyLogArgs): Promise<number> {
  if (url === undefined || !/^https?:\/\//i.test(url))
    fail(
      ErrorCode.INVALID_ARGUMENT,
      'verify-log needs the URL of a tlog-tiles log: the prefix of <url>/checkpoint',
    );
  if (a.keys.length !== 1)
    fail(
      ErrorCode.INVALID_ARGUMENT,
      a.keys.length === 0
        ? "verify-log needs --key: the log's verifier key (name+hash+base64) or a file holding it"
        : 'verify-log takes one --key: the log key its checkpoints must be signed by',
      { hint: 'take the key from the log operator, never from the server being checked' },
    );
  const key = keyArgument(a.keys[0]!);
  const saved = a.checkpoint === undefined ? undefined : readSaved(a.checkpoint);

  let bar: Progress | undefined;
  let report: VerifyLogReport;
  try {
    report = await verifyLog(url, {
      key,
      ...(a.origin === undefined ? {} : { origin: a.origin }),
      ...(saved === undefined ? {} : { checkpoint: saved }),
      onProgress: (p) => {
        bar ??= new Progress('verifying', p.size, !ctx.json && process.stderr.isTTY === true);
        bar.update(p.entries);
      },
    });
  } catch (e) {
    bar?.done();
    // Served data that is not what the checkpoint commits to is a failed check (exit 1), as in audit.
    if (!isDirchainError(e, ErrorCode.LEDGER_CORRUPT)) throw e;
    // Printed as main prints every other error.
    if (ctx.json) ctx.out(JSON.stringify({ error: errorJSON(e) }));
    writeError(e);
    return EXIT.failed;
  }
  bar?.done();
  if (a.checkpoint !== undefined) replaceFile(a.checkpoint, report.checkpoint);

  if (ctx.json) {
    ctx.out(
      JSON.stringify({ ok: true, ...report, ...(a.checkpoint === undefined ? {} : { saved: a.checkpoint }) }),
    );
    return EXIT.ok;
  }
  ctx.out(green(`log verified: ${report.origin} at size ${report.size}, root ${report.root}`));
  ctx.out(
    `checked: the checkpoint's signature by ${key.split('+')[0]}, ${report.entries} entries in ${report.bundles} entry bundles, ${report.tiles} hash tiles`,
  );
  if (report.consistentWith !== undefined)
    ctx.out(
      `consistent with the saved checkpoint at size ${report.consistentWith.size}: the log only appended since`,
    );
  if (a.checkpoint !== undefined)
    ctx.out(
      dim(
        saved === undefined
          ? `checkpoint saved to ${a.checkpoint}`
          : `checkpoint in ${a.checkpoint} now at size ${report.size}`,
      ),
    );
  return EXIT.ok;
}

/** The saved checkpoint's text, or undefined when the file does not exist yet (it is written after a pass). */
function readSaved(file: string): string | undefined {
  if (!existsSync(file)) {
    const folder = dirname(resolve(file));
    if (!existsSync(folder) || !statSync(folder).isDirectory())
      fail(ErrorCode.INVALID_ARGUMENT, `cannot save the checkpoint to ${file}: ${folder} is not a folder`, {
        hint: '--checkpoint takes a file in a folder that exists (the file is made if missing)',
      });
    return undefined;
  }
  if (!statSync(file).isFile())
    fail(ErrorCode.INVALID_ARGUMENT, `--checkpoint ${file} is not a file`, {
      hint: 'give the file a signed checkpoint of this log was saved in (or a new file name)',
    });
  return readFileSync(file, 'utf8');
}

/** Written to a new file, synced, renamed over the old one: a crash leaves the old checkpoint or the new. */
function replaceFile(path: string, text: string): void {
  const tmp = `${path}.tmp`;
  try {
    writeFileSync(tmp, text);
    const fd = openSync(tmp, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, path);
  } catch (e) {
    fail(ErrorCode.STORAGE, `cannot save the verified checkpoint to ${path}: ${(e as Error).message}`, {
      hint: 'the log verified; give --checkpoint a file you can write',
      cause: e,
    });
  }
}
