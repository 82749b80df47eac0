/**
 * Issue 28, item 6: an event entry appended without its seal is refused with
 * E_BATCH_MISMATCH ("a seal or event came alone"), as the README says, not
 * E_DECODE; on every path that takes records signed elsewhere.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { DirchainError } from '../../src/errors.js';
import type { Ledger } from '../../src/ledger/ledger.js';
import { openLedger } from '../../src/ledger/open.js';
import { signBatch } from '../../src/sequencer/sign-batch.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let ledger: Ledger;

beforeEach(async () => {
  dir = tempDir();
  city = makeCity(1);
  ledger = await newLedger(dir.path, city, { workers: 0 });
});
afterEach(async () => {
  await ledger.close();
  dir.cleanup();
});

function batchOf(n: number) {
  const d = city.departments[0]!;
  return signBatch(
    { origin: ORIGIN, kind: 'x.log', author: d.id, keyId: 0, timestamp: Date.now() },
    Array.from({ length: n }, (_, i) => ({ call: i })),
    d.signer.signer,
  );
}

async function codeOf(p: Promise<unknown>): Promise<string> {
  try {
    await p;
    return 'accepted';
  } catch (e) {
    return e instanceof DirchainError ? e.code : `untyped ${String(e)}`;
  }
}

describe('an event appended alone', () => {
  it('append refuses it with E_BATCH_MISMATCH and writes nothing', async () => {
    const b = batchOf(3);
    const size = ledger.head().size;
    for (const event of b.events) expect(await codeOf(ledger.append(event))).toBe('E_BATCH_MISMATCH');
    // Given as a record-shaped object too.
    expect(await codeOf(ledger.append({ ...b.seal, bytes: b.events[1]! }))).toBe('E_BATCH_MISMATCH');
    expect(ledger.head().size).toBe(size);
  });

  it('appendMany refuses each event alone, and the records around it go in', async () => {
    const d = city.departments[0]!;
    const b = batchOf(2);
    const size = ledger.head().size;
    const results = await ledger.appendMany([signedBy(d, { n: 1 }), b.events[0]!, signedBy(d, { n: 2 })]);
    expect(results.map((r) => (r instanceof DirchainError ? r.code : 'receipt'))).toEqual([
      'receipt',
      'E_BATCH_MISMATCH',
      'receipt',
    ]);
    // The two records and the block entry of their block.
    expect(ledger.head().size).toBe(size + 3);
    // All or nothing: the event is the fault, the records are aborted.
    const atomic = await ledger.appendMany([signedBy(d, { n: 3 }), b.events[1]!], { atomic: true });
    expect(atomic.map((r) => (r instanceof DirchainError ? r.code : 'receipt'))).toEqual([
      'E_ATOMIC_ABORTED',
      'E_BATCH_MISMATCH',
    ]);
    expect(ledger.head().size).toBe(size + 3);
  });

  it('with its seal, through appendBatch, the same events go in', async () => {
    const b = batchOf(3);
    const receipt = await ledger.appendBatch(b.seal.bytes, b.events);
    expect(receipt.count).toBe(3);
    // A copy of one of them later is still an event alone.
    expect(await codeOf(ledger.append(b.events[2]!))).toBe('E_BATCH_MISMATCH');
    await ledger.close();
    expect((await verifyLedger(dir.path)).ok).toBe(true);
    ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey, workers: 0 });
  });
});
