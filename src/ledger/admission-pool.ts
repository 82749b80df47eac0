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
import { verifyNodeAsync } from '../crypto/node-crypto.js';
import { recordSigningMessage } from '../encoding/record.js';
import { DirchainError, ErrorCode, type ErrorCodeValue } from '../errors.js';
import { type BatchCheck, badSeal, checkBatch, type PackedCheck } from './batch-check.js';

const WORKER_URL = new URL('./admission-worker.js', import.meta.url);

interface Job {
  resolve: (leaves: Uint8Array) => void;
  reject: (e: unknown) => void;
}

export class AdmissionPool {
  readonly #workers: Worker[] = [];
  readonly #jobs = new Map<number, Job>();
  #next = 0;
  #turn = 0;

  constructor(size: number) {
    if (size < 1 || !existsSync(fileURLToPath(WORKER_URL))) return;
    for (let i = 0; i < size; i++) {
      const w = new Worker(WORKER_URL);
      w.on(
        'message',
        (m: {
          id: number;
          leaves?: Uint8Array;
          error?: { code: string; message: string; hint?: string };
        }) => {
          const job = this.#jobs.get(m.id);
          if (job === undefined) return;
          this.#jobs.delete(m.id);
          if (m.leaves !== undefined) job.resolve(m.leaves);
          else {
            const e = m.error!;
            job.reject(
              new DirchainError(
                e.code as ErrorCodeValue,
                e.message,
                e.hint === undefined ? {} : { hint: e.hint },
              ),
            );
          }
        },
      );
      w.on('error', (e) => {
        // A dead worker takes its jobs with it; the rest carry on (in-thread if none is left).
        this.#workers.splice(this.#workers.indexOf(w), 1);
        this.#failAll(e);
      });
      // Idle workers must not keep a process alive that is otherwise done (busy ones must).
      w.unref();
      this.#workers.push(w);
    }
  }

  /** True when checks run on worker threads. */
  get threaded(): boolean {
    return this.#workers.length > 0;
  }

  /** Checks a batch; resolves to its leaf hashes (32 bytes each, back to back). */
  check(c: BatchCheck): Promise<Uint8Array> {
    if (this.#workers.length === 0) return this.#inThread(c);
    const id = this.#next++;
    const w = this.#workers[this.#turn++ % this.#workers.length]!;
    // One transferred buffer instead of one cloned array per event: cloning many
    // small arrays cost more than the copy. The caller keeps its own bytes.
    let total = 0;
    for (const e of c.events) total += e.length;
    const packed = new Uint8Array(total);
    const lengths = new Uint32Array(c.events.length);
    let at = 0;
    for (let i = 0; i < c.events.length; i++) {
      packed.set(c.events[i]!, at);
      at += c.events[i]!.length;
      lengths[i] = c.events[i]!.length;
    }
    const message: PackedCheck = {
      id,
      signed: c.signed,
      signature: c.signature,
      key: c.key,
      root: c.root,
      packed,
      lengths,
    };
    return new Promise((resolve, reject) => {
      if (this.#jobs.size === 0) for (const x of this.#workers) x.ref();
      this.#jobs.set(id, { resolve, reject });
      w.postMessage(message, [packed.buffer, lengths.buffer]);
    });
  }

  async #inThread(c: BatchCheck): Promise<Uint8Array> {
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
    return leaves;
  }

  #failAll(e: unknown): void {
    const error = new DirchainError(ErrorCode.INTERNAL, `an admission worker failed: ${String(e)}`, {
      cause: e,
    });
    for (const job of this.#jobs.values()) job.reject(error);
    this.#jobs.clear();
    for (const x of this.#workers) x.unref();
  }

  async close(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
    this.#workers.length = 0;
  }
}
