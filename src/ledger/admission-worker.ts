/** Admission worker thread: checks batches (see batch-check.ts) off the sequencer's main thread. */
import { parentPort } from 'node:worker_threads';
import { type PackedChecks, runChecks } from './batch-check.js';

parentPort!.on('message', (m: PackedChecks) => {
  const answer = runChecks(m);
  parentPort!.postMessage(answer, [
    answer.leaves.buffer as ArrayBuffer,
    answer.events.buffer as ArrayBuffer,
    answer.lengths.buffer as ArrayBuffer,
  ]);
});

// Loaded: the pool checks in-thread until it hears this.
parentPort!.postMessage({ ready: true });
