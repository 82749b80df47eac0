/**
 * The only module that touches the disk: a LevelDB folder holding entries,
 * stored Merkle hashes (packed 256 to a page), block notes and meta.
 * A block is written as one chained batch, so it is on disk whole or not at all.
 */
import { ClassicLevel } from 'classic-level';
import { fromUtf8, utf8 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import type { HashReader } from '../merkle/prove.js';
import { keyNumber, metaKey, numberKey, readU64, TABLE, tableRange, u64 } from './keys.js';

const HASH = 32;
export const HASHES_PER_PAGE = 256;
const PAGE_CACHE_LIMIT = 2048; // 16 MiB: the upper levels of any tree stay hot

export type Durability = 'sync' | 'buffered';

/** Everything one block adds, written in one batch. */
export interface BlockWrite {
  readonly height: number;
  /** The signed checkpoint note of the block. */
  readonly note: string;
  /** Tree size after the block. */
  readonly size: number;
  /** Index of the block's first entry. */
  readonly firstIndex: number;
  readonly entries: readonly Uint8Array[];
  /** Stored-hash index of `hashes[0]`. */
  readonly hashStart: number;
  readonly hashes: readonly Uint8Array[];
  /** Extra key/value pairs from higher layers (state, indexes), same batch. */
  readonly extra?: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
}

export interface StoredBlock {
  readonly height: number;
  readonly note: string;
}

type DB = ClassicLevel<Uint8Array, Uint8Array>;

/** The smallest key greater than every key starting with `prefix`, or undefined for all-0xff. */
export function prefixEnd(prefix: Uint8Array): Uint8Array | undefined {
  const end = prefix.slice();
  for (let i = end.length - 1; i >= 0; i--) {
    if (end[i]! < 0xff) {
      end[i]!++;
      return end.subarray(0, i + 1);
    }
  }
  return undefined;
}

export class LedgerStore implements HashReader {
  readonly path: string;
  readonly #db: DB;
  readonly #pages = new Map<number, Uint8Array>();
  #closed = false;

  private constructor(path: string, db: DB) {
    this.path = path;
    this.#db = db;
  }

  /** Opens the folder; `create` makes a new one and fails if one exists. */
  static async open(path: string, options: { create: boolean; readOnly?: boolean }): Promise<LedgerStore> {
    const db: DB = new ClassicLevel(path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: options.create,
      errorIfExists: options.create,
    });
    try {
      await db.open();
    } catch (e) {
      const cause = (e as { cause?: { message?: string } }).cause;
      const text = `${(e as Error).message} ${cause?.message ?? ''}`;
      if (options.create && /exists/i.test(text)) {
        fail(ErrorCode.LEDGER_EXISTS, `a ledger already exists at ${path}`, {
          hint: 'open it instead, or pick an empty folder',
        });
      }
      if (!options.create && /does not exist|No such file/i.test(text)) {
        fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${path}`, {
          hint: 'create one with `dirchain init <dir> --origin <name>`',
        });
      }
      if (/lock/i.test(text)) {
        fail(ErrorCode.STORAGE, `the ledger at ${path} is in use by another process`, {
          hint: 'stop the other dirchain process, or query it through that process',
          cause: e,
        });
      }
      fail(ErrorCode.STORAGE, `cannot open the ledger at ${path}: ${text.trim()}`, { cause: e });
    }
    return new LedgerStore(path, db);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    this.#pages.clear();
    await this.#db.close();
  }

  getMeta(name: string): string | undefined {
    const v = this.#db.getSync(metaKey(name));
    return v === undefined ? undefined : fromUtf8(v);
  }

  async putMeta(entries: Record<string, string>): Promise<void> {
    const batch = this.#db.batch();
    for (const [k, v] of Object.entries(entries)) batch.put(metaKey(k), utf8(v));
    await batch.write({ sync: true });
  }

  /** Removes a meta entry (synchronously durable). */
  async deleteMeta(name: string): Promise<void> {
    await this.#db.batch().del(metaKey(name)).write({ sync: true });
  }

  /** Writes one block in a single LevelDB batch; resolves when durable per `durability`. */
  async writeBlock(block: BlockWrite, durability: Durability): Promise<void> {
    const batch = this.#db.batch();
    for (let i = 0; i < block.entries.length; i++)
      batch.put(numberKey(TABLE.entry, block.firstIndex + i), block.entries[i]!);
    const pages = this.#pagesAfter(block.hashStart, block.hashes);
    for (const [page, bytes] of pages) batch.put(numberKey(TABLE.hashPage, page), bytes);
    batch.put(numberKey(TABLE.block, block.height), utf8(block.note));
    batch.put(numberKey(TABLE.blockBySize, block.size), u64(block.height));
    if (block.extra) for (const [k, v] of block.extra) batch.put(k, v);
    await batch.write({ sync: durability === 'sync' });
    // Only now, with the pages on disk, may readers see them.
    for (const [page, bytes] of pages) this.#cachePage(page, bytes);
  }

  /** The pages touched by appending `hashes` at stored index `start`, with their new contents. */
  #pagesAfter(start: number, hashes: readonly Uint8Array[]): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    let i = 0;
    while (i < hashes.length) {
      const index = start + i;
      const page = Math.floor(index / HASHES_PER_PAGE);
      const offset = index % HASHES_PER_PAGE;
      const take = Math.min(HASHES_PER_PAGE - offset, hashes.length - i);
      const bytes = new Uint8Array((offset + take) * HASH);
      if (offset > 0) {
        const old = this.#page(page);
        if (old === undefined || old.length < offset * HASH) {
          fail(ErrorCode.LEDGER_CORRUPT, `hash page ${page} is missing or short before an append`);
        }
        bytes.set(old.subarray(0, offset * HASH));
      }
      for (let j = 0; j < take; j++) bytes.set(hashes[i + j]!, (offset + j) * HASH);
      out.set(page, bytes);
      i += take;
    }
    return out;
  }

  #page(page: number): Uint8Array | undefined {
    let bytes = this.#pages.get(page);
    if (bytes !== undefined) {
      // Refresh LRU position.
      this.#pages.delete(page);
      this.#pages.set(page, bytes);
      return bytes;
    }
    bytes = this.#db.getSync(numberKey(TABLE.hashPage, page));
    if (bytes !== undefined) this.#cachePage(page, bytes);
    return bytes;
  }

  #cachePage(page: number, bytes: Uint8Array): void {
    this.#pages.delete(page);
    this.#pages.set(page, bytes);
    if (this.#pages.size > PAGE_CACHE_LIMIT) this.#pages.delete(this.#pages.keys().next().value!);
  }

  readHashesSync(indexes: readonly number[]): Uint8Array[] {
    this.#checkOpen();
    return indexes.map((index) => {
      const page = this.#page(Math.floor(index / HASHES_PER_PAGE));
      const at = (index % HASHES_PER_PAGE) * HASH;
      if (page === undefined || page.length < at + HASH) {
        fail(ErrorCode.NOT_FOUND, `stored hash ${index} is not in the ledger`);
      }
      // A copy: a view would keep the whole 8 KiB page alive as long as a proof holds the hash.
      return page.slice(at, at + HASH);
    });
  }

  readHashes(indexes: readonly number[]): Promise<Uint8Array[]> {
    try {
      return Promise.resolve(this.readHashesSync(indexes));
    } catch (e) {
      return Promise.reject(e);
    }
  }

  getEntry(index: number): Uint8Array | undefined {
    this.#checkOpen();
    return this.#db.getSync(numberKey(TABLE.entry, index));
  }

  /** Entries [from, to) in order. */
  async *entries(from: number, to: number): AsyncGenerator<[index: number, entry: Uint8Array]> {
    this.#checkOpen();
    if (from >= to) return;
    for await (const [k, v] of this.#db.iterator({
      gte: numberKey(TABLE.entry, from),
      lt: numberKey(TABLE.entry, to),
    })) {
      yield [keyNumber(k), v];
    }
  }

  getBlock(height: number): StoredBlock | undefined {
    this.#checkOpen();
    const v = this.#db.getSync(numberKey(TABLE.block, height));
    return v === undefined ? undefined : { height, note: fromUtf8(v) };
  }

  /** Height of the block that ends exactly at tree size `size`. */
  heightAtSize(size: number): number | undefined {
    this.#checkOpen();
    const v = this.#db.getSync(numberKey(TABLE.blockBySize, size));
    return v === undefined ? undefined : readU64(v);
  }

  async lastBlock(): Promise<StoredBlock | undefined> {
    this.#checkOpen();
    for await (const [k, v] of this.#db.iterator({ ...tableRange(TABLE.block), reverse: true, limit: 1 })) {
      return { height: keyNumber(k), note: fromUtf8(v) };
    }
    return undefined;
  }

  async *blocks(fromHeight = 0): AsyncGenerator<StoredBlock> {
    this.#checkOpen();
    for await (const [k, v] of this.#db.iterator({
      gte: numberKey(TABLE.block, fromHeight),
      lt: Uint8Array.of(TABLE.block + 1),
    })) {
      yield { height: keyNumber(k), note: fromUtf8(v) };
    }
  }

  /** One value by raw key (state and index tables). */
  getRaw(key: Uint8Array): Uint8Array | undefined {
    this.#checkOpen();
    return this.#db.getSync(key);
  }

  /** Key/value pairs whose keys start with `prefix`, in key order, from `after` (exclusive) if given. */
  async *scan(
    prefix: Uint8Array,
    options: { after?: Uint8Array; limit?: number; reverse?: boolean } = {},
  ): AsyncGenerator<[Uint8Array, Uint8Array]> {
    this.#checkOpen();
    const end = prefixEnd(prefix);
    const range: Record<string, unknown> = { gte: prefix, ...(end ? { lt: end } : {}) };
    if (options.after) {
      if (options.reverse) range.lt = options.after;
      else {
        delete range.gte;
        range.gt = options.after;
      }
    }
    for await (const kv of this.#db.iterator({
      ...range,
      limit: options.limit ?? -1,
      reverse: options.reverse ?? false,
    })) {
      yield kv;
    }
  }

  /** Deletes every key starting with `prefix` (used to rebuild state). */
  async clearPrefix(prefix: Uint8Array): Promise<void> {
    const end = prefixEnd(prefix);
    await this.#db.clear({ gte: prefix, ...(end ? { lt: end } : {}) });
  }

  /** Writes raw key/value pairs in one batch. */
  async putRaw(
    pairs: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
    durability: Durability = 'sync',
  ): Promise<void> {
    const batch = this.#db.batch();
    for (const [k, v] of pairs) batch.put(k, v);
    await batch.write({ sync: durability === 'sync' });
  }

  /** Raw access for tests and repair tools; never used by the ledger itself. */
  get db(): DB {
    return this.#db;
  }

  #checkOpen(): void {
    if (this.#closed) fail(ErrorCode.LEDGER_CLOSED, 'the ledger is closed');
  }
}
