/**
 * Keeps a ledger folder's LevelDB tables checked (leveldb-files.ts says why):
 * all live tables before LevelDB opens the folder, then, while it is open, each
 * table LevelDB adds, once it has stayed live for one interval (most flushes'
 * and compactions' outputs are merged away again within seconds, and checking
 * each would cost the writer CPU). Damage found while open is kept in
 * `damage`; the store answers every later read with it.
 *
 * The limit, short of LevelDB's own `paranoid_checks`, which classic-level
 * does not set: a table that LevelDB wrote and that is damaged on disk before
 * it is checked can be compacted meanwhile, and LevelDB copies what it reads
 * without checking it into a new table with valid checksums. Entries and
 * hashes that leave the process are still checked against the stored tree;
 * state and index values are checked by an audit's replay.
 */
import { DirchainError, ErrorCode } from '../errors.js';
import { describeKey } from './keys.js';
import {
  checkLogs,
  checkTable,
  checkTableGently,
  FileDamage,
  type LiveTable,
  liveTables,
  readVersion,
} from './leveldb-files.js';

/** How often an open folder's new tables are looked for. */
export const TABLE_CHECK_INTERVAL_MS = 10_000;

export class TableGuard {
  readonly #dir: string;
  /** Table numbers checked since the folder was opened. */
  readonly #checked = new Set<number>();
  /** Tables seen live at the last look and not checked yet. */
  #seen = new Set<number>();
  #timer: NodeJS.Timeout | undefined;
  #ticking = false;
  #stopped = false;
  /** The check under way (checks run one at a time). */
  #running: Promise<void> = Promise.resolve();
  #damage: DirchainError | undefined;

  constructor(dir: string) {
    this.#dir = dir;
  }

  /** The damage a check found, if any. */
  get damage(): DirchainError | undefined {
    return this.#damage;
  }

  /** How many tables have been checked (for tests and the bench). */
  get checked(): number {
    return this.#checked.size;
  }

  /**
   * Before LevelDB opens the folder: checks every live table not checked yet
   * and the logs LevelDB will replay; throws `E_LEDGER_CORRUPT` naming the first damage.
   */
  checkAll(): void {
    this.#check(() => true);
    try {
      const version = readVersion(this.#dir);
      if (version !== undefined) checkLogs(this.#dir, version);
    } catch (e) {
      throw damageError(e);
    }
  }

  /** Checks every live table not checked yet and keeps what it finds in `damage` (never throws). */
  checkNew(): void {
    if (this.#damage !== undefined) return;
    try {
      this.#check(() => true);
    } catch (e) {
      // Only damage is kept; a failed read (too many open files, say) is tried again next time.
      if (isDamage(e)) this.#damage = e;
    }
  }

  /**
   * Starts looking for new tables every `intervalMs` (the timer does not keep
   * the process alive). The tables due are checked one at a time, without
   * blocking the event loop for more than ~1 MiB of checksums at once.
   */
  watch(intervalMs = TABLE_CHECK_INTERVAL_MS): void {
    this.#timer ??= setInterval(() => {
      if (this.#damage === undefined && !this.#ticking) void this.#queue(false);
    }, intervalMs).unref();
  }

  /**
   * Checks every live table not checked yet, as the periodic check does
   * (without blocking the event loop for more than ~1 MiB at a time), but now
   * and without waiting for tables to stay live: for a health check.
   */
  checkNewGently(): Promise<void> {
    return this.#queue(true);
  }

  /** Runs a check after the one under way, if any: one at a time. */
  #queue(all: boolean): Promise<void> {
    const run = this.#running.then(() => this.#tick(all));
    this.#running = run;
    return run;
  }

  async #tick(all: boolean): Promise<void> {
    if (this.#damage !== undefined) return;
    this.#ticking = true;
    try {
      const before = this.#seen;
      this.#seen = new Set();
      let tables: LiveTable[];
      try {
        tables = liveTables(this.#dir) ?? [];
      } catch (e) {
        throw damageError(e);
      }
      for (const table of tables) {
        if (this.#checked.has(table.number)) continue;
        this.#seen.add(table.number);
        if (!all && !before.has(table.number)) continue; // checked once it has stayed live for an interval
        if (this.#stopped) return;
        try {
          await checkTableGently(this.#dir, table);
        } catch (e) {
          if (e instanceof FileDamage && e.detail === 'is missing' && !this.#stillLive(table.number))
            continue;
          throw damageError(e);
        }
        this.#checked.add(table.number);
      }
    } catch (e) {
      // Damage is kept, not thrown (there is no caller here): every later read reports it.
      // A failed read (too many open files, say) is tried again at the next interval.
      if (isDamage(e)) this.#damage = e;
    } finally {
      this.#ticking = false;
    }
  }

  stop(): void {
    this.#stopped = true;
    if (this.#timer !== undefined) clearInterval(this.#timer);
    this.#timer = undefined;
  }

  #check(due: (t: LiveTable) => boolean): void {
    let tables: LiveTable[] | undefined;
    try {
      tables = liveTables(this.#dir);
    } catch (e) {
      throw damageError(e);
    }
    for (const table of tables ?? []) {
      if (this.#checked.has(table.number) || !due(table)) continue;
      try {
        checkTable(this.#dir, table);
      } catch (e) {
        // A table another process compacted away since the MANIFEST was read is
        // no longer live: nothing to check. Live and missing is damage.
        if (e instanceof FileDamage && e.detail === 'is missing' && !this.#stillLive(table.number)) continue;
        throw damageError(e);
      }
      this.#checked.add(table.number);
    }
  }

  #stillLive(number: number): boolean {
    try {
      return (liveTables(this.#dir) ?? []).some((t) => t.number === number);
    } catch {
      return true;
    }
  }
}

function corruption(message: string, index?: number): DirchainError {
  return new DirchainError(ErrorCode.LEDGER_CORRUPT, message, {
    hint: 'the folder was damaged on disk: restore it from a replica or a backup',
    ...(index === undefined ? {} : { index }),
  });
}

const isDamage = (e: unknown): e is DirchainError =>
  e instanceof DirchainError && e.code === ErrorCode.LEDGER_CORRUPT;

/** `FileDamage` as E_LEDGER_CORRUPT; any other error (the files could not be read) as E_STORAGE. */
function damageError(e: unknown): DirchainError {
  if (!(e instanceof FileDamage)) {
    return new DirchainError(
      ErrorCode.STORAGE,
      `the ledger's storage files cannot be checked: ${(e as Error)?.message ?? e}`,
      {
        hint: 'check the folder is readable and the process has file descriptors to spare, then retry',
        cause: e,
      },
    );
  }
  const upTo = e.keys.upTo === undefined ? undefined : describeKey(e.keys.upTo);
  const after = e.keys.after === undefined ? undefined : describeKey(e.keys.after);
  const held =
    upTo === undefined
      ? ''
      : after === undefined
        ? ` (it holds keys up to ${upTo.text})`
        : after.text === upTo.text
          ? ` (it holds ${upTo.text})`
          : ` (it holds keys after ${after.text}, up to ${upTo.text})`;
  return corruption(
    `the ledger's storage is damaged: LevelDB file ${e.message}${held}`,
    after?.index ?? upTo?.index,
  );
}
