import { type FSWatcher, statSync, watch } from 'node:fs';
import { open } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * Pushes LevelDB's table files to disk in small pieces while they are written.
 *
 * Why: LevelDB writes each table file (a flushed memtable, a compaction's
 * output) through the page cache and syncs it once, when the file is done.
 * The kernel keeps those pages until then, so a memtable flush reaches the
 * device as one burst of megabytes, and each durable append's log fsync
 * issued meanwhile queues behind it: several appends in a row then wait
 * 8–25 ms (bench/NOTES.md, session 12). RocksDB has `bytes_per_sync` for
 * this; LevelDB has nothing.
 * So this watches the folder and fdatasyncs a growing table file each time
 * another `everyBytes` of it has been written.
 *
 * It only moves writeback earlier: it never writes or reads data, LevelDB
 * still syncs each file when it finishes it, and a failed or skipped sync
 * only means those pages go out later, as they did before.
 */
export class WritebackPacer {
  readonly #dir: string;
  readonly #everyBytes: number;
  readonly #watcher: FSWatcher;
  /** Table files being written: bytes synced so far, whether a sync is under way, last change seen. */
  readonly #files = new Map<string, { synced: number; syncing: boolean; seen: number }>();
  #closed = false;
  /** Syncs under way: `close` waits for them, so no descriptor outlives it. */
  readonly #syncing = new Set<Promise<void>>();
  #syncs = 0;

  private constructor(dir: string, everyBytes: number) {
    this.#dir = dir;
    this.#everyBytes = everyBytes;
    this.#watcher = watch(dir, { persistent: false }, (event, name) => this.#onChange(event, name));
    // A watch that fails later (the folder removed under it) only ends the pacing.
    this.#watcher.on('error', () => void this.close());
  }

  /**
   * Starts pacing the table writes in `dir`, where the platform allows it:
   * on Linux, inotify reports other threads' writes and fdatasync works on a
   * read-only descriptor. Elsewhere (or if the watch cannot be set up) it
   * returns undefined and LevelDB writes as it always has.
   */
  static start(dir: string, everyBytes: number = PACE_BYTES): WritebackPacer | undefined {
    if (process.platform !== 'linux') return undefined;
    try {
      return new WritebackPacer(dir, everyBytes);
    } catch {
      return undefined;
    }
  }

  /** Syncs completed (for tests and probes). */
  get syncs(): number {
    return this.#syncs;
  }

  /** Stops watching; resolves once the syncs under way have ended (no descriptor stays open). */
  close(): Promise<void> {
    if (!this.#closed) {
      this.#closed = true;
      this.#watcher.close();
      this.#files.clear();
    }
    return Promise.all(this.#syncing).then(() => undefined);
  }

  #onChange(event: string, name: string | Buffer | null): void {
    if (this.#closed || typeof name !== 'string' || !name.endsWith('.ldb')) return;
    if (event === 'rename') {
      // LevelDB never renames tables: this is a file created or deleted.
      this.#files.delete(name);
      return;
    }
    const now = performance.now();
    let file = this.#files.get(name);
    if (file === undefined) {
      if (this.#files.size >= MAX_TRACKED) this.#forgetIdle(now);
      file = { synced: 0, syncing: false, seen: now };
      this.#files.set(name, file);
    }
    file.seen = now;
    if (file.syncing) return;
    // The size, not a count of events: inotify merges repeated events that
    // were not read yet, so a busy loop sees fewer events than writes.
    const path = join(this.#dir, name);
    let size: number;
    try {
      size = statSync(path).size;
    } catch {
      this.#files.delete(name); // compacted away meanwhile
      return;
    }
    if (size - file.synced < this.#everyBytes) return;
    file.syncing = true;
    const sync = this.#sync(path, size, file).finally(() => this.#syncing.delete(sync));
    this.#syncing.add(sync);
  }

  /** Never rejects: a failed sync only means those pages go out when LevelDB syncs the file. */
  async #sync(path: string, size: number, file: { synced: number; syncing: boolean }): Promise<void> {
    try {
      const handle = await open(path, 'r');
      try {
        await handle.datasync();
        file.synced = size;
        this.#syncs++;
      } finally {
        await handle.close();
      }
    } catch {
      // ENOENT: compacted away meanwhile; anything else: LevelDB's own sync covers it.
    } finally {
      file.syncing = false;
    }
  }

  /** Drops files with no change for a while: finished tables that stay (deeper levels live on). */
  #forgetIdle(now: number): void {
    for (const [name, f] of this.#files) if (!f.syncing && now - f.seen > IDLE_MS) this.#files.delete(name);
  }
}

/**
 * Bytes of a table between syncs. Measured beside a 32 KiB fdatasync loop
 * (bench/NOTES.md, session 12): syncing every 128 KiB, 512 KiB or never
 * left that loop's p99 at 1.3, 1.4 and 4.1–4.9 ms, and its slowest at 6.9,
 * 5.2–7.1 and 11.3–15.5 ms. 256 KiB sits between the two that helped, at
 * ~4 syncs per MiB of table.
 */
export const PACE_BYTES = 256 * 1024;
const MAX_TRACKED = 64;
const IDLE_MS = 10_000;
