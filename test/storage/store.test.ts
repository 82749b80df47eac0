import { ClassicLevel } from 'classic-level';
import fc from 'fast-check';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { concatBytes, utf8 } from '../../src/crypto/bytes.js';
import { verifyInclusion } from '../../src/index.js';
import { openLedger } from '../../src/ledger/open.js';
import { verifyLedger } from '../../src/ledger/verify-ledger.js';
import { nodeTreeHasher } from '../../src/merkle/node-hasher.js';
import { Frontier, HashSink, storedHashCount, storedHashIndex } from '../../src/merkle/stored.js';
import { encodeEntryBundle } from '../../src/merkle/tiles.js';
import { BUNDLE_WIDTH, readBundle } from '../../src/storage/bundles.js';
import {
  CURRENT_LAYOUT,
  HASHES_PER_PAGE,
  keyNumber,
  LOG_REGION,
  metaKey,
  numberKey,
  pieceKey,
  TABLE,
  tableRange,
} from '../../src/storage/keys.js';
import { LedgerStore, STORAGE_FORMAT } from '../../src/storage/store.js';
import { storeEntriesAsFormat4, storeTailPageAsFormat3, tempDir } from '../helpers.js';
import { type City, makeCity, newLedger, signedBy } from '../ledger/fixture.js';

let dir: ReturnType<typeof tempDir>;
let city: City;
beforeEach(() => {
  dir = tempDir();
  city = makeCity();
});
afterEach(() => dir.cleanup());

/** Appends `count` records in blocks of the given sizes; returns every entry by index (genesis first). */
async function build(path: string, blockSizes: readonly number[], count: number): Promise<Uint8Array[]> {
  const ledger = await newLedger(path, city);
  const entries = [ledger.getEntry(0)];
  let i = 0;
  for (const size of blockSizes) {
    const records = Array.from({ length: Math.min(size, count - i) }, (_, k) =>
      signedBy(city.departments[(i + k) % 5]!, { i: i + k, pad: 'x'.repeat((i + k) % 90) }),
    );
    if (records.length === 0) break;
    // One appendMany call with `atomic` lands in one block.
    const receipts = await ledger.appendMany(records, { atomic: true });
    for (const [k, r] of receipts.entries()) {
      if (r instanceof Error) throw r;
      expect(r.index).toBe(entries.length);
      entries.push(records[k]!);
    }
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

/**
 * Rewrites a format-3 folder's log region the way formats 1 and 2 stored it:
 * bundles in 'D' + bundle (unless `dropBundles`), pages in 'H' + page.
 */
async function moveLogRegionToTables(db: RawDb, options: { dropBundles: boolean }): Promise<void> {
  const batch = db.batch();
  let pages = 0;
  for await (const [k, v] of db.iterator(tableRange(LOG_REGION))) {
    batch.del(k);
    const position = keyNumber(k);
    if (k[9] === 0x48) {
      batch.put(numberKey(TABLE.hashPage, position / (HASHES_PER_PAGE / 2)), v);
      pages++;
    } else if (k[9] === 0x44) {
      if (!options.dropBundles) batch.put(numberKey(TABLE.entryBundle, position / BUNDLE_WIDTH), v);
    } else throw new Error(`unexpected key kind ${k[9]} in the log region`);
  }
  expect(pages).toBeGreaterThan(0);
  await batch.write();
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
    const receipts = await ledger.appendMany(more);
    expect(receipts.every((r) => !(r instanceof Error))).toBe(true);
    await ledger.close();
    await expectEntries(dir.path, [...first, ...more]);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('proves entries of a hash page that a proof read half-full and later blocks completed', async () => {
    await build(dir.path, [60, 40], 100);
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    // Reopened, so this proof reads page 0 (leaves 0–127, now 101 of them) from disk into the read cache.
    const early = await ledger.proveInclusion(50);
    expect(verifyInclusion({ ...early, proof: early.inclusion })).toBe(true);
    // Enough blocks that page 0 leaves the cache of pages recently written (64 pages, 8,192 leaves).
    for (let b = 0; b < 9; b++) {
      const records = Array.from({ length: 1000 }, (_, k) => signedBy(city.departments[k % 5]!, { b, k }));
      await ledger.appendMany(records, { atomic: true });
    }
    expect(ledger.head().size).toBe(101 + 9000);
    for (const index of [100, 101, 120, 127]) {
      const p = await ledger.proveInclusion(index);
      expect(verifyInclusion({ ...p, proof: p.inclusion })).toBe(true);
    }
    await ledger.close();
  });

  it('serves a full bundle as its pieces joined and a partial one re-encoded to the width asked', async () => {
    // Blocks of 1 (genesis), 100 and 200: bundle 0 is three pieces.
    const entries = await build(dir.path, [100, 200], 300);
    const store = await LedgerStore.open(dir.path, { create: false });
    try {
      const pieces = await Promise.all([0, 1, 101].map((first) => store.db.get(pieceKey(first))));
      const joined = Buffer.concat(pieces.map((p) => p!));
      const full = store.entryBundle(0, BUNDLE_WIDTH)!;
      expect(Buffer.from(full).equals(joined)).toBe(true);
      expect(Buffer.from(full).equals(encodeEntryBundle(entries.slice(0, BUNDLE_WIDTH)))).toBe(true);
      const partial = readBundle(store.entryBundle(1, 20)!);
      expect(partial).toHaveLength(20);
      expect(Buffer.from(partial[19]!).equals(entries[256 + 19]!)).toBe(true);
      expect(store.entryBundle(1, 46)).toBeUndefined(); // 301 entries: bundle 1 has 45
      expect(readBundle(store.entryBundle(0, 10)!)).toHaveLength(10);
    } finally {
      await store.close();
    }
  });

  it('upgrades a format-1 folder (one key per entry) to bundles on open, losing nothing', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await storeTailPageAsFormat3(dir.path);
    // Rewrite the folder the way format 1 stored it: pages in 'H', one key per entry.
    await withRawDb(dir.path, async (db) => {
      await moveLogRegionToTables(db, { dropBundles: true });
      const batch = db.batch();
      for (const [i, e] of entries.entries()) batch.put(numberKey(TABLE.legacyEntry, i), e);
      for await (const [k] of db.iterator(tableRange(TABLE.entryFragment))) batch.del(k);
      batch.put(metaKey('format'), new TextEncoder().encode('dirchain-ledger/1'));
      await batch.write();
    });

    await expectEntries(dir.path, entries);
    await withRawDb(dir.path, async (db) => {
      // Upgraded to format 2, whose layout it already had for pages.
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe('dirchain-ledger/2');
      expect(await tableKeys(db, TABLE.legacyEntry)).toHaveLength(0);
      expect((await tableKeys(db, TABLE.entryBundle)).map(keyNumber)).toEqual([0]);
      expect(await tableKeys(db, LOG_REGION)).toHaveLength(0);
    });
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('keeps a new folder’s entries (each written once) and hash pages in the log region, above every other table', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe(STORAGE_FORMAT);
      expect(STORAGE_FORMAT).toBe('dirchain-ledger/5');
      expect(await tableKeys(db, TABLE.entryBundle)).toHaveLength(0);
      expect(await tableKeys(db, TABLE.entryFragment)).toHaveLength(0);
      expect(await tableKeys(db, TABLE.hashPage)).toHaveLength(0);
      const region = await tableKeys(db, LOG_REGION);
      // 434 entries store 863 hashes: pages 0–2 are full; page 3, the one being filled, is not stored.
      expect(storedHashCount(434)).toBe(863);
      // Pieces: genesis (0), the block of 100 (1), the block of 300 split at the bundle
      // boundary (101, 256), the block of 33 (401); bundle 0 is complete, so its index is stored.
      const pieceStarts = [0, 1, 101, 256, 401];
      expect(region.map((k) => Buffer.from(k).toString('hex'))).toEqual(
        [
          CURRENT_LAYOUT.bundleKey(0),
          ...pieceStarts.map(pieceKey),
          ...[0, 1, 2].map((p) => CURRENT_LAYOUT.pageKey(p)),
        ]
          .map((k) => Buffer.from(k).toString('hex'))
          .sort(),
      );
      expect([...(await db.get(CURRENT_LAYOUT.bundleKey(0)))!]).toEqual([0, 1, 101]);
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

  it('reads and appends to a format-2 folder in its own layout, losing nothing', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await storeTailPageAsFormat3(dir.path);
    await withRawDb(dir.path, async (db) => {
      await moveLogRegionToTables(db, { dropBundles: false });
      await db.put(metaKey('format'), new TextEncoder().encode('dirchain-ledger/2'));
    });
    await expectEntries(dir.path, entries);

    // Append across a bundle boundary (433 → 563 entries) and check it all again.
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const records = Array.from({ length: 130 }, (_, k) =>
      signedBy(city.departments[k % 5]!, { i: 1000 + k, pad: 'y'.repeat(k % 70) }),
    );
    for (const r of await ledger.appendMany(records, { atomic: true })) if (r instanceof Error) throw r;
    await ledger.close();
    await expectEntries(dir.path, [...entries, ...records]);
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe('dirchain-ledger/2');
      expect(await tableKeys(db, LOG_REGION)).toHaveLength(0);
      expect((await tableKeys(db, TABLE.entryBundle)).map(keyNumber)).toEqual([0, 1]);
    });
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('reads and appends to a format-4 folder in its own layout (full bundles, fragments), losing nothing', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await withRawDb(dir.path, storeEntriesAsFormat4);
    await withRawDb(dir.path, async (db) => {
      expect((await tableKeys(db, TABLE.entryFragment)).map(keyNumber)).toEqual([256, 401]);
    });
    await expectEntries(dir.path, entries);

    // Append across a bundle boundary (434 → 564 entries): bundle 1 is written whole, its fragments deleted.
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const records = Array.from({ length: 130 }, (_, k) => signedBy(city.departments[k % 5]!, { four: k }));
    for (const r of await ledger.appendMany(records, { atomic: true })) if (r instanceof Error) throw r;
    await ledger.close();
    const all = [...entries, ...records];
    await expectEntries(dir.path, all);
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe('dirchain-ledger/4');
      expect((await tableKeys(db, TABLE.entryFragment)).map(keyNumber)).toEqual([512]);
      const bundle1 = await db.get(CURRENT_LAYOUT.bundleKey(1));
      expect(Buffer.from(bundle1!).equals(encodeEntryBundle(all.slice(256, 512)))).toBe(true);
      for (const k of await tableKeys(db, LOG_REGION)) expect(k[9]).not.toBe(0x45); // no pieces
    });
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('reopens and appends when the entries end exactly at a bundle boundary (no open pieces)', async () => {
    const entries = await build(dir.path, [255], 255); // genesis + 255: bundle 0 complete, nothing open
    await withRawDb(dir.path, async (db) => {
      expect([...(await db.get(CURRENT_LAYOUT.bundleKey(0)))!]).toEqual([0, 1]);
    });
    await expectEntries(dir.path, entries);
    for (const size of [256, 7]) {
      const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
      const records = Array.from({ length: size }, (_, k) =>
        signedBy(city.departments[k % 5]!, { at: entries.length + k }),
      );
      for (const r of await ledger.appendMany(records, { atomic: true })) if (r instanceof Error) throw r;
      await ledger.close();
      entries.push(...records);
      await expectEntries(dir.path, entries);
    }
    await withRawDb(dir.path, async (db) => {
      expect([...(await db.get(CURRENT_LAYOUT.bundleKey(1)))!]).toEqual([0]); // one block filled bundle 1
    });
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('reads a format-5 bundle up to a missing piece or not at all with a damaged index, and the audit names the index', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433); // bundle 0: pieces at 0, 1, 101
    await withRawDb(dir.path, (db) => db.del(pieceKey(101)));
    let store = await LedgerStore.open(dir.path, { create: false });
    try {
      expect(Buffer.from(store.getEntry(100)!).equals(entries[100]!)).toBe(true);
      expect(store.getEntry(101)).toBeUndefined();
      expect(Buffer.from(store.getEntry(300)!).equals(entries[300]!)).toBe(true); // bundle 1 is whole
      const got: number[] = [];
      for await (const [index] of store.entries(0, 434)) got.push(index);
      expect(got).toHaveLength(101);
      expect(store.entryBundle(0, BUNDLE_WIDTH)).toBeUndefined();
    } finally {
      await store.close();
    }
    let r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index]).toEqual([false, 101]);

    // A damaged index (offsets not starting at 0): bundle 0 reads as missing.
    await withRawDb(dir.path, async (db) => {
      await db.put(pieceKey(101), encodeEntryBundle(entries.slice(101, 256)));
      await db.put(CURRENT_LAYOUT.bundleKey(0), Uint8Array.of(1, 101));
    });
    store = await LedgerStore.open(dir.path, { create: false });
    try {
      expect(store.getEntry(0)).toBeUndefined();
      expect(Buffer.from(store.getEntry(433)!).equals(entries[433]!)).toBe(true);
    } finally {
      await store.close();
    }
    r = await verifyLedger(dir.path);
    expect([r.ok, r.error?.index]).toEqual([false, 0]);
  });

  it('opens a format-4 folder that lost its format meta as format 4, appending in its layout', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await withRawDb(dir.path, async (db) => {
      await storeEntriesAsFormat4(db);
      await db.del(metaKey('format'));
    });
    await expectEntries(dir.path, entries);
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const records = Array.from({ length: 100 }, (_, k) => signedBy(city.departments[k % 5]!, { nometa: k }));
    for (const r of await ledger.appendMany(records, { atomic: true })) if (r instanceof Error) throw r;
    await ledger.close();
    await expectEntries(dir.path, [...entries, ...records]);
    await withRawDb(dir.path, async (db) => {
      expect((await tableKeys(db, TABLE.entryFragment)).map(keyNumber)).toEqual([512]);
      for (const k of await tableKeys(db, LOG_REGION)) expect(k[9]).not.toBe(0x45); // no pieces
    });
  });

  it('refuses a storage format it does not know, naming it', async () => {
    await build(dir.path, [5], 5);
    const db = new ClassicLevel<Uint8Array, Uint8Array>(dir.path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
    });
    await db.open();
    await db.put(metaKey('format'), new TextEncoder().encode('dirchain-ledger/9'));
    await db.close();
    await expect(openLedger(dir.path)).rejects.toMatchObject({
      code: 'E_LEDGER_FORMAT',
      message: expect.stringContaining('dirchain-ledger/9'),
    });
  });
});

describe('the hash page being filled (format 4 keeps it only in memory)', () => {
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
                for (const r of await ledger.appendMany(records, { atomic: true }))
                  if (r instanceof Error) throw r;
                entries.push(...records);
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

  it('a format-3 folder keeps storing the page it extends, and stays format 3', async () => {
    const entries = await build(dir.path, [100, 300, 33], 433);
    await storeTailPageAsFormat3(dir.path);
    const ledger = await openLedger(dir.path, { sequencerKey: city.sequencer.signerKey });
    const records = Array.from({ length: 130 }, (_, k) => signedBy(city.departments[k % 5]!, { three: k }));
    for (const r of await ledger.appendMany(records, { atomic: true })) if (r instanceof Error) throw r;
    await ledger.close();
    const all = [...entries, ...records];
    await withRawDb(dir.path, async (db) => {
      expect(new TextDecoder().decode(await db.get(metaKey('format')))).toBe('dirchain-ledger/3');
      const count = storedHashCount(all.length);
      const page = await db.get(CURRENT_LAYOUT.pageKey(Math.floor(count / HASHES_PER_PAGE)));
      expect(page?.length).toBe((count % HASHES_PER_PAGE) * 32);
    });
    await expectEntries(dir.path, all);
    await expectStoredHashes(dir.path, all);
    expect((await verifyLedger(dir.path)).ok).toBe(true);
  });

  it('a missing full page it is rebuilt from makes the open fail as corrupt, naming the audit', async () => {
    await build(dir.path, [100, 300, 33], 433);
    // Page 1 holds the hash of leaves 0–255 (stored index 510), a subtree of the tree the page is rebuilt on.
    expect(Math.floor(storedHashIndex(8, 0) / HASHES_PER_PAGE)).toBe(1);
    await withRawDb(dir.path, (db) => db.del(CURRENT_LAYOUT.pageKey(1)));
    await expect(openLedger(dir.path)).rejects.toMatchObject({
      code: 'E_LEDGER_CORRUPT',
      hint: expect.stringContaining('audit'),
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

describe('several blocks in one write (format 5)', () => {
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
      await store.writeBlocks(blocks([100, 200, 300]), 'sync'); // 0–599: bundles 0, 1 complete
      await store.writeBlocks(blocks([50, 206]), 'sync'); // 600–855: bundle 2 complete, 3 open
    } finally {
      await store.close();
    }
    await withRawDb(path, async (db) => {
      const pieces = (await tableKeys(db, LOG_REGION)).filter((k) => k[9] === 0x45).map(keyNumber);
      expect(pieces).toEqual([0, 256, 512, 600, 768]);
      expect([...(await db.get(CURRENT_LAYOUT.bundleKey(2)))!]).toEqual([0, 88]);
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
