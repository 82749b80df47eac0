import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { verifyLedger } from '../../src/chain/verify.js';
import { concatBytes, utf8 } from '../../src/crypto/bytes.js';
import { nodeTreeHasher } from '../../src/crypto/node-tree-hasher.js';
import { decodeBlockEntry } from '../../src/encoding/block-entry.js';
import { type Ledger, verifyInclusion } from '../../src/index.js';
import { openLedger } from '../../src/ledger/open.js';
import { Frontier, HashSink, storedHashCount, storedHashIndex } from '../../src/merkle/stored.js';
import { encodeEntryBundle } from '../../src/merkle/tiles.js';
import { BUNDLE_WIDTH, readBundle } from '../../src/storage/bundles.js';
import {
  bundleKey,
  HASHES_PER_PAGE,
  keyNumber,
  LOG_REGION,
  metaKey,
  numberKey,
  pageKey,
  pieceKey,
  TABLE,
  tableRange,
} from '../../src/storage/keys.js';
import { LedgerStore, STORAGE_FORMAT } from '../../src/storage/store.js';
import { tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
beforeEach(() => {
  dir = tempDir();
  city = makeCity();
});
afterEach(() => dir.cleanup());

/**
 * Appends `records` and adds to `entries` (every entry by index) what the
 * blocks formed hold: the records, in order, each block ended by its block
 * entry. With `atomic` (the default) they land in one block.
 */
async function appendTo(
  ledger: Ledger,
  entries: Uint8Array[],
  records: readonly Uint8Array[],
  atomic = true,
): Promise<void> {
  const before = ledger.head();
  expect(before.size).toBe(entries.length);
  const receipts = await ledger.appendMany(records, { atomic });
  const head = ledger.head();
  if (atomic) expect(head.height).toBe(before.height + 1);
  let k = 0;
  for (let height = before.height + 1; height <= head.height; height++) {
    const end = ledger.block(height).header.size;
    while (entries.length < end - 1) {
      const r = receipts[k];
      if (r instanceof Error) throw r;
      expect(r).toEqual({ index: entries.length, height });
      entries.push(records[k++]!);
    }
    const blockEntry = ledger.getEntry(end - 1);
    expect(decodeBlockEntry(blockEntry).height).toBe(height);
    entries.push(blockEntry);
  }
  expect([k, entries.length]).toEqual([records.length, head.size]);
}

/**
 * Appends `count` records in blocks of the given sizes; returns every entry by
 * index: the genesis block's (its record and block entry) first, then each
 * block's records and its block entry.
 */
async function build(path: string, blockSizes: readonly number[], count: number): Promise<Uint8Array[]> {
  const ledger = await newLedger(path, city);
  const entries = [ledger.getEntry(0), ledger.getEntry(1)];
  expect(decodeBlockEntry(entries[1]!).height).toBe(0);
  expect(ledger.head().size).toBe(2);
  let i = 0;
  for (const size of blockSizes) {
    const records = Array.from({ length: Math.min(size, count - i) }, (_, k) =>
      signedBy(city.departments[(i + k) % 5]!, { i: i + k, pad: 'x'.repeat((i + k) % 90) }),
    );
    if (records.length === 0) break;
    // One appendMany call with `atomic` lands in one block.
    await appendTo(ledger, entries, records);
    i += records.length;
  }
  await ledger.close();
  return entries;
}

type RawDb = ClassicLevel<Uint8Array, Uint8Array>;

async function withRawDb<T>(path: string, f: (db: RawDb) => Promise<T>): Promise<T> {
  const db: RawDb = new ClassicLevel(path, { keyEncoding: 'view', valueEncoding: 'view' });
  await db.open();
  try {
    return await f(db);
  } finally {
    await db.close();
  }
}

async function tableKeys(db: RawDb, table: number): Promise<Uint8Array[]> {
  return db.keys(tableRange(table)).all();
}

async function expectEntries(path: string, expected: readonly Uint8Array[]): Promise<void> {
  const store = await LedgerStore.open(path, { create: false });
  try {
    expect(store.entryCount).toBe(expected.length);
    // Entries and hashes handed out own their bytes (a view would pin a whole bundle or hash page).
    expect(store.getEntry(0)!.buffer.byteLength).toBe(expected[0]!.length);
    expect(store.readHashesSync([0, expected.length - 1]).map((h) => h.buffer.byteLength)).toEqual([32, 32]);
    for (let i = 0; i < expected.length; i++)
      expect(Buffer.from(store.getEntry(i)!).equals(expected[i]!)).toBe(true);
    expect(store.getEntry(expected.length)).toBeUndefined();
    for (const [from, to] of [
      [0, expected.length],
      [255, 257],
      [100, 700],
      [expected.length - 3, expected.length + 10],
    ] as const) {
      const got: number[] = [];
      for await (const [index, entry] of store.entries(from, to)) {
        expect(Buffer.from(entry).equals(expected[index]!)).toBe(true);
        got.push(index);
      }
      const want = Array.from(
        { length: Math.max(0, Math.min(to, expected.length) - from) },
        (_, k) => from + k,
      );
      expect(got).toEqual(want);
    }
  } finally {
    await store.close();
  }
}

describe('entries on disk', () => {
  it('reads back every entry across complete bundles and pieces, after reopening and appending more', async () => {
    // Blocks that end inside bundles, cross them, and fill one exactly.
    const first = await build(dir.path, [1, 3, 250, 7, 512, 40], 813);
    await expectEntries(dir.path, first);
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const more = Array.from({ length: 300 }, (_, k) => signedBy(city.departments[k % 5]!, { more: k }));
    const entries = [...first];
    await appendTo(ledger, entries, more, false);
    await ledger.close();
    await expectEntries(dir.path, entries);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('proves entries of a hash page that a proof read half-full and later blocks completed', async () => {
    // Blocks of 2 (genesis), 61 and 41 entries, each with its block entry.
    await build(dir.path, [60, 40], 100);
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const size = ledger.head().size;
    expect(size).toBe(104);
    // Reopened, so this proof reads page 0 (leaves 0–127, now 104 of them) from disk into the read cache.
    const early = await ledger.proveInclusion(50);
    expect(verifyInclusion({ ...early, proof: early.inclusion })).toBe(true);
    // Enough blocks that page 0 leaves the cache of pages recently written (64 pages, 8,192 leaves).
    for (let b = 0; b < 9; b++) {
      const records = Array.from({ length: 1000 }, (_, k) => signedBy(city.departments[k % 5]!, { b, k }));
      await ledger.appendMany(records, { atomic: true });
    }
    expect(ledger.head().size).toBe(size + 9 * 1001); // each block: 1000 records and its block entry
    for (const index of [size - 1, size, 120, 127]) {
      const p = await ledger.proveInclusion(index);
      expect(verifyInclusion({ ...p, proof: p.inclusion })).toBe(true);
    }
    await ledger.close();
  });

  it('serves a full bundle as its pieces joined and a partial one re-encoded to the width asked', async () => {
    // Blocks of 2 (genesis), 101 and 201 entries (each ends with its block entry): bundle 0 is three pieces.
    const entries = await build(dir.path, [100, 200], 300);
    expect(entries).toHaveLength(304);
    const store = await LedgerStore.open(dir.path, { create: false });
    try {
      const pieces = await Promise.all([0, 2, 103].map((first) => store.db.get(pieceKey(first))));
      const joined = Buffer.concat(pieces.map((p) => p!));
      const full = store.entryBundle(0, BUNDLE_WIDTH)!;
      expect(Buffer.from(full).equals(joined)).toBe(true);
      expect(Buffer.from(full).equals(encodeEntryBundle(entries.slice(0, BUNDLE_WIDTH)))).toBe(true);
      const partial = readBundle(store.entryBundle(1, 20)!);
      expect(partial).toHaveLength(20);
      expect(Buffer.from(partial[19]!).equals(entries[256 + 19]!)).toBe(true);
      expect(store.entryBundle(1, 49)).toBeUndefined(); // 304 entries: bundle 1 has 48
      expect(readBundle(store.entryBundle(0, 10)!)).toHaveLength(10);
    } finally {
      await store.close();
    }
  });

  it('keeps a new folder’s entries (each written once) and hash pages in the log region, above every other table', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    expect(entries).toHaveLength(438); // 433 records, genesis and 4 block entries
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe(STORAGE_FORMAT);
      const region = await tableKeys(db, LOG_REGION);
      // 438 entries store 870 hashes: pages 0–2 are full; page 3, the one being filled, is not stored.
      expect(storedHashCount(438)).toBe(870);
      // Pieces: genesis (0), the block of 100 (2), the block of 300 split at the bundle
      // boundary (103, 256), the block of 33 (404); bundle 0 is complete, so its index is stored.
      const pieceStarts = [0, 2, 103, 256, 404];
      expect(region.map((k) => Buffer.from(k).toString('hex'))).toEqual(
        [bundleKey(0), ...pieceStarts.map(pieceKey), ...[0, 1, 2].map(pageKey)]
          .map((k) => Buffer.from(k).toString('hex'))
          .sort(),
      );
      expect([...(await db.get(bundleKey(0)))!]).toEqual([0, 2, 103]);
      // Each entry is stored once: the pieces hold exactly the entries, in order.
      const stored = await Promise.all(pieceStarts.map((first) => db.get(pieceKey(first))));
      const want = Buffer.concat([
        encodeEntryBundle(entries.slice(0, 256)),
        encodeEntryBundle(entries.slice(256)),
      ]);
      expect(Buffer.concat(stored.map((v) => v!)).equals(want)).toBe(true);
      // Nothing sorts above the region: it is where the log grows.
      expect(await db.keys({ gte: Uint8Array.of(LOG_REGION + 1) }).all()).toHaveLength(0);
    });
  });

  it('reopens and appends when the entries end exactly at a bundle boundary (no open pieces)', async () => {
    // Genesis (2 entries) + 253 records and their block entry: bundle 0 complete, nothing open.
    const entries = await build(dir.path, [253], 253);
    expect(entries).toHaveLength(BUNDLE_WIDTH);
    await withRawDb(dir.path, async (db) => {
      expect([...(await db.get(bundleKey(0)))!]).toEqual([0, 2]);
    });
    await expectEntries(dir.path, entries);
    // 255 records and their block entry fill bundle 1 exactly.
    for (const size of [255, 7]) {
      const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
      const records = Array.from({ length: size }, (_, k) =>
        signedBy(city.departments[k % 5]!, { at: entries.length + k }),
      );
      await appendTo(ledger, entries, records);
      await ledger.close();
      await expectEntries(dir.path, entries);
    }
    await withRawDb(dir.path, async (db) => {
      expect([...(await db.get(bundleKey(1)))!]).toEqual([0]); // one block filled bundle 1
    });
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('reads a bundle up to a missing piece or not at all with a damaged index, and the audit names the index', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433); // bundle 0: pieces at 0, 2, 103
    expect(entries).toHaveLength(438);
    await withRawDb(dir.path, (db) => db.del(pieceKey(103)));
    let store = await LedgerStore.open(dir.path, { create: false });
    try {
      expect(Buffer.from(store.getEntry(102)!).equals(entries[102]!)).toBe(true);
      expect(store.getEntry(103)).toBeUndefined();
      expect(Buffer.from(store.getEntry(300)!).equals(entries[300]!)).toBe(true); // bundle 1 is whole
      const got: number[] = [];
      for await (const [index] of store.entries(0, 438)) got.push(index);
      expect(got).toHaveLength(103);
      expect(store.entryBundle(0, BUNDLE_WIDTH)).toBeUndefined();
    } finally {
      await store.close();
    }
    let r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index]).toEqual([false, 103]);

    // A damaged index (offsets not starting at 0): bundle 0 reads as missing.
    await withRawDb(dir.path, async (db) => {
      await db.put(pieceKey(103), encodeEntryBundle(entries.slice(103, 256)));
      await db.put(bundleKey(0), Uint8Array.of(2, 103));
    });
    store = await LedgerStore.open(dir.path, { create: false });
    try {
      expect(store.getEntry(0)).toBeUndefined();
      expect(Buffer.from(store.getEntry(437)!).equals(entries[437]!)).toBe(true);
    } finally {
      await store.close();
    }
    r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index]).toEqual([false, 0]);
  });
});

describe('the storage format', () => {
  async function setFormat(path: string, format: string | undefined): Promise<void> {
    await withRawDb(path, (db) =>
      format === undefined ? db.del(metaKey('format')) : db.put(metaKey('format'), utf8(format)),
    );
  }

  /** Both ways of opening the folder fail with E_LEDGER_FORMAT, with `message` and the hint of what to do. */
  async function expectRefused(path: string, message: string): Promise<void> {
    for (const open of [() => LedgerStore.open(path, { create: false }), () => openLedger(path)]) {
      await expect(open()).rejects.toMatchObject({
        code: 'E_LEDGER_FORMAT',
        message,
        hint: expect.stringMatching(
          /reads only dirchain-ledger\/7: open the folder with the dirchain that wrote it/,
        ),
      });
    }
  }

  it('records dirchain-ledger/7 in a new ledger and opens it', async () => {
    expect(STORAGE_FORMAT).toBe('dirchain-ledger/7');
    const entries = await build(dir.path, [5], 5);
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe('dirchain-ledger/7');
    });
    await expectEntries(dir.path, entries);
  });

  it.each(['dirchain-ledger/4', 'dirchain-ledger/1', 'dirchain-ledger/5', 'dirchain-ledger/6'])(
    'refuses a folder in storage format %s, naming it, and releases it',
    async (format) => {
      const entries = await build(dir.path, [5], 5);
      await setFormat(dir.path, format);
      await expectRefused(dir.path, `the ledger at ${dir.path} has storage format ${format}`);
      // The refusals closed LevelDB and left the folder unheld: with its format back, it opens whole.
      await setFormat(dir.path, STORAGE_FORMAT);
      await expectEntries(dir.path, entries);
    },
  );

  it('refuses a folder that holds blocks but names no storage format', async () => {
    await build(dir.path, [5], 5);
    await setFormat(dir.path, undefined);
    await expectRefused(
      dir.path,
      `the ledger at ${dir.path} has no storage format (meta \`format\` is missing)`,
    );
  });

  it('refuses a folder without a format that holds only a block note, or only an entry', async () => {
    for (const [i, key] of [numberKey(TABLE.block, 0), pieceKey(0)].entries()) {
      const path = `${dir.path}/${i}`;
      await (await LedgerStore.open(path, { create: true })).close();
      await withRawDb(path, (db) => db.put(key, encodeEntryBundle([utf8('entry')])));
      await expect(LedgerStore.open(path, { create: false })).rejects.toMatchObject({
        code: 'E_LEDGER_FORMAT',
        message: expect.stringContaining('has no storage format'),
      });
    }
  });

  it('opens a new folder that holds nothing yet (its format comes with its genesis block)', async () => {
    const store = await LedgerStore.open(dir.path, { create: true });
    await store.close();
    const reopened = await LedgerStore.open(dir.path, { create: false });
    try {
      expect(reopened.entryCount).toBe(0);
      expect(await reopened.lastBlock()).toBeUndefined();
      expect(reopened.getMeta('format')).toBeUndefined();
    } finally {
      await reopened.close();
    }
    // A ledger needs its genesis block: an empty folder is none (creation was interrupted).
    await expect(openLedger(dir.path)).rejects.toMatchObject({ code: 'E_LEDGER_NOT_FOUND' });
  });
});

describe('the hash page being filled (kept only in memory)', () => {
  /** Every stored hash of the tree over `entries`, in stored order, by an in-memory frontier. */
  function storedHashes(entries: readonly Uint8Array[]): Uint8Array[] {
    const frontier = new Frontier(nodeTreeHasher);
    const out: Uint8Array[] = [];
    for (const e of entries) frontier.append(nodeTreeHasher.leaf(e), out);
    return out;
  }

  async function expectStoredHashes(path: string, entries: readonly Uint8Array[]): Promise<void> {
    const want = storedHashes(entries);
    const store = await LedgerStore.open(path, { create: false });
    try {
      const got = store.readHashesSync(want.map((_, i) => i));
      for (let i = 0; i < want.length; i++)
        expect(Buffer.from(got[i]!).equals(want[i]!), `hash ${i}`).toBe(true);
      expect(store.readHashNow(want.length)).toBeUndefined();
    } finally {
      await store.close();
    }
  }

  it('is rebuilt from the entries on every open, for random block sizes and reopenings', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.array(fc.array(fc.integer({ min: 1, max: 300 }), { minLength: 1, maxLength: 4 }), {
          minLength: 1,
          maxLength: 3,
        }),
        async (sessions) => {
          const d = tempDir();
          try {
            const entries = [...(await build(d.path, sessions[0]!, Number.MAX_SAFE_INTEGER))];
            await expectStoredHashes(d.path, entries);
            for (const sizes of sessions.slice(1)) {
              const ledger = await openLedger(d.path, { sequencerKey: city.sequencer.signerKey });
              for (const size of sizes) {
                const records = Array.from({ length: size }, (_, k) =>
                  signedBy(city.departments[k % 5]!, { at: entries.length + k }),
                );
                await appendTo(ledger, entries, records);
              }
              // The newest entries' proofs read the page being filled.
              const p = await ledger.proveInclusion(entries.length - 1);
              expect(verifyInclusion({ ...p, proof: p.inclusion })).toBe(true);
              await ledger.close();
              await expectStoredHashes(d.path, entries);
            }
            await withRawDb(d.path, async (db) => {
              // Only full pages are stored.
              for (const [k, v] of await db.iterator(tableRange(LOG_REGION)).all())
                if (k[9] === 0x48) expect(v.length).toBe(HASHES_PER_PAGE * 32);
            });
          } finally {
            d.cleanup();
          }
        },
      ),
      { numRuns: 6 },
    );
  });

  it('a missing full page it is rebuilt from makes the open fail as corrupt, naming the verification to run', async () => {
    await build(dir.path, [100, 300, 33], 433);
    // Page 1 holds the hash of leaves 0–255 (stored index 510), a subtree of the tree the page is rebuilt on.
    expect(Math.floor(storedHashIndex(8, 0) / HASHES_PER_PAGE)).toBe(1);
    await withRawDb(dir.path, (db) => db.del(pageKey(1)));
    await expect(openLedger(dir.path)).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      hint: expect.stringContaining('verifyLedger'),
    });
  });

  it('refuses blocks that do not continue the store, or carry the wrong number of hashes, writing nothing', async () => {
    const entries = await build(dir.path, [40], 40);
    const store = await LedgerStore.open(dir.path, { create: false });
    const size = store.entryCount;
    const block = (firstIndex: number, hashCount: number) => ({
      height: 99,
      note: 'not a note',
      size: firstIndex + 1,
      firstIndex,
      entries: [new Uint8Array(8)],
      hashStart: storedHashCount(firstIndex),
      hashes: new Uint8Array(32 * hashCount),
    });
    const right = storedHashCount(size + 1) - storedHashCount(size);
    try {
      await expect(store.writeBlocks([block(size + 1, right)], 'sync')).rejects.toMatchObject({
        code: 'E_LEDGER_CORRUPT',
        message: expect.stringContaining(`the store ends at ${size}`),
      });
      await expect(store.writeBlocks([block(size, right + 1)], 'sync')).rejects.toMatchObject({
        code: 'E_LEDGER_CORRUPT',
        message: expect.stringContaining('stored hashes'),
      });
      expect(store.entryCount).toBe(size);
    } finally {
      await store.close();
    }
    await expectEntries(dir.path, entries);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });
});

describe('several blocks in one write', () => {
  it('stores one piece per write and bundle, and reads every entry and hash back after reopening', async () => {
    const path = `${dir.path}/raw`;
    const frontier = new Frontier(nodeTreeHasher);
    const all: Uint8Array[] = [];
    const hashes: Uint8Array[] = [];
    let height = 0;
    /** Blocks of the given sizes, continuing the log, with their stored hashes. */
    const blocks = (sizes: readonly number[]) =>
      sizes.map((size) => {
        const firstIndex = all.length;
        const hashStart = hashes.length;
        const entries = Array.from({ length: size }, (_, k) =>
          utf8(`entry ${firstIndex + k}`.padEnd(20 + (k % 50), '.')),
        );
        for (const e of entries) {
          all.push(e);
          frontier.append(nodeTreeHasher.leaf(e), hashes);
        }
        return {
          height: height++,
          note: `block ${height}`,
          size: all.length,
          firstIndex,
          entries,
          hashStart,
          hashes: concatBytes(...hashes.slice(hashStart)),
        };
      });
    let store = await LedgerStore.open(path, { create: true });
    try {
      // The meta a ledger writes with its genesis block: a folder with blocks and no format is refused.
      await store.putMeta({ format: STORAGE_FORMAT });
      await store.writeBlocks(blocks([100, 200, 300]), 'sync'); // 0–599: bundles 0, 1 complete
      await store.writeBlocks(blocks([50, 206]), 'sync'); // 600–855: bundle 2 complete, 3 open
    } finally {
      await store.close();
    }
    await withRawDb(path, async (db) => {
      const pieces = (await tableKeys(db, LOG_REGION)).filter((k) => k[9] === 0x45).map(keyNumber);
      expect(pieces).toEqual([0, 256, 512, 600, 768]);
      expect([...(await db.get(bundleKey(2)))!]).toEqual([0, 88]);
    });
    await expectEntries(path, all);
    store = await LedgerStore.open(path, { create: false });
    try {
      const got = store.readHashesSync(hashes.map((_, i) => i));
      for (let i = 0; i < hashes.length; i++)
        expect(Buffer.from(got[i]!).equals(hashes[i]!), `hash ${i}`).toBe(true);
      expect(
        Buffer.from(store.entryBundle(2, BUNDLE_WIDTH)!).equals(encodeEntryBundle(all.slice(512, 768))),
      ).toBe(true);
    } finally {
      await store.close();
    }
  });
});

describe('writeback pacing', () => {
  it('paces its table files from its first durable write (on Linux) until it is closed', async () => {
    for (const durability of ['buffered', 'sync'] as const) {
      const store = await LedgerStore.open(`${dir.path}/${durability}`, { create: true });
      const entry = new Uint8Array(8).fill(1);
      const sink = new HashSink(2);
      new Frontier(nodeTreeHasher).appendTo(nodeTreeHasher.leaf(entry), 0, sink);
      try {
        expect(store.pacingWriteback).toBe(false);
        await store.writeBlock(
          {
            height: 0,
            note: 'n',
            size: 1,
            firstIndex: 0,
            entries: [entry],
            hashStart: 0,
            hashes: sink.hashes(),
          },
          durability,
        );
        expect(store.pacingWriteback).toBe(durability === 'sync' && process.platform === 'linux');
      } finally {
        await store.close();
      }
      expect(store.pacingWriteback).toBe(false);
    }
  });
});
