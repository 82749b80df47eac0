/**
 * Figure 1, reference B: hypercore 11.37.1 (the peer: another signed, Merkle-tree
 * append-only log) appending the same entry bytes in arrays of 1000 to a fresh
 * core in a temp folder. Each `append([...1000])` updates hypercore's flat
 * tree and signs the new root once, then writes one RocksDB batch (through
 * hypercore-storage). It does not fsync per append (RocksDB writes without
 * `sync`; checked with strace: no fsync/fdatasync per append, only at open,
 * close and memtable flushes), so it is not durable in the sense of
 * dirchain's `sync` mode: read the ratio with that in mind.
 */
import Hypercore from 'hypercore';
import type { RunResult } from './append.js';
import { dirBytes, MB, percentileSorted, RssSampler, removeDir, tempDir } from './lib.js';
import type { PackedBytes } from './packed.js';

export const HYPERCORE_BATCH = 1000;

/** Appends the first `n` pre-generated entries to a fresh hypercore, 1000 per `append` call. */
export async function runHypercore(entries: PackedBytes, n: number): Promise<RunResult> {
  const path = await tempDir('hypercore');
  const rss = new RssSampler();
  let core: Hypercore | undefined;
  try {
    core = new Hypercore(path);
    await core.ready();
    const arrays = new Float64Array(Math.ceil(n / HYPERCORE_BATCH));
    let bytes = 0;
    rss.start();
    const start = performance.now();
    for (let from = 0, b = 0; from < n; from += HYPERCORE_BATCH, b++) {
      const to = Math.min(n, from + HYPERCORE_BATCH);
      // Building the array is part of the caller's work, as the ledger variants' loops are.
      const blocks = entries.views(from, to);
      const t0 = performance.now();
      await core.append(blocks);
      arrays[b] = performance.now() - t0;
      for (const e of blocks) bytes += e.length;
    }
    const seconds = (performance.now() - start) / 1000;
    const peak = rss.stop();
    if (core.length !== n) throw new Error(`hypercore holds ${core.length} blocks, expected ${n}`);
    if (core.byteLength !== bytes)
      throw new Error(`hypercore holds ${core.byteLength} bytes, expected ${bytes}`);
    await core.close();
    core = undefined;
    const sorted = arrays.slice().sort();
    return {
      records: n,
      bytes,
      seconds,
      recordsPerSec: n / seconds,
      mbPerSec: bytes / seconds / MB,
      p50Ms: percentileSorted(sorted, 50),
      p99Ms: percentileSorted(sorted, 99),
      diskBytes: await dirBytes(path),
      peakRssMiB: peak,
    };
  } finally {
    rss.stop();
    await core?.close();
    await removeDir(path);
  }
}
