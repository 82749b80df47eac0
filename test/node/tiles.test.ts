import { describe, expect, it } from 'vitest';
import { treeHasher } from '../../src/crypto/tree-hasher.js';
import { storedHashCount, storedHashIndex } from '../../src/merkle/stored.js';
import {
  decodeEntryBundle,
  ENTRIES_LEVEL,
  encodeEntryBundle,
  fullTileHash,
  hashFromTile,
  parseTilePath,
  splitStoredHashIndex,
  tileForIndex,
  tileHashIndexes,
  tileIndexPath,
  tilePath,
  tileWidthAt,
} from '../../src/merkle/tiles.js';
import { leafData, MemoryLog, nodeHasher } from '../helpers.js';

/**
 * The tile layout does not depend on the hash function; a fast non-cryptographic
 * 32-byte digest (8 FNV-1a lanes) keeps the 66,000-leaf tree quick to build
 * while still making every misplaced hash show.
 */
function fastDigest(data: Uint8Array): Uint8Array {
  const out = new Uint8Array(32);
  const view = new DataView(out.buffer);
  for (let lane = 0; lane < 8; lane++) {
    let h = (0x811c9dc5 ^ (lane * 0x9e3779b9)) >>> 0;
    for (let i = 0; i < data.length; i++) h = Math.imul(h ^ data[i]!, 0x01000193) >>> 0;
    view.setUint32(lane * 4, h);
  }
  return out;
}
const fastHasher = treeHasher(fastDigest);

describe('tile paths (C2SP tlog-tiles, Go tlog Tile.Path with H = 8)', () => {
  it('writes N in 3-digit groups, all but the last prefixed with x', () => {
    expect(tileIndexPath(0)).toBe('000');
    expect(tileIndexPath(1234067)).toBe('x001/x234/067');
    expect(tileIndexPath(1000)).toBe('x001/000');
    expect(tilePath({ level: 0, n: 1, width: 256 })).toBe('tile/0/001');
    expect(tilePath({ level: 0, n: 1, width: 5 })).toBe('tile/0/001.p/5');
    expect(tilePath({ level: 5, n: 123456078, width: 256 })).toBe('tile/5/x123/x456/078');
    // tessera's layout.EntriesPath(1234067, 8) example
    expect(tilePath({ level: ENTRIES_LEVEL, n: 1234067, width: 8 })).toBe('tile/entries/x001/x234/067.p/8');
  });

  it('parses exactly the canonical paths', () => {
    for (const t of [
      { level: 0, n: 0, width: 256 },
      { level: 3, n: 1234067, width: 17 },
      { level: ENTRIES_LEVEL, n: 999, width: 1 },
      { level: 63, n: 1000000, width: 255 },
    ]) {
      expect(parseTilePath(tilePath(t))).toEqual(t);
    }
    for (const bad of [
      'tile/0/1',
      'tile/0/x000/001', // leading zero group
      'tile/0/001/002', // inner group without x
      'tile/0/001.p/256', // a full tile has no .p
      'tile/0/001.p/0',
      'tile/0/001.p/07',
      'tile/64/000',
      'tile/01/000',
      'tile/data/000',
      'tile/0/x001',
      'tile/0/000.p',
    ]) {
      expect(parseTilePath(bad), bad).toBeUndefined();
    }
  });
});

describe('tile math against Go tlog', () => {
  it('splitStoredHashIndex inverts storedHashIndex', () => {
    for (let level = 0; level < 12; level++) {
      for (let n = 0; n < 300; n += level < 4 ? 1 : 7) {
        expect(splitStoredHashIndex(storedHashIndex(level, n))).toEqual({ level, n });
      }
    }
    expect(splitStoredHashIndex(storedHashIndex(20, 123456))).toEqual({ level: 20, n: 123456 });
  });

  it('TileForIndex picks the least-width tile (Go examples worked by hand)', () => {
    expect(tileForIndex(storedHashIndex(0, 0)).tile).toEqual({ level: 0, n: 0, width: 1 });
    expect(tileForIndex(storedHashIndex(0, 300))).toEqual({
      tile: { level: 0, n: 1, width: 45 },
      start: 44 * 32,
      end: 45 * 32,
    });
    // level 3, hash 5: the 8 leaf hashes 40..47 of tile 0/0
    expect(tileForIndex(storedHashIndex(3, 5))).toEqual({
      tile: { level: 0, n: 0, width: 48 },
      start: 40 * 32,
      end: 48 * 32,
    });
    expect(tileForIndex(storedHashIndex(8, 0)).tile).toEqual({ level: 1, n: 0, width: 1 });
    expect(tileForIndex(storedHashIndex(9, 300)).tile).toEqual({ level: 1, n: 2, width: 90 });
  });

  it('every stored hash of a 66,000-leaf tree is computed from its tile (Go HashFromTile)', async () => {
    const log = new MemoryLog(fastHasher);
    const size = 66_000; // two tile levels: 257 full level-0 tiles, a partial level-1 tile
    for (let i = 0; i < size; i++) log.append(leafData(i));
    expect(log.stored.length).toBe(storedHashCount(size));
    const wrong: number[] = [];
    let checked = 0;
    for (let index = 0; index < log.stored.length; index += index < 1500 ? 1 : 211) {
      const { tile } = tileForIndex(index);
      const width = tileWidthAt(tile.level, tile.n, size);
      if (width < tile.width) wrong.push(index);
      // Any tile at least as wide as the least one works; use what the tree serves.
      const served = { ...tile, width };
      const data = await log.readHashes(tileHashIndexes(served));
      const bytes = new Uint8Array(width * 32);
      data.forEach((h, i) => {
        bytes.set(h, i * 32);
      });
      const h = hashFromTile(fastHasher, served, bytes, index);
      checked++;
      if (!Buffer.from(h).equals(Buffer.from(log.stored[index]!))) wrong.push(index);
    }
    expect(wrong).toEqual([]);
    expect(checked).toBeGreaterThan(2000);
    // A full tile folds to the hash the tile above lists (Go's tileHash).
    for (const [level, n] of [
      [0, 0],
      [0, 256],
      [1, 0],
    ] as const) {
      const data = await log.readHashes(tileHashIndexes({ level, n, width: 256 }));
      const bytes = new Uint8Array(256 * 32);
      data.forEach((h, i) => {
        bytes.set(h, i * 32);
      });
      expect(fullTileHash(fastHasher, bytes)).toEqual(log.stored[storedHashIndex(8 * (level + 1), n)]);
    }
    expect(tileWidthAt(1, 0, size)).toBe(256);
    expect(tileWidthAt(1, 1, size)).toBe(Math.floor(size / 256) - 256);
    expect(tileWidthAt(0, 257, size)).toBe(size - 257 * 256);
    expect(tileWidthAt(0, 258, size)).toBe(0);
    expect(tileWidthAt(2, 0, size)).toBe(1);
    expect(tileWidthAt(ENTRIES_LEVEL, 257, size)).toBe(size - 257 * 256);
  });

  it('refuses tile data of the wrong length or a tile that does not cover the index', () => {
    const t = { level: 0, n: 0, width: 4 };
    expect(() => hashFromTile(nodeHasher, t, new Uint8Array(3 * 32), 0)).toThrow(/expected 128/);
    expect(() => hashFromTile(nodeHasher, t, new Uint8Array(4 * 32), storedHashIndex(0, 9))).toThrow(
      /does not hold/,
    );
  });
});

describe('entry bundles', () => {
  it('round-trip with big-endian uint16 lengths', () => {
    const entries = [new Uint8Array(0), Uint8Array.of(1, 2, 3), new Uint8Array(65_535).fill(7)];
    const bundle = encodeEntryBundle(entries);
    expect(Array.from(bundle.subarray(0, 7))).toEqual([0, 0, 0, 3, 1, 2, 3]);
    expect(Array.from(bundle.subarray(7, 9))).toEqual([0xff, 0xff]);
    const back = decodeEntryBundle(bundle);
    expect(back.map((e) => e.length)).toEqual([0, 3, 65_535]);
    expect(Buffer.from(back[1]!).equals(Buffer.from(entries[1]!))).toBe(true);
    expect(Buffer.from(back[2]!).equals(Buffer.from(entries[2]!))).toBe(true);
  });

  it('refuses a truncated bundle and an oversized entry', () => {
    const bundle = encodeEntryBundle([Uint8Array.of(1, 2, 3)]);
    expect(() => decodeEntryBundle(bundle.subarray(0, 4))).toThrow(/past the end/);
    expect(() => decodeEntryBundle(Uint8Array.of(0))).toThrow(/inside a length/);
    expect(() => encodeEntryBundle([new Uint8Array(65_536)])).toThrow(/65536 bytes/);
  });
});
