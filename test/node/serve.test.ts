import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { auditLedger } from '../../src/audit/audit.js';
import { toBase64 } from '../../src/crypto/bytes.js';
import { openLedger } from '../../src/ledger/open.js';
import type { InclusionBundle } from '../../src/ledger/types.js';
import type { HashReader } from '../../src/merkle/prove.js';
import { proveInclusion, treeHash } from '../../src/merkle/prove.js';
import {
  decodeEntryBundle,
  hashFromTile,
  TILE_WIDTH,
  tileForIndex,
  tilePath,
  tileWidthAt,
} from '../../src/merkle/tiles.js';
import { type RunningServer, serveLedger } from '../../src/node/serve.js';
import { LedgerStore } from '../../src/storage/store.js';
import { nodeHasher, tempDir } from '../helpers.js';
import { makeCity, newLedger, signedBy } from '../ledger/fixture.js';

const N = 700; // + genesis and the block entries (one per block): two full entry bundles and a partial one
let dir: ReturnType<typeof tempDir>;
let server: RunningServer;
let checkpoint: string;
let size: number;
const proofs: InclusionBundle[] = [];
const blockSizes: number[] = [];
const entries: Uint8Array[] = [];
const notes: string[] = [];

beforeAll(async () => {
  dir = tempDir();
  const city = makeCity();
  const ledger = await newLedger(dir.path, city, { block: { maxRecords: 64 } });
  await Promise.all(
    Array.from({ length: N }, (_, i) => ledger.append(signedBy(city.departments[i % 5]!, { i }))),
  );
  checkpoint = ledger.head().checkpoint;
  size = ledger.head().size;
  // Proofs from the ledger itself, at every block size, for indexes across the tree.
  await ledger.close();
  const s = await LedgerStore.open(dir.path, { create: false });
  for await (const b of s.blocks()) {
    notes.push(b.note);
    blockSizes.push(Number(b.note.split('\n')[1]));
  }
  for await (const [, e] of s.entries(0, size)) entries.push(e.slice());
  await s.close();
  const again = await openLedger(dir.path);
  for (const sz of blockSizes) {
    for (const i of [0, 1, 255, 256, 300, 511, 512, 699, 700]) {
      if (i < sz) proofs.push(await again.proveInclusion(i, sz));
    }
  }
  await again.close();
  server = await serveLedger(dir.path, { port: 0 });
});

afterAll(async () => {
  await server?.close();
  dir.cleanup();
});

async function get(path: string, init?: RequestInit) {
  const res = await fetch(new URL(path, server.url), init);
  return { res, body: new Uint8Array(await res.arrayBuffer()) };
}

const tileCache = new Map<string, Uint8Array>();

/** Go's TileHashReader: hashes from the tiles a tree of `treeSize` serves. */
function tileReader(treeSize: number): HashReader & { fetched: Set<string> } {
  const fetched = new Set<string>();
  return {
    fetched,
    async readHashes(indexes) {
      return Promise.all(
        indexes.map(async (index) => {
          const { tile } = tileForIndex(index);
          const served = { ...tile, width: tileWidthAt(tile.level, tile.n, treeSize) };
          const path = tilePath(served);
          fetched.add(path);
          // A tile path names fixed bytes (tiles only grow by getting new paths), so one fetch each.
          let body = tileCache.get(path);
          if (body === undefined) {
            const r = await get(path);
            expect(r.res.status, path).toBe(200);
            body = r.body;
            tileCache.set(path, body);
          }
          return hashFromTile(nodeHasher, served, body, index);
        }),
      );
    },
  };
}

describe('dirchain serve (tlog-tiles over loopback HTTP)', () => {
  it('serves the newest block note as the checkpoint, not cached', async () => {
    const { res, body } = await get('checkpoint');
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/plain; charset=utf-8');
    expect(res.headers.get('cache-control')).toBe('no-cache');
    expect(new TextDecoder().decode(body)).toBe(checkpoint);
    expect(server.size).toBe(size);
    // N records, genesis, and the block entry of every block.
    expect(size).toBe(N + 1 + notes.length);
    expect(size).toBeLessThan(3 * TILE_WIDTH);
  });

  it('tile hashes give the same inclusion proofs and roots as proveInclusion, at every block size', async () => {
    expect(proofs.length).toBeGreaterThan(40);
    for (const p of proofs) {
      const reader = tileReader(p.size);
      const proof = await proveInclusion(nodeHasher, reader, p.index, p.size);
      expect(proof.map(toBase64), `index ${p.index} size ${p.size}`).toEqual(p.inclusion.map(toBase64));
      expect(toBase64(await treeHash(nodeHasher, reader, p.size))).toBe(toBase64(p.root));
    }
  });

  it('full tiles are immutable, partial tiles are not cached, wider than the tree is 404', async () => {
    const full = await get('tile/0/000');
    expect(full.res.status).toBe(200);
    expect(full.body.length).toBe(TILE_WIDTH * 32);
    expect(full.res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const width = size - 2 * TILE_WIDTH;
    const partial = await get(`tile/0/002.p/${width}`);
    expect(partial.res.status).toBe(200);
    expect(partial.body.length).toBe(width * 32);
    expect(partial.res.headers.get('cache-control')).toBe('no-cache');
    // A narrower partial is the prefix of the wider one.
    const narrow = await get('tile/0/002.p/3');
    expect(Buffer.from(narrow.body).equals(Buffer.from(partial.body.subarray(0, 96)))).toBe(true);
    expect((await get(`tile/0/002.p/${width + 1}`)).res.status).toBe(404);
    expect((await get('tile/0/003.p/1')).res.status).toBe(404);
    expect((await get('tile/1/000.p/2')).res.status).toBe(200); // two full level-0 tiles: two level-8 hashes
    expect((await get('tile/1/000.p/3')).res.status).toBe(404);
    expect((await get('tile/0/2')).res.status).toBe(404);
  });

  it('entry bundles hold the stored entries behind uint16 lengths', async () => {
    const full = await get('tile/entries/001');
    expect(full.res.headers.get('cache-control')).toBe('public, max-age=31536000, immutable');
    const got = decodeEntryBundle(full.body);
    expect(got.length).toBe(TILE_WIDTH);
    got.forEach((e, i) => {
      expect(Buffer.from(e).equals(Buffer.from(entries[TILE_WIDTH + i]!))).toBe(true);
    });
    const width = size - 2 * TILE_WIDTH;
    const partial = decodeEntryBundle((await get(`tile/entries/002.p/${width}`)).body);
    expect(partial.length).toBe(width);
    expect(Buffer.from(partial.at(-1)!).equals(Buffer.from(entries.at(-1)!))).toBe(true);
    expect((await get('tile/entries/002')).res.status).toBe(404);
  });

  it('block-note bundles (dirchain extension) hold every signed block note in order', async () => {
    const { res, body } = await get(`dirchain/blocks/000.p/${notes.length}`);
    expect(res.status).toBe(200);
    expect(decodeEntryBundle(body).map((b) => new TextDecoder().decode(b))).toEqual(notes);
    expect((await get(`dirchain/blocks/000.p/${notes.length + 1}`)).res.status).toBe(404);
    expect((await get('dirchain/blocks/000')).res.status).toBe(404);
  });

  it('is read-only and answers only its paths', async () => {
    const post = await get('checkpoint', { method: 'POST', body: 'x' });
    expect(post.res.status).toBe(405);
    expect(post.res.headers.get('allow')).toBe('GET, HEAD');
    const head = await get('tile/0/000', { method: 'HEAD' });
    expect(head.res.status).toBe(200);
    expect(head.body.length).toBe(0);
    expect((await get('../../etc/passwd')).res.status).toBe(404);
    expect((await get('tile/entries/x000/001')).res.status).toBe(404);
    expect((await get('tile/0/%E0%A4%A')).res.status).toBe(404); // malformed escapes do not crash it
    expect((await get('checkpoint')).res.status).toBe(200);
  });
});

describe('a served ledger of more than 256 blocks', () => {
  it('is replayed through several block-note bundles', async () => {
    const small = tempDir();
    try {
      const city = makeCity(1);
      const ledger = await newLedger(small.path, city, { block: { maxRecords: 1 } });
      for (let i = 0; i < 260; i++) await ledger.append(signedBy(city.departments[0]!, { i }));
      expect(ledger.head().height).toBe(260);
      const size = ledger.head().size;
      expect(size).toBe(2 * 261); // each block: one record and its block entry
      await ledger.close();
      const running = await serveLedger(small.path);
      try {
        const second = await fetch(new URL('dirchain/blocks/001.p/5', running.url));
        expect(second.status).toBe(200);
        const notes = decodeEntryBundle(new Uint8Array(await second.arrayBuffer()));
        expect(notes.map((n) => new TextDecoder().decode(n).split('\n')[3])).toEqual(
          [256, 257, 258, 259, 260].map((h) => `block ${h}`),
        );
        const r = await auditLedger(running.url, { verifyOnly: true });
        expect([r.ok, r.records, r.blocks]).toEqual([true, size, 261]);
      } finally {
        await running.close();
      }
    } finally {
      small.cleanup();
    }
  });
});
