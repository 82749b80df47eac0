/**
 * `publish` (issue 32, item 5) against s3rver, a real S3-compatible server in a
 * process of its own, and a plain static file server over a folder, all on
 * 127.0.0.1: a node's ledger published from its folder and from its URL,
 * followed from the bucket's HTTP address alone; published again with only
 * the new objects uploaded and the checkpoint last; the headers a GET returns;
 * and each refusal typed: a rollback, another log's checkpoint, a fork, a
 * source that serves a changed tile, an unreachable store, bad credentials,
 * bad input.
 */
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ErrorCode } from '../../src/errors.js';
import { TILE_WIDTH, tileIndexPath, tilePath } from '../../src/merkle/tiles.js';
import { createNodeLog } from '../../src/node/log.js';
import { serveLedger } from '../../src/node/serve.js';
import { type RunningNode, startNode } from '../../src/node/service.js';
import { signBatchAs } from '../../src/sequencer/sign-batch.js';
import { LedgerStore } from '../../src/storage/store.js';
import { follow } from '../../src/sync/follower.js';
import { type PublishOptions, type PublishReport, publish } from '../../src/sync/publish.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, ORIGIN, signedBy } from '../ledger/fixture.js';
import {
  type RunningS3,
  S3RVER_CREDENTIALS,
  startS3,
  startStaticServer,
  staticServerKinds,
} from './s3-server.js';

let tmp: ReturnType<typeof tempDir>;
let s3: RunningS3;
let city: City;
let node: RunningNode;
let originPath: string;
const quiet = createNodeLog({ level: 'error', stream: { write: () => true } });

/** `n` records (one block each: maxRecords 1), and one batch of two events. */
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
  s3 = await startS3(join(tmp.path, 's3'));
  city = makeCity(4);
  originPath = join(tmp.path, 'origin');
  await (await newLedger(originPath, city, { block: { maxRecords: 1 } })).close();
  node = await startNode(originPath, {
    sequencerKey: city.sequencer.signerKey,
    public: true,
    block: { maxRecords: 1 },
    log: quiet,
  });
  // More than 256 entries and 256 blocks: full tiles and bundles of every kind, and partial ones.
  await appendSome(300, 'first');
});

afterAll(async () => {
  await node?.close();
  await s3?.close();
  tmp?.cleanup();
});

const toS3 = (): PublishOptions => ({ endpoint: s3.endpoint, credentials: S3RVER_CREDENTIALS });
const pinned = () => ({ verifierKey: city.sequencer.verifierKey });

/**
 * Every object path a checkpoint of `size` entries and `blocks` blocks needs,
 * enumerated plainly (tlog-tiles "Partial Tiles"): a changed partial has a new path.
 */
function objectsAt(size: number, blocks: number): Set<string> {
  const out = new Set<string>();
  const widths = (count: number, add: (n: number, width: number) => void) => {
    for (let n = 0; n * TILE_WIDTH < count; n++) add(n, Math.min(TILE_WIDTH, count - n * TILE_WIDTH));
  };
  for (let level = 0; Math.floor(size / TILE_WIDTH ** level) > 0; level++)
    widths(Math.floor(size / TILE_WIDTH ** level), (n, width) => out.add(tilePath({ level, n, width })));
  widths(size, (n, width) => out.add(tilePath({ level: -1, n, width })));
  widths(blocks, (n, width) =>
    out.add(`dirchain/blocks/${tileIndexPath(n)}${width === TILE_WIDTH ? '' : `.p/${width}`}`),
  );
  return out;
}

/** The partial tile (level -1: entry bundle) at the right edge of a tree of `size` (not a multiple of 256). */
function rightEdge(level: number, size: number): string {
  const count = level < 0 ? size : Math.floor(size / TILE_WIDTH ** level);
  return tilePath({ level, n: Math.floor(count / TILE_WIDTH), width: count % TILE_WIDTH });
}

/** Every entry and block note of the replica equals the origin's; returns the replica's size. */
async function sameAsOrigin(replica: string): Promise<number> {
  const store = await LedgerStore.open(replica, { create: false });
  try {
    const last = (await store.lastBlock())!;
    const size = Number(last.note.split('\n')[1]);
    for await (const b of store.blocks()) expect(b.note).toBe(node.ledger.block(b.height).note);
    for await (const [i, e] of store.entries(0, size))
      expect(Buffer.from(e).equals(Buffer.from(node.ledger.getEntry(i))), `entry ${i}`).toBe(true);
    return size;
  } finally {
    await store.close();
  }
}

/** The keys s3rver stored while `run` ran, in order. */
async function putsDuring<T>(run: () => Promise<T>): Promise<{ result: T; puts: string[] }> {
  const from = s3.puts.length;
  const result = await run();
  // Each PUT's event is printed before its answer is sent, so all are in by now but for the pipe.
  const deadline = Date.now() + 5000;
  let seen = -1;
  while (Date.now() < deadline && seen !== s3.puts.length) {
    seen = s3.puts.length;
    await new Promise((r) => setTimeout(r, 100));
  }
  return { result, puts: s3.puts.slice(from) };
}

async function rejection(p: Promise<unknown>): Promise<{ code: string; message: string; hint?: string }> {
  try {
    await p;
  } catch (e) {
    return e as { code: string; message: string; hint?: string };
  }
  throw new Error('expected a rejection');
}

describe('publish to an S3-compatible store', () => {
  let first: PublishReport;

  it('uploads every object and the checkpoint last; a follower syncs from the bucket address alone', async () => {
    const head = node.ledger.head();
    const progress: number[] = [];
    const { result, puts } = await putsDuring(() =>
      publish(originPath, `s3://${s3.bucket}/city`, {
        ...toS3(),
        onProgress: (p) => {
          progress.push(p.uploaded);
          expect(p.total).toBe(objectsAt(head.size, head.height + 1).size + 1);
        },
      }),
    );
    first = result;
    const expected = objectsAt(head.size, head.height + 1);
    expect(first).toMatchObject({
      origin: ORIGIN,
      size: head.size,
      height: head.height,
      previousSize: undefined,
      uploaded: expected.size + 1,
      skipped: 0,
      target: `s3://${s3.bucket}/city/`,
      url: s3.url('city'),
    });
    expect(new Set(puts)).toEqual(new Set([...expected, 'checkpoint'].map((p) => `city/${p}`)));
    expect(puts.length).toBe(expected.size + 1);
    expect(puts.at(-1)).toBe('city/checkpoint');
    expect(progress).toEqual(Array.from({ length: expected.size + 1 }, (_, i) => i + 1));
    // Full and partial tiles of every kind were there to publish.
    expect(expected).toContain('tile/0/000');
    expect(expected).toContain('tile/entries/000');
    expect(expected).toContain('dirchain/blocks/000');
    expect(expected).toContain(tilePath({ level: 1, n: 0, width: Math.floor(head.size / TILE_WIDTH) }));
    expect(head.size % TILE_WIDTH).not.toBe(0);

    const replica = join(tmp.path, 'replica-s3');
    const followed = await follow(replica, s3.url('city'), { ...pinned(), once: true });
    expect(followed.size).toBe(head.size);
    expect(await sameAsOrigin(replica)).toBe(head.size);
    const store = await LedgerStore.open(replica, { create: false });
    try {
      expect((await store.lastBlock())!.note).toBe(head.checkpoint);
    } finally {
      await store.close();
    }
  });

  it('publishes again only the objects that are new or wider, then the checkpoint', async () => {
    const was = node.ledger.head();
    await appendSome(40, 'second');
    const now = node.ledger.head();
    const { result, puts } = await putsDuring(() => publish(originPath, `s3://${s3.bucket}/city`, toS3()));
    const before = objectsAt(was.size, was.height + 1);
    const after = objectsAt(now.size, now.height + 1);
    const fresh = [...after].filter((p) => !before.has(p));
    expect(new Set(puts)).toEqual(new Set([...fresh, 'checkpoint'].map((p) => `city/${p}`)));
    expect(puts.length).toBe(fresh.length + 1);
    expect(puts.at(-1)).toBe('city/checkpoint');
    expect(result).toMatchObject({
      size: now.size,
      previousSize: was.size,
      uploaded: fresh.length + 1,
      skipped: after.size - fresh.length,
    });
    // The full tiles of the first publish are not sent again; the partial ones of the new size are.
    expect(puts).not.toContain('city/tile/0/000');
    expect(fresh.some((p) => p.includes('.p/'))).toBe(true);

    // Nothing new: nothing uploaded, not even the checkpoint.
    const again = await putsDuring(() => publish(originPath, `s3://${s3.bucket}/city`, toS3()));
    expect(again.puts).toEqual([]);
    expect(again.result).toMatchObject({ size: now.size, uploaded: 0, bytes: 0, skipped: after.size });

    const replica = join(tmp.path, 'replica-s3');
    const followed = await follow(replica, s3.url('city'), { ...pinned(), once: true });
    expect(followed.size).toBe(now.size);
    expect(followed.blocks).toBeGreaterThan(0);
    expect(await sameAsOrigin(replica)).toBe(now.size);
  });

  it('GET returns the bytes, Content-Type and Cache-Control the node serves', async () => {
    const head = node.ledger.head();
    const paths = [
      'checkpoint',
      'tile/0/000',
      'tile/entries/000',
      'dirchain/blocks/000',
      rightEdge(0, head.size),
      rightEdge(-1, head.size),
      rightEdge(1, head.size),
    ];
    const seen: Record<string, string | null> = {};
    for (const path of paths) {
      const [fromBucket, fromNode] = await Promise.all([
        fetch(s3.url('city') + path),
        fetch(node.url + path),
      ]);
      expect(fromBucket.status, path).toBe(200);
      expect(fromNode.status, path).toBe(200);
      expect(fromBucket.headers.get('content-type'), path).toBe(fromNode.headers.get('content-type'));
      expect(fromBucket.headers.get('cache-control'), path).toBe(fromNode.headers.get('cache-control'));
      expect(
        Buffer.from(await fromBucket.arrayBuffer()).equals(Buffer.from(await fromNode.arrayBuffer())),
        path,
      ).toBe(true);
      seen[path] = fromBucket.headers.get('cache-control');
    }
    expect(seen.checkpoint).toBe('no-cache');
    expect(seen['tile/0/000']).toBe('public, max-age=31536000, immutable');
    expect(seen[rightEdge(0, head.size)]).toBe('no-cache');
    expect(seen[rightEdge(1, head.size)]).toBe('no-cache');
    const checkpoint = await fetch(`${s3.url('city')}checkpoint`);
    expect(checkpoint.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(await checkpoint.text()).toBe(head.checkpoint);
  });

  it('publishes from a node URL pinned to its key: the same objects', async () => {
    const { result, puts } = await putsDuring(() =>
      publish(node.url, `s3://${s3.bucket}/from-url/`, { ...toS3(), ...pinned() }),
    );
    const head = node.ledger.head();
    expect(result).toMatchObject({
      size: head.size,
      uploaded: objectsAt(head.size, head.height + 1).size + 1,
    });
    expect(puts.at(-1)).toBe('from-url/checkpoint');
    for (const path of ['checkpoint', 'tile/0/000', rightEdge(-1, head.size), rightEdge(0, head.size)]) {
      const [a, b] = await Promise.all([fetch(s3.url('from-url') + path), fetch(s3.url('city') + path)]);
      expect(Buffer.from(await a.arrayBuffer()).equals(Buffer.from(await b.arrayBuffer())), path).toBe(true);
    }
    await appendSome(5, 'url');
    const again = await putsDuring(() =>
      publish(node.url, `s3://${s3.bucket}/from-url`, { ...toS3(), ...pinned() }),
    );
    expect(again.result.previousSize).toBe(head.size);
    expect(again.puts).not.toContain('from-url/tile/0/000');
    expect(again.puts.at(-1)).toBe('from-url/checkpoint');
    const replica = join(tmp.path, 'replica-from-url');
    expect((await follow(replica, s3.url('from-url'), { ...pinned(), once: true })).size).toBe(
      node.ledger.head().size,
    );

    // The URL's checkpoint must verify under the key given; no key at all is refused before any fetch.
    const other = makeCity(1);
    const wrong = await rejection(
      publish(node.url, `s3://${s3.bucket}/wrong-key`, {
        ...toS3(),
        verifierKey: other.sequencer.verifierKey,
      }),
    );
    expect(wrong.code).toBe(ErrorCode.CHECKPOINT_INVALID);
    expect((await rejection(publish(node.url, `s3://${s3.bucket}/no-key`, toS3()))).code).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
  });

  it('refuses to publish what the source serves changed: a hash tile that is not its entries', async () => {
    const proxy = await changingProxy(node.url, 'tile/0/000');
    try {
      const { puts } = await putsDuring(async () => {
        const e = await rejection(
          publish(proxy.url, `s3://${s3.bucket}/changed`, { ...toS3(), ...pinned(), concurrency: 1 }),
        );
        expect(e.code).toBe(ErrorCode.LEDGER_CORRUPT);
        expect(e.message).toContain('tile/0/000 does not list the leaf hash of entry 255');
        expect(e).toMatchObject({ index: 255 });
      });
      expect(puts).not.toContain('changed/checkpoint');
      expect((await fetch(`${s3.url('changed')}checkpoint`)).status).toBe(404);
    } finally {
      await proxy.close();
    }
  });
});

describe('publish refuses to replace what is published', () => {
  it('a rollback: the target holds a newer checkpoint than the source', async () => {
    // An older copy of the same ledger: a replica followed now, before more is appended.
    const older = join(tmp.path, 'older');
    await follow(older, node.url, { ...pinned(), once: true });
    const olderSize = node.ledger.head().size;
    await appendSome(3, 'newer');
    const newer = await publish(originPath, `s3://${s3.bucket}/rollback`, toS3());
    expect(newer.size).toBeGreaterThan(olderSize);
    const { puts } = await putsDuring(async () => {
      const e = await rejection(publish(older, `s3://${s3.bucket}/rollback`, toS3()));
      expect(e.code).toBe(ErrorCode.CHECKPOINT_INVALID);
      expect(e.message).toContain(`tree size ${newer.size}`);
      expect(e.message).toContain(`tree size ${olderSize}`);
      expect(e.message).toMatch(/roll it back/);
    });
    expect(puts).toEqual([]);
    expect(await (await fetch(`${s3.url('rollback')}checkpoint`)).text()).toBe(
      node.ledger.checkpoint(newer.size),
    );
    // The older copy publishes to a target of its own.
    expect((await publish(older, `s3://${s3.bucket}/older`, toS3())).size).toBe(olderSize);
  });

  it("another log's checkpoint at the target", async () => {
    const other = makeCity(1);
    const otherPath = join(tmp.path, 'other');
    const ledger = await newLedger(otherPath, other);
    await ledger.append(signedBy(other.departments[0]!, { other: true }));
    const otherSize = ledger.head().size;
    await ledger.close();
    await publish(otherPath, `s3://${s3.bucket}/taken`, toS3());
    const { puts } = await putsDuring(async () => {
      const e = await rejection(publish(originPath, `s3://${s3.bucket}/taken`, toS3()));
      expect(e.code).toBe(ErrorCode.CHECKPOINT_INVALID);
      expect(e.message).toContain(`the checkpoint at s3://${s3.bucket}/taken/ (tree size ${otherSize})`);
    });
    expect(puts).toEqual([]);
  });

  it('a fork: the same key signed another tree, published at the target', async () => {
    // The same sequencer key and members, other records: a second history under one key.
    const forkPath = join(tmp.path, 'fork');
    const ledger = await newLedger(forkPath, city);
    await ledger.append(signedBy(city.departments[0]!, { fork: true }));
    await ledger.close();
    const forked = await publish(forkPath, `s3://${s3.bucket}/forked`, toS3());
    const { puts } = await putsDuring(async () => {
      const e = await rejection(publish(originPath, `s3://${s3.bucket}/forked`, toS3()));
      expect(e.code).toBe(ErrorCode.FORK);
      expect(e.message).toContain(`tree size ${forked.size}`);
      expect(e.message).toContain(`tree size ${node.ledger.head().size}`);
    });
    expect(puts).toEqual([]);
  });
});

describe('publish to a folder', () => {
  it('a plain static file server over the folder (python3 http.server, node:http) is followed to the same replica', async () => {
    const site = join(tmp.path, 'site');
    const first = await publish(originPath, site);
    expect(first).toMatchObject({ size: node.ledger.head().size, target: site, url: undefined, skipped: 0 });
    expect(readFileSync(join(site, 'checkpoint'), 'utf8')).toBe(node.ledger.head().checkpoint);
    expect(existsSync(join(site, 'tile', '0', '000'))).toBe(true);
    await appendSome(4, 'folder');
    const second = await publish(originPath, site);
    expect(second.previousSize).toBe(first.size);
    expect(second.uploaded).toBeLessThan(first.uploaded);
    for (const kind of staticServerKinds()) {
      const server = await startStaticServer(site, kind);
      try {
        const replica = join(tmp.path, `replica-static-${kind}`);
        const followed = await follow(replica, server.url, { ...pinned(), once: true });
        expect(followed.size).toBe(node.ledger.head().size);
        expect(await sameAsOrigin(replica)).toBe(followed.size);
      } finally {
        await server.close();
      }
    }
  });
});

describe('publish errors', () => {
  it('an unreachable store is E_REMOTE naming the endpoint and the error', async () => {
    const closed = await freePort();
    const endpoint = `http://127.0.0.1:${closed}`;
    const e = await rejection(
      publish(originPath, 's3://ledgers/x', { endpoint, credentials: S3RVER_CREDENTIALS, timeoutMs: 5000 }),
    );
    expect(e.code).toBe(ErrorCode.REMOTE);
    expect(e.message).toContain(endpoint);
    expect(e.message).toContain('ECONNREFUSED');
    expect(e.hint).toMatch(/reachable/);
  });

  it('bad credentials are E_REMOTE with the S3 error code and what to check', async () => {
    const e = await rejection(
      publish(originPath, `s3://${s3.bucket}/creds`, {
        endpoint: s3.endpoint,
        credentials: { accessKeyId: 'NOT-S3RVER', secretAccessKey: 'x' },
      }),
    );
    expect(e.code).toBe(ErrorCode.REMOTE);
    expect(e.message).toContain('InvalidAccessKeyId');
    expect(e.message).toContain(s3.endpoint);
    expect(e.hint).toMatch(/AWS_ACCESS_KEY_ID/);
  });

  it('a bucket that does not exist is E_REMOTE NoSuchBucket (publishing makes none)', async () => {
    const e = await rejection(publish(originPath, 's3://no-such-bucket/x', toS3()));
    expect(e.code).toBe(ErrorCode.REMOTE);
    expect(e.message).toContain('NoSuchBucket');
    expect(e.hint).toMatch(/create the bucket/);
  });

  it('bad input is refused with typed errors, and a missing source folder is not created', async () => {
    const refused = async (source: string, target: string, options: PublishOptions = {}) =>
      (await rejection(publish(source, target, options))).code;
    expect(await refused(originPath, 'https://example.invalid/x')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await refused(originPath, 's3://')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await refused(originPath, 's3://Not_A_Bucket/x')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await refused(originPath, 's3://bucket/a/../b')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await refused(originPath, 's3://bucket/a//b')).toBe(ErrorCode.INVALID_ARGUMENT);
    expect(await refused(originPath, 's3://bucket/x', { endpoint: 'ftp://127.0.0.1' })).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(await refused(originPath, join(tmp.path, 'f'), { endpoint: s3.endpoint })).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(await refused(originPath, join(tmp.path, 'f'), { concurrency: 0 })).toBe(
      ErrorCode.INVALID_ARGUMENT,
    );
    expect(await refused('', join(tmp.path, 'f'))).toBe(ErrorCode.INVALID_ARGUMENT);
    // A folder that holds a ledger is not a target.
    expect(await refused(originPath, join(tmp.path, 'other'))).toBe(ErrorCode.INVALID_ARGUMENT);
    // The folder's own key is the one to pin: another is refused.
    expect(
      await refused(originPath, join(tmp.path, 'f'), { verifierKey: makeCity(1).sequencer.verifierKey }),
    ).toBe(ErrorCode.KEY_INVALID);
    const missing = join(tmp.path, 'missing');
    expect(await refused(missing, join(tmp.path, 'f'))).toBe(ErrorCode.LEDGER_NOT_FOUND);
    expect(existsSync(missing)).toBe(false);
    expect(existsSync(join(tmp.path, 'f'))).toBe(false);
  });
});

describe('a larger ledger', () => {
  it('70,000 entries: full tiles at level 1, a partial at level 2; followed from the bucket', async () => {
    const big = makeCity(1);
    const path = join(tmp.path, 'big');
    const ledger = await newLedger(path, big);
    const d = big.departments[0]!;
    for (let b = 0; b < 17; b++) {
      const batch = signBatchAs(
        ORIGIN,
        Date.now(),
        d.signer,
        'x.batch',
        Array.from({ length: 4096 }, (_, i) => ({ b, i })),
      );
      await ledger.appendBatch(batch.seal, batch.events);
    }
    const head = ledger.head();
    await ledger.close();
    expect(head.size).toBeGreaterThan(TILE_WIDTH ** 2);
    const started = Date.now();
    const { result, puts } = await putsDuring(() => publish(path, `s3://${s3.bucket}/big`, toS3()));
    const publishMs = Date.now() - started;
    expect(result.uploaded).toBe(objectsAt(head.size, head.height + 1).size + 1);
    expect(puts).toContain('big/tile/1/000');
    expect(puts).toContain('big/tile/2/000.p/1');
    expect(puts.at(-1)).toBe('big/checkpoint');
    const followStarted = Date.now();
    const replica = join(tmp.path, 'replica-big');
    const followed = await follow(replica, s3.url('big'), {
      verifierKey: big.sequencer.verifierKey,
      once: true,
    });
    console.log(
      `publish: ${head.size} entries, ${result.uploaded} objects, ${result.bytes} bytes in ${publishMs} ms; follow from the bucket ${Date.now() - followStarted} ms`,
    );
    expect(followed.size).toBe(head.size);
    // A full level-1 tile served changed is refused: it does not fold to its hash in the level-2 tile.
    const served = await serveLedger(path);
    const proxy = await changingProxy(served.url, 'tile/1/000');
    try {
      const e = await rejection(
        publish(proxy.url, `s3://${s3.bucket}/big-changed`, {
          ...toS3(),
          verifierKey: big.sequencer.verifierKey,
          concurrency: 1,
        }),
      );
      expect(e.code).toBe(ErrorCode.LEDGER_CORRUPT);
      expect(e.message).toContain('tile/1/000 does not fold to hash 0 of the level-2 tile above it');
      expect((await fetch(`${s3.url('big-changed')}checkpoint`)).status).toBe(404);
    } finally {
      await proxy.close();
      await served.close();
    }
    // The replica's blocks are the source's, byte for byte.
    const [a, b] = await Promise.all([
      LedgerStore.open(path, { create: false }),
      LedgerStore.open(replica, { create: false }),
    ]);
    try {
      for await (const block of b.blocks()) expect(block.note).toBe(a.getBlock(block.height)?.note);
    } finally {
      await Promise.all([a.close(), b.close()]);
    }
  }, 180_000);
});

/** A port nothing listens on (listened on, then closed). */
async function freePort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  await new Promise<void>((r) => server.close(() => r()));
  return port;
}

/** A proxy in front of `target` that flips one bit of the response at `path`. */
async function changingProxy(target: string, path: string): Promise<{ url: string; close(): Promise<void> }> {
  const server: Server = createServer(async (req, res) => {
    const upstream = await fetch(new URL(req.url!.replace(/^\//, ''), target));
    const body = Buffer.from(await upstream.arrayBuffer());
    if (req.url === `/${path}` && body.length > 0) body[body.length - 1]! ^= 1;
    res.writeHead(upstream.status, { 'Content-Type': upstream.headers.get('content-type') ?? 'text/plain' });
    res.end(body);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/`,
    close: () =>
      new Promise<void>((r) => {
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
}
