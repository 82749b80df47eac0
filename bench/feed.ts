/**
 * Feeding a ledger fast, shared by the figures: the benchmark ledger itself
 * (`benchLedger`), the replay of pre-signed records through `submit`
 * (`PresignedReplay`), the ways of keeping many appends in flight, and signed
 * batches made lazily (`BatchStream`, so 10M events never sit in memory at
 * once) with the build of a whole ledger from them (`buildBatchLedger`).
 */
import type { Plain } from '../src/encoding/msgpack.js';
import { createLedger, type Ledger, type MemberSigner, type Receipt } from '../src/index.js';
import type { Durability } from '../src/storage/store.js';
import {
  ACCESS_LOG_KIND,
  AccessLogGenerator,
  type Directory,
  makeDirectory,
  signAccessLogBatch,
} from './workload.js';

/**
 * A fresh benchmark ledger of the workload's directory: its genesis members,
 * the given durability, and no clock-skew check (the workload's timestamps
 * are fixed by the seed, so bytes are reproducible). `clock`: for replays.
 */
export function benchLedger(
  path: string,
  dir: Directory,
  durability: Durability,
  clock?: () => number,
): Promise<Ledger> {
  return createLedger(path, {
    origin: dir.origin,
    sequencerKey: dir.sequencerKey,
    members: [...dir.members],
    durability,
    policy: { maxClockSkewMs: 0 },
    ...(clock === undefined ? {} : { clock }),
  });
}

/**
 * Pre-signed records replayed through `submit` with no per-record Ed25519:
 * each department's signer hands back the record's own signature and the
 * ledger's clock (`clock`, given to `benchLedger`) returns the record's own
 * timestamp, so the stored entries are exactly the pre-signed bytes.
 */
export class PresignedReplay {
  readonly #members: MemberSigner[];
  #now = 0;
  #staged: Uint8Array | undefined;
  readonly clock = (): number => this.#now;

  constructor(dir: Directory) {
    this.#members = dir.departments.map((d) => ({
      id: d.id,
      keyId: 0,
      signer: {
        publicKey: d.publicKey,
        sign: () => {
          if (this.#staged === undefined) throw new Error('no signature staged');
          return this.#staged;
        },
      },
    }));
  }

  /** Submits the record `entry` was made from (its author, timestamp and body). */
  submit(
    ledger: Ledger,
    author: number,
    timestamp: number,
    entry: Uint8Array,
    body: Plain,
  ): Promise<Receipt> {
    this.#now = timestamp;
    this.#staged = entry.subarray(entry.length - 64);
    // submit signs synchronously before its first await, so staging around the call is safe.
    const done = ledger.submit(this.#members[author]!, ACCESS_LOG_KIND, body);
    this.#staged = undefined;
    return done;
  }
}

/**
 * `callers` async loops, each awaiting its own append before taking the next
 * index. Returns the latency (ms) of every `sampleEvery`-th append (long runs
 * sample, so the array itself does not grow RSS by 8 bytes a record).
 */
export async function callersAwaitingEach(
  n: number,
  callers: number,
  appendOne: (i: number) => Promise<unknown>,
  sampleEvery = 1,
): Promise<Float64Array> {
  const lat = new Float64Array(Math.ceil(n / sampleEvery));
  let next = 0;
  const loop = async (): Promise<void> => {
    for (;;) {
      const i = next++;
      if (i >= n) return;
      const t0 = performance.now();
      await appendOne(i);
      if (i % sampleEvery === 0) lat[i / sampleEvery] = performance.now() - t0;
    }
  };
  await Promise.all(Array.from({ length: Math.min(callers, n) }, loop));
  return lat;
}

/**
 * Offers `count` appends open-loop: append i is started at start + i ×
 * `intervalMs`, whatever the earlier ones are doing (a steady load, not a
 * closed loop that slows down with the acks). Returns each one's latency (ms,
 * call to resolve) and the seconds from the first offer to the last ack.
 */
export async function offeredOpenLoop(
  count: number,
  intervalMs: number,
  appendOne: (i: number) => Promise<unknown>,
): Promise<{ seconds: number; lat: Float64Array }> {
  const lat = new Float64Array(count);
  const start = performance.now();
  const pending: Promise<unknown>[] = [];
  for (let i = 0; i < count; i++) {
    const wait = start + i * intervalMs - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    const t0 = performance.now();
    pending.push(appendOne(i).then(() => (lat[i] = performance.now() - t0)));
  }
  await Promise.all(pending);
  return { seconds: (performance.now() - start) / 1000, lat };
}

/**
 * `callers` async loops, each keeping up to `depth` appends in flight (it
 * waits for its oldest only when it has `depth` outstanding), as a client that
 * pipelines its writes does. Returns per-append latency (ms), call to resolve.
 */
export async function callersPipelined(
  n: number,
  callers: number,
  depth: number,
  appendOne: (i: number) => Promise<unknown>,
): Promise<Float64Array> {
  const lat = new Float64Array(n);
  let next = 0;
  const timed = (i: number): Promise<void> => {
    const t0 = performance.now();
    return appendOne(i).then(() => {
      lat[i] = performance.now() - t0;
    });
  };
  const loop = async (): Promise<void> => {
    const pending: Promise<void>[] = [];
    for (;;) {
      const i = next++;
      if (i >= n) break;
      pending.push(timed(i));
      if (pending.length >= depth) await pending.shift();
    }
    await Promise.all(pending);
  };
  await Promise.all(Array.from({ length: Math.min(callers, n) }, loop));
  return lat;
}

/** One pre-signed batch: a seal and its events (the batched form of 64 access logs by one department). */
export interface SignedEventBatch {
  readonly seal: Uint8Array;
  readonly events: Uint8Array[];
  /** Sum of the events' entry bytes (the payload the ledger stores per event). */
  readonly bytes: number;
}

/**
 * An endless stream of signed batches: access logs drafted by one continuous
 * generator, gathered per department, and signed 64 at a time (one signature
 * per batch), so 10M events cost 156k signatures and never sit in memory.
 */
export class BatchStream {
  readonly #dir: Directory;
  readonly #gen: AccessLogGenerator;
  readonly #size: number;
  readonly #open = new Map<number, { timestamp: number; bodies: Plain[] }>();
  /** Time spent drafting and signing (ms), so figures can report it. */
  signMs = 0;

  constructor(dir: Directory, seed: number, eventsPerBatch = 64) {
    this.#dir = dir;
    this.#gen = new AccessLogGenerator(dir, seed);
    this.#size = eventsPerBatch;
  }

  next(): SignedEventBatch {
    const t0 = performance.now();
    for (;;) {
      const d = this.#gen.next();
      let open = this.#open.get(d.author);
      if (open === undefined) {
        open = { timestamp: d.timestamp, bodies: [] };
        this.#open.set(d.author, open);
      }
      open.bodies.push(d.body);
      if (open.bodies.length < this.#size) continue;
      this.#open.delete(d.author);
      const { seal, events } = signAccessLogBatch(this.#dir, d.author, open.timestamp, open.bodies);
      let bytes = 0;
      for (const e of events) bytes += e.length;
      this.signMs += performance.now() - t0;
      return { seal: seal.bytes, events, bytes };
    }
  }
}

/** Callers appending batches while a benchmark ledger is built (big blocks, as a busy sequencer cuts them). */
export const BUILD_CALLERS = 64;

/**
 * Builds a ledger of at least `size` entries (genesis, then seals and their
 * events, and the block entry that ends each block) from pre-signed batches
 * of 64, many in flight, durability buffered (the build is not what is
 * measured), and closes it. Figures 3 and 4 read the result. Returns the
 * entry count (the tree size), build time and the signing time in it.
 */
export async function buildBatchLedger(
  path: string,
  seed: number,
  size: number,
): Promise<{ entries: number; seconds: number; signMs: number }> {
  const dir = makeDirectory(seed);
  const stream = new BatchStream(dir, seed);
  const ledger = await benchLedger(path, dir, 'buffered');
  try {
    const start = performance.now();
    // Genesis, seals and events; the block entries are counted once the blocks are cut.
    let entries = 1;
    const caller = async (): Promise<void> => {
      while (entries < size) {
        const b = stream.next();
        entries += 1 + b.events.length;
        await ledger.appendBatch(b.seal, b.events);
      }
    };
    await Promise.all(Array.from({ length: BUILD_CALLERS }, caller));
    await ledger.flush();
    const seconds = (performance.now() - start) / 1000;
    const head = ledger.head();
    // Every block, genesis too, ends with one block entry.
    if (head.size !== entries + head.height + 1)
      throw new Error(`built ${head.size} entries, expected ${entries} and ${head.height + 1} block entries`);
    return { entries: head.size, seconds, signMs: stream.signMs };
  } finally {
    await ledger.close();
  }
}
