/**
 * The stored Merkle hashes (merkle/stored.ts has their order) as one handle
 * reads them: pages of 256 (keys.ts), the full ones stored, the one being
 * filled derived (`rebuildTail`) and kept only in memory, and the pages an
 * append writes. Reads go through `LevelReads`, so a view's see only its
 * snapshot.
 */
import { nodeTreeHasher } from '../crypto/node-tree-hasher.js';
import { copyHash } from '../crypto/tree-hasher.js';
import { ErrorCode, fail } from '../errors.js';
import { storedHashCount, storedHashesFrom } from '../merkle/stored.js';
import { HASHES_PER_PAGE, pageKey } from './keys.js';
import type { LevelReads } from './level-db.js';
import { ValueCache } from './value-cache.js';

const HASH = 32;
const PAGE_BYTES = HASHES_PER_PAGE * HASH;

/**
 * Hash pages (8 KiB each) kept in memory, in two caches so that memory
 * follows use (the page being filled is held apart, in `#tail`). The full
 * pages the last blocks wrote: the newest entries' proofs (a receipt's). Pages proofs read: up
 * to 64 MiB, every page of a 1M-entry log. A page the read cache misses is a
 * LevelDB read of ~5 µs, which was most of a random proof's cost at 1M with a
 * single 16 MiB cache (probe: 40–51k proofs/s then, 83–94k with every page in
 * memory). A sequencer that only appends never fills the read cache.
 */
const RECENT_PAGES = 64;
const READ_PAGES = 8192;

/** The pages an append touches, with their new contents (`planAppend`). */
export interface PageAppend {
  /** The full pages, for the block's batch (the one being filled is not stored). */
  readonly puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
  readonly pages: ReadonlyMap<number, Uint8Array>;
}

export class HashPages {
  /**
   * The incomplete last hash page as the durable blocks left it, read before
   * the caches. Not stored: rebuilt on open (`rebuildTail`) and kept only here.
   */
  #tail: { readonly page: number; readonly bytes: Uint8Array } | undefined;
  readonly #recentPages = new ValueCache(RECENT_PAGES, () => undefined);
  readonly #readPages: ValueCache;

  constructor(reads: LevelReads) {
    this.#readPages = new ValueCache(READ_PAGES, (page) => reads.get(pageKey(page)));
  }

  /** Hash page `page` as stored (from memory when one of the caches holds it). */
  #page(page: number): Uint8Array | undefined {
    if (page === this.#tail?.page) return this.#tail.bytes;
    return this.#recentPages.get(page) ?? this.#readPages.get(page);
  }

  /**
   * Derives the incomplete last hash page of a log of `entryCount` entries
   * from the full pages before it and the entries since (`storedHashesFrom`,
   * at most ~130 leaf hashes), read through `hash` and `entry` (the handle's
   * reads, with its checks). Left unset when something it needs is missing
   * (damage): the ledger then reports the missing hashes when opened, and an
   * audit names the damaged index.
   */
  rebuildTail(
    entryCount: number,
    hash: (index: number) => Uint8Array | undefined,
    entry: (index: number) => Uint8Array | undefined,
  ): void {
    const count = storedHashCount(entryCount);
    const base = count - (count % HASHES_PER_PAGE);
    if (count === base) return;
    const bytes = storedHashesFrom(nodeTreeHasher, base, entryCount, hash, entry);
    if (bytes !== undefined) this.#tail = { page: base / HASHES_PER_PAGE, bytes };
  }

  /** The stored hash at `index` (a copy), or undefined if it is not stored. */
  readHash(index: number): Uint8Array | undefined {
    const page = this.#page(Math.floor(index / HASHES_PER_PAGE));
    const at = (index % HASHES_PER_PAGE) * HASH;
    // A copy: a view would keep the whole 8 KiB page alive as long as a proof holds the hash.
    return page === undefined || page.length < at + HASH ? undefined : copyHash(page, at);
  }

  /**
   * The pages touched by appending `hashes` (32 bytes each, flat) at stored
   * index `start`, with their new contents. Changes nothing until `appended`.
   */
  planAppend(start: number, hashes: Uint8Array): PageAppend {
    const pages = new Map<number, Uint8Array>();
    const count = hashes.length / HASH;
    let i = 0;
    while (i < count) {
      const index = start + i;
      const page = Math.floor(index / HASHES_PER_PAGE);
      const offset = index % HASHES_PER_PAGE;
      const take = Math.min(HASHES_PER_PAGE - offset, count - i);
      const bytes = new Uint8Array((offset + take) * HASH);
      if (offset > 0) {
        const old = this.#page(page);
        if (old === undefined || old.length < offset * HASH) {
          fail(ErrorCode.LEDGER_CORRUPT, `hash page ${page} is missing or short before an append`);
        }
        bytes.set(old.subarray(0, offset * HASH));
      }
      bytes.set(hashes.subarray(i * HASH, (i + take) * HASH), offset * HASH);
      pages.set(page, bytes);
      i += take;
    }
    const puts: Array<readonly [Uint8Array, Uint8Array]> = [];
    // Only full pages: the one being filled is kept in `#tail`.
    for (const [page, bytes] of pages) if (bytes.length === PAGE_BYTES) puts.push([pageKey(page), bytes]);
    return { puts, pages };
  }

  /** Once an append's batch is on disk: only now may readers see its pages. */
  appended(append: PageAppend): void {
    for (const [page, bytes] of append.pages) {
      if (bytes.length === PAGE_BYTES) {
        this.#recentPages.put(page, bytes);
        this.#readPages.replace(page, bytes);
        if (this.#tail?.page === page) this.#tail = undefined;
      } else this.#tail = { page, bytes };
    }
  }

  /** Drops the cached pages (the handle is closing). */
  clear(): void {
    this.#recentPages.clear();
    this.#readPages.clear();
  }
}
