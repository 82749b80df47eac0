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
