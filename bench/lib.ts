/** Shared helpers for the benchmark figures: statistics, temp folders, disk usage, RSS sampling. */
import { mkdtemp, readdir, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** Options every figure receives from the runner. */
export interface BenchContext {
  readonly quick: boolean;
  readonly seed: number;
  /** Measured runs per variant (after one warm-up). */
  readonly runs: number;
  /** Records per measured run (0: the figure's default for the mode). */
  readonly n: number;
  /** Records for figure 6 (0: its default for the mode, 10M / quick 30k). */
  readonly memoryN: number;
  /** Figure 1's variants to run (empty: all); for profiling one path. */
  readonly variants: readonly string[];
  readonly log: (line: string) => void;
}

/** One line of the printed table. */
export interface Row {
  readonly figure: string;
  readonly variant: string;
  /** Median over the measured runs. */
  readonly recordsPerSec: number;
  readonly mbPerSec?: number;
  /** Median over runs of (this run's records/s ÷ the same round's reference records/s). */
  readonly ratio?: number;
  /** A second reference's ratio, computed the same way (which reference: the figure's notes). */
  readonly ratio2?: number;
  readonly p50Ms?: number;
  readonly p99Ms?: number;
  readonly diskBytesPerRecord?: number;
  /** Highest RSS sampled while this variant ran (MiB). */
  readonly peakRssMiB?: number;
  /** Anything else worth a column (e.g. records per block). */
  readonly extra?: string;
}

export interface FigureResult {
  readonly figure: string;
  readonly title: string;
  readonly rows: Row[];
  readonly notes: string[];
  /** Everything measured, per run, for the JSON file. */
  readonly details: unknown;
}

export function median(values: readonly number[]): number {
  if (values.length === 0) return Number.NaN;
  const s = [...values].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

/** Nearest-rank percentile (p in 0..100) of an already sorted array. */
export function percentileSorted(sorted: Float64Array, p: number): number {
  if (sorted.length === 0) return Number.NaN;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length - 1, Math.max(0, rank - 1))]!;
}

export async function tempDir(prefix: string): Promise<string> {
  return mkdtemp(join(tmpdir(), `dirchain-bench-${prefix}-`));
}

export async function removeDir(path: string): Promise<void> {
  await rm(path, { recursive: true, force: true });
}

/** Sum of the sizes of the files in a folder (recursively). */
export async function dirBytes(path: string): Promise<number> {
  let total = 0;
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const p = join(path, entry.name);
    if (entry.isDirectory()) total += await dirBytes(p);
    else if (entry.isFile()) {
      // LevelDB may delete a file (a finished compaction's input) between the listing and here.
      const size = await stat(p).then(
        (s) => s.size,
        (e: NodeJS.ErrnoException) => {
          if (e.code === 'ENOENT') return 0;
          throw e;
        },
      );
      total += size;
    }
  }
  return total;
}

/** Tracks the highest RSS seen: a timer samples every few ms; hot loops may call `sample()` too. */
export class RssSampler {
  #peak = 0;
  #timer: ReturnType<typeof setInterval> | undefined;

  start(intervalMs = 20): void {
    this.#peak = process.memoryUsage.rss();
    this.#timer = setInterval(() => this.sample(), intervalMs);
    this.#timer.unref();
  }

  sample(): void {
    const rss = process.memoryUsage.rss();
    if (rss > this.#peak) this.#peak = rss;
  }

  /** The highest RSS seen so far (MiB). */
  peak(): number {
    return this.#peak / (1024 * 1024);
  }

  /** Stops sampling; returns the peak in MiB. */
  stop(): number {
    this.sample();
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
    return this.#peak / (1024 * 1024);
  }
}

/** Runs a full GC when node was started with --expose-gc. */
export function collectGarbage(): void {
  globalThis.gc?.();
}

export const MB = 1_000_000;
export const MiB = 1024 * 1024;
