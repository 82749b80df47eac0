import { describe, expect, it } from 'vitest';
import { nodeSigner } from '../../src/crypto/node-crypto.js';
import { parseBatchBody } from '../../src/encoding/event.js';
import { recordSigningMessage, signRecord } from '../../src/encoding/record.js';
import {
  type BatchCheck,
  checkBatch,
  packChecks,
  runChecks,
  unpackChecks,
} from '../../src/sequencer/batch-check.js';
import { signBatch } from '../../src/sequencer/sign-batch.js';

const alice = nodeSigner(new Uint8Array(32).fill(1));
const bob = nodeSigner(new Uint8Array(32).fill(2));

function batchCheck(n: number, tag: string): BatchCheck {
  const { seal, events } = signBatch(
    { origin: 'o', kind: 'x.e', author: 'a', keyId: 0, timestamp: 1 },
    Array.from({ length: n }, (_, i) => ({ tag, i })),
    alice,
  );
  return {
    signed: seal.signed,
    signature: seal.signature,
    key: alice.publicKey,
    root: parseBatchBody(seal.body).root,
    events,
  };
}

function recordCheck(tag: string, signer = alice, key = alice.publicKey): BatchCheck {
  const r = signRecord(
    { origin: 'o', kind: 'x.r', author: 'a', keyId: 0, timestamp: 1, body: { tag } },
    signer,
  );
  return {
    signed: r.signed,
    signature: r.signature,
    key,
    root: new Uint8Array(32),
    events: [],
    signatureOnly: true,
  };
}

describe('packed checks (what the admission workers run)', () => {
  it('answers batches and single signatures packed together, each on its own, as a structured clone', () => {
    const checks = [
      batchCheck(3, 'b1'),
      recordCheck('good'),
      recordCheck('forged', bob),
      recordCheck('under bob', bob, bob.publicKey),
      batchCheck(5, 'b2'),
      recordCheck('good 2'),
    ];
    const m = runChecks(structuredClone(packChecks(7, checks)));
    expect(m.id).toBe(7);
    expect(m.errors.map((e) => e?.code)).toEqual([
      undefined,
      undefined,
      'E_BAD_SIGNATURE',
      undefined,
      undefined,
      undefined,
    ]);
    // Leaves only for the batches' events, in order: the same as checking each batch in-thread.
    expect([...m.leaves]).toEqual([...checkBatch(checks[0]!), ...checkBatch(checks[4]!)]);
  });

  it('unpacks what it packed: the signed part without the signing context, signature, key', () => {
    const checks = [recordCheck('x'), batchCheck(2, 'y')];
    const back = unpackChecks(packChecks(0, checks));
    for (const [i, c] of back.entries()) {
      expect([...c.signed]).toEqual([...checks[i]!.signed]);
      expect([...c.signature]).toEqual([...checks[i]!.signature]);
      expect([...c.key]).toEqual([...checks[i]!.key]);
      expect(c.events.length).toBe(checks[i]!.events.length);
    }
    expect(back[0]!.signatureOnly).toBe(true);
    expect(recordSigningMessage(back[0]!.signed).length).toBeGreaterThan(back[0]!.signed.length);
  });

  it('a flipped bit anywhere in a single record signed part or signature is refused', () => {
    const c = recordCheck('flip');
    for (const part of ['signed', 'signature'] as const) {
      for (let bit = 0; bit < c[part].length * 8; bit += 13) {
        const bytes = c[part].slice();
        bytes[bit >> 3]! ^= 1 << (bit & 7);
        const m = runChecks(packChecks(0, [{ ...c, [part]: bytes }]));
        expect(m.errors[0]?.code).toBe('E_BAD_SIGNATURE');
      }
    }
  });
});
