/** Admission worker thread: checks batches (see batch-check.ts) off the sequencer's main thread. */
import { parentPort } from 'node:worker_threads';
import { isDirchainError } from '../errors.js';
import { checkBatch, type PackedCheck, unpackCheck } from './batch-check.js';

parentPort!.on('message', (m: PackedCheck) => {
  try {
    const leaves = checkBatch(unpackCheck(m));
    parentPort!.postMessage({ id: m.id, leaves }, [leaves.buffer as ArrayBuffer]);
  } catch (e) {
    const error = isDirchainError(e)
      ? { code: e.code, message: e.message, ...(e.hint === undefined ? {} : { hint: e.hint }) }
      : { code: 'E_INTERNAL', message: `batch check failed unexpectedly: ${String(e)}` };
    parentPort!.postMessage({ id: m.id, error });
  }
});
