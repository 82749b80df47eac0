/**
 * Figure 6: memory and disk. Appends 10M access-log records (quick: 200k)
 * through the fastest ledger path (pre-signed records, many appends in
 * flight, durability sync) into one fresh ledger, signing them lazily in
 * chunks so the generator holds only two chunks at a time, and samples RSS
 * throughout. Reports the peak RSS up to 1/10 of the way (1M) and up to the
 * end (10M), the growth between them (target < 50 MB: memory must stay flat
 * as the log grows), and bytes on disk per record against the payload (the
 * entry bytes themselves; target ≤ 1.3×).
 *
 * One run: memory growth is not a noise question, and a full run takes long.
 */
import { readFileSync } from 'node:fs';
import { ChunkedRecords, callersAwaitingEach, presignedLedger, SignedLogStream } from './feed.js';
import {
  type BenchContext,
  collectGarbage,
  dirBytes,
  type FigureResult,
  MB,
  MiB,
  percentileSorted,
  type Row,
  RssSampler,
  removeDir,
  tempDir,
} from './lib.js';
import { makeDirectory } from './workload.js';

const QUICK_N = 50_000;
const FULL_N = 10_000_000;
const IN_FLIGHT = 1024;
const CHUNK = 8192;
/** At most this many latency samples (every k-th append), so the samples stay small at 10M. */
const LATENCY_SAMPLES = 200_000;

/** Anonymous and file-backed (mmap'd LevelDB tables) RSS from /proc, where there is one (MiB). */
function rssSplit(): { anonMiB?: number; fileMiB?: number } {
  try {
    const status = readFileSync('/proc/self/status', 'latin1');
    const kb = (field: string): number | undefined => {
      const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(status);
      return m === null ? undefined : Number(m[1]) / 1024;
    };
    const anonMiB = kb('RssAnon');
    const fileMiB = kb('RssFile');
    return { ...(anonMiB === undefined ? {} : { anonMiB }), ...(fileMiB === undefined ? {} : { fileMiB }) };
  } catch {
    return {};
  }
}

interface Checkpoint {
  readonly records: number;
  readonly seconds: number;
  /** Highest RSS sampled so far (MiB). */
  readonly peakRssMiB: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
  /** Backing stores of ArrayBuffers / Buffers (outside the V8 heap). */
  readonly arrayBuffersMiB: number;
  readonly anonMiB?: number;
  readonly fileMiB?: number;
}

export async function figureMemory(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.memoryN > 0 ? ctx.memoryN : ctx.quick ? QUICK_N : FULL_N;
  const early = Math.floor(n / 10);
  // Progress every 1M records on long runs (stderr), every tenth on short ones.
  const every = n >= 2_000_000 ? 1_000_000 : Math.max(1, Math.floor(n / 10));
  const dir = makeDirectory(ctx.seed);
  const records = new ChunkedRecords(new SignedLogStream(dir, ctx.seed), CHUNK);
  const path = await tempDir('memory');
  const rss = new RssSampler();
  try {
    collectGarbage();
    const baselineRssMiB = process.memoryUsage.rss() / MiB;
    ctx.log(
      `figure 6: appending ${n.toLocaleString('en-US')} pre-signed records (${IN_FLIGHT} in flight, sync); ` +
        `RSS before ${baselineRssMiB.toFixed(0)} MiB`,
    );
    const { ledger, append, checkEntry } = await presignedLedger(path, dir, 'sync');
    const checkpoints: Checkpoint[] = [];
    let payload = 0;
    let lat: Float64Array;
    let last: Uint8Array | undefined;
    let seconds: number;
    let blocks: number;
    let peakEnd: number;
    rss.start();
    const start = performance.now();
    let done = 0;
    const sampleEvery = Math.max(1, Math.ceil(n / LATENCY_SAMPLES));
    try {
      lat = await callersAwaitingEach(
        n,
        IN_FLIGHT,
        async (i) => {
          const { chunk, k } = records.at(i);
          const entry = chunk.entries[k]!;
          payload += entry.length;
          if (i === n - 1) last = entry;
          await append(chunk, k);
          done++;
          if (done % every === 0 || done === early) {
            rss.sample();
            const mem = process.memoryUsage();
            const cp: Checkpoint = {
              records: done,
              seconds: (performance.now() - start) / 1000,
              peakRssMiB: rss.peak(),
              rssMiB: mem.rss / MiB,
              heapUsedMiB: mem.heapUsed / MiB,
              arrayBuffersMiB: mem.arrayBuffers / MiB,
              ...rssSplit(),
            };
            checkpoints.push(cp);
            ctx.log(
              `  ${done.toLocaleString('en-US')} records, ${cp.seconds.toFixed(0)} s, ` +
                `${Math.round(done / cp.seconds).toLocaleString('en-US')} rec/s; RSS ${cp.rssMiB.toFixed(0)} MiB ` +
                `(peak ${cp.peakRssMiB.toFixed(0)}; anon ${cp.anonMiB?.toFixed(0) ?? '?'}, ` +
                `file-backed ${cp.fileMiB?.toFixed(0) ?? '?'}), heap ${cp.heapUsedMiB.toFixed(0)} MiB, ` +
                `array buffers ${cp.arrayBuffersMiB.toFixed(0)} MiB; ` +
                `about ${(((n - done) * cp.seconds) / done / 60).toFixed(0)} min to go`,
            );
          }
        },
        sampleEvery,
      );
      seconds = (performance.now() - start) / 1000;
      peakEnd = rss.stop();
      const head = ledger.head();
      if (head.size !== n + 1) throw new Error(`ledger holds ${head.size - 1} records, expected ${n}`);
      checkEntry(n, last!);
      blocks = head.height;
    } finally {
      await ledger.close();
    }
    const disk = await dirBytes(path);
    const at = (records: number): Checkpoint => {
      const cp = checkpoints.find((c) => c.records >= records);
      if (cp === undefined) throw new Error(`no RSS sample at ${records} records`);
      return cp;
    };
    const atEarly = at(early);
    const growthMiB = peakEnd - atEarly.peakRssMiB;
    const sorted = lat.slice().sort();
    const fmtN = (v: number): string =>
      v >= 1_000_000 ? `${v / 1_000_000}M` : v >= 1000 ? `${v / 1000}k` : String(v);
    const rows: Row[] = [
      {
        figure: '6',
        variant: `append ${fmtN(n)} pre-signed, ${IN_FLIGHT} in flight, sync`,
        recordsPerSec: n / seconds,
        mbPerSec: payload / seconds / MB,
        p50Ms: percentileSorted(sorted, 50),
        p99Ms: percentileSorted(sorted, 99),
        diskBytesPerRecord: disk / n,
        peakRssMiB: peakEnd,
        extra: `${(n / blocks).toFixed(0)} rec/block; ${seconds.toFixed(0)} s incl. signing ${(records.signMs / 1000).toFixed(0)} s`,
      },
      {
        figure: '6',
        variant: `peak RSS up to ${fmtN(early)} records`,
        recordsPerSec: Number.NaN,
        peakRssMiB: atEarly.peakRssMiB,
        extra: `RSS ${atEarly.rssMiB.toFixed(0)} MiB, heap used ${atEarly.heapUsedMiB.toFixed(0)} MiB at that point`,
      },
      {
        figure: '6',
        variant: `peak RSS up to ${fmtN(n)} records`,
        recordsPerSec: Number.NaN,
        ratio: peakEnd / atEarly.peakRssMiB,
        peakRssMiB: peakEnd,
        extra: `growth ${growthMiB.toFixed(1)} MiB = ${((growthMiB * MiB) / MB).toFixed(1)} MB (target < 50 MB)`,
      },
      {
        figure: '6',
        variant: 'disk bytes per record ÷ payload bytes per record',
        recordsPerSec: Number.NaN,
        ratio: disk / payload,
        diskBytesPerRecord: disk / n,
        extra: `payload ${(payload / n).toFixed(1)} B/rec (target ≤ 1.3×)`,
      },
    ];
    const notes = [
      `${n.toLocaleString('en-US')} access-log records into one fresh ledger (durability sync), ${IN_FLIGHT} ` +
        `appends in flight; records signed lazily in chunks of ${CHUNK} (two chunks alive at most) and appended ` +
        'pre-signed (no re-verification); one run. RSS sampled every 20 ms and at each progress point; ' +
        'ack latency p50/p99 over every k-th append (at most 200k samples); ' +
        `RSS before the ledger was created: ${baselineRssMiB.toFixed(0)} MiB.`,
      `Growth = peak RSS over the whole run − peak RSS up to ${fmtN(early)} records; × ref on that row = the ` +
        'ratio of the two peaks. Disk: sum of the ledger folder’s file sizes after close() (no compaction forced) ' +
        '÷ the sum of the entry bytes; × ref on that row is that ratio.',
    ];
    return {
      figure: '6',
      title: 'Memory and disk while appending',
      rows,
      notes,
      details: {
        n,
        inFlight: IN_FLIGHT,
        chunk: CHUNK,
        baselineRssMiB,
        seconds,
        signSeconds: records.signMs / 1000,
        blocks,
        diskBytes: disk,
        payloadBytes: payload,
        checkpoints,
      },
    };
  } finally {
    rss.stop();
    await removeDir(path);
  }
}
