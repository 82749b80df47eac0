/**
 * Figure 6: memory and disk. Appends 10M access-log events (quick: 30k)
 * through the fastest ledger path (pre-signed batches of 64 through
 * appendBatch, 64 callers, durability sync) into one fresh ledger, signing
 * the batches lazily so the generator holds almost nothing, and samples RSS
 * throughout. Reports the peak RSS up to 1/10 of the way (1M) and up to the
 * end (10M), the growth between them (target < 50 MB: memory must stay flat
 * as the log grows), and bytes on disk per record against the payload (the
 * entry bytes themselves; target ≤ 1.3×).
 *
 * One run: memory growth is not a noise question, and a full run takes long.
 */
import { BatchStream, benchLedger } from './feed.js';
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

const QUICK_N = 30_000;
const FULL_N = 10_000_000;
const CALLERS = 64;
const EVENTS_PER_BATCH = 64;

interface Checkpoint {
  readonly records: number;
  readonly seconds: number;
  /** Highest RSS sampled so far (MiB). */
  readonly peakRssMiB: number;
  readonly rssMiB: number;
  readonly heapUsedMiB: number;
}

export async function figureMemory(ctx: BenchContext): Promise<FigureResult> {
  const n = ctx.memoryN > 0 ? ctx.memoryN : ctx.quick ? QUICK_N : FULL_N;
  const early = Math.floor(n / 10);
  // Progress every 1M events on long runs (stderr), every tenth on short ones.
  const every = n >= 2_000_000 ? 1_000_000 : Math.max(1, Math.floor(n / 10));
  const dir = makeDirectory(ctx.seed);
  const stream = new BatchStream(dir, ctx.seed, EVENTS_PER_BATCH);
  const path = await tempDir('memory');
  const rss = new RssSampler();
  try {
    collectGarbage();
    const baselineRssMiB = process.memoryUsage.rss() / MiB;
    ctx.log(
      `figure 6: appending ${n.toLocaleString('en-US')} access-log events in batches of ${EVENTS_PER_BATCH} ` +
        `(${CALLERS} callers, sync); RSS before ${baselineRssMiB.toFixed(0)} MiB`,
    );
    const ledger = await benchLedger(path, dir, 'sync');
    const checkpoints: Checkpoint[] = [];
    let payload = 0;
    const lat: number[] = [];
    let last: { index: number; entry: Uint8Array } | undefined;
    let seconds: number;
    let blocks: number;
    let peakEnd: number;
    let made = 0;
    let done = 0;
    let batches = 0;
    rss.start();
    const start = performance.now();
    const mark = (): void => {
      rss.sample();
      const mem = process.memoryUsage();
      const cp: Checkpoint = {
        records: done,
        seconds: (performance.now() - start) / 1000,
        peakRssMiB: rss.peak(),
        rssMiB: mem.rss / MiB,
        heapUsedMiB: mem.heapUsed / MiB,
      };
      checkpoints.push(cp);
      ctx.log(
        `  ${done.toLocaleString('en-US')} events, ${cp.seconds.toFixed(0)} s, ` +
          `${Math.round(done / cp.seconds).toLocaleString('en-US')} events/s; RSS ${cp.rssMiB.toFixed(0)} MiB ` +
          `(peak ${cp.peakRssMiB.toFixed(0)}), heap ${cp.heapUsedMiB.toFixed(0)} MiB; ` +
          `about ${(((n - done) * cp.seconds) / done / 60).toFixed(0)} min to go`,
      );
    };
    try {
      const caller = async (): Promise<void> => {
        while (made < n) {
          const b = stream.next();
          made += b.events.length;
          payload += b.bytes;
          const t0 = performance.now();
          const r = await ledger.appendBatch(b.seal, b.events);
          lat.push(performance.now() - t0);
          batches++;
          const before = done;
          done += b.events.length;
          if (made >= n && done === made)
            last = { index: r.first + b.events.length - 1, entry: b.events.at(-1)! };
          if (Math.floor(done / every) > Math.floor(before / every) || (before < early && done >= early))
            mark();
        }
      };
      await Promise.all(Array.from({ length: CALLERS }, caller));
      seconds = (performance.now() - start) / 1000;
      peakEnd = rss.stop();
      const head = ledger.head();
      // Genesis, the seals and events, and the block entry that ends every block (genesis's too).
      const expected = 1 + done + batches + head.height + 1;
      if (head.size !== expected) throw new Error(`ledger holds ${head.size} entries, expected ${expected}`);
      if (last !== undefined && Buffer.compare(ledger.getEntry(last.index), last.entry) !== 0)
        throw new Error(`ledger entry ${last.index} differs from the pre-signed event`);
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
    const total = done;
    const growthMiB = peakEnd - atEarly.peakRssMiB;
    const sorted = Float64Array.from(lat).sort();
    const fmtN = (v: number): string =>
      v >= 1_000_000 ? `${v / 1_000_000}M` : v >= 1000 ? `${v / 1000}k` : String(v);
    const rows: Row[] = [
      {
        figure: '6',
        variant: `appendBatch ${fmtN(n)} events, ${EVENTS_PER_BATCH}/batch, ${CALLERS} callers, sync`,
        recordsPerSec: total / seconds,
        mbPerSec: payload / seconds / MB,
        p50Ms: percentileSorted(sorted, 50),
        p99Ms: percentileSorted(sorted, 99),
        diskBytesPerRecord: disk / total,
        peakRssMiB: peakEnd,
        extra: `${(total / blocks).toFixed(0)} events/block; p50/p99 per batch; ${seconds.toFixed(0)} s incl. signing ${(stream.signMs / 1000).toFixed(0)} s`,
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
        variant: 'disk bytes per event ÷ payload bytes per event',
        recordsPerSec: Number.NaN,
        ratio: disk / payload,
        diskBytesPerRecord: disk / total,
        extra: `payload ${(payload / total).toFixed(1)} B/event entry (target ≤ 1.3×); seals included in disk`,
      },
    ];
    const notes = [
      `${total.toLocaleString('en-US')} access-log events into one fresh ledger (durability sync), in batches of ` +
        `${EVENTS_PER_BATCH} signed lazily by their department (one signature per batch, drafted and signed on the ` +
        `same thread as the ledger: the signing time is inside the run) and appended with appendBatch (seal ` +
        `verified, events checked) from ${CALLERS} callers; one run. RSS sampled every 20 ms and at each progress ` +
        `point; RSS before the ledger was created: ${baselineRssMiB.toFixed(0)} MiB.`,
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
        n: total,
        callers: CALLERS,
        eventsPerBatch: EVENTS_PER_BATCH,
        baselineRssMiB,
        seconds,
        signSeconds: stream.signMs / 1000,
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
