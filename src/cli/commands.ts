import { createReadStream, existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { createInterface } from 'node:readline';
import { auditLedger, isLedgerUrl, writeReport } from '../audit/audit.js';
import { fromBase64 } from '../crypto/bytes.js';
import { generateKeyPair } from '../crypto/keys.js';
import { consistencyBundleToJSON, inclusionBundleToJSON } from '../encoding/bundle.js';
import type { Plain } from '../encoding/msgpack.js';
import { signRecord } from '../encoding/record.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import type { Ledger, MemberSigner } from '../ledger/ledger.js';
import { createLedger, openLedger } from '../ledger/open.js';
import { rebuildState } from '../ledger/rebuild.js';
import { serveLedger } from '../serve/server.js';
import { verifyBundle } from '../verify.js';
import { dim, green, Progress, red } from './io.js';
import { keyArgument, keysPath, ledgerPath, readKeyFile, sequencerKeyPath } from './node-dir.js';

export interface Ctx {
  readonly json: boolean;
  readonly out: (text: string) => void;
}

/** Exit codes: 0 success, 1 a check failed or records were refused, 2 usage error, 3 other error. */
export const EXIT = { ok: 0, failed: 1, usage: 2, error: 3 } as const;

export async function init(ctx: Ctx, dir: string, origin: string, adminId: string): Promise<number> {
  if (existsSync(ledgerPath(dir)) || existsSync(sequencerKeyPath(dir))) {
    fail(ErrorCode.LEDGER_EXISTS, `${dir} already holds a ledger`);
  }
  // Make the keys first: a bad origin or admin id fails before anything is written.
  const sequencer = generateKeyPair(origin);
  const admin = generateKeyPair(adminId);
  const madeDir = !existsSync(dir);
  // Keys go to disk before the ledger exists, so a crash never leaves a ledger nobody can sign for.
  mkdirSync(keysPath(dir), { recursive: true, mode: 0o700 });
  writeFileSync(sequencerKeyPath(dir), `${sequencer.signerKey}\n`, { mode: 0o600 });
  writeFileSync(join(keysPath(dir), `${adminId}.key`), `${admin.signerKey}\n`, { mode: 0o600 });
  let ledger: Ledger;
  try {
    ledger = await createLedger(ledgerPath(dir), {
      origin,
      sequencerKey: sequencer.signerKey,
      members: [
        {
          id: adminId,
          name: 'Data bureau (root admin)',
          roles: ['admin', 'provider', 'consumer'],
          signingKey: admin.publicKey,
        },
      ],
    });
  } catch (e) {
    for (const f of [sequencerKeyPath(dir), join(keysPath(dir), `${adminId}.key`)])
      rmSync(f, { force: true });
    if (madeDir) rmSync(dir, { recursive: true, force: true });
    throw e;
  }
  writeFileSync(join(dir, 'sequencer.pub'), `${sequencer.verifierKey}\n`);
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

async function openWritable(dir: string): Promise<Ledger> {
  return openLedger(ledgerPath(dir), { sequencerKey: readKeyFile(sequencerKeyPath(dir)) });
}

interface LineResult {
  line: number;
  index?: number;
  error?: { code: string; message: string };
}

/**
 * NDJSON, one record per line: either `{"record": "<base64 signed entry>"}`
 * (signed elsewhere), or `{"kind": "...", "body": {...}}` signed here with `--key`.
 */
export async function append(
  ctx: Ctx,
  dir: string,
  file: string,
  keyFile: string | undefined,
): Promise<number> {
  if (!existsSync(file))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${file}`, {
      hint: 'check the path (relative to the current folder)',
    });
  const ledger = await openWritable(dir);
  const results: LineResult[] = [];
  try {
    const signer = keyFile === undefined ? undefined : ledger.memberSigner(keyArgument(keyFile));
    const total = countLines(file);
    const progress = new Progress('appending', total, !ctx.json && process.stderr.isTTY === true);
    const window: Array<{ line: number; entry?: Uint8Array; error?: DirchainError }> = [];
    let done = 0;
    const drain = async () => {
      const entries = window.filter((w) => w.entry !== undefined).map((w) => w.entry!);
      const receipts = await ledger.appendMany(entries);
      let r = 0;
      for (const w of window) {
        if (w.error) results.push({ line: w.line, error: { code: w.error.code, message: w.error.message } });
        else {
          const rec = receipts[r++]!;
          if (rec instanceof DirchainError)
            results.push({ line: w.line, error: { code: rec.code, message: rec.message } });
          else results.push({ line: w.line, index: rec.index });
        }
      }
      done += window.length;
      window.length = 0;
      progress.update(done);
    };
    let lineNo = 0;
    for await (const raw of createInterface({
      input: createReadStream(file),
      crlfDelay: Number.POSITIVE_INFINITY,
    })) {
      lineNo++;
      if (raw.trim() === '') continue;
      try {
        window.push({ line: lineNo, entry: entryFromLine(raw, ledger, signer) });
      } catch (e) {
        window.push({
          line: lineNo,
          error: e instanceof DirchainError ? e : new DirchainError(ErrorCode.DECODE, String(e)),
        });
      }
      if (window.length >= 8192) await drain();
    }
    await drain();
    progress.done();
  } finally {
    await ledger.close();
  }
  const failed = results.filter((r) => r.error);
  const head = await readHead(dir);
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        appended: results.length - failed.length,
        failed,
        size: head.size,
        checkpoint: head.checkpoint,
      }),
    );
  } else {
    ctx.out(`appended ${results.length - failed.length} records; tree size ${head.size}`);
    for (const f of failed.slice(0, 20)) ctx.out(red(`line ${f.line}: ${f.error!.code} ${f.error!.message}`));
    if (failed.length > 20) ctx.out(red(`... and ${failed.length - 20} more refused lines`));
  }
  return failed.length === 0 ? EXIT.ok : EXIT.failed;
}

function countLines(file: string): number {
  const buf = readFileSync(file);
  let n = 0;
  for (let i = 0; i < buf.length; i++) if (buf[i] === 10) n++;
  return buf.length > 0 && buf[buf.length - 1] !== 10 ? n + 1 : n;
}

function entryFromLine(raw: string, ledger: Ledger, signer: MemberSigner | undefined): Uint8Array {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return fail(ErrorCode.DECODE, 'line is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(ErrorCode.DECODE, 'line must be a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.record === 'string') return fromBase64(o.record);
  if (typeof o.kind !== 'string' || !('body' in o)) {
    fail(ErrorCode.DECODE, 'line needs "record" (base64) or "kind" and "body"', {
      hint: 'see `dirchain append --help` for the line format',
    });
  }
  if (signer === undefined) {
    fail(ErrorCode.INVALID_ARGUMENT, 'unsigned lines ("kind"/"body") need --key <member signer key file>');
  }
  return signRecord(
    {
      origin: ledger.origin,
      kind: o.kind,
      author: signer.id,
      keyId: signer.keyId,
      timestamp: Date.now(),
      body: o.body as Plain,
    },
    signer.signer,
  ).bytes;
}

async function readHead(dir: string) {
  const ledger = await openLedger(ledgerPath(dir));
  try {
    return ledger.head();
  } finally {
    await ledger.close();
  }
}

export async function checkpoint(ctx: Ctx, dir: string): Promise<number> {
  const head = await readHead(dir);
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

export async function prove(
  ctx: Ctx,
  dir: string,
  o: { index?: number; size?: number; from?: number; to?: number },
): Promise<number> {
  const ledger = await openLedger(ledgerPath(dir));
  try {
    let bundle: unknown;
    if (o.index !== undefined) {
      bundle = inclusionBundleToJSON(await ledger.proveInclusion(o.index, o.size ?? ledger.head().size));
    } else if (o.from !== undefined) {
      bundle = consistencyBundleToJSON(await ledger.proveConsistency(o.from, o.to ?? ledger.head().size));
    } else {
      return fail(ErrorCode.INVALID_ARGUMENT, 'give --index I [--size N] or --from M [--to N]');
    }
    ctx.out(ctx.json ? JSON.stringify(bundle) : JSON.stringify(bundle, null, 2));
  } finally {
    await ledger.close();
  }
  return EXIT.ok;
}

export function verify(ctx: Ctx, file: string, keys: string[]): number {
  if (!existsSync(file))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${file}`, {
      hint: 'check the path (relative to the current folder)',
    });
  if (keys.length === 0)
    fail(ErrorCode.INVALID_ARGUMENT, 'give the sequencer verifier key with --key', {
      hint: 'it is in <dir>/sequencer.pub',
    });
  const report = verifyBundle(readFileSync(file, 'utf8'), keys.map(keyArgument));
  if (ctx.json) {
    ctx.out(JSON.stringify(report));
  } else {
    for (const c of report.checks) {
      const mark = c.status === 'pass' ? green('ok  ') : c.status === 'skip' ? dim('skip') : red('FAIL');
      ctx.out(`${mark} ${c.name}: ${c.detail}`);
    }
    const failedCheck = report.checks.find((c) => c.status === 'fail');
    ctx.out(report.ok ? green('verified') : red(`NOT verified: ${failedCheck?.name} failed`));
  }
  return report.ok ? EXIT.ok : EXIT.failed;
}

/**
 * Re-verifies a whole ledger, local (<dir>) or served (http://...), and writes
 * report.json + report.html to `reportDir` when given; --json prints the report.
 */
/** One-line fixes for the audit failures a person can act on. */
const AUDIT_HINTS: Record<string, string> = {
  [ErrorCode.LEDGER_NOT_FOUND]:
    'give the folder `dirchain init` made (it holds ledger/), or the URL `dirchain serve` printed',
  [ErrorCode.STORAGE]:
    'another process holds the folder (a running sequencer or `dirchain serve`): audit a copy, or its URL',
  [ErrorCode.REMOTE]: 'check that the URL is the one `dirchain serve` printed and that the server is running',
  [ErrorCode.KEY_INVALID]: 'pass the sequencer verifier key the ledger published (sequencer.pub), with --key',
  [ErrorCode.LEDGER_CORRUPT]:
    'the ledger differs from what its signed blocks commit to: restore it from a replica',
  [ErrorCode.BAD_SIGNATURE]:
    'the record or note was changed after signing: restore the ledger from a replica',
};

export async function audit(
  ctx: Ctx,
  target: string,
  keys: string[],
  reportDir: string | undefined,
  checkpointFile?: string,
): Promise<number> {
  let bar: Progress | undefined;
  const where = isLedgerUrl(target) ? target : ledgerPath(target);
  if (checkpointFile !== undefined && !existsSync(checkpointFile))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${checkpointFile}`, {
      hint: 'save one with `dirchain checkpoint <dir> > checkpoint.txt`',
    });
  const report = await auditLedger(where, {
    ...(keys.length > 0 ? { trustedKeys: keys.map(keyArgument) } : {}),
    ...(checkpointFile === undefined ? {} : { checkpoint: readFileSync(checkpointFile, 'utf8') }),
    // Statistics cost a body decode per record: only when a report is wanted.
    verifyOnly: reportDir === undefined && !ctx.json,
    onProgress: (done, total) => {
      bar ??= new Progress('verifying', total, !ctx.json && process.stderr.isTTY === true);
      bar.update(done);
    },
  });
  bar?.done();
  // The report is written whatever the verdict: it says what failed.
  const files = reportDir === undefined ? undefined : writeReport(reportDir, report);
  if (ctx.json) ctx.out(JSON.stringify(report));
  else {
    if (report.ok)
      ctx.out(
        green(
          `ledger verified: ${report.records} records in ${report.blocks} blocks, origin ${report.origin}`,
        ),
      );
    else {
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
  return report.ok ? EXIT.ok : EXIT.failed;
}

/** Serves <dir>'s ledger read-only as tlog-tiles until SIGINT or SIGTERM. */
export async function serve(ctx: Ctx, dir: string, host: string, port: number): Promise<number> {
  const running = await serveLedger(ledgerPath(dir), { host, port });
  if (ctx.json) ctx.out(JSON.stringify({ url: running.url, origin: running.origin, size: running.size }));
  else {
    ctx.out(`serving ${running.origin} (${running.size} records) read-only at ${running.url}`);
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
  const report = await rebuildState(ledgerPath(dir));
  ctx.out(
    ctx.json
      ? JSON.stringify(report)
      : `rebuilt state and indexes from ${report.records} records (${report.entries} entries)`,
  );
  return EXIT.ok;
}
