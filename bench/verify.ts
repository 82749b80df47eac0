/**
 * Figure 2: append with verification. Access-log records signed by the 57
 * departments are handed to the sequencer as bytes (`ledger.append`), which
 * verifies every author signature before sequencing. The reference is the
 * machine's Ed25519 verification ceiling measured in the same run on the same
 * records' signatures: node `crypto.verify` in callback form with many in
 * flight (libuv's thread pool, so both cores verify), and, as a second
 * reference, the same verification synchronously on one thread. noble's
 * verification is measured too, for information.
 */
import * as crypto from 'node:crypto';
import { verifyNoble } from '../src/crypto/ed25519.js';
import { decodeRecord, recordSigningMessage } from '../src/encoding/record.js';
import type { Ledger } from '../src/index.js';
import { benchLedger, callersAwaitingEach, callersPipelined } from './feed.js';
import {
  type BenchContext,
  collectGarbage,
  type FigureResult,
  MB,
  median,
  percentileSorted,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import { PackedBytes } from './packed.js';
import { type AccessLogs, type Directory, generateAccessLogs, makeDirectory } from './workload.js';

const QUICK_N = 1_000;
const FULL_N = 50_000;
const QUICK_NOBLE = 100;
const QUICK_WARM_N = 250;
const FULL_NOBLE = 1_000;
/** Verifications kept in flight by the async ceiling (the pool has 4 threads; this keeps it full). */
const CEILING_IN_FLIGHT = 256;
const CALLERS = 64;
const PIPELINE_CALLERS = 8;
const PIPELINE_DEPTH = 32;
const MANY_BATCH = 1000;
const MANY_IN_FLIGHT = 4;

type VariantId = 'async' | 'sync' | 'noble' | 'callers' | 'pipelined' | 'many';
const ORDER: readonly VariantId[] = ['async', 'sync', 'noble', 'callers', 'pipelined', 'many'];
const INGEST: readonly VariantId[] = ['callers', 'pipelined', 'many'];

const LABELS: Record<VariantId, string> = {
  async: 'ref: node crypto.verify async, 256 in flight',
  sync: 'ref 2: node crypto.verify sync, 1 thread',
  noble: 'noble ed25519.verify (pure JS), 1 thread',
  callers: `ingest append(bytes) ×${CALLERS} callers`,
  pipelined: `ingest append(bytes) ${PIPELINE_CALLERS} callers × ${PIPELINE_DEPTH} in flight`,
  many: `ingest appendMany(${MANY_BATCH}) ×${MANY_IN_FLIGHT} in flight`,
};

interface RunResult {
  readonly records: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly peakRssMiB?: number;
  readonly blocks?: number;
}

/**
 * What the verification references check: each record's signing message and
 * signature (packed, like the records), and its author's key.
 */
interface Signatures {
  readonly messages: PackedBytes;
  readonly signatures: PackedBytes;
  /** Department index of each record's author. */
  readonly authors: Uint16Array;
  readonly publicKeys: readonly Uint8Array[];
  /** node KeyObjects by department, parsed once each (as the ledger caches them). */
  readonly keyObjects: readonly crypto.KeyObject[];
}

const SPKI_PREFIX = Buffer.from('302a300506032b6570032100', 'hex');

function signaturesOf(dir: Directory, logs: AccessLogs): Signatures {
  const keyObjects = dir.departments.map((d) =>
    crypto.createPublicKey({ key: Buffer.concat([SPKI_PREFIX, d.publicKey]), format: 'der', type: 'spki' }),
  );
  const messages = new PackedBytes();
  const signatures = new PackedBytes();
  for (let i = 0; i < logs.count; i++) {
    const record = decodeRecord(logs.entries.at(i));
    messages.push(recordSigningMessage(record.signed));
    signatures.push(record.signature);
  }
  return {
    messages,
    signatures,
    authors: logs.authors,
    publicKeys: dir.departments.map((d) => d.publicKey),
    keyObjects,
  };
}

function summarize(n: number, bytes: number, seconds: number, extra: Partial<RunResult> = {}): RunResult {
  return { records: n, seconds, recordsPerSec: n / seconds, mbPerSec: bytes / seconds / MB, ...extra };
}

/** The ceiling: crypto.verify's callback form keeps `CEILING_IN_FLIGHT` verifications on the thread pool. */
function verifyAsync(s: Signatures, n: number): Promise<number> {
  return new Promise((resolve, reject) => {
    let next = 0;
    let done = 0;
    const start = performance.now();
    const issue = (): void => {
      const i = next++;
      const key = s.keyObjects[s.authors[i]!]!;
      crypto.verify(null, s.messages.at(i), key, s.signatures.at(i), (err, ok) => {
        if (err !== null || !ok) {
          reject(err ?? new Error(`signature ${i} does not verify`));
          return;
        }
        done++;
        if (next < n) issue();
        else if (done === n) resolve((performance.now() - start) / 1000);
      });
    };
    for (let k = 0; k < Math.min(CEILING_IN_FLIGHT, n); k++) issue();
  });
}

function verifySync(s: Signatures, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (!crypto.verify(null, s.messages.at(i), s.keyObjects[s.authors[i]!]!, s.signatures.at(i)))
      throw new Error(`signature ${i} does not verify`);
  }
  return (performance.now() - start) / 1000;
}

function verifyPureJs(s: Signatures, n: number): number {
  const start = performance.now();
  for (let i = 0; i < n; i++) {
    if (!verifyNoble(s.publicKeys[s.authors[i]!]!, s.messages.at(i), s.signatures.at(i)))
      throw new Error(`signature ${i} does not verify (noble)`);
  }
  return (performance.now() - start) / 1000;
}

/**
 * The ledger side: how the figure hands signed bytes to the sequencer. One
 * function, so a faster ingest API can be measured by changing it alone.
 */
function ingest(
  ledger: Ledger,
  entries: PackedBytes,
  n: number,
  mode: VariantId,
  /** Filled with each record's ledger index (signatures are checked in parallel, so order may change). */
  placed: Float64Array,
): Promise<Float64Array> {
  const one = async (i: number): Promise<void> => {
    placed[i] = (await ledger.append(entries.at(i))).index;
  };
  if (mode === 'callers') return callersAwaitingEach(n, CALLERS, one);
  if (mode === 'pipelined') return callersPipelined(n, PIPELINE_CALLERS, PIPELINE_DEPTH, one);
  // appendMany: batches of MANY_BATCH, MANY_IN_FLIGHT batches outstanding; latency is per batch.
  const batches = Math.ceil(n / MANY_BATCH);
  return callersAwaitingEach(batches, MANY_IN_FLIGHT, async (b) => {
    const from = b * MANY_BATCH;
    const results = await ledger.appendMany(entries.views(from, Math.min(n, from + MANY_BATCH)));
    results.forEach((r, k) => {
      if (r instanceof Error) throw r;
      placed[from + k] = r.index;
    });
  });
}

async function runIngest(dir: Directory, logs: AccessLogs, n: number, mode: VariantId): Promise<RunResult> {
  const path = await tempDir(`verify-${mode}`);
  const rss = new RssSampler();
  let ledger: Ledger | undefined;
  try {
    ledger = await benchLedger(path, dir, 'sync');
    // As figure 1's batched variants: a server takes load once its admission workers have loaded.
    await ledger.workersStarted();
    rss.start();
    const start = performance.now();
    const placed = new Float64Array(n);
    const lat = await ingest(ledger, logs.entries, n, mode, placed);
    const seconds = (performance.now() - start) / 1000;
    const peak = rss.stop();
    const head = ledger.head();
    // Every block, genesis too, ends with one block entry; the other entries are genesis and the records.
    const records = head.size - (head.height + 1) - 1;
    if (records !== n) throw new Error(`${mode}: ledger holds ${records} records, expected ${n}`);
    for (const i of [0, n >> 1, n - 1]) {
      if (Buffer.compare(ledger.getEntry(placed[i]!), logs.entries.at(i)) !== 0)
        throw new Error(`${mode}: ledger entry ${placed[i]} is not record ${i}`);
    }
    await ledger.close();
    ledger = undefined;
    const sorted = lat.slice().sort();
    return summarize(n, bytesOf(logs, n), seconds, {
      p50Ms: percentileSorted(sorted, 50),
      p99Ms: percentileSorted(sorted, 99),
      peakRssMiB: peak,
      blocks: head.height,
    });
  } finally {
    rss.stop();
    await ledger?.close();
    await removeDir(path);
  }
}

function bytesOf(logs: AccessLogs, n: number): number {
  return logs.entries.bytesIn(0, n);
}

async function runVariant(
  dir: Directory,
  logs: AccessLogs,
  sigs: Signatures,
  n: number,
  nobleN: number,
  v: VariantId,
): Promise<RunResult> {
  switch (v) {
    case 'async':
      return summarize(n, bytesOf(logs, n), await verifyAsync(sigs, n));
    case 'sync':
      return summarize(n, bytesOf(logs, n), verifySync(sigs, n));
    case 'noble':
      return summarize(nobleN, bytesOf(logs, nobleN), verifyPureJs(sigs, nobleN));
    default:
      return runIngest(dir, logs, n, v);
  }
}

export async function figureVerify(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.quick ? QUICK_N : FULL_N;
  const nobleN = Math.min(n, ctx.quick ? QUICK_NOBLE : FULL_NOBLE);
  const warmN = ctx.quick ? QUICK_WARM_N : Math.max(MANY_BATCH, Math.floor(n / 10));
  ctx.log(`figure 2: generating and signing ${n} access-log records (seed ${ctx.seed})...`);
  const dir = makeDirectory(ctx.seed);
  const logs = generateAccessLogs(dir, n);
  const sigs = signaturesOf(dir, logs);
  collectGarbage();

  const warmup: Partial<Record<VariantId, RunResult>> = {};
  for (const v of ORDER) {
    warmup[v] = await runVariant(dir, logs, sigs, Math.min(n, warmN), Math.min(nobleN, 50), v);
    collectGarbage();
  }
  const runs: Record<VariantId, RunResult[]> = {
    async: [],
    sync: [],
    noble: [],
    callers: [],
    pipelined: [],
    many: [],
  };
  for (let r = 0; r < ctx.runs; r++) {
    for (const v of ORDER) {
      const res = await runVariant(dir, logs, sigs, n, nobleN, v);
      runs[v].push(res);
      ctx.log(
        `  run ${r + 1}/${ctx.runs} ${v.padEnd(9)} ${Math.round(res.recordsPerSec).toLocaleString('en-US')}/s`,
      );
      collectGarbage();
    }
  }

  const rows: Row[] = ORDER.map((v) => {
    const rs = runs[v];
    const isIngest = INGEST.includes(v);
    const blocks = rs.map((x) => x.blocks).filter((b): b is number => b !== undefined);
    return {
      figure: '2',
      variant: LABELS[v],
      recordsPerSec: median(rs.map((x) => x.recordsPerSec)),
      mbPerSec: median(rs.map((x) => x.mbPerSec)),
      ratio: median(rs.map((x, i) => x.recordsPerSec / runs.async[i]!.recordsPerSec)),
      ratio2: median(rs.map((x, i) => x.recordsPerSec / runs.sync[i]!.recordsPerSec)),
      ...(rs[0]!.p50Ms === undefined
        ? {}
        : { p50Ms: median(rs.map((x) => x.p50Ms!)), p99Ms: median(rs.map((x) => x.p99Ms!)) }),
      ...(isIngest ? { peakRssMiB: Math.max(...rs.map((x) => x.peakRssMiB ?? 0)) } : {}),
      extra: isIngest
        ? `${(n / median(blocks)).toFixed(1)} rec/block${v === 'many' ? '; p50/p99 per batch' : ''}`
        : v === 'noble'
          ? `${nobleN.toLocaleString('en-US')} signatures`
          : `${n.toLocaleString('en-US')} signatures`,
    };
  });

  const notes = [
    `${n.toLocaleString('en-US')} access-log records per run (signed by the 57 departments, ` +
      `avg ${(logs.totalBytes / n).toFixed(1)} B), appended as bytes to a fresh ledger (durability sync); ` +
      `median of ${ctx.runs} runs after a ${Math.min(n, warmN).toLocaleString('en-US')}-record warm-up, round-robin.`,
    '× ref = median over rounds of (rate ÷ the async verification ceiling in the same round), target ≥ 0.80 for ' +
      'ingest; × ref 2 = likewise ÷ synchronous single-thread verification. Each ingest run starts once the ' +
      "ledger's admission workers have loaded (workersStarted), as a server takes load once it is up.",
    `References verify the same records' signatures over their signing messages with node KeyObjects parsed once ` +
      'per department (decoding and key parsing untimed); the ledger also decodes each record, looks its author ' +
      'up, sequences, hashes, signs a checkpoint per block and writes it (fsync per block).',
    `Ingest: ${CALLERS} callers each awaiting its own append; ${PIPELINE_CALLERS} callers each keeping ` +
      `${PIPELINE_DEPTH} appends in flight; appendMany batches of ${MANY_BATCH} with ${MANY_IN_FLIGHT} batches in flight ` +
      '(signatures verified in parallel). p50/p99 = ack latency per append (per batch for appendMany).',
  ];
  return {
    figure: '2',
    title: 'Append with verification (author signatures checked by the sequencer)',
    rows,
    notes,
    details: { n, nobleN, warmN, labels: LABELS, warmup, runs },
  };
}
