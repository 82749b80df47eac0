/**
 * What a run of consecutive blocks writes: their entries (entry-log.ts), the
 * hash pages they touch (hash-pages.ts), their notes and their higher layers'
 * pairs, for one LevelDB batch, so that all of them are on disk or none is.
 */
import { concatBytes, utf8 } from '../crypto/bytes.js';
import { ErrorCode, fail } from '../errors.js';
import { storedHashCount } from '../merkle/stored.js';
import type { EntryLog } from './entry-log.js';
import type { HashPages } from './hash-pages.js';
import { numberKey, TABLE, u64 } from './keys.js';

const HASH = 32;

export type Durability = 'sync' | 'buffered';

/** Everything one block adds, written in one batch. */
export interface BlockWrite {
  readonly height: number;
  /** The signed checkpoint note of the block. */
  readonly note: string;
  /** Tree size after the block. */
  readonly size: number;
  /** Index of the block's first entry. */
  readonly firstIndex: number;
  readonly entries: readonly Uint8Array[];
  /** Stored-hash index of the first of `hashes`. */
  readonly hashStart: number;
  /** The stored hashes the block adds, 32 bytes each, flat. */
  readonly hashes: Uint8Array;
  /** Extra key/value pairs from higher layers (state, indexes), same batch. */
  readonly extra?: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
}

/** A planned write of blocks: the batch's puts, in order, and what makes them readable once durable. */
export interface BlockWritePlan {
  readonly puts: ReadonlyArray<readonly [Uint8Array, Uint8Array]>;
  /** Call once the batch is on disk: only then may readers see the pages and the entries. */
  appended(): void;
}

/**
 * Plans writing `blocks` (at least one) after `log` and `pages`. Each must
 * start where the one before it ends, the first where the store ends.
 * Changes nothing until `appended`.
 */
export function planBlockWrites(
  blocks: readonly BlockWrite[],
  log: EntryLog,
  pages: HashPages,
): BlockWritePlan {
  let entryEnd = log.count;
  let hashEnd = storedHashCount(entryEnd);
  for (const block of blocks) {
    if (block.firstIndex !== entryEnd) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `block ${block.height} starts at entry ${block.firstIndex}, the store ends at ${entryEnd}`,
      );
    }
    if (block.hashStart !== hashEnd) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `block ${block.height} starts at stored hash ${block.hashStart}, the hashes before it end at ${hashEnd}`,
      );
    }
    entryEnd += block.entries.length;
    hashEnd += block.hashes.length / HASH;
    if (hashEnd !== storedHashCount(entryEnd)) {
      fail(
        ErrorCode.LEDGER_CORRUPT,
        `block ${block.height} ends at entry ${entryEnd} with ${hashEnd} stored hashes, not ${storedHashCount(entryEnd)}`,
      );
    }
  }
  // One plan for all the entries, one set of pages for all the hashes: a
  // bundle or a page the blocks share is written once, in its final form.
  const single = blocks.length === 1;
  const entries = single ? blocks[0]!.entries : blocks.flatMap((b) => b.entries);
  const hashes = single ? blocks[0]!.hashes : concatBytes(...blocks.map((b) => b.hashes));
  const entryPlan = log.planAppend(entries);
  const pagePlan = pages.planAppend(blocks[0]!.hashStart, hashes);
  const puts = [...entryPlan.puts, ...pagePlan.puts];
  for (const block of blocks) {
    puts.push([numberKey(TABLE.block, block.height), utf8(block.note)]);
    puts.push([numberKey(TABLE.blockBySize, block.size), u64(block.height)]);
    // In block order: a later block's value for a key replaces an earlier one's.
    if (block.extra) for (const kv of block.extra) puts.push(kv);
  }
  return {
    puts,
    appended() {
      pages.appended(pagePlan);
      log.appended(entryPlan);
    },
  };
}
