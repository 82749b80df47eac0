/**
 * Feeding a ledger fast, shared by figures 2, 3 and 6: access-log records
 * signed lazily in chunks (so 10M records never sit in memory at once), the
 * ways of keeping many appends in flight, and the one place that decides how
 * pre-signed records enter a ledger (`presignedLedger`), so the figures can be
 * switched to a faster API (a batch form) in one spot.
 */
import type { Plain } from '../src/encoding/msgpack.js';
import {
  createLedger,
  type Ledger,
  type MemberSigner,
  type Receipt,
  signBatch,
  signRecord,
} from '../src/index.js';
import type { Durability } from '../src/storage/store.js';
import { ACCESS_LOG_KIND, AccessLogGenerator, type Directory, makeDirectory } from './workload.js';

/** A chunk of signed access-log records and what each was made from (for the replay below). */
export interface SignedChunk {
  /** Index of the chunk's first record in the whole stream. */
  readonly first: number;
  readonly entries: Uint8Array[];
  readonly authors: Uint16Array;
  readonly timestamps: Float64Array;
  readonly bodies: Plain[];
  readonly bytes: number;
}

/**
 * An endless stream of access-log records signed by their departments, made
 * chunk by chunk from one continuous generator (timestamps keep increasing,
 * every record has its own random session id, so no two are equal).
 */
export class SignedLogStream {
  readonly #dir: Directory;
  readonly #gen: AccessLogGenerator;
  #made = 0;

  constructor(dir: Directory, seed: number) {
    this.#dir = dir;
    this.#gen = new AccessLogGenerator(dir, seed);
  }

  next(count: number): SignedChunk {
    const entries: Uint8Array[] = new Array(count);
    const authors = new Uint16Array(count);
    const timestamps = new Float64Array(count);
    const bodies: Plain[] = new Array(count);
    let bytes = 0;
    for (let i = 0; i < count; i++) {
      const draft = this.#gen.next();
      const dept = this.#dir.departments[draft.author]!;
      const record = signRecord(
        {
          origin: this.#dir.origin,
          kind: ACCESS_LOG_KIND,
          author: dept.id,
          keyId: 0,
          timestamp: draft.timestamp,
          body: draft.body,
        },
        dept.member.signer,
      );
      entries[i] = record.bytes;
      bytes += record.bytes.length;
      authors[i] = draft.author;
      timestamps[i] = draft.timestamp;
      bodies[i] = draft.body;
    }
    const chunk = { first: this.#made, entries, authors, timestamps, bodies, bytes };
    this.#made += count;
    return chunk;
  }
}

/**
 * Record `i` of a stream read in order by many loops: chunks are signed when
 * first needed and dropped two chunks later (callers must keep fewer appends
 * in flight than a chunk holds, and use a record only until its append call returns).
 */
export class ChunkedRecords {
  readonly #stream: SignedLogStream;
  readonly #size: number;
  readonly #chunks = new Map<number, SignedChunk>();
  /** Signing time spent inside `at` (ms), so figures can report it. */
  signMs = 0;

  constructor(stream: SignedLogStream, chunkSize: number) {
    this.#stream = stream;
    this.#size = chunkSize;
  }

  at(i: number): { chunk: SignedChunk; k: number } {
    const c = Math.floor(i / this.#size);
    let chunk = this.#chunks.get(c);
    if (chunk === undefined) {
      const t0 = performance.now();
      chunk = this.#stream.next(this.#size);
      this.signMs += performance.now() - t0;
      if (chunk.first !== c * this.#size) throw new Error('chunks must be read in order');
      this.#chunks.set(c, chunk);
      this.#chunks.delete(c - 2);
    }
    return { chunk, k: i - chunk.first };
  }
}

/**
 * A benchmark ledger of the workload's directory that appends pre-signed
 * records the fastest way the current API allows without re-verifying them:
 * `submit` through a signer that hands back the record's own signature and a
 * clock that returns its own timestamp, so the stored entries are exactly the
 * pre-signed bytes (checked by `checkEntry`). This is the one function to
 * change when the ledger gets a faster (batch) path for pre-signed records.
 */
export async function presignedLedger(
  path: string,
  dir: Directory,
  durability: Durability,
): Promise<{
  ledger: Ledger;
  append: (chunk: SignedChunk, k: number) => Promise<Receipt>;
  checkEntry: (index: number, entry: Uint8Array) => void;
}> {
  let clockNow = 0;
  let staged: Uint8Array | undefined;
  const replay: MemberSigner[] = dir.departments.map((d) => ({
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
  const ledger = await createLedger(path, {
    origin: dir.origin,
    sequencerKey: dir.sequencerKey,
    members: [...dir.members],
    durability,
    // Pre-signed records carry the workload's fixed timestamps (reproducible bytes).
    policy: { maxClockSkewMs: 0 },
    clock: () => clockNow,
  });
  const append = (chunk: SignedChunk, k: number): Promise<Receipt> => {
    const entry = chunk.entries[k]!;
    clockNow = chunk.timestamps[k]!;
    staged = entry.subarray(entry.length - 64);
    // submit signs synchronously before its first await, so staging around the call is safe.
    const done = ledger.submit(replay[chunk.authors[k]!]!, ACCESS_LOG_KIND, chunk.bodies[k]!);
    staged = undefined;
    return done;
  };
  const checkEntry = (index: number, entry: Uint8Array): void => {
    if (Buffer.compare(ledger.getEntry(index), entry) !== 0)
      throw new Error(`ledger entry ${index} differs from the pre-signed record`);
  };
  return { ledger, append, checkEntry };
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
      const dept = this.#dir.departments[d.author]!;
      const { seal, events } = signBatch(
        {
          origin: this.#dir.origin,
          kind: ACCESS_LOG_KIND,
          author: dept.id,
          keyId: 0,
          timestamp: open.timestamp,
        },
        open.bodies,
        dept.member.signer,
      );
      let bytes = 0;
      for (const e of events) bytes += e.length;
      this.signMs += performance.now() - t0;
      return { seal: seal.bytes, events, bytes };
    }
  }
}

/** A benchmark ledger of the workload's directory for pre-signed batches (`appendBatch`: seal verified). */
export function batchLedger(path: string, dir: Directory, durability: Durability): Promise<Ledger> {
  return createLedger(path, {
    origin: dir.origin,
    sequencerKey: dir.sequencerKey,
    members: [...dir.members],
    durability,
    policy: { maxClockSkewMs: 0 },
  });
}

/** Callers appending batches while a benchmark ledger is built (big blocks, as a busy sequencer cuts them). */
export const BUILD_CALLERS = 64;

/**
 * Builds a ledger of at least `size` entries (genesis, then seals and their
 * events) from pre-signed batches of 64, many in flight, durability buffered
 * (the build is not what is measured), and closes it. Figures 3 and 4 read
 * the result. Returns the entry count, build time and the signing time in it.
 */
export async function buildBatchLedger(
  path: string,
  seed: number,
  size: number,
): Promise<{ entries: number; seconds: number; signMs: number }> {
  const dir = makeDirectory(seed);
  const stream = new BatchStream(dir, seed);
  const ledger = await batchLedger(path, dir, 'buffered');
  try {
    const start = performance.now();
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
    if (ledger.head().size !== entries)
      throw new Error(`built ${ledger.head().size} entries, expected ${entries}`);
    return { entries, seconds, signMs: stream.signMs };
  } finally {
    await ledger.close();
  }
}
