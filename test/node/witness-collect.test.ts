/**
 * The node asks its witness (C2SP tlog-witness) to cosign its latest
 * checkpoint on an interval and serves it, cosigned, beside /checkpoint;
 * a witness that holds another size (409) is proven to from there.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { connect } from '../../src/node/client.js';
import { createNodeLog } from '../../src/node/log.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { follow } from '../../src/sync/follower.js';
import { generateWitnessKey } from '../../src/sync/witness.js';
import { type RunningWitness, startWitness } from '../../src/sync/witness-server.js';
import { verifyCheckpoint } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let node: RunningNode;
let witness: RunningWitness;
const w = generateWitnessKey('witness.example.org/court');

beforeAll(async () => {
  dir = tempDir();
  city = makeCity(1);
  await (await newLedger(join(dir.path, 'ledger'), city)).close();
  witness = await startWitness({
    signerKey: w.signerKey,
    logs: [{ origin: ORIGIN, verifierKeys: [city.sequencer.verifierKey] }],
    statePath: join(dir.path, 'witness.json'),
  });
  node = await startNode(join(dir.path, 'ledger'), {
    sequencerKey: city.sequencer.signerKey,
    public: true,
    witnesses: [{ url: witness.url, verifierKey: w.verifierKey }],
    witnessIntervalMs: 30,
    log: createNodeLog({ level: 'error', stream: { write: () => true } }),
  });
});

afterAll(async () => {
  await node?.close();
  await witness?.close();
  dir?.cleanup();
});

async function cosignedAt(size: number): Promise<string> {
  for (let i = 0; i < 300; i++) {
    const res = await fetch(new URL('dirchain/v1/checkpoint/cosigned', node.url));
    const text = await res.text();
    if (res.status === 200 && Number(text.split('\n')[1]) >= size) return text;
    await new Promise((r) => setTimeout(r, 20));
  }
  throw new Error(`no cosigned checkpoint of size ${size}`);
}

describe('the node collects witness cosignatures', () => {
  it('serves its checkpoint cosigned, and keeps up as the log grows (consistency proofs)', async () => {
    const first = await cosignedAt(node.ledger.head().size);
    const verify = (note: string) =>
      verifyCheckpoint(note, [city.sequencer.verifierKey], { witnesses: [w.verifierKey], quorum: 1 });
    expect(verify(first).cosigners.length).toBe(1);
    for (let i = 0; i < 3; i++) await node.ledger.append(signedBy(city.departments[0]!, { i }));
    const later = await cosignedAt(node.ledger.head().size);
    expect(Number(later.split('\n')[1])).toBe(node.ledger.head().size);
    expect(verify(later).cosigners.length).toBe(1);
    // The plain /checkpoint is the same checkpoint, without the witness's line.
    const plain = await (await fetch(new URL('checkpoint', node.url))).text();
    expect(later.startsWith(plain)).toBe(true);
  });

  it('a follower that requires the witness follows cosigned checkpoints only', async () => {
    const replica = join(dir.path, 'replica');
    const size = node.ledger.head().size;
    await cosignedAt(size);
    const report = await follow(replica, node.url, {
      verifierKey: city.sequencer.verifierKey,
      witnesses: [w.verifierKey],
      quorum: 1,
      once: true,
    });
    expect(report.size).toBe(size);
    const stranger = generateWitnessKey('witness.example.org/stranger');
    await expect(
      follow(join(dir.path, 'replica-2'), node.url, {
        verifierKey: city.sequencer.verifierKey,
        witnesses: [stranger.verifierKey],
        quorum: 1,
        once: true,
      }),
    ).rejects.toMatchObject({ code: ErrorCode.QUORUM });
  });

  it('a replica that follows witnessed checkpoints serves them cosigned: followers chained behind it require the witness too', async () => {
    const size = node.ledger.head().size;
    await cosignedAt(size);
    const department = await startNode(join(dir.path, 'department'), {
      replica: {
        from: node.url,
        verifierKey: city.sequencer.verifierKey,
        witnesses: [w.verifierKey],
        quorum: 1,
        pollMs: 20,
      },
      public: true,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      let relayed: Response | undefined;
      for (let i = 0; i < 300; i++) {
        relayed = await fetch(new URL('dirchain/v1/checkpoint/cosigned', department.url));
        if (relayed.status === 200) break;
        await relayed.body?.cancel();
        await new Promise((r) => setTimeout(r, 20));
      }
      const note = await relayed!.text();
      expect(relayed!.status).toBe(200);
      expect(
        verifyCheckpoint(note, [city.sequencer.verifierKey], { witnesses: [w.verifierKey], quorum: 1 }).size,
      ).toBeGreaterThanOrEqual(size);
      const district = await follow(join(dir.path, 'district'), department.url, {
        verifierKey: city.sequencer.verifierKey,
        witnesses: [w.verifierKey],
        quorum: 1,
        once: true,
      });
      expect(district.size).toBeGreaterThanOrEqual(size);
    } finally {
      await department.close();
    }
    // A replica that follows without witnesses has nothing cosigned to serve.
    const plain = await startNode(join(dir.path, 'department-plain'), {
      replica: { from: node.url, verifierKey: city.sequencer.verifierKey, pollMs: 20 },
      public: true,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      const res = await fetch(new URL('dirchain/v1/checkpoint/cosigned', plain.url));
      expect(res.status).toBe(404);
      await res.body?.cancel();
    } finally {
      await plain.close();
    }
  });

  it('a replica given a witness key it cannot read, or a quorum it can never meet, does not start', async () => {
    const cases = [
      {
        witnesses: ['witness.example.org/court+00000000+bm90IGEga2V5'],
        quorum: 1,
        code: ErrorCode.KEY_INVALID,
      },
      { witnesses: [w.verifierKey], quorum: 2, code: ErrorCode.INVALID_ARGUMENT },
      { quorum: 1, code: ErrorCode.INVALID_ARGUMENT },
    ];
    for (const [i, { code, ...policy }] of cases.entries()) {
      const started = await startNode(join(dir.path, `department-bad-${i}`), {
        replica: { from: node.url, verifierKey: city.sequencer.verifierKey, ...policy, pollMs: 20 },
        public: true,
        log: createNodeLog({ level: 'error', stream: { write: () => true } }),
      }).catch((e: unknown) => e);
      // Started anyway: a node that serves while its follower stopped at its first round.
      if (typeof (started as RunningNode).close === 'function') await (started as RunningNode).close();
      expect(started, `case ${i}`).toMatchObject({ code });
    }
  });

  it('a client that requires the witness reads the cosigned head', async () => {
    const size = node.ledger.head().size;
    await cosignedAt(size);
    const client = await connect(node.url, {
      verifierKey: city.sequencer.verifierKey,
      witnesses: [w.verifierKey],
      quorum: 1,
    });
    const head = await client.head();
    expect(head.size).toBe(size);
    expect(
      verifyCheckpoint(head.checkpoint, [city.sequencer.verifierKey], {
        witnesses: [w.verifierKey],
        quorum: 1,
      }).cosigners.length,
    ).toBe(1);
    await expect(
      connect(node.url, {
        verifierKey: city.sequencer.verifierKey,
        witnesses: [generateWitnessKey('witness.example.org/stranger').verifierKey],
      }),
    ).rejects.toMatchObject({ code: ErrorCode.QUORUM });
  });

  it('a restarted node, which knows nothing of the witness, is told its size (409) and proves from there', async () => {
    await node.close();
    node = await startNode(join(dir.path, 'ledger'), {
      sequencerKey: city.sequencer.signerKey,
      public: true,
      witnesses: [{ url: witness.url, verifierKey: w.verifierKey }],
      witnessIntervalMs: 30,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    await node.ledger.append(signedBy(city.departments[0]!, { again: 1 }));
    const note = await cosignedAt(node.ledger.head().size);
    expect(
      verifyCheckpoint(note, [city.sequencer.verifierKey], { witnesses: [w.verifierKey], quorum: 1 })
        .cosigners.length,
    ).toBe(1);
  });
});
