/**
 * The only module that touches the disk: a LevelDB folder holding entries
 * (packed 256 to a bundle, see bundles.ts), stored Merkle hashes (packed 256
 * to a page), block notes and meta. A block is written as one chained batch,
 * so it is on disk whole or not at all.
 */
import { ClassicLevel } from 'classic-level';
import { concatBytes, copyBytes, equalBytes, fromUtf8, utf8 } from '../crypto/bytes.js';
import { DirchainError, ErrorCode, fail } from '../errors.js';
import { copyHash } from '../merkle/hasher.js';
import { nodeTreeHasher } from '../merkle/node-hasher.js';
import type { HashReader } from '../merkle/prove.js';
import { storedHashCount, storedHashesFrom } from '../merkle/stored.js';
import {
  encodeEntryBundle,
  foldNodes,
  TILE_HEIGHT,
  TILE_WIDTH,
  tileHashIndexes,
  tileSubtrees,
} from '../merkle/tiles.js';
import {
  BUNDLE_WIDTH,
  bundleEntry,
  decodePieceIndex,
  joinPieces,
  type OpenBundle,
  pieceHolding,
  planEntryWrites,
  planPieceWrites,
  readBundle,
  walkEntries,
} from './bundles.js';
import { FolderRegistry, folderKey, type Holding } from './folder-registry.js';
import {
  CURRENT_LAYOUT,
  HASHES_PER_PAGE,
  keyNumber,
  type LogLayout,
  layoutOf,
  logRange,
  metaKey,
  numberKey,
  pieceKey,
  pieceOf,
  readU64,
  TABLE,
  tableRange,
  u64,
} from './keys.js';
import { TableGuard } from './table-guard.js';
import { ValueCache } from './value-cache.js';
import { WritebackPacer } from './writeback-pacer.js';

const HASH = 32;
/**
 * Hash pages (8 KiB each) kept in memory, in two caches so that memory
 * follows use (the page being filled is held apart, in `#tail`). The full
 * pages the last blocks wrote: the newest entries' proofs (a receipt's). Pages proofs read: up
 * to 64 MiB, every page of a 1M-entry log. A page the read cache misses is a
 * LevelDB read of ~5 µs, which was most of a random proof's cost at 1M with a
 * single 16 MiB cache (probe: 40–51k proofs/s then, 83–94k with every page in
 * memory). A sequencer that only appends never fills the read cache.
 */
const RECENT_PAGES = 64;
const READ_PAGES = 8192;
const BUNDLE_CACHE_LIMIT = 64; // ~5 MiB of 300-byte entries: recent blocks and proof reads

/**
 * The storage format this code writes in new ledgers (meta `format`): format
 * 4, with each entry written once, in a piece that is never rewritten
 * (bundles.ts says why and what it measured).
 */
export const STORAGE_FORMAT = 'dirchain-ledger/5';
/**
 * Format 4: format 3's layout (keys.ts), with only full hash pages stored.
 * The page the tree is filling is derived data, rebuilt from the last
 * entries when the folder is opened. Why: every block rewrote it whole, 4 KiB
 * on average at half the batch rate, which LevelDB logged, flushed and
 * compacted. Measured at 1M batched events with an 8 MiB memtable
 * (bench/NOTES.md, "Ack latency at half rate"): 808 → 678 bytes written per
 * event and a half-rate ack p99 of 47.4 / 37.1 → 28.2 / 28.3 ms. Its entries
 * are fragments rewritten whole into each full bundle; read and written as
 * they are.
 */
const FULL_PAGES_FORMAT = 'dirchain-ledger/4';
/** Format 3: as 4, but every block also stored the page it extended. Read and written as it is. */
const PAGES_FORMAT = 'dirchain-ledger/3';

/** Meta entry: `<floor>@<size>`, no record of the first `size` entries is timestamped after `floor`. */
const REPLAY_FLOOR = 'replay-floor';

/** The write that stores the replay floor with a block (in the block's own batch, so the two agree). */
export function replayFloorEntry(floor: number, size: number): [Uint8Array, Uint8Array] {
  return [metaKey(REPLAY_FLOOR), utf8(replayFloorText(floor, size))];
}

/** The same as a meta entry for `putMeta` (a new ledger's). */
export function replayFloorMeta(floor: number, size: number): Record<string, string> {
  return { [REPLAY_FLOOR]: replayFloorText(floor, size) };
}

/** Meta entries as key/value pairs, for a block's batch (`putMeta` writes them in one of their own). */
export function metaEntries(entries: Record<string, string>): Array<[Uint8Array, Uint8Array]> {
  return Object.entries(entries).map(([k, v]) => [metaKey(k), utf8(v)]);
}

function replayFloorText(floor: number, size: number): string {
  return `${floor}@${size}`;
}

/** Bundles and pages in their own tables: read and written as they are. */
const TABLES_FORMAT = 'dirchain-ledger/2';
/** One LevelDB key per entry; upgraded to format 2 when opened. */
const LEGACY_FORMAT = 'dirchain-ledger/1';
const FORMAT_NUMBER = new Map([
  [LEGACY_FORMAT, 1],
  [TABLES_FORMAT, 2],
  [PAGES_FORMAT, 3],
  [FULL_PAGES_FORMAT, 4],
  [STORAGE_FORMAT, 5],
]);
/** The first format that writes each entry once (in pieces). */
const PIECES = 5;
/** The current format's number: derived, so that it cannot drift from `STORAGE_FORMAT`. */
const CURRENT_FORMAT = FORMAT_NUMBER.get(STORAGE_FORMAT)!;
const PAGE_BYTES = HASHES_PER_PAGE * HASH;

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
  /** Stored-hash index of the first of `hashes`. */
  readonly hashStart: number;
  /** The stored hashes the block adds, 32 bytes each, flat. */
  readonly hashes: Uint8Array;
  /** Extra key/value pairs from higher layers (state, indexes), same batch. */
  readonly extra?: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
}

export interface StoredBlock {
  readonly height: number;
  readonly note: string;
}

type DB = ClassicLevel<Uint8Array, Uint8Array>;
type Snapshot = ReturnType<DB['snapshot']>;

/**
 * The folders this process holds (folder-registry.ts). One table per realm
 * even if two copies of dirchain are loaded (two versions in node_modules):
 * kept on `globalThis` under a registered symbol.
 */
const FOLDERS = Symbol.for('dirchain.folders');
const realm = globalThis as { [FOLDERS]?: FolderRegistry<LedgerStore> };
realm[FOLDERS] ??= new FolderRegistry<LedgerStore>();
const folders: FolderRegistry<LedgerStore> = realm[FOLDERS];

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

export class LedgerStore implements HashReader {
  readonly path: string;
  readonly #db: DB;
  /** Where this folder keeps bundles and pages (its storage format's). */
  #layout: LogLayout = CURRENT_LAYOUT;
  /** The folder's storage format, by number (a new folder's is the current one). */
  #format = CURRENT_FORMAT;
  /**
   * The incomplete last hash page as the durable blocks left it, read before
   * the caches. Formats 4 and 5 do not store it: it is rebuilt on open and kept
   * only here; format 3 also stores it with every block.
   */
  #tail: { readonly page: number; readonly bytes: Uint8Array } | undefined;
  readonly #recentPages = new ValueCache(RECENT_PAGES, () => undefined);
  readonly #readPages = new ValueCache(READ_PAGES, (page) => this.#get(this.#layout.pageKey(page)));
  /** Complete bundles (their bytes). */
  readonly #bundles = new ValueCache(BUNDLE_CACHE_LIMIT, (n) => this.#readBundle(n));
  /** The last, incomplete bundle as durable on disk. */
  #open: OpenBundle = { n: 0, entries: [], fragments: [] };
  #closed = false;

  /** Started by the first durable write (see `writeBlocks`), closed with the store. */
  #pacer: WritebackPacer | undefined;
  #paced = false;

  /** Set on a snapshot view (`openForReading` of a folder this process holds): reads see only it. */
  readonly #snapshot: Snapshot | undefined;
  /** Iterator options: the snapshot's, on a view. */
  readonly #reads: { snapshot?: Snapshot };
  /** The registry entry this handle holds (not on a view). */
  #holding: { key: string; holding: Holding<LedgerStore> } | undefined;
  /** Checks the folder's LevelDB tables (a view's is its holder's). */
  #guard: TableGuard | undefined;
  /** The handle a view reads through. */
  #parent: LedgerStore | undefined;
  /** A handle's open views: closed with it. */
  readonly #views = new Set<LedgerStore>();
  #closing: Promise<void> | undefined;

  private constructor(path: string, db: DB, snapshot?: Snapshot) {
    this.path = path;
    this.#db = db;
    this.#snapshot = snapshot;
    this.#reads = snapshot === undefined ? {} : { snapshot };
  }

  /** One value by key, from the snapshot on a view. */
  #get(key: Uint8Array): Uint8Array | undefined {
    try {
      return this.#snapshot === undefined ? this.#db.getSync(key) : this.#db.getSync(key, this.#reads);
    } catch (e) {
      throw readError(e);
    }
  }

  /** An iterator's items, its LevelDB errors (making it, too) typed. */
  async *#iterate<T>(make: () => AsyncIterable<T>): AsyncGenerator<T> {
    try {
      for await (const item of make()) yield item;
    } catch (e) {
      throw readError(e);
    }
  }

  /** Whether this is a read-only snapshot view of a handle this process holds. */
  get isView(): boolean {
    return this.#snapshot !== undefined;
  }

  /** Whether the table files' writeback is being paced (after a durable write, on Linux). */
  get pacingWriteback(): boolean {
    return this.#pacer !== undefined && !this.#closed;
  }

  /**
   * Opens the folder; `create` makes a new one and fails if one exists. A
   * folder this process already holds is refused here, before LevelDB sees it
   * (folder-registry.ts says why); another process's is refused by LevelDB's lock.
   */
  static async open(path: string, options: { create: boolean }): Promise<LedgerStore> {
    for (;;) {
      const key = folderKey(path, options.create);
      const held = folders.get(key);
      if (held === undefined) return LedgerStore.#openClaimed(path, key, options);
      if (held.closing !== undefined) {
        await held.closing;
        continue;
      }
      if (options.create) {
        fail(ErrorCode.LEDGER_EXISTS, `a ledger already exists at ${path} (this process has it open)`, {
          hint: 'use the ledger already open, or pick an empty folder',
        });
      }
      fail(ErrorCode.STORAGE, `the ledger at ${path} is already open in this process`, {
        hint: 'use the ledger already open (one handle per folder and process), or close it first',
      });
    }
  }

  /**
   * Opens the folder for reading: a new handle, or — when this process already
   * holds it — a read-only view of that handle at a LevelDB snapshot taken now,
   * so what it reads is the ledger as its last durable block left it, however
   * the holder appends meanwhile. Close it like a handle (it releases the snapshot).
   */
  static async openForReading(path: string): Promise<LedgerStore> {
    for (;;) {
      const key = folderKey(path, false);
      const held = folders.get(key);
      if (held === undefined) return LedgerStore.#openClaimed(path, key, { create: false });
      if (held.closing !== undefined) await held.closing;
      else if (held.holder === undefined) await held.opened;
      else if (held.holder instanceof LedgerStore) {
        const view = await held.holder.#view();
        if (view !== undefined) return view; // else the holder closed meanwhile: open the folder afresh
      } else {
        fail(ErrorCode.STORAGE, `the ledger at ${path} is open in another copy of dirchain in this process`, {
          hint: 'read it through the copy that holds it',
        });
      }
    }
  }

  static async #openClaimed(path: string, key: string, options: { create: boolean }): Promise<LedgerStore> {
    let settle!: () => void;
    const holding = folders.claim(
      key,
      new Promise<void>((resolve) => {
        settle = resolve;
      }),
    );
    try {
      const store = await LedgerStore.#openDb(path, options);
      store.#holding = { key, holding };
      holding.holder = store;
      return store;
    } catch (e) {
      folders.release(key, holding);
      throw e;
    } finally {
      settle();
    }
  }

  /**
   * A read-only view of this handle at a snapshot taken now (see
   * `openForReading`), or undefined if this handle started closing meanwhile.
   */
  async #view(): Promise<LedgerStore | undefined> {
    if (this.#closing !== undefined) return undefined;
    this.#checkOpen();
    const snapshot = this.#db.snapshot();
    const view = new LedgerStore(this.path, this.#db, snapshot);
    view.#parent = this;
    view.#guard = this.#guard;
    view.#format = this.#format;
    view.#layout = this.#layout;
    this.#views.add(view);
    try {
      await view.#loadOpenBundle();
      if (view.#format >= 4) {
        try {
          view.#rebuildTailPage();
        } catch {
          // As in `open`: damage is reported by the reads that need the page.
        }
      }
    } catch (e) {
      await view.close();
      if (this.#closing !== undefined) return undefined;
      throw e;
    }
    if (this.#closing === undefined) return view;
    await view.close();
    return undefined;
  }

  static async #openDb(path: string, options: { create: boolean }): Promise<LedgerStore> {
    // Every live table is checked before LevelDB reads any (leveldb-files.ts):
    // a damaged block is E_LEDGER_CORRUPT here, never an abort or wrong bytes later.
    const tables = new TableGuard(path);
    tables.checkAll();
    const db: DB = new ClassicLevel(path, {
      keyEncoding: 'view',
      valueEncoding: 'view',
      createIfMissing: options.create,
      errorIfExists: options.create,
      // An 8 MiB memtable (LevelDB's default is 4). Each flush of it to a
      // level-0 file slows the log's fsync while it is written, so its size
      // trades throughput (fewer, larger files to compact) against the ack
      // tail. Measured at 1M batched events with format 4, two rounds each
      // (bench/NOTES.md, "Ack latency at half rate"): appendBatch 1.59 / 1.60×
      // hypercore at 8 MiB and 1.62 / 1.64× at 16; ack p99 at half that rate
      // 28.2 / 28.3 ms at 8 MiB and 41.6 / 44.6 ms at 16.
      // Costs up to two memtables of RAM, fixed however long the log grows.
      writeBufferSize: 8 * 1024 * 1024,
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
      if (/corrupt/i.test(text)) {
        fail(ErrorCode.LEDGER_CORRUPT, `the ledger's storage at ${path} is damaged: ${text.trim()}`, {
          hint: 'the folder was damaged on disk: restore it from a replica or a backup',
          cause: e,
        });
      }
      if (/IO error: lock .*(temporarily unavailable|already held)/i.test(text)) {
        fail(ErrorCode.STORAGE, `the ledger at ${path} is in use by another process`, {
          hint: 'stop the other dirchain process, or query it through that process',
          cause: e,
        });
      }
      fail(ErrorCode.STORAGE, `cannot open the ledger at ${path}: ${text.trim()}`, { cause: e });
    }
    const store = new LedgerStore(path, db);
    store.#guard = tables;
    tables.watch();
    if (!options.create) {
      try {
        await store.#upgrade();
        await store.#loadOpenBundle();
        if (store.#format >= 4) {
          try {
            store.#rebuildTailPage();
          } catch {
            // A read error in what it is rebuilt from is damage like a missing
            // page: left unset, so opening a ledger reports missing hashes and
            // an audit (which reads the store itself) names the damaged index.
          }
        }
      } catch (e) {
        tables.stop();
        await db.close();
        throw e;
      }
    }
    return store;
  }

  /**
   * Picks the folder's layout from its format, and brings format 1 up to
   * format 2 (resumable: each step is one atomic batch).
   */
  async #upgrade(): Promise<void> {
    const format = this.getMeta('format') ?? (await this.#formatWithoutMeta());
    if (format === undefined) return; // a new folder (its meta comes with its genesis block)
    const number = FORMAT_NUMBER.get(format);
    if (number === undefined) {
      fail(ErrorCode.LEDGER_FORMAT, `the ledger at ${this.path} has storage format ${format}`, {
        hint: `this dirchain reads ${[...FORMAT_NUMBER.keys()].join(', ')}; use the dirchain that wrote it, or a newer one`,
      });
    }
    // Formats 2 and 3 differ only in where bundles and pages live; a format-2
    // folder is read and written in its own layout, so opening it costs nothing.
    this.#format = number;
    this.#layout = layoutOf(Math.max(number, 2));
    if (number !== 1) return;
    // One entry per key → bundles. A step moves one bundle's entries and
    // deletes their keys in the same batch, so an interrupted upgrade resumes.
    await this.#loadOpenBundle();
    let bundle: Uint8Array[] = [];
    let first = this.#open.n * BUNDLE_WIDTH;
    let expect = first;
    const flush = async (): Promise<void> => {
      const batch = this.#db.batch();
      const n = Math.floor(first / BUNDLE_WIDTH);
      if (bundle.length === BUNDLE_WIDTH) batch.put(this.#layout.bundleKey(n), encodeEntryBundle(bundle));
      else batch.put(numberKey(TABLE.entryFragment, first), encodeEntryBundle(bundle));
      for (let i = 0; i < bundle.length; i++) batch.del(numberKey(TABLE.legacyEntry, first + i));
      await batch.write({ sync: true });
      first += bundle.length;
      bundle = [];
    };
    for await (const [k, v] of this.#iterate(() =>
      this.#db.iterator({
        gte: numberKey(TABLE.legacyEntry, first),
        lt: Uint8Array.of(TABLE.legacyEntry + 1),
      }),
    )) {
      if (keyNumber(k) !== expect) {
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `entry ${expect} is missing (found while upgrading the storage layout)`,
          {
            index: expect,
            hint: 'restore the folder from a copy, or audit it with the dirchain that wrote it',
          },
        );
      }
      bundle.push(v);
      expect++;
      if (bundle.length === BUNDLE_WIDTH) await flush();
    }
    if (bundle.length > 0) await flush();
    await this.putMeta({ format: TABLES_FORMAT });
  }

  /**
   * Before format 5 a new folder's meta was written after its genesis block,
   * so a crash between the two left a folder without it that earlier
   * versions went on appending to. Such a folder is format 4 (or older) when
   * it holds a fragment or a full bundle (a format-5 bundle index is at most
   * 256 bytes, a full bundle at least 512); otherwise it is empty or current.
   */
  async #formatWithoutMeta(): Promise<string | undefined> {
    const bundle = this.#get(CURRENT_LAYOUT.bundleKey(0));
    if (bundle !== undefined && bundle.length > BUNDLE_WIDTH) return FULL_PAGES_FORMAT;
    let fragments: Uint8Array[];
    try {
      fragments = await this.#db.keys({ ...tableRange(TABLE.entryFragment), limit: 1, ...this.#reads }).all();
    } catch (e) {
      throw readError(e);
    }
    return fragments.length > 0 ? FULL_PAGES_FORMAT : undefined;
  }

  /** Reads where the entries end: the last complete bundle, then the open one's fragments (format 5: pieces). */
  async #loadOpenBundle(): Promise<void> {
    let n = 0;
    // The last bundle; in the log region the newest pages sort after it.
    for await (const k of this.#iterate(() =>
      this.#db.keys({ ...this.#layout.bundleRange(0), reverse: true, ...this.#reads }),
    )) {
      const bundle = this.#layout.bundleOf(k);
      if (bundle === undefined) continue;
      n = bundle + 1;
      break;
    }
    const entries: Uint8Array[] = [];
    const fragments: number[] = [];
    // Format 5 keeps the open bundle's pieces in the log region, among its pages.
    const pieces = this.#format >= PIECES;
    for await (const [k, v] of this.#iterate(() =>
      this.#db.iterator({
        ...(pieces
          ? logRange(n * BUNDLE_WIDTH, (n + 1) * BUNDLE_WIDTH)
          : {
              gte: numberKey(TABLE.entryFragment, n * BUNDLE_WIDTH),
              lt: numberKey(TABLE.entryFragment, (n + 1) * BUNDLE_WIDTH),
            }),
        ...this.#reads,
      }),
    )) {
      const first = pieces ? pieceOf(k) : keyNumber(k);
      if (first === undefined) continue; // a page
      // A fragment that does not continue the entries before it is damage: the
      // entries stop there (reads and audits see the gap at that index).
      if (first !== n * BUNDLE_WIDTH + entries.length) break;
      const part = readBundle(v, BUNDLE_WIDTH - entries.length);
      for (const e of part) entries.push(copyBytes(e));
      fragments.push(first);
    }
    this.#open = { n, entries, fragments };
  }

  /** Number of entries on disk (the durable tree size, if nothing is damaged). */
  get entryCount(): number {
    return this.#open.n * BUNDLE_WIDTH + this.#open.entries.length;
  }

  /**
   * Closes the handle (a view: releases its snapshot). The folder stays held
   * until LevelDB has closed it, so an open that comes meanwhile waits for that.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#recentPages.clear();
    this.#readPages.clear();
    this.#bundles.clear();
    if (this.#snapshot !== undefined) {
      if (this.#parent !== undefined) this.#parent.#views.delete(this);
      this.#closing = this.#snapshot.close().catch(() => undefined);
      return this.#closing;
    }
    const closing = (async () => {
      try {
        // Its views close with it: their reads are then E_LEDGER_CLOSED, not LevelDB's errors.
        await Promise.all([...this.#views].map((v) => v.close()));
        this.#guard?.stop();
        await this.#pacer?.close();
        await this.#db.close();
      } finally {
        if (this.#holding !== undefined) folders.release(this.#holding.key, this.#holding.holding);
      }
    })();
    this.#closing = closing;
    if (this.#holding !== undefined) this.#holding.holding.closing = closing.catch(() => undefined);
    return closing;
  }

  getMeta(name: string): string | undefined {
    const v = this.#get(metaKey(name));
    return v === undefined ? undefined : fromUtf8(v);
  }

  /**
   * The replay floor stored with the block that made the ledger `size`
   * entries long (`replayFloorEntry`), or undefined if none was, or it was
   * stored at another size (blocks written since by code that does not keep
   * it: the floor may be stale, so it is not used).
   */
  replayFloor(size: number): number | undefined {
    const v = this.getMeta(REPLAY_FLOOR);
    const m = v === undefined ? null : /^(\d{1,16})@(\d{1,16})$/.exec(v);
    return m !== null && Number(m[2]) === size ? Number(m[1]) : undefined;
  }

  async putMeta(entries: Record<string, string>): Promise<void> {
    this.#checkWritable();
    const batch = this.#db.batch();
    for (const [k, v] of metaEntries(entries)) batch.put(k, v);
    await batch.write({ sync: true });
  }

  /** Removes a meta entry (synchronously durable). */
  async deleteMeta(name: string): Promise<void> {
    this.#checkWritable();
    await this.#db.batch().del(metaKey(name)).write({ sync: true });
  }

  /** Writes one block in a single LevelDB batch; resolves when durable per `durability`. */
  writeBlock(block: BlockWrite, durability: Durability): Promise<void> {
    return this.writeBlocks([block], durability);
  }

  /**
   * Writes consecutive blocks in a single LevelDB batch (one fsync for all):
   * all of them are on disk, or none is. Each must start where the one before
   * it ends, the first where the store ends.
   */
  async writeBlocks(blocks: readonly BlockWrite[], durability: Durability): Promise<void> {
    this.#checkWritable();
    if (blocks.length === 0) return;
    let entryEnd = this.entryCount;
    let hashEnd = storedHashCount(entryEnd);
    for (const block of blocks) {
      if (block.firstIndex !== entryEnd) {
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `block ${block.height} starts at entry ${block.firstIndex}, the store ends at ${entryEnd}`,
        );
      }
      if (block.hashStart !== hashEnd) {
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `block ${block.height} starts at stored hash ${block.hashStart}, the hashes before it end at ${hashEnd}`,
        );
      }
      entryEnd += block.entries.length;
      hashEnd += block.hashes.length / HASH;
      if (hashEnd !== storedHashCount(entryEnd)) {
        fail(
          ErrorCode.LEDGER_CORRUPT,
          `block ${block.height} ends at entry ${entryEnd} with ${hashEnd} stored hashes, not ${storedHashCount(entryEnd)}`,
        );
      }
    }
    // One plan for all the entries, one set of pages for all the hashes: a
    // bundle or a page the blocks share is written once, in its final form.
    const single = blocks.length === 1;
    const entries = single ? blocks[0]!.entries : blocks.flatMap((b) => b.entries);
    const hashes = single ? blocks[0]!.hashes : concatBytes(...blocks.map((b) => b.hashes));
    const batch = this.#db.batch();
    let next: OpenBundle;
    let full: Array<[number, Uint8Array]> = [];
    if (this.#format >= PIECES) {
      const plan = planPieceWrites(this.#open, entries);
      for (const [first, bytes] of plan.pieces) batch.put(pieceKey(first), bytes);
      for (const [n, index] of plan.completed) batch.put(this.#layout.bundleKey(n), index);
      next = plan.next;
    } else {
      const plan = planEntryWrites(this.#open, entries);
      for (const [n, bytes] of plan.bundles) batch.put(this.#layout.bundleKey(n), bytes);
      if (plan.fragment) batch.put(numberKey(TABLE.entryFragment, plan.fragment[0]), plan.fragment[1]);
      for (const first of plan.deleted) batch.del(numberKey(TABLE.entryFragment, first));
      next = plan.next;
      full = plan.bundles;
    }
    const pages = this.#pagesAfter(blocks[0]!.hashStart, hashes);
    for (const [page, bytes] of pages) {
      if (bytes.length === PAGE_BYTES || this.#format < 4) batch.put(this.#layout.pageKey(page), bytes);
    }
    for (const block of blocks) {
      batch.put(numberKey(TABLE.block, block.height), utf8(block.note));
      batch.put(numberKey(TABLE.blockBySize, block.size), u64(block.height));
      // In block order: a later block's value for a key replaces an earlier one's.
      if (block.extra) for (const [k, v] of block.extra) batch.put(k, v);
    }
    // The first durable write starts pacing the table files' writeback (see
    // writeback-pacer.ts): only a process that appends with fsync waits on it.
    if (durability === 'sync' && !this.#paced && !this.#closed) {
      this.#paced = true;
      this.#pacer = WritebackPacer.start(this.path);
    }
    await batch.write({ sync: durability === 'sync' });
    // Only now, with the blocks on disk, may readers see the pages.
    for (const [page, bytes] of pages) {
      if (bytes.length === PAGE_BYTES) {
        this.#recentPages.put(page, bytes);
        this.#readPages.replace(page, bytes);
        if (this.#tail?.page === page) this.#tail = undefined;
      } else this.#tail = { page, bytes };
    }
    this.#open = next;
    // Format 5's complete bundles are joined from their pieces when first read.
    for (const [n, bytes] of full) this.#bundles.put(n, bytes);
  }

  /** Complete bundle `n` as stored (format 5: its pieces joined), or undefined if it is missing. */
  #readBundle(n: number): Uint8Array | undefined {
    const stored = this.#get(this.#layout.bundleKey(n));
    if (stored === undefined || this.#format < PIECES) return stored;
    return joinPieces(stored, (offset) => this.#piece(n, offset));
  }

  /** Format 5: the piece of complete bundle `n` that starts at `offset` in it. */
  #piece(n: number, offset: number): Uint8Array | undefined {
    return this.#get(pieceKey(n * BUNDLE_WIDTH + offset));
  }

  /** The pages touched by appending `hashes` at stored index `start`, with their new contents. */
  #pagesAfter(start: number, hashes: Uint8Array): Map<number, Uint8Array> {
    const out = new Map<number, Uint8Array>();
    const count = hashes.length / HASH;
    let i = 0;
    while (i < count) {
      const index = start + i;
      const page = Math.floor(index / HASHES_PER_PAGE);
      const offset = index % HASHES_PER_PAGE;
      const take = Math.min(HASHES_PER_PAGE - offset, count - i);
      const bytes = new Uint8Array((offset + take) * HASH);
      if (offset > 0) {
        const old = this.#page(page);
        if (old === undefined || old.length < offset * HASH) {
          fail(ErrorCode.LEDGER_CORRUPT, `hash page ${page} is missing or short before an append`);
        }
        bytes.set(old.subarray(0, offset * HASH));
      }
      bytes.set(hashes.subarray(i * HASH, (i + take) * HASH), offset * HASH);
      out.set(page, bytes);
      i += take;
    }
    return out;
  }

  readHashesSync(indexes: readonly number[]): Uint8Array[] {
    return indexes.map(
      (index) =>
        this.readHashNow(index) ?? fail(ErrorCode.NOT_FOUND, `stored hash ${index} is not in the ledger`),
    );
  }

  /** Hash page `page` as stored (from memory when one of the caches holds it). */
  #page(page: number): Uint8Array | undefined {
    if (page === this.#tail?.page) return this.#tail.bytes;
    return this.#recentPages.get(page) ?? this.#readPages.get(page);
  }

  /**
   * Formats 4 and 5: derive the incomplete last hash page from the full pages
   * before it and the entries since (`storedHashesFrom`, at most ~130 leaf
   * hashes). Left unset when something it needs is missing (damage): the
   * ledger then reports the missing hashes when opened, and an audit names
   * the damaged index.
   */
  #rebuildTailPage(): void {
    const count = storedHashCount(this.entryCount);
    const base = count - (count % HASHES_PER_PAGE);
    if (count === base) return;
    const bytes = storedHashesFrom(
      nodeTreeHasher,
      base,
      this.entryCount,
      (index) => this.readHashNow(index),
      (index) => this.getEntry(index),
    );
    if (bytes !== undefined) this.#tail = { page: base / HASHES_PER_PAGE, bytes };
  }

  readHashNow(index: number): Uint8Array | undefined {
    this.#checkOpen();
    const page = this.#page(Math.floor(index / HASHES_PER_PAGE));
    const at = (index % HASHES_PER_PAGE) * HASH;
    // A copy: a view would keep the whole 8 KiB page alive as long as a proof holds the hash.
    return page === undefined || page.length < at + HASH ? undefined : copyHash(page, at);
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
    this.#checkOpen();
    const n = Math.floor(index / BUNDLE_WIDTH);
    const k = index % BUNDLE_WIDTH;
    if (n < this.#open.n) {
      const bundle = this.#format >= PIECES ? this.#bundles.cached(n) : this.#bundles.get(n);
      if (bundle === undefined && this.#format >= PIECES) return this.#pieceEntry(n, k);
      return bundle === undefined ? undefined : bundleEntry(bundle, k);
    }
    // A copy: the caller may keep or change it.
    return n === this.#open.n ? this.#open.entries[k] && copyBytes(this.#open.entries[k]) : undefined;
  }

  /**
   * Format 5: entry `k` of complete bundle `n` from the one piece that holds
   * it (its index, then that piece), not the whole bundle joined: a random
   * read costs what format 4's read of one full bundle did (probe, 300k
   * entries, random reads: 12–15k/s joining, 24–26k/s for format 4).
   */
  #pieceEntry(n: number, k: number): Uint8Array | undefined {
    const index = this.#get(this.#layout.bundleKey(n));
    const offsets = index === undefined ? undefined : decodePieceIndex(index);
    if (offsets === undefined) return undefined;
    const start = pieceHolding(offsets, k);
    const piece = this.#piece(n, start);
    return piece === undefined ? undefined : bundleEntry(piece, k - start);
  }

  /** Entries [from, to) in order; stops early at a damaged or missing entry (readers see the gap). */
  async *entries(from: number, to: number): AsyncGenerator<[index: number, entry: Uint8Array]> {
    this.#checkOpen();
    to = Math.min(to, this.entryCount);
    if (from >= to) return;
    const open = this.#open;
    let next = from;
    if (next < open.n * BUNDLE_WIDTH && this.#format >= PIECES) {
      // Bundle by bundle, not through the cache: an audit reads each once.
      const end = Math.min(open.n, Math.ceil(to / BUNDLE_WIDTH));
      for (let n = Math.floor(next / BUNDLE_WIDTH); n < end; n++) {
        const bytes = this.#readBundle(n);
        if (bytes === undefined) return; // a missing bundle
        const entries = readBundle(bytes);
        for (let i = next - n * BUNDLE_WIDTH; i < entries.length && next < to; i++, next++)
          yield [next, entries[i]!];
        if (next < to && next < (n + 1) * BUNDLE_WIDTH) return; // a damaged bundle
      }
    } else if (next < open.n * BUNDLE_WIDTH) {
      for await (const [k, v] of this.#iterate(() =>
        this.#db.iterator({
          ...this.#layout.bundleRange(
            Math.floor(next / BUNDLE_WIDTH),
            Math.min(open.n, Math.ceil(to / BUNDLE_WIDTH)),
          ),
          ...this.#reads,
        }),
      )) {
        const bundle = this.#layout.bundleOf(k);
        if (bundle === undefined) continue; // a page between bundles
        const first = bundle * BUNDLE_WIDTH;
        if (first > next) return; // a missing bundle
        const entries = readBundle(v);
        for (let i = next - first; i < entries.length && next < to; i++, next++) yield [next, entries[i]!];
        if (next < to && next < first + BUNDLE_WIDTH) return; // a damaged bundle
      }
      if (next < Math.min(to, open.n * BUNDLE_WIDTH)) return; // bundles missing at the end
    }
    // Copies: these are the store's own bytes of the open bundle.
    for (; next < to; next++) yield [next, copyBytes(open.entries[next - open.n * BUNDLE_WIDTH]!)];
  }

  /**
   * Entry bundle `n` with its first `width` entries, in C2SP entry-bundle form:
   * the stored bytes as they are when they are exactly that bundle.
   */
  entryBundle(n: number, width: number): Uint8Array | undefined {
    this.#checkOpen();
    if (n < this.#open.n) {
      const stored = this.#bundles.get(n);
      if (stored === undefined) return undefined;
      // The first `width` entries are a prefix of the stored form (walked, not decoded into views).
      const { count, end } = walkEntries(stored, width);
      if (count < width) return undefined;
      return end === stored.length ? stored : stored.slice(0, end);
    }
    if (n === this.#open.n && width <= this.#open.entries.length)
      return encodeEntryBundle(this.#open.entries.slice(0, width));
    return undefined;
  }

  /**
   * The entry at `index`, checked against its stored leaf hash (the stored
   * tree that the open checked against the last signed root): what leaves the
   * process is never silently wrong bytes. Undefined if it is not stored.
   */
  checkedEntry(index: number): Uint8Array | undefined {
    const entry = this.getEntry(index);
    if (entry === undefined) return undefined;
    this.#checkNodes(0, index, nodeTreeHasher.leaf(entry), 1, 0, `entry ${index}`, 0);
    return entry;
  }

  /**
   * Entry bundle `n` (first `width` entries) in C2SP form, checked against
   * the stored tree before it is served: its entries' leaf hashes fold to the
   * stored hashes of the subtrees they span.
   */
  checkedEntryBundle(n: number, width: number): Uint8Array | undefined {
    const body = this.entryBundle(n, width);
    if (body === undefined) return undefined;
    const entries = readBundle(body, width);
    const leaves = new Uint8Array(width * HASH);
    if (entries.length !== width) fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${n} does not decode`);
    for (let i = 0; i < width; i++) leaves.set(nodeTreeHasher.leaf(entries[i]!), i * HASH);
    this.#checkNodes(0, n * BUNDLE_WIDTH, leaves, width, 0, `entry bundle ${n}`, 0);
    return body;
  }

  /**
   * Hash tile `level`/`n` of `width` hashes (tile height 8), checked against
   * the stored hashes of the subtrees it spans (the next level's, for a full tile).
   */
  checkedHashTile(level: number, n: number, width: number): Uint8Array {
    const tile = { level, n, width };
    const hashes = this.readHashesSync(tileHashIndexes(tile));
    const data = new Uint8Array(width * HASH);
    for (let i = 0; i < width; i++) data.set(hashes[i]!, i * HASH);
    this.#checkNodes(TILE_HEIGHT * level, n * TILE_WIDTH, data, width, 1, `hash tile ${level}/${n}`, level);
    return data;
  }

  /**
   * Checks `width` nodes of tree `level` from node `first` (32 bytes each) by
   * folding the complete subtrees they form and comparing each root with the
   * stored one (`tileSubtrees`). `tileLevel` scales a node number to a leaf
   * index for the error.
   */
  #checkNodes(
    level: number,
    first: number,
    nodes: Uint8Array,
    width: number,
    minHeight: number,
    what: string,
    tileLevel: number,
  ): void {
    for (const s of tileSubtrees(level, first, width, minHeight)) {
      const stored = this.readHashNow(s.index);
      if (stored === undefined || !equalBytes(stored, foldNodes(nodeTreeHasher, nodes, s.from, s.to))) {
        const index = (first + s.from) * 2 ** (TILE_HEIGHT * tileLevel);
        fail(ErrorCode.LEDGER_CORRUPT, `${what} does not match the stored Merkle tree (at entry ${index})`, {
          index,
          hint: 'the folder was damaged on disk: audit it, and restore it from a replica or a backup',
        });
      }
    }
  }

  getBlock(height: number): StoredBlock | undefined {
    this.#checkOpen();
    const v = this.#get(numberKey(TABLE.block, height));
    return v === undefined ? undefined : { height, note: fromUtf8(v) };
  }

  /** Height of the block that ends exactly at tree size `size`. */
  heightAtSize(size: number): number | undefined {
    this.#checkOpen();
    const v = this.#get(numberKey(TABLE.blockBySize, size));
    return v === undefined ? undefined : readU64(v);
  }

  async lastBlock(): Promise<StoredBlock | undefined> {
    this.#checkOpen();
    for await (const [k, v] of this.#iterate(() =>
      this.#db.iterator({ ...tableRange(TABLE.block), reverse: true, limit: 1, ...this.#reads }),
    )) {
      return { height: keyNumber(k), note: fromUtf8(v) };
    }
    return undefined;
  }

  async *blocks(fromHeight = 0): AsyncGenerator<StoredBlock> {
    this.#checkOpen();
    for await (const [k, v] of this.#iterate(() =>
      this.#db.iterator({
        gte: numberKey(TABLE.block, fromHeight),
        lt: Uint8Array.of(TABLE.block + 1),
        ...this.#reads,
      }),
    )) {
      yield { height: keyNumber(k), note: fromUtf8(v) };
    }
  }

  /** One value by raw key (state and index tables). */
  getRaw(key: Uint8Array): Uint8Array | undefined {
    this.#checkOpen();
    return this.#get(key);
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
    for await (const kv of this.#iterate(() =>
      this.#db.iterator({
        ...range,
        limit: options.limit ?? -1,
        reverse: options.reverse ?? false,
        ...this.#reads,
      }),
    )) {
      yield kv;
    }
  }

  /** Deletes every key starting with `prefix` (used to rebuild state). */
  async clearPrefix(prefix: Uint8Array): Promise<void> {
    this.#checkWritable();
    const end = prefixEnd(prefix);
    await this.#db.clear({ gte: prefix, ...(end ? { lt: end } : {}) });
  }

  /** Writes raw key/value pairs in one batch. */
  async putRaw(
    pairs: ReadonlyArray<readonly [Uint8Array, Uint8Array]>,
    durability: Durability = 'sync',
  ): Promise<void> {
    this.#checkWritable();
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
    const damage = this.#guard?.damage;
    if (damage !== undefined) throw damage;
  }

  /**
   * Checks now every table LevelDB added since the last check, instead of
   * waiting for the periodic one; returns the damage found, if any (reads and
   * writes then fail with it).
   */
  checkNewTables(): DirchainError | undefined {
    this.#guard?.checkNew();
    return this.#guard?.damage;
  }

  /**
   * As `checkNewTables`, without blocking the event loop for more than ~1 MiB
   * of checksums at a time (`/dirchain/health`).
   */
  async checkNewTablesGently(): Promise<DirchainError | undefined> {
    await this.#guard?.checkNewGently();
    return this.#guard?.damage;
  }

  /** Damage found in the folder's tables since it was opened (reads and writes then fail with it). */
  get damage(): DirchainError | undefined {
    return this.#guard?.damage;
  }

  #checkWritable(): void {
    this.#checkOpen();
    if (this.#snapshot !== undefined) {
      fail(ErrorCode.READ_ONLY, 'this is a read-only view of a ledger this process holds open', {
        hint: 'write through the handle that holds it',
      });
    }
  }
}

/** A LevelDB read error as a typed one: damage LevelDB itself noticed, or a failing disk. */
function readError(e: unknown): unknown {
  if (e instanceof Error && 'code' in e && e.code === 'LEVEL_CORRUPTION') {
    return new DirchainError(ErrorCode.LEDGER_CORRUPT, `the ledger's storage is damaged: ${e.message}`, {
      hint: 'the folder was damaged on disk: restore it from a replica or a backup',
      cause: e,
    });
  }
  if (e instanceof Error && 'code' in e && typeof e.code === 'string' && e.code.startsWith('LEVEL_')) {
    return new DirchainError(ErrorCode.STORAGE, `reading the ledger failed: ${e.message}`, { cause: e });
  }
  return e;
}
