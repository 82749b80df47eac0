/**
 * The local-only store: named secrets (openings, private keys, index keys) kept as
 * files in a folder of their own, beside the ledger's LevelDB folder and never in it.
 *
 * Why it exists (ARCHITECTURE.md, Rules): only this store holds secrets, and nothing
 * that serves, publishes or replicates can read it. The LevelDB folder is served as
 * tiles, copied by followers and published; anything written there is public for
 * good. `.dependency-cruiser.cjs` (rule `local-store-not-served`) keeps node/, sync/,
 * reader/, audit/, web/ and the verifier from reaching this module.
 *
 * What it guarantees, on a POSIX filesystem:
 * - The folder is mode 0700 and each secret file 0600; a folder that group or others
 *   can reach, or that another user owns, is refused rather than used.
 * - `put` is atomic: the value goes to a temporary file in the same folder (0600),
 *   which is fsynced, renamed over the target, and the folder fsynced. After a crash
 *   `get` returns the old value or the new one, never a mix. Temporary files left by
 *   a crash are removed by the next `open`.
 * - `delete` unlinks the file and fsyncs the folder: no tombstone, no backup copy.
 *
 * Its limits: unlinking frees the file's blocks but does not scrub them, and an SSD's
 * wear-levelling, a copy-on-write filesystem, a filesystem snapshot or a backup of the
 * folder may keep old values out of this module's reach (full-disk encryption is
 * what covers those). One process at a time: `open` removes every temporary file,
 * including one another process is still writing.
 */
import { randomBytes } from 'node:crypto';
import {
  chmod,
  type FileHandle,
  mkdir,
  open,
  readdir,
  readFile,
  rename,
  stat,
  unlink,
} from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { checkBytes, checkObject, checkString, copyBytes, show } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';

/** A secret's name: what its file is called. Never starts with '.', so never a temporary file. */
const NAME = /^[a-z0-9][a-z0-9._-]{0,127}$/;
/** Temporary files of `put`: `.tmp-<name>-<16 hex>`. */
const TEMP_PREFIX = '.tmp-';
/** The largest value `put` accepts: secrets are keys and openings, not documents. */
export const MAX_SECRET_BYTES = 1024 * 1024;

export interface LocalStoreOpenOptions {
  /** Make the folder (mode 0700, with any missing parents) if it does not exist. */
  create?: boolean;
}

export class LocalStore {
  /** The folder that holds the secrets. */
  readonly path: string;

  private constructor(path: string) {
    this.path = path;
  }

  /**
   * Opens the store in the folder `path`, removing temporary files a crash left.
   * Refuses (E_STORAGE) a folder that group or others can reach or another user owns;
   * a missing folder is E_NOT_FOUND unless `create`.
   * @example const secrets = await LocalStore.open(join(dir, 'local'), { create: true });
   */
  static async open(path: string, options: LocalStoreOpenOptions = {}): Promise<LocalStore> {
    checkString(path, 'path');
    checkObject(options, 'options');
    if (path === '') fail(ErrorCode.INVALID_ARGUMENT, 'path: expected a folder path, got ""');
    if (options.create === true) await makeFolder(path);
    await checkFolder(path);
    const leftovers = (await attempt(() => readdir(path), 'list', path)).filter(isTemp);
    for (const file of leftovers) await attempt(() => unlink(join(path, file)), 'clean up', path);
    if (leftovers.length > 0) await syncFolder(path);
    return new LocalStore(path);
  }

  /** Stores `value` under `name`, replacing any value it had, atomically and durably. */
  async put(name: string, value: Uint8Array): Promise<void> {
    checkName(name);
    checkBytes(value, 'value');
    if (value.length > MAX_SECRET_BYTES) {
      fail(ErrorCode.TOO_LARGE, `value: ${value.length} bytes, over the ${MAX_SECRET_BYTES}-byte limit`, {
        hint: 'keep a key here, and the data it protects elsewhere',
      });
    }
    const temp = join(this.path, `${TEMP_PREFIX}${name}-${randomBytes(8).toString('hex')}`);
    let file: FileHandle | undefined;
    try {
      file = await open(temp, 'wx', 0o600);
      await file.chmod(0o600);
      await file.writeFile(value);
      await file.sync();
      await file.close();
      file = undefined;
      await rename(temp, join(this.path, name));
    } catch (e) {
      await file?.close().catch(() => undefined);
      await unlink(temp).catch(() => undefined);
      storageFailure(`write the secret ${show(name)} in`, this.path, e);
    }
    await syncFolder(this.path);
  }

  /** The value stored under `name`, or undefined if there is none. */
  async get(name: string): Promise<Uint8Array | undefined> {
    checkName(name);
    try {
      // A copy of its own: a small Buffer may be a view of a shared pool.
      return copyBytes(await readFile(join(this.path, name)));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      return storageFailure(`read the secret ${show(name)} in`, this.path, e);
    }
  }

  /** Erases `name`'s file (unlink, then fsync the folder). Returns whether there was one. */
  async delete(name: string): Promise<boolean> {
    checkName(name);
    try {
      await unlink(join(this.path, name));
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
      storageFailure(`delete the secret ${show(name)} in`, this.path, e);
    }
    await syncFolder(this.path);
    return true;
  }

  /** The names of the stored secrets, sorted (temporary files are not secrets). */
  async names(): Promise<string[]> {
    const entries = await attempt(() => readdir(this.path, { withFileTypes: true }), 'list', this.path);
    return entries
      .filter((entry) => entry.isFile() && isName(entry.name))
      .map((entry) => entry.name)
      .sort();
  }
}

function isTemp(file: string): boolean {
  return file.startsWith(TEMP_PREFIX);
}

function isName(name: string): boolean {
  return NAME.test(name) && !name.includes('..');
}

function checkName(name: unknown): asserts name is string {
  checkString(name, 'name');
  if (!isName(name)) {
    fail(ErrorCode.INVALID_ARGUMENT, `name: ${show(name)} is not a secret name`, {
      hint: "use 1 to 128 of a-z, 0-9, '.', '_' and '-', starting with a letter or digit, without '..'",
    });
  }
}

/** mkdir -p with mode 0700 (exactly: mkdir's mode passes through the umask), made durable. */
async function makeFolder(path: string): Promise<void> {
  const made = await attempt(() => mkdir(path, { recursive: true, mode: 0o700 }), 'create', path);
  if (made === undefined) return; // It was there: checkFolder judges it, and never changes it.
  await attempt(() => chmod(path, 0o700), 'set the mode of', path);
  await syncFolder(dirname(path));
}

/** Refuses what is not a folder, or is one that others can reach or that another user owns. */
async function checkFolder(path: string): Promise<void> {
  const st = await stat(path).catch((e: NodeJS.ErrnoException) =>
    e.code === 'ENOENT'
      ? fail(ErrorCode.NOT_FOUND, `no local store at ${path}`, { hint: 'open it with create: true' })
      : storageFailure('read', path, e),
  );
  if (!st.isDirectory()) fail(ErrorCode.STORAGE, `${path} is not a folder`, { hint: 'give a folder' });
  const mode = st.mode & 0o777;
  if ((mode & 0o077) !== 0) {
    fail(ErrorCode.STORAGE, `the local store ${path} has mode 0${mode.toString(8)}: others can read in it`, {
      hint: 'set its mode to 0700 (no group or other access), consider its secrets exposed, then open it again',
    });
  }
  if (process.getuid !== undefined && st.uid !== process.getuid()) {
    fail(ErrorCode.STORAGE, `the local store ${path} belongs to user ${st.uid}, not to this process's`, {
      hint: 'open it as the user that owns it',
    });
  }
}

/** fsync a folder, so that a rename, unlink or mkdir in it survives a power cut. */
async function syncFolder(path: string): Promise<void> {
  const folder = await attempt(() => open(path, 'r'), 'open', path);
  try {
    await attempt(() => folder.sync(), 'sync', path);
  } finally {
    await folder.close();
  }
}

async function attempt<T>(run: () => Promise<T>, what: string, path: string): Promise<T> {
  try {
    return await run();
  } catch (e) {
    return storageFailure(what, path, e);
  }
}

function storageFailure(what: string, path: string, cause: unknown): never {
  return fail(ErrorCode.STORAGE, `cannot ${what} ${path}: ${(cause as Error).message}`, {
    hint: 'check the folder exists, is yours and has space, then retry',
    cause,
  });
}
