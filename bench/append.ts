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
 *
 * Batched form (the same access logs as events, 64 per batch, each batch signed once by its department):
 *   A-ev       reference A on the events' entry bytes (what the batched ledger stores per event)
 *   B-ev       reference B (hypercore) on the same event bytes
 *   batch      ledger.appendBatch(seal, events) from 64 callers: verifies each seal's signature, decodes
 *              every event, recomputes the root; every event is its own entry with its own proof
 *   batch-sub  ledger.submitBatch(member, kind, bodies) from 64 callers: signs each batch in-process
 *   half-rate  appendBatch offered open-loop at half of this round's batch rate (a quarter of the events):
 *              ack latency per batch at a sustainable load, after 20 s idle (full runs; FULL_SETTLE_MS)
 *   A-offered  reference A under the same offered load (same batches, same schedule), one writer
 *              group-committing whatever arrived: the storage's own ack latency there
 */
import { ClassicLevel } from 'classic-level';
import { utf8 } from '../src/crypto/bytes.js';
import { sha256Node } from '../src/crypto/node-crypto.js';
import { formatBlockHeader } from '../src/encoding/checkpoint.js';
import type { Plain } from '../src/encoding/msgpack.js';
import { decodeRecord } from '../src/encoding/record.js';
import { type Ledger, loadSigner, signNote } from '../src/index.js';
import { Frontier, treeHasher } from '../src/merkle/index.js';
import { numberKey } from '../src/storage/keys.js';
import { benchLedger, callersAwaitingEach, offeredOpenLoop, PresignedReplay } from './feed.js';
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
import { PackedBytes } from './packed.js';
import {
  ACCESS_LOG_KIND,
  type AccessLogs,
  accessLogBodies,
  accessLogDrafts,
  type Directory,
  generateAccessLogs,
  makeDirectory,
  signAccessLogBatch,
} from './workload.js';

export const CONCURRENCY = 64;
/** Events per batch in the batched form: a department gateway flushing its data-call log. */
export const EVENTS_PER_BATCH = 64;
const RAW_BATCH = 1000;
/** The raw references' keys: 'E' + index, one LevelDB key per entry. */
const RAW_ENTRY = 0x45;
const CEILING_BLOCK = 1000;
const QUICK_N = 5_000;
const FULL_N = 1_000_000;
const QUICK_WARMUP_N = 500;
/**
 * Idle time before each timed half-rate run. After the ~2 GB a round writes
 * before it, the VM's disk answers fsyncs slowly for a while: the raw reference's
 * own p99 at that load doubled (10.7–13.7 → 23–35 ms) when the offered-load runs
 * came straight after the rest of the round, and came back to 11–13 ms with 20 s
 * of idle time first (bench/NOTES.md, session 11). The pause keeps that backlog
 * out of both latency figures.
 */
const FULL_SETTLE_MS = 20_000;
const FULL_WARMUP_N = 100_000;
/**
 * The one-signed-record-per-event variants (append, submit, presigned) run at
 * most this many records in full mode: at their ~3–5k records/s here, 1M
 * would take most of an hour per round. Their rates are per record, so the
 * ratios stay comparable; the notes say so.
 */
const SINGLE_CAP = 200_000;
/** The same cap in quick mode (a smoke run under a minute: these are the slowest variants). */
const QUICK_SINGLE_CAP = 1_000;

export type VariantId =
  | 'A'
  | 'hypercore'
  | 'ceiling'
  | 'append'
  | 'submit'
  | 'presigned'
  | 'A-ev'
  | 'B-ev'
  | 'batch'
  | 'batch-sub'
  | 'half-rate'
  | 'A-offered';

const LABELS: Record<VariantId, string> = {
  A: 'A: raw LevelDB chained batch 1000, sync',
  hypercore: 'B: hypercore append([1000]), no fsync',
  ceiling: 'ceiling: decode+leaf hash+frontier, no storage',
  append: 'dirchain append(bytes) ×64, verifies sigs',
  submit: 'dirchain submit() ×64, signs in-process',
  presigned: 'dirchain submit() ×64, pre-signed (no Ed25519)',
  'A-ev': 'A on the event bytes (batched form)',
  'B-ev': 'B (hypercore) on the event bytes',
  batch: `dirchain appendBatch ×64, ${EVENTS_PER_BATCH} events/batch`,
  'batch-sub': `dirchain submitBatch ×64, ${EVENTS_PER_BATCH} events/batch`,
  'half-rate': 'appendBatch offered at ½ the batch rate',
  'A-offered': 'A on the event bytes offered at the same ½ rate',
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
  /** The same access logs in batched form, by record count (built lazily, once each). */
  batches?: Map<number, Batches>;
}

/**
 * The access logs as batches: each department's records, in order, 64 to a
 * signed batch. Packed (bench/packed.ts) like the records themselves: the 64
 * event views of a batch are made when that batch is appended.
 */
interface Batches {
  /** Number of events (= records) covered, the first `n` of the workload. */
  readonly n: number;
  /** Number of batches. */
  readonly count: number;
  readonly seals: PackedBytes;
  /** Every event entry, batch by batch (what the references write too). */
  readonly events: PackedBytes;
  /** Batch b's events are `events` b.starts[b] .. b.starts[b + 1] - 1. */
  readonly starts: Uint32Array;
  /** Department index of each batch's author. */
  readonly authors: Uint16Array;
  /** The access-log record each event was made from (regenerated bodies are grouped by it). */
  readonly records: Uint32Array;
}

function batchesOf(p: Prepared, n: number): Batches {
  const cached = p.batches?.get(n);
  if (cached !== undefined) return cached;
  const { dir, logs } = p;
  const maxBatches = Math.ceil(n / EVENTS_PER_BATCH) + dir.departments.length;
  const starts = new Uint32Array(maxBatches + 1);
  const authors = new Uint16Array(maxBatches);
  const records = new Uint32Array(n);
  const seals = new PackedBytes();
  const events = new PackedBytes();
  let count = 0;
  const open = new Map<number, { records: number[]; bodies: Plain[] }>();
  const emit = (author: number, q: { records: number[]; bodies: Plain[] }): void => {
    const signed = signAccessLogBatch(dir, author, logs.timestamps[q.records[0]!]!, q.bodies);
    seals.push(signed.seal.bytes);
    for (const e of signed.events) events.push(e);
    records.set(q.records, starts[count]!);
    authors[count] = author;
    starts[++count] = events.count;
  };
  // Bodies are drafted again from the seed; a department's queue holds at most 63 of them.
  let i = 0;
  for (const d of accessLogDrafts(dir, logs, n)) {
    let q = open.get(d.author);
    if (q === undefined) {
      q = { records: [], bodies: [] };
      open.set(d.author, q);
    }
    q.records.push(i++);
    q.bodies.push(d.body);
    if (q.records.length === EVENTS_PER_BATCH) {
      emit(d.author, q);
      open.set(d.author, { records: [], bodies: [] });
    }
  }
  for (const [a, q] of open) if (q.records.length > 0) emit(a, q);
  if (events.count !== n) throw new Error(`batched form: ${events.count} events for ${n} records`);
  const out: Batches = { n, count, seals, events, starts, authors, records };
  p.batches ??= new Map();
  p.batches.set(n, out);
  return out;
}

/** The first `count` batches' bodies for submitBatch, regenerated and grouped exactly like the events. */
function batchBodies(p: Prepared, b: Batches, count: number): Plain[][] {
  const flat = accessLogBodies(p.dir, p.logs, b.n);
  const out: Plain[][] = new Array(count);
  for (let k = 0; k < count; k++) {
    const group: Plain[] = [];
    for (let e = b.starts[k]!; e < b.starts[k + 1]!; e++) group.push(flat[b.records[e]!]!);
    out[k] = group;
  }
  return out;
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

/** (a) Reference A: raw classic-level chained batches of 1000, `sync: true`, sequential 9-byte keys. */
async function runRawLevel(entries: PackedBytes, n: number): Promise<RunResult> {
  const path = await tempDir('raw');
  const rss = new RssSampler();
  try {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    const batches = new Float64Array(Math.ceil(n / RAW_BATCH));
    rss.start();
    const start = performance.now();
    for (let from = 0, b = 0; from < n; from += RAW_BATCH, b++) {
      const t0 = performance.now();
      const batch = db.batch();
      const to = Math.min(n, from + RAW_BATCH);
      for (let i = from; i < to; i++) batch.put(numberKey(RAW_ENTRY, i), entries.at(i));
      await batch.write({ sync: true });
      batches[b] = performance.now() - t0;
    }
    const seconds = (performance.now() - start) / 1000;
    const peak = rss.stop();
    await db.close();
    return {
      ...summarize(n, entries.bytesIn(0, n), seconds, peak),
      ...latencies(batches),
      diskBytes: await dirBytes(path),
    };
  } finally {
    rss.stop();
    await removeDir(path);
  }
}

/** The half-rate runs offer a quarter of the batches: enough for a p99 over hundreds of acks. */
function halfRateCount(b: Batches): number {
  return Math.max(1, Math.floor(b.count / 4));
}

/** Milliseconds between offered batches so that the first `count` batches' events arrive at `rate`/s. */
function halfRateInterval(b: Batches, count: number, rate: number): number {
  return (1000 * (b.starts[count]! / count)) / rate;
}

/**
 * (a′) Reference A at the half-rate run's load: the same batches' event bytes
 * offered open-loop on the same schedule, written by one group-committing
 * writer (whatever has arrived while a write was in flight goes into the next
 * chained batch, `sync: true`, sequential keys). Its p99 is the storage's own
 * ack latency at that load, the floor under the ledger's.
 */
async function runRawLevelOffered(b: Batches, rate: number): Promise<RunResult> {
  const path = await tempDir('raw-offered');
  const rss = new RssSampler();
  const count = halfRateCount(b);
  const events = b.starts[count]!;
  try {
    const db = new ClassicLevel<Uint8Array, Uint8Array>(path, { keyEncoding: 'view', valueEncoding: 'view' });
    await db.open();
    let queue: Array<{ batch: number; resolve: () => void; reject: (e: unknown) => void }> = [];
    let writing = false;
    const writeQueued = async (): Promise<void> => {
      writing = true;
      while (queue.length > 0) {
        const taken = queue;
        queue = [];
        try {
          const write = db.batch();
          for (const { batch } of taken) {
            for (let e = b.starts[batch]!; e < b.starts[batch + 1]!; e++)
              write.put(numberKey(RAW_ENTRY, e), b.events.at(e));
          }
          await write.write({ sync: true });
          for (const t of taken) t.resolve();
        } catch (e) {
          // A failed write fails the run (offeredOpenLoop rejects), not a hang.
          for (const t of [...taken, ...queue]) t.reject(e);
          queue = [];
        }
      }
      writing = false;
    };
    const offer = (batch: number): Promise<void> =>
      new Promise((resolve, reject) => {
        queue.push({ batch, resolve, reject });
        if (!writing) void writeQueued();
      });
    rss.start();
    const { seconds, lat } = await offeredOpenLoop(count, halfRateInterval(b, count, rate), offer);
    const peak = rss.stop();
    await db.close();
    return {
      ...summarize(events, b.events.bytesIn(0, events), seconds, peak),
      ...latencies(lat),
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
    const record = decodeRecord(entries.at(i));
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
  return summarize(n, entries.bytesIn(0, n), seconds, rss.stop());
}

/** Runs `n` appends from CONCURRENCY async loops; each loop awaits its own append before the next. */
async function concurrently(
  n: number,
  appendOne: (i: number) => Promise<unknown>,
): Promise<{ seconds: number; lat: Float64Array }> {
  const start = performance.now();
  const lat = await callersAwaitingEach(n, CONCURRENCY, appendOne);
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
  const replay = new PresignedReplay(dir);
  let ledger: Ledger | undefined;
  try {
    ledger = await benchLedger(path, dir, 'sync', variant === 'presigned' ? replay.clock : undefined);
    const l = ledger;
    const entries = logs.entries;
    // submit and presigned take bodies: drafted again for this run only (untimed), dropped after it.
    const bodies = variant === 'append' ? [] : accessLogBodies(dir, logs, n);
    let appendOne: (i: number) => Promise<unknown>;
    // presigned: where each record landed (block entries sit between the blocks' records).
    const placed = variant === 'presigned' ? new Float64Array(n) : undefined;
    if (variant === 'append') {
      appendOne = (i) => l.append(entries.at(i));
    } else if (variant === 'submit') {
      appendOne = (i) => l.submit(dir.departments[logs.authors[i]!]!.member, ACCESS_LOG_KIND, bodies[i]!);
    } else {
      appendOne = async (i) => {
        const r = await replay.submit(l, logs.authors[i]!, logs.timestamps[i]!, entries.at(i), bodies[i]!);
        placed![i] = r.index;
      };
    }
    rss.start();
    const { seconds, lat } = await concurrently(n, appendOne);
    const peak = rss.stop();
    const head = l.head();
    // Every block, genesis too, ends with one block entry; the other entries are records.
    const records = head.size - (head.height + 1) - 1;
    if (records !== n) throw new Error(`${variant}: ledger holds ${records} records, expected ${n}`);
    if (placed) {
      // Submit is synchronous up to the queue, so the records are in the order i.
      const sample = [...new Set([0, 7 % n, 1234 % n, n >> 1, n - 1])].sort((a, b) => a - b);
      for (const [k, i] of sample.entries()) {
        if (Buffer.compare(l.getEntry(placed[i]!), entries.at(i)) !== 0)
          throw new Error(`presigned: ledger entry ${placed[i]} differs from pre-generated record ${i}`);
        if (k > 0 && placed[i]! <= placed[sample[k - 1]!]!)
          throw new Error(`presigned: record ${i} is at ${placed[i]}, not after record ${sample[k - 1]}`);
      }
    }
    await l.close();
    ledger = undefined;
    return {
      ...summarize(n, entries.bytesIn(0, n), seconds, peak),
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

/** (d) dirchain, batched form: 64 callers each appending one batch at a time (or open-loop at `rate`). */
async function runBatches(
  p: Prepared,
  n: number,
  variant: 'batch' | 'batch-sub' | 'half-rate',
  rate?: number,
): Promise<RunResult> {
  const path = await tempDir(variant);
  const rss = new RssSampler();
  const b = batchesOf(p, n);
  const count = variant === 'half-rate' ? halfRateCount(b) : b.count;
  const events = b.starts[count]!;
  let ledger: Ledger | undefined;
  try {
    ledger = await benchLedger(path, p.dir, 'sync');
    const l = ledger;
    // A server takes load once it is up: its admission workers loaded (until then batches are checked
    // on the main thread, as they would be during a real start).
    await l.workersStarted();
    // batch-sub's bodies are drafted again for this run only (untimed), grouped like the events.
    const bodies = variant === 'batch-sub' ? batchBodies(p, b, count) : [];
    // The batch's event array is built per call: the caller's work, as hypercore's array is.
    // The seal is copied into its own buffer, as a received request body would be: appendBatch
    // posts views of it (signed part, signature, root) to its admission worker, and a structured
    // clone of a view copies the view's whole backing buffer, here a 32 MiB chunk (3 per batch).
    const appendOne = (i: number): Promise<unknown> =>
      variant === 'batch-sub'
        ? l.submitBatch(p.dir.departments[b.authors[i]!]!.member, ACCESS_LOG_KIND, bodies[i]!)
        : l.appendBatch(b.seals.at(i).slice(), b.events.views(b.starts[i]!, b.starts[i + 1]!));
    rss.start();
    let seconds: number;
    let lat: Float64Array;
    if (variant === 'half-rate') {
      ({ seconds, lat } = await offeredOpenLoop(count, halfRateInterval(b, count, rate!), appendOne));
    } else {
      ({ seconds, lat } = await concurrently(count, appendOne));
    }
    const peak = rss.stop();
    const head = l.head();
    // Genesis, the seals and events, and the block entry that ends every block (genesis's too).
    const expected = 1 + count + events + head.height + 1;
    if (head.size !== expected)
      throw new Error(`${variant}: ledger holds ${head.size} entries, expected ${expected}`);
    await l.close();
    ledger = undefined;
    return {
      ...summarize(events, b.events.bytesIn(0, events), seconds, peak),
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

/** One run of one variant (exported for profiling scripts). `rate` is for the half-rate run. */
export function runVariant(p: Prepared, n: number, v: VariantId, rate?: number): Promise<RunResult> {
  switch (v) {
    case 'A':
      return runRawLevel(p.logs.entries, n);
    case 'hypercore':
      return runHypercore(p.logs.entries, n);
    case 'ceiling':
      return runCeiling(p, n);
    case 'A-ev':
      return runRawLevel(batchesOf(p, n).events, n);
    case 'B-ev':
      return runHypercore(batchesOf(p, n).events, n);
    case 'batch':
    case 'batch-sub':
    case 'half-rate':
      return runBatches(p, n, v, rate);
    case 'A-offered':
      return runRawLevelOffered(batchesOf(p, n), rate!);
    default:
      return runLedger(p, n, v);
  }
}

const ORDER: readonly VariantId[] = [
  'A',
  'hypercore',
  'ceiling',
  'append',
  'submit',
  'presigned',
  'A-ev',
  'B-ev',
  'batch',
  'batch-sub',
  'half-rate',
  'A-offered',
];
const LEDGER_VARIANTS: readonly VariantId[] = ['append', 'submit', 'presigned'];
const BATCH_VARIANTS: readonly VariantId[] = ['batch', 'batch-sub', 'half-rate'];

/** The variants `--variants` names, in run order (all when it names none). */
function selectedVariants(names: readonly string[]): readonly VariantId[] {
  if (names.length === 0) return ORDER;
  for (const name of names) {
    if (!(ORDER as readonly string[]).includes(name))
      throw new Error(`--variants: no variant ${name} (variants: ${ORDER.join(', ')})`);
  }
  for (const offered of ['half-rate', 'A-offered']) {
    if (names.includes(offered) && !names.includes('batch'))
      throw new Error(`--variants: ${offered} needs batch (it runs at half of batch’s rate)`);
  }
  return ORDER.filter((v) => names.includes(v));
}

export async function figureAppend(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.n > 0 ? ctx.n : ctx.quick ? QUICK_N : FULL_N;
  const warmupN = Math.min(n, ctx.quick ? QUICK_WARMUP_N : FULL_WARMUP_N);
  const singleCap = ctx.quick ? QUICK_SINGLE_CAP : SINGLE_CAP;
  // Checked before a minute goes into generating and signing the records.
  const order = selectedVariants(ctx.variants);
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

  const batchStart = performance.now();
  const batches = batchesOf(p, n);
  ctx.log(
    `  batched form: ${batches.count} batches, ${(batches.events.totalBytes / n).toFixed(1)} B avg per event, ` +
      `signed in ${((performance.now() - batchStart) / 1000).toFixed(1)} s`,
  );
  const warmup: Partial<Record<VariantId, RunResult>> = {};
  for (const v of order) {
    ctx.log(`  warm-up ${v} (${warmupN} records)`);
    // The warm-up uses the first records; the batched form is re-cut for them.
    warmup[v] = await runVariant(p, warmupN, v, 2000);
    collectGarbage();
  }
  const runs = Object.fromEntries(ORDER.map((v) => [v, [] as RunResult[]])) as Record<VariantId, RunResult[]>;
  for (let r = 0; r < ctx.runs; r++) {
    for (const v of order) {
      const rate = v === 'half-rate' || v === 'A-offered' ? runs.batch[r]!.recordsPerSec / 2 : undefined;
      if (v === 'half-rate' && !ctx.quick) await new Promise((done) => setTimeout(done, FULL_SETTLE_MS));
      const res = await runVariant(p, LEDGER_VARIANTS.includes(v) ? Math.min(n, singleCap) : n, v, rate);
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

  const rows: Row[] = order.map((v) => {
    const rs = runs[v];
    // The batched form is compared with the references on its own bytes (the events).
    const batched = BATCH_VARIANTS.includes(v) || v === 'B-ev' || v === 'A-offered';
    const refA = batched ? runs['A-ev'] : runs.A;
    const refB = batched ? runs['B-ev'] : runs.hypercore;
    // A reference left out by --variants gives no ratio (NaN prints as —).
    const ratios = rs.map((res, r) => res.recordsPerSec / (refA[r]?.recordsPerSec ?? Number.NaN));
    const disk = rs.map((res) => res.diskBytes).filter((d): d is number => d !== undefined);
    const blocks = rs.map((res) => res.blocks).filter((b): b is number => b !== undefined);
    return {
      figure: '1',
      variant: LABELS[v],
      recordsPerSec: median(rs.map((res) => res.recordsPerSec)),
      mbPerSec: median(rs.map((res) => res.mbPerSec)),
      ratio: median(ratios),
      ...(LEDGER_VARIANTS.includes(v) || BATCH_VARIANTS.includes(v) || v === 'hypercore' || v === 'B-ev'
        ? { ratio2: median(rs.map((res, r) => res.recordsPerSec / (refB[r]?.recordsPerSec ?? Number.NaN))) }
        : {}),
      ...(rs[0]!.p50Ms === undefined
        ? {}
        : { p50Ms: median(rs.map((res) => res.p50Ms!)), p99Ms: median(rs.map((res) => res.p99Ms!)) }),
      ...(disk.length === 0 ? {} : { diskBytesPerRecord: median(disk) / rs[0]!.records }),
      peakRssMiB: Math.max(...rs.map((res) => res.peakRssMiB)),
      ...(blocks.length === 0
        ? v === 'A' || v === 'hypercore' || v === 'A-ev' || v === 'B-ev'
          ? { extra: `${RAW_BATCH} rec/batch; p50/p99 are per batch` }
          : v === 'A-offered'
            ? { extra: `group commit of the batches that arrived; p50/p99 per batch of ${EVENTS_PER_BATCH}` }
            : {}
        : {
            extra:
              `${(rs[0]!.records / median(blocks)).toFixed(1)} rec/block` +
              (BATCH_VARIANTS.includes(v) ? `; p50/p99 per batch of ${EVENTS_PER_BATCH}` : '') +
              (disk.length > 0 && batched
                ? `; disk ${(median(disk) / rs[0]!.bytes).toFixed(2)}× event bytes`
                : disk.length > 0
                  ? `; disk ${(median(disk) / rs[0]!.bytes).toFixed(2)}× entry bytes`
                  : ''),
          }),
    };
  });

  const notes = [
    `${n.toLocaleString('en-US')} access-log records per run (avg ${(logs.totalBytes / n).toFixed(1)} B), ` +
      `${CONCURRENCY} concurrent callers; median of ${ctx.runs} runs after a ${warmupN.toLocaleString('en-US')}-record warm-up; ` +
      '× A = median over rounds of (variant ÷ A in the same round); × ref 2 = likewise ÷ B (hypercore); ' +
      'MB = 10^6 B of entry bytes.',
    'B: hypercore 11.37.1, append() of arrays of 1000 of the same entry bytes to a fresh core (one signed ' +
      'tree update per array, RocksDB without fsync per append: not durable like sync mode).',
    `append, submit and presigned run at most ${singleCap.toLocaleString('en-US')} records (their ratios are of rates). ` +
      'append verifies every author Ed25519 signature (thread pool); submit signs in-process on the main thread; ' +
      'presigned replays the same signatures through submit (byte-identical entries, checked), i.e. the ledger ' +
      'without per-record Ed25519.',
    `Batched form: the same ${n.toLocaleString('en-US')} access logs as events, ${EVENTS_PER_BATCH} per batch signed once by ` +
      `their department (${batches.count.toLocaleString('en-US')} batches, ${(batches.events.totalBytes / n).toFixed(1)} B per event ` +
      'entry); rows from "A on the event bytes" on are ratios to A and B run on those event bytes. Every event ' +
      'is its own log entry with an inclusion proof and an attribution proof (seal + path).',
    ...(ctx.quick
      ? []
      : [
          `Each timed half-rate run (and the A-offered run after it) starts after ${FULL_SETTLE_MS / 1000} s idle: ` +
            "the disk works off the round's earlier writes first, which doubled even the raw reference's p99.",
        ]),
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
