/**
 * A small pool of worker threads that check batches signed elsewhere (seal
 * signature, event decoding, leaf hashes, root) in parallel with the
 * sequencer's main thread. Where the worker script is not beside this module
 * (running from TypeScript sources, as the unit tests do) or `workers` is 0,
 * the same check runs in-thread; the verdicts are identical either way.
 */

import { existsSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { copyBytes } from '../crypto/bytes.js';
import { verifyNodeAsync } from '../crypto/node-crypto.js';
import { recordSigningMessage } from '../encoding/record.js';
import { DirchainError, ErrorCode, type ErrorCodeValue, isDirchainError } from '../errors.js';
import {
  type BatchCheck,
  badSeal,
  type CheckedBatches,
  checkBatch,
  mergePacked,
  type PackedChecks,
  packChecks,
  unpackChecks,
} from './batch-check.js';
import { detachOneBuffer } from './worker-warm-up.js';

const WORKER_URL = new URL('./admission-worker.js', import.meta.url);
const NO_ROOT = new Uint8Array(32);

/** A checked batch: its leaf hashes (32 bytes each, back to back) and its own copy of the event bytes. */
export interface CheckedBatch {
  readonly leaves: Uint8Array;
  readonly events: Uint8Array[];
}

interface Job {
  /**
   * A batch check, packed when it was asked for (the caller may reuse its
   * buffers right after), or a signature check whose bytes the ledger owns,
   * packed with the others of its turn when they are posted (one pack per
   * single record was most of this path's garbage).
   */
  readonly packed: PackedChecks | BatchCheck;
  readonly count: number;
  readonly resolve: (checked: CheckedBatch) => void;
  readonly reject: (e: unknown) => void;
  /**
   * A run of signature checks posted as one job (`verifyMany`): the number of
   * checks, and what takes their verdicts (one promise for all of them).
   */
  readonly run?: { readonly checks: number; readonly verdicts: (ok: boolean[]) => void };
}

/**
 * Warm workers left by closed pools, taken by the next pool this process
 * opens. Why: a new worker compiles its check code again on its first real
 * batches (the synthetic warm-up does not cover what real data reaches), and
 * checks run ~3× slower for ~0.2 s. Measured at half the batch rate, a new
 * ledger with new workers had 2–328 acks over 25 ms in its first 0.25 s
 * (twelve runs; the p99 allows 39); with the closed ledger's workers, none in
 * six runs (bench/NOTES.md, session 14). Workers keep no state between
 * messages, so a reused one gives the same verdicts.
 */
const SPARES: Array<{
  readonly worker: Worker;
  readonly forget: () => void;
  readonly timer: NodeJS.Timeout;
}> = [];
/** At most this many workers wait for a next pool; more are terminated. */
const MAX_SPARES = 8;
/** A spare not taken within this long is terminated. */
const SPARE_IDLE_MS = 30_000;

/** Takes a warm spare worker, if one is waiting. */
function takeSpare(): Worker | undefined {
  const spare = SPARES.pop();
  if (spare === undefined) return undefined;
  clearTimeout(spare.timer);
  spare.worker.off('error', spare.forget);
  spare.worker.off('exit', spare.forget);
  return spare.worker;
}

/** Keeps an idle worker for the next pool (or terminates it if enough are kept). */
function keepSpare(worker: Worker): void {
  if (SPARES.length >= MAX_SPARES) {
    void worker.terminate();
    return;
  }
  const forget = (): void => {
    const at = SPARES.findIndex((s) => s.worker === worker);
    if (at >= 0) clearTimeout(SPARES.splice(at, 1)[0]!.timer);
  };
  // A spare that fails or exits while it waits is only forgotten.
  worker.on('error', forget);
  worker.on('exit', forget);
  const timer = setTimeout(() => {
    forget();
    void worker.terminate();
  }, SPARE_IDLE_MS);
  timer.unref();
  worker.unref();
  SPARES.push({ worker, forget, timer });
}

export class AdmissionPool {
  readonly #workers: Worker[] = [];
  /**
   * Workers that have loaded their script. Until one has (~0.2 s after the
   * ledger opens), checks run in-thread: measured, the first 0.6 s of batches
   * otherwise waited up to 300 ms for the workers to start.
   */
  readonly #ready: Worker[] = [];
  /** Posted messages by id: the jobs each carries, in order. */
  readonly #posted = new Map<number, Job[]>();
  /** Checks waiting for this event-loop turn's message. */
  #queued: Job[] = [];
  #next = 0;
  #turn = 0;
  /** This pool's listeners on each worker, removed when the worker is kept as a spare. */
  readonly #listeners = new Map<
    Worker,
    { message: (m: CheckedBatches | { ready: true }) => void; error: (e: Error) => void }
  >();

  constructor(size: number) {
    if (size < 1 || !existsSync(fileURLToPath(WORKER_URL))) return;
    detachOneBuffer();
    for (let i = 0; i < size; i++) {
      const spare = takeSpare();
      const w = spare ?? new Worker(WORKER_URL);
      const message = (m: CheckedBatches | { ready: true }): void => {
        if ('ready' in m) this.#ready.push(w);
        else this.#answered(m);
      };
      const error = (e: Error): void => {
        // A dead worker takes its jobs with it; the rest carry on (in-thread if none is left).
        this.#workers.splice(this.#workers.indexOf(w), 1);
        if (this.#ready.includes(w)) this.#ready.splice(this.#ready.indexOf(w), 1);
        this.#listeners.delete(w);
        this.#failAll(e);
      };
      w.on('message', message);
      w.on('error', error);
      this.#listeners.set(w, { message, error });
      // Idle workers must not keep a process alive that is otherwise done (busy ones must).
      w.unref();
      this.#workers.push(w);
      // A spare said it was ready to the pool before.
      if (spare !== undefined) this.#ready.push(w);
    }
  }

  /** @internal The worker threads' ids (tests: which workers a pool holds). */
  get threadIds(): number[] {
    return this.#workers.map((w) => w.threadId);
  }

  /** Resolves with the number of workers checking batches once each has started or failed. */
  async started(): Promise<number> {
    while (this.#ready.length < this.#workers.length) await new Promise((r) => setTimeout(r, 5));
    return this.#ready.length;
  }

  /**
   * Checks a batch; resolves to its leaf hashes and its own copy of the events.
   * Checks asked for in the same event-loop turn (callers answered together
   * by one block come back together) go to the workers in one message each.
   */
  check(c: BatchCheck): Promise<CheckedBatch> {
    return this.#queue(c, packChecks(0, [c]));
  }

  #queue(c: BatchCheck, packed: PackedChecks | BatchCheck): Promise<CheckedBatch> {
    if (this.#ready.length === 0) return this.#inThread(c);
    return new Promise((resolve, reject) =>
      this.#enqueue({ packed, count: c.events.length, resolve, reject }),
    );
  }

  /** Queues a job for this event-loop turn's message. */
  #enqueue(job: Job): void {
    if (this.#queued.length === 0) setImmediate(() => this.#post());
    this.#queued.push(job);
  }

  #post(): void {
    const jobs = this.#queued;
    this.#queued = [];
    const workers = this.#ready;
    if (workers.length === 0) {
      for (const j of jobs) {
        if (j.run !== undefined) {
          verifyInThread(unpackChecks(j.packed as PackedChecks)).then(j.run.verdicts, j.reject);
          continue;
        }
        const c = 'shape' in j.packed ? unpackChecks(j.packed)[0]! : j.packed;
        this.#inThread(c).then(j.resolve, j.reject);
      }
      return;
    }
    if (this.#posted.size === 0) for (const x of this.#workers) x.ref();
    // Contiguous slices, one per worker, so both cores share a burst.
    const per = Math.ceil(jobs.length / workers.length);
    for (let from = 0; from < jobs.length; from += per) {
      const slice = jobs.slice(from, from + per);
      const id = this.#next++;
      const message = mergePacked(id, packRuns(slice));
      this.#posted.set(id, slice);
      workers[this.#turn++ % workers.length]!.postMessage(message, [
        message.shape.buffer as ArrayBuffer,
        message.seals.buffer as ArrayBuffer,
        message.events.buffer as ArrayBuffer,
        message.lengths.buffer as ArrayBuffer,
      ]);
    }
  }

  #answered(m: CheckedBatches): void {
    const jobs = this.#posted.get(m.id);
    if (jobs === undefined) return;
    this.#posted.delete(m.id);
    if (this.#posted.size === 0) for (const x of this.#workers) x.unref();
    let at = 0;
    let event = 0;
    let offset = 0;
    let k = 0;
    for (const job of jobs) {
      if (job.run !== undefined) {
        const ok: boolean[] = new Array(job.run.checks);
        let failed: (typeof m.errors)[number];
        for (let i = 0; i < ok.length; i++) {
          const e = m.errors[k++];
          ok[i] = e === undefined;
          if (e !== undefined && e.code !== ErrorCode.BAD_SIGNATURE) failed = e;
        }
        if (failed === undefined) job.run.verdicts(ok);
        else job.reject(new DirchainError(failed.code as ErrorCodeValue, failed.message));
        continue;
      }
      const count = job.count;
      const e = m.errors[k++];
      if (e === undefined) {
        const events: Uint8Array[] = new Array(count);
        for (let i = 0; i < count; i++) {
          const length = m.lengths[event + i]!;
          events[i] = m.events.subarray(offset, offset + length);
          offset += length;
        }
        job.resolve({ leaves: m.leaves.subarray(at, at + 32 * count), events });
      } else {
        for (let i = 0; i < count; i++) offset += m.lengths[event + i]!;
        job.reject(
          new DirchainError(
            e.code as ErrorCodeValue,
            e.message,
            e.hint === undefined ? {} : { hint: e.hint },
          ),
        );
      }
      at += 32 * count;
      event += count;
    }
  }

  /**
   * Verifies a single record's signature on the workers (a synchronous
   * verify there, many per message). Node's asynchronous crypto.verify costs
   * the calling thread 23 µs per call here, and 60+ µs while other threads
   * verify too (OpenSSL's locks): most of what the main thread spent per
   * record signed elsewhere. The bytes are read when the turn's checks are
   * posted, not now: they must not change before it resolves (the ledger
   * passes its own copy of the record).
   */
  async verify(key: Uint8Array, signed: Uint8Array, signature: Uint8Array): Promise<boolean> {
    if (this.#ready.length === 0) return verifyNodeAsync(key, recordSigningMessage(signed), signature);
    try {
      const c: BatchCheck = { signed, signature, key, root: NO_ROOT, events: [], signatureOnly: true };
      await this.#queue(c, c);
      return true;
    } catch (e) {
      if (isDirchainError(e, ErrorCode.BAD_SIGNATURE)) return false;
      throw e;
    }
  }

  /**
   * Verifies many single records' signatures: one packed job per worker and
   * one promise for all, so the records waiting for their verdicts hold no
   * promise or job each (thousands wait at once under `appendMany`, and young
   * collections copied every one of them). Resolves to a verdict per record.
   * The bytes must not change before it resolves (they are packed now).
   */
  async verifyMany(
    keys: readonly Uint8Array[],
    signed: readonly Uint8Array[],
    signatures: readonly Uint8Array[],
  ): Promise<boolean[]> {
    const checks = keys.map(
      (key, i): BatchCheck => ({
        signed: signed[i]!,
        signature: signatures[i]!,
        key,
        root: NO_ROOT,
        events: [],
        signatureOnly: true,
      }),
    );
    if (this.#ready.length === 0) return verifyInThread(checks);
    const per = Math.ceil(checks.length / this.#ready.length);
    const parts: Promise<boolean[]>[] = [];
    for (let from = 0; from < checks.length; from += per) {
      const slice = checks.slice(from, from + per);
      const packed = packChecks(0, slice);
      parts.push(
        new Promise((verdicts, reject) =>
          this.#enqueue({
            packed,
            count: 0,
            resolve: () => {},
            reject,
            run: { checks: slice.length, verdicts },
          }),
        ),
      );
    }
    return (await Promise.all(parts)).flat();
  }

  async #inThread(check: BatchCheck): Promise<CheckedBatch> {
    // Copies, as the workers' answers are: the caller may reuse its buffers.
    const c = { ...check, events: check.events.map((e) => copyBytes(e)) };
    // The signature goes to libuv's pool while this thread decodes and hashes.
    const signed = verifyNodeAsync(c.key, recordSigningMessage(c.signed), c.signature);
    let leaves: Uint8Array;
    try {
      leaves = checkBatch({ ...c, signatureChecked: true });
    } catch (e) {
      signed.catch(() => {});
      throw e;
    }
    if (!(await signed)) throw badSeal();
    return { leaves, events: c.events };
  }

  #failAll(e: unknown): void {
    const error = new DirchainError(ErrorCode.INTERNAL, `an admission worker failed: ${String(e)}`, {
      cause: e,
    });
    for (const jobs of this.#posted.values()) for (const job of jobs) job.reject(error);
    this.#posted.clear();
    for (const x of this.#workers) x.unref();
  }

  /**
   * Stops using the workers. Ready ones with nothing in flight stay warm for
   * the next pool this process opens (see SPARES); the others are terminated.
   */
  async close(): Promise<void> {
    const idle = this.#posted.size === 0 && this.#queued.length === 0;
    const ending: Promise<number>[] = [];
    for (const w of this.#workers) {
      const on = this.#listeners.get(w);
      if (idle && on !== undefined && this.#ready.includes(w)) {
        w.off('message', on.message);
        w.off('error', on.error);
        keepSpare(w);
      } else ending.push(w.terminate()); // its listeners stay: an error while it ends is still handled
    }
    this.#listeners.clear();
    this.#workers.length = 0;
    this.#ready.length = 0;
    await Promise.all(ending);
  }
}

/** Signature checks on libuv's thread pool (no worker to take them). */
function verifyInThread(checks: readonly BatchCheck[]): Promise<boolean[]> {
  return Promise.all(checks.map((c) => verifyNodeAsync(c.key, recordSigningMessage(c.signed), c.signature)));
}

/** The jobs' checks as packed parts in job order: runs of unpacked signature checks packed together. */
function packRuns(jobs: readonly Job[]): PackedChecks[] {
  const parts: PackedChecks[] = [];
  let run: BatchCheck[] = [];
  for (const j of jobs) {
    if ('shape' in j.packed) {
      if (run.length > 0) parts.push(packChecks(0, run));
      run = [];
      parts.push(j.packed);
    } else run.push(j.packed);
  }
  if (run.length > 0) parts.push(packChecks(0, run));
  return parts;
}
