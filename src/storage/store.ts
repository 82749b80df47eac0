/**
 * The only module that touches the disk: a LevelDB folder in storage format
 * `dirchain-ledger/7` (keys.ts), holding entries (in pieces that join into
 * bundles of 256, see bundles.ts and entry-log.ts), full pages of 256 stored
 * Merkle hashes (hash-pages.ts), block notes and meta. A block is written as
 * one chained batch, so it is on disk whole or not at all. The hash page the
 * tree is filling is not stored: it is derived from the last entries, rebuilt
 * when the folder is opened (`HashPages.rebuildTail`), because stored it
 * would be rewritten whole by every block, which LevelDB logs, flushes and
 * compacts (bench/NOTES.md, "Ack latency at half rate"). A folder in any
 * other format is refused.
 *
 * `LedgerStore` is a handle on the folder: it opens it (or a snapshot view of
 * a handle this process holds), closes it, and writes it; what it reads is
 * in stored-ledger.ts.
 */
import { type DirchainError, ErrorCode, fail } from '../errors.js';
import { type BlockWrite, type Durability, planBlockWrites } from './block-write.js';
import { EntryLog } from './entry-log.js';
import { FolderRegistry, folderKey, type Holding } from './folder-registry.js';
import { HashPages } from './hash-pages.js';
import { metaKey } from './keys.js';
import { checkFormat, metaEntries } from './ledger-meta.js';
import { type DB, LevelReads, openLevel, type Snapshot } from './level-db.js';
import { prefixEnd, StoredLedger } from './stored-ledger.js';
import { TableGuard } from './table-guard.js';
import { WritebackPacer } from './writeback-pacer.js';

export type { BlockWrite, Durability } from './block-write.js';
export { metaEntries, replayFloorEntry, replayFloorMeta, STORAGE_FORMAT } from './ledger-meta.js';
export { prefixEnd, type StoredBlock } from './stored-ledger.js';

/**
 * The folders this process holds (folder-registry.ts). One table per realm
 * even if two copies of dirchain are loaded (two versions in node_modules):
 * kept on `globalThis` under a registered symbol.
 */
const FOLDERS = Symbol.for('dirchain.folders');
const realm = globalThis as { [FOLDERS]?: FolderRegistry<LedgerStore> };
realm[FOLDERS] ??= new FolderRegistry<LedgerStore>();
const folders: FolderRegistry<LedgerStore> = realm[FOLDERS];

export class LedgerStore extends StoredLedger {
  readonly path: string;
  readonly #db: DB;
  /** This handle's reads (a view's: at its snapshot), and the entries and pages read through them. */
  readonly #reads: LevelReads;
  readonly #log: EntryLog;
  readonly #pages: HashPages;
  #closed = false;

  /** Started by the first durable write (see `writeBlocks`), closed with the store. */
  #pacer: WritebackPacer | undefined;
  #paced = false;

  /** Set on a snapshot view (`openForReading` of a folder this process holds): reads see only it. */
  readonly #snapshot: Snapshot | undefined;
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
    const reads = new LevelReads(db, snapshot);
    const parts = { reads, log: new EntryLog(reads), pages: new HashPages(reads) };
    super(parts);
    this.path = path;
    this.#db = db;
    this.#snapshot = snapshot;
    this.#reads = reads;
    this.#log = parts.log;
    this.#pages = parts.pages;
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
    this.checkOpen();
    const snapshot = this.#db.snapshot();
    const view = new LedgerStore(this.path, this.#db, snapshot);
    view.#parent = this;
    view.#guard = this.#guard;
    this.#views.add(view);
    try {
      await view.#log.load();
      try {
        view.#rebuildTailPage();
      } catch {
        // As in `open`: damage is reported by the reads that need the page.
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
    const db = await openLevel(path, options);
    const store = new LedgerStore(path, db);
    store.#guard = tables;
    tables.watch();
    if (!options.create) {
      try {
        await checkFormat(path, store.#reads);
        await store.#log.load();
        try {
          store.#rebuildTailPage();
        } catch {
          // A read error in what it is rebuilt from is damage like a missing
          // page: left unset, so opening a ledger reports missing hashes and
          // an audit (which reads the store itself) names the damaged index.
        }
      } catch (e) {
        tables.stop();
        await db.close();
        throw e;
      }
    }
    return store;
  }

  /** The hash page being filled, from the pages and entries as loaded (through this handle's checks). */
  #rebuildTailPage(): void {
    this.#pages.rebuildTail(
      this.entryCount,
      (index) => this.readHashNow(index),
      (index) => this.getEntry(index),
    );
  }

  /**
   * Closes the handle (a view: releases its snapshot). The folder stays held
   * until LevelDB has closed it, so an open that comes meanwhile waits for that.
   */
  close(): Promise<void> {
    if (this.#closing !== undefined) return this.#closing;
    this.#closed = true;
    this.#pages.clear();
    this.#log.clear();
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
    const plan = planBlockWrites(blocks, this.#log, this.#pages);
    const batch = this.#db.batch();
    for (const [k, v] of plan.puts) batch.put(k, v);
    // The first durable write starts pacing the table files' writeback (see
    // writeback-pacer.ts): only a process that appends with fsync waits on it.
    if (durability === 'sync' && !this.#paced && !this.#closed) {
      this.#paced = true;
      this.#pacer = WritebackPacer.start(this.path);
    }
    await batch.write({ sync: durability === 'sync' });
    plan.appended();
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

  protected checkOpen(): void {
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
    this.checkOpen();
    if (this.#snapshot !== undefined) {
      fail(ErrorCode.READ_ONLY, 'this is a read-only view of a ledger this process holds open', {
        hint: 'write through the handle that holds it',
      });
    }
  }
}
