/**
 * Verifies any C2SP tlog-tiles log (https://c2sp.org/tlog-tiles) whose
 * checkpoint is signed with an Ed25519 note key, not only a dirchain ledger:
 *
 * - the checkpoint at `<prefix>/checkpoint` verifies under the one key given
 *   (C2SP signed-note: other signatures are ignored, a bad one by that key is
 *   refused) and names the origin pinned (default: the key's name, which
 *   C2SP tlog-checkpoint says it SHOULD be);
 * - every entry bundle the checkpoint implies is hashed (RFC 9162 §2.1.1) and
 *   compared with its level-0 tile; every tile at every level is recomputed
 *   from the level below and compared byte for byte with the served one; the
 *   root the tiles fold to is the checkpoint's;
 * - with a checkpoint saved earlier: same key, same origin, not larger than
 *   the new one, and its root is the root of the first (saved size) leaves of
 *   the tree just verified, so the log only appended since (consistency,
 *   shown directly rather than by a proof).
 *
 * Nothing is kept: the tree is streamed tile by tile, each level holding at
 * most one tile's hashes, so memory stays a few tiles and bundles whatever the
 * log's size. Fetches follow HttpBlockSource's rules: no redirects, a time
 * limit per request, bodies cut off at the most the resource can hold. This
 * reads record bytes only as entries: what they mean (dirchain's records,
 * block notes, policy) is `audit` and `follow`'s work.
 */

import { equalBytes, fromUtf8, toBase64 } from '../crypto/bytes.js';
import { sha256Node, verifyNode } from '../crypto/node-crypto.js';
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { type NoteVerifier, openNote, parseVerifierKey } from '../crypto/note.js';
import { type Checkpoint, parseCheckpoint } from '../encoding/checkpoint.js';
import { DirchainError, ErrorCode, fail, isDirchainError } from '../errors.js';
import {
  ENTRIES_LEVEL,
  foldNodes,
  fullTileHash,
  TILE_HEIGHT,
  TILE_WIDTH,
  type Tile,
  tilePath,
  tileWidthAt,
} from '../merkle/tiles.js';
import { readCapped } from '../node/http.js';

const hasher = nodeTreeHasher;
const HASH = 32;
/** A checkpoint with 100 signatures (what parseNote takes) of ~5 kB post-quantum ones still fits. */
const MAX_CHECKPOINT = 1 << 20;
/** Entry bundles and their level-0 tiles fetched ahead of the hashing, so network and CPU overlap. */
const READ_AHEAD = 4;
const DEFAULT_TIMEOUT_MS = 30_000;

export interface VerifyLogOptions {
  /** The log's Ed25519 verifier key, `name+hash+base64(0x01 || key)` (C2SP signed-note). */
  readonly key: string;
  /** The origin the checkpoint must name; default the key's name. */
  readonly origin?: string;
  /** A signed checkpoint of this log saved earlier: the log must still contain its tree. */
  readonly checkpoint?: string;
  /** Time limit of each request, body included, in milliseconds (default 30 s). */
  readonly timeoutMs?: number;
  /** Called after each entry bundle. */
  readonly onProgress?: (p: VerifyLogProgress) => void;
}

export interface VerifyLogProgress {
  /** Entries hashed and checked so far. */
  readonly entries: number;
  /** The checkpoint's tree size. */
  readonly size: number;
}

export interface VerifyLogReport {
  readonly origin: string;
  readonly size: number;
  /** The root (base64), as the checkpoint signs it. */
  readonly root: string;
  /** The signed checkpoint note exactly as served: save it to check the next run against. */
  readonly checkpoint: string;
  /** Entries hashed into the tree: all of them. */
  readonly entries: number;
  /** Entry bundles fetched and checked. */
  readonly bundles: number;
  /** Hash tiles (all levels) recomputed and compared. */
  readonly tiles: number;
  /** The saved checkpoint the tree extends, when one was given. */
  readonly consistentWith?: { readonly size: number; readonly root: string };
}

/**
 * Verifies the tlog-tiles log at `url` (its prefix: `<url>/checkpoint`,
 * `<url>/tile/...`). Returns what it checked; throws E_REMOTE when something
 * could not be fetched, E_BAD_SIGNATURE / E_CHECKPOINT_INVALID for the
 * checkpoint (or the saved one), E_LEDGER_CORRUPT naming the tile or bundle
 * path and the first entry index affected when served data is not what the
 * checkpoint commits to, E_FORK when the tree does not extend the saved
 * checkpoint's. E_INVALID_ARGUMENT / E_KEY_INVALID for bad options.
 */
export async function verifyLog(url: string, options: VerifyLogOptions): Promise<VerifyLogReport> {
  if (typeof url !== 'string' || !/^https?:\/\//i.test(url))
    fail(ErrorCode.INVALID_ARGUMENT, `expected the http(s) URL of a log, got ${JSON.stringify(url)}`);
  if (typeof options !== 'object' || options === null)
    fail(ErrorCode.INVALID_ARGUMENT, 'verifyLog needs options with the log key');
  const verifier = parseVerifierKey(sha256Node, options.key);
  const origin = options.origin ?? verifier.name;
  if (typeof origin !== 'string' || origin.length === 0 || origin.includes('\n'))
    fail(ErrorCode.INVALID_ARGUMENT, 'origin: expected one non-empty line');
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs <= 0)
    fail(ErrorCode.INVALID_ARGUMENT, `timeoutMs: expected a positive whole number, got ${timeoutMs}`);
  // The saved checkpoint first: a wrong one fails before anything is fetched.
  const saved =
    options.checkpoint === undefined
      ? undefined
      : openCheckpoint(options.checkpoint, verifier, origin, 'saved');

  const fetcher = new Fetcher(url, timeoutMs);
  try {
    const note = fromUtf8Checked(await fetcher.get('checkpoint', MAX_CHECKPOINT));
    const served = openCheckpoint(note, verifier, origin, 'served');
    if (saved !== undefined) {
      if (saved.size > served.size)
        fail(
          ErrorCode.CHECKPOINT_INVALID,
          `the served checkpoint (size ${served.size}) is older than the saved one (size ${saved.size})`,
          {
            hint: 'the log was rolled back, or this server is behind it: try again later, or another mirror',
          },
        );
      if (saved.size === served.size && !equalBytes(saved.root, served.root))
        fail(ErrorCode.FORK, forkMessage(saved, served.root), { hint: FORK_HINT });
    }
    if (served.size === 0 && !equalBytes(served.root, hasher.emptyRoot))
      fail(
        ErrorCode.CHECKPOINT_INVALID,
        'the served checkpoint of the empty tree has another root than SHA-256("")',
      );
    const tree = new TreeCheck(fetcher, served, saved?.size, options.onProgress);
    await tree.run();
    if (!equalBytes(tree.root, served.root)) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `the served entries and tiles hash to root ${toBase64(tree.root)}, not the checkpoint's ${toBase64(served.root)}`,
        { hint: 'the server is serving the tiles of another tree than the one its checkpoint signs' },
      );
    }
    if (saved !== undefined && !equalBytes(tree.oldRoot!, saved.root))
      fail(ErrorCode.FORK, forkMessage(saved, tree.oldRoot!, served.size), { hint: FORK_HINT });
    return {
      origin: served.origin,
      size: served.size,
      root: toBase64(served.root),
      checkpoint: note,
      entries: served.size,
      bundles: tree.bundles,
      tiles: tree.tiles,
      ...(saved === undefined ? {} : { consistentWith: { size: saved.size, root: toBase64(saved.root) } }),
    };
  } finally {
    fetcher.close();
  }
}

const FORK_HINT =
  "keep the saved checkpoint, and the log's current one beside it: both verify under the log key, and no append-only log signs both";

function forkMessage(saved: Checkpoint, root: Uint8Array, size?: number): string {
  return size === undefined
    ? `the log signed two trees of size ${saved.size} with different roots (saved ${toBase64(saved.root)}, served ${toBase64(root)}): it forked`
    : `the served tree of size ${size} does not extend the saved checkpoint: its first ${saved.size} entries hash to ${toBase64(root)}, not ${toBase64(saved.root)}; the log rewrote its history`;
}

function fromUtf8Checked(bytes: Uint8Array): string {
  try {
    return fromUtf8(bytes);
  } catch {
    return fail(ErrorCode.CHECKPOINT_INVALID, 'the served checkpoint is not UTF-8 text');
  }
}

/** A signed checkpoint opened under `verifier` alone, of `origin`; `which` names it in errors. */
function openCheckpoint(
  note: string,
  verifier: NoteVerifier,
  origin: string,
  which: 'saved' | 'served',
): Checkpoint {
  let c: Checkpoint;
  try {
    c = parseCheckpoint(openNote(note, [verifier], verifyNode).text);
  } catch (e) {
    if (!isDirchainError(e) || e.code === ErrorCode.INVALID_ARGUMENT) throw e;
    // A note that does not parse is a checkpoint that does not (E_DECODE is about bytes in general).
    const code = e.code === ErrorCode.DECODE ? ErrorCode.CHECKPOINT_INVALID : e.code;
    throw new DirchainError(code, `the ${which} checkpoint: ${e.message}`, {
      hint:
        e.code === ErrorCode.BAD_SIGNATURE
          ? `it must be signed by the log key ${verifier.name}: check the key is this log's`
          : e.hint,
      cause: e,
    });
  }
  if (c.origin !== origin) {
    fail(
      ErrorCode.CHECKPOINT_INVALID,
      `the ${which} checkpoint is of origin ${JSON.stringify(c.origin)}, not ${JSON.stringify(origin)}`,
      {
        hint: `a log key can sign for several logs: if ${JSON.stringify(c.origin)} is the log meant, pin that origin`,
      },
    );
  }
  return c;
}

/** How many hashes tile level L (tree level 8·L) has in a tree of `size` (C2SP tlog-tiles "Partial Tiles"). */
const hashesAt = (level: number, size: number): number => Math.floor(size / TILE_WIDTH ** level);

/**
 * A complete subtree the root of a tree is folded from (RFC 9162 §2.1.1: the
 * binary digits of its size, largest first): 2^height leaves from `first`.
 * Its hash is `count` consecutive hashes of tile level `level`, from `from`
 * in tile `n`, folded; found when that tile is checked.
 */
interface Peak {
  readonly level: number;
  readonly n: number;
  readonly from: number;
  readonly count: number;
  hash?: Uint8Array;
}

function peaksOf(size: number): Peak[] {
  const out: Peak[] = [];
  let first = 0;
  for (let height = Math.floor(Math.log2(Math.max(size, 1))) + 1; height >= 0; height--) {
    const span = 2 ** height;
    if (size - first < span) continue;
    const level = Math.floor(height / TILE_HEIGHT);
    const at = first / TILE_WIDTH ** level; // index of its first hash at tile level `level`
    const n = Math.floor(at / TILE_WIDTH);
    out.push({ level, n, from: at - n * TILE_WIDTH, count: 2 ** (height % TILE_HEIGHT) });
    first += span;
  }
  return out;
}

/** RFC 9162 §2.1.1 over complete subtrees, right to left; the empty tree's hash for none. */
function rootOfPeaks(hashes: readonly Uint8Array[]): Uint8Array {
  if (hashes.length === 0) return hasher.emptyRoot;
  let root = hashes[hashes.length - 1]!;
  for (let i = hashes.length - 2; i >= 0; i--) root = hasher.node(hashes[i]!, root);
  return root;
}

/** The first entry index under hash `i` of tile L/n. */
const firstIndexUnder = (level: number, n: number, i: number): number =>
  (n * TILE_WIDTH + i) * TILE_WIDTH ** level;

/** One level's tile being filled: the hashes recomputed from the level below. */
interface Pending {
  n: number;
  count: number;
  readonly hashes: Uint8Array;
}

/** Bottom-up recomputation of every tile of the checkpoint's tree, compared with the served ones. */
class TreeCheck {
  readonly #fetch: Fetcher;
  readonly #size: number;
  readonly #signedRoot: Uint8Array;
  readonly #levels: Pending[] = [];
  readonly #peaks: Peak[];
  readonly #oldPeaks: Peak[] | undefined;
  readonly #onProgress: ((p: VerifyLogProgress) => void) | undefined;
  bundles = 0;
  tiles = 0;
  root: Uint8Array = hasher.emptyRoot;
  oldRoot: Uint8Array | undefined;

  constructor(
    fetcher: Fetcher,
    checkpoint: Checkpoint,
    oldSize: number | undefined,
    onProgress: ((p: VerifyLogProgress) => void) | undefined,
  ) {
    this.#fetch = fetcher;
    this.#size = checkpoint.size;
    this.#signedRoot = checkpoint.root;
    this.#peaks = peaksOf(this.#size);
    this.#oldPeaks = oldSize === undefined ? undefined : peaksOf(oldSize);
    this.#onProgress = onProgress;
  }

  async run(): Promise<void> {
    const size = this.#size;
    const bundleCount = Math.ceil(size / TILE_WIDTH);
    const ahead = new Map<number, Promise<[Uint8Array, Uint8Array]>>();
    const load = (n: number) => {
      if (n >= bundleCount || ahead.has(n)) return;
      const width = tileWidthAt(ENTRIES_LEVEL, n, size);
      const p = Promise.all([
        this.#fetch.tile({ level: ENTRIES_LEVEL, n, width }),
        this.#fetch.tile({ level: 0, n, width }),
      ]);
      // Awaited in turn below; one that fails after an earlier failure is not an unhandled rejection.
      p.catch(() => undefined);
      ahead.set(n, p);
    };
    for (let n = 0; n < bundleCount; n++) {
      for (let k = n; k < n + READ_AHEAD; k++) load(k);
      const [bundle, served] = await ahead.get(n)!;
      ahead.delete(n);
      const width = tileWidthAt(ENTRIES_LEVEL, n, size);
      const leaves = this.#leafHashes(n, width, bundle);
      this.bundles++;
      await this.#checkTile(0, n, width, leaves, served);
      this.#onProgress?.({ entries: Math.min(size, (n + 1) * TILE_WIDTH), size });
    }
    // The right edge above level 0: partial tiles, never hashed into the level above.
    for (let level = 1; hashesAt(level, size) > 0; level++) {
      const width = hashesAt(level, size) % TILE_WIDTH;
      const pending = this.#levels[level];
      if ((pending?.count ?? 0) !== width)
        fail(ErrorCode.INTERNAL, `level ${level} has ${pending?.count ?? 0} hashes at the end, not ${width}`);
      if (width > 0)
        await this.#checkTile(level, pending!.n, width, pending!.hashes.slice(0, width * HASH), undefined);
    }
    this.root = rootOfPeaks(this.#peaks.map((p) => p.hash!));
    if (this.#oldPeaks !== undefined) this.oldRoot = rootOfPeaks(this.#oldPeaks.map((p) => p.hash!));
  }

  /** The leaf hashes of entry bundle `n`, which must hold exactly `width` entries. */
  #leafHashes(n: number, width: number, bundle: Uint8Array): Uint8Array {
    const path = tilePath({ level: ENTRIES_LEVEL, n, width });
    const out = new Uint8Array(width * HASH);
    let at = 0;
    for (let i = 0; i < width; i++) {
      const index = n * TILE_WIDTH + i;
      if (at === bundle.length)
        fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${path} ends after ${i} entries, not ${width}`, {
          index,
          hint: 'the log serves a truncated or wrong bundle',
        });
      if (at + 2 > bundle.length || at + 2 + ((bundle[at]! << 8) | bundle[at + 1]!) > bundle.length)
        fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${path} ends inside entry ${index}`, {
          index,
          hint: 'the log serves a truncated or wrong bundle',
        });
      const length = (bundle[at]! << 8) | bundle[at + 1]!;
      out.set(hasher.leaf(bundle.subarray(at + 2, at + 2 + length)), i * HASH);
      at += 2 + length;
    }
    if (at !== bundle.length)
      fail(ErrorCode.LEDGER_CORRUPT, `entry bundle ${path} has bytes after its ${width} entries`, {
        index: n * TILE_WIDTH + width,
        hint: 'the log serves a wrong bundle',
      });
    return out;
  }

  /**
   * Compares tile L/n (`width` hashes) as recomputed (`hashes`) with the
   * served one (fetched when not given), then takes what the levels above
   * need from it. A difference is looked into before it is reported: if the
   * served tile is the one the signed root commits to, what is wrong is below
   * it (the entries); otherwise the served tile is.
   */
  async #checkTile(
    level: number,
    n: number,
    width: number,
    hashes: Uint8Array,
    given: Uint8Array | undefined,
  ): Promise<void> {
    const served = given ?? (await this.#fetch.tile({ level, n, width }));
    this.tiles++;
    if (!equalBytes(served, hashes)) await this.#mismatch(level, n, width, hashes, served);
    for (const peaks of [this.#peaks, this.#oldPeaks]) {
      for (const p of peaks ?? [])
        if (p.level === level && p.n === n) p.hash = foldNodes(hasher, hashes, p.from, p.from + p.count);
    }
    if (width === TILE_WIDTH) await this.#push(level + 1, fullTileHash(hasher, hashes));
  }

  /** Adds a recomputed hash to level `level`'s tile; a tile that fills up is checked. */
  async #push(level: number, hash: Uint8Array): Promise<void> {
    this.#levels[level] ??= { n: 0, count: 0, hashes: new Uint8Array(TILE_WIDTH * HASH) };
    const pending = this.#levels[level];
    pending.hashes.set(hash, pending.count * HASH);
    pending.count++;
    if (pending.count < TILE_WIDTH) return;
    const n = pending.n;
    pending.n++;
    pending.count = 0;
    // A copy: the level's buffer fills again from the start.
    await this.#checkTile(level, n, TILE_WIDTH, pending.hashes.slice(), undefined);
  }

  async #mismatch(
    level: number,
    n: number,
    width: number,
    hashes: Uint8Array,
    served: Uint8Array,
  ): Promise<never> {
    const path = tilePath({ level, n, width });
    const hashAt = (bytes: Uint8Array, i: number) => bytes.subarray(i * HASH, (i + 1) * HASH);
    let i = 0;
    while (i < width && equalBytes(hashAt(served, i), hashAt(hashes, i))) i++;
    const index = firstIndexUnder(level, n, i);
    if (served.length !== width * HASH)
      fail(ErrorCode.LEDGER_CORRUPT, `hash tile ${path} has ${served.length} bytes, not ${width * HASH}`, {
        index,
        hint: 'the log serves a truncated or wrong tile',
      });
    let signed: boolean | undefined;
    try {
      signed = await this.#isSigned(level, n, served);
    } catch (e) {
      if (!isDirchainError(e, ErrorCode.REMOTE)) throw e;
    }
    if (signed === undefined) {
      // The tiles above could not be fetched to tell which side is wrong.
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `hash ${i} of ${path} is not the one recomputed from the entries (first entry under it: ${index})`,
        { index },
      );
    }
    if (!signed) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `hash tile ${path} is not the one the checkpoint commits to: its hash ${i} differs from the one recomputed from the entries (first entry under it: ${index})`,
        { index, hint: 'the log serves a wrong tile' },
      );
    }
    if (level === 0) {
      const bundle = tilePath({ level: ENTRIES_LEVEL, n, width });
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `entry ${index} (in ${bundle}) is not the entry the checkpoint commits to: its hash is not hash ${i} of ${path}`,
        { index, hint: 'the log serves an entry its checkpoint does not commit to' },
      );
    }
    const last = firstIndexUnder(level, n, i + 1) - 1;
    fail(
      ErrorCode.LEDGER_CORRUPT,
      `entries ${index}..${last} do not hash to hash ${i} of ${path}, which the checkpoint commits to: entries and the tiles below were changed together`,
      { index, hint: 'the log serves entries its checkpoint does not commit to' },
    );
  }

  /**
   * Whether the served tile L/n leads to the signed root through the served
   * tiles above it: a full tile's hash is listed in its parent tile, and so
   * on up to a partial tile at the right edge, whose root with the other
   * right-edge tiles must be the checkpoint's.
   */
  async #isSigned(level: number, n: number, data: Uint8Array): Promise<boolean> {
    const size = this.#size;
    const width = data.length / HASH;
    if (width === TILE_WIDTH) {
      const parent = { level: level + 1, n: Math.floor(n / TILE_WIDTH), width: 0 };
      parent.width = tileWidthAt(parent.level, parent.n, size);
      const above = await this.#fetch.tile(parent);
      const slot = n % TILE_WIDTH;
      if (above.length !== parent.width * HASH) return false;
      if (!equalBytes(above.subarray(slot * HASH, (slot + 1) * HASH), fullTileHash(hasher, data)))
        return false;
      return this.#isSigned(parent.level, parent.n, above);
    }
    // A right-edge tile: fold every right-edge tile into the root, this one as given.
    const hashes: Uint8Array[] = [];
    for (const p of this.#peaks) {
      let tile: Uint8Array;
      if (p.level === level) tile = data;
      else {
        const w = hashesAt(p.level, size) % TILE_WIDTH;
        tile = await this.#fetch.tile({ level: p.level, n: p.n, width: w });
        if (tile.length !== w * HASH) return false;
      }
      hashes.push(foldNodes(hasher, tile, p.from, p.from + p.count));
    }
    return equalBytes(rootOfPeaks(hashes), this.#signedRoot);
  }
}

/**
 * GETs below a log's prefix, one time limit per request, no redirects, each
 * body cut off at the most its resource can hold.
 */
class Fetcher {
  readonly #base: string;
  readonly #timeoutMs: number;
  /** Aborts what is still in flight once the verification is over (read-ahead after a failure). */
  readonly #done = new AbortController();

  constructor(url: string, timeoutMs: number) {
    this.#base = url.endsWith('/') ? url : `${url}/`;
    this.#timeoutMs = timeoutMs;
  }

  close(): void {
    this.#done.abort();
  }

  /**
   * A tile or entry bundle as the checkpoint implies it. A partial one the log
   * no longer serves (C2SP tlog-tiles lets it delete one once the full tile
   * exists) is read from the full tile's start.
   */
  async tile(t: Tile): Promise<Uint8Array> {
    const max = t.level === ENTRIES_LEVEL ? t.width * (2 + 0xffff) : t.width * HASH;
    const path = tilePath(t);
    const body = await this.get(path, max, t.width < TILE_WIDTH);
    if (body !== undefined) return body;
    const full = await this.get(tilePath({ ...t, width: TILE_WIDTH }), TILE_WIDTH * (max / t.width), true);
    if (full === undefined)
      fail(ErrorCode.REMOTE, `${this.#url(path)} answered HTTP 404, and so did the full tile`, {
        hint: 'the log does not serve a tile its checkpoint implies',
      });
    return t.level === ENTRIES_LEVEL ? bundlePrefix(full, t.width) : full.subarray(0, t.width * HASH);
  }

  #url(path: string): string {
    return new URL(path, this.#base).toString();
  }

  /** The body at `path`; with `missingOk`, undefined for a 404. */
  async get(path: string, max: number): Promise<Uint8Array>;
  async get(path: string, max: number, missingOk: boolean): Promise<Uint8Array | undefined>;
  async get(path: string, max: number, missingOk = false): Promise<Uint8Array | undefined> {
    const url = this.#url(path);
    const signal = AbortSignal.any([this.#done.signal, AbortSignal.timeout(this.#timeoutMs)]);
    let res: Response;
    try {
      res = await fetch(url, { redirect: 'manual', signal });
    } catch (e) {
      return fail(ErrorCode.REMOTE, `cannot fetch ${url}: ${describe(e)}`, {
        hint: 'is a tlog-tiles log served at that address?',
      });
    }
    if (res.status !== 200) {
      await res.body?.cancel().catch(() => undefined);
      if (res.status === 404 && missingOk) return undefined;
      const location = res.headers.get('location');
      fail(
        ErrorCode.REMOTE,
        `${url} answered HTTP ${res.status}${location === null ? '' : ` (a redirect to ${location})`}`,
        {
          hint:
            location !== null
              ? 'redirects are not followed: give the address the log is served at'
              : path === 'checkpoint'
                ? 'no log is served there: give the prefix the log serves checkpoint and tile/ under'
                : 'the log does not serve all that its checkpoint implies',
        },
      );
    }
    try {
      return await readCapped(res, max, () =>
        fail(ErrorCode.REMOTE, `${url} sent more than ${max} bytes, more than it can hold`, {
          hint: 'the server is not sending this log',
        }),
      );
    } catch (e) {
      if (isDirchainError(e)) throw e;
      return fail(ErrorCode.REMOTE, `reading ${url} failed: ${describe(e)}`, {
        hint: 'the server stalled or closed the connection: try again later',
      });
    }
  }
}

function describe(e: unknown): string {
  const err = e as Error;
  if (err?.name === 'TimeoutError' || (err?.cause as Error | undefined)?.name === 'TimeoutError')
    return 'no answer in time';
  return String(err?.cause ?? err?.message ?? e);
}

/** The first `width` entries of a full bundle, framed as they are (checked when hashed). */
function bundlePrefix(bundle: Uint8Array, width: number): Uint8Array {
  let at = 0;
  for (let i = 0; i < width && at + 2 <= bundle.length; i++) at += 2 + ((bundle[at]! << 8) | bundle[at + 1]!);
  return bundle.subarray(0, Math.min(at, bundle.length));
}
