/**
 * The ledger folders this process holds open, by device and inode.
 *
 * LevelDB keeps a folder to one writer with an fcntl lock on `<dir>/LOCK`.
 * POSIX ties fcntl locks to the process, not the descriptor: the process
 * loses its lock on a file when it closes *any* descriptor of that file. When
 * a second open in the same process finds the lock held, LevelDB 1.20 (in
 * classic-level 3) opens LOCK again, fails, and closes that descriptor — so
 * the first handle silently loses the lock, and another process can then open
 * the folder as a second writer. Two opens in one process must therefore never
 * both reach LevelDB: the second is answered here, from this table.
 *
 * Keyed by the folder's device and inode rather than its path, so that a
 * symlink, a relative path or a bind mount of the same folder is the same key.
 * The table lives in one JavaScript realm: a worker thread would have its own,
 * so folders are opened only on the main thread (`assertMainThread`).
 */
import { mkdirSync, statSync } from 'node:fs';
import { isMainThread } from 'node:worker_threads';
import { ErrorCode, fail } from '../errors.js';

/** One held folder: what holds it, and whether it is still opening or already closing. */
export interface Holding<T> {
  /** Set once the open finished. */
  holder: T | undefined;
  /** Settles when the open finished (either way). */
  readonly opened: Promise<unknown>;
  /** Set when the holder started closing; settles when it is closed. */
  closing: Promise<unknown> | undefined;
}

/**
 * The identity of the folder at `path`: its device and inode. `create` makes
 * the folder first (LevelDB would make it anyway); otherwise a missing folder
 * is `E_LEDGER_NOT_FOUND`.
 */
export function folderKey(path: string, create: boolean): string {
  assertMainThread(path);
  if (create) {
    try {
      mkdirSync(path, { recursive: true });
    } catch (e) {
      fail(ErrorCode.STORAGE, `cannot create the folder ${path}: ${(e as Error).message}`, { cause: e });
    }
  }
  let stat: ReturnType<typeof statSync>;
  try {
    stat = statSync(path, { bigint: true });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') {
      return fail(ErrorCode.LEDGER_NOT_FOUND, `no ledger at ${path}`, {
        hint: 'create one first (createLedger)',
      });
    }
    return fail(ErrorCode.STORAGE, `cannot read the folder ${path}: ${(e as Error).message}`, { cause: e });
  }
  if (!stat.isDirectory()) {
    fail(ErrorCode.LEDGER_NOT_FOUND, `${path} is not a folder`, { hint: 'give the ledger folder' });
  }
  return `${stat.dev}:${stat.ino}`;
}

/**
 * Refuses to open a folder from a worker thread: its table of held folders
 * would not be this one, and a second open reaching LevelDB drops the lock.
 */
export function assertMainThread(path: string): void {
  if (!isMainThread) {
    fail(ErrorCode.STORAGE, `a ledger folder (${path}) can be opened only on the main thread`, {
      hint: 'open the ledger on the main thread and pass what the worker needs to it',
    });
  }
}

/** The process-wide table. One per realm; see the module comment. */
export class FolderRegistry<T> {
  readonly #held = new Map<string, Holding<T>>();

  get(key: string): Holding<T> | undefined {
    return this.#held.get(key);
  }

  /** Records that `key` is being opened; `opened` settles when that open finished. */
  claim(key: string, opened: Promise<unknown>): Holding<T> {
    if (this.#held.has(key)) throw new Error(`folder ${key} is already claimed`); // callers check first
    const holding: Holding<T> = { holder: undefined, opened, closing: undefined };
    this.#held.set(key, holding);
    return holding;
  }

  /** Forgets `key`, if `holding` is still what holds it. */
  release(key: string, holding: Holding<T>): void {
    if (this.#held.get(key) === holding) this.#held.delete(key);
  }

  /** How many folders are held (for tests). */
  get size(): number {
    return this.#held.size;
  }
}
