/**
 * C2SP tlog-tiles (https://c2sp.org/tlog-tiles) over the stored-hash layout of
 * stored.ts, as Go's golang.org/x/mod/sumdb/tlog tile.go defines it with H = 8.
 *
 * A hash tile at level L, number N, width W lists W consecutive hashes of tree
 * level 8·L, starting at hash N·256 of that level:
 *
 *   tile L/N = [ hash(8L, 256N), hash(8L, 256N + 1), ..., hash(8L, 256N + W - 1) ]
 *
 * so level 0 tiles hold leaf hashes, level 1 tiles hold roots of 256-leaf
 * subtrees, and so on; the 7 levels inside a tile are recomputed from it. A
 * full tile has W = 256 and never changes; the right edge of a tree is a
 * partial tile `.p/<W>`. An entry bundle N holds entries 256N .. 256N + W - 1,
 * each as a big-endian uint16 length and the entry bytes.
 *
 * Paths write N as 3-digit groups, all but the last prefixed with "x":
 * 1234067 → x001/x234/067. Pure functions only; serving is src/serve/.
 */
import {
  checkArray,
  checkBytes,
  checkObject,
  checkString,
  copyBytes,
  show,
  typeOf,
} from '../crypto/bytes.js';
import type { TreeHasher } from '../crypto/tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';
import { storedHashIndex } from './stored.js';

export const TILE_HEIGHT = 8;
export const TILE_WIDTH = 256;
const HASH = 32;
const MAX_ENTRY = 0xffff;

/** A hash tile (level ≥ 0) or, with level -1, an entry bundle. */
export interface Tile {
  readonly level: number;
  readonly n: number;
  /** 1..256; 256 is a full tile. */
  readonly width: number;
}

export const ENTRIES_LEVEL = -1;

/** N as tile-path elements: 1234067 → "x001/x234/067". */
export function tileIndexPath(n: number): string {
  if (!Number.isSafeInteger(n) || n < 0)
    fail(ErrorCode.INVALID_ARGUMENT, `tile number: expected a whole number ≥ 0, got ${show(n)}`);
  let s = String(n % 1000).padStart(3, '0');
  for (let rest = Math.floor(n / 1000); rest > 0; rest = Math.floor(rest / 1000)) {
    s = `x${String(rest % 1000).padStart(3, '0')}/${s}`;
  }
  return s;
}

/**
 * The path of a tile below the log prefix: `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`.
 * Only for a tile that has one (level -1..63, width 1..256), so `parseTilePath` reads it back.
 */
export function tilePath(t: Tile): string {
  checkObject(t, 'tile');
  // A level-64 tile would list roots of 2^512-leaf subtrees: parseTilePath stops at 63 too.
  if (!Number.isSafeInteger(t.level) || t.level < ENTRIES_LEVEL || t.level > 63)
    fail(ErrorCode.INVALID_ARGUMENT, `tile level: expected -1..63, got ${show(t.level)}`);
  if (!Number.isSafeInteger(t.width) || t.width < 1 || t.width > TILE_WIDTH)
    fail(ErrorCode.INVALID_ARGUMENT, `tile width: expected 1..${TILE_WIDTH}, got ${show(t.width)}`);
  const level = t.level === ENTRIES_LEVEL ? 'entries' : String(t.level);
  return `tile/${level}/${tileIndexPath(t.n)}${t.width === TILE_WIDTH ? '' : `.p/${t.width}`}`;
}

/**
 * Parses the part of a path after a prefix's `tile/<level>/` (or any such
 * bundle path): `x001/x234/067` or `067.p/12`. Strict: the canonical form only,
 * so every tile has exactly one path (and one cache entry).
 */
export function parseTileIndexPath(rest: string): { n: number; width: number } | undefined {
  checkString(rest, 'tile path');
  const parts = rest.split('/');
  let width = TILE_WIDTH;
  if (parts.length >= 2 && parts[parts.length - 2]!.endsWith('.p')) {
    const w = parts.pop()!;
    if (!/^[1-9][0-9]{0,2}$/.test(w) || Number(w) >= TILE_WIDTH) return undefined;
    width = Number(w);
    parts[parts.length - 1] = parts[parts.length - 1]!.slice(0, -2);
  }
  let n = 0;
  for (let i = 0; i < parts.length; i++) {
    const last = i === parts.length - 1;
    const m = (last ? /^([0-9]{3})$/ : /^x([0-9]{3})$/).exec(parts[i]!);
    if (m === null) return undefined;
    n = n * 1000 + Number(m[1]);
  }
  if (!Number.isSafeInteger(n) || tileIndexPath(n) !== parts.join('/')) return undefined; // no x000/ padding
  return { n, width };
}

/** Parses `tile/<L>/<N>[.p/<W>]` or `tile/entries/<N>[.p/<W>]`; undefined if it is not one. */
export function parseTilePath(path: string): Tile | undefined {
  checkString(path, 'tile path');
  const m = /^tile\/(entries|0|[1-9][0-9]?)\/(.+)$/.exec(path);
  if (m === null) return undefined;
  const level = m[1] === 'entries' ? ENTRIES_LEVEL : Number(m[1]);
  if (level > 63) return undefined;
  const idx = parseTileIndexPath(m[2]!);
  return idx === undefined ? undefined : { level, ...idx };
}

/** Number of hashes tree level `level` has in a tree of `size` leaves. */
function hashesAtLevel(level: number, size: number): number {
  return Math.floor(size / 2 ** level);
}

/**
 * The width tile L/N (or entry bundle N, level -1) has in a tree of `size`,
 * or 0 if the tree has none of it yet.
 */
export function tileWidthAt(level: number, n: number, size: number): number {
  const count = level === ENTRIES_LEVEL ? size : hashesAtLevel(TILE_HEIGHT * level, size);
  return Math.max(0, Math.min(TILE_WIDTH, count - n * TILE_WIDTH));
}

/** Stored-hash indexes of the hashes a tile lists, in order (Go's ReadTileData). */
export function tileHashIndexes(t: Tile): number[] {
  if (t.level < 0) fail(ErrorCode.INVALID_ARGUMENT, 'an entry bundle has no hashes');
  const out: number[] = [];
  for (let i = 0; i < t.width; i++) out.push(storedHashIndex(TILE_HEIGHT * t.level, t.n * TILE_WIDTH + i));
  return out;
}

/** Go's SplitStoredHashIndex: the (level, n) of the hash at a stored-hash index. */
export function splitStoredHashIndex(index: number): { level: number; n: number } {
  // storedHashIndex(0, n) < 2n, so the leaf we want is in [index/2, index/2 + log2(index)].
  let n = Math.floor(index / 2);
  let indexN = storedHashIndex(0, n);
  if (indexN > index) fail(ErrorCode.INTERNAL, 'stored-hash index arithmetic failed');
  for (;;) {
    // Leaf n + 1 adds 1 + trailingZeros(n + 1) hashes.
    let tz = 0;
    for (let m = n + 1; m % 2 === 0; m /= 2) tz++;
    const x = indexN + 1 + tz;
    if (x > index) break;
    n++;
    indexN = x;
  }
  const level = index - indexN;
  return { level, n: Math.floor(n / 2 ** level) };
}

/**
 * Go's TileForIndex(8, index): the least-width tile from which the stored hash
 * at `index` can be computed, and the byte range of the tile data it folds.
 */
export function tileForIndex(index: number): { tile: Tile; start: number; end: number } {
  const split = splitStoredHashIndex(index);
  const tileLevel = Math.floor(split.level / TILE_HEIGHT);
  const within = split.level - tileLevel * TILE_HEIGHT; // level inside the tile
  const n = Math.floor((split.n * 2 ** within) / TILE_WIDTH);
  const inTile = split.n - (n * TILE_WIDTH) / 2 ** within; // hash number inside the tile at that level
  const span = 2 ** within;
  return {
    tile: { level: tileLevel, n, width: (inTile + 1) * span },
    start: inTile * span * HASH,
    end: (inTile + 1) * span * HASH,
  };
}

/** Go's HashFromTile: the stored hash at `index`, computed from tile data that covers it. */
export function hashFromTile(hasher: TreeHasher, t: Tile, data: Uint8Array, index: number): Uint8Array {
  if (data.length !== t.width * HASH)
    fail(ErrorCode.DECODE, `tile ${tilePath(t)} has ${data.length} bytes, expected ${t.width * HASH}`);
  const want = tileForIndex(index);
  if (want.tile.level !== t.level || want.tile.n !== t.n || want.tile.width > t.width)
    fail(ErrorCode.INVALID_ARGUMENT, `tile ${tilePath(t)} does not hold stored hash ${index}`);
  return foldTile(hasher, data.subarray(want.start, want.end));
}

/**
 * The hash of the subtree a full tile spans (Go's tileHash over all of its
 * data): for tile L/N that is hash N of tree level 8·(L + 1), which the
 * level-(L + 1) tiles list.
 */
export function fullTileHash(hasher: TreeHasher, data: Uint8Array): Uint8Array {
  if (data.length !== TILE_WIDTH * HASH)
    fail(ErrorCode.INVALID_ARGUMENT, `a full tile has ${TILE_WIDTH * HASH} bytes, not ${data.length}`);
  return foldTile(hasher, data);
}

function foldTile(hasher: TreeHasher, data: Uint8Array): Uint8Array {
  if (data.length === HASH) return copyBytes(data);
  const half = data.length / 2;
  return hasher.node(foldTile(hasher, data.subarray(0, half)), foldTile(hasher, data.subarray(half)));
}

/** An entry bundle: each entry as a big-endian uint16 length, then its bytes. */
export function encodeEntryBundle(entries: readonly Uint8Array[]): Uint8Array {
  checkArray(entries, 'entries');
  let length = 0;
  // Indexed, not for-of: a sparse list's holes are entries too (and refused).
  for (let i = 0; i < entries.length; i++) {
    const e = entries[i];
    if (!(e instanceof Uint8Array))
      fail(ErrorCode.INVALID_ARGUMENT, `entry ${i}: expected a Uint8Array, got ${typeOf(e)}`);
    if (e.length > MAX_ENTRY) fail(ErrorCode.TOO_LARGE, `an entry of ${e.length} bytes cannot be bundled`);
    length += 2 + e.length;
  }
  const out = new Uint8Array(length);
  let at = 0;
  for (const e of entries) {
    out[at] = e.length >> 8;
    out[at + 1] = e.length & 0xff;
    out.set(e, at + 2);
    at += 2 + e.length;
  }
  return out;
}

/**
 * Splits an entry bundle into its entries (views into `bundle`). Bytes only:
 * another typed array's elements are not bytes (a negative "length" would never end the loop).
 */
export function decodeEntryBundle(bundle: Uint8Array): Uint8Array[] {
  checkBytes(bundle, 'entry bundle');
  const out: Uint8Array[] = [];
  let at = 0;
  while (at < bundle.length) {
    if (at + 2 > bundle.length) fail(ErrorCode.DECODE, `entry bundle ends inside a length at byte ${at}`);
    const length = (bundle[at]! << 8) | bundle[at + 1]!;
    if (at + 2 + length > bundle.length)
      fail(ErrorCode.DECODE, `entry bundle entry ${out.length} runs past the end of the bundle`);
    out.push(bundle.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return out;
}

/**
 * The stored hashes that tie nodes to the rest of the tree: `width` nodes of
 * tree level `level`, from node `first` (a multiple of 256, as a tile's are),
 * split into complete aligned subtrees, largest first, of at least
 * 2^`minHeight` nodes. Each is the stored index of its root and the node range
 * it spans. A full tile is one subtree (its root is hash `n` of level
 * `level` + 8); a partial one is a few. Folding each range and comparing it
 * with the stored hash checks the nodes against the stored tree.
 */
export function tileSubtrees(
  level: number,
  first: number,
  width: number,
  minHeight: number,
): Array<{ index: number; from: number; to: number }> {
  const out: Array<{ index: number; from: number; to: number }> = [];
  let from = 0;
  for (let h = TILE_HEIGHT; h >= minHeight; h--) {
    const span = 2 ** h;
    if (width - from < span) continue;
    out.push({ index: storedHashIndex(level + h, (first + from) / span), from, to: from + span });
    from += span;
  }
  return out;
}

/** The root of nodes `[from, to)` of `hashes` (32 bytes each, back to back; a power-of-two count). */
export function foldNodes(hasher: TreeHasher, hashes: Uint8Array, from: number, to: number): Uint8Array {
  return foldTile(hasher, hashes.subarray(from * HASH, to * HASH));
}
