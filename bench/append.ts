/**
 * Figure 1: append throughput of access-log records, durable (`sync`), with 64
 * concurrent callers (group commit), against reference A (raw LevelDB chained
 * batches of 1000, `sync: true`) on the same pre-generated, pre-signed bytes,
 * in the same process and the same run, and against reference B (hypercore,
 * bench/hypercore.ts) on the same bytes. Also the in-memory ceiling (decode +
 * leaf hash + Merkle frontier, no storage).
 *
 * Variants, each run once as warm-up and then `runs` times, round-robin:
 *   A          raw classic-level: db.batch() → put ×1000 → write({ sync: true }), 9-byte sequential keys
 *   hypercore  reference B, the peer: hypercore 11.37.1 append([1000 entries]) (no fsync per append)
 *   ceiling    decode + leaf hash + frontier append (+ root and one signed note per 1000 records), in memory
 *   append     ledger.append(bytes): decodes and verifies each author's Ed25519 signature (thread pool)
 *   submit     ledger.submit(member, kind, body): signs each record in-process (main thread), no re-verify
 *   presigned  ledger.submit with the pre-made signature handed back by the signer and the record's own
 *              timestamp from the clock, so the ledger stores byte-identical entries with no per-record
 *              Ed25519 at all: the ledger's own cost (encode, admission, hash, tree, checkpoint, write)
 */
import { ClassicLevel } from 'classic-level';
import { utf8 } from '../src/crypto/bytes.js';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { decodeRecord } from '../src/encoding/record.js';
import { createLedger, type Ledger, loadSigner, type MemberSigner, signNote } from '../src/index.js';
import { formatBlockHeader } from '../src/ledger/checkpoint.js';
import { Frontier, treeHasher } from '../src/merkle/index.js';
import { numberKey, TABLE } from '../src/storage/keys.js';
import { runHypercore } from './hypercore.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  MB,
  median,
  percentileSorted,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import {
  ACCESS_LOG_KIND,
  type AccessLogs,
  type Directory,
  generateAccessLogs,
  makeDirectory,
} from './workload.js';

const CONCURRENCY = 64;
const RAW_BATCH = 1000;
const CEILING_BLOCK = 1000;
const QUICK_N = 20_000;
const FULL_N = 1_000_000;
const QUICK_WARMUP_N = 5_000;
const FULL_WARMUP_N = 100_000;

export type VariantId = 'A' | 'hypercore' | 'ceiling' | 'append' | 'submit' | 'presigned';

const LABELS: Record<VariantId, string> = {
  A: 'A: raw LevelDB chained batch 1000, sync',
  hypercore: 'B: hypercore append([1000]), no fsync',
  ceiling: 'ceiling: decode+leaf hash+frontier, no storage',
  append: 'dirchain append(bytes) ×64, verifies sigs',
  submit: 'dirchain submit() ×64, signs in-process',
  presigned: 'dirchain submit() ×64, pre-signed (no Ed25519)',
};

export interface RunResult {
  readonly records: number;
  readonly bytes: number;
  readonly seconds: number;
  readonly recordsPerSec: number;
  readonly mbPerSec: number;
  /** Per-append ack latency (ledger variants) or per-batch write latency (A), ms. */
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly diskBytes?: number;
  readonly peakRssMiB: number;
  /** Blocks written (ledger variants). */
  readonly blocks?: number;
}

export interface Prepared {
  readonly dir: Directory;
  readonly logs: AccessLogs;
}

function summarize(records: number, bytes: number, seconds: number, peakRssMiB: number): RunResult {
  return {
    records,
    bytes,
    seconds,
    recordsPerSec: records / seconds,
    mbPerSec: bytes / seconds / MB,
    peakRssMiB,
  };
}

function latencies(samples: Float64Array): { p50Ms: number; p99Ms: number } {
  const sorted = samples.slice().sort();
  return { p50Ms: percentileSorted(sorted, 50), p99Ms: percentileSorted(sorted, 99) };
}

function payloadBytes(logs: AccessLogs, n: number): number {
  if (n === logs.count) return logs.totalBytes;
  let total = 0;
  for (let i = 0; i < n; i++) total += logs.entries[i]!.length;
  return total;
}

/** (a) Reference A: raw classic-level chained batches of 1000, `sync: true`, sequential 9-byte keys. */
async function runRawLevel(p: Prepared, n: number): Promise<RunResult> {
  const path = await tempDir('raw');
  const rss = new RssSampler();
  try {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const batches = new Float64Array(Math.ceil(n / RAW_BATCH));
    const entries = p.logs.entries;
    rss.start();
    const start = performance.now();
    for (let from = 0, b = 0; from < n; from += RAW_BATCH, b++) {
      const t0 = performance.now();
      const batch = db.batch();
      const to = Math.min(n, from + RAW_BATCH);
      for (let i = from; i < to; i++) batch.put(numberKey(TABLE.entry, i), entries[i]!);
      await batch.write({ sync: true });
      batches[b] = performance.now() - t0;
    }
    const seconds = (performance.now() - start) / 1000;
    const peak = rss.stop();
    await db.close();
    return {
      ...summarize(n, payloadBytes(p.logs, n), seconds, peak),
      ...latencies(batches),
      diskBytes: await dirBytes(path),
    };
  } finally {
    rss.stop();
    await removeDir(path);
  }
}

/** (c) The in-memory ceiling: decode + leaf hash + frontier append, one root + signed note per 1000. */
async function runCeiling(p: Prepared, n: number): Promise<RunResult> {
  const hasher = treeHasher(sha256Node);
  const sequencer = loadSigner(p.dir.sequencerKey);
  const entries = p.logs.entries;
  const rss = new RssSampler();
  rss.start();
  const start = performance.now();
  const frontier = new Frontier(hasher);
  let hashes: Uint8Array[] = [];
  let height = 0;
  let stored = 0;
  let lastNote = '';
  for (let i = 0; i < n; i++) {
    const record = decodeRecord(entries[i]!);
    frontier.append(hasher.leaf(record.bytes), hashes);
    if ((i + 1) % CEILING_BLOCK === 0 || i + 1 === n) {
      const text = formatBlockHeader({
        origin: p.dir.origin,
        size: frontier.size,
        root: frontier.root(),
        height: ++height,
        prev: sha256Node(utf8(lastNote)),
        time: record.timestamp,
      });
      lastNote = signNote(text, [sequencer]);
      stored += hashes.length;
      hashes = [];
      rss.sample();
    }
  }
  const seconds = (performance.now() - start) / 1000;
  if (frontier.size !== n || stored < n) throw new Error('ceiling run lost records');
  return summarize(n, payloadBytes(p.logs, n), seconds, rss.stop());
}

/** Runs `n` appends from CONCURRENCY async loops; each loop awaits its own append before the next. */
async function concurrently(
  n: number,
  appendOne: (i: number) => Promise<unknown>,
): Promise<{ seconds: number; lat: Float64Array }> {
  const lat = new Float64Array(n);
  let next = 0;
  const loop = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t0 = performance.now();
      await appendOne(i);
      lat[i] = performance.now() - t0;
    }
  };
  const start = performance.now();
  await Promise.all(Array.from({ length: CONCURRENCY }, loop));
  return { seconds: (performance.now() - start) / 1000, lat };
}

/** (b) dirchain, in one of its three append paths. */
async function runLedger(
  p: Prepared,
  n: number,
  variant: 'append' | 'submit' | 'presigned',
): Promise<RunResult> {
  const path = await tempDir(variant);
  const rss = new RssSampler();
  const { dir, logs } = p;
  // Presigned replay: the clock returns the record's own timestamp and the
  // signer hands back the record's own signature, so entries are byte-identical.
  let clockNow = logs.timestamps[0] ?? Date.now();
  let staged: Uint8Array | undefined;
  const replayMembers: MemberSigner[] = dir.departments.map((d) => ({
    id: d.id,
    keyId: 0,
    signer: {
      publicKey: d.publicKey,
      sign: () => {
        if (staged === undefined) throw new Error('no signature staged');
        return staged;
      },
    },
  }));
  let ledger: Ledger | undefined;
  try {
    ledger = await createLedger(path, {
      origin: dir.origin,
      sequencerKey: dir.sequencerKey,
      members: [...dir.members],
      durability: 'sync',
      // The workload's timestamps are fixed by the seed (reproducible bytes), so
      // the clock-skew admission check (one comparison per record) is off.
      policy: { maxClockSkewMs: 0 },
      ...(variant === 'presigned' ? { clock: () => clockNow } : {}),
    });
    const l = ledger;
    const entries = logs.entries;
    const sigOf = (i: number): Uint8Array => entries[i]!.subarray(entries[i]!.length - 64);
    let appendOne: (i: number) => Promise<unknown>;
    if (variant === 'append') {
      appendOne = (i) => l.append(entries[i]!);
    } else if (variant === 'submit') {
      appendOne = (i) =>
        l.submit(dir.departments[logs.authors[i]!]!.member, ACCESS_LOG_KIND, logs.bodies[i]!);
    } else {
      appendOne = (i) => {
        clockNow = logs.timestamps[i]!;
        staged = sigOf(i);
        const done = l.submit(replayMembers[logs.authors[i]!]!, ACCESS_LOG_KIND, logs.bodies[i]!);
        staged = undefined;
        return done;
      };
    }
    rss.start();
    const { seconds, lat } = await concurrently(n, appendOne);
    const peak = rss.stop();
    const head = l.head();
    if (head.size !== n + 1)
      throw new Error(`${variant}: ledger holds ${head.size - 1} records, expected ${n}`);
    if (variant === 'presigned') {
      // Submit is synchronous up to the queue, so ledger index = 1 + i.
      for (const i of [0, n >> 1, n - 1, 7 % n, 1234 % n]) {
        if (Buffer.compare(l.getEntry(1 + i), entries[i]!) !== 0)
          throw new Error(`presigned: ledger entry ${1 + i} differs from pre-generated record ${i}`);
      }
    }
    await l.close();
    ledger = undefined;
    return {
      ...summarize(n, payloadBytes(logs, n), seconds, peak),
      ...latencies(lat),
      diskBytes: await dirBytes(path),
      blocks: head.height,
    };
  } finally {
    rss.stop();
    await ledger?.close();
    await removeDir(path);
  }
}

/** One run of one variant (exported for profiling scripts). */
export function runVariant(p: Prepared, n: number, v: VariantId): Promise<RunResult> {
  switch (v) {
    case 'A':
      return runRawLevel(p, n);
    case 'hypercore':
      return runHypercore(p, n);
    case 'ceiling':
      return runCeiling(p, n);
    default:
      return runLedger(p, n, v);
  }
}

const ORDER: readonly VariantId[] = ['A', 'hypercore', 'ceiling', 'append', 'submit', 'presigned'];
const LEDGER_VARIANTS: readonly VariantId[] = ['append', 'submit', 'presigned'];

export async function figureAppend(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.n > 0 ? ctx.n : ctx.quick ? QUICK_N : FULL_N;
  const warmupN = Math.min(n, ctx.quick ? QUICK_WARMUP_N : FULL_WARMUP_N);
  ctx.log(`figure 1: generating and signing ${n} access-log records (seed ${ctx.seed})...`);
  const genStart = performance.now();
  const dir = makeDirectory(ctx.seed);
  const logs = generateAccessLogs(dir, n);
  const genSeconds = (performance.now() - genStart) / 1000;
  const p: Prepared = { dir, logs };
  collectGarbage();
  const baselineRssMiB = process.memoryUsage.rss() / (1024 * 1024);
  ctx.log(
    `  ${n} records, ${(logs.totalBytes / n).toFixed(1)} B avg, generated in ${genSeconds.toFixed(1)} s; ` +
      `RSS with them in memory ${baselineRssMiB.toFixed(0)} MiB`,
  );

  const warmup: Partial<Record<VariantId, RunResult>> = {};
  for (const v of ORDER) {
    ctx.log(`  warm-up ${v} (${warmupN} records)`);
    warmup[v] = await runVariant(p, warmupN, v);
    collectGarbage();
  }
  const runs: Record<VariantId, RunResult[]> = {
    A: [],
    hypercore: [],
    ceiling: [],
    append: [],
    submit: [],
    presigned: [],
  };
  for (let r = 0; r < ctx.runs; r++) {
    for (const v of ORDER) {
      const res = await runVariant(p, n, v);
      runs[v].push(res);
      ctx.log(
        `  run ${r + 1}/${ctx.runs} ${v.padEnd(9)} ${Math.round(res.recordsPerSec).toLocaleString('en-US')} rec/s` +
          (res.p99Ms === undefined
            ? ''
            : `, p50 ${res.p50Ms!.toFixed(2)} ms, p99 ${res.p99Ms.toFixed(2)} ms`),
      );
      collectGarbage();
    }
  }

  const rows: Row[] = ORDER.map((v) => {
    const rs = runs[v];
    const ratios = rs.map((res, r) => res.recordsPerSec / runs.A[r]!.recordsPerSec);
    const disk = rs.map((res) => res.diskBytes).filter((d): d is number => d !== undefined);
    const blocks = rs.map((res) => res.blocks).filter((b): b is number => b !== undefined);
    return {
      figure: '1',
      variant: LABELS[v],
      recordsPerSec: median(rs.map((res) => res.recordsPerSec)),
      mbPerSec: median(rs.map((res) => res.mbPerSec)),
      ratio: median(ratios),
      ...(LEDGER_VARIANTS.includes(v) || v === 'hypercore'
        ? { ratio2: median(rs.map((res, r) => res.recordsPerSec / runs.hypercore[r]!.recordsPerSec)) }
        : {}),
      ...(rs[0]!.p50Ms === undefined
        ? {}
        : { p50Ms: median(rs.map((res) => res.p50Ms!)), p99Ms: median(rs.map((res) => res.p99Ms!)) }),
      ...(disk.length === 0 ? {} : { diskBytesPerRecord: median(disk) / n }),
      peakRssMiB: Math.max(...rs.map((res) => res.peakRssMiB)),
      ...(blocks.length === 0
        ? v === 'A' || v === 'hypercore'
          ? { extra: `${RAW_BATCH} rec/batch; p50/p99 are per batch` }
          : {}
        : { extra: `${(n / median(blocks)).toFixed(1)} rec/block` }),
    };
  });

  const notes = [
    `${n.toLocaleString('en-US')} access-log records per run (avg ${(logs.totalBytes / n).toFixed(1)} B), ` +
      `${CONCURRENCY} concurrent callers; median of ${ctx.runs} runs after a ${warmupN.toLocaleString('en-US')}-record warm-up; ` +
      '× A = median over rounds of (variant ÷ A in the same round); × ref 2 = likewise ÷ B (hypercore); ' +
      'MB = 10^6 B of entry bytes.',
    'B: hypercore 11.37.1, append() of arrays of 1000 of the same entry bytes to a fresh core (one signed ' +
      'tree update per array, RocksDB without fsync per append: not durable like sync mode).',
    'append verifies every author Ed25519 signature (thread pool); submit signs in-process on the main thread; ' +
      'presigned replays the same signatures through submit (byte-identical entries, checked), i.e. the ledger ' +
      'without per-record Ed25519.',
    `RSS before the runs, with all records in memory: ${baselineRssMiB.toFixed(0)} MiB; ` +
      `records generated and signed at ${Math.round(n / genSeconds).toLocaleString('en-US')}/s (not timed).`,
  ];

  return {
    figure: '1',
    title: 'Append throughput (sync durability, 64 concurrent callers)',
    rows,
    notes,
    details: {
      n,
      warmupN,
      concurrency: CONCURRENCY,
      rawBatch: RAW_BATCH,
      avgRecordBytes: logs.totalBytes / n,
      generateSeconds: genSeconds,
      baselineRssMiB,
      labels: LABELS,
      warmup,
      runs,
    },
  };
}
