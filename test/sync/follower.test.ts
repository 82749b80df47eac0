/**
 * The follower (issue 32, item 1) against a real node over HTTP on
 * 127.0.0.1: a replica made and kept current block by block through the one
 * state machine, resumed, byte-identical in what it replicated, and a server
 * that lies (a changed entry, a changed hash tile, a rolled-back or foreign
 * checkpoint) refused with the index or tile named and the replica unchanged.
 */

import { readdirSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { generateKeyPair } from '../../src/crypto/keys.js';
import { FORK_TYPE } from '../../src/encoding/evidence.js';
import { ErrorCode } from '../../src/errors.js';
import { createLedger, openLedger } from '../../src/ledger/open.js';
import { TILE_WIDTH, tilePath } from '../../src/merkle/tiles.js';
import { createNodeLog } from '../../src/node/log.js';
import { serveLedger } from '../../src/node/serve.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { signBatchAs } from '../../src/sequencer/sign-batch.js';
import { LedgerStore } from '../../src/storage/store.js';
import { follow } from '../../src/sync/follower.js';
import { verifyBundle } from '../../src/verify.js';
import { rewriteStoredEntry, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';

let tmp: ReturnType<typeof tempDir>;
let city: City;
let node: RunningNode;

async function appendSome(n: number, tag: string): Promise<void> {
  const d = city.departments;
  await Promise.all(
    Array.from({ length: n }, (_, i) => node.ledger.append(signedBy(d[i % d.length]!, { tag, i }))),
  );
  const batch = signBatchAs(ORIGIN, Date.now(), d[0]!.signer, 'x.batch', [
    { tag, e: 1 },
    { tag, e: 2 },
  ]);
  await node.ledger.appendBatch(batch.seal, batch.events);
}

beforeAll(async () => {
  tmp = tempDir();
  city = makeCity(4);
  await (await newLedger(join(tmp.path, 'origin'), city, { block: { maxRecords: 40 } })).close();
  node = await startNode(join(tmp.path, 'origin'), {
    sequencerKey: city.sequencer.signerKey,
    public: true,
    block: { maxRecords: 40 },
    log: createNodeLog({ level: 'error', stream: { write: () => true } }),
  });
  await appendSome(300, 'first');
});

afterAll(async () => {
  await node?.close();
  tmp?.cleanup();
});

const pinned = () => ({ verifierKey: city.sequencer.verifierKey });

/** Every entry and block note of the replica equals the origin's, up to the replica's size. */
async function sameAsOrigin(replica: string): Promise<number> {
  const store = await LedgerStore.open(replica, { create: false });
  try {
    const last = (await store.lastBlock())!;
    const size = Number(last.note.split('\n')[1]);
    for await (const b of store.blocks()) expect(b.note).toBe(node.ledger.block(b.height).note);
    for await (const [i, e] of store.entries(0, size)) {
      expect(Buffer.from(e).equals(Buffer.from(node.ledger.getEntry(i))), `entry ${i}`).toBe(true);
    }
    return size;
  } finally {
    await store.close();
  }
}

describe('follow', () => {
  it('makes a replica that is the origin, byte for byte, and verifies', async () => {
    const replica = join(tmp.path, 'replica-a');
    const report = await follow(replica, node.url, { ...pinned(), once: true });
    expect(report.size).toBe(node.ledger.head().size);
    expect(report.origin).toBe(ORIGIN);
    expect(await sameAsOrigin(replica)).toBe(report.size);
    expect((await verifyLedger(replica, { trustedKeys: [city.sequencer.verifierKey] })).ok).toBe(true);
    // The replica is a ledger like any other: opened read-only, it answers queries and proofs.
    const opened = await openLedger(replica);
    try {
      expect(opened.head().checkpoint).toBe(node.ledger.checkpoint(report.size));
      expect(opened.query.get('member', city.departments[1]!.id)).toEqual(
        node.ledger.query.get('member', city.departments[1]!.id),
      );
      expect(await opened.proveInclusion(5)).toEqual(await node.ledger.proveInclusion(5, report.size));
    } finally {
      await opened.close();
    }
  });

  it('resumes where it stopped and follows a growing log until aborted', async () => {
    const replica = join(tmp.path, 'replica-a');
    await appendSome(120, 'second');
    const again = await follow(replica, node.url, { ...pinned(), once: true });
    expect(again.blocks).toBeGreaterThan(0);
    expect(again.size).toBe(node.ledger.head().size);
    const stop = new AbortController();
    const seen: number[] = [];
    const following = follow(replica, node.url, {
      ...pinned(),
      pollMs: 20,
      signal: stop.signal,
      onProgress: (p) => {
        seen.push(p.size);
        if (p.size >= node.ledger.head().size && node.ledger.head().size > again.size) stop.abort();
      },
    });
    await appendSome(90, 'third');
    const done = await following;
    expect(seen.length).toBeGreaterThan(0);
    expect(done.size).toBe(node.ledger.head().size);
    expect(await sameAsOrigin(replica)).toBe(done.size);
  });

  it('a first sync stopped before its genesis block was written starts again', async () => {
    const replica = join(tmp.path, 'replica-empty');
    await (await LedgerStore.open(replica, { create: true })).close();
    const report = await follow(replica, node.url, { ...pinned(), once: true });
    expect(report.size).toBe(node.ledger.head().size);
    expect(await sameAsOrigin(replica)).toBe(report.size);
  });

  it('follows a ledger folder on this machine (a copy) without HTTP, checking it as a server', async () => {
    const copy = join(tmp.path, 'folder-copy');
    const made = await newLedger(copy, city, { block: { maxRecords: 9 } });
    for (let i = 0; i < 40; i++) await made.append(signedBy(city.departments[i % 4]!, { copy: i }));
    const size = made.head().size;
    const note = made.head().checkpoint;
    await made.close();
    const replica = join(tmp.path, 'replica-of-folder');
    const report = await follow(replica, copy, { ...pinned(), once: true });
    expect(report.size).toBe(size);
    const opened = await openLedger(replica);
    expect(opened.head().checkpoint).toBe(note);
    await opened.close();
    // Both folders closed again: the copy opens, unchanged.
    const again = await openLedger(copy);
    expect(again.head().checkpoint).toBe(note);
    await again.close();
    // A changed entry in the folder is refused as from a server, naming its index.
    const { ClassicLevel } = await import('classic-level');
    const db = new ClassicLevel<Uint8Array, Uint8Array>(copy, { keyEncoding: 'view', valueEncoding: 'view' });
    await rewriteStoredEntry(db, 20, (e) => {
      const x = Uint8Array.from(e);
      x[x.length - 1] = x[x.length - 1]! ^ 1;
      return x;
    });
    await db.close();
    const error = await follow(join(tmp.path, 'replica-of-bad-folder'), copy, {
      ...pinned(),
      once: true,
    }).catch((e: unknown) => e);
    expect(error).toMatchObject({ index: 20 });
  });

  it('refuses a quorum without witness keys, and witnesses for a folder (it holds no cosigned checkpoint)', async () => {
    await expect(
      follow(join(tmp.path, 'replica-quorum'), node.url, { ...pinned(), once: true, quorum: 1 }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
    await expect(
      follow(join(tmp.path, 'replica-witness-folder'), join(tmp.path, 'folder-copy'), {
        ...pinned(),
        once: true,
        witnesses: [generateKeyPair('w.example/x').verifierKey],
      }),
    ).rejects.toMatchObject({ code: ErrorCode.INVALID_ARGUMENT });
  });

  it('a fetch that fails midway is retried while following, not the end', async () => {
    const replica = join(tmp.path, 'replica-flaky');
    await follow(replica, node.url, { ...pinned(), once: true });
    await appendSome(40, 'flaky');
    let failed = 0;
    const flaky = await lyingProxy((p) => {
      if (p.startsWith('tile/entries/') && failed < 2) {
        failed++;
        return 'fail';
      }
      return undefined;
    });
    try {
      const stop = new AbortController();
      const want = node.ledger.head().size;
      const report = await follow(replica, flaky.url, {
        ...pinned(),
        pollMs: 10,
        signal: stop.signal,
        onProgress: (p) => {
          if (p.size >= want) stop.abort();
        },
      });
      expect(failed).toBe(2);
      expect(report.size).toBe(want);
      expect(await sameAsOrigin(replica)).toBe(want);
    } finally {
      flaky.server.close();
    }
  });

  it('refuses a key other than the pinned one, and a signer key', async () => {
    const replica = join(tmp.path, 'replica-b');
    const other = generateKeyPair(ORIGIN);
    await expect(
      follow(replica, node.url, { verifierKey: other.verifierKey, once: true }),
    ).rejects.toMatchObject({
      code: ErrorCode.BAD_SIGNATURE,
    });
    await expect(
      follow(replica, node.url, { verifierKey: other.signerKey, once: true }),
    ).rejects.toMatchObject({
      code: ErrorCode.KEY_INVALID,
    });
  });
});

describe('a replica node: follows and serves, and followers chain', () => {
  it('sequencer → department replica node → district follower, tiles byte-identical', async () => {
    const department = await startNode(join(tmp.path, 'department'), {
      replica: { from: node.url, verifierKey: city.sequencer.verifierKey, pollMs: 20 },
      public: true,
      log: createNodeLog({ level: 'error', stream: { write: () => true } }),
    });
    try {
      await appendSome(50, 'chain');
      const want = node.ledger.head().size;
      for (const until = Date.now() + 20_000; department.ledger.head().size < want && Date.now() < until; )
        await new Promise((r) => setTimeout(r, 20));
      expect(department.ledger.head().checkpoint).toBe(node.ledger.head().checkpoint);
      // Its queries answer from the replicated state; writes are refused with where to send them.
      expect(department.ledger.query.get('member', city.departments[0]!.id)).toEqual(
        node.ledger.query.get('member', city.departments[0]!.id),
      );
      const write = await fetch(new URL('dirchain/v1/records', department.url), {
        method: 'POST',
        body: Buffer.from(signedBy(city.departments[0]!, { n: 'to-replica' })),
        headers: { 'content-type': 'application/octet-stream' },
      });
      expect(write.status).toBe(403);
      expect(((await write.json()) as { code: string; hint: string }).hint).toContain(node.url);
      // Served tiles are the sequencer's, byte for byte.
      for (const path of [
        'checkpoint',
        tilePath({ level: 0, n: 0, width: TILE_WIDTH }),
        tilePath({ level: -1, n: 1, width: TILE_WIDTH }),
      ]) {
        const [a, b] = await Promise.all(
          [node.url, department.url].map(async (u) =>
            Buffer.from(await (await fetch(new URL(path, u))).arrayBuffer()),
          ),
        );
        expect(a!.equals(b!), path).toBe(true);
      }
      const district = join(tmp.path, 'district');
      const report = await follow(district, department.url, { ...pinned(), once: true });
      expect(report.size).toBe(want);
      expect(await sameAsOrigin(district)).toBe(want);
    } finally {
      await department.close();
    }
  });
});

/** A proxy in front of the node that may change one answer. */
/** What the proxy answers instead: other bytes, a failure, a status, a stall, a redirect. */
type Lie = Buffer | 'fail' | 'stall' | { status: number; location?: string };

async function lyingProxy(
  change: (path: string, body: Buffer) => Lie | undefined,
): Promise<{ url: string; server: Server }> {
  const server = createServer(async (req, res) => {
    const upstream = await fetch(new URL(req.url!.slice(1), node.url));
    const body = Buffer.from(await upstream.arrayBuffer());
    const path = req.url!.slice(1);
    const changed = change(path, body) ?? body;
    if (changed === 'fail') {
      res.statusCode = 503;
      res.end();
      return;
    }
    if (changed === 'stall') {
      // Headers, then nothing: the follower's request timeout must end it.
      res.writeHead(200, { 'content-length': String(body.length) });
      res.write(body.subarray(0, 1));
      return;
    }
    if (!Buffer.isBuffer(changed)) {
      res.writeHead(changed.status, changed.location ? { location: changed.location } : {});
      res.end();
      return;
    }
    res.statusCode = upstream.status;
    res.end(changed);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, server };
}

describe('a server that lies is refused, the replica unchanged', () => {
  async function caughtUpReplica(name: string): Promise<{ path: string; size: number }> {
    const path = join(tmp.path, name);
    const r = await follow(path, node.url, { ...pinned(), once: true });
    await appendSome(60, name);
    return { path, size: r.size };
  }

  async function expectRefused(
    name: string,
    change: (path: string, body: Buffer, from: number) => Lie | undefined,
    codes: string[],
    message: RegExp,
  ) {
    const { path, size } = await caughtUpReplica(name);
    const proxy = await lyingProxy((p, b) => change(p, b, size));
    try {
      const options = { ...pinned(), once: true, timeoutMs: 1500 };
      const error = (await follow(path, proxy.url, options).catch((e: unknown) => e)) as {
        code: string;
        message: string;
      };
      expect(codes).toContain(error.code);
      expect(error.message).toMatch(message);
      // What was kept is the origin's, and verifies.
      expect(await sameAsOrigin(path)).toBeGreaterThanOrEqual(size);
      expect((await verifyLedger(path)).ok).toBe(true);
    } finally {
      proxy.server.close();
    }
  }

  it('a changed entry', async () => {
    await expectRefused(
      'lie-entry',
      (p, b, from) => {
        const bundle = tilePath({ level: -1, n: Math.floor((from + 3) / TILE_WIDTH), width: 1 }).split(
          '.',
        )[0]!;
        if (!p.startsWith(bundle)) return undefined;
        const copy = Buffer.from(b);
        // A byte of entry from+3's body: bundles are uint16 length + bytes, entry by entry.
        let at = 0;
        for (let k = Math.floor((from + 3) / TILE_WIDTH) * TILE_WIDTH; k < from + 3; k++)
          at += 2 + copy.readUInt16BE(at);
        const flip = at + 2 + copy.readUInt16BE(at) - 70;
        copy[flip] = copy[flip]! ^ 1;
        return copy;
      },
      [ErrorCode.BAD_SIGNATURE, ErrorCode.LEDGER_CORRUPT, ErrorCode.DECODE, ErrorCode.SCHEMA],
      /record \d+|block \d+/,
    );
  });

  it('a changed hash tile with intact entries names the tile', async () => {
    await expectRefused(
      'lie-tile',
      (p, b) => {
        if (!/^tile\/0\/\d{3}(\.p\/\d+)?$/.test(p)) return undefined;
        const copy = Buffer.from(b);
        copy[copy.length - 1] = copy[copy.length - 1]! ^ 1;
        return copy;
      },
      [ErrorCode.LEDGER_CORRUPT],
      /tile/,
    );
  });

  it('a changed upper hash tile names the tile and the first record under it', async () => {
    await expectRefused(
      'lie-upper',
      (p, b) => {
        if (!/^tile\/1\//.test(p)) return undefined;
        const copy = Buffer.from(b);
        copy[40] = copy[40]! ^ 1;
        return copy;
      },
      [ErrorCode.LEDGER_CORRUPT],
      // Caught by the consistency check from the replica's checkpoint, or by the comparison after the replay.
      /served hash tile tile\/1\/000\S* (differs from the replica's at hash 1|is not the signed tree's: its hash of leaves 256\.\. )/,
    );
  });

  const entryBundle = (p: string) => /^tile\/entries\/\d{3}\.p\/\d+$/.test(p);

  it('a truncated entry bundle', async () => {
    await expectRefused(
      'lie-truncated',
      (p, b) => (entryBundle(p) ? b.subarray(0, Math.floor(b.length / 2)) : undefined),
      [ErrorCode.DECODE, ErrorCode.LEDGER_CORRUPT],
      /bundle|entries|truncated|length/i,
    );
  });

  it('an entry bundle with more entries than its width', async () => {
    await expectRefused(
      'lie-oversized',
      (p, b) => {
        if (!entryBundle(p)) return undefined;
        const extra = Buffer.alloc(2 + 3);
        extra.writeUInt16BE(3, 0);
        return Buffer.concat([b, extra]);
      },
      [ErrorCode.LEDGER_CORRUPT],
      /entry bundle \d+ has \d+ entries, expected \d+/,
    );
  });

  it('a hash tile wider than the checkpoint implies', async () => {
    await expectRefused(
      'lie-wide-tile',
      (p, b) => (/^tile\/0\/\d{3}\.p\/\d+$/.test(p) ? Buffer.concat([b, b.subarray(0, 32)]) : undefined),
      [ErrorCode.LEDGER_CORRUPT],
      /hash tile 0\/\d+(\.p\/\d+)? has \d+ bytes, expected \d+/,
    );
  });

  it('a 404 for a tile the checkpoint implies names its path', async () => {
    await expectRefused(
      'lie-404',
      (p) => (/^tile\/0\//.test(p) ? { status: 404 } : undefined),
      [ErrorCode.REMOTE],
      /tile\/0\/\S+ answered HTTP 404/,
    );
  });

  it('a stalled answer times out', async () => {
    await expectRefused(
      'lie-stall',
      (p) => (entryBundle(p) ? 'stall' : undefined),
      [ErrorCode.REMOTE],
      /tile\/entries\/\S+/,
    );
  });

  it('a redirect to another host is not followed', async () => {
    await expectRefused(
      'lie-redirect',
      (p) => (entryBundle(p) ? { status: 302, location: `http://127.0.0.2:9/${p}` } : undefined),
      [ErrorCode.REMOTE],
      /tile\/entries\/\S+/,
    );
  });

  it('a checkpoint of the same size with another root is a fork: kept as evidence anyone verifies', async () => {
    const { path } = await caughtUpReplica('lie-fork');
    // The same log, started again with the same genesis record and key: a second history.
    const forked = await createLedger(join(tmp.path, 'forked-origin'), {
      origin: ORIGIN,
      sequencerKey: city.sequencer.signerKey,
      genesisRecord: node.ledger.getEntry(0),
      clock: () => Date.now() + 5000,
    });
    const other = forked.checkpoint(2);
    await forked.close();
    const proxy = await lyingProxy((p) => (p === 'checkpoint' ? Buffer.from(other) : undefined));
    const evidenceDir = join(tmp.path, 'evidence');
    try {
      const error = (await follow(path, proxy.url, { ...pinned(), once: true, evidenceDir }).catch(
        (e: unknown) => e,
      )) as {
        code: string;
        message: string;
        hint: string;
      };
      expect(error.code).toBe(ErrorCode.FORK);
      expect(error.message).toContain('size 2');
      const file = readdirSync(evidenceDir).map((f) => join(evidenceDir, f));
      expect(file.length).toBe(1);
      expect(error.hint).toContain(file[0]!);
      const evidence = JSON.parse(readFileSync(file[0]!, 'utf8')) as Record<string, unknown>;
      expect(evidence.type).toBe(FORK_TYPE);
      expect(evidence.checkpoint2).toBe(other);
      const report = verifyBundle(evidence, [city.sequencer.verifierKey]);
      expect(report.kind).toBe('fork');
      expect(report.ok, JSON.stringify(report.checks)).toBe(true);
      // Under another key it proves nothing.
      expect(verifyBundle(evidence, [generateKeyPair(ORIGIN).verifierKey]).ok).toBe(false);
      expect((await verifyLedger(path)).ok).toBe(true);
    } finally {
      proxy.server.close();
    }
  });

  it('a larger checkpoint of another history is a fork: the leaf where they part is kept, proven in both trees', async () => {
    // History A: the replica follows it to size m. History B: the same genesis and key, other records, more of them.
    const base = join(tmp.path, 'fork-sizes');
    const a = await newLedger(join(base, 'a'), city, { block: { maxRecords: 7 } });
    const b = await createLedger(join(base, 'b'), {
      origin: ORIGIN,
      sequencerKey: city.sequencer.signerKey,
      genesisRecord: a.getEntry(0),
      block: { maxRecords: 7 },
    });
    const d = city.departments;
    const shared = Array.from({ length: 30 }, (_, i) => signedBy(d[i % d.length]!, { shared: i }));
    for (const r of shared) await a.append(r);
    for (const r of shared) await b.append(r);
    for (let i = 0; i < 12; i++) await a.append(signedBy(d[i % d.length]!, { history: 'a', i }));
    for (let i = 0; i < 300; i++) await b.append(signedBy(d[i % d.length]!, { history: 'b', i }));
    const sizeA = a.head().size;
    await Promise.all([a.close(), b.close()]);
    // They part where the entries first differ: a block entry records its block's time, so before the 30 shared records end.
    const [sa, sb] = await Promise.all([
      LedgerStore.open(join(base, 'a'), { create: false }),
      LedgerStore.open(join(base, 'b'), { create: false }),
    ]);
    let parted = -1;
    try {
      const ea: Uint8Array[] = [];
      for await (const [, e] of sa.entries(0, sizeA)) ea.push(e);
      let i = 0;
      for await (const [, e] of sb.entries(0, sizeA)) {
        if (parted < 0 && !Buffer.from(e).equals(Buffer.from(ea[i]!))) parted = i;
        i++;
      }
    } finally {
      await Promise.all([sa.close(), sb.close()]);
    }
    const aServed = await serveLedger(join(base, 'a'));
    const bServed = await serveLedger(join(base, 'b'));
    const evidenceDir = join(base, 'evidence');
    const replica = join(base, 'replica');
    try {
      const first = await follow(replica, aServed.url, { ...pinned(), once: true });
      expect(parted).toBeGreaterThan(0);
      const error = (await follow(replica, bServed.url, { ...pinned(), once: true, evidenceDir }).catch(
        (e: unknown) => e,
      )) as { code: string; message: string; hint: string; index: number };
      expect(error.code).toBe(ErrorCode.FORK);
      const later = bServed.size;
      expect(error.message).toContain(`sizes ${first.size} and ${later}`);
      expect(error.index).toBe(parted);
      const [file] = readdirSync(evidenceDir).map((f) => join(evidenceDir, f));
      expect(error.hint).toContain(file!);
      const evidence = JSON.parse(readFileSync(file!, 'utf8')) as Record<string, unknown>;
      const report = verifyBundle(evidence, [city.sequencer.verifierKey]);
      expect(report.kind).toBe('fork');
      expect(report.ok, JSON.stringify(report.checks)).toBe(true);
      expect(report.checks.at(-1)!.detail).toContain(`different entries at index ${parted}`);
      // Any change to the divergence is caught; so is another key.
      const div = evidence.divergence as { leaf2: string; proof2: string[]; index: number };
      const flip = (b64: string) => {
        const x = Buffer.from(b64, 'base64');
        x[0] = x[0]! ^ 1;
        return x.toString('base64');
      };
      for (const changed of [
        { ...div, leaf2: flip(div.leaf2) },
        { ...div, proof2: [flip(div.proof2[0]!), ...div.proof2.slice(1)] },
        { ...div, index: div.index + 1 },
      ]) {
        expect(verifyBundle({ ...evidence, divergence: changed }, [city.sequencer.verifierKey]).ok).toBe(
          false,
        );
      }
      expect(verifyBundle(evidence, [generateKeyPair(ORIGIN).verifierKey]).ok).toBe(false);
      // The replica is untouched: still history A at its size.
      expect((await verifyLedger(replica)).ok).toBe(true);
      const reopened = await openLedger(replica);
      expect(reopened.head().size).toBe(first.size);
      await reopened.close();
    } finally {
      await Promise.all([aServed.close(), bServed.close()]);
    }
  });

  it('a rolled-back checkpoint', async () => {
    const { path, size } = await caughtUpReplica('lie-rollback');
    const old = node.ledger.checkpoint(node.ledger.block(1).header.size);
    const proxy = await lyingProxy((p) => (p === 'checkpoint' ? Buffer.from(old) : undefined));
    try {
      const error = await follow(path, proxy.url, { ...pinned(), once: true }).catch((e: unknown) => e);
      expect(error).toMatchObject({ code: ErrorCode.CHECKPOINT_INVALID });
      expect((error as Error).message).toContain(`size ${size}`);
    } finally {
      proxy.server.close();
    }
  });
});
