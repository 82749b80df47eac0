/**
 * `dirchain append`: NDJSON records from a file into a ledger (a folder, or a
 * node over HTTP), streamed in bounded memory whatever the file's size or its
 * longest line. It always ends by saying what was appended (count, lowest and
 * highest index) and which lines were refused, also when an error stops it
 * midway.
 */

import { createReadStream, existsSync, statSync } from 'node:fs';
import { fail, fromBase64 } from '../cli-api.js';
import {
  DirchainError,
  ErrorCode,
  type Head,
  type LedgerApi,
  MAX_ENTRY_BYTES,
  type MemberSigner,
  openLedger,
  type Plain,
} from '../index.js';
import { type Ctx, EXIT } from './commands.js';
import { errorJSON, writeError } from './error-output.js';
import { formatBytes, Progress, red } from './io.js';
import { isLongLine, LineSplitter, type SplitLine } from './line-splitter.js';
import { keyArgument, ledgerPath, readKeyFile, sequencerKeyPath } from './node-dir.js';
import { type NodeArgs, openTarget, type Place, type Target } from './target.js';

/**
 * The longest line read, in bytes; a longer one is refused (E_TOO_LARGE) without
 * being held in memory. It is not the entry limit because a line is not an entry,
 * and every line that makes a valid entry must fit:
 * - `{"record": "<base64>"}` of a largest (65,535-byte) entry is 87,380 base64
 *   characters and 13 of wrapper;
 * - `{"kind": ..., "body": ...}` is signed here, and compact JSON can spend 6 bytes
 *   where the entry's MessagePack spends 1 (`"\u0001"` in a string, `false,` in an
 *   array), so a body that just fits in an entry can be ~6 × 65,535 = 393,210 bytes.
 * 512 KiB holds both with room for whitespace, and is what one line may cost.
 */
export const MAX_LINE_BYTES = 512 * 1024;

/**
 * Lines checked and appended per appendMany call: large enough for its parallel
 * signature checks and for full blocks, and bounded in bytes too so a file of
 * large records holds at most ~16 MiB of them at a time.
 */
const WINDOW_RECORDS = 8192;
const WINDOW_BYTES = 16 * 1024 * 1024;
/**
 * On a node a window is one request body, which the node caps (16 MiB unless
 * --max-body says less): a quarter of it leaves room for the signatures and
 * framing that unsigned lines gain, and for a node run with a smaller cap.
 */
const NODE_WINDOW_BYTES = 4 * 1024 * 1024;

/** Refused lines listed in human output; --json lists them all. */
const LISTED = 20;

/** Codes that say the ledger stopped, not that a record was refused. */
const STOPPING: ReadonlySet<string> = new Set([ErrorCode.STORAGE, ErrorCode.LEDGER_CLOSED]);

interface Refusal {
  readonly line: number;
  readonly code: string;
  readonly message: string;
}

/** What one run appended and refused: all the report needs, never a result per line. */
class Tally {
  appended = 0;
  first: number | undefined;
  last: number | undefined;
  refusedCount = 0;
  readonly refused: Refusal[] = [];
  readonly #keep: number;

  constructor(keep: number) {
    this.#keep = keep;
  }

  receipt(index: number): void {
    this.appended++;
    this.first = this.first === undefined ? index : Math.min(this.first, index);
    this.last = this.last === undefined ? index : Math.max(this.last, index);
  }

  refuse(line: number, e: { code: string; message: string }): void {
    this.refusedCount++;
    if (this.refused.length < this.#keep) this.refused.push({ line, code: e.code, message: e.message });
  }
}

/** An error that stopped the run, and the first line it left neither appended nor refused. */
class Stopped extends Error {
  constructor(
    readonly error: unknown,
    readonly line: number | undefined,
  ) {
    super('append stopped');
  }
}

interface Slot {
  readonly line: number;
  /** A record signed elsewhere, as read. */
  readonly entry?: Uint8Array;
  /** An unsigned `{kind, body}` line's text: signed when its window is appended, not when read. */
  readonly unsigned?: string;
  readonly error?: DirchainError;
}

/**
 * NDJSON, one record per line: either `{"record": "<base64 signed entry>"}`
 * (signed elsewhere), or `{"kind": "...", "body": {...}}` signed here with `--key`,
 * with the time it is appended at (not the time it was read: see `drain`).
 * `where` is a ledger folder (a path, or `{folder}`) or `{node}`: a node's
 * records go through its client's appendMany, a window per request.
 * Exit codes: 0 all appended, 1 some lines refused, 3 an error stopped it (what
 * was appended before it is still reported).
 */
export async function append(
  ctx: Ctx,
  where: string | Place,
  file: string,
  keyFile: string | undefined,
  fromLine = 1,
  node: NodeArgs = {},
): Promise<number> {
  if (fromLine < 1) fail(ErrorCode.INVALID_ARGUMENT, `--from-line must be 1 or more, got ${fromLine}`);
  if (!existsSync(file))
    fail(ErrorCode.INVALID_ARGUMENT, `no such file: ${file}`, {
      hint: 'check the path (relative to the current folder)',
    });
  if (statSync(file).isDirectory())
    fail(ErrorCode.INVALID_ARGUMENT, `${file} is a folder`, { hint: 'give the NDJSON file of records' });
  // On a node, the member whose lines are signed here also signs the reads, unless --as names another.
  const place = typeof where === 'string' ? { folder: where } : where;
  const target = await openTarget(place, { ...node, as: node.as ?? keyFile }, (dir) =>
    openLedger(ledgerPath(dir), { sequencerKey: readKeyFile(sequencerKeyPath(dir)) }),
  );
  let signer: MemberSigner | undefined;
  try {
    signer = keyFile === undefined ? undefined : await target.memberSigner(keyArgument(keyFile));
  } catch (e) {
    await target.close();
    throw e;
  }
  const tally = new Tally(ctx.json ? Number.POSITIVE_INFINITY : LISTED);
  let stopped: Stopped | undefined;
  try {
    await appendFile(ctx, target, file, signer, tally, fromLine);
  } catch (e) {
    stopped = e instanceof Stopped ? e : new Stopped(e, undefined);
  }
  let head: Head | undefined;
  try {
    head = await target.api.head();
  } catch (e) {
    // A node that stopped answering: what was appended is still reported, without the tree after it.
    stopped ??= new Stopped(e, undefined);
  }
  try {
    await target.close();
  } catch (e) {
    // Every record counted was durable before close began; the error is still reported.
    stopped ??= new Stopped(e, undefined);
  }
  report(ctx, tally, head, stopped);
  if (stopped !== undefined) {
    writeError(stopped.error);
    return EXIT.error;
  }
  return tally.refusedCount === 0 ? EXIT.ok : EXIT.failed;
}

async function appendFile(
  ctx: Ctx,
  target: Target,
  file: string,
  signer: MemberSigner | undefined,
  tally: Tally,
  fromLine: number,
): Promise<void> {
  // Progress in bytes of the file: counting its lines first would read it twice.
  const progress = new Progress(
    'appending',
    statSync(file).size,
    !ctx.json && process.stderr.isTTY === true,
    formatBytes,
  );
  const windowMaxBytes = target.node === undefined ? WINDOW_BYTES : NODE_WINDOW_BYTES;
  const window: Slot[] = [];
  let windowBytes = 0;
  let read = 0;
  let nextLine = 1;
  const drain = async () => {
    if (window.length === 0) return;
    // Unsigned lines are signed now, just before they are appended, with the ledger's clock: a
    // window can take long to fill (a slow pipe), and a record more than the genesis policy's
    // maxClockSkewMs older than its block would be refused for good (E_CLOCK_SKEW).
    const slots = window.map((w) => (w.unsigned === undefined ? w : signed(w, target, signer)));
    const entries = slots.filter((w) => w.entry !== undefined).map((w) => w.entry!);
    let receipts: Awaited<ReturnType<LedgerApi['appendMany']>>;
    try {
      receipts = await target.api.appendMany(entries);
    } catch (e) {
      throw new Stopped(e, window[0]!.line);
    }
    let r = 0;
    let stop: Stopped | undefined;
    for (const w of slots) {
      if (w.error) {
        tally.refuse(w.line, w.error);
        continue;
      }
      const rec = receipts[r++]!;
      if (!(rec instanceof DirchainError)) tally.receipt(rec.index);
      else if (STOPPING.has(rec.code)) stop ??= new Stopped(rec, w.line);
      else tally.refuse(w.line, rec);
    }
    window.length = 0;
    windowBytes = 0;
    if (stop) throw stop;
  };
  const add = async (line: SplitLine) => {
    nextLine = line.number + 1;
    // Lines a previous run appended (it names the first it did not: --from-line resumes there).
    if (line.number < fromLine) return;
    const slot = slotOf(line, signer);
    if (slot === undefined) return;
    window.push(slot);
    windowBytes += slot.entry?.length ?? slot.unsigned?.length ?? 0;
    if (window.length >= WINDOW_RECORDS || windowBytes >= windowMaxBytes) await drain();
  };
  const splitter = new LineSplitter(MAX_LINE_BYTES);
  const stream = createReadStream(file);
  try {
    try {
      for await (const chunk of stream as AsyncIterable<Buffer>) {
        read += chunk.length;
        for (const line of splitter.push(chunk)) await add(line);
        // Per chunk, not per line: a 2 GB line moves the bar too.
        progress.update(read);
      }
      for (const line of splitter.end()) await add(line);
    } catch (e) {
      if (e instanceof Stopped) throw e;
      // A read error: the lines waiting in the window were not appended either.
      throw new Stopped(e, window[0]?.line ?? nextLine);
    } finally {
      stream.destroy();
    }
    await drain();
  } finally {
    progress.done();
  }
}

const utf8 = new TextDecoder('utf-8', { fatal: true });

/** The entry a line makes, or why it makes none; undefined for a blank line. */
function slotOf(line: SplitLine, signer: MemberSigner | undefined): Slot | undefined {
  if (isLongLine(line)) {
    return {
      line: line.number,
      error: new DirchainError(
        ErrorCode.TOO_LARGE,
        `line is ${line.length} bytes; a line is at most ${MAX_LINE_BYTES} (and a record at most ${MAX_ENTRY_BYTES})`,
      ),
    };
  }
  try {
    let text: string;
    try {
      text = utf8.decode(line.bytes);
    } catch {
      return fail(ErrorCode.DECODE, 'line is not valid UTF-8');
    }
    if (text.trim() === '') return undefined;
    const o = parseLine(text);
    if (typeof o.record === 'string') return { line: line.number, entry: fromBase64(o.record) };
    if (signer === undefined) {
      fail(ErrorCode.INVALID_ARGUMENT, 'unsigned lines ("kind"/"body") need --key <member signer key file>');
    }
    // Kept as text (what the line costs), parsed again and signed when its window is appended.
    return { line: line.number, unsigned: text };
  } catch (e) {
    return { line: line.number, error: asError(e) };
  }
}

/** The slot of an unsigned line, signed now as `signer` with the ledger's clock. */
function signed(slot: Slot, target: Target, signer: MemberSigner | undefined): Slot {
  try {
    const o = parseLine(slot.unsigned!);
    return { line: slot.line, entry: target.sign(signer!, o.kind as string, o.body as Plain).bytes };
  } catch (e) {
    return { line: slot.line, error: asError(e) };
  }
}

const asError = (e: unknown): DirchainError =>
  e instanceof DirchainError ? e : new DirchainError(ErrorCode.DECODE, String(e));

/** A line as JSON: an object with `record` (a base64 string), or with a string `kind` and a `body`. */
function parseLine(raw: string): Record<string, unknown> {
  let v: unknown;
  try {
    v = JSON.parse(raw);
  } catch {
    return fail(ErrorCode.DECODE, 'line is not valid JSON');
  }
  if (typeof v !== 'object' || v === null || Array.isArray(v))
    fail(ErrorCode.DECODE, 'line must be a JSON object');
  const o = v as Record<string, unknown>;
  if (typeof o.record === 'string') return o;
  if (typeof o.kind !== 'string' || !('body' in o)) {
    fail(ErrorCode.DECODE, 'line needs "record" (base64) or "kind" and "body"', {
      hint: 'see `dirchain append --help` for the line format',
    });
  }
  return o;
}

/**
 * --json: `appended`, `first` / `last` (lowest / highest index appended, null if
 * none), `refused` [{line, code}], `failed` (the same lines with messages),
 * `size` and `checkpoint` of the tree after (null when a node stopped
 * answering before it said); with `error` and `stoppedAtLine`
 * (the first line not appended or refused) when an error stopped the run.
 */
function report(ctx: Ctx, tally: Tally, head: Head | undefined, stopped: Stopped | undefined): void {
  const stop =
    stopped === undefined
      ? {}
      : {
          error: errorJSON(stopped.error),
          ...(stopped.line === undefined ? {} : { stoppedAtLine: stopped.line }),
        };
  if (ctx.json) {
    ctx.out(
      JSON.stringify({
        appended: tally.appended,
        first: tally.first ?? null,
        last: tally.last ?? null,
        refused: tally.refused.map((f) => ({ line: f.line, code: f.code })),
        failed: tally.refused.map((f) => ({ line: f.line, error: { code: f.code, message: f.message } })),
        size: head?.size ?? null,
        checkpoint: head?.checkpoint ?? null,
        ...stop,
      }),
    );
    return;
  }
  const range =
    tally.first === undefined
      ? ''
      : tally.first === tally.last
        ? ` (index ${tally.first})`
        : ` (indexes ${tally.first}-${tally.last})`;
  ctx.out(`appended ${tally.appended} records; tree size ${head?.size ?? 'not known'}${range}`);
  for (const f of tally.refused) ctx.out(red(`line ${f.line}: ${f.code} ${f.message}`));
  if (tally.refusedCount > tally.refused.length)
    ctx.out(red(`... and ${tally.refusedCount - tally.refused.length} more refused lines`));
  if (stopped?.line !== undefined)
    ctx.out(red(`stopped at line ${stopped.line}: it and the lines after it were not appended`));
}
