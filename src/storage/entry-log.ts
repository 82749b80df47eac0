/**
 * The log's entries as one handle reads them (bundles.ts has the layout): the
 * open bundle's entries held in memory as the durable blocks left them,
 * complete bundles read from their pieces (through a cache), and the writes
 * that append entries. Reads go through `LevelReads`, so a view's see only
 * its snapshot.
 */
import { copyBytes } from '../crypto/bytes.js';
import { encodeEntryBundle } from '../merkle/tiles.js';
import {
  BUNDLE_WIDTH,
  bundleEntry,
  decodePieceIndex,
  joinPieces,
  type OpenBundle,
  pieceHolding,
  planPieceWrites,
  readBundle,
  walkEntries,
} from './bundles.js';
import { bundleKey, bundleOf, LOG_REGION, logRange, pieceKey, pieceOf, tableRange } from './keys.js';
import type { LevelReads } from './level-db.js';
import { ValueCache } from './value-cache.js';

const BUNDLE_CACHE_LIMIT = 64; // ~5 MiB of 300-byte entries: recent blocks and proof reads

/** What appending entries writes (`planAppend`), and the open bundle once it is durable. */
export interface EntryAppend {
  /** Pieces and the indexes of the bundles they complete, for the block's batch. */
  readonly puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
  readonly next: OpenBundle;
}

export class EntryLog {
  readonly #reads: LevelReads;
  /** Complete bundles (their bytes). */
  readonly #bundles = new ValueCache(BUNDLE_CACHE_LIMIT, (n) => this.#readBundle(n));
  /** The last, incomplete bundle as durable on disk. */
  #open: OpenBundle = { n: 0, entries: [], pieces: [] };

  constructor(reads: LevelReads) {
    this.#reads = reads;
  }

  /** Number of entries on disk. */
  get count(): number {
    return this.#open.n * BUNDLE_WIDTH + this.#open.entries.length;
  }

  /** Reads where the entries end: the last complete bundle, then the open one's pieces. */
  async load(): Promise<void> {
    let n = 0;
    // The last bundle; in the log region the newest pieces and pages sort after it.
    for await (const k of this.#reads.keys({ ...tableRange(LOG_REGION), reverse: true })) {
      const bundle = bundleOf(k);
      if (bundle === undefined) continue;
      n = bundle + 1;
      break;
    }
    const entries: Uint8Array[] = [];
    const pieces: number[] = [];
    // The open bundle's pieces, among the pages in its part of the log region.
    for await (const [k, v] of this.#reads.iterator(logRange(n * BUNDLE_WIDTH, (n + 1) * BUNDLE_WIDTH))) {
      const first = pieceOf(k);
      if (first === undefined) continue; // a page
      // A piece that does not continue the entries before it is damage: the
      // entries stop there (reads and audits see the gap at that index).
      if (first !== n * BUNDLE_WIDTH + entries.length) break;
      const part = readBundle(v, BUNDLE_WIDTH - entries.length);
      for (const e of part) entries.push(copyBytes(e));
      pieces.push(first);
    }
    this.#open = { n, entries, pieces };
  }

  /** The entry at `index` (a copy), or undefined if it is not stored. */
  get(index: number): Uint8Array | undefined {
    const n = Math.floor(index / BUNDLE_WIDTH);
    const k = index % BUNDLE_WIDTH;
    if (n < this.#open.n) {
      const bundle = this.#bundles.cached(n);
      return bundle === undefined ? this.#pieceEntry(n, k) : bundleEntry(bundle, k);
    }
    // A copy: the caller may keep or change it.
    return n === this.#open.n ? this.#open.entries[k] && copyBytes(this.#open.entries[k]) : undefined;
  }

  /**
   * Entry `k` of complete bundle `n` from the one piece that holds it (its
   * index, then that piece), not the whole bundle joined: joining made a
   * random read about half as fast (probe, 300k entries, random reads:
   * 12–15k/s joining, 24–26k/s reading one stored value).
   */
  #pieceEntry(n: number, k: number): Uint8Array | undefined {
    const index = this.#reads.get(bundleKey(n));
    const offsets = index === undefined ? undefined : decodePieceIndex(index);
    if (offsets === undefined) return undefined;
    const start = pieceHolding(offsets, k);
    const piece = this.#piece(n, start);
    return piece === undefined ? undefined : bundleEntry(piece, k - start);
  }

  /** Entries [from, to) in order; stops early at a damaged or missing entry (readers see the gap). */
  *entries(from: number, to: number): Generator<[index: number, entry: Uint8Array]> {
    to = Math.min(to, this.count);
    if (from >= to) return;
    const open = this.#open;
    let next = from;
    if (next < open.n * BUNDLE_WIDTH) {
      // Bundle by bundle, not through the cache: an audit reads each once.
      const end = Math.min(open.n, Math.ceil(to / BUNDLE_WIDTH));
      for (let n = Math.floor(next / BUNDLE_WIDTH); n < end; n++) {
        const bytes = this.#readBundle(n);
        if (bytes === undefined) return; // a missing bundle
        const entries = readBundle(bytes);
        for (let i = next - n * BUNDLE_WIDTH; i < entries.length && next < to; i++, next++)
          yield [next, entries[i]!];
        if (next < to && next < (n + 1) * BUNDLE_WIDTH) return; // a damaged bundle
      }
    }
    // Copies: these are the store's own bytes of the open bundle.
    for (; next < to; next++) yield [next, copyBytes(open.entries[next - open.n * BUNDLE_WIDTH]!)];
  }

  /**
   * Entry bundle `n` with its first `width` entries, in C2SP entry-bundle form:
   * the stored bytes as they are when they are exactly that bundle.
   */
  bundle(n: number, width: number): Uint8Array | undefined {
    if (n < this.#open.n) {
      const stored = this.#bundles.get(n);
      if (stored === undefined) return undefined;
      // The first `width` entries are a prefix of the stored form (walked, not decoded into views).
      const { count, end } = walkEntries(stored, width);
      if (count < width) return undefined;
      return end === stored.length ? stored : stored.slice(0, end);
    }
    if (n === this.#open.n && width <= this.#open.entries.length)
      return encodeEntryBundle(this.#open.entries.slice(0, width));
    return undefined;
  }

  /** What appending `entries` at the end writes (`planPieceWrites`). Changes nothing until `appended`. */
  planAppend(entries: readonly Uint8Array[]): EntryAppend {
    const plan = planPieceWrites(this.#open, entries);
    const puts: Array<readonly [Uint8Array, Uint8Array]> = [];
    for (const [first, bytes] of plan.pieces) puts.push([pieceKey(first), bytes]);
    for (const [n, index] of plan.completed) puts.push([bundleKey(n), index]);
    return { puts, next: plan.next };
  }

  /** Once an append's batch is on disk: readers see its entries. */
  appended(append: EntryAppend): void {
    // Complete bundles are joined from their pieces when first read (`#bundles`).
    this.#open = append.next;
  }

  /** Drops the cached bundles (the handle is closing). */
  clear(): void {
    this.#bundles.clear();
  }

  /** Complete bundle `n`: its pieces joined, or undefined if its index is missing or damaged. */
  #readBundle(n: number): Uint8Array | undefined {
    const index = this.#reads.get(bundleKey(n));
    return index === undefined ? undefined : joinPieces(index, (offset) => this.#piece(n, offset));
  }

  /** The piece of complete bundle `n` that starts at `offset` in it. */
  #piece(n: number, offset: number): Uint8Array | undefined {
    return this.#reads.get(pieceKey(n * BUNDLE_WIDTH + offset));
  }
}
