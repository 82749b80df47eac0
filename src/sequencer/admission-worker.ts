/** Admission worker thread: checks batches (see batch-check.ts) off the sequencer's main thread. */
import { parentPort } from 'node:worker_threads';
import { type PackedChecks, runChecks } from './batch-check.js';
import { warmUp } from './worker-warm-up.js';

/**
 * Rounds of the synthetic 64-event batch before taking work (about 0.15 s of
 * this thread's time since the batch's hashes moved to WebAssembly): measured,
 * enough that the first real messages ran at full speed (20 ms of CPU per
 * 2048 events, against 90–110 ms with none).
 */
const WARM_UP_ROUNDS = 48;

parentPort!.on('message', (m: PackedChecks) => {
  const answer = runChecks(m);
  parentPort!.postMessage(answer, [
    answer.leaves.buffer as ArrayBuffer,
    answer.events.buffer as ArrayBuffer,
    answer.lengths.buffer as ArrayBuffer,
  ]);
});

// Loaded and compiled: the pool checks in-thread until it hears this.
warmUp(WARM_UP_ROUNDS);
parentPort!.postMessage({ ready: true });
