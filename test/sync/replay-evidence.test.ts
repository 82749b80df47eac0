/**
 * Replay evidence (`dirchain-replay/v1`): a block the log's key signed whose
 * entries its own rules refuse, checked against a replica at the block before
 * (`checkReplayEvidence`); offline, `verifyBundle` checks the signature and
 * says a replica is needed.
 */
import { readdirSync, readFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
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
import { ErrorCode } from '../../src/errors.js';
import { decodeEntryBundle, encodeEntryBundle } from '../../src/merkle/tiles.js';
import { createNodeLog } from '../../src/node/log.js';
import { startNode } from '../../src/node/service.js';
import { LedgerStore } from '../../src/storage/store.js';
import { checkReplayEvidence } from '../../src/sync/evidence-check.js';
import { follow } from '../../src/sync/follower.js';
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
  return forgedBlockOn(replica, records);
}

async function forgedBlockOn(
  folder: string,
  records: Uint8Array[],
): Promise<{ note: string; entries: Uint8Array[]; height: number }> {
  const store = await LedgerStore.openForReading(folder);
  try {
    const start = await chainStart(store, folder);
    const chain = nodeChain(start.params, start.state, start.frontier, {
      height: start.header.height,
      entry: start.tipEntry,
      time: start.header.time,
    });
    const height = start.header.height + 1;
    const time = start.header.time + 1000;
    // The status map root the records make (a record the rules refuse changes nothing).
    chain.begin(time);
    for (const r of records) chain.apply(r, nodeTreeHasher.leaf(r));
    const state = start.state.map.stage(start.state.staged());
    chain.abandon();
    const blockEntry = encodeBlockEntry({ height, time, prev: start.tipEntry, state });
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

describe('a follower served a block its rules refuse', () => {
  it('stops with E_INVALID_BLOCK and keeps evidence that checks against its replica', async () => {
    const origin = join(dir.path, 'origin');
    await (await newLedger(origin, city)).close();
    const node = await startNode(origin, {
      sequencerKey: city.sequencer.signerKey,
      public: true,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    const follower = join(dir.path, 'follower');
    const evidenceDir = join(dir.path, 'evidence');
    try {
      await node.ledger.append(signedBy(city.departments[0]!, { n: 'real' }));
      const { size, height } = await follow(follower, node.url, {
        verifierKey: city.sequencer.verifierKey,
        once: true,
      });
      // The next block, signed by the sequencer's key but holding a record of no member.
      const forged = await forgedBlockOn(follower, [
        signedBy(city.departments[0]!, { n: 'x' }, { author: 'nobody' }),
      ]);
      const entries = (n: number) => `tile/entries/000.p/${n}`;
      const proxy = createServer(async (req, res) => {
        const path = req.url!.slice(1);
        const get = async (p: string) => Buffer.from(await (await fetch(new URL(p, node.url))).arrayBuffer());
        let body: Buffer;
        if (path === 'checkpoint') body = Buffer.from(forged.note);
        else if (path === `dirchain/blocks/000.p/${height + 2}`)
          body = Buffer.from(
            encodeEntryBundle([
              ...decodeEntryBundle(await get(`dirchain/blocks/000.p/${height + 1}`)),
              Buffer.from(forged.note),
            ]),
          );
        else if (path === entries(size + forged.entries.length))
          body = Buffer.from(
            encodeEntryBundle([...decodeEntryBundle(await get(entries(size))), ...forged.entries]),
          );
        else if (path === `tile/0/000.p/${size + forged.entries.length}`)
          body = Buffer.concat([
            await get(`tile/0/000.p/${size}`),
            ...forged.entries.map((e) => Buffer.from(nodeTreeHasher.leaf(e))),
          ]);
        else body = await get(path);
        res.end(body);
      });
      await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', () => r()));
      const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
      const error = (await follow(follower, url, {
        verifierKey: city.sequencer.verifierKey,
        once: true,
        evidenceDir,
      }).catch((e: unknown) => e)) as { code: string; message: string };
      proxy.close();
      expect(error.code).toBe(ErrorCode.INVALID_BLOCK);
      expect(error.message).toContain(`block ${height + 1}`);
      const [file] = readdirSync(evidenceDir);
      const json = JSON.parse(readFileSync(join(evidenceDir, file!), 'utf8')) as Record<string, unknown>;
      expect(json.type).toBe('dirchain-replay/v1');
      const report = await checkReplayEvidence(json, [city.sequencer.verifierKey], follower);
      expect(report.ok, JSON.stringify(report.checks)).toBe(true);
    } finally {
      await node.close();
    }
  });
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
