/**
 * How log entries are laid out on disk: in the C2SP tlog-tiles entry-bundle
 * form (each entry a big-endian uint16 length, then its bytes), 256 to a
 * bundle, so a block costs a handful of puts instead of one per entry
 * (per-key work dominated the write path) and a bundle is served as
 * `tile/entries/N` byte for byte.
 *
 * Each entry is written once (`planPieceWrites`). A write's entries (a
 * block's, or those of the blocks committed together) go into pieces, one
 * per bundle they fall in (keyed by the first one's index), never rewritten;
 * the write that completes a bundle adds only its index, the offsets its
 * pieces start at, and the bundle is its pieces joined (their concatenation
 * is its entry-bundle form). Why: a second copy of each entry, whole in its
 * bundle, was ~175 of the ~420 bytes a batched event cost in LevelDB's log,
 * memtable and level-0 files (bench/NOTES.md, session 13).
 *
 * Pure planning and parsing; entry-log.ts does the I/O.
 */
import { concatBytes, copyBytes } from '../crypto/bytes.js';
import { encodeEntryBundle } from '../merkle/tiles.js';

export const BUNDLE_WIDTH = 256;

/** The incomplete last bundle as it is on disk. */
export interface OpenBundle {
  /** Bundle number: its first entry is `n * 256`. */
  readonly n: number;
  /** Its entries so far (fewer than 256). */
  readonly entries: readonly Uint8Array[];
  /** First index of each of its stored pieces, in order. */
  readonly pieces: readonly number[];
}

/**
 * `entries` appended after the open bundle, split where bundles end: each
 * part lies in bundle `n`, starts at entry `first`, and `completes` says
 * whether it fills that bundle.
 */
function* bundleParts(
  open: OpenBundle,
  entries: readonly Uint8Array[],
): Generator<{ n: number; first: number; part: Uint8Array[]; completes: boolean }> {
  let n = open.n;
  let fill = open.entries.length;
  for (let i = 0; i < entries.length; ) {
    const take = Math.min(BUNDLE_WIDTH - fill, entries.length - i);
    const completes = fill + take === BUNDLE_WIDTH;
    yield { n, first: n * BUNDLE_WIDTH + fill, part: entries.slice(i, i + take), completes };
    i += take;
    if (completes) {
      n++;
      fill = 0;
    } else fill += take;
  }
}

/**
 * The entries of a stored bundle or piece (views into `bytes`), at most
 * `limit`, up to the first one that cannot be read: a damaged value yields the
 * entries before the damage, so a reader sees a gap at the damaged index (and
 * an audit names it) rather than losing the whole bundle.
 */
export function readBundle(bytes: Uint8Array, limit = BUNDLE_WIDTH): Uint8Array[] {
  const entries: Uint8Array[] = [];
  let at = 0;
  while (at + 2 <= bytes.length && entries.length < limit) {
    const length = (bytes[at]! << 8) | bytes[at + 1]!;
    if (at + 2 + length > bytes.length) break;
    entries.push(bytes.subarray(at + 2, at + 2 + length));
    at += 2 + length;
  }
  return entries;
}

/**
 * Entry `k` of a stored bundle (a copy), found by walking the length
 * prefixes: for a random read that beats building views of all 256 (the
 * views were most of a random read's cost, in the GC).
 */
export function bundleEntry(bytes: Uint8Array, k: number): Uint8Array | undefined {
  const { count, end: at } = walkEntries(bytes, k);
  if (count < k || at + 2 > bytes.length) return undefined;
  const end = at + 2 + ((bytes[at]! << 8) | bytes[at + 1]!);
  return end > bytes.length ? undefined : copyBytes(bytes, at + 2, end);
}

export interface PieceWrites {
  /** Pieces to put: [first index, bytes]; none crosses a bundle boundary. */
  readonly pieces: Array<[number, Uint8Array]>;
  /** Bundles the write completes: [bundle number, index (`encodePieceIndex`)]. */
  readonly completed: Array<[number, Uint8Array]>;
  /** The open bundle once the writes are durable. */
  readonly next: OpenBundle;
}

/** What appending `entries` (at the open bundle's end) writes. Pure: `open` is not changed. */
export function planPieceWrites(open: OpenBundle, entries: readonly Uint8Array[]): PieceWrites {
  const pieces: Array<[number, Uint8Array]> = [];
  const completed: Array<[number, Uint8Array]> = [];
  let n = open.n;
  let pending = open.entries.slice();
  let starts = open.pieces.slice();
  for (const p of bundleParts(open, entries)) {
    const piece = encodeEntryBundle(p.part);
    pieces.push([p.first, piece]);
    starts.push(p.first);
    if (p.completes) {
      completed.push([p.n, encodePieceIndex(starts.map((s) => s - p.n * BUNDLE_WIDTH))]);
      n = p.n + 1;
      pending = [];
      starts = [];
    } else {
      // The last part. The open bundle outlives the caller's buffers, so it
      // keeps views of the piece's own bytes: one buffer per write, not a
      // copy (and an ArrayBuffer) per entry.
      for (const e of readBundle(piece)) pending.push(e);
    }
  }
  return { pieces, completed, next: { n, entries: pending, pieces: starts } };
}

/** A complete bundle's index: its pieces' offsets in the bundle (0 first, increasing), one byte each. */
export function encodePieceIndex(offsets: readonly number[]): Uint8Array {
  return Uint8Array.from(offsets);
}

/** The offset of the piece that holds entry `k` of a bundle with these piece offsets. */
export function pieceHolding(offsets: ArrayLike<number>, k: number): number {
  let start = 0;
  for (let p = 0; p < offsets.length && offsets[p]! <= k; p++) start = offsets[p]!;
  return start;
}

/** The offsets of a stored index, or undefined if it is not one (damage). */
export function decodePieceIndex(bytes: Uint8Array): number[] | undefined {
  if (bytes.length === 0 || bytes[0] !== 0) return undefined;
  for (let i = 1; i < bytes.length; i++) if (bytes[i]! <= bytes[i - 1]!) return undefined;
  return [...bytes];
}

/**
 * A complete bundle's bytes from its index and its pieces (`piece(offset)`
 * reads the one at that offset), or undefined if the index is damaged. Each
 * piece gives the entries up to the next one's offset. A missing or short
 * piece ends the bundle there, so readers see a gap at the damaged index
 * (and an audit names it), as `readBundle` does in a damaged value.
 */
export function joinPieces(
  index: Uint8Array,
  piece: (offset: number) => Uint8Array | undefined,
): Uint8Array | undefined {
  const offsets = decodePieceIndex(index);
  if (offsets === undefined) return undefined;
  const parts: Uint8Array[] = [];
  for (let k = 0; k < offsets.length; k++) {
    const want = (offsets[k + 1] ?? BUNDLE_WIDTH) - offsets[k]!;
    const bytes = piece(offsets[k]!);
    if (bytes === undefined) break;
    // Only the entries the index gives this piece (an entry inserted by damage shifts the rest out).
    const { count, end } = walkEntries(bytes, want);
    parts.push(end === bytes.length ? bytes : bytes.subarray(0, end));
    if (count < want) break;
  }
  return parts.length === 1 ? parts[0] : concatBytes(...parts);
}

/**
 * How many whole entries (at most `limit`) `bytes` holds from its start, and
 * where the last of them ends: readBundle's walk without a view per entry
 * (those views were most of a bundle read's cost).
 */
export function walkEntries(bytes: Uint8Array, limit: number): { count: number; end: number } {
  let at = 0;
  let count = 0;
  while (count < limit && at + 2 <= bytes.length) {
    const next = at + 2 + ((bytes[at]! << 8) | bytes[at + 1]!);
    if (next > bytes.length) break;
    at = next;
    count++;
  }
  return { count, end: at };
}
