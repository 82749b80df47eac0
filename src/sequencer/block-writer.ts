/**
 * Writes formed blocks to the store in order, one write at a time, and
 * coalesces: every block formed while a write is in flight waits, and all of
 * them go to disk together in the next write (one LevelDB batch, one fsync).
 *
 * Why: before, one block waited behind the write in flight and later
 * arrivals were not formed until that write ended. A write can be held up
 * 20–30 ms while LevelDB flushes its memtable; at half the batch rate the
 * slowest acks spent ~10–12 ms of that waiting to be formed and ~10 ms more
 * behind the block ahead of them (probe, bench/NOTES.md "Ack latency at half
 * rate"). Now they are formed on arrival and durable one write after the
 * stall. That write is larger and, while the flush lasts, slow too, so this
 * alone did not move the half-rate p99; it removes the formation wait.
 */
export class BlockWriter<B> {
  readonly #write: (blocks: B[]) => Promise<void>;
  #waiting: Array<{ block: B; resolve: () => void; reject: (e: unknown) => void }> = [];
  #writing = false;
  #failure: { error: unknown } | undefined;

  /** `write` must write all of its blocks or none, in order. */
  constructor(write: (blocks: B[]) => Promise<void>) {
    this.#write = write;
  }

  /**
   * Resolves when `block` is durable; blocks resolve in the order they were
   * pushed. After a failed write, that write's blocks, the ones waiting and
   * every later one reject with its error: nothing is written past a gap.
   */
  push(block: B): Promise<void> {
    if (this.#failure !== undefined) return Promise.reject(this.#failure.error);
    return new Promise<void>((resolve, reject) => {
      this.#waiting.push({ block, resolve, reject });
      if (!this.#writing) void this.#run();
    });
  }

  async #run(): Promise<void> {
    this.#writing = true;
    while (this.#waiting.length > 0) {
      const taken = this.#waiting;
      this.#waiting = [];
      try {
        await this.#write(taken.map((t) => t.block));
      } catch (error) {
        this.#failure = { error };
        const failed = [...taken, ...this.#waiting];
        this.#waiting = [];
        for (const t of failed) t.reject(error);
        break;
      }
      for (const t of taken) t.resolve();
    }
    this.#writing = false;
  }
}
