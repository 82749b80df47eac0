/**
 * Getting a thread's batch-check code compiled before real batches arrive
 * (admission workers, and the pool's side of the transfers).
 */
import { nodeSigner } from '../crypto/node-crypto.js';
import { parseBatchBody } from '../encoding/event.js';
import { recordSigningMessage } from '../encoding/record.js';
import { packChecks, runChecks } from './batch-check.js';
import { signBatch } from './sign-batch.js';

/**
 * Detaches a spare ArrayBuffer. V8 compiles typed-array code assuming no
 * buffer in the thread was ever detached, and the first detach (the first
 * transfer to or from a worker) throws all of the thread's compiled code away.
 * Measured in a worker: its second and third real messages ran 8–10× slower
 * than its first (80–100 ms of CPU each), recompiling. Called before warming
 * up, and by the pool before its first post, so that happens once, early.
 */
export function detachOneBuffer(): void {
  const spare = new ArrayBuffer(8);
  structuredClone(spare, { transfer: [spare] });
}

/**
 * Checks a synthetic batch `rounds` times through the worker's own message
 * path, so V8 has compiled that code before the first real batch arrives. A
 * fresh worker otherwise runs it in the interpreter: measured at half the
 * maximum rate, batches in the first half second of a new ledger waited up to
 * 450 ms (p99 of the whole run: 430 ms).
 */
export function warmUp(rounds: number): void {
  detachOneBuffer();
  // Bodies with every kind of value a canonical body holds (small and large
  // integers, negatives, strings of each length class, bytes, nested arrays
  // and maps), so the compiled code has seen each branch of the check.
  const bodies = Array.from({ length: 64 }, (_, i) => ({
    resource: `res-${String(i).padStart(5, '0')}`,
    level: 1 + (i % 4),
    rows: i * 97,
    bytes: i * 1_000_003,
    big: 2 ** 40 + i,
    delta: -i - 1,
    far: -40_000 - i,
    ok: i % 2 === 0,
    none: null,
    fields: [i, i + 1, 300 + i],
    note: 'x'.repeat(20 + i * 5),
    session: new Uint8Array(16).fill(i),
    nested: { at: i, tags: ['a', 'b'] },
  }));
  const signer = nodeSigner(new Uint8Array(32));
  const { seal, events } = signBatch(
    { origin: 'warm-up', kind: 'x.warm-up', author: 'warm-up', keyId: 0, timestamp: 0 },
    bodies,
    signer,
  );
  const root = parseBatchBody(seal.body).root;
  // The batch, and single records' signatures (appendMany's checks), in one message.
  const singles = bodies.slice(0, 16).map((_, i) => {
    const signed = seal.signed.subarray(0, seal.signed.length - i);
    return {
      signed,
      signature: signer.sign(recordSigningMessage(signed)),
      key: signer.publicKey,
      root,
      events: [],
      signatureOnly: true,
    };
  });
  const packed = packChecks(0, [
    { signed: seal.signed, signature: seal.signature, key: signer.publicKey, root, events },
    ...singles,
  ]);
  for (let r = 0; r < rounds; r++) {
    // A clone has the shape of a received message (the compiled code is specialised to it).
    if (runChecks(structuredClone(packed)).errors.some((e) => e !== undefined))
      throw new Error('admission warm-up: the synthetic checks failed');
  }
}
