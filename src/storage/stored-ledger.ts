/**
 * What a ledger folder holds, read through one handle (a view's reads see
 * only its snapshot): entries (entry-log.ts), stored hashes (hash-pages.ts),
 * reads checked against them (checked-reads.ts), block notes, meta, and the
 * raw state and index tables. `LedgerStore` (store.ts) is the handle: it
 * opens, closes and writes the folder, and fills the one hook, `checkOpen`.
 */
import type { IteratorOptions } from 'classic-level';
import { copyBytes, fromUtf8 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import type { HashReader } from '../merkle/prove.js';
import { checkedEntry, checkedEntryBundle, checkedHashTile } from './checked-reads.js';
import type { EntryLog } from './entry-log.js';
import type { HashPages } from './hash-pages.js';
import { keyNumber, metaKey, numberKey, readU64, TABLE, tableRange } from './keys.js';
import { REPLAY_FLOOR, replayFloorAt } from './ledger-meta.js';
import type { LevelReads } from './level-db.js';

export interface StoredBlock {
  readonly height: number;
  readonly note: string;
}

/** The smallest key greater than every key starting with `prefix`, or undefined for all-0xff. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = copyBytes(prefix);
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

/** The parts a handle reads through; the handle keeps them too, to load, append to and close them. */
export interface StoredParts {
  readonly reads: LevelReads;
  readonly log: EntryLog;
  readonly pages: HashPages;
}

export abstract class StoredLedger implements HashReader {
  /** This handle's reads: on a view, from its snapshot only (pieces, bundles, pages, blocks, meta). */
  readonly #reads: LevelReads;
  /** The entries: the open bundle's in memory, complete bundles through a cache. */
  readonly #log: EntryLog;
  /** The stored hashes: the page being filled in memory, full pages through two caches. */
  readonly #pages: HashPages;

  constructor(parts: StoredParts) {
    this.#reads = parts.reads;
    this.#log = parts.log;
    this.#pages = parts.pages;
  }

  /** Throws when the handle may not be read: it is closed, or its tables were found damaged. */
  protected abstract checkOpen(): void;

  /** Number of entries on disk (the durable tree size, if nothing is damaged). */
  get entryCount(): number {
    return this.#log.count;
  }

  getMeta(name: string): string | undefined {
    const v = this.#reads.get(metaKey(name));
    return v === undefined ? undefined : fromUtf8(v);
  }

  /**
   * The replay floor stored with the block that made the ledger `size`
   * entries long (`replayFloorEntry`), or undefined if none was, or it was
   * stored at another size (blocks written since by code that does not keep
   * it: the floor may be stale, so it is not used).
   */
  replayFloor(size: number): number | undefined {
    return replayFloorAt(this.getMeta(REPLAY_FLOOR), size);
  }

  readHashesSync(indexes: readonly number[]): Uint8Array[] {
    return indexes.map(
      (index) =>
        this.readHashNow(index) ?? fail(ErrorCode.NOT_FOUND, `stored hash ${index} is not in the ledger`),
    );
  }

  readHashNow(index: number): Uint8Array | undefined {
    this.checkOpen();
    return this.#pages.readHash(index);
  }

  readHashes(indexes: readonly number[]): Promise<Uint8Array[]> {
    try {
      return Promise.resolve(this.readHashesSync(indexes));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  /** The entry at `index` (a copy), or undefined if it is not stored. */
  getEntry(index: number): Uint8Array | undefined {
    this.checkOpen();
    return this.#log.get(index);
  }

  /** Entries [from, to) in order; stops early at a damaged or missing entry (readers see the gap). */
  async *entries(from: number, to: number): AsyncGenerator<[index: number, entry: Uint8Array]> {
    this.checkOpen();
    for (const item of this.#log.entries(from, to)) yield item;
  }

  /**
   * Entry bundle `n` with its first `width` entries, in C2SP entry-bundle form:
   * the stored bytes as they are when they are exactly that bundle.
   */
  entryBundle(n: number, width: number): Uint8Array | undefined {
    this.checkOpen();
    return this.#log.bundle(n, width);
  }

  /**
   * The entry at `index`, checked against its stored leaf hash (the stored
   * tree that the open checked against the last signed root): what leaves the
   * process is never silently wrong bytes. Undefined if it is not stored.
   */
  checkedEntry(index: number): Uint8Array | undefined {
    return checkedEntry(this, index);
  }

  /**
   * Entry bundle `n` (first `width` entries) in C2SP form, checked against
   * the stored tree before it is served: its entries' leaf hashes fold to the
   * stored hashes of the subtrees they span.
   */
  checkedEntryBundle(n: number, width: number): Uint8Array | undefined {
    return checkedEntryBundle(this, n, width);
  }

  /**
   * Hash tile `level`/`n` of `width` hashes (tile height 8), checked against
   * the stored hashes of the subtrees it spans (the next level's, for a full tile).
   */
  checkedHashTile(level: number, n: number, width: number): Uint8Array {
    return checkedHashTile(this, level, n, width);
  }

  getBlock(height: number): StoredBlock | undefined {
    this.checkOpen();
    const v = this.#reads.get(numberKey(TABLE.block, height));
    return v === undefined ? undefined : { height, note: fromUtf8(v) };
  }

  /** Height of the block that ends exactly at tree size `size`. */
  heightAtSize(size: number): number | undefined {
    this.checkOpen();
    const v = this.#reads.get(numberKey(TABLE.blockBySize, size));
    return v === undefined ? undefined : readU64(v);
  }

  /** Height of the durable block that holds entry `index` (the first block whose size exceeds it). */
  async heightOfIndex(index: number): Promise<number | undefined> {
    this.checkOpen();
    for await (const [, v] of this.#reads.iterator({
      gt: numberKey(TABLE.blockBySize, index),
      lt: Uint8Array.of(TABLE.blockBySize + 1),
      limit: 1,
    })) {
      return readU64(v);
    }
    return undefined;
  }

  async lastBlock(): Promise<StoredBlock | undefined> {
    this.checkOpen();
    for await (const [k, v] of this.#reads.iterator({
      ...tableRange(TABLE.block),
      reverse: true,
      limit: 1,
    })) {
      return { height: keyNumber(k), note: fromUtf8(v) };
    }
    return undefined;
  }

  async *blocks(fromHeight = 0): AsyncGenerator<StoredBlock> {
    this.checkOpen();
    for await (const [k, v] of this.#reads.iterator({
      gte: numberKey(TABLE.block, fromHeight),
      lt: Uint8Array.of(TABLE.block + 1),
    })) {
      yield { height: keyNumber(k), note: fromUtf8(v) };
    }
  }

  /** One value by raw key (state and index tables). */
  getRaw(key: Uint8Array): Uint8Array | undefined {
    this.checkOpen();
    return this.#reads.get(key);
  }

  /** Key/value pairs whose keys start with `prefix`, in key order, from `after` (exclusive) if given. */
  async *scan(
    prefix: Uint8Array,
    options: { after?: Uint8Array; limit?: number; reverse?: boolean } = {},
  ): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.checkOpen();
    const end = prefixEnd(prefix);
    const range: IteratorOptions<Uint8Array, Uint8Array> = { gte: prefix, ...(end ? { lt: end } : {}) };
    if (options.after) {
      if (options.reverse) range.lt = options.after;
      else {
        delete range.gte;
        range.gt = options.after;
      }
    }
    for await (const kv of this.#reads.iterator({
      ...range,
      limit: options.limit ?? -1,
      reverse: options.reverse ?? false,
    })) {
      yield kv;
    }
  }
}
