/**
 * How log entries are laid out on disk: 256 to a LevelDB value, in the C2SP
 * tlog-tiles entry-bundle form (each entry a big-endian uint16 length, then
 * its bytes), so a full bundle is stored once, read with one lookup and served
 * as `tile/entries/N` byte for byte.
 *
 * The last bundle is usually incomplete. Its entries are kept as fragments,
 * one per block (a block's entries that fall into the open bundle, keyed by
 * the first one's index), and the block that completes the bundle writes it
 * whole and deletes its fragments in the same batch. So every entry is written
 * at most twice whatever the block sizes, and a block costs a handful of puts
 * instead of one per entry (per-key work dominated the write path).
 *
 * Format 5 writes each entry once. A write's entries go into pieces, one per
 * bundle they fall in (keyed by the first one's index), and are never
 * rewritten: the write that completes a bundle adds only its index, the
 * offsets its pieces start at, and the bundle is the pieces joined (their
 * concatenation is its entry-bundle form, byte for byte). Why: the full
 * bundle repeated every entry in the log, the memtable and the level-0
 * tables, ~175 of the ~420 bytes a batched event cost; measured at half the
 * batch rate, alternating, six rounds (bench/README.md, session 13): ack
 * p99 median 26.8 → 22.1 ms, acks over 25 ms 1,063 → 680 of 23,478.
 *
 * Pure planning and parsing; store.ts does the I/O.
 */
import { copyBytes } from '../crypto/bytes.js';
import { encodeEntryBundle } from '../merkle/tiles.js';

export const BUNDLE_WIDTH = 256;

/** The incomplete last bundle as it is on disk. */
export interface OpenBundle {
  /** Bundle number: its first entry is `n * 256`. */
  readonly n: number;
  /** Its entries so far (fewer than 256). */
  readonly entries: readonly Uint8Array[];
  /** First index of each stored fragment, in order. */
  readonly fragments: readonly number[];
}

export interface EntryWrites {
  /** Full bundles to put: [bundle number, bytes]. */
  readonly bundles: Array<[number, Uint8Array]>;
  /** The fragment to put, if the block ends inside a bundle: [first index, bytes]. */
  readonly fragment?: [number, Uint8Array];
  /** Fragments the completed bundles replace (first indexes). */
  readonly deleted: number[];
  /** The open bundle once the writes are durable. */
  readonly next: OpenBundle;
}

/** What appending `entries` (starting at the open bundle's end) writes. Pure: `open` is not changed. */
export function planEntryWrites(open: OpenBundle, entries: readonly Uint8Array[]): EntryWrites {
  const bundles: Array<[number, Uint8Array]> = [];
  const deleted: number[] = [];
  let n = open.n;
  let pending = open.entries.slice();
  let fragments = open.fragments.slice();
  let i = 0;
  while (i < entries.length) {
    const take = Math.min(BUNDLE_WIDTH - pending.length, entries.length - i);
    const part = entries.slice(i, i + take);
    i += take;
    if (pending.length + take === BUNDLE_WIDTH) {
      bundles.push([n, encodeEntryBundle(pending.concat(part))]);
      deleted.push(...fragments);
      n++;
      pending = [];
      fragments = [];
    } else {
      const first = n * BUNDLE_WIDTH + pending.length;
      const fragment = encodeEntryBundle(part);
      // The open bundle outlives the caller's buffers, so it keeps views of
      // the fragment's own bytes: one buffer per block, not a copy (and an
      // ArrayBuffer) per entry.
      for (const e of readBundle(fragment)) pending.push(e);
      fragments.push(first);
      return {
        bundles,
        fragment: [first, fragment],
        deleted,
        next: { n, entries: pending, fragments },
      };
    }
  }
  return { bundles, deleted, next: { n, entries: pending, fragments } };
}

/**
 * The entries of a stored bundle or fragment (views into `bytes`), at most
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
  let at = 0;
  for (let i = 0; i < k; i++) {
    if (at + 2 > bytes.length) return undefined;
    at += 2 + ((bytes[at]! << 8) | bytes[at + 1]!);
  }
  if (at + 2 > bytes.length) return undefined;
  const end = at + 2 + ((bytes[at]! << 8) | bytes[at + 1]!);
  return end > bytes.length ? undefined : copyBytes(bytes, at + 2, end);
}

export interface PieceWrites {
  /** Pieces to put: [first index, bytes]; none crosses a bundle boundary. */
  readonly pieces: Array<[number, Uint8Array]>;
  /** Bundles the write completes: [bundle number, index (`encodePieceIndex`)]. */
  readonly completed: Array<[number, Uint8Array]>;
  /** The open bundle once the writes are durable (`fragments`: its pieces' first indexes). */
  readonly next: OpenBundle;
}

/** Format 5: what appending `entries` (at the open bundle's end) writes. Pure: `open` is not changed. */
export function planPieceWrites(open: OpenBundle, entries: readonly Uint8Array[]): PieceWrites {
  const pieces: Array<[number, Uint8Array]> = [];
  const completed: Array<[number, Uint8Array]> = [];
  let n = open.n;
  let pending = open.entries.slice();
  let starts = open.fragments.slice();
  let i = 0;
  while (i < entries.length) {
    const take = Math.min(BUNDLE_WIDTH - pending.length, entries.length - i);
    const part = entries.slice(i, i + take);
    i += take;
    const first = n * BUNDLE_WIDTH + pending.length;
    const piece = encodeEntryBundle(part);
    pieces.push([first, piece]);
    starts.push(first);
    if (pending.length + take === BUNDLE_WIDTH) {
      completed.push([n, encodePieceIndex(starts.map((s) => s - n * BUNDLE_WIDTH))]);
      n++;
      pending = [];
      starts = [];
    } else {
      // Views of the piece's own bytes, as planEntryWrites keeps of a fragment.
      for (const e of readBundle(piece)) pending.push(e);
    }
  }
  return { pieces, completed, next: { n, entries: pending, fragments: starts } };
}

/** A complete bundle's index: its pieces' offsets in the bundle (0 first, increasing), one byte each. */
export function encodePieceIndex(offsets: readonly number[]): Uint8Array {
  return Uint8Array.from(offsets);
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
 * (and an audit names it), as with a damaged full bundle.
 */
export function joinPieces(
  index: Uint8Array,
  piece: (offset: number) => Uint8Array | undefined,
): Uint8Array | undefined {
  const offsets = decodePieceIndex(index);
  if (offsets === undefined) return undefined;
  const parts: Uint8Array[] = [];
  let length = 0;
  for (let k = 0; k < offsets.length; k++) {
    const want = (offsets[k + 1] ?? BUNDLE_WIDTH) - offsets[k]!;
    const bytes = piece(offsets[k]!);
    if (bytes === undefined) break;
    const entries = readBundle(bytes, want);
    // Only the entries the index gives this piece (an entry inserted by damage shifts the rest out).
    const used = entries.length === 0 ? 0 : entryEnd(bytes, entries[entries.length - 1]!);
    parts.push(bytes.subarray(0, used));
    length += used;
    if (entries.length < want) break;
  }
  if (parts.length === 1) return parts[0];
  const out = new Uint8Array(length);
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Where `entry` (a view returned by readBundle on `bytes`) ends in `bytes`. */
function entryEnd(bytes: Uint8Array, entry: Uint8Array): number {
  return entry.byteOffset - bytes.byteOffset + entry.length;
}
