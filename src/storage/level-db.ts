/**
 * The LevelDB under a ledger folder: opening it, with LevelDB's errors as
 * dirchain's, and reading it as one handle sees it (`LevelReads`: a view
 * reads only its snapshot), with LevelDB's read errors typed.
 */
import { statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel, type IteratorOptions, type KeyIteratorOptions } from 'classic-level';
import { DirchainError, ErrorCode, fail } from '../errors.js';

export type DB = ClassicLevel<Uint8Array, Uint8Array>;
export type Snapshot = ReturnType<DB['snapshot']>;

/**
 * Opens the LevelDB at `path`; `create` makes a new one and fails if one exists.
 * Without `create`, a folder that holds no LevelDB is `E_LEDGER_NOT_FOUND` and is
 * left as it was (see `assertLevelExists`).
 */
export async function openLevel(path: string, options: { create: boolean }): Promise<DB> {
  if (!options.create) assertLevelExists(path);
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
        hint: 'create one first (createLedger)',
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
        hint: 'stop the other process that holds it, or read it through that process',
        cause: e,
      });
    }
    fail(ErrorCode.STORAGE, `cannot open the ledger at ${path}: ${text.trim()}`, { cause: e });
  }
  return db;
}

/**
 * Fails with `E_LEDGER_NOT_FOUND` unless `path` holds a LevelDB (its CURRENT
 * file). LevelDB, told not to create a database, still makes the folder, LOCK
 * and LOG (and rotates LOG to LOG.old) before it finds there is none: an open
 * for reading must leave a folder without a ledger exactly as it was.
 */
export function assertLevelExists(path: string): void {
  try {
    if (statSync(join(path, 'CURRENT')).isFile()) return;
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== 'ENOENT' && code !== 'ENOTDIR') {
      fail(ErrorCode.STORAGE, `cannot read the folder ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${path}`, { hint: 'create one first (createLedger)' });
}

/** The reads of one handle: from its snapshot on a view, LevelDB's errors typed (`readError`). */
export class LevelReads {
  readonly #db: DB;
  readonly #snapshot: Snapshot | undefined;
  /** Read and iterator options: the snapshot's, on a view. */
  readonly #options: { snapshot?: Snapshot };

  constructor(db: DB, snapshot?: Snapshot) {
    this.#db = db;
    this.#snapshot = snapshot;
    this.#options = snapshot === undefined ? {} : { snapshot };
  }

  /** One value by key. */
  get(key: Uint8Array): Uint8Array | undefined {
    try {
      return this.#snapshot === undefined ? this.#db.getSync(key) : this.#db.getSync(key, this.#options);
    } catch (e) {
      throw readError(e);
    }
  }

  /** Key/value pairs in a range, in key order unless `reverse`. */
  iterator(options: IteratorOptions<Uint8Array, Uint8Array>): AsyncGenerator<[Uint8Array, Uint8Array]> {
    return this.#iterate(() => this.#db.iterator({ ...options, ...this.#options }));
  }

  /** Keys in a range, in key order unless `reverse`. */
  keys(options: KeyIteratorOptions<Uint8Array>): AsyncGenerator<Uint8Array> {
    return this.#iterate(() => this.#db.keys({ ...options, ...this.#options }));
  }

  /** An iterator's items, its LevelDB errors (making it, too) typed. */
  async *#iterate<T>(make: () => AsyncIterable<T>): AsyncGenerator<T> {
    try {
      for await (const item of make()) yield item;
    } catch (e) {
      throw readError(e);
    }
  }
}

/** A LevelDB read error as a typed one: damage LevelDB itself noticed, or a failing disk. */
export function readError(e: unknown): unknown {
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
