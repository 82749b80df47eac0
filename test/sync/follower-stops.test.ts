/**
 * When a follower must stop rather than go on (real node, HTTP on 127.0.0.1,
 * LevelDB on disk):
 *
 * - a block write that fails is the error, even while a failed fetch is what
 *   stopped the catch-up: a fetch failure is retried by a continuous follow,
 *   and a retry would go on from a chain that holds blocks the disk does not.
 *   The disk error is injected (a full or failing disk cannot be made here);
 * - a served checkpoint, signed by the log, that is larger than the replica's
 *   tree but names a block the replica already holds: the log signed two notes
 *   for one block, and "caught up" is not the answer.
 */

import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { loadSigner } from '../../src/crypto/keys.js';
import { signNote } from '../../src/crypto/note.js';
import { blockHeaderOfNote, formatBlockHeader } from '../../src/encoding/checkpoint.js';
import { DirchainError, ErrorCode } from '../../src/errors.js';
import { createNodeLog } from '../../src/node/log.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { LedgerStore } from '../../src/storage/store.js';
import { Follower, follow } from '../../src/sync/follower.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, signedBy } from '../ledger/fixture.js';

let tmp: ReturnType<typeof tempDir>;
let city: City;
let node: RunningNode;

beforeAll(async () => {
  tmp = tempDir();
  city = makeCity(4);
  await (await newLedger(join(tmp.path, 'origin'), city, { block: { maxRecords: 1 } })).close();
  node = await startNode(join(tmp.path, 'origin'), {
    sequencerKey: city.sequencer.signerKey,
    public: true,
    block: { maxRecords: 1 },
    log: createNodeLog({ level: 'error', stream: { write: () => true } }),
  });
});

afterAll(async () => {
  await node?.close();
  tmp?.cleanup();
});

async function appendSome(n: number, tag: string): Promise<void> {
  const d = city.departments;
  await Promise.all(
    Array.from({ length: n }, (_, i) => node.ledger.append(signedBy(d[i % d.length]!, { tag, i }))),
  );
}

/** A proxy in front of the node that answers 503 to the requests `fails` picks, and may serve another checkpoint. */
async function flakyProxy(
  fails: (path: string) => boolean,
  checkpoint?: string,
): Promise<{ url: string; server: Server; failed: () => boolean }> {
  let failed = false;
  const server = createServer(async (req, res) => {
    const path = req.url!.slice(1);
    if (fails(path)) {
      failed = true;
      res.statusCode = 503;
      res.end();
      return;
    }
    if (path === 'checkpoint' && checkpoint !== undefined) {
      res.end(checkpoint);
      return;
    }
    const upstream = await fetch(new URL(path, node.url));
    res.statusCode = upstream.status;
    res.end(Buffer.from(await upstream.arrayBuffer()));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server, failed: () => failed };
}

describe('a block write that fails', () => {
  it('while a failed fetch stops a catch-up is the error: the follower stops, the replica is what was written', async () => {
    const replica = join(tmp.path, 'replica');
    await appendSome(10, 'first');
    const first = await follow(replica, node.url, { verifierKey: city.sequencer.verifierKey, once: true });
    // One record a block: the catch-up runs past block 255, into the second bundle of block notes, whose
    // fetch fails while the blocks verified since the last group write wait to be written.
    expect(first.height).toBeLessThan(200);
    await appendSome(300, 'second');
    let writeFailed = false;
    const proxy = await flakyProxy((p) => p.startsWith('dirchain/blocks/001') && !writeFailed);
    const follower = await Follower.open(replica, proxy.url, { verifierKey: city.sequencer.verifierKey });
    const write = follower.store.writeBlocks.bind(follower.store);
    // The disk fails once, when the blocks verified before the failed fetch are written.
    follower.store.writeBlocks = async (blocks, durability) => {
      if (proxy.failed() && !writeFailed) {
        writeFailed = true;
        throw new DirchainError(ErrorCode.STORAGE, 'the disk is full (injected)');
      }
      return write(blocks, durability);
    };
    const stop = new AbortController();
    const want = node.ledger.head().size;
    let error: unknown;
    try {
      await follower.run({
        pollMs: 10,
        signal: stop.signal,
        onProgress: (p) => {
          if (p.size >= want) stop.abort();
        },
      });
    } catch (e) {
      error = e;
    } finally {
      stop.abort();
      await follower.close();
      proxy.server.close();
    }
    expect(proxy.failed()).toBe(true);
    expect(writeFailed).toBe(true);
    // The write failure is what stops it, not a retried fetch from blocks the disk does not hold.
    expect(error).toMatchObject({ code: ErrorCode.STORAGE });
    // On disk: the blocks written before, a ledger that verifies.
    const store = await LedgerStore.open(replica, { create: false });
    try {
      const last = (await store.lastBlock())!;
      expect(last.height).toBeGreaterThanOrEqual(first.height);
      expect(last.height).toBeLessThan(255);
    } finally {
      await store.close();
    }
    expect((await verifyLedger(replica, { trustedKeys: [city.sequencer.verifierKey] })).ok).toBe(true);
  });
});

describe('a checkpoint the log signed for a block the replica holds', () => {
  it('with a larger tree than that block ends at is refused, not taken for caught up', async () => {
    const replica = join(tmp.path, 'replica-two-notes');
    await appendSome(3, 'two-notes');
    const first = await follow(replica, node.url, { verifierKey: city.sequencer.verifierKey, once: true });
    await appendSome(3, 'two-notes-later');
    // Block `first.height` again, as the log signs it a second time: same height, link and time, but
    // ending where the next block ends (a tree that extends the replica's, so no proof fails).
    const held = blockHeaderOfNote(node.ledger.block(first.height).note).header;
    const next = blockHeaderOfNote(node.ledger.block(first.height + 1).note).header;
    const second = signNote(formatBlockHeader({ ...held, size: next.size, root: next.root }), [
      loadSigner(city.sequencer.signerKey),
    ]);
    const proxy = await flakyProxy(() => false, second);
    try {
      const outcome = await follow(replica, proxy.url, {
        verifierKey: city.sequencer.verifierKey,
        once: true,
      }).catch((e: unknown) => e);
      expect(outcome).toMatchObject({
        code: expect.stringMatching(/^E_(FORK|CHECKPOINT_INVALID|LEDGER_CORRUPT)$/),
      });
    } finally {
      proxy.server.close();
    }
  });
});
