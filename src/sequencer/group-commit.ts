/**
 * Group commit: many concurrent callers, one writer. Items queue up while a
 * batch is being written; the next batch takes as many as fit (by count and
 * bytes), so throughput rises with concurrency instead of each caller paying
 * for its own fsync. Groups are never split across batches (all-or-nothing
 * appends rely on that). Batches are formed in queue order as items arrive,
 * also while earlier ones are being written; `commit` writes them in order.
 */

/**
 * Batches formed ahead of the disk at most. Why a bound: each is a layer of
 * pending state that lookups search. At half the batch rate a write slowed by
 * a memtable flush had up to 31 blocks formed behind it (probe, session 10).
 */
const MAX_AHEAD = 32;
const NOTHING = { groups: 0, items: 0, bytes: 0 } as const;

export interface Item<T, R> {
  readonly value: T;
  readonly bytes: number;
  /** How many entries it stands for (a batch seal brings its events): counts against maxItems. */
  readonly count: number;
  readonly resolve: (result: R) => void;
  readonly reject: (error: unknown) => void;
}

/** A run of items that must land in the same batch. */
export interface Group<T, R> {
  readonly items: Item<T, R>[];
  readonly atomic: boolean;
}

export interface GroupCommitOptions {
  maxItems: number;
  maxBytes: number;
  /** Wait this long for more items once the first arrives (0: the current event-loop turn). */
  maxDelayMs: number;
}

/**
 * `commit` forms its batch synchronously and returns a promise for the write;
 * it is called for the next batch before the previous write has finished, so
 * it must order its writes itself.
 */
export class GroupCommit<T, R> {
  readonly #options: GroupCommitOptions;
  readonly #commit: (batch: Group<T, R>[]) => Promise<void>;
  #queue: Group<T, R>[] = [];
  #queuedItems = 0;
  #queuedBytes = 0;
  #running = false;
  #timer: ReturnType<typeof setTimeout> | ReturnType<typeof setImmediate> | undefined;
  #idle: Array<() => void> = [];
  /** Set while the writer waits for its oldest write with room to form more: wakes it for new items. */
  #wake: (() => void) | undefined;
  /** Set when a commit failed: every later item is rejected with it. */
  failure: unknown;

  constructor(options: GroupCommitOptions, commit: (batch: Group<T, R>[]) => Promise<void>) {
    this.#options = options;
    this.#commit = commit;
  }

  get pending(): number {
    return this.#queuedItems;
  }

  /** Queues a group; its items' promises settle when their batch is committed. */
  push(values: ReadonlyArray<{ value: T; bytes: number }>, atomic: boolean): Promise<R>[] {
    const items: Item<T, R>[] = [];
    const promises = values.map(
      (v) =>
        new Promise<R>((resolve, reject) => {
          items.push({ value: v.value, bytes: v.bytes, count: 1, resolve, reject });
        }),
    );
    this.#enqueue({ items, atomic });
    return promises;
  }

  /**
   * Queues a group and returns one promise for all of its items: each slot
   * holds the item's result, or the error that refused it. For large groups
   * (`appendMany`): no promise per item, so thousands of waiting items are
   * thousands of small objects fewer for the collector to copy.
   */
  pushAll(values: readonly T[], bytes: (value: T) => number, atomic: boolean): Promise<Array<R | unknown>> {
    if (values.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const slots = new Slots<R>(values.length, resolve);
      const items: Item<T, R>[] = new Array(values.length);
      for (let i = 0; i < values.length; i++)
        items[i] = new SlotItem(values[i]!, bytes(values[i]!), slots, i);
      this.#enqueue({ items, atomic });
    });
  }

  /** Queues one item that stands for `count` entries (a batch with its events), alone in its group. */
  pushWeighted(value: T, bytes: number, count: number): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      this.#enqueue({ items: [{ value, bytes, count, resolve, reject }], atomic: true });
    });
  }

  #enqueue(group: Group<T, R>): void {
    const { items } = group;
    if (this.failure !== undefined) {
      for (const i of items) i.reject(this.failure);
      return;
    }
    this.#queue.push(group);
    for (const i of items) {
      this.#queuedItems += i.count;
      this.#queuedBytes += i.bytes;
    }
    if (this.#wake !== undefined) this.#wake();
    else this.#schedule();
  }

  /** Resolves when the queue is empty and no batch is in flight. */
  drain(): Promise<void> {
    if (!this.#running && this.#queue.length === 0 && this.#timer === undefined) return Promise.resolve();
    return new Promise((resolve) => this.#idle.push(resolve));
  }

  /** Waits as `#schedule` does before forming a batch: this turn's arrivals, or `maxDelayMs` unless full. */
  #gather(): Promise<void> {
    return new Promise((resolve) => {
      if (this.#options.maxDelayMs > 0 && !this.#full()) setTimeout(resolve, this.#options.maxDelayMs);
      else setImmediate(resolve);
    });
  }

  #full(): boolean {
    return this.#queuedItems >= this.#options.maxItems || this.#queuedBytes >= this.#options.maxBytes;
  }

  #schedule(): void {
    if (this.#running || this.#timer !== undefined) return;
    if (this.#options.maxDelayMs > 0 && !this.#full())
      this.#timer = setTimeout(() => this.#run(), this.#options.maxDelayMs);
    else this.#timer = setImmediate(() => this.#run());
  }

  async #run(): Promise<void> {
    this.#timer = undefined;
    this.#running = true;
    // Batches formed and not yet durable, oldest first. Forming does not wait
    // for writes: whatever arrives while one is in flight is formed at once,
    // and `commit` writes everything formed meanwhile together next (see
    // block-writer.ts). Formed ahead of the disk: at most twice the batch
    // limits (a single group larger than them only when nothing is ahead),
    // and at most MAX_AHEAD batches, each a state layer that lookups search.
    const unsettled: Array<{ settled: Promise<void>; items: number; bytes: number }> = [];
    let aheadItems = 0;
    let aheadBytes = 0;
    try {
      for (;;) {
        const next = this.#queue.length > 0 ? this.#next() : NOTHING;
        const room =
          unsettled.length === 0 ||
          (unsettled.length < MAX_AHEAD &&
            aheadItems + next.items <= 2 * this.#options.maxItems &&
            aheadBytes + next.bytes <= 2 * this.#options.maxBytes);
        if (this.#queue.length > 0 && this.failure === undefined && room) {
          const batch = this.#take(next);
          let done: Promise<void>;
          try {
            done = this.#commit(batch);
          } catch (e) {
            done = Promise.reject(e);
          }
          const settled = done.catch((e) => {
            // Settle every item of the failed batch (settling twice is a no-op), then stop.
            this.failure ??= e;
            for (const g of batch) for (const i of g.items) i.reject(e);
          });
          unsettled.push({ settled, items: next.items, bytes: next.bytes });
          aheadItems += next.items;
          aheadBytes += next.bytes;
          continue;
        }
        const oldest = unsettled[0];
        if (oldest === undefined) break;
        // Wait for the oldest write or, with room to form more, for new items,
        // whichever comes first.
        const written = oldest.settled.then(() => true);
        const waits = [written];
        if (room && this.failure === undefined) {
          waits.push(
            new Promise<boolean>((resolve) => {
              this.#wake = () => resolve(false);
            }),
          );
        }
        const wasWritten = await Promise.race(waits);
        this.#wake = undefined;
        if (wasWritten) {
          unsettled.shift();
          aheadItems -= oldest.items;
          aheadBytes -= oldest.bytes;
        } else await this.#gather();
      }
    } finally {
      this.#running = false;
      if (this.failure !== undefined) this.#rejectAll(this.failure);
      const idle = this.#idle;
      this.#idle = [];
      for (const f of idle) f();
    }
  }

  /** How many groups the next batch takes from the queue, and their items and bytes. */
  #next(): { groups: number; items: number; bytes: number } {
    let n = 0;
    let items = 0;
    let bytes = 0;
    while (n < this.#queue.length) {
      const g = this.#queue[n]!;
      let gBytes = 0;
      let gItems = 0;
      for (const i of g.items) {
        gBytes += i.bytes;
        gItems += i.count;
      }
      // Always take at least one group, even one larger than the limits.
      if (n > 0 && (items + gItems > this.#options.maxItems || bytes + gBytes > this.#options.maxBytes))
        break;
      items += gItems;
      bytes += gBytes;
      n++;
    }
    return { groups: n, items, bytes };
  }

  /** Takes the batch `#next` measured off the queue. */
  #take(next: { groups: number; items: number; bytes: number }): Group<T, R>[] {
    this.#queuedItems -= next.items;
    this.#queuedBytes -= next.bytes;
    return this.#queue.splice(0, next.groups);
  }

  #rejectAll(e: unknown): void {
    const q = this.#queue;
    this.#queue = [];
    this.#queuedItems = 0;
    this.#queuedBytes = 0;
    for (const g of q) for (const i of g.items) i.reject(e);
  }
}

/** The results of a `pushAll` group: settled once each, resolved when the last one is. */
class Slots<R> {
  readonly results: Array<R | unknown>;
  readonly settled: Uint8Array;
  left: number;

  constructor(
    n: number,
    readonly done: (results: Array<R | unknown>) => void,
  ) {
    this.results = new Array(n);
    this.settled = new Uint8Array(n);
    this.left = n;
  }

  settle(slot: number, result: R | unknown): void {
    if (this.settled[slot] === 1) return; // like a promise: the first settlement stands
    this.settled[slot] = 1;
    this.results[slot] = result;
    if (--this.left === 0) this.done(this.results);
  }
}

/** An item of a `pushAll` group: settles its slot (methods, not a closure pair per item). */
class SlotItem<T, R> implements Item<T, R> {
  readonly count = 1;

  constructor(
    readonly value: T,
    readonly bytes: number,
    readonly slots: Slots<R>,
    readonly slot: number,
  ) {}

  resolve(result: R): void {
    this.slots.settle(this.slot, result);
  }

  reject(error: unknown): void {
    this.slots.settle(this.slot, error);
  }
}
