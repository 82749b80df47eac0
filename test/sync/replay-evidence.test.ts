/**
 * Replay evidence (`dirchain-replay/v1`): a block the log's key signed whose
 * entries its own rules refuse, checked against a replica at the block before
 * (`checkReplayEvidence`); offline, `verifyBundle` checks the signature and
 * says a replica is needed.
 */
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { nodeChain } from '../../src/chain/node-chain.js';
import { chainStart } from '../../src/chain/resume.js';
import { loadSigner } from '../../src/crypto/keys.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { signNote } from '../../src/crypto/note.js';
import { encodeBlockEntry } from '../../src/encoding/block-entry.js';
import { formatBlockHeader } from '../../src/encoding/checkpoint.js';
import { replayEvidenceToJSON } from '../../src/encoding/evidence.js';
import { LedgerStore } from '../../src/storage/store.js';
import { checkReplayEvidence } from '../../src/sync/evidence-check.js';
import { verifyBundle } from '../../src/verify.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
let replica: string;

beforeAll(async () => {
  dir = tempDir();
  city = makeCity(2);
  replica = join(dir.path, 'replica');
  const ledger = await newLedger(replica, city);
  await ledger.append(signedBy(city.departments[0]!, { n: 1 }));
  await ledger.close();
});

afterAll(() => dir?.cleanup());

/** What a misbehaving sequencer could sign: the next block with `records`, built and signed outside the rules. */
async function forgedBlock(
  records: Uint8Array[],
): Promise<{ note: string; entries: Uint8Array[]; height: number }> {
  const store = await LedgerStore.openForReading(replica);
  try {
    const start = await chainStart(store, replica);
    const chain = nodeChain(start.params, start.state, start.frontier, {
      height: start.header.height,
      entry: start.tipEntry,
      time: start.header.time,
    });
    const height = start.header.height + 1;
    const time = start.header.time + 1000;
    const blockEntry = encodeBlockEntry({ height, time, prev: start.tipEntry, state: null });
    const entries = [...records, blockEntry];
    const root = chain.rootWith(entries.map((e) => nodeTreeHasher.leaf(e)));
    const header = {
      origin: ORIGIN,
      size: start.header.size + entries.length,
      root,
      height,
      prev: start.tipEntry,
      time,
    };
    return {
      note: signNote(formatBlockHeader(header), [loadSigner(city.sequencer.signerKey)]),
      entries,
      height,
    };
  } finally {
    await store.close();
  }
}

const evidence = (b: { note: string; entries: Uint8Array[]; height: number }) =>
  replayEvidenceToJSON({
    origin: ORIGIN,
    height: b.height,
    note: b.note,
    entries: b.entries,
    index: 4,
    code: 'E_UNKNOWN_MEMBER',
    message: 'm',
  });

describe('replay evidence', () => {
  it('a signed block with a record its rules refuse is shown against the replica', async () => {
    const stranger = signedBy(city.departments[0]!, { n: 'x' }, { author: 'nobody' });
    const e = evidence(await forgedBlock([stranger]));
    const report = await checkReplayEvidence(e, [city.sequencer.verifierKey], replica);
    expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    expect(report.checks.at(-1)!.detail).toMatch(/refused at entry 4 with E_UNKNOWN_MEMBER/);
    // Offline: the signature checks, and the verdict says a replica is needed.
    const offline = verifyBundle(e, [city.sequencer.verifierKey]);
    expect(offline.kind).toBe('replay');
    expect(offline.checks.find((c) => c.name === 'block note signature')!.status).toBe('pass');
    expect(offline.ok).toBe(false);
  });

  it('shows nothing when the block replays, the root does not commit, or another key signed', async () => {
    const fine = evidence(await forgedBlock([signedBy(city.departments[1]!, { n: 'ok' })]));
    const r1 = await checkReplayEvidence(fine, [city.sequencer.verifierKey], replica);
    expect(r1.ok).toBe(false);
    expect(r1.checks.at(-1)!.detail).toMatch(/replays without a refusal/);
    const stranger = signedBy(city.departments[0]!, { n: 'y' }, { author: 'nobody' });
    const b = await forgedBlock([stranger]);
    const swapped = evidence({
      ...b,
      entries: [signedBy(city.departments[0]!, { n: 'z' }, { author: 'nobody' }), b.entries[1]!],
    });
    const r2 = await checkReplayEvidence(swapped, [city.sequencer.verifierKey], replica);
    expect(r2.ok).toBe(false);
    expect(r2.checks.at(-1)!.detail).toMatch(/does not commit/);
    const r3 = await checkReplayEvidence(evidence(b), [makeCity(1).sequencer.verifierKey], replica);
    expect(r3.ok).toBe(false);
    expect(r3.checks.find((c) => c.status === 'fail')!.name).toBe('block note signature');
  });
});
